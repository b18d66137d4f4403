/**
 * The batch slot: the one shared-memory format between the coordinator and a worker. The
 * coordinator writes a batch's tokens into a slot once; the worker reads them in place and writes
 * one fixed-size result record per token; the coordinator builds results from the records. Slots
 * are recycled, so the steady state allocates no shared memory.
 *
 * Layout of a slot for `capacity` tokens and `bytesCapacity` bytes of text (byte offsets):
 *
 *   0              nows      Float64 x capacity        decryption time of each token (Unix ms)
 *   8C             table     Uint32  x capacity * 4    token offset, token length,
 *                                                      domain offset, domain length (into `bytes`)
 *   24C            flags     Uint8   x capacity        INPUT_* bits
 *   align8(25C)    records   56 bytes x capacity       see below
 *   ...            bytes     Uint8   x bytesCapacity   tokens (one byte per UTF-16 unit) and domains (UTF-8)
 *   ...            uids      Uint8   x bytesCapacity   raw UID bytes of token i at token i's offset
 *   align4(...)    trailer   Int32   x TRAILER_INTS    what a worker reports of a columns batch (see writeColumns)
 *
 * A raw UID is always shorter than the token text it came from (base64 expands, encryption adds
 * headers and tags), so writing it at its token's offset in a region as large as `bytes` never
 * overlaps another token's.
 *
 * Result record (56 bytes; byte offsets, host byte order):
 *
 *   0   u8   status code                 1   u8   version
 *   2   u8   identity type               3   u8   RECORD_* flags
 *   4   i32  site id                     8   f64  established ms
 *   16  f64  expiry ms                   24  u32  uid offset
 *   28  u32  uid length                  32  f64  generated ms (NaN for v2, which has none)
 *   40  i32  master key id               44  i32  site key id
 *   48  f64  site key's site id (the result's siteKeySiteId: token/result.ts siteKeySiteIdOf)
 *
 * The two key ids are the keys that decrypted the two layers (what the token cache vouches with).
 * The site key's site id is an f64 because a key's site_id is any safe integer in the key JSON.
 * Written by worker/node-crypto.ts and by the native addon (native/src/batch.cc), which must
 * agree with these offsets; fields past the flags are meaningful only with RECORD_DECODED.
 *
 * Status and identity-type codes are token/result.ts's. Records are read and written only through
 * the functions at the end of this file (and by the addon).
 */
import type { CheckedToken } from '../../token/decrypt.js';
import { MAX_TOKEN_LENGTH } from '../../token/layout.js';
import {
  STATUS_BY_CODE,
  SUCCESS_CODE,
  checkedResult,
  failure,
  identityCodeOf,
  identityTypeOf,
  type TokenFindings,
} from '../../token/result.js';
import type { PolicyFields } from '../../token/rules.js';
import type { AdvertisingTokenVersion, DecryptionResult, IdentityType } from '../../types.js';
import { COLUMN_CLIENT_SIDE_GENERATED, COLUMN_DECODED, reserveUidBytes, writeRow, type ColumnViews } from './columns.js';

export const INPUT_INVALID = 0b01; // not a string, or longer than MAX_TOKEN_LENGTH
const INPUT_HAS_DOMAIN = 0b10;

export const RECORD_BYTES = 56;
const RECORD_CSTG = 0b01;
export const RECORD_DECODED = 0b10; // both layers decrypted: the metadata fields are set
/** Dual-scope batches: the token was judged by the EUID key set (token/scope.ts routes it). */
export const RECORD_EUID = 0b100;

/** Field positions inside a record, in units of the typed array that reads them. */
export const REC_I32_SITE_ID = 1; // Int32Array index offset from rec >> 2
export const REC_F64_ESTABLISHED = 1; // Float64Array index offset from rec >> 3
export const REC_F64_EXPIRY = 2;
export const REC_U32_UID_OFFSET = 6; // Uint32Array index offset from rec >> 2
export const REC_U32_UID_LENGTH = 7;
export const REC_F64_GENERATED = 4;
const REC_I32_MASTER_KEY_ID = 10;
const REC_I32_SITE_KEY_ID = 11;
export const REC_F64_SITE_KEY_SITE_ID = 6;

