/**
 * The output records of bulk decryption, in every format, written as bytes: the one home of the
 * record format that the CLI prints and the bulk streams write (the workers write records with
 * these functions, and the CLI's TOKEN arguments go through them too).
 *
 * Fields, in order (null when absent; `optedOut` only when an opt-out store is checked):
 *
 *   status, uid, siteId, identityType, advertisingTokenVersion, isClientSideGenerated,
 *   established, expiry[, optedOut]
 *
 * - jsonl: one JSON object per line, byte for byte what `JSON.stringify` gives for the object
 *   with those keys (times as ISO 8601 strings, as `Date.prototype.toISOString`).
 * - csv / tsv: a header line of the field names, then one row per token; a null is an empty
 *   field, an empty string is `""`; a field holding the separator, a quote, CR or LF is quoted
 *   with quotes doubled (RFC 4180; the tab-separated form follows the same rule, like Excel's and
 *   Python's "excel-tab" dialect). Only a v2 raw UID (free text) can ever need quoting.
 * - msgpack: one map per token with the same keys and values (times as the same strings),
 *   minimal encodings (fixmap, fixstr/str8/str16, smallest integer form), back to back.
 *
 * Writers never check room: a caller reserves `maxRecordBytes()` first.
 */
import { CODE_BY_STATUS, STATUS_BY_CODE } from '../../token/result.js';
import type { DecryptionResult, IdentityType } from '../../types.js';
import type { RecordView } from './slot.js';

