/**
 * One decryptColumns() call waiting on its batches. Its tokens (strings, or the lines of a Buffer
 * copied into slots as bytes, never made into strings) go out in batches of their own, whose
 * workers write the rows into the call's columns target; a finished batch costs this thread one
 * copy of its raw UID block (wire/slot.ts `T_UID_*`) and a count. Rows decided on this thread
 * (a token too large for any slot, the token-cache path) are written from their results.
 */
import { CODE_BY_STATUS, SUCCESS_CODE, identityCodeOf, rawUidText } from '../../token/result.js';
import type { AdvertisingTokenVersion, DecryptionResult } from '../../types.js';
import {
  COLUMN_CLIENT_SIDE_GENERATED,
  COLUMN_DECODED,
  COLUMN_OPTED_OUT,
  createColumns,
  reserveUidBytes,
  reservedUidBytes,
  writeRow,
  type ColumnViews,
} from '../wire/columns.js';
import { T_UID_BASE, T_UID_BYTES, writeAsciiLines, type Slot } from '../wire/slot.js';
import { Call, type Written } from './calls.js';
import { DecryptedColumns } from './decrypted-columns.js';
import type { Lines } from './lines.js';

/** The tokens of a call: strings, or lines of a Buffer. */
export type ColumnsInput = { readonly strings: readonly unknown[] } | { readonly buffer: Buffer; readonly lines: Lines };

/** How the engine's opt-out check treats rows (DecryptedColumns reads the same). */
export interface ColumnsOptOut {
  readonly checked: boolean;
  readonly returnUid: boolean;
}

export class ColumnsCall extends Call {
  readonly #columns: ColumnViews;
  readonly #strings: readonly unknown[] | null;
  readonly #buffer: Buffer | null;
  readonly #lines: Lines | null;
  readonly #domains: readonly (string | null | undefined)[] | undefined;
  readonly #optOut: ColumnsOptOut;
  /** Raw UID bytes, placed where the batches reserved them; grows by doubling. */
  #uids: Buffer;
  #remaining: number;

  constructor(
    input: ColumnsInput,
    domains: readonly (string | null | undefined)[] | undefined,
    nowMs: number,
    optOut: ColumnsOptOut,
    private readonly resolve: (columns: DecryptedColumns) => void,
    private readonly reject: (error: Error) => void,
  ) {
    const count = 'strings' in input ? input.strings.length : input.lines.count;
    super(count, nowMs);
    this.#strings = 'strings' in input ? input.strings : null;
    this.#buffer = 'buffer' in input ? input.buffer : null;
    this.#lines = 'buffer' in input ? input.lines : null;
    this.#domains = domains;
    this.#optOut = optOut;
    this.#columns = createColumns(count);
    // Most raw UIDs are 32 or 33 bytes: room for that many (up to 32 MiB), grown if more come.
    this.#uids = Buffer.alloc(Math.min(count * 33, 32 * 1024 * 1024));
    this.#remaining = count;
    if (count === 0) this.#finish();
  }

  override get columns(): ColumnViews {
    return this.#columns;
  }

