/**
 * The UID2 service envelope, both directions and both sides (the client and the local operator
 * share this file so they cannot drift apart):
 *
 *   request  := 0x01 | GCM(secret, timestamp_ms:i64 | nonce:8 | payload)
 *   response :=        GCM(secret, timestamp_ms:i64 | nonce:8 | json utf8)
 *   GCM(k, p) := iv:12 | ciphertext | tag:16         (crypto/aes.ts pins the tag to 16 bytes)
 *
 * Bodies travel as standard base64 text, or as raw bytes with `Content-Type:
 * application/octet-stream`. The response nonce must equal the request's: it binds each answer to
 * its request, so a replayed or crossed answer is rejected.
 */
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict } from '../codec/base64.js';
import { GCM_IV_LENGTH, GCM_TAG_LENGTH, gcmDecrypt, gcmEncrypt } from '../crypto/aes.js';
import { EnvelopeError, NonceMismatchError, ResponseTimestampError, SecretKeyError } from '../errors.js';

/** First byte of every request envelope. */
export const ENVELOPE_VERSION = 1;
/** Random bytes per request that the response must echo. */
export const NONCE_LENGTH = 8;
/** The client secret is an AES-256 key. */
export const SECRET_KEY_LENGTH = 32;

/**
 * Furthest a response's timestamp may be from this machine's clock, either way. The service
 * refuses requests a minute or two off its clock, so an answer further off than this comes from
 * a broken clock (here or there) or is not fresh; 0 and 8.64e15 are not times of an answer.
 */
export const MAX_RESPONSE_CLOCK_SKEW_MS = 5 * 60_000;

/** The content type of envelopes sent as raw bytes instead of base64 text. */
export const OCTET_STREAM = 'application/octet-stream';

/** Whether a Content-Type header announces raw envelope bytes (parameters allowed). */
export function isOctetStream(contentType: string | null | undefined): boolean {
  return /^\s*application\/octet-stream\s*(;|$)/i.test(contentType ?? '');
}

const TIMESTAMP_LENGTH = 8;
const PLAIN_HEADER = TIMESTAMP_LENGTH + NONCE_LENGTH;
const MIN_SEALED = GCM_IV_LENGTH + PLAIN_HEADER + GCM_TAG_LENGTH;
const EMPTY = new Uint8Array(0);

/** A sealed request and what its response must be checked against. */
export interface RequestEnvelope {
  /** `0x01 | GCM(...)`, to send as base64 text or raw bytes. */
  bytes: Buffer;
  /** The nonce the response must carry. */
  nonce: Buffer;
  timestampMs: number;
}

/** The decrypted content of an envelope (request or response). */
export interface OpenedEnvelope {
  timestampMs: number;
  nonce: Buffer;
  payload: Buffer;
}

/**
 * Decodes the client secret (standard base64 of 32 bytes).
 * @throws SecretKeyError (the message never repeats the secret)
 */
export function decodeSecretKey(secretKey: unknown): Buffer {
  const bytes = typeof secretKey === 'string' ? decodeBase64Strict(secretKey.trim(), 'standard') : null;
  if (!bytes || bytes.length !== SECRET_KEY_LENGTH) throw new SecretKeyError();
  return bytes;
}

/**
 * Body text to bytes. Surrounding whitespace (a trailing newline) is tolerated; anything else
 * outside the base64 alphabet is not.
 * @throws EnvelopeError
 */
export function decodeEnvelopeText(text: string, what: string): Buffer {
  const bytes = decodeBase64Strict(text.trim(), 'standard');
  if (!bytes) throw new EnvelopeError(`${what} envelope is not valid base64`);
  return bytes;
}

function seal(secret: Uint8Array, timestampMs: number, nonce: Uint8Array, payload: Uint8Array): Buffer {
  const plain = Buffer.allocUnsafe(PLAIN_HEADER + payload.length);
  plain.writeBigInt64BE(BigInt(Math.trunc(timestampMs)), 0);
  plain.set(nonce, TIMESTAMP_LENGTH);
  plain.set(payload, PLAIN_HEADER);
  return gcmEncrypt(secret, plain);
}