/** Typed-array views over one slot. */
export interface Slot {
  /** Position in the coordinator's slot list; workers find the slot by it. */
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  readonly bytesCapacity: number;
  readonly nows: Float64Array;
  readonly table: Uint32Array;
  readonly flags: Uint8Array;
  readonly recordBytes: Uint8Array;
  readonly recordI32: Int32Array;
  readonly recordU32: Uint32Array;
  readonly recordF64: Float64Array;
  /** Token and domain text, as a Buffer for fast string reads and writes. */
  readonly bytes: Buffer;
  readonly uids: Buffer;
  /** Written by writeColumns(), read by the coordinator: T_* below. */
  readonly trailer: Int32Array;
}

/** Trailer fields: where the batch's packed raw UIDs go in the call's UID space, and how many bytes. */
export const T_UID_BASE = 0;
export const T_UID_BYTES = 1;
/** Then one count per status code. */
export const T_STATUS_COUNTS = 2;
/** Of those, the EUID-routed tokens' (RECORD_EUID), by status code. */
const T_EUID_STATUS_COUNTS = T_STATUS_COUNTS + STATUS_BY_CODE.length;
const TRAILER_INTS = T_EUID_STATUS_COUNTS + STATUS_BY_CODE.length;

function recordsOffset(capacity: number): number {
  return (25 * capacity + 7) & ~7;
}

function trailerOffset(capacity: number, bytesCapacity: number): number {
  return (recordsOffset(capacity) + capacity * RECORD_BYTES + 2 * bytesCapacity + 3) & ~3;
}

function slotByteLength(capacity: number, bytesCapacity: number): number {
  return trailerOffset(capacity, bytesCapacity) + 4 * TRAILER_INTS;
}

export function createSlot(capacity: number, bytesCapacity: number, id = -1): Slot {
  return slotViews(new SharedArrayBuffer(slotByteLength(capacity, bytesCapacity)), capacity, bytesCapacity, id);
}

/** Text reserved per token of a batch slot: a 2,048-character token with its reservation (textBytes). */
const BATCH_TEXT_BYTES_PER_TOKEN = 1024;
/** Any batch slot fits at least one token of MAX_TOKEN_LENGTH (3 bytes reserved per unit) and a long domain. */
const MIN_BATCH_TEXT_BYTES = 64 * 1024;

/**
 * A slot for batches of up to `capacity` tokens (the engine's, in workers or in process): text
 * room for real tokens (a few hundred characters each); a batch of long hostile ones is cut short
 * instead of growing the slot (Batcher.fill).
 */
export function createBatchSlot(capacity: number, id = -1): Slot {
  return createSlot(capacity, Math.max(capacity * BATCH_TEXT_BYTES_PER_TOKEN, MIN_BATCH_TEXT_BYTES), id);
}

/** Views over a slot another thread created (the worker side). */
export function slotViews(sab: SharedArrayBuffer, capacity: number, bytesCapacity: number, id = -1): Slot {
  const records = recordsOffset(capacity);
  const bytesStart = records + capacity * RECORD_BYTES;
  return {
    id,
    sab,
    capacity,
    bytesCapacity,
    nows: new Float64Array(sab, 0, capacity),
    table: new Uint32Array(sab, 8 * capacity, capacity * 4),
    flags: new Uint8Array(sab, 24 * capacity, capacity),
    recordBytes: new Uint8Array(sab, records, capacity * RECORD_BYTES),
    recordI32: new Int32Array(sab, records, (capacity * RECORD_BYTES) / 4),
    recordU32: new Uint32Array(sab, records, (capacity * RECORD_BYTES) / 4),
    recordF64: new Float64Array(sab, records, (capacity * RECORD_BYTES) / 8),
    bytes: Buffer.from(sab, bytesStart, bytesCapacity),
    uids: Buffer.from(sab, bytesStart + bytesCapacity, bytesCapacity),
    trailer: new Int32Array(sab, trailerOffset(capacity, bytesCapacity), TRAILER_INTS),
  };
}

function isWritableToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH;
}

/**
 * Text bytes to reserve for a token and its domain: 3 per UTF-16 unit, the most UTF-8 can take, so
 * that writeToken's UTF-8 write of a token never truncates and its byte count tells exactly
 * whether the token is ASCII. A token ends up taking one byte per unit.
 */
export function textBytes(token: unknown, domain: unknown): number {
  return (isWritableToken(token) ? token.length * 3 : 0) + (typeof domain === 'string' ? domain.length * 3 : 0);
}

