/**
 * The local operator's publisher routes, answered as the UID2 operator answers them
 * (uid2-operator `UIDOperatorVerticle`, `V2PayloadHandler`, `V2RequestUtil`):
 *
 * `POST /v2/token/generate` (api key required; the envelope is opened and sealed by the operator):
 *   payload with exactly one of `email`, `email_hash`, `phone`, `phone_hash`, else 400
 *   "Required Parameter Missing: ..."; a value that does not normalize, 400 "Invalid Identifier";
 *   a non-string value, 500 `unknown`; an opted-out identity, 200 `{"status": "optout"}`;
 *   otherwise 200 `{"status": "success", "body": {advertising_token, refresh_token,
 *   identity_expires, refresh_expires, refresh_from, refresh_response_key}}`.
 *   For EUID, a `tcf_consent_string` is checked (tcf-consent.ts): malformed, 400 "User consent
 *   is invalid"; without the consents the service needs, 200 `{"status": "insufficient_user_consent"}`.
 *
 * `POST /v2/token/refresh` (api key optional): the body is the 388-character refresh token. A
 *   malformed outer layer is 400 `client_error`; an unreadable inner token 400 `invalid_token`,
 *   an expired one 400 `expired_token` (both 400 `error` "Error refreshing token" without a valid
 *   api key); otherwise 200 with `{"status": "success", ...}` or `{"status": "optout"}` sealed with
 *   that token's refresh_response_key (base64, or raw bytes for an `application/octet-stream` request).
 *
 * Advertising tokens are v4, minted with the caller site's keyset (minting.ts), so a
 * BidstreamClient refreshed from this operator decrypts them to the raw UID that identities.ts
 * maps the identity to at that moment.
 */
import { gcmEncrypt } from '../crypto/aes.js';
import { normalizeEmail } from '../identity/email.js';
import { normalizeHash } from '../identity/hash.js';
import { isNormalizedPhone } from '../identity/phone.js';
import { sha256Base64 } from '../identity/sha256.js';
import type { IdentityType } from '../types.js';
import type { OperatorIdentities } from './identities.js';
import type { KeyStore } from './key-store.js';
import { mintToken } from './minting.js';
import type { ResolvedOperatorOptions } from './options.js';
import { RouteRefusal, type RouteAnswer } from './routes.js';
import { REFRESH_TOKEN_LENGTH, RefreshTokenCodec, RefreshTokenRefusal, type RefreshTokenFields } from './refresh-token.js';
import { checkTcfConsent } from './tcf-consent.js';

/** The real operator reads bodies of up to 1 MB on every route. */
export const TOKEN_MAX_REQUEST_BYTES = 1024 * 1024;

const MISSING_INPUT = 'Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified';
/** Token generate sets privacy bit 0, as the real operator does (it means nothing to decryption). */
const GENERATED_PRIVACY_BITS = 1;

/** The identity a generate payload names, as type and identity hash bytes. */
interface IdentityInput {
  type: IdentityType;
  hash: Buffer;
}

/**
 * The identity of a generate payload, in the operator's order of reading the four fields.
 * @throws RouteRefusal
 */
function readIdentityInput(payload: Record<string, unknown> | null): IdentityInput {
  let found: { field: string; value: string } | null = null;
  for (const field of ['email', 'email_hash', 'phone', 'phone_hash']) {
    const value = payload?.[field];
    if (value === undefined || value === null) continue;
    // Vert.x getString() on a number or object throws: the verticle's catch-all answers 500.
    if (typeof value !== 'string') throw new RouteRefusal(500, 'Unknown error while generating token v2', 'unknown');
    if (found) throw new RouteRefusal(400, MISSING_INPUT);
    found = { field, value };
  }
  if (!found) throw new RouteRefusal(400, MISSING_INPUT);
  const { field, value } = found;
  const type: IdentityType = field.startsWith('email') ? 'Email' : 'Phone';
  let hash: string | null;
  if (field === 'email') {
    const normalized = normalizeEmail(value);
    hash = normalized === null ? null : sha256Base64(normalized);
  } else if (field === 'phone') hash = isNormalizedPhone(value) ? sha256Base64(value, false) : null;
  else hash = normalizeHash(value);
  if (hash === null) throw new RouteRefusal(400, 'Invalid Identifier');
  return { type, hash: Buffer.from(hash, 'base64') };
}

export class TokenRoutes {
  readonly #options: ResolvedOperatorOptions;
  readonly #store: KeyStore;
  readonly #identities: OperatorIdentities;
  readonly #codec: RefreshTokenCodec;

