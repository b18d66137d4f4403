/**
 * One bidstream client for UID2 and EUID tokens together, for bidders that receive both in one
 * bid stream with separate credentials for the two services. Each token goes to the key set of
 * its identity scope (token/scope.ts identityScopeOf: EUID when its header says EUID, else UID2),
 * so nobody has to route tokens by hand or see a token answer InvalidIdentityScope because it
 * went to the other service's keys.
 *
 *   UID2 BidstreamClient --keys--\
 *                                  +--> one InProcessDecryptor (backend, token cache, opt-out check)
 *   EUID BidstreamClient --keys--/          decrypt(token, keys of the token's scope, ...)
 *
 * Each scope's BidstreamClient only keeps its keys fresh (refresh, auto-refresh, events, last
 * good keys on failure); they never share state, so one scope's failure cannot touch the other.
 * Decryption goes through one decryptor with the scope's key set passed per call: one cache,
 * one opt-out check, and every result exactly what a BidstreamClient of the token's scope returns.
 */
import { inspect } from 'node:util';
import type { TokenCacheStats } from '../cache/token-cache.js';
import type { InProcessDecryptor } from '../in-process/decryptor.js';
import type { CryptoBackend } from '../native/backend.js';
import { bindLogger } from '../observability/logger.js';
import { identityScopeOf } from '../token/scope.js';
import type { DecryptionResult, IdentityScope, TimeInput } from '../types.js';
import { toUnixMs } from '../util/time.js';
import type { RefreshResult } from './auto-refresh.js';
import { BidstreamClient } from './bidstream-client.js';
import { clientDecryptor } from './client-decryptor.js';
import {
  resolveAutoRefreshOptions,
  resolveClientOptions,
  resolveDualScopeCredentials,
  resolveRefreshOptions,
  type AutoRefreshOptions,
  type ClientOptions,
  type DualScopeCredentials,
  type RefreshOptions,
  type ResolvedClientOptions,
} from './options.js';

/** The outcome of a refresh per configured scope: each its own, never thrown. */
export type ScopeRefreshResults = Partial<Record<IdentityScope, RefreshResult>>;

export class DualScopeBidstreamClient {
  /**
   * The key feed of each configured scope: its `keySet`, `lastSuccessAt`, `lastError`, `refreshJson()`,
   * `optOutStatus()` and events (`keys`, `refresh`, `refreshError`). Their own
   * `decryptTokenIntoRawUid()` also works (with the opt-out check) but bypasses the shared token
   * cache and the routing; decrypt with this client's method instead.
   */
  readonly clients: Readonly<Partial<Record<IdentityScope, BidstreamClient>>>;
  /** The configured scopes, UID2 first. */
  readonly scopes: readonly IdentityScope[];
  readonly #uid2: BidstreamClient | undefined;
  readonly #euid: BidstreamClient | undefined;
  readonly #options: ResolvedClientOptions;
  readonly #decryptor: InProcessDecryptor;

  /**
   * @param scopes one entry per scope served, each with all three credentials of its service
   *   (`{ UID2: { baseUrl, apiKey, secretKey }, EUID: { ... } }`). Nothing is read from the
   *   environment: the `UID2_*` variables name one service, and filling the other scope from them
   *   would send one service's credentials to the other.
   * @param options shared by both scopes: `timeoutMs`, `maxResponseBytes` and `logger` for each
   *   scope's refreshes (log lines carry `identityScope`); `tokenCache`, `optOut` and
   *   `returnOptedOutUid` for the one decryptor both scopes' tokens go through
   * @throws InvalidArgumentError for a bad scope entry or option (`scopes.EUID.apiKey must be a
   *   non-empty string`, ...); NativeUnavailableError or ConfigError from `UID2_ENGINE_BACKEND`
   */
  constructor(scopes: DualScopeCredentials, options?: ClientOptions) {
    const configured = resolveDualScopeCredentials(scopes);
    this.#options = resolveClientOptions(options);
    this.#decryptor = clientDecryptor(options?.tokenCache, this.#options);
    const clients: Partial<Record<IdentityScope, BidstreamClient>> = {};
    for (const [scope, { baseUrl, apiKey, secretKey }] of configured) {
      // No tokenCache: the shared decryptor holds the one cache. The opt-out store is passed on
      // (the same object, nothing copied) so a scope client's own decrypt is never unchecked.
      clients[scope] = new BidstreamClient(baseUrl, apiKey, secretKey, {
        timeoutMs: this.#options.timeoutMs,
        maxResponseBytes: this.#options.maxResponseBytes,
        logger: options?.logger ? bindLogger(options.logger, { identityScope: scope }) : undefined,
        optOut: this.#options.optOut,
        returnOptedOutUid: this.#options.returnOptedOutUid,
      });
    }
    this.clients = Object.freeze(clients);
    this.scopes = Object.freeze(configured.map(([scope]) => scope));
    this.#uid2 = clients.UID2;
    this.#euid = clients.EUID;
  }

