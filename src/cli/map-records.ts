/**
 * The records of `uid2-engine map`, one per input line, in JSON lines or CSV, and reading them
 * back for `--remap-due`. The input is written as it was given: it is the caller's own data and
 * the key a record is looked up by. Times are ISO 8601.
 *
 *   jsonl  {"input":"a@example.com","status":"mapped","uid":"...","previousUid":null,"refreshFrom":"2026-01-01T00:00:00.000Z"}
 *          {"input":"b@example","status":"unmapped","reason":"optout"}
 *          {"input":"c@example.com","status":"failed","error":"UID2_ERR_RETRY_DEADLINE"}
 *   csv    input,status,uid,previous_uid,refresh_from,reason        (reason holds the error code of a failed one)
 */
import type { IdentityMapOutcome } from '../identity-map/outcome.js';

export type MapFormat = 'jsonl' | 'csv';

export type MapRecord =
  | { input: string; status: 'mapped'; uid: string; previousUid: string | null; refreshFromMs: number }
  | { input: string; status: 'unmapped'; reason: string }
  | { input: string; status: 'failed'; error: string };

export const CSV_HEADER = 'input,status,uid,previous_uid,refresh_from,reason';

/** The record of one identity's outcome. */
export function outcomeRecord(input: string, outcome: IdentityMapOutcome): MapRecord {
  return outcome.status === 'mapped'
    ? { input, status: 'mapped', uid: outcome.currentRawUid, previousUid: outcome.previousRawUid, refreshFromMs: outcome.refreshFrom.getTime() }
    : { input, status: 'unmapped', reason: outcome.rawReason };
}

/** Many records share a refresh-from time (a salt bucket's): each is formatted once. */
const isoCache = new Map<number, string>();
/** Distinct times kept; the cache is emptied when it reaches this many. */
const ISO_CACHE_SIZE = 4096;
function iso(ms: number): string {
  let text = isoCache.get(ms);
  if (text === undefined) {
    if (isoCache.size >= ISO_CACHE_SIZE) isoCache.clear();
    text = new Date(ms).toISOString();
    isoCache.set(ms, text);
  }
  return text;
}

/** Printable ASCII but `"` and `\`: JSON text as it is, no escaping needed (most emails and all hashes). */
const JSON_SAFE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
function jsonString(text: string): string {
  return JSON_SAFE.test(text) ? `"${text}"` : JSON.stringify(text);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One output line, newline included. */
export function formatRecord(record: MapRecord, format: MapFormat): string {
  if (format === 'jsonl') {
    const input = jsonString(record.input);
    if (record.status === 'mapped') {
      const previous = record.previousUid === null ? 'null' : `"${record.previousUid}"`;
      // Raw UIDs are validated base64 and the time is ISO text: neither needs escaping.
      return `{"input":${input},"status":"mapped","uid":"${record.uid}","previousUid":${previous},"refreshFrom":"${iso(record.refreshFromMs)}"}\n`;
    }
    if (record.status === 'unmapped') return `{"input":${input},"status":"unmapped","reason":${JSON.stringify(record.reason)}}\n`;
    return `{"input":${input},"status":"failed","error":${JSON.stringify(record.error)}}\n`;
  }
  const input = csvField(record.input);
  if (record.status === 'mapped') return `${input},mapped,${record.uid},${record.previousUid ?? ''},${iso(record.refreshFromMs)},\n`;
  if (record.status === 'unmapped') return `${input},unmapped,,,,${csvField(record.reason)}\n`;
  return `${input},failed,,,,${csvField(record.error)}\n`;
}

/** The fields of a CSV line (RFC 4180 quoting), or null when the quoting is broken. */
function csvFields(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) return null;
        text += line.slice(i, close);
        if (line[close + 1] === '"') {
          text += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      fields.push(text);
      if (i === line.length) return fields;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

function recordFrom(input: unknown, status: unknown, uid: unknown, previous: unknown, refreshFrom: unknown, reason: unknown): MapRecord | null {
  if (typeof input !== 'string') return null;
  if (status === 'mapped') {
    const ms = typeof refreshFrom === 'string' ? Date.parse(refreshFrom) : NaN;
    if (typeof uid !== 'string' || uid === '' || !Number.isFinite(ms)) return null;
    return { input, status, uid, previousUid: typeof previous === 'string' && previous !== '' ? previous : null, refreshFromMs: ms };
  }
  if (typeof reason !== 'string') return null;
  if (status === 'unmapped') return { input, status, reason };
  if (status === 'failed') return { input, status, error: reason };
  return null;
}

/** A line written by `formatRecord` in `format`, or null when it is not one. */
export function parseRecord(line: string, format: MapFormat): MapRecord | null {
  if (format === 'jsonl') {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (typeof doc !== 'object' || doc === null) return null;
    return recordFrom(doc['input'], doc['status'], doc['uid'], doc['previousUid'], doc['refreshFrom'], doc['status'] === 'failed' ? doc['error'] : doc['reason']);
  }
  const fields = csvFields(line);
  if (!fields || fields.length !== 6) return null;
  return recordFrom(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
}

/** Whether a record is to be mapped again at `nowMs`: a failed one, or a mapped one whose refresh-from time has come. */
export function isDue(record: MapRecord, nowMs: number): boolean {
  return record.status === 'failed' || (record.status === 'mapped' && record.refreshFromMs <= nowMs);
}
