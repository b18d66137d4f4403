/**
 * PublisherClient: UID2 tokens for a publisher's signed-in users, the server-side half of the
 * UID2 publisher integration (the official Java SDK's `PublisherUid2Client`):
 *
 *   login    ─► generateToken({ email })  ─► identity (keep it in the session)
 *   page     ─► identity.advertisingToken ─► the page, Prebid.js or the bid request
 *   later    ─► identity.isDueForRefresh() ─► refreshToken(identity) ─► the new identity
 *   optout   ─► drop the identity; send no token for this user
 *
 * Requests go through the same envelope and HTTP code as the key refresh (service/), so the
 * timeouts, aborts and typed errors are the same too.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkCredentialsForPath } from '../service/key-request.js';
import { resolveCredentials, type Credentials } from '../service/credentials.js';
import { requestTokenGenerate, requestTokenRefresh, TOKEN_GENERATE_PATH } from '../service/token-request.js';
import { toGeneratePayload, type TokenGenerateInput } from './generate-input.js';
import { IdentityTokens } from './identity-tokens.js';
import { resolvePublisherCallOptions, resolvePublisherClientOptions, type PublisherCallOptions, type PublisherClientOptions } from './options.js';
import { parseGenerateResponse, parseRefreshResponse, type TokenGenerateResult, type TokenRefreshResult } from './token-response.js';

export class PublisherClient {
  readonly #credentials: Credentials;
  readonly #options: Required<PublisherClientOptions>;

  /**
   * @param baseUrl the UID2 service (e.g. `https://prod.uidapi.com`); default `UID2_BASE_URL`
   * @param apiKey the publisher's api key; default `UID2_API_KEY`
   * @param secretKey the publisher's client secret (base64); default `UID2_SECRET_KEY`
   * @throws ConfigError (missing or unusable credentials), SecretKeyError, InvalidArgumentError
   */
  constructor(baseUrl?: string, apiKey?: string, secretKey?: string, options?: PublisherClientOptions) {
    this.#credentials = resolveCredentials(baseUrl, apiKey, secretKey);
    // A publisher client cannot do anything without the service: check everything now.
    checkCredentialsForPath(this.#credentials, TOKEN_GENERATE_PATH);
    this.#options = resolvePublisherClientOptions(options);
  }

  /**
   * Generates an identity for a user: `POST /v2/token/generate`. An email or phone number is
   * normalized and hashed here; only the hash is sent.
   * @returns `success` with the identity, `optout` (no token for this user), or, for EUID,
   *   `insufficient_user_consent`
   * @throws InvalidArgumentError, InvalidIdentityError (checked before anything is sent),
   *   AbortedError, ServiceTimeoutError, ServiceNetworkError, ServiceHttpError (e.g. 400 for an
   *   input the service refuses, 401 for a wrong api key), EnvelopeError, NonceMismatchError,
   *   TokenResponseError, IdentityTokensError
   */
  async generateToken(input: TokenGenerateInput, options?: PublisherCallOptions): Promise<TokenGenerateResult> {
    const payload = toGeneratePayload(input);
    const call = resolvePublisherCallOptions(options, this.#options.timeoutMs);
    const text = await requestTokenGenerate({ ...this.#credentials, ...call, maxResponseBytes: this.#options.maxResponseBytes }, payload);
    return parseGenerateResponse(text, this.#redact());
  }

  /**
   * Refreshes an identity: `POST /v2/token/refresh` with its refresh token, the answer opened
   * with its `refresh_response_key`. Call it once `identity.isDueForRefresh()`, while
   * `identity.isRefreshable()`.
   * @param identity an IdentityTokens, or the string `toJsonString()` made
   * @returns `success` with the new identity (replace the old one), or `optout` (drop it)
   * @throws IdentityTokensError (a string that is not identity JSON), AbortedError,
   *   ServiceTimeoutError, ServiceNetworkError, ServiceHttpError (400 `invalid_token` or
   *   `expired_token`), EnvelopeError, TokenResponseError
   */
  async refreshToken(identity: IdentityTokens | string, options?: PublisherCallOptions): Promise<TokenRefreshResult> {
    const current = typeof identity === 'string' ? IdentityTokens.fromJsonString(identity) : identity;
    if (!(current instanceof IdentityTokens)) throw new InvalidArgumentError('identity must be an IdentityTokens or its JSON string');
    const call = resolvePublisherCallOptions(options, this.#options.timeoutMs);
    const text = await requestTokenRefresh(
      { ...this.#credentials, ...call, maxResponseBytes: this.#options.maxResponseBytes },
      current.refreshToken,
      current.refreshResponseKey,
    );
    return parseRefreshResponse(text, Date.now(), [...this.#redact(), current.refreshToken, current.refreshResponseKey]);
  }

  /** Credentials as given, to keep out of anything the service echoes. */
  #redact(): string[] {
    const { apiKey, secretKey } = this.#credentials;
    return [apiKey, secretKey].filter((s): s is string => !!s).map((s) => s.trim());
  }
}
