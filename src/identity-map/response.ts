/**
 * Reads a decrypted `/v3/identity/map` answer into outcomes, in the request's order:
 *
 *   {"status": "success", "body": {"email_hash": [entry...], "phone_hash": [...], "email": [], "phone": []}}
 *   entry := {"u": raw UID, "p": raw UID | null, "r": refresh-from} | {"e": reason}
 *
 * The i-th entry of a list answers the i-th identity sent in it. `r` is Unix seconds as
 * uid2-operator writes it (`refreshFrom / 1000`) and the Java SDK reads it; the public endpoint
 * page calls it milliseconds, so a value of 10^11 or more (a date before 1973 in milliseconds,
 * after year 5000 in seconds) is read as milliseconds: either reading of a real date is right.
 *
 * Every answer is hostile: each list sent must come back with exactly as many entries, every
 * raw UID must be base64 of 32 or 33 bytes, every time a non-negative integer; otherwise the
 * whole batch fails with IdentityMapResponseError naming the field (never its value).
 */
import { IdentityMapResponseError } from '../errors.js';
import { isRawUidText } from '../optout/raw-uid.js';
import { safeExcerpt } from '../service/sanitize.js';
import { INVALID_IDENTIFIER, OPTED_OUT, type IdentityMapOutcome, type UnmappedIdentity } from './outcome.js';

/** `r` values from here up are milliseconds, below it seconds (see above). */
const MILLISECONDS_FROM = 1e11;
/** Longest `rawReason` kept from an unknown reason. */
const MAX_RAW_REASON_CHARS = 40;

/** One list of a request: its field name and where each of its answers goes. */
export interface AnswerList {
  field: 'email_hash' | 'phone_hash';
  /** Index into the outcomes array for each identity sent, in order. */
  targets: readonly number[];
}

function fail(message: string): never {
  throw new IdentityMapResponseError(message);
}

function unmapped(reason: unknown, where: string): UnmappedIdentity {
  if (reason === 'optout') return OPTED_OUT;
  if (reason === 'invalid identifier') return INVALID_IDENTIFIER;
  if (typeof reason !== 'string') fail(`${where}.e must be a string`);
  return Object.freeze({ status: 'unmapped', reason: 'unknown', rawReason: safeExcerpt(reason, [], MAX_RAW_REASON_CHARS) });
}

function entryOutcome(entry: unknown, where: string): IdentityMapOutcome {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`${where} is not an object`);
  const { u, p, r, e } = entry as Record<string, unknown>;
  if (u === undefined) {
    if (e === undefined) fail(`${where} has neither "u" nor "e"`);
    return unmapped(e, where);
  }
  if (!isRawUidText(u)) fail(`${where}.u is not a raw UID (base64 of 32 or 33 bytes)`);
  if (p !== null && p !== undefined && !isRawUidText(p)) fail(`${where}.p is neither null nor a raw UID`);
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) fail(`${where}.r must be a non-negative integer time`);
  const refreshFrom = new Date(r >= MILLISECONDS_FROM ? r : r * 1000);
  if (Number.isNaN(refreshFrom.getTime())) fail(`${where}.r is beyond the dates this library represents`);
  return { status: 'mapped', currentRawUid: u, previousRawUid: p ?? null, refreshFrom };
}

/**
 * Parses `payload` (the decrypted answer) and writes one outcome per identity of `lists` into
 * `outcomes`. Nothing is written unless the whole answer is valid.
 * @throws IdentityMapResponseError
 */
export function readIdentityMapResponse(payload: Buffer, lists: readonly AnswerList[], outcomes: IdentityMapOutcome[]): void {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    fail('identity map response is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('identity map response is not a JSON object');
  const { status, body } = doc as Record<string, unknown>;
  if (status !== 'success') fail(`identity map response status is ${safeExcerpt(JSON.stringify(status) ?? 'missing', [], 40)}, not "success"`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('identity map response has no body object');
  const answers = body as Record<string, unknown>;
  const parsed: IdentityMapOutcome[][] = [];
  for (const list of lists) {
    const entries = answers[list.field];
    if (!Array.isArray(entries)) fail(`body.${list.field} is not an array`);
    if (entries.length !== list.targets.length) fail(`body.${list.field} has ${entries.length} entries for ${list.targets.length} identities`);
    const results = new Array<IdentityMapOutcome>(entries.length);
    for (let i = 0; i < entries.length; i++) results[i] = entryOutcome(entries[i], `body.${list.field}[${i}]`);
    parsed.push(results);
  }
  // Lists this request did not send must not answer anything.
  for (const field of ['email', 'phone', 'email_hash', 'phone_hash']) {
    if (lists.some((l) => l.field === field)) continue;
    const extra = answers[field];
    if (extra !== undefined && extra !== null && !(Array.isArray(extra) && extra.length === 0)) fail(`body.${field} answers identities that were not sent`);
  }
  lists.forEach((list, k) => {
    const results = parsed[k]!;
    for (let i = 0; i < results.length; i++) outcomes[list.targets[i]!] = results[i]!;
  });
}