  /** Token `i` as text (a Buffer line decoded as UTF-8): what decryptBatch() would be given. */
  token(i: number): unknown {
    if (this.#strings) return this.#strings[i];
    return this.#buffer!.toString('utf8', this.#lines!.starts[i], this.#lines!.ends[i]);
  }

  domain(i: number): string | null | undefined {
    return this.#domains?.[i];
  }

  /**
   * Lines of an all-ASCII Buffer go into the slot as the bytes they are, a run of lines per copy;
   * anything else (strings, other bytes, lines with domains) as text through Call.write, so every
   * token reaches the decoder exactly as decryptBatch() would send it.
   */
  override write(slot: Slot, index: number, offset: number, from: number, to: number, out: Written): void {
    const lines = this.#lines;
    if (lines === null || !lines.ascii || this.#domains !== undefined) return super.write(slot, index, offset, from, to, out);
    writeAsciiLines(slot, index, offset, this.#buffer!, lines.starts, lines.ends, from, to, this.nowMs, out);
  }

  /**
   * `count` rows were written by a batch in `slot`: copies its raw UID block into place. Returns
   * true when those were the call's last rows (then finish() answers it).
   */
  placeBatch(count: number, slot: Slot): boolean {
    const bytes = slot.trailer[T_UID_BYTES]!;
    if (bytes > 0) {
      const base = slot.trailer[T_UID_BASE]!;
      this.#room(base + bytes);
      slot.uids.copy(this.#uids, base, 0, bytes);
    }
    this.#remaining -= count;
    return this.#remaining === 0;
  }

  /**
   * The engine's opt-out check over rows [start, start + count): marks each Success row whose raw
   * UID (as DecryptionResult.uid shows it) `isOptedOut`, and unless the engine keeps them for
   * audits zeroes and withholds its bytes. Returns how many rows were opted out.
   */
  checkOptOut(start: number, count: number, isOptedOut: (uid: string) => boolean): number {
    const c = this.#columns;
    let opted = 0;
    for (let row = start; row < start + count; row++) {
      if (c.status[row] !== SUCCESS_CODE) continue;
      const off = c.uidOffset[row]!;
      const end = off + c.uidLength[row]!;
      if (!isOptedOut(rawUidText(c.version[row]! as AdvertisingTokenVersion, this.#uids.subarray(off, end)))) continue;
      opted++;
      c.flags[row]! |= COLUMN_OPTED_OUT;
      if (!this.#optOut.returnUid) {
        this.#uids.fill(0, off, end);
        c.uidOffset[row] = 0;
        c.uidLength[row] = 0;
      }
    }
    return opted;
  }

  /** Row `i` decided on this thread: written from its result (opt-out already applied to it). */
  settle(i: number, result: DecryptionResult): void {
    if (this.done) return;
    const uid = writeResultRow(this.#columns, i, result);
    if (uid !== undefined && uid.length > 0) {
      const base = reserveUidBytes(this.#columns, uid.length);
      this.#room(base + uid.length);
      uid.copy(this.#uids, base);
      this.#columns.uidOffset[i] = base;
    }
    if (--this.#remaining === 0) this.#finish();
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }

  /** Answers the call once placeBatch() reported its last rows. */
  finish(): void {
    this.#finish();
  }

  /** The columns as they stand (the test hooks' view of a batch). */
  view(): DecryptedColumns {
    return new DecryptedColumns(this.#columns, this.#uids, this.#optOut);
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    // A batch re-run after its worker died reserved again: its first range stays zeros.
    const reserved = reservedUidBytes(this.#columns);
    this.#room(reserved);
    this.resolve(new DecryptedColumns(this.#columns, this.#uids.subarray(0, reserved), this.#optOut));
  }

  #room(bytes: number): void {
    if (bytes <= this.#uids.length) return;
    const bigger = Buffer.alloc(Math.max(bytes, this.#uids.length * 2));
    this.#uids.copy(bigger);
    this.#uids = bigger;
  }
}

/**
 * Writes row `row` from a result decided on this thread, as a worker would have written it from
 * the record; returns the raw UID's bytes to place (undefined when the row has none). A v2 UID is
 * re-encoded from its text, which differs from the decrypted bytes only where those were not valid
 * UTF-8 (its text, and so uid(i) and result(i), is the same either way).
 */
function writeResultRow(c: ColumnViews, row: number, result: DecryptionResult): Buffer | undefined {
  const status = CODE_BY_STATUS.get(result.status)!;
  c.uidOffset[row] = 0;
  c.uidLength[row] = 0;
  const version = result.advertisingTokenVersion;
  if (version === undefined) {
    writeRow(c, row, status, 0, 0, 0, 0, 0, 0, 0);
    return undefined;
  }
  writeRow(
    c,
    row,
    status,
    version,
    identityCodeOf(result.identityType),
    COLUMN_DECODED | (result.isClientSideGenerated ? COLUMN_CLIENT_SIDE_GENERATED : 0) | (result.optedOut === true ? COLUMN_OPTED_OUT : 0),
    result.siteId!,
    result.siteKeySiteId!,
    result.established!.getTime(),
    result.expiry!.getTime(),
  );
  if (result.uid === undefined) return undefined;
  const bytes = Buffer.from(result.uid, version === 2 ? 'utf8' : 'base64');
  c.uidLength[row] = bytes.length;
  return bytes;
}
