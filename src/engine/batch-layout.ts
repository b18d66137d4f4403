/**
 * The shared memory of one batch slot. The coordinator writes a batch's tokens into it once; a
 * worker reads them in place and writes one fixed-size result record per token; the coordinator
 * builds result objects from the records. Slots are recycled, so the steady state allocates no
 * shared memory and nothing is structured-cloned but a few numbers and two buffer handles.
 *
 * Layout of a slot for `capacity` tokens and `bytesCapacity` bytes of text (byte offsets):
 *
 *   0              nows      Float64 x capacity        decryption time of each token (Unix ms)
 *   8C             table     Uint32  x capacity * 4    token offset, token length,
 *                                                      domain offset, domain length (into `bytes`)
 *   24C            flags     Uint8   x capacity        INPUT_* bits
 *   align8(25C)    records   32 bytes x capacity       see RECORD_* below
 *   ...            bytes     Uint8   x bytesCapacity   tokens and domains, UTF-8
 *   ...            uids      Uint8   x bytesCapacity   raw UID bytes of token i at token i's offset
 *
 * A raw UID is always shorter than the token text it came from (base64 expands, encryption adds
 * headers), so writing it at its token's offset in a region as large as `bytes` never overlaps.
 *
 * Result record (40 bytes): u8 status code | u8 version | u8 identity type | u8 RECORD_* flags |
 * i32 site id | f64 established ms | f64 expiry ms | u32 uid offset | u32 uid length |
 * f64 generated ms (NaN for v2, which has none).
 *
 * Status codes are indexes into STATUS_BY_CODE (the DecryptionStatus declaration order):
 * 0 Success, 1 NotAuthorizedForMasterKey, 2 NotAuthorizedForKey, 3 NotInitialized,
 * 4 InvalidPayload, 5 ExpiredToken, 6 KeysNotSynced, 7 VersionNotSupported,
 * 8 InvalidIdentityScope, 9 InvalidTokenLifetime, 10 DomainOrAppNameCheckFailed.
 */
import { DecryptionStatus } from '../types.js';

export const INPUT_INVALID = 0b01; // not a string, or longer than MAX_TOKEN_LENGTH
export const INPUT_HAS_DOMAIN = 0b10;

export const RECORD_BYTES = 40;
export const RECORD_CSTG = 0b001;
export const RECORD_DECODED = 0b010; // both layers decrypted: the metadata fields are set
export const RECORD_UID_OVERFLOW = 0b100; // defensive: UID did not fit; coordinator re-decrypts

/** Status codes in records: the index into this list. */
export const STATUS_BY_CODE: readonly DecryptionStatus[] = Object.freeze(Object.values(DecryptionStatus));
export const CODE_BY_STATUS: ReadonlyMap<DecryptionStatus, number> = new Map(STATUS_BY_CODE.map((s, i) => [s, i]));

export const IDENTITY_NONE = 0;
export const IDENTITY_EMAIL = 1;
export const IDENTITY_PHONE = 2;

/** Field positions inside a record, in units of the typed array that reads them. */
export const REC_I32_SITE_ID = 1; // Int32Array index offset from rec >> 2
export const REC_F64_ESTABLISHED = 1; // Float64Array index offset from rec >> 3
export const REC_F64_EXPIRY = 2;
export const REC_U32_UID_OFFSET = 6; // Uint32Array index offset from rec >> 2
export const REC_U32_UID_LENGTH = 7;
export const REC_F64_GENERATED = 4;

/** Typed-array views over one slot. */
export interface SlotViews {
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
}

function recordsOffset(capacity: number): number {
  return (25 * capacity + 7) & ~7;
}

export function slotByteLength(capacity: number, bytesCapacity: number): number {
  return recordsOffset(capacity) + capacity * RECORD_BYTES + 2 * bytesCapacity;
}

export function createSlot(capacity: number, bytesCapacity: number): SlotViews {
  return slotViews(new SharedArrayBuffer(slotByteLength(capacity, bytesCapacity)), capacity, bytesCapacity);
}

export function slotViews(sab: SharedArrayBuffer, capacity: number, bytesCapacity: number): SlotViews {
  const records = recordsOffset(capacity);
  const bytesStart = records + capacity * RECORD_BYTES;
  return {
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
  };
}
