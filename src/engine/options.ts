/** DecryptionEngine options, their defaults, and validation with messages that name the option. */
import { availableParallelism } from 'node:os';
import type { BidstreamClient } from '../client/bidstream-client.js';
import type { SharingClient } from '../client/sharing-client.js';
import { InvalidArgumentError } from '../errors.js';
import { resolveLogger, type Logger } from '../observability/logger.js';
import { MAX_TIMER_MS } from '../util/time.js';
import type { AutoRefreshOptions, ClientOptions } from '../client/options.js';
import type { ClientType } from '../types.js';
import { resolveTokenCacheOptions, type ResolvedTokenCacheOptions, type TokenCacheOptions } from '../cache/options.js';
import { validateOptOutOption } from '../optout/check.js';
import type { OptOutStore } from '../optout/store.js';
import { integerOption } from '../util/integer-option.js';
import type { DispatchMode } from './dispatch-policy.js';
import { SNAPSHOT_CACHE_SIZE } from './wire/messages.js';

/** Where keys come from: at most one of `keys`, `client` and credentials (baseUrl, apiKey, secretKey). */
export interface KeySourceOptions {
  /** Key JSON (text or parsed): a decrypted key response. */
  keys?: string | object;
  /** An existing client: the engine follows its key refreshes. */
  client?: BidstreamClient | SharingClient;
  /** UID2 (or EUID) service credentials: the engine creates a client, refreshes and auto-refreshes. */
  baseUrl?: string;
  apiKey?: string;
  secretKey?: string;
  /** With credentials: HTTP options of the client the engine creates. */
  clientOptions?: ClientOptions;
  /** With credentials: auto-refresh schedule (default hourly, retry every 30 s). */
  autoRefresh?: AutoRefreshOptions;
  /**
   * With credentials: reject create() when the first refresh fails (default true), so a wrong
   * key or URL is loud. Set false to start anyway: results are NotInitialized until a refresh
   * succeeds.
   */
  requireKeys?: boolean;
}

export interface EngineOptions extends KeySourceOptions {
  /**
   * One engine for UID2 and EUID tokens together (docs/dual-scope.md): each scope's key source
   * (KeySourceOptions; `{}` for keys given later with `setKeys(json, scope)`), instead of the
   * top-level one. Each token is judged by the key set of the scope its header names
   * (`identityScopeOf`; v2 and unreadable tokens by UID2's), so results equal those of a
   * single-scope engine of that scope; each scope refreshes on its own schedule, keeps its own
   * last good keys and answers NotInitialized for its own tokens until it has keys. A scope's
   * credentials must be given in full (no environment defaults), and a key set of the other scope
   * is refused (KeysScopeError).
   */
  scopes?: { UID2?: KeySourceOptions; EUID?: KeySourceOptions };
  /** Decryption rules. Default 'bidstream'. */
  clientType?: ClientType;
  /** Worker threads. Default: available cores - 1, at least 1. 0 decrypts in-process. */
  threads?: number;
  /**
   * Which side decrypts (docs/engine.md "Hybrid dispatch"). `'auto'` (default): each call on the
   * side that costs the main thread less, decrypt() and small batches in process and batches
   * large enough to repay a hand-off in the workers, with the workers also taking whatever would
   * push in-process work past half of the main thread. `'workers'`: always the worker threads.
   * `'in-process'`: always the calling thread, as with `threads: 0` (no worker is started).
   * Results are identical either way.
   */
  dispatch?: DispatchMode;
  /**
   * Most tokens in one batch. Default 1024. Batches are cut while workers are busy, from what has
   * queued (see README "Design"): this only bounds how much one worker takes at once.
   */
  maxBatchSize?: number;
  /**
   * A worker lane whose loop has had nothing to do for this long parks (its thread is released
   * and an idle engine keeps no process alive); the next batch starts it again, which costs that
   * batch a Piscina task start (~0.1-0.3 ms). Default 50 ms.
   */
  idleParkMs?: number;
  /**
   * How long a partial batch may wait for more tokens before an idle worker takes it, in
   * microseconds. Default 0: at once (lowest latency). A window trades latency for main-thread
   * time: each batch costs the main thread a few microseconds of hand-off, so at moderate rates
   * (10,000-50,000 calls/s on one worker) a window of a few hundred µs makes batches several times
   * larger. Timer resolution is 1 ms when no other call arrives to close the window.
   */
  batchWindowUs?: number;
  /**
   * Most tokens queued or in flight; beyond it calls reject at once with UID2_ERR_ENGINE_OVERLOADED.
   * Default 1,048,576 (room for large decryptBatch() calls). A bidder should set it near
   * offered rate x latency budget (e.g. 100k tokens/s x 50 ms = 5,000) so overload fails fast.
   */
  maxQueuedTokens?: number;
  /** Batches in flight per worker (one running, the rest ready), 1-4. Default 2. */
  batchesPerWorker?: number;
  /**
   * A cache of what decryption found, keyed by token text (README "Token cache"): a repeat token
   * is answered on the main thread without a worker, every call-dependent rule re-run against the
   * call's time, domain and the key set in force, so the answer equals a fresh decryption's.
   * Default off: with the native backend a miss's store costs the main thread about as much as the
   * hand-off itself (README "Performance"), so it pays only where tokens repeat (bid traffic with
   * several requests per page view does). `true` for the defaults (100,000 entries, 64 MiB).
   */
  tokenCache?: TokenCacheOptions | boolean;
  /**
   * Opt-outs checked at decrypt time: every result gains `optedOut` (true when its raw UID is in
   * the store), and an opted-out result's `uid` is withheld unless `returnOptedOutUid`. Statuses
   * are unchanged. Checked on the main thread against the store's in-memory set, so an opt-out
   * recorded after a token was decrypted (or cached) applies from the next call. Default: none.
   */
  optOut?: OptOutStore | null;
  /** With `optOut`: keep the `uid` of opted-out results (audits only). Default false. */
  returnOptedOutUid?: boolean;
  /**
   * A pino-compatible logger (`info`, `warn`, `error`, `debug`, optional `child`) for worker
   * failures and batch re-runs; with credentials, also the created client's refresh outcomes
   * (unless `clientOptions.logger` is given). Never receives tokens, raw UIDs or secrets.
   * Default: silent.
   */
  logger?: Logger;
}