/**
 * Writes token `i` of the slot at text offset `offset`; returns the next free offset. A token is
 * stored as one byte per UTF-16 unit so that its byte length is its `length`, as the in-process
 * decoder sees it: ASCII as is, and every other character (never part of base64) as 0xFF, which
 * no base64 alphabet holds either. Rules that look at the text (length, the 4-character header,
 * the alphabet) therefore decide exactly as they do on the original string.
 */
export function writeToken(s: Slot, i: number, offset: number, token: unknown, domain: unknown, nowMs: number): number {
  let flags = 0;
  s.nows[i] = nowMs;
  const row = i * 4;
  s.table[row] = offset;
  if (isWritableToken(token)) {
    // The common case: pure ASCII, where UTF-8 is one byte per unit (the reservation makes the
    // count exact). Anything else is rewritten as latin1 with every non-ASCII unit as 0xFF.
    if (s.bytes.write(token, offset, 'utf8') !== token.length) s.bytes.write(token.replace(NON_ASCII, '\xff'), offset, 'latin1');
    s.table[row + 1] = token.length;
    offset += token.length;
  } else {
    flags |= INPUT_INVALID;
    s.table[row + 1] = 0;
  }
  return writeDomain(s, i, offset, domain, flags);
}

/**
 * Writes lines [from, to) of an all-ASCII `src` (line k is bytes [starts[k], ends[k])) as entries
 * from `index`, at text offset `offset`, stopping early when the text region is full; sets
 * `out.next` to the first line not written and `out.offset` to the next free offset. Runs of lines
 * go in with one copy each, line endings included (nothing reads them: a token is its offset and
 * length), so a token costs its table entry; a line longer than MAX_TOKEN_LENGTH takes no text and
 * is marked invalid, as writeToken() marks the same text.
 */
export function writeAsciiLines(
  s: Slot,
  index: number,
  offset: number,
  src: Buffer,
  starts: Uint32Array,
  ends: Uint32Array,
  from: number,
  to: number,
  nowMs: number,
  out: { next: number; offset: number },
): void {
  const capacity = s.bytesCapacity;
  // The pending run: source bytes [runStart, runEnd) go to text offset runAt.
  let runStart = -1;
  let runEnd = 0;
  let runAt = 0;
  let k = from;
  for (; k < to; k++, index++) {
    const start = starts[k]!;
    const length = ends[k]! - start;
    const row = index * 4;
    if (length > MAX_TOKEN_LENGTH) {
      if (runStart >= 0) src.copy(s.bytes, runAt, runStart, runEnd);
      runStart = -1;
      s.nows[index] = nowMs;
      s.table[row] = offset;
      s.table[row + 1] = 0;
      s.flags[index] = INPUT_INVALID;
      continue;
    }
    const at = runStart < 0 ? offset : runAt + (start - runStart);
    if (at + length > capacity) break;
    if (runStart < 0) {
      runStart = start;
      runAt = offset;
    }
    runEnd = start + length;
    s.nows[index] = nowMs;
    s.table[row] = at;
    s.table[row + 1] = length;
    s.flags[index] = 0;
    offset = at + length;
  }
  if (runStart >= 0) src.copy(s.bytes, runAt, runStart, runEnd);
  out.next = k;
  out.offset = offset;
}

function writeDomain(s: Slot, i: number, offset: number, domain: unknown, flags: number): number {
  if (typeof domain === 'string') {
    const row = i * 4;
    const written = s.bytes.write(domain, offset, 'utf8');
    s.table[row + 2] = offset;
    s.table[row + 3] = written;
    offset += written;
    flags |= INPUT_HAS_DOMAIN;
  }
  s.flags[i] = flags;
  return offset;
}

const NON_ASCII = /[^\u0000-\u007f]/g;

/** One token to put in a batch (packBatch). */
interface BatchInput {
  readonly token: unknown;
  readonly domain?: string | null | undefined;
  readonly nowMs: number;
}

/**
 * Writes `inputs` into a new slot sized for them (or into `slot` when it is large enough) and
 * returns it: the one way bench, tests, tools and scripts fill a slot, the same code the
 * coordinator runs.
 */
export function packBatch(inputs: readonly BatchInput[], slot?: Slot): Slot {
  let bytes = 0;
  for (const input of inputs) bytes += textBytes(input.token, input.domain);
  const s = slot && slot.capacity >= inputs.length && slot.bytesCapacity >= bytes ? slot : createSlot(Math.max(1, inputs.length), Math.max(64, bytes));
  let offset = 0;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    offset = writeToken(s, i, offset, input.token, input.domain, input.nowMs);
  }
  return s;
}

