/**
 * Reads the decrypted answer of `/v2/token/generate` or `/v2/token/refresh`: `{"status": ...,
 * "body": {...identity}}`. Statuses as the service sends them: `success` (with the identity),
 * `optout` (the user opted out: no token, and any kept identity must be dropped) and, for EUID
 * token generation, `insufficient_user_consent`. Anything else is a TokenResponseError. The
 * answer is hostile input: nothing of it is echoed but a short sanitised status.
 */
import { TokenResponseError } from '../errors.js';
import { safeExcerpt } from '../service/sanitize.js';
import { IdentityTokens } from './identity-tokens.js';

export type TokenGenerateResult =
  | { status: 'success'; identity: IdentityTokens }
  | { status: 'optout'; identity?: undefined }
  | { status: 'insufficient_user_consent'; identity?: undefined };

export type TokenRefreshResult = { status: 'success'; identity: IdentityTokens } | { status: 'optout'; identity?: undefined };

function parseDoc(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TokenResponseError(`${what} response is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TokenResponseError(`${what} response is not a JSON object`);
  return doc as Record<string, unknown>;
}

function unexpected(what: string, status: unknown, redact: readonly string[]): TokenResponseError {
  return new TokenResponseError(`${what} response status is ${safeExcerpt(JSON.stringify(status) ?? 'missing', redact, 40)}, not "success" or "optout"`);
}

/**
 * @param redact the credentials, never to be echoed should the service send them back
 * @throws TokenResponseError, IdentityTokensError (a success whose body is not an identity)
 */
export function parseGenerateResponse(text: string, redact: readonly string[] = []): TokenGenerateResult {
  const doc = parseDoc(text, 'token generate');
  const status = doc['status'];
  if (status === 'optout' || status === 'insufficient_user_consent') return { status };
  if (status !== 'success') throw unexpected('token generate', status, redact);
  return { status, identity: IdentityTokens.fromJson(doc['body']) };
}

/**
 * As the Java SDK: a refreshed identity that is already expired or no longer refreshable at
 * `nowMs` is refused, so a caller never keeps an identity that cannot be used.
 * @throws TokenResponseError, IdentityTokensError
 */
export function parseRefreshResponse(text: string, nowMs: number, redact: readonly string[] = []): TokenRefreshResult {
  const doc = parseDoc(text, 'token refresh');
  const status = doc['status'];
  if (status === 'optout') return { status };
  if (status !== 'success') throw unexpected('token refresh', status, redact);
  const identity = IdentityTokens.fromJson(doc['body']);
  if (!identity.isRefreshable(nowMs) || identity.hasIdentityExpired(nowMs)) {
    throw new TokenResponseError('token refresh response holds an identity that has already expired');
  }
  return { status, identity };
}
