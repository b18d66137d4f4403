/**
 * What BidstreamClient and SharingClient share: credentials, the key set in force and its
 * atomic replacement, refresh from the UID2 service, the auto-refresh loop, and the in-process
 * decryptor (in-process/decryptor.ts: the crypto backend resolved once at construction, the
 * optional token cache and opt-out check). A key set is swapped only for a complete, valid one;
 * a failure keeps the previous keys.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { TokenCacheStats } from '../cache/token-cache.js';
import { AbortedError, InternalError, Uid2Error } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import type { InProcessDecryptor } from '../in-process/decryptor.js';
import type { CryptoBackend } from '../native/backend.js';
import { refreshChannel, type RefreshChannelMessage } from '../observability/channels.js';
import { AutoRefresher, type RefreshResult } from './auto-refresh.js';
import { clientDecryptor } from './client-decryptor.js';
import { checkCredentials, requestKeySet, type KeyEndpoint } from '../service/key-request.js';
import { requestOptOutStatus, type OptOutStatusResult } from '../service/optout-status-request.js';
import {
  resolveAutoRefreshOptions,
  resolveClientOptions,
  resolveRefreshOptions,
  type AutoRefreshOptions,
  type ClientOptions,
  type RefreshOptions,
  type ResolvedClientOptions,
} from './options.js';
import { resolveCredentials } from '../service/credentials.js';
import type { ClientType, DecryptionResult } from '../types.js';

/**
 * Events:
 * - `keys` (keySet: KeySet) whenever a new key set takes effect (refresh or refreshJson);
 * - `refresh` (keySet: KeySet) after each successful service refresh (manual or automatic);
 * - `refreshError` (error: Uid2Error) after each failed service refresh. Aborted refreshes
 *   (the caller's signal, stopAutoRefresh, close) are the caller's own doing and emit nothing.
 *
 * A listener that throws never undoes or masks what happened: the new keys are in force and the
 * refresh reports its own outcome. The listener's error goes to the logger, and to `error`
 * listeners when there are any (an unheard `error` event would crash the process).
 */
export abstract class ClientBase extends EventEmitter {
  /** The UID2 service base URL, e.g. `https://prod.uidapi.com` (default `UID2_BASE_URL`). */
  readonly baseUrl: string | undefined;
  // Credentials live in private fields so they never appear in logs, inspect or JSON.
  readonly #apiKey: string | undefined;
  readonly #secretKey: string | undefined;
  readonly #options: ResolvedClientOptions;
  #keySet: KeySet | undefined;
  #lastSuccessAt: Date | undefined;
  #lastError: Uid2Error | undefined;
  // Refreshes may overlap (a manual one during an automatic one); only a response newer than
  // the one in force may replace it, so a slow old answer cannot undo a fresh one.
  #refreshesStarted = 0;
  #newestApplied = 0;
  #autoRefresher: AutoRefresher | undefined;
  /** Body size of the last successful service answer: a large key set refreshes off the main thread. */
  #lastResponseBytes = 0;
  readonly #closed = new AbortController();
  readonly #decryptor: InProcessDecryptor;

  /** The key endpoint this client calls. */
  protected abstract readonly endpoint: KeyEndpoint;

  /**
   * @param baseUrl the UID2 service, e.g. `https://prod.uidapi.com`; default `UID2_BASE_URL`
   * @param apiKey the api key (bearer token); default `UID2_API_KEY`
   * @param secretKey the client secret, base64 of 32 bytes; default `UID2_SECRET_KEY`
   * @param options timeouts and limits, see ClientOptions
   * @throws InvalidArgumentError for a bad option. Missing or malformed credentials are reported
   *   by `refresh()`, so a client fed by `refreshJson()` alone needs none.
   * @throws NativeUnavailableError when `UID2_ENGINE_BACKEND=native` but the addon does not load;
   *   ConfigError when that variable holds anything but `native` or `node-crypto`
   */
  constructor(baseUrl?: string, apiKey?: string, secretKey?: string, options?: ClientOptions) {
    super();
    this.#options = resolveClientOptions(options);
    const credentials = resolveCredentials(baseUrl, apiKey, secretKey);
    this.baseUrl = credentials.baseUrl;
    this.#apiKey = credentials.apiKey;
    this.#secretKey = credentials.secretKey;
    this.#decryptor = clientDecryptor((options as ClientOptions | undefined)?.tokenCache, this.#options);
  }

  /**
   * The crypto backend of `decryptTokenIntoRawUid()`: `native` (the C++ addon) when it loads,
   * else `node-crypto`; `UID2_ENGINE_BACKEND` forces one. Both give identical results.
   */
  get backend(): CryptoBackend {
    return this.#decryptor.backend;
  }

