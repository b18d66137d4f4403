/**
 * Worker-thread entry (run by Piscina). Decrypts one batch in shared memory: reads each token
 * from the slot, runs the same rule code as the in-process client over the batch's key snapshot,
 * and writes fixed-size result records back into the slot.
 *
 * Two backends (engine/backend.ts), chosen by the coordinator and named in each task:
 *   node-crypto  evaluateToken() per token: the TypeScript decoder over node:crypto.
 *   native       one decodeBatch() call decodes and decrypts the whole batch in C++ (rules 2-6),
 *                then a JS pass applies rule 1 and applyPolicyRules() (rules 7-9), the same
 *                policy code the node-crypto path runs.
 */
import { NativeUnavailableError } from '../errors.js';
import { loadNative, nativeUnavailableReason, type NativeAddon } from '../native/load.js';
import { applyPolicyRules, evaluateToken, type PolicyFields } from '../token/decrypt.js';
import { DecryptionStatus } from '../types.js';
import {
  CODE_BY_STATUS,
  IDENTITY_EMAIL,
  IDENTITY_NONE,
  IDENTITY_PHONE,
  INPUT_HAS_DOMAIN,
  INPUT_INVALID,
  RECORD_BYTES,
  REC_F64_ESTABLISHED,
  REC_F64_EXPIRY,
  REC_F64_GENERATED,
  REC_I32_SITE_ID,
  REC_U32_UID_LENGTH,
  REC_U32_UID_OFFSET,
  RECORD_CSTG,
  RECORD_DECODED,
  RECORD_UID_OVERFLOW,
  type SlotViews,
  slotViews,
} from './batch-layout.js';
import type { BatchReply, BatchTask } from './messages.js';
import { SnapshotKeys } from './snapshot.js';

let current: SnapshotKeys | null = null;
let currentVersion = 0;
const viewsBySlot = new WeakMap<SharedArrayBuffer, SlotViews>();

function viewsFor(task: BatchTask): SlotViews {
  let views = viewsBySlot.get(task.slot);
  if (!views) {
    views = slotViews(task.slot, task.capacity, task.bytesCapacity);
    viewsBySlot.set(task.slot, views);
  }
  return views;
}

/** Opens the batch's snapshot only when its version differs from the one already open. */
function keysFor(task: BatchTask): { keys: SnapshotKeys | null; opened: boolean } {
  if (task.snapshotVersion === currentVersion) return { keys: current, opened: false };
  current = task.snapshot ? new SnapshotKeys(task.snapshot) : null;
  currentVersion = task.snapshotVersion;
  return { keys: current, opened: true };
}

const INVALID_CODE = CODE_BY_STATUS.get(DecryptionStatus.InvalidPayload)!;

export default function decryptBatch(task: BatchTask): BatchReply {
  const v = viewsFor(task);
  const { keys, opened } = keysFor(task);
  const crashAt = task.crash ? task.count >> 1 : -1;
  if (task.backend === 'native') {
    decryptNative(task, v, keys, crashAt);
    return { snapshotVersion: task.snapshotVersion, openedSnapshot: opened };
  }

  for (let i = 0; i < task.count; i++) {
    if (i === crashAt) process.exit(70);
    const rec = i * RECORD_BYTES;
    const flags = v.flags[i]!;
    const tokenOff = v.table[i * 4]!;
    const tokenLen = v.table[i * 4 + 1]!;
    let domain: string | undefined;
    if (flags & INPUT_HAS_DOMAIN) {
      const off = v.table[i * 4 + 2]!;
      domain = v.bytes.toString('utf8', off, off + v.table[i * 4 + 3]!);
    }
    // An invalid input still goes through the rules (so NotInitialized/KeysNotSynced win), as a
    // value that can only be InvalidPayload.
    const token = flags & INPUT_INVALID ? null : v.bytes.toString('latin1', tokenOff, tokenOff + tokenLen);
    const outcome = evaluateToken(token, keys, task.clientType, domain, v.nows[i]!);

    if (typeof outcome === 'string') {
      v.recordBytes[rec] = CODE_BY_STATUS.get(outcome) ?? INVALID_CODE;
      v.recordBytes[rec + 3] = 0;
      continue;
    }
    v.recordBytes[rec] = CODE_BY_STATUS.get(outcome.status)!;
    v.recordBytes[rec + 1] = outcome.version;
    v.recordBytes[rec + 2] =
      outcome.identityType === undefined ? IDENTITY_NONE : outcome.identityType === 'Phone' ? IDENTITY_PHONE : IDENTITY_EMAIL;
    let recordFlags = RECORD_DECODED | (outcome.isClientSideGenerated ? RECORD_CSTG : 0);
    v.recordI32[(rec >> 2) + REC_I32_SITE_ID] = outcome.siteId;
    v.recordF64[(rec >> 3) + REC_F64_ESTABLISHED] = outcome.establishedMs;
    v.recordF64[(rec >> 3) + REC_F64_EXPIRY] = outcome.expiresMs;
    v.recordF64[(rec >> 3) + REC_F64_GENERATED] = outcome.generatedMs ?? Number.NaN;
    const uid = outcome.uidBytes;
    if (outcome.status === DecryptionStatus.Success) {
      if (uid.length <= tokenLen) {
        v.uids.set(uid, tokenOff);
        v.recordU32[(rec >> 2) + REC_U32_UID_OFFSET] = tokenOff;
        v.recordU32[(rec >> 2) + REC_U32_UID_LENGTH] = uid.length;
      } else {
        recordFlags |= RECORD_UID_OVERFLOW;
      }
    }
    v.recordBytes[rec + 3] = recordFlags;
  }
  return { snapshotVersion: task.snapshotVersion, openedSnapshot: opened };
}

