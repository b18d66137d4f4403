/**
 * The native backend: one addon call decodes and decrypts the whole batch in C++ (rules 2-6),
 * then a JS pass applies rule 1 and rules 7-9 from token/rules.ts, the same policy code the
 * node-crypto backend runs.
 */
import { NativeUnavailableError } from '../../errors.js';
import { loadNative, nativeUnavailableReason, type NativeAddon } from '../../native/load.js';
import { CODE_BY_STATUS } from '../../token/result.js';
import { applyPolicyRules, keysRule, type PolicyFields } from '../../token/rules.js';
import type { ClientType } from '../../types.js';
import type { SnapshotKeys } from '../../keys/snapshot.js';
import { inputDomain, readPolicyFields, setRecordStatus, writeFailureRecord, type Slot } from '../wire/slot.js';

let addon: NativeAddon | null | undefined;

function nativeAddon(): NativeAddon {
  if (addon === undefined) addon = loadNative();
  // The coordinator chose native because the addon loaded on its thread; a worker that cannot
  // load it fails the batch loudly rather than answering with another backend.
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable in a worker: ${nativeUnavailableReason()}`);
  return addon;
}

/** An opened key snapshot: the buffer (for the addon), its version and its reader. */
export interface OpenSnapshot {
  readonly sab: SharedArrayBuffer;
  readonly version: number;
  readonly keys: SnapshotKeys;
}

/** Reused for every token: applyPolicyRules() only reads it, so no object per token. */
const policy: PolicyFields = { expiresMs: 0, generatedMs: undefined, siteId: 0, isClientSideGenerated: false };

export function decodeWithNative(s: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType): void {
  // Rules 2-6 for the whole batch in one call; every record gets either its final failure status
  // or RECORD_DECODED with the token's fields.
  if (snapshot) nativeAddon().decodeBatch(s.sab, s.capacity, s.bytesCapacity, count, snapshot.sab, snapshot.version);
  for (let i = 0; i < count; i++) {
    const nowMs = s.nows[i]!;
    // Rule 1 comes before everything the addon checked, so it overrides its verdict.
    const keysStatus = keysRule(snapshot?.keys, nowMs);
    if (keysStatus !== undefined) {
      writeFailureRecord(s, i, CODE_BY_STATUS.get(keysStatus)!);
      continue;
    }
    if (!readPolicyFields(s, i, policy)) continue;
    // The domain is read only where rule 8 can look at it.
    const domain = policy.isClientSideGenerated ? inputDomain(s, i) : undefined;
    setRecordStatus(s, i, CODE_BY_STATUS.get(applyPolicyRules(snapshot!.keys, clientType, domain, nowMs, policy))!);
  }
}