export interface ResolvedEngineOptions {
  clientType: ClientType;
  /** options.scopes, checked (both scopes present), or null for a single-scope engine. */
  scopes: { UID2: KeySourceOptions; EUID: KeySourceOptions } | null;
  threads: number;
  dispatch: DispatchMode;
  maxBatchSize: number;
  idleParkMs: number;
  batchWindowUs: number;
  maxQueuedTokens: number;
  batchesPerWorker: number;
  logger: Logger;
  optOut: OptOutStore | null;
  returnOptedOutUid: boolean;
  tokenCache: ResolvedTokenCacheOptions | undefined;
}

export const DEFAULT_ENGINE_OPTIONS: Readonly<Omit<ResolvedEngineOptions, 'threads' | 'logger' | 'optOut' | 'tokenCache' | 'scopes'>> = Object.freeze({
  clientType: 'bidstream',
  dispatch: 'auto',
  maxBatchSize: 1024,
  idleParkMs: 50,
  batchWindowUs: 0,
  maxQueuedTokens: 1_048_576,
  batchesPerWorker: 2,
  returnOptedOutUid: false,
});

/** A batch slot's record table is sized per token; larger batches only add latency. */
const MAX_BATCH_SIZE = 65_536;
/** More threads than this is a configuration mistake, not a machine. */
const MAX_THREADS = 1024;

function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** True when the options name service credentials (any of baseUrl, apiKey, secretKey). */
export function usesCredentials(options: KeySourceOptions): boolean {
  return options.baseUrl !== undefined || options.apiKey !== undefined || options.secretKey !== undefined;
}

const SOURCE_FIELDS = ['keys', 'client', 'baseUrl', 'apiKey', 'secretKey', 'clientOptions', 'autoRefresh', 'requireKeys'] as const;

function checkSource(source: KeySourceOptions, name: string): void {
  const sources = [source.keys !== undefined, source.client !== undefined, usesCredentials(source)].filter(Boolean);
  if (sources.length > 1) {
    throw new InvalidArgumentError(`${name}keys, ${name}client and credentials (baseUrl, apiKey, secretKey) are alternatives: give at most one`);
  }
}

