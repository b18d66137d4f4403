/** Coordinator side of a batch slot: writing tokens in, turning result records into results. */
import type { KeySet } from '../keys/key-set.js';
import { checkedResult, decryptToken, failure } from '../token/decrypt.js';
import { MAX_TOKEN_LENGTH } from '../token/layout.js';
import type { AdvertisingTokenVersion, ClientType, DecryptionResult, IdentityType } from '../types.js';
import {
  IDENTITY_NONE,
  IDENTITY_PHONE,
  INPUT_HAS_DOMAIN,
  INPUT_INVALID,
  RECORD_BYTES,
  REC_F64_ESTABLISHED,
  REC_F64_EXPIRY,
  REC_I32_SITE_ID,
  REC_U32_UID_LENGTH,
  REC_U32_UID_OFFSET,
  RECORD_CSTG,
  RECORD_DECODED,
  RECORD_UID_OVERFLOW,
  STATUS_BY_CODE,
  type SlotViews,
  createSlot,
} from './batch-layout.js';

/** One token waiting for its result. */
export interface PendingToken {
  readonly token: unknown;
  readonly domain: string | null | undefined;
  readonly nowMs: number;
  readonly sink: ResultSink;
  readonly index: number;
}

/** Receives results for one caller: a single decrypt() or a whole decryptBatch(). */
export interface ResultSink {
  settle(index: number, result: DecryptionResult): void;
  fail(error: Error): void;
}

function isWritableToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH;
}

/** Upper bound of the text bytes a batch needs (UTF-8 takes at most 3 bytes per UTF-16 unit). */
export function bytesNeeded(entries: readonly PendingToken[]): number {
  let total = 0;
  for (const e of entries) {
    if (isWritableToken(e.token)) total += e.token.length * 3;
    if (typeof e.domain === 'string') total += e.domain.length * 3;
  }
  return total;
}

export function writeBatch(v: SlotViews, entries: readonly PendingToken[]): void {
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    let flags = 0;
    v.nows[i] = e.nowMs;
    const row = i * 4;
    if (isWritableToken(e.token)) {
      const written = v.bytes.write(e.token, offset, 'utf8');
      v.table[row] = offset;
      v.table[row + 1] = written;
      offset += written;
    } else {
      flags |= INPUT_INVALID;
      v.table[row] = offset;
      v.table[row + 1] = 0;
    }
    if (typeof e.domain === 'string') {
      const written = v.bytes.write(e.domain, offset, 'utf8');
      v.table[row + 2] = offset;
      v.table[row + 3] = written;
      offset += written;
      flags |= INPUT_HAS_DOMAIN;
    }
    v.flags[i] = flags;
  }
}

/**
 * Builds results from the records a worker wrote. `keySet` is the key set of the batch's
 * snapshot, used only for the defensive re-decryption of a record flagged UID_OVERFLOW.
 */
export function readResult(
  v: SlotViews,
  i: number,
  entry: PendingToken,
  keySet: KeySet | undefined,
  clientType: ClientType,
): DecryptionResult {
  const rec = i * RECORD_BYTES;
  const status = STATUS_BY_CODE[v.recordBytes[rec]!]!;
  const flags = v.recordBytes[rec + 3]!;
  if ((flags & RECORD_DECODED) === 0) return failure(status);
  if (flags & RECORD_UID_OVERFLOW) return decryptToken(entry.token, keySet, clientType, entry.domain, entry.nowMs);
  const version = v.recordBytes[rec + 1]! as AdvertisingTokenVersion;
  const typeCode = v.recordBytes[rec + 2]!;
  const identityType: IdentityType | undefined =
    typeCode === IDENTITY_NONE ? undefined : typeCode === IDENTITY_PHONE ? 'Phone' : 'Email';
  let uid: string | undefined;
  if (status === 'Success') {
    const off = v.recordU32[(rec >> 2) + REC_U32_UID_OFFSET]!;
    // Straight from the shared region, no intermediate Buffer: the same encodings as rawUidText().
    const end = off + v.recordU32[(rec >> 2) + REC_U32_UID_LENGTH]!;
    uid = version === 2 ? v.uids.toString('utf8', off, end) : v.uids.toString('base64', off, end);
  }
  return checkedResult(
    status,
    version,
    identityType,
    (flags & RECORD_CSTG) !== 0,
    v.recordI32[(rec >> 2) + REC_I32_SITE_ID]!,
    v.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!,
    v.recordF64[(rec >> 3) + REC_F64_EXPIRY]!,
    uid,
  );
}

/** Recycles slots: steady-state batches reuse shared memory instead of allocating it. */
export class SlotPool {
  readonly #capacity: number;
  readonly #free: SlotViews[] = [];
  #created = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get created(): number {
    return this.#created;
  }

  acquire(bytes: number): SlotViews {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const slot = this.#free[i]!;
      if (slot.bytesCapacity >= bytes) {
        this.#free.splice(i, 1);
        return slot;
      }
    }
    // Grow in powers of two so a few sizes serve every batch.
    let bytesCapacity = 64 * 1024;
    while (bytesCapacity < bytes) bytesCapacity *= 2;
    this.#created++;
    return createSlot(this.#capacity, bytesCapacity);
  }

  release(slot: SlotViews): void {
    this.#free.push(slot);
  }
}
