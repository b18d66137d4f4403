/**
 * Opt-out status backfill: `POST /v2/optout/status` with the key endpoints' envelope, payload
 * `{"advertising_ids": [raw UIDs]}`, answer
 * `{"status": "success", "body": {"opted_out": [{"advertising_id", "opted_out_since": Unix ms}]}}`
 * listing only the opted-out ones. At most 5,000 raw UIDs a request; larger lists go as
 * batches one after another, never in parallel, as the UID2 documentation asks. Every answer is
 * hostile input: only raw UIDs that were asked about, with integer times the store can hold, are
 * returned. A bad entry is skipped and reported with its reason, and the rest of the answer and
 * the later batches still count: one malformed record must not cost the opt-outs around it. An
 * answer that is not the documented shape at all (or lists more entries than were asked) fails
 * the call.
 */
import { encodeBase64 } from '../codec/base64.js';
import { InvalidArgumentError, OptOutResponseError } from '../errors.js';
import { parseRawUid } from '../optout/raw-uid.js';
import { MAX_OPTOUT_MS } from '../optout/time.js';
import { openResponse, sealRequest } from './envelope.js';
import { postToService } from './http.js';
import { checkCredentialsForPath } from './key-request.js';
import type { Credentials } from './credentials.js';
import { safeExcerpt } from './sanitize.js';
import { clientVersionHeader } from './version.js';

export const OPTOUT_STATUS_PATH = '/v2/optout/status';
/** Most raw UIDs in one `/v2/optout/status` request. */
export const MAX_OPTOUT_STATUS_BATCH = 5000;

/** What `optOutStatus()` found: the usable entries of every answer, and the skipped ones. */
export interface OptOutStatusResult {
  /** The opted-out raw UIDs, with their opt-out times. */
  optedOut: OptOutStatus[];
  /** Entries of the answers that could not be used, in the order they came. */
  skipped: SkippedOptOutStatus[];
}

/** An entry of an answer that was skipped. */
export interface SkippedOptOutStatus {
  /** The raw UID the entry names, when it is one that was asked about; else null. */
  advertisingId: string | null;
  /** Why, naming the entry by its index in the answer and the batch by its place in `rawUids` (never a raw UID). */
  reason: string;
}

/** One opted-out raw UID as the status endpoint reports it. */
export interface OptOutStatus {
  /** The raw UID, as it was asked about (standard base64). */
  advertisingId: string;
  /** When it opted out, Unix ms. */
  optedOutSinceMs: number;
}

export interface OptOutStatusRequest extends Credentials {
  rawUids: readonly string[];
  timeoutMs: number;
  maxResponseBytes: number;
  signals: readonly AbortSignal[];
}

/**
 * Validates the raw UIDs up front (nothing is sent when one is malformed).
 * @throws InvalidArgumentError naming the first bad entry
 */
function checkRawUidList(rawUids: unknown): readonly string[] {
  if (!Array.isArray(rawUids)) throw new InvalidArgumentError('rawUids must be an array of raw UIDs (standard base64)');
  rawUids.forEach((uid, i) => {
    if (!parseRawUid(uid)) throw new InvalidArgumentError(`rawUids[${i}] is not standard base64 of a 32- or 33-byte raw UID`);
  });
  return rawUids as string[];
}

/**
 * Validates one decrypted answer against the batch it answers (`rawUids[first..]`): usable
 * entries go to `result.optedOut`, bad ones to `result.skipped`.
 * @throws OptOutResponseError when the answer as a whole is not the documented shape
 */
function parseOptOutStatusResponse(payload: Uint8Array, asked: ReadonlySet<string>, first: number, result: OptOutStatusResult, redact: readonly string[] = []): void {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new OptOutResponseError('opt-out status response is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OptOutResponseError('opt-out status response is not a JSON object');
  const { status, body, message } = doc as Record<string, unknown>;
  if (status !== 'success') {
    const said = typeof message === 'string' ? `: ${safeExcerpt(message, redact)}` : '';
    throw new OptOutResponseError(`opt-out status response status is ${safeExcerpt(JSON.stringify(status) ?? 'null', redact, 40)}, not "success"${said}`);
  }
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['opted_out'] : undefined;
  if (!Array.isArray(list)) throw new OptOutResponseError('opt-out status response has no body.opted_out array');
  if (list.length > asked.size) throw new OptOutResponseError(`opt-out status response lists ${list.length} raw UIDs for ${asked.size} asked`);
  // Reasons name the entry by index and the batch by position, never the raw UID.
  const of = `of the answer for rawUids[${first}..${first + asked.size - 1}]`;
  list.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      result.skipped.push({ advertisingId: null, reason: `body.opted_out[${i}] ${of} is not an object` });
      return;
    }
    const id = (entry as Record<string, unknown>)['advertising_id'];
    const since = (entry as Record<string, unknown>)['opted_out_since'];
    if (typeof id !== 'string' || !asked.has(id)) {
      result.skipped.push({ advertisingId: null, reason: `body.opted_out[${i}].advertising_id ${of} is not one of the raw UIDs asked about` });
    } else if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0 || since > MAX_OPTOUT_MS) {
      result.skipped.push({ advertisingId: id, reason: `body.opted_out[${i}].opted_out_since ${of} must be Unix milliseconds, an integer from 0 to ${MAX_OPTOUT_MS}` });
    } else {
      result.optedOut.push({ advertisingId: id, optedOutSinceMs: since });
    }
  });
}

/**
 * Asks the service which of `rawUids` opted out, 5,000 per request, one request at a time.
 * @throws InvalidArgumentError, ConfigError, SecretKeyError, AbortedError, ServiceTimeoutError
 *   (per request), ServiceNetworkError, ServiceHttpError, EnvelopeError, NonceMismatchError,
 *   ResponseTimestampError, OptOutResponseError. A failure stops the backfill; nothing of a
 *   failed batch is returned. A bad entry is not a failure: it is skipped and listed.
 */
export async function requestOptOutStatus(request: OptOutStatusRequest): Promise<OptOutStatusResult> {
  const rawUids = checkRawUidList(request.rawUids);
  const { url, apiKey, secret, redact } = checkCredentialsForPath(request, OPTOUT_STATUS_PATH);
  const result: OptOutStatusResult = { optedOut: [], skipped: [] };
  for (let start = 0; start < rawUids.length; start += MAX_OPTOUT_STATUS_BATCH) {
    const batch = rawUids.slice(start, start + MAX_OPTOUT_STATUS_BATCH);
    const envelope = sealRequest(secret, Buffer.from(JSON.stringify({ advertising_ids: batch }), 'utf8'));
    const response = await postToService({
      url,
      path: OPTOUT_STATUS_PATH,
      headers: { Authorization: `Bearer ${apiKey}`, 'X-UID2-Client-Version': clientVersionHeader(), 'Content-Type': 'text/plain' },
      body: encodeBase64(envelope.bytes),
      timeoutMs: request.timeoutMs,
      maxResponseBytes: request.maxResponseBytes,
      signals: request.signals,
      redact,
    });
    const opened = openResponse(secret, response.binary ? response.body : response.body.toString('latin1'), envelope.nonce);
    parseOptOutStatusResponse(opened.payload, new Set(batch), start, result, redact);
  }
  return result;
}