/**
 * Points entry `i` at text already in the slot (bulk chunks: a line where it was read, a default
 * domain written once): token `tokenLength` bytes at `tokenOffset` (-1: not token text, an
 * invalid input), domain `domainLength` bytes at `domainOffset` (-1: none). A token placed this
 * way must be ASCII, one byte per UTF-16 unit, as writeToken() would have written it.
 */
export function placeInput(s: Slot, i: number, tokenOffset: number, tokenLength: number, domainOffset: number, domainLength: number, nowMs: number): void {
  const row = i * 4;
  s.table[row] = tokenOffset;
  s.table[row + 1] = tokenLength < 0 ? 0 : tokenLength;
  s.table[row + 2] = domainOffset;
  s.table[row + 3] = domainLength < 0 ? 0 : domainLength;
  s.flags[i] = (tokenLength < 0 ? INPUT_INVALID : 0) | (domainLength < 0 ? 0 : INPUT_HAS_DOMAIN);
  s.nows[i] = nowMs;
}

// ---- Inputs, as a worker reads them ----

/** Token `i`'s text (one byte per UTF-16 unit, see writeToken), or null when it was not token text. */
export function inputToken(s: Slot, i: number): string | null {
  if (s.flags[i]! & INPUT_INVALID) return null;
  const off = s.table[i * 4]!;
  return s.bytes.toString('latin1', off, off + s.table[i * 4 + 1]!);
}

/** The domain or app name given with token `i`, if any. */
export function inputDomain(s: Slot, i: number): string | undefined {
  if ((s.flags[i]! & INPUT_HAS_DOMAIN) === 0) return undefined;
  const off = s.table[i * 4 + 2]!;
  return s.bytes.toString('utf8', off, off + s.table[i * 4 + 3]!);
}

// ---- Result records ----

/**
 * A record with status `code` and nothing else (a failure before both layers decrypted); `scope`
 * is RECORD_EUID for a token a dual-scope batch judged by the EUID key set, else 0.
 */
export function writeFailureRecord(s: Slot, i: number, code: number, scope: number): void {
  const rec = i * RECORD_BYTES;
  s.recordBytes[rec] = code;
  s.recordBytes[rec + 3] = scope;
}

/** The record of a token that decrypted fully, with status `code`; the raw UID goes at the token's text offset. */
export function writeDecodedRecord(s: Slot, i: number, code: number, t: CheckedToken, scope: number): void {
  const rec = i * RECORD_BYTES;
  s.recordBytes[rec] = code;
  s.recordBytes[rec + 1] = t.version;
  s.recordBytes[rec + 2] = identityCodeOf(t.identityType);
  s.recordBytes[rec + 3] = RECORD_DECODED | scope | (t.isClientSideGenerated ? RECORD_CSTG : 0);
  s.recordI32[(rec >> 2) + REC_I32_SITE_ID] = t.siteId;
  s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED] = t.establishedMs;
  s.recordF64[(rec >> 3) + REC_F64_EXPIRY] = t.expiresMs;
  s.recordF64[(rec >> 3) + REC_F64_GENERATED] = t.generatedMs ?? Number.NaN;
  s.recordI32[(rec >> 2) + REC_I32_MASTER_KEY_ID] = t.masterKeyId;
  s.recordI32[(rec >> 2) + REC_I32_SITE_KEY_ID] = t.siteKeyId;
  s.recordF64[(rec >> 3) + REC_F64_SITE_KEY_SITE_ID] = t.siteKeySiteId;
  if (code === SUCCESS_CODE) {
    // Always fits: a raw UID is shorter than its token text (see the layout above).
    const tokenOff = s.table[i * 4]!;
    s.uids.set(t.uidBytes, tokenOff);
    s.recordU32[(rec >> 2) + REC_U32_UID_OFFSET] = tokenOff;
    s.recordU32[(rec >> 2) + REC_U32_UID_LENGTH] = t.uidBytes.length;
  }
}

/** Replaces the status of record `i` (rules the worker applies after the addon decoded it). */
export function setRecordStatus(s: Slot, i: number, code: number): void {
  s.recordBytes[i * RECORD_BYTES] = code;
}