export const RECORD_FORMATS = ['jsonl', 'csv', 'tsv', 'msgpack'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** The record's fields, in output order. */
export const RECORD_FIELDS = [
  'status',
  'uid',
  'siteId',
  'identityType',
  'advertisingTokenVersion',
  'isClientSideGenerated',
  'established',
  'expiry',
] as const;
export const OPTED_OUT_FIELD = 'optedOut';

/** What a format writes before the first record (the CSV/TSV header), as text. */
export function formatPreamble(format: RecordFormat, withOptOut: boolean): string {
  if (format !== 'csv' && format !== 'tsv') return '';
  const sep = format === 'csv' ? ',' : '\t';
  return [...RECORD_FIELDS, ...(withOptOut ? [OPTED_OUT_FIELD] : [])].join(sep) + '\n';
}

export const UID_NONE = 0;
/** Raw UID bytes (v3/v4), shown as standard base64. */
export const UID_BYTES = 1;
/** Raw UID text (v2, or a result's `uid` string). */
export const UID_TEXT = 2;

export const OPTED_OUT_ABSENT = 0;
export const OPTED_OUT_NO = 1;
export const OPTED_OUT_YES = 2;

/** One record's fields, filled by the caller and reused from record to record (no allocation). */
export interface RecordFields extends RecordView {
  /** UID_*: how the raw UID is shown (UID_NONE: null, also for an opted-out one withheld). */
  uidKind: number;
  uidBytes: Uint8Array;
  uidText: string;
  /** OPTED_OUT_* */
  optedOut: number;
}

export function emptyFields(): RecordFields {
  return {
    code: 0,
    decoded: false,
    version: 0,
    identityType: undefined,
    cstg: false,
    siteId: 0,
    establishedMs: 0,
    expiresMs: 0,
    uidKind: UID_NONE,
    uidBytes: new Uint8Array(0),
    uidOffset: 0,
    uidLength: 0,
    uidText: '',
    optedOut: OPTED_OUT_ABSENT,
  };
}

/** Fills `f` from a decryption result (the records of decryptBatch() results); returns it. */
export function fieldsOfResult(result: DecryptionResult, f: RecordFields = emptyFields()): RecordFields {
  f.code = CODE_BY_STATUS.get(result.status)!;
  f.decoded = result.advertisingTokenVersion !== undefined;
  f.version = result.advertisingTokenVersion ?? 0;
  f.identityType = result.identityType;
  f.cstg = result.isClientSideGenerated === true;
  f.siteId = result.siteId ?? 0;
  f.establishedMs = result.established?.getTime() ?? Number.NaN;
  f.expiresMs = result.expiry?.getTime() ?? Number.NaN;
  f.uidKind = result.uid === undefined ? UID_NONE : UID_TEXT;
  f.uidText = result.uid ?? '';
  f.optedOut = result.optedOut === undefined ? OPTED_OUT_ABSENT : result.optedOut ? OPTED_OUT_YES : OPTED_OUT_NO;
  return f;
}

/** Most bytes a record of these fields can take in any format. */
export function maxRecordBytes(f: RecordFields): number {
  // Fixed text is under 300 bytes; extended-year times add 6; a text UID may need 6 bytes per
  // UTF-16 unit escaped (JSON \u00XX), a UTF-16 unit is at most 3 bytes of UTF-8.
  return 512 + (f.uidKind === UID_TEXT ? 6 * f.uidText.length : f.uidKind === UID_BYTES ? 2 * f.uidLength : 0);
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

const enum Ch {
  Quote = 0x22,
  Comma = 0x2c,
  Minus = 0x2d,
  Zero = 0x30,
  Colon = 0x3a,
  Dot = 0x2e,
  T = 0x54,
  Z = 0x5a,
  Newline = 0x0a,
  Tab = 0x09,
}

/** Copies `bytes` to `out` at `pos`; returns the end. A loop: these are all a few dozen bytes. */
function put(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 24) out.set(bytes, pos);
  else for (let i = 0; i < n; i++) out[pos + i] = bytes[i]!;
  return pos + n;
}

/** Writes a 32-bit integer in decimal. */
function putInt(out: Uint8Array, pos: number, n: number): number {
  if (n < 0) {
    out[pos++] = Ch.Minus;
    n = -n;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let i = pos + digits - 1; i >= pos; i--) {
    out[i] = Ch.Zero + (n % 10);
    n = Math.floor(n / 10);
  }
  return pos + digits;
}

function put2(out: Uint8Array, pos: number, n: number): void {
  const tens = (n / 10) | 0;
  out[pos] = Ch.Zero + tens;
  out[pos + 1] = Ch.Zero + n - tens * 10;
}

/** Date's valid range (ECMAScript TimeClip): beyond it a Date is invalid and the field is null. */
const MAX_TIME_MS = 8.64e15;
const DAY_MS = 86_400_000;

/** Whether `ms` is a valid Date time: the field is a string, else null. */
function isTime(ms: number): boolean {
  return Math.abs(ms) <= MAX_TIME_MS; // false for NaN too
}

/**
 * The "YYYY-MM-DDT" (or "+YYYYYY-MM-DDT") text of recent days, direct-mapped by the day's low
 * bits: a file's times fall on few days (issue and expiry days), so the civil date is rarely
 * computed.
 */
const DAY_CACHE = 8;
const cachedDays = new Float64Array(DAY_CACHE).fill(Number.NaN);
const cachedDayText = new Uint8Array(DAY_CACHE * 16);
const cachedDayLength = new Uint8Array(DAY_CACHE);

function cacheDay(days: number, entry: number): void {
  // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const t = cachedDayText.subarray(entry * 16, entry * 16 + 16);
  let pos = 0;
  if (year >= 0 && year <= 9999) {
    put2(t, 0, (year / 100) | 0);
    put2(t, 2, year % 100);
    pos = 4;
  } else {
    t[0] = year < 0 ? Ch.Minus : 0x2b;
    const y = Math.abs(year);
    put2(t, 1, Math.floor(y / 10_000));
    put2(t, 3, Math.floor(y / 100) % 100);
    put2(t, 5, y % 100);
    pos = 7;
  }
  t[pos] = Ch.Minus;
  put2(t, pos + 1, month);
  t[pos + 3] = Ch.Minus;
  put2(t, pos + 4, day);
  t[pos + 6] = Ch.T;
  cachedDayLength[entry] = pos + 7;
  cachedDays[entry] = days;
}

/**
 * Writes `ms` as `Date.prototype.toISOString()` does (24 characters for years 0-9999, 27 with a
 * signed six-digit year otherwise); returns the end. `ms` must pass isTime().
 */
function putIso(out: Uint8Array, pos: number, ms: number): number {
  ms = Math.trunc(ms) + 0; // TimeClip, and no -0
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS; // [0, DAY_MS): int32 arithmetic from here
  const entry = days & (DAY_CACHE - 1);
  if (cachedDays[entry] !== days) cacheDay(days, entry);
  const from = entry * 16;
  const length = cachedDayLength[entry]!;
  for (let i = 0; i < length; i++) out[pos + i] = cachedDayText[from + i]!;
  pos += length;
  const h = (rest / 3_600_000) | 0;
  rest -= h * 3_600_000;
  const m = (rest / 60_000) | 0;
  rest -= m * 60_000;
  const s = (rest / 1000) | 0;
  const milli = rest - s * 1000;
  put2(out, pos, h);
  out[pos + 2] = Ch.Colon;
  put2(out, pos + 3, m);
  out[pos + 5] = Ch.Colon;
  put2(out, pos + 6, s);
  out[pos + 8] = Ch.Dot;
  out[pos + 9] = Ch.Zero + ((milli / 100) | 0);
  put2(out, pos + 10, milli % 100);
  out[pos + 12] = Ch.Z;
  return pos + 13;
}

const B64 = ascii('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

/** Standard padded base64 of `bytes[off, off + len)`, as Buffer's 'base64'. */
function putBase64(out: Uint8Array, pos: number, bytes: Uint8Array, off: number, len: number): number {
  const end = off + len - (len % 3);
  let i = off;
  for (; i < end; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[pos] = B64[n >>> 18]!;
    out[pos + 1] = B64[(n >>> 12) & 63]!;
    out[pos + 2] = B64[(n >>> 6) & 63]!;
    out[pos + 3] = B64[n & 63]!;
    pos += 4;
  }
  const left = len % 3;
  if (left > 0) {
    const n = (bytes[i]! << 16) | (left === 2 ? bytes[i + 1]! << 8 : 0);
    out[pos] = B64[n >>> 18]!;
    out[pos + 1] = B64[(n >>> 12) & 63]!;
    out[pos + 2] = left === 2 ? B64[(n >>> 6) & 63]! : 0x3d;
    out[pos + 3] = 0x3d;
    pos += 4;
  }
  return pos;
}

function base64Length(len: number): number {
  return Math.ceil(len / 3) * 4;
}

// ---- JSON lines ----------------------------------------------------------------------------

const JSON_HEAD = STATUS_BY_CODE.map((status) => ascii(`{"status":"${status}","uid":`));
const J_NULL = ascii('null');
const J_SITE = ascii(',"siteId":');
const J_TRUE = ascii('true');
const J_FALSE = ascii('false');
const J_EXPIRY = ascii(',"expiry":');
const J_OPTED_OUT = ascii(',"optedOut":');
/** Index into J_MIDDLE: identity type (none, Email, Phone) x version (0-7) x CSTG flag. */
function middleIndex(f: RecordFields): number {
  return (identityIndex(f.identityType) * 8 + (f.version & 7)) * 2 + (f.cstg ? 1 : 0);
}

function identityIndex(type: IdentityType | undefined): number {
  return type === undefined ? 0 : type === 'Phone' ? 2 : 1;
}

const J_MIDDLE: Uint8Array[] = [];
for (const [identity, type] of [[0, 'null'], [1, '"Email"'], [2, '"Phone"']] as const) {
  for (let version = 0; version < 8; version++) {
    for (const cstg of [false, true]) {
      J_MIDDLE[(identity * 8 + version) * 2 + (cstg ? 1 : 0)] = ascii(
        `,"identityType":${type},"advertisingTokenVersion":${version},"isClientSideGenerated":${cstg},"established":`,
      );
    }
  }
}
/** A record with no metadata: every field after uid is null. */
const J_UNDECODED_TAIL = ascii(
  ',"siteId":null,"identityType":null,"advertisingTokenVersion":null,"isClientSideGenerated":null,"established":null,"expiry":null',
);

function jsonTime(out: Uint8Array, pos: number, ms: number): number {
  if (!isTime(ms)) return put(out, pos, J_NULL);
  out[pos++] = Ch.Quote;
  pos = putIso(out, pos, ms);
  out[pos++] = Ch.Quote;
  return pos;
}

/** Writes one JSON line (with its newline); returns the end. `text` is `out` as a Buffer. */
export function writeJsonRecord(out: Uint8Array, text: Buffer, pos: number, f: RecordFields): number {
  pos = put(out, pos, JSON_HEAD[f.code]!);
  if (f.uidKind === UID_BYTES) {
    out[pos++] = Ch.Quote;
    pos = putBase64(out, pos, f.uidBytes, f.uidOffset, f.uidLength);
    out[pos++] = Ch.Quote;
  } else if (f.uidKind === UID_TEXT) {
    pos += text.write(JSON.stringify(f.uidText), pos, 'utf8');
  } else {
    pos = put(out, pos, J_NULL);
  }
  if (!f.decoded) {
    pos = put(out, pos, J_UNDECODED_TAIL);
  } else {
    pos = put(out, pos, J_SITE);
    pos = putInt(out, pos, f.siteId);
    // identityType, version and the CSTG flag up to the established time: one constant.
    pos = put(out, pos, J_MIDDLE[middleIndex(f)]!);
    pos = jsonTime(out, pos, f.establishedMs);
    pos = put(out, pos, J_EXPIRY);
    pos = jsonTime(out, pos, f.expiresMs);
  }
  if (f.optedOut !== OPTED_OUT_ABSENT) {
    pos = put(out, pos, J_OPTED_OUT);
    pos = put(out, pos, f.optedOut === OPTED_OUT_YES ? J_TRUE : J_FALSE);
  }
  out[pos] = 0x7d; // }
  out[pos + 1] = Ch.Newline;
  return pos + 2;
}

// ---- CSV / TSV -----------------------------------------------------------------------------

const STATUS_TEXT = STATUS_BY_CODE.map((status) => ascii(status));
const T_EMAIL = ascii('Email');
const T_PHONE = ascii('Phone');

/** Writes a text field, quoted when it must be (or when empty, so it reads back apart from null). */
function putDelimitedText(text: Buffer, pos: number, value: string, sep: string): number {
  if (value === '' || value.includes(sep) || /["\r\n]/.test(value)) {
    return pos + text.write(`"${value.replaceAll('"', '""')}"`, pos, 'utf8');
  }
  return pos + text.write(value, pos, 'utf8');
}

/** Writes one CSV (sep ',') or TSV (sep '\t') row with its newline; returns the end. */
export function writeDelimitedRecord(out: Uint8Array, text: Buffer, pos: number, f: RecordFields, sep: number): number {
  pos = put(out, pos, STATUS_TEXT[f.code]!);
  out[pos++] = sep;
  if (f.uidKind === UID_BYTES) pos = putBase64(out, pos, f.uidBytes, f.uidOffset, f.uidLength);
  else if (f.uidKind === UID_TEXT) pos = putDelimitedText(text, pos, f.uidText, sep === Ch.Comma ? ',' : '\t');
  out[pos++] = sep;
  if (f.decoded) {
    pos = putInt(out, pos, f.siteId);
    out[pos++] = sep;
    if (f.identityType !== undefined) pos = put(out, pos, f.identityType === 'Phone' ? T_PHONE : T_EMAIL);
    out[pos++] = sep;
    pos = putInt(out, pos, f.version);
    out[pos++] = sep;
    pos = put(out, pos, f.cstg ? J_TRUE : J_FALSE);
    out[pos++] = sep;
    if (isTime(f.establishedMs)) pos = putIso(out, pos, f.establishedMs);
    out[pos++] = sep;
    if (isTime(f.expiresMs)) pos = putIso(out, pos, f.expiresMs);
  } else {
    for (let i = 0; i < 5; i++) out[pos++] = sep;
  }
  if (f.optedOut !== OPTED_OUT_ABSENT) {
    out[pos++] = sep;
    pos = put(out, pos, f.optedOut === OPTED_OUT_YES ? J_TRUE : J_FALSE);
  }
  out[pos] = Ch.Newline;
  return pos + 1;
}

// ---- msgpack -------------------------------------------------------------------------------

const M_NIL = 0xc0;
const M_FALSE = 0xc2;
const M_TRUE = 0xc3;

function fixstr(text: string): Uint8Array {
  return Uint8Array.from([0xa0 | text.length, ...ascii(text)]);
}

const M_KEYS = [...RECORD_FIELDS, OPTED_OUT_FIELD].map(fixstr);
const M_STATUS = STATUS_BY_CODE.map((status) => fixstr(status));
const M_EMAIL = fixstr('Email');
const M_PHONE = fixstr('Phone');

function msgpackInt(out: Uint8Array, pos: number, n: number): number {
  if (n >= 0) {
    if (n < 0x80) {
      out[pos] = n;
      return pos + 1;
    }
    if (n < 0x100) {
      out[pos] = 0xcc;
      out[pos + 1] = n;
      return pos + 2;
    }
    if (n < 0x10000) {
      out[pos] = 0xcd;
      out[pos + 1] = n >>> 8;
      out[pos + 2] = n & 0xff;
      return pos + 3;
    }
    out[pos] = 0xce;
    pos++;
  } else {
    if (n >= -0x20) {
      out[pos] = 0x100 + n;
      return pos + 1;
    }
    if (n >= -0x80) {
      out[pos] = 0xd0;
      out[pos + 1] = n & 0xff;
      return pos + 2;
    }
    if (n >= -0x8000) {
      out[pos] = 0xd1;
      out[pos + 1] = (n >> 8) & 0xff;
      out[pos + 2] = n & 0xff;
      return pos + 3;
    }
    out[pos] = 0xd2;
    pos++;
  }
  out[pos] = (n >>> 24) & 0xff;
  out[pos + 1] = (n >>> 16) & 0xff;
  out[pos + 2] = (n >>> 8) & 0xff;
  out[pos + 3] = n & 0xff;
  return pos + 4;
}

/** A str header for `length` bytes. */
function msgpackStrHeader(out: Uint8Array, pos: number, length: number): number {
  if (length < 32) {
    out[pos] = 0xa0 | length;
    return pos + 1;
  }
  if (length < 0x100) {
    out[pos] = 0xd9;
    out[pos + 1] = length;
    return pos + 2;
  }
  if (length < 0x10000) {
    out[pos] = 0xda;
    out[pos + 1] = length >>> 8;
    out[pos + 2] = length & 0xff;
    return pos + 3;
  }
  out[pos] = 0xdb;
  out[pos + 1] = length >>> 24;
  out[pos + 2] = (length >>> 16) & 0xff;
  out[pos + 3] = (length >>> 8) & 0xff;
  out[pos + 4] = length & 0xff;
  return pos + 5;
}

function msgpackTime(out: Uint8Array, pos: number, ms: number): number {
  if (!isTime(ms)) {
    out[pos] = M_NIL;
    return pos + 1;
  }
  const end = putIso(out, pos + 1, ms);
  out[pos] = 0xa0 | (end - pos - 1); // 24 or 27 characters: a fixstr
  return end;
}

/** Writes one msgpack map; returns the end. */
export function writeMsgpackRecord(out: Uint8Array, text: Buffer, pos: number, f: RecordFields): number {
  out[pos++] = 0x80 | (f.optedOut === OPTED_OUT_ABSENT ? 8 : 9);
  pos = put(out, pos, M_KEYS[0]!);
  pos = put(out, pos, M_STATUS[f.code]!);
  pos = put(out, pos, M_KEYS[1]!);
  if (f.uidKind === UID_BYTES) {
    pos = msgpackStrHeader(out, pos, base64Length(f.uidLength));
    pos = putBase64(out, pos, f.uidBytes, f.uidOffset, f.uidLength);
  } else if (f.uidKind === UID_TEXT) {
    pos = msgpackStrHeader(out, pos, Buffer.byteLength(f.uidText, 'utf8'));
    pos += text.write(f.uidText, pos, 'utf8');
  } else {
    out[pos++] = M_NIL;
  }
  pos = put(out, pos, M_KEYS[2]!);
  if (f.decoded) pos = msgpackInt(out, pos, f.siteId);
  else out[pos++] = M_NIL;
  pos = put(out, pos, M_KEYS[3]!);
  if (f.decoded && f.identityType !== undefined) pos = put(out, pos, f.identityType === 'Phone' ? M_PHONE : M_EMAIL);
  else out[pos++] = M_NIL;
  pos = put(out, pos, M_KEYS[4]!);
  if (f.decoded) pos = msgpackInt(out, pos, f.version);
  else out[pos++] = M_NIL;
  pos = put(out, pos, M_KEYS[5]!);
  out[pos++] = f.decoded ? (f.cstg ? M_TRUE : M_FALSE) : M_NIL;
  pos = put(out, pos, M_KEYS[6]!);
  if (f.decoded) pos = msgpackTime(out, pos, f.establishedMs);
  else out[pos++] = M_NIL;
  pos = put(out, pos, M_KEYS[7]!);
  if (f.decoded) pos = msgpackTime(out, pos, f.expiresMs);
  else out[pos++] = M_NIL;
  if (f.optedOut !== OPTED_OUT_ABSENT) {
    pos = put(out, pos, M_KEYS[8]!);
    out[pos++] = f.optedOut === OPTED_OUT_YES ? M_TRUE : M_FALSE;
  }
  return pos;
}

const COMMA = Ch.Comma;
const TAB = Ch.Tab;

/** A record writer for `format`: (out, out as Buffer, pos, fields) → end. */
export type RecordWriter = (out: Uint8Array, text: Buffer, pos: number, f: RecordFields) => number;

export function recordWriter(format: RecordFormat): RecordWriter {
  switch (format) {
    case 'jsonl':
      return writeJsonRecord;
    case 'csv':
      return (out, text, pos, f) => writeDelimitedRecord(out, text, pos, f, COMMA);
    case 'tsv':
      return (out, text, pos, f) => writeDelimitedRecord(out, text, pos, f, TAB);
    case 'msgpack':
      return writeMsgpackRecord;
  }
}
