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
import { inputDomain, readPolicyFields, recordScope, setRecordStatus, writeFailureRecord, type Slot } from '../wire/slot.js';

let addon: NativeAddon | null | undefined;

function nativeAddon(): NativeAddon {
  if (addon === undefined) addon = loadNative();
  // The coordinator chose native because the addon loaded on its thread; a worker that cannot
  // load it fails the batch loudly rather than answering with another backend.
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable in a worker: ${nativeUnavailableReason()}`);
  return addon;
}

/** One key set of an opened snapshot: its buffer (for the addon) and its reader; both null while that scope has no keys. */
export interface OpenKeys {
  readonly sab: SharedArrayBuffer | null;
  readonly keys: SnapshotKeys | null;
}

/**
 * An opened key snapshot, by version. Single scope: the engine's key set (never null). Dual scope
 * (`euid` present): `sab`/`keys` are UID2's and `euid` EUID's, either null while it has no keys.
 */
export interface OpenSnapshot extends OpenKeys {
  readonly version: number;
  readonly euid?: OpenKeys;
}

/** Reused for every token: applyPolicyRules() only reads it, so no object per token. */
const policy: PolicyFields = { expiresMs: 0, generatedMs: undefined, siteId: 0, isClientSideGenerated: false };

export function decodeWithNative(s: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType): void {
  // Rules 2-6 for the whole batch in one call; every record gets either its final failure status
  // or RECORD_DECODED with the token's fields. A dual-scope batch routes each token to its scope's
  // key set and marks the EUID ones (RECORD_EUID), so the rules below use the same set.
  if (snapshot) {
    if (snapshot.euid === undefined) nativeAddon().decodeBatch(s.sab, s.capacity, s.bytesCapacity, count, snapshot.sab, snapshot.version);
    else nativeAddon().decodeBatch(s.sab, s.capacity, s.bytesCapacity, count, snapshot.sab, snapshot.version, snapshot.euid.sab);
  }
  const euidKeys = snapshot?.euid?.keys;
  for (let i = 0; i < count; i++) {
    const nowMs = s.nows[i]!;
    const scope = recordScope(s, i);
    const keys = scope === 0 ? snapshot?.keys : euidKeys;
    // Rule 1 comes before everything the addon checked, so it overrides its verdict.
    const keysStatus = keysRule(keys, nowMs);
    if (keysStatus !== undefined) {
      writeFailureRecord(s, i, CODE_BY_STATUS.get(keysStatus)!, scope);
      continue;
    }
    if (!readPolicyFields(s, i, policy)) continue;
    // The domain is read only where rule 8 can look at it.
    const domain = policy.isClientSideGenerated ? inputDomain(s, i) : undefined;
    setRecordStatus(s, i, CODE_BY_STATUS.get(applyPolicyRules(keys!, clientType, domain, nowMs, policy))!);
  }
}