function resolveScopes(options: EngineOptions): ResolvedEngineOptions['scopes'] {
  const scopes = options.scopes;
  if (scopes === undefined) return null;
  if (typeof scopes !== 'object' || scopes === null || Array.isArray(scopes)) throw new InvalidArgumentError('options.scopes must be an object with UID2 and/or EUID');
  const stray = Object.keys(scopes).find((k) => k !== 'UID2' && k !== 'EUID');
  if (stray !== undefined) throw new InvalidArgumentError(`options.scopes has "${stray.slice(0, 20)}": only UID2 and EUID are scopes`);
  const top = SOURCE_FIELDS.find((k) => options[k] !== undefined);
  if (top !== undefined) throw new InvalidArgumentError(`options.${top} cannot be combined with options.scopes: give each scope its own key source`);
  const resolved = { UID2: scopes.UID2 ?? {}, EUID: scopes.EUID ?? {} };
  for (const scope of ['UID2', 'EUID'] as const) {
    const source = resolved[scope];
    const name = `options.scopes.${scope}`;
    if (typeof source !== 'object' || source === null) throw new InvalidArgumentError(`${name} must be an object`);
    checkSource(source, `${name}.`);
    // Environment defaults (UID2_BASE_URL, ...) belong to one service: a scope names its own.
    if (usesCredentials(source) && (source.baseUrl === undefined || source.apiKey === undefined || source.secretKey === undefined)) {
      throw new InvalidArgumentError(`${name} needs baseUrl, apiKey and secretKey together (no environment defaults in options.scopes)`);
    }
  }
  return resolved;
}

export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const clientType = options.clientType ?? DEFAULT_ENGINE_OPTIONS.clientType;
  if (clientType !== 'bidstream' && clientType !== 'sharing' && clientType !== 'legacy') {
    throw new InvalidArgumentError('options.clientType must be "bidstream", "sharing" or "legacy"');
  }
  checkSource(options, 'options.');
  const resolved: ResolvedEngineOptions = {
    clientType,
    scopes: resolveScopes(options),
    threads: integerOption(options.threads, 'options.threads', defaultThreads(), MAX_THREADS, 0),
    dispatch: options.dispatch ?? DEFAULT_ENGINE_OPTIONS.dispatch,
    maxBatchSize: integerOption(options.maxBatchSize, 'options.maxBatchSize', DEFAULT_ENGINE_OPTIONS.maxBatchSize, MAX_BATCH_SIZE),
    idleParkMs: integerOption(options.idleParkMs, 'options.idleParkMs', DEFAULT_ENGINE_OPTIONS.idleParkMs, MAX_TIMER_MS),
    batchWindowUs: integerOption(options.batchWindowUs, 'options.batchWindowUs', DEFAULT_ENGINE_OPTIONS.batchWindowUs, 1_000_000, 0),
    maxQueuedTokens: integerOption(options.maxQueuedTokens, 'options.maxQueuedTokens', DEFAULT_ENGINE_OPTIONS.maxQueuedTokens),
    batchesPerWorker: integerOption(options.batchesPerWorker, 'options.batchesPerWorker', DEFAULT_ENGINE_OPTIONS.batchesPerWorker, SNAPSHOT_CACHE_SIZE),
    logger: resolveLogger(options.logger, 'options.logger', 'uid2-engine'),
    optOut: validateOptOutOption(options.optOut, 'options.optOut'),
    returnOptedOutUid: options.returnOptedOutUid ?? DEFAULT_ENGINE_OPTIONS.returnOptedOutUid,
    tokenCache: resolveTokenCacheOptions(options.tokenCache),
  };
  if (typeof resolved.returnOptedOutUid !== 'boolean') throw new InvalidArgumentError('options.returnOptedOutUid must be a boolean');
  if (resolved.dispatch !== 'auto' && resolved.dispatch !== 'workers' && resolved.dispatch !== 'in-process') {
    throw new InvalidArgumentError('options.dispatch must be "auto", "workers" or "in-process"');
  }
  if (resolved.dispatch === 'workers' && resolved.threads === 0) throw new InvalidArgumentError('options.dispatch "workers" needs options.threads >= 1');
  return resolved;
}