/** The status code of record `i`. */
export function recordStatusCode(s: Slot, i: number): number {
  return s.recordBytes[i * RECORD_BYTES]!;
}

/** RECORD_EUID when a dual-scope batch judged record `i`'s token by the EUID key set, else 0. */
export function recordScope(s: Slot, i: number): number {
  return s.recordBytes[i * RECORD_BYTES + 3]! & RECORD_EUID;
}

/**
 * Fills `policy` with what rules 7-9 read of record `i` and returns true, or returns false when
 * the record is a failure decided before both layers decrypted.
 */
export function readPolicyFields(s: Slot, i: number, policy: PolicyFields): boolean {
  const rec = i * RECORD_BYTES;
  const flags = s.recordBytes[rec + 3]!;
  if ((flags & RECORD_DECODED) === 0) return false;
  policy.expiresMs = s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!;
  policy.generatedMs = s.recordBytes[rec + 1] === 2 ? undefined : s.recordF64[(rec >> 3) + REC_F64_GENERATED]!;
  policy.siteId = s.recordI32[(rec >> 2) + REC_I32_SITE_ID]!;
  policy.isClientSideGenerated = (flags & RECORD_CSTG) !== 0;
  return true;
}

/** Record fields as bulk output writes them: filled in place, no object per record. */
export interface RecordView {
  code: number;
  /** Both layers decrypted: the fields below are set (the raw UID only for a success). */
  decoded: boolean;
  version: number;
  identityType: IdentityType | undefined;
  cstg: boolean;
  siteId: number;
  establishedMs: number;
  expiresMs: number;
  /** The raw UID's bytes in `s.uids` (a success only). */
  uidOffset: number;
  uidLength: number;
}

/** Fills `f` with record `i`. */
export function readRecordView(s: Slot, i: number, f: RecordView): void {
  const rec = i * RECORD_BYTES;
  const code = s.recordBytes[rec]!;
  const flags = s.recordBytes[rec + 3]!;
  f.code = code;
  f.decoded = (flags & RECORD_DECODED) !== 0;
  if (!f.decoded) return;
  f.version = s.recordBytes[rec + 1]!;
  f.identityType = identityTypeOf(s.recordBytes[rec + 2]!);
  f.cstg = (flags & RECORD_CSTG) !== 0;
  f.siteId = s.recordI32[(rec >> 2) + REC_I32_SITE_ID]!;
  f.establishedMs = s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!;
  f.expiresMs = s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!;
  if (code === SUCCESS_CODE) {
    f.uidOffset = s.recordU32[(rec >> 2) + REC_U32_UID_OFFSET]!;
    f.uidLength = s.recordU32[(rec >> 2) + REC_U32_UID_LENGTH]!;
  }
}

const FAILURES: readonly DecryptionResult[] = STATUS_BY_CODE.map((status) => Object.freeze(failure(status)));

/** Builds the result of record `i` (the worker has written it). */
export function readResult(s: Slot, i: number): DecryptionResult {
  const rec = i * RECORD_BYTES;
  const code = s.recordBytes[rec]!;
  const flags = s.recordBytes[rec + 3]!;
  if ((flags & RECORD_DECODED) === 0) return { ...FAILURES[code]! };
  const version = s.recordBytes[rec + 1]! as AdvertisingTokenVersion;
  let uid: string | undefined;
  if (code === SUCCESS_CODE) {
    const u32 = rec >> 2;
    const off = s.recordU32[u32 + REC_U32_UID_OFFSET]!;
    const end = off + s.recordU32[u32 + REC_U32_UID_LENGTH]!;
    // Straight from the shared region: the same encodings as rawUidText().
    uid = version === 2 ? s.uids.toString('utf8', off, end) : s.uids.toString('base64', off, end);
  }
  return checkedResult(
    STATUS_BY_CODE[code]!,
    version,
    identityTypeOf(s.recordBytes[rec + 2]!),
    (flags & RECORD_CSTG) !== 0,
    s.recordI32[(rec >> 2) + REC_I32_SITE_ID]!,
    s.recordF64[(rec >> 3) + REC_F64_SITE_KEY_SITE_ID]!,
    s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!,
    s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!,
    uid,
  );
}

/**
 * What record `i` of a token that decrypted says, for the token cache; `result` is its
 * readResult(), whose `uid` (a fresh string made from the record's bytes) the cache may keep.
 */
