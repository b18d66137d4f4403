/**
 * The native backend: one addon call decodes and decrypts the whole batch in C++ (rules 2-6),
 * then a JS pass applies rule 1 and applyPolicyRules() (rules 7-9), the same policy code the
 * node-crypto backend runs.
 */
import { NativeUnavailableError } from '../../errors.js';
import { loadNative, nativeUnavailableReason, type NativeAddon } from '../../native/load.js';
import { applyPolicyRules, type PolicyFields } from '../../token/decrypt.js';
import { DecryptionStatus, type ClientType } from '../../types.js';
import type { SnapshotKeys } from '../../keys/snapshot.js';
import {
  CODE_BY_STATUS,
  INPUT_HAS_DOMAIN,
  RECORD_BYTES,
  RECORD_CSTG,
  RECORD_DECODED,
  REC_F64_EXPIRY,
  REC_F64_GENERATED,
  REC_I32_SITE_ID,
  type Slot,
} from '../wire/slot.js';

const NOT_INITIALIZED_CODE = CODE_BY_STATUS.get(DecryptionStatus.NotInitialized)!;
const KEYS_NOT_SYNCED_CODE = CODE_BY_STATUS.get(DecryptionStatus.KeysNotSynced)!;

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

export function decodeWithNative(s: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType, crashAt: number): void {
  // Rules 2-6 for the whole batch in one call; every record gets either its final failure status
  // or RECORD_DECODED with the token's fields.
  if (snapshot) nativeAddon().decodeBatch(s.sab, s.capacity, s.bytesCapacity, count, snapshot.sab, snapshot.version);
  for (let i = 0; i < count; i++) {
    if (i === crashAt) process.exit(70);
    const rec = i * RECORD_BYTES;
    // Rule 1 comes before everything the addon checked, so it overrides its verdict.
    if (!snapshot) {
      s.recordBytes[rec] = NOT_INITIALIZED_CODE;
      s.recordBytes[rec + 3] = 0;
      continue;
    }
    const nowMs = s.nows[i]!;
    if (!snapshot.keys.isValid(nowMs)) {
      s.recordBytes[rec] = KEYS_NOT_SYNCED_CODE;
      s.recordBytes[rec + 3] = 0;
      continue;
    }
    const flags = s.recordBytes[rec + 3]!;
    if ((flags & RECORD_DECODED) === 0) continue;

    policy.expiresMs = s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!;
    policy.generatedMs = s.recordBytes[rec + 1] === 2 ? undefined : s.recordF64[(rec >> 3) + REC_F64_GENERATED]!;
    policy.siteId = s.recordI32[(rec >> 2) + REC_I32_SITE_ID]!;
    policy.isClientSideGenerated = (flags & RECORD_CSTG) !== 0;
    // The domain is read only where rule 8 can look at it.
    let domain: string | undefined;
    if (policy.isClientSideGenerated && s.flags[i]! & INPUT_HAS_DOMAIN) {
      const off = s.table[i * 4 + 2]!;
      domain = s.bytes.toString('utf8', off, off + s.table[i * 4 + 3]!);
    }
    s.recordBytes[rec] = CODE_BY_STATUS.get(applyPolicyRules(snapshot.keys, clientType, domain, nowMs, policy))!;
  }
}