  /** The crypto backend of `decryptTokenIntoRawUid()`, as BidstreamClient's `backend`. */
  get backend(): CryptoBackend {
    return this.#decryptor.backend;
  }

  /** Counters of the one token cache both scopes share (`options.tokenCache`), or `undefined` when it is off. */
  tokenCacheStats(): TokenCacheStats | undefined {
    return this.#decryptor.cache?.stats();
  }

  /**
   * Decrypts an advertising token of either scope with the key set of its scope. Never throws for
   * any token: problems are statuses. A token of a scope that is not configured, or whose keys
   * have not loaded yet, answers NotInitialized; the other scope's tokens are unaffected.
   * @param domainOrAppName the site domain or app id the token arrived with; required for
   *   client-side generated tokens to succeed
   * @param now decryption time (Date or Unix ms); default the current time
   * @throws InvalidArgumentError for an invalid `now` only
   */
  decryptTokenIntoRawUid(token: string, domainOrAppName?: string | null, now?: TimeInput): DecryptionResult {
    const nowMs = toUnixMs(now);
    const feed = identityScopeOf(token) === 'EUID' ? this.#euid : this.#uid2;
    return this.#decryptor.decrypt(token, feed?.keySet, 'bidstream', domainOrAppName, nowMs);
  }

  /**
   * Refreshes every configured scope at once. Each scope reports its own outcome; a failure keeps
   * that scope's previous keys and never touches the other's.
   * @throws InvalidArgumentError (as a rejection) for bad options only, before any request
   */
  async refresh(options?: RefreshOptions): Promise<ScopeRefreshResults> {
    resolveRefreshOptions(options, this.#options);
    return this.#collect(this.scopes.map((scope) => this.clients[scope]!.refresh(options)));
  }

  /**
   * Starts each configured scope's auto-refresh loop (see BidstreamClient.startAutoRefresh); the
   * loops run independently, so a failing scope retries on its own schedule.
   * @returns the outcome of each scope's first refresh
   * @throws InvalidArgumentError for a bad option; ConfigError or SecretKeyError when a scope's
   *   credentials cannot work. Then no loop is left running.
   */
  startAutoRefresh(options?: AutoRefreshOptions): Promise<ScopeRefreshResults> {
    resolveAutoRefreshOptions(options);
    const started: Promise<RefreshResult>[] = [];
    try {
      for (const scope of this.scopes) started.push(this.clients[scope]!.startAutoRefresh(options));
    } catch (err) {
      this.stopAutoRefresh();
      throw err;
    }
    return this.#collect(started);
  }

  /** Stops every scope's auto-refresh. Idempotent. */
  stopAutoRefresh(): void {
    for (const scope of this.scopes) this.clients[scope]!.stopAutoRefresh();
  }

  /** Closes every scope's client (see BidstreamClient.close); the keys in force stay usable. Idempotent. */
  close(): void {
    for (const scope of this.scopes) this.clients[scope]!.close();
  }

  /** What `console.log(client)` shows: each scope client's own view (state, never credentials). */
  [inspect.custom](): string {
    return `DualScopeBidstreamClient { ${this.scopes.map((scope) => `${scope}: ${inspect(this.clients[scope])}`).join(', ')} }`;
  }

  async #collect(pending: Promise<RefreshResult>[]): Promise<ScopeRefreshResults> {
    const outcomes = await Promise.all(pending);
    const results: ScopeRefreshResults = {};
    this.scopes.forEach((scope, i) => (results[scope] = outcomes[i]));
    return results;
  }
}
