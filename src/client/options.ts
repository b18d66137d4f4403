/**
 * Options of the clients (BidstreamClient, SharingClient, DualScopeBidstreamClient), their
 * defaults and their validation. Everything is checked up front (constructor, startAutoRefresh,
 * refresh) so a bad value fails at once with a message naming the option, never later inside a timer.
 */
import type { TokenCacheOptions } from '../cache/options.js';
import { InvalidArgumentError } from '../errors.js';
import { integerOption } from '../util/integer-option.js';
import { MAX_TIMER_MS } from '../util/time.js';
import { resolveLogger, type Logger } from '../observability/logger.js';
import { validateOptOutOption } from '../optout/check.js';
import type { OptOutStore } from '../optout/store.js';
import type { IdentityScope } from '../types.js';

/** Per-client options: the 4th constructor argument of BidstreamClient and SharingClient. */
export interface ClientOptions {
  /** Time allowed for one refresh (connect, answer and body), ms. Default 10 000. */
  timeoutMs?: number;
  /**
   * Largest response body read, bytes; a larger body fails the refresh without reading it all.
   * Default 64 MiB.
   */
  maxResponseBytes?: number;
  /**
   * A pino-compatible logger for refresh outcomes (key and keyset counts, error codes; never
   * credentials or key secrets). Default: silent.
   */
  logger?: Logger;
  /**
   * Opt-outs checked at decrypt time: each result gains `optedOut`, and an opted-out result's
   * `uid` is withheld (unless `returnOptedOutUid`). Statuses are unchanged. Default: none.
   */
  optOut?: OptOutStore | null;
  /** Keep the `uid` of opted-out results, for audits; they still carry `optedOut: true`. Default false. */
  returnOptedOutUid?: boolean;
  /**
   * Caches what decrypting each token found, keyed by the token text, so a repeat token costs
   * a hash lookup instead of two AES decryptions. Every result stays exactly what decrypting
   * afresh would return: each hit re-runs the rules that depend on the call (time, domain or
   * app name, the key set in force). `true` uses the defaults (`DEFAULT_TOKEN_CACHE_OPTIONS`:
   * 100,000 entries, 64 MiB). Default `false`. docs/token-cache.md.
   */
  tokenCache?: TokenCacheOptions | boolean;
}

/** Client options after validation: every default filled in, the logger bound to the client. */
export type ResolvedClientOptions = Required<Omit<ClientOptions, 'logger' | 'optOut' | 'tokenCache'>> & { logger: Logger; optOut: OptOutStore | null };

export const DEFAULT_CLIENT_OPTIONS: Readonly<Required<Omit<ClientOptions, 'logger' | 'tokenCache'>>> = Object.freeze({
  timeoutMs: 10_000,
  maxResponseBytes: 64 * 1024 * 1024,
  optOut: null,
  returnOptedOutUid: false,
});

