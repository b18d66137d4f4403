/**
 * The columns target: the shared memory of one decryptColumns() call, into which workers write
 * each token's result as columns (one typed array per field, row i for token i) straight from
 * their batch records. The coordinator only counts finished batches and copies each batch's
 * raw UID block, so a token costs the main thread its write into a slot and nothing more.
 *
 * Layout for `rows` tokens (byte offsets; f64 columns first, so every column is aligned):
 *
 *   0           header        Int32 x 2      [H_UID_CURSOR] raw UID bytes reserved so far
 *   8           established   Float64 x rows  Unix ms (0 when the token did not decrypt)
 *   8 + 8R      expiry        Float64 x rows  Unix ms (0 likewise)
 *   8 + 16R     siteKeySiteId Float64 x rows  site of the key of the inner layer (0 likewise)
 *   8 + 24R     siteId        Int32 x rows
 *   8 + 28R     uidOffset     Uint32 x rows   into the call's raw UID bytes
 *   8 + 32R     uidLength     Uint16 x rows   0 unless Success
 *   8 + 34R     status        Uint8 x rows    status code (token/result.ts STATUS_BY_CODE)
 *   8 + 35R     version       Uint8 x rows    2, 3 or 4 (0 when the token did not decrypt)
 *   8 + 36R     identityType  Uint8 x rows    identity-type code (token/result.ts)
 *   8 + 37R     flags         Uint8 x rows    COLUMN_* bits
 *
 * Raw UIDs are variable-length and do not live here: a worker packs its batch's UIDs together at
 * the front of its slot's UID region, reserves that many bytes of the call's UID space with one
 * Atomics.add on H_UID_CURSOR (so offsets are final the moment it writes them, whichever batch
 * finishes first), and the coordinator copies the block to the reserved place (slot.ts
 * `SlotTrailer`). A batch re-run after its worker died reserves again; the abandoned range stays
 * zeros and nothing points into it.
 *
 * Rows that did not decrypt get zeros in every field but status, whatever the slot's records held
 * before (slots are recycled between calls, and one caller's data must never show in another's).
 */

export const H_UID_CURSOR = 0;
const HEADER_BYTES = 8;

/** Row flags. */
export const COLUMN_CLIENT_SIDE_GENERATED = 0b001;
/** Both layers decrypted: version, identity type, site id and times are set. */
export const COLUMN_DECODED = 0b010;
/** The opt-out store holds the raw UID (engines with `optOut` only). */
export const COLUMN_OPTED_OUT = 0b100;

/** Typed-array views over a columns target (both threads build the same ones). */
export interface ColumnViews {
  readonly sab: SharedArrayBuffer;
  readonly rows: number;
  readonly header: Int32Array;
  readonly established: Float64Array;
  readonly expiry: Float64Array;
  readonly siteKeySiteId: Float64Array;
  readonly siteId: Int32Array;
  readonly uidOffset: Uint32Array;
  readonly uidLength: Uint16Array;
  readonly status: Uint8Array;
  readonly version: Uint8Array;
  readonly identityType: Uint8Array;
  readonly flags: Uint8Array;
}

export function columnsByteLength(rows: number): number {
  return HEADER_BYTES + 38 * rows;
}

export function createColumns(rows: number): ColumnViews {
  return columnViews(new SharedArrayBuffer(columnsByteLength(rows)), rows);
}

/** Views over a columns target another thread created. */
export function columnViews(sab: SharedArrayBuffer, rows: number): ColumnViews {
  const at = (k: number): number => HEADER_BYTES + k * rows;
  return {
    sab,
    rows,
    header: new Int32Array(sab, 0, HEADER_BYTES / 4),
    established: new Float64Array(sab, at(0), rows),
    expiry: new Float64Array(sab, at(8), rows),
    siteKeySiteId: new Float64Array(sab, at(16), rows),
    siteId: new Int32Array(sab, at(24), rows),
    uidOffset: new Uint32Array(sab, at(28), rows),
    uidLength: new Uint16Array(sab, at(32), rows),
    status: new Uint8Array(sab, at(34), rows),
    version: new Uint8Array(sab, at(35), rows),
    identityType: new Uint8Array(sab, at(36), rows),
    flags: new Uint8Array(sab, at(37), rows),
  };
}

/**
 * Reserves `bytes` of the call's raw UID space; returns where they start.
 * @throws RangeError past 2 GiB of raw UIDs in one call (the cursor is an Int32)
 */
export function reserveUidBytes(c: ColumnViews, bytes: number): number {
  const base = Atomics.add(c.header, H_UID_CURSOR, bytes);
  if (base < 0 || base + bytes > 0x7fffffff) throw new RangeError('decryptColumns: more than 2 GiB of raw UIDs in one call');
  return base;
}

/** Raw UID bytes reserved so far (all of them once every batch has finished). */
export function reservedUidBytes(c: ColumnViews): number {
  return Atomics.load(c.header, H_UID_CURSOR);
}

/**
 * Writes row `row`'s fields but the raw UID's place: its status code and, for a token whose layers
 * both decrypted (`version` 2-4), what it decoded to, `flags` being COLUMN_* bits; `version` 0
 * zeroes them. The one writer of a row, whether it comes from a worker's record or a result.
 */
export function writeRow(
  c: ColumnViews,
  row: number,
  status: number,
  version: number,
  identityType: number,
  flags: number,
  siteId: number,
  siteKeySiteId: number,
  established: number,
  expiry: number,
): void {
  c.status[row] = status;
  c.version[row] = version;
  c.identityType[row] = identityType;
  c.flags[row] = flags;
  c.siteId[row] = siteId;
  c.siteKeySiteId[row] = siteKeySiteId;
  c.established[row] = established;
  c.expiry[row] = expiry;
}