function open(secret: Uint8Array, sealed: Uint8Array, start: number, what: string): OpenedEnvelope {
  if (sealed.length - start < MIN_SEALED) throw new EnvelopeError(`${what} envelope is too short (${sealed.length} bytes)`);
  const plain = gcmDecrypt(secret, sealed, start);
  if (!plain) throw new EnvelopeError(`${what} envelope does not decrypt: wrong secret key or altered data`);
  return {
    timestampMs: Number(plain.readBigInt64BE(0)),
    nonce: plain.subarray(TIMESTAMP_LENGTH, PLAIN_HEADER),
    payload: plain.subarray(PLAIN_HEADER),
  };
}

/**
 * Client side: seals a request with a fresh random nonce and the current time.
 * @param payload JSON request payload; the key endpoints send none
 */
export function sealRequest(
  secret: Uint8Array,
  payload: Uint8Array = EMPTY,
  options: { nowMs?: number; nonce?: Uint8Array } = {},
): RequestEnvelope {
  const nonce = Buffer.from(options.nonce ?? randomBytes(NONCE_LENGTH));
  if (nonce.length !== NONCE_LENGTH) throw new EnvelopeError(`nonce must be ${NONCE_LENGTH} bytes`);
  const timestampMs = options.nowMs ?? Date.now();
  const bytes = Buffer.concat([Buffer.of(ENVELOPE_VERSION), seal(secret, timestampMs, nonce, payload)]);
  return { bytes, nonce, timestampMs };
}

/**
 * Client side: opens a response body and checks its nonce, then its timestamp against the local
 * clock (within `MAX_RESPONSE_CLOCK_SKEW_MS`).
 * @param body base64 text, or raw bytes when the response was `application/octet-stream`
 * @param nowMs the local clock, Unix ms (default now)
 * @throws EnvelopeError (bad base64, too short, bad tag), NonceMismatchError, ResponseTimestampError
 */
export function openResponse(secret: Uint8Array, body: string | Uint8Array, expectedNonce: Uint8Array, nowMs: number = Date.now()): OpenedEnvelope {
  const sealed = typeof body === 'string' ? decodeEnvelopeText(body, 'response') : body;
  const opened = open(secret, sealed, 0, 'response');
  if (!opened.nonce.equals(expectedNonce)) throw new NonceMismatchError();
  const skewMs = opened.timestampMs - nowMs;
  if (!(Math.abs(skewMs) <= MAX_RESPONSE_CLOCK_SKEW_MS)) {
    // Numbers only: a timestamp beyond the Date range (or past 2^53) must still make a message.
    throw new ResponseTimestampError(
      opened.timestampMs,
      `response envelope timestamp ${opened.timestampMs} (Unix ms) is ${Math.floor(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'ahead of' : 'behind'} this machine's clock; more than ${MAX_RESPONSE_CLOCK_SKEW_MS / 1000} s is refused (a wrong clock here or at the service)`,
    );
  }
  return opened;
}

/**
 * Service side: opens a request envelope (bytes, already base64-decoded when sent as text).
 * @throws EnvelopeError (empty, wrong version, too short, bad tag)
 */
export function openRequest(secret: Uint8Array, bytes: Uint8Array): OpenedEnvelope {
  if (bytes.length === 0) throw new EnvelopeError('request envelope is empty');
  if (bytes[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`request envelope version ${bytes[0]} is not supported (expected ${ENVELOPE_VERSION})`);
  return open(secret, bytes, 1, 'request');
}

/** Service side: seals a response payload for the request that carried `nonce`. */
export function sealResponse(secret: Uint8Array, nonce: Uint8Array, payload: Uint8Array, nowMs: number = Date.now()): Buffer {
  return seal(secret, nowMs, nonce, payload);
}