  /** The key set in force, or `undefined` before the first successful refresh. */
  get keySet(): KeySet | undefined {
    return this.#keySet;
  }

  /** When the last successful service refresh completed. */
  get lastSuccessAt(): Date | undefined {
    return this.#lastSuccessAt;
  }

  /** The error of the last service refresh, or `undefined` if it succeeded (or none ran yet). */
  get lastError(): Uid2Error | undefined {
    return this.#lastError;
  }

  /** True between `startAutoRefresh()` and `stopAutoRefresh()` / `close()`. */
  get autoRefreshing(): boolean {
    return this.#autoRefresher !== undefined;
  }

  /** Counters of the token cache (`options.tokenCache`), or `undefined` when it is off. */
  tokenCacheStats(): TokenCacheStats | undefined {
    return this.#decryptor.cache?.stats();
  }

  /**
   * Decrypts under `clientType`'s rules with the key set in force, through the token cache when
   * on, with the opt-out check when configured.
   */
  protected decrypt(token: string, clientType: ClientType, domainOrAppName: string | null | undefined, nowMs: number): DecryptionResult {
    return this.#decryptor.decrypt(token, this.#keySet, clientType, domainOrAppName, nowMs);
  }

  /** What `console.log(client)` shows, in every inspect mode: state, never credentials. */
  [inspect.custom](): string {
    return `${this.constructor.name} ${JSON.stringify({
      keySet: this.keySet?.toJSON() ?? null,
      autoRefreshing: this.autoRefreshing,
      lastSuccessAt: this.lastSuccessAt?.toISOString() ?? null,
      lastErrorCode: this.lastError?.code ?? null,
    })}`;
  }

  /**
   * Loads keys from an already-decrypted key response (text or parsed JSON). On any problem the
   * previous keys stay in force and the error is returned, not thrown. Synchronous: the response
   * is parsed on the calling thread (about 1-2 ms per 1,000 keys), unlike a large `refresh()`.
   */
  refreshJson(json: string | Uint8Array | object): RefreshResult {
    try {
      this.setKeySet(parseKeys(json));
      return { success: true };
    } catch (err) {
      return { success: false, error: err instanceof Uid2Error ? err : new Uid2Error('UID2_ERR_KEYS_JSON', String(err)) };
    }
  }