const NOT_INITIALIZED_CODE = CODE_BY_STATUS.get(DecryptionStatus.NotInitialized)!;
const KEYS_NOT_SYNCED_CODE = CODE_BY_STATUS.get(DecryptionStatus.KeysNotSynced)!;
const SUCCESS_CODE = CODE_BY_STATUS.get(DecryptionStatus.Success)!;

let addon: NativeAddon | null | undefined;

function nativeAddon(): NativeAddon {
  if (addon === undefined) addon = loadNative();
  // The coordinator chose native because the addon loaded on its thread; a worker that cannot
  // load it fails the batch loudly rather than answering with another backend.
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable in a worker: ${nativeUnavailableReason()}`);
  return addon;
}

/** Reused for every token: applyPolicyRules() only reads it, so no object per token. */
const policy: PolicyFields = { expiresMs: 0, generatedMs: undefined, siteId: 0, isClientSideGenerated: false };

function decryptNative(task: BatchTask, v: SlotViews, keys: SnapshotKeys | null, crashAt: number): void {
  const count = task.count;
  // Rules 2-6 for the whole batch in one call; every record gets either its final failure status
  // or RECORD_DECODED with the token's fields.
  if (keys) nativeAddon().decodeBatch(task.slot, task.capacity, task.bytesCapacity, count, task.snapshot!, task.snapshotVersion);
  for (let i = 0; i < count; i++) {
    if (i === crashAt) process.exit(70);
    const rec = i * RECORD_BYTES;
    // Rule 1 comes before everything the addon checked, so it overrides its verdict.
    if (!keys) {
      v.recordBytes[rec] = NOT_INITIALIZED_CODE;
      v.recordBytes[rec + 3] = 0;
      continue;
    }
    const nowMs = v.nows[i]!;
    if (!keys.isValid(nowMs)) {
      v.recordBytes[rec] = KEYS_NOT_SYNCED_CODE;
      v.recordBytes[rec + 3] = 0;
      continue;
    }
    const flags = v.recordBytes[rec + 3]!;
    if ((flags & RECORD_DECODED) === 0) continue;

    policy.expiresMs = v.recordF64[(rec >> 3) + REC_F64_EXPIRY]!;
    policy.generatedMs = v.recordBytes[rec + 1] === 2 ? undefined : v.recordF64[(rec >> 3) + REC_F64_GENERATED]!;
    policy.siteId = v.recordI32[(rec >> 2) + REC_I32_SITE_ID]!;
    policy.isClientSideGenerated = (flags & RECORD_CSTG) !== 0;
    // The domain is read only where rule 8 can look at it.
    let domain: string | undefined;
    if (policy.isClientSideGenerated && v.flags[i]! & INPUT_HAS_DOMAIN) {
      const off = v.table[i * 4 + 2]!;
      domain = v.bytes.toString('utf8', off, off + v.table[i * 4 + 3]!);
    }
    const code = CODE_BY_STATUS.get(applyPolicyRules(keys, task.clientType, domain, nowMs, policy))!;
    v.recordBytes[rec] = code;
    // The raw UID is only read for a success; keep the record identical to the node-crypto one.
    if (code !== SUCCESS_CODE && flags & RECORD_UID_OVERFLOW) v.recordBytes[rec + 3] = flags & ~RECORD_UID_OVERFLOW;
  }
}