export function readFindings(s: Slot, i: number, result: DecryptionResult): TokenFindings {
  const rec = i * RECORD_BYTES;
  const version = result.advertisingTokenVersion!;
  return {
    version,
    identityType: result.identityType,
    isClientSideGenerated: result.isClientSideGenerated!,
    siteId: result.siteId!,
    establishedMs: s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!,
    expiresMs: s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!,
    generatedMs: version === 2 ? undefined : s.recordF64[(rec >> 3) + REC_F64_GENERATED]!,
    uid: result.uid!,
    masterKeyId: s.recordI32[(rec >> 2) + REC_I32_MASTER_KEY_ID]!,
    siteKeyId: s.recordI32[(rec >> 2) + REC_I32_SITE_KEY_ID]!,
  };
}

// ---- Records into a columns target ----

/**
 * Writes the results of records [0, count) into rows [start, start + count) of `c` (a worker, after
 * decoding a batch of a decryptColumns() call): packs the Success rows' raw UIDs at the front of
 * the UID region, reserves their bytes in the call's UID space (columns.ts), writes every row, and
 * reports the UID block and the batch's status counts in the trailer.
 */
export function writeColumns(s: Slot, count: number, c: ColumnViews, start: number): void {
  const t = s.trailer;
  t.fill(0, T_STATUS_COUNTS);
  // A raw UID is shorter than its token text and tokens sit in row order, so packing moves each
  // UID left of where it is, past every UID already packed: nothing is overwritten before it moves.
  let packed = 0;
  for (let i = 0; i < count; i++) {
    const rec = i * RECORD_BYTES;
    const code = s.recordBytes[rec]!;
    t[T_STATUS_COUNTS + code]!++;
    if (s.recordBytes[rec + 3]! & RECORD_EUID) t[T_EUID_STATUS_COUNTS + code]!++;
    if (code !== SUCCESS_CODE) continue;
    const off = s.recordU32[(rec >> 2) + REC_U32_UID_OFFSET]!;
    const len = s.recordU32[(rec >> 2) + REC_U32_UID_LENGTH]!;
    if (off !== packed) s.uids.copyWithin(packed, off, off + len);
    packed += len;
  }
  const base = packed === 0 ? 0 : reserveUidBytes(c, packed);
  let uidAt = base;
  for (let i = 0, row = start; i < count; i++, row++) {
    const rec = i * RECORD_BYTES;
    const code = s.recordBytes[rec]!;
    const flags = s.recordBytes[rec + 3]!;
    if ((flags & RECORD_DECODED) === 0) {
      writeRow(c, row, code, 0, 0, 0, 0, 0, 0, 0);
      c.uidOffset[row] = 0;
      c.uidLength[row] = 0;
      continue;
    }
    writeRow(
      c,
      row,
      code,
      s.recordBytes[rec + 1]!,
      s.recordBytes[rec + 2]!,
      COLUMN_DECODED | (flags & RECORD_CSTG ? COLUMN_CLIENT_SIDE_GENERATED : 0),
      s.recordI32[(rec >> 2) + REC_I32_SITE_ID]!,
      s.recordF64[(rec >> 3) + REC_F64_SITE_KEY_SITE_ID]!,
      s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!,
      s.recordF64[(rec >> 3) + REC_F64_EXPIRY]!,
    );
    if (code === SUCCESS_CODE) {
      const len = s.recordU32[(rec >> 2) + REC_U32_UID_LENGTH]!;
      c.uidOffset[row] = uidAt;
      c.uidLength[row] = len;
      uidAt += len;
    } else {
      c.uidOffset[row] = 0;
      c.uidLength[row] = 0;
    }
  }
  t[T_UID_BASE] = base;
  t[T_UID_BYTES] = packed;
}

/**
 * Adds the status counts writeColumns() reported for the slot's batch to `counts` (by status
 * code), and with `scopes` (a dual-scope engine's) to UID2's ([0]) and EUID's ([1]) too.
 */
export function addStatusCounts(s: Slot, counts: Float64Array, scopes: readonly [Float64Array, Float64Array] | null): void {
  const t = s.trailer;
  for (let code = 0; code < counts.length; code++) {
    const all = t[T_STATUS_COUNTS + code]!;
    counts[code]! += all;
    if (scopes === null) continue;
    const euid = t[T_EUID_STATUS_COUNTS + code]!;
    scopes[0][code]! += all - euid;
    scopes[1][code]! += euid;
  }
}
