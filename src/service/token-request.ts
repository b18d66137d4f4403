/**
 * Publisher token calls, the wire half (the publisher/ folder reads the answers):
 *
 * - `POST /v2/token/generate`: the key endpoints' envelope around a JSON payload
 *   (`{"email_hash": ...}` etc.), answered in an envelope that echoes the request nonce.
 * - `POST /v2/token/refresh`: the body is the refresh token itself, no envelope and no secret;
 *   a 200 answer is `GCM(refresh_response_key, json)` with no timestamp or nonce, the key being
 *   the one that came with that refresh token.
 *
 * Both return the decrypted JSON text; a non-200 answer (not encrypted) is a ServiceHttpError
 * with the service's status and message in a sanitised excerpt.
 */
import { decodeBase64Strict, encodeBase64 } from '../codec/base64.js';
import { gcmDecrypt } from '../crypto/aes.js';
import { EnvelopeError } from '../errors.js';
import { checkApiKey, endpointUrl, type Credentials } from './credentials.js';
import { decodeEnvelopeText, openResponse, sealRequest } from './envelope.js';
import { postToService } from './http.js';
import { checkCredentialsForPath } from './key-request.js';
import { clientVersionHeader } from './version.js';

export const TOKEN_GENERATE_PATH = '/v2/token/generate';
export const TOKEN_REFRESH_PATH = '/v2/token/refresh';

/** What both calls need besides their payload. */
export interface TokenCall extends Credentials {
  timeoutMs: number;
  maxResponseBytes: number;
  signals: readonly AbortSignal[];
}

/**
 * Sends a token generate request and returns the decrypted answer's JSON text.
 * @throws ConfigError, SecretKeyError, AbortedError, ServiceTimeoutError, ServiceNetworkError,
 *   ServiceHttpError, EnvelopeError, NonceMismatchError
 */
export async function requestTokenGenerate(call: TokenCall, payload: object): Promise<string> {
  const { url, apiKey, secret, redact } = checkCredentialsForPath(call, TOKEN_GENERATE_PATH);
  const envelope = sealRequest(secret, Buffer.from(JSON.stringify(payload), 'utf8'));
  const response = await postToService({
    url,
    path: TOKEN_GENERATE_PATH,
    headers: { Authorization: `Bearer ${apiKey}`, 'X-UID2-Client-Version': clientVersionHeader(), 'Content-Type': 'text/plain' },
    body: encodeBase64(envelope.bytes),
    timeoutMs: call.timeoutMs,
    maxResponseBytes: call.maxResponseBytes,
    signals: call.signals,
    redact,
  });
  const opened = openResponse(secret, response.binary ? response.body : response.body.toString('latin1'), envelope.nonce);
  return opened.payload.toString('utf8');
}

/**
 * Sends a refresh token and returns the decrypted answer's JSON text. The api key is sent when
 * there is one (the service does not require it for refresh); the secret key is not used.
 * @param refreshResponseKey base64 of the 32-byte key that came with this refresh token
 * @throws ConfigError, AbortedError, ServiceTimeoutError, ServiceNetworkError, ServiceHttpError,
 *   EnvelopeError (the answer does not open with `refreshResponseKey`)
 */
export async function requestTokenRefresh(call: TokenCall, refreshToken: string, refreshResponseKey: string): Promise<string> {
  const url = endpointUrl(call.baseUrl, TOKEN_REFRESH_PATH);
  const apiKey = call.apiKey === undefined ? undefined : checkApiKey(call.apiKey);
  const key = decodeBase64Strict(refreshResponseKey, 'standard');
  if (!key || key.length !== 32) throw new EnvelopeError('refresh_response_key is not base64 of 32 bytes');
  const headers: Record<string, string> = { 'X-UID2-Client-Version': clientVersionHeader(), 'Content-Type': 'text/plain' };
  if (apiKey !== undefined) headers['Authorization'] = `Bearer ${apiKey}`;
  const response = await postToService({
    url,
    path: TOKEN_REFRESH_PATH,
    headers,
    body: refreshToken,
    timeoutMs: call.timeoutMs,
    maxResponseBytes: call.maxResponseBytes,
    signals: call.signals,
    // The refresh token is a credential for this identity: never echoed into an error.
    redact: [apiKey, call.secretKey?.trim(), refreshToken, refreshResponseKey].filter((s): s is string => !!s),
  });
  const sealed = response.binary ? response.body : decodeEnvelopeText(response.body.toString('latin1'), 'refresh response');
  const plain = gcmDecrypt(key, sealed);
  if (!plain) throw new EnvelopeError('refresh response does not decrypt with the identity\'s refresh_response_key');
  return plain.toString('utf8');
}