  constructor(options: ResolvedOperatorOptions, store: KeyStore, identities: OperatorIdentities) {
    this.#options = options;
    this.#store = store;
    this.#identities = identities;
    this.#codec = new RefreshTokenCodec(options.identityScope);
  }

  /**
   * `/v2/token/generate`: the answer JSON for an opened request payload (the operator seals it).
   * @throws RouteRefusal (400, or 500 with `serviceStatus` "unknown")
   */
  generateJson(payload: Buffer, nowMs: number): object {
    const doc = payload.length === 0 ? null : (JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
    const input = readIdentityInput(doc);
    if (this.#options.identityScope === 'EUID' && doc !== null && 'tcf_consent_string' in doc) {
      const consent = checkTcfConsent(doc['tcf_consent_string']);
      if (consent === 'invalid') throw new RouteRefusal(400, 'User consent is invalid');
      if (consent === 'insufficient') return { status: 'insufficient_user_consent' };
    }
    const firstLevelHash = this.#identities.firstLevelHash(input.hash);
    return this.#issue(
      { createdMs: nowMs, expiresMs: 0, siteId: this.#options.callerSiteId, privacyBits: GENERATED_PRIVACY_BITS, establishedMs: nowMs, identityType: input.type, firstLevelHash },
      'generate',
      nowMs,
    );
  }

  /**
   * `/v2/token/refresh`: the whole HTTP answer for a request body.
   * @param authorized whether the request carried this operator's api key
   * @param binary whether the request announced `application/octet-stream`
   * @throws RouteRefusal for the unencrypted error answers
   */
  refreshAnswer(body: Buffer, authorized: boolean, binary: boolean, nowMs: number): RouteAnswer {
    const text = body.toString('latin1');
    let fields: RefreshTokenFields | null = null;
    let responseKey: Buffer | null = null;
    if (text.length === REFRESH_TOKEN_LENGTH) {
      try {
        const opened = this.#codec.open(text);
        responseKey = opened.responseKey;
        fields = this.#codec.read(opened.inner);
      } catch (err) {
        if (err instanceof RefreshTokenRefusal) throw new RouteRefusal(400, err.message);
        throw err;
      }
    }
    // Any other length is a v1 refresh token to the real operator; this one issues none.
    if (!fields || !responseKey) throw this.#refreshRefusal(authorized, 'invalid_token', 'Invalid Token presented');
    if (fields.expiresMs < nowMs) throw this.#refreshRefusal(authorized, 'expired_token', 'Expired Token presented');
    const json = this.#issue({ ...fields, createdMs: nowMs }, 'refresh', nowMs);
    const sealed = gcmEncrypt(responseKey, Buffer.from(JSON.stringify(json), 'utf8'));
    return binary
      ? { status: 200, contentType: 'application/octet-stream', body: sealed }
      : { status: 200, contentType: 'text/plain', body: sealed.toString('base64') };
  }

  #refreshRefusal(authorized: boolean, status: string, message: string): RouteRefusal {
    // A caller without a valid api key learns only that the refresh failed.
    return authorized ? new RouteRefusal(400, message, status) : new RouteRefusal(400, 'Error refreshing token', 'error');
  }

  /** New tokens for an identity, or `{"status": "optout"}`. */
  #issue(user: RefreshTokenFields, purpose: 'generate' | 'refresh', nowMs: number): object {
    const mapped = this.#identities.lookup(user.identityType, user.firstLevelHash, nowMs, purpose);
    if (mapped.optedOut) return { status: 'optout' };
    const o = this.#options;
    const identityExpires = nowMs + o.tokenLifetimeSeconds * 1000;
    const refreshExpires = nowMs + o.refreshTokenLifetimeSeconds * 1000;
    const advertisingToken = mintToken(
      this.#store,
      o,
      { version: 4, siteId: user.siteId, rawUid: mapped.rawUid, identityType: user.identityType, generatedMs: nowMs, expiresMs: identityExpires, establishedMs: user.establishedMs },
      nowMs,
    );
    const { refreshToken, responseKey } = this.#codec.issue({ ...user, createdMs: nowMs, expiresMs: refreshExpires });
    return {
      status: 'success',
      body: {
        advertising_token: advertisingToken,
        refresh_token: refreshToken,
        identity_expires: identityExpires,
        refresh_expires: refreshExpires,
        refresh_from: nowMs + o.refreshIdentityAfterSeconds * 1000,
        refresh_response_key: responseKey.toString('base64'),
      },
    };
  }
}