/** Options of one `refresh()` call. */
export interface RefreshOptions {
  /** Aborts the refresh; it then resolves with an `AbortedError` (`UID2_ERR_ABORTED`). */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** Options of `startAutoRefresh()`. */
export interface AutoRefreshOptions {
  /** Time between successful refreshes, ms. Default 3 600 000 (one hour). */
  intervalMs?: number;
  /** Time before retrying a failed refresh, ms. Default 30 000. */
  retryIntervalMs?: number;
  /**
   * Each delay is scaled by a random factor in [1 - jitter, 1 + jitter], so that a fleet of
   * clients started together does not call the service in lockstep. From 0 (none) to below 1.
   * Default 0.1.
   */
  jitter?: number;
}

export const DEFAULT_AUTO_REFRESH_OPTIONS: Readonly<Required<AutoRefreshOptions>> = Object.freeze({
  intervalMs: 3_600_000,
  retryIntervalMs: 30_000,
  jitter: 0.1,
});

function checkObject(options: unknown, name: string): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError(`${name} must be an object`);
  return options as Record<string, unknown>;
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolveClientOptions(options: unknown): ResolvedClientOptions {
  const o = checkObject(options, 'options');
  const returnOptedOutUid = o['returnOptedOutUid'] ?? DEFAULT_CLIENT_OPTIONS.returnOptedOutUid;
  if (typeof returnOptedOutUid !== 'boolean') throw new InvalidArgumentError('options.returnOptedOutUid must be a boolean');
  return {
    optOut: validateOptOutOption(o['optOut'], 'options.optOut'),
    returnOptedOutUid,
    logger: resolveLogger(o['logger'], 'options.logger', 'uid2-client'),
    timeoutMs: integerOption(o['timeoutMs'], 'options.timeoutMs', DEFAULT_CLIENT_OPTIONS.timeoutMs, MAX_TIMER_MS),
    maxResponseBytes: integerOption(
      o['maxResponseBytes'],
      'options.maxResponseBytes',
      DEFAULT_CLIENT_OPTIONS.maxResponseBytes,
      Number.MAX_SAFE_INTEGER,
    ),
  };
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolveRefreshOptions(options: unknown, client: Pick<ResolvedClientOptions, 'timeoutMs'>): { signal: AbortSignal | undefined; timeoutMs: number } {
  const o = checkObject(options, 'options');
  const signal = o['signal'];
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('options.signal must be an AbortSignal');
  return { signal, timeoutMs: integerOption(o['timeoutMs'], 'options.timeoutMs', client.timeoutMs, MAX_TIMER_MS) };
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolveAutoRefreshOptions(options: unknown): Required<AutoRefreshOptions> {
  const o = checkObject(options, 'options');
  const jitter = o['jitter'] ?? DEFAULT_AUTO_REFRESH_OPTIONS.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    throw new InvalidArgumentError('options.jitter must be a number from 0 up to (not including) 1');
  }
  const d = DEFAULT_AUTO_REFRESH_OPTIONS;
  return {
    intervalMs: integerOption(o['intervalMs'], 'options.intervalMs', d.intervalMs, MAX_TIMER_MS),
    retryIntervalMs: integerOption(o['retryIntervalMs'], 'options.retryIntervalMs', d.retryIntervalMs, MAX_TIMER_MS),
    jitter,
  };
}

/** The service credentials of one identity scope (the UID2 service, or the EUID service). */
export interface ScopeCredentials {
  /** The service base URL, e.g. `https://prod.uidapi.com` or `https://prod.euid.eu`. */
  baseUrl: string;
  /** The api key (bearer token) of this scope's service. */
  apiKey: string;
  /** The client secret of this scope's service, base64 of 32 bytes. */
  secretKey: string;
}

/** DualScopeBidstreamClient's first argument: the scopes it serves, one or both, each with its credentials. */
export type DualScopeCredentials = Partial<Record<IdentityScope, ScopeCredentials>>;

const IDENTITY_SCOPES: readonly IdentityScope[] = ['UID2', 'EUID'];

/**
 * The configured scopes and their credentials, in the order UID2, EUID. Only the shape is checked
 * here; whether a URL or a secret can work is reported by `refresh()`, as for BidstreamClient.
 * @throws InvalidArgumentError naming the first bad entry
 */
export function resolveDualScopeCredentials(value: unknown): [IdentityScope, ScopeCredentials][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('scopes must be an object');
  const given = value as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!(IDENTITY_SCOPES as readonly string[]).includes(name)) throw new InvalidArgumentError(`scopes.${name} is not an identity scope: use UID2 or EUID`);
  }
  const scopes: [IdentityScope, ScopeCredentials][] = [];
  for (const scope of IDENTITY_SCOPES) {
    const entry = given[scope];
    if (entry === undefined) continue;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new InvalidArgumentError(`scopes.${scope} must be an object`);
    const fields = entry as Record<string, unknown>;
    for (const field of ['baseUrl', 'apiKey', 'secretKey'] as const) {
      const text = fields[field];
      if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError(`scopes.${scope}.${field} must be a non-empty string`);
    }
    scopes.push([scope, { baseUrl: fields['baseUrl'] as string, apiKey: fields['apiKey'] as string, secretKey: fields['secretKey'] as string }]);
  }
  if (scopes.length === 0) throw new InvalidArgumentError('scopes must name UID2, EUID or both');
  return scopes;
}