  /**
   * Fetches keys from the UID2 service (`/v2/key/bidstream` or `/v2/key/sharing`) and puts them
   * in force. Resolves, never rejects, for every service failure; on failure the previous keys
   * stay in force and `error` says why (`UID2_ERR_SERVICE_*`, `UID2_ERR_ENVELOPE`, ...). Once a
   * client has seen a large key set (a 32 KiB answer, about 160 keys), its refreshes run on a
   * shared worker thread, so that they never block the event loop; `UID2_ERR_WORKER_FAILED` then
   * says that worker died during the refresh.
   * @throws InvalidArgumentError (as a rejection) for bad options only
   */
  async refresh(options?: RefreshOptions): Promise<RefreshResult> {
    const { signal, timeoutMs } = resolveRefreshOptions(options, this.#options);
    return this.#refresh(signal ? [signal] : [], timeoutMs);
  }

  /**
   * Refreshes now, then every `intervalMs` (± jitter) after a success and every
   * `retryIntervalMs` after a failure, until `stopAutoRefresh()` or `close()`. Calling it again
   * restarts the loop with the new options. Outcomes are reported by the `refresh` and
   * `refreshError` events and by `lastSuccessAt` / `lastError`.
   * @returns the outcome of the first refresh
   * @throws InvalidArgumentError for a bad option; ConfigError or SecretKeyError when the
   *   credentials cannot work, since retrying them forever would only hide the mistake
   */
  startAutoRefresh(options?: AutoRefreshOptions): Promise<RefreshResult> {
    const settings = resolveAutoRefreshOptions(options);
    if (this.#closed.signal.aborted) return Promise.resolve({ success: false, error: new AbortedError('the client is closed') });
    checkCredentials({ baseUrl: this.baseUrl, apiKey: this.#apiKey, secretKey: this.#secretKey }, this.endpoint);
    this.stopAutoRefresh();
    const refresher = new AutoRefresher((signal) => this.#refresh([signal], this.#options.timeoutMs), settings);
    this.#autoRefresher = refresher;
    return refresher.start();
  }

  /** Stops auto-refresh: clears its timer and aborts its refresh in flight. Idempotent. */
  stopAutoRefresh(): void {
    this.#autoRefresher?.stop();
    this.#autoRefresher = undefined;
  }

  /**
   * Asks the UID2 service which of `rawUids` opted out (`POST /v2/optout/status`, the key
   * endpoints' envelope and credentials), for a backfill of an opt-out store. Sent 5,000 raw
   * UIDs a request, one request after another; `timeoutMs` applies to each request.
   * @returns `optedOut`: the opted-out ones only, with their opt-out time (Unix ms);
   *   `skipped`: entries of the answers that were unusable (a time out of range, a raw UID not
   *   asked about, ...), each with its reason, left out of `optedOut`
   * @throws (as a rejection) InvalidArgumentError for a malformed raw UID or option (nothing is
   *   sent), ConfigError, SecretKeyError, AbortedError (the signal, or `close()`),
   *   ServiceTimeoutError, ServiceNetworkError, ServiceHttpError, EnvelopeError,
   *   NonceMismatchError, ResponseTimestampError, OptOutResponseError (an answer that is not
   *   the documented shape)
   */
  async optOutStatus(rawUids: readonly string[], options?: RefreshOptions): Promise<OptOutStatusResult> {
    const { signal, timeoutMs } = resolveRefreshOptions(options, this.#options);
    return requestOptOutStatus({
      baseUrl: this.baseUrl,
      apiKey: this.#apiKey,
      secretKey: this.#secretKey,
      rawUids,
      timeoutMs,
      maxResponseBytes: this.#options.maxResponseBytes,
      signals: signal ? [signal, this.#closed.signal] : [this.#closed.signal],
    });
  }

  /**
   * Stops auto-refresh and aborts every refresh in flight; later refreshes resolve with an
   * AbortedError. The keys in force stay usable for decryption and encryption. Idempotent.
   */
  close(): void {
    this.stopAutoRefresh();
    this.#closed.abort(new AbortedError('the client is closed'));
  }

  /** Replaces the key set in force (one reference swap: readers see the old or the new set). */
  protected setKeySet(keySet: KeySet): void {
    this.#keySet = keySet;
    this.#notify('keys', keySet);
  }

  /** Calls each listener of `event` in turn; one that throws is reported and the rest still run. */
  #notify(event: 'keys' | 'refresh' | 'refreshError', arg: unknown): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (value: unknown) => void).call(this, arg);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        // Only the error's class: a listener's message is the caller's text and may carry anything.
        this.#options.logger.error(
          { event: 'uid2.listener-error', listenerOf: event, err: error.name },
          `a '${event}' listener threw; the client's state is unaffected`,
        );
        if (this.listenerCount('error') > 0) this.emit('error', error);
      }
    }
  }

  async #refresh(signals: AbortSignal[], timeoutMs: number): Promise<RefreshResult> {
    const order = ++this.#refreshesStarted;
    let keySet: KeySet;
    try {
      ({ keySet, responseBytes: this.#lastResponseBytes } = await requestKeySet({
        baseUrl: this.baseUrl,
        apiKey: this.#apiKey,
        secretKey: this.#secretKey,
        endpoint: this.endpoint,
        timeoutMs,
        maxResponseBytes: this.#options.maxResponseBytes,
        signals: [...signals, this.#closed.signal],
        previousResponseBytes: this.#lastResponseBytes,
      }));
    } catch (err) {
      const error = err instanceof Uid2Error ? err : new InternalError('unexpected refresh failure', { cause: err });
      if (!(error instanceof AbortedError)) {
        this.#lastError = error;
        // Messages of service errors are built from fixed text and status codes only (see
        // errors.ts), so they are safe to log; the cause chain is not logged.
        this.#options.logger.warn(
          { event: 'uid2.refresh', success: false, endpoint: this.endpoint, code: error.code, err: error.message },
          'UID2 key refresh failed; the previous keys stay in force',
        );
        if (refreshChannel.hasSubscribers) {
          refreshChannel.publish({ success: false, endpoint: this.endpoint, code: error.code } satisfies RefreshChannelMessage);
        }
        this.#notify('refreshError', error);
      } else {
        this.#options.logger.debug({ event: 'uid2.refresh', success: false, endpoint: this.endpoint, code: error.code }, 'UID2 key refresh aborted');
      }
      return { success: false, error };
    }
    if (order > this.#newestApplied) {
      this.#newestApplied = order;
      this.setKeySet(keySet);
    }
    this.#lastSuccessAt = new Date();
    this.#lastError = undefined;
    this.#options.logger.info(
      { event: 'uid2.refresh', success: true, endpoint: this.endpoint, keys: keySet.size, keysets: keySet.keysetIds().length },
      'UID2 key refresh succeeded',
    );
    if (refreshChannel.hasSubscribers) {
      refreshChannel.publish({ success: true, endpoint: this.endpoint, keys: keySet.size } satisfies RefreshChannelMessage);
    }
    this.#notify('refresh', keySet);
    return { success: true };
  }
}
