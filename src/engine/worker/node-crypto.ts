/**
 * The node-crypto backend: the TypeScript decoder (token/decrypt.ts evaluateToken) over
 * node:crypto, one token at a time, writing each outcome as a result record. The same rule code
 * the in-process client runs, so the two cannot disagree.
 */
import { evaluateToken } from '../../token/decrypt.js';
import { CODE_BY_STATUS } from '../../token/result.js';
import type { ClientType } from '../../types.js';
import { identityScopeOf } from '../../token/scope.js';
import { RECORD_EUID, inputDomain, inputToken, writeDecodedRecord, writeFailureRecord, type Slot } from '../wire/slot.js';
import type { OpenSnapshot } from './native.js';

export function decodeWithNodeCrypto(s: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType): void {
  const euid = snapshot?.euid;
  for (let i = 0; i < count; i++) {
    const token = inputToken(s, i);
    // A dual-scope batch judges each token by the key set of the scope it names (as the addon does).
    const scope = euid !== undefined && identityScopeOf(token) === 'EUID' ? RECORD_EUID : 0;
    const keys = scope === 0 ? snapshot?.keys : euid!.keys;
    // An invalid input still goes through the rules (so NotInitialized/KeysNotSynced win), as a
    // value that can only be InvalidPayload.
    const outcome = evaluateToken(token, keys, clientType, inputDomain(s, i), s.nows[i]!);
    if (typeof outcome === 'string') writeFailureRecord(s, i, CODE_BY_STATUS.get(outcome)!, scope);
    else writeDecodedRecord(s, i, CODE_BY_STATUS.get(outcome.status)!, outcome, scope);
  }
}
