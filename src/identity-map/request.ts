/**
 * One `/v3/identity/map` request: the JSON payload of a batch of hashes, sealed in the service
 * envelope, POSTed as base64 text (the default) or raw bytes, and the answer opened and checked
 * against the request's nonce. Retrying is the caller's business (retry.ts).
 *
 * Only hashes travel: emails and phone numbers are normalized and hashed on this machine
 * (identity-map/batches.ts), as the official SDKs do, so every identity goes as `email_hash` or
 * `phone_hash`, base64 of 32 bytes (44 characters). That bounds a request: 5,000 hashes make a
 * payload of about 235 KB and a base64 body of about 315 KB, well under the service's 1 MB body
 * limit, so the 5,000-identity split is the only one a batch needs (a test checks the bound).
 */
import { encodeBase64 } from '../codec/base64.js';
import { OCTET_STREAM, openResponse, sealRequest } from '../service/envelope.js';
import { postToService } from '../service/http.js';
import type { CheckedCredentials } from '../service/key-request.js';
import { clientVersionHeader } from '../service/version.js';

/** The endpoint path. */
export const IDENTITY_MAP_PATH = '/v3/identity/map';

/** The service refuses request bodies larger than this (uid2-operator's body limit, 1 MiB). */
export const MAX_REQUEST_BODY_BYTES = 1 << 20;

/** The hashes of one request, in the order the answer lists them. */
export interface HashLists {
  /** Base64 SHA-256 of normalized emails (from emails and email hashes alike). */
  emailHashes: readonly string[];
  /** Base64 SHA-256 of normalized phone numbers. */
  phoneHashes: readonly string[];
}

export interface IdentityMapAttempt {
  credentials: CheckedCredentials;
  binary: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
  signals: readonly AbortSignal[];
}

/**
 * The request payload. The hashes are our own base64 output, so they need no JSON escaping;
 * lists that are empty are left out (the service reads a missing list as an empty one).
 */
export function identityMapPayload(lists: HashLists): string {
  const parts: string[] = [];
  if (lists.emailHashes.length > 0) parts.push(`"email_hash":["${lists.emailHashes.join('","')}"]`);
  if (lists.phoneHashes.length > 0) parts.push(`"phone_hash":["${lists.phoneHashes.join('","')}"]`);
  return `{${parts.join(',')}}`;
}

/**
 * Sends `payload` once and returns the decrypted answer JSON bytes.
 * @throws AbortedError, ServiceTimeoutError, ServiceNetworkError, ServiceHttpError,
 *   EnvelopeError, NonceMismatchError
 */
export async function sendIdentityMapRequest(payload: string, attempt: IdentityMapAttempt): Promise<Buffer> {
  const { url, apiKey, secret, redact } = attempt.credentials;
  const envelope = sealRequest(secret, Buffer.from(payload, 'utf8'));
  const response = await postToService({
    url,
    path: IDENTITY_MAP_PATH,
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'X-UID2-Client-Version': clientVersionHeader(),
      'Content-Type': attempt.binary ? OCTET_STREAM : 'text/plain',
    },
    body: attempt.binary ? envelope.bytes : encodeBase64(envelope.bytes),
    timeoutMs: attempt.timeoutMs,
    maxResponseBytes: attempt.maxResponseBytes,
    signals: attempt.signals,
    redact,
  });
  return openResponse(secret, response.binary ? response.body : response.body.toString('latin1'), envelope.nonce).payload;
}
