/**
 * The node-crypto backend: the TypeScript decoder (token/decrypt.ts evaluateToken) over
 * node:crypto, one token at a time, writing each outcome as a result record. The same rule code
 * the in-process client runs, so the two cannot disagree.
 */
import { evaluateToken } from '../../token/decrypt.js';
import { CODE_BY_STATUS } from '../../token/result.js';
import type { ClientType } from '../../types.js';
import type { SnapshotKeys } from '../../keys/snapshot.js';
import { inputDomain, inputToken, writeDecodedRecord, writeFailureRecord, type Slot } from '../wire/slot.js';

export function decodeWithNodeCrypto(s: Slot, count: number, keys: SnapshotKeys | null, clientType: ClientType): void {
  for (let i = 0; i < count; i++) {
    // An invalid input still goes through the rules (so NotInitialized/KeysNotSynced win), as a
    // value that can only be InvalidPayload.
    const outcome = evaluateToken(inputToken(s, i), keys, clientType, inputDomain(s, i), s.nows[i]!);
    if (typeof outcome === 'string') writeFailureRecord(s, i, CODE_BY_STATUS.get(outcome)!);
    else writeDecodedRecord(s, i, CODE_BY_STATUS.get(outcome.status)!, outcome);
  }
}
