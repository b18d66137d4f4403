/**
 * One key request on the wire and its answer to a KeySet: POST the sealed request, open the
 * envelope, check its nonce, parse and validate the key JSON, refuse a set with no unexpired key.
 * The same function runs on the calling thread and in the refresh worker (refresh-worker.ts), so
 * both give the same key set or the same error, message for message.
 */
import { KeysJsonError, StaleKeysError, Uid2Error } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { openResponse } from './envelope.js';
import { postToService } from './http.js';
import { safeExcerpt } from './sanitize.js';
import { isoTime } from '../util/time.js';

/** A key request ready to send: everything but the abort signals, all of it cloneable. */
export interface SealedKeyRequest {
  /** The endpoint's full URL, as text. */
  url: string;
  /** The endpoint path, for messages. */
  path: string;
  headers: Record<string, string>;
  /** The request envelope as base64 text. */
  body: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** The client secret (AES-256 key of the envelope). */
  secret: Uint8Array;
  /** The request's nonce, which the response must echo. */
  nonce: Uint8Array;
  /** The credentials as given, to redact from anything the service echoes. */
  redact: readonly string[];
}

/** A validated key set and the size of the body it came in. */
export interface FetchedKeySet {
  keySet: KeySet;
  responseBytes: number;
}

/**
 * @throws AbortedError, ServiceTimeoutError, ServiceNetworkError, ServiceHttpError,
 *   EnvelopeError, NonceMismatchError, KeysJsonError, StaleKeysError
 */
export async function fetchKeySet(request: SealedKeyRequest, signals: readonly AbortSignal[]): Promise<FetchedKeySet> {
  const { redact } = request;
  const response = await postToService({
    url: new URL(request.url),
    path: request.path,
    headers: request.headers,
    body: request.body,
    timeoutMs: request.timeoutMs,
    maxResponseBytes: request.maxResponseBytes,
    signals,
    redact,
  });
  const opened = openResponse(request.secret, response.binary ? response.body : response.body.toString('latin1'), request.nonce);
  return { keySet: parseKeyResponse(opened.payload, redact), responseBytes: response.body.byteLength };
}

/** Validates decrypted key JSON. */
function parseKeyResponse(payload: Uint8Array, redact: readonly string[]): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    // JSON.parse's message quotes the input, which holds key secrets: say only that it failed.
    throw new KeysJsonError('key response is not valid JSON');
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const { status, message } = doc as Record<string, unknown>;
    if (status !== undefined && status !== 'success') {
      const said = typeof message === 'string' ? `: ${safeExcerpt(message, redact)}` : '';
      throw new KeysJsonError(`key response status is ${safeExcerpt(JSON.stringify(status) ?? 'null', redact, 40)}, not "success"${said}`);
    }
  }
  let keySet: KeySet;
  try {
    keySet = parseKeys(doc as object);
  } catch (err) {
    // parseKeys may quote a hostile field value; keep the message short and printable.
    if (err instanceof Uid2Error) throw new KeysJsonError(safeExcerpt(err.message, redact, 300));
    throw err;
  }
  if (!keySet.isValid(Date.now())) {
    const newest = isoTime(keySet.latestKeyExpiryMs);
    throw new StaleKeysError(`key response has no unexpired key (${keySet.size} keys, newest expiry ${newest}); keeping the previous keys`);
  }
  return keySet;
}
