/**
 * DecryptionEngine: the facade. It validates calls, admits them against maxQueuedTokens, queues
 * them (pool/batcher.ts), and lets the dispatcher hand batches to worker lanes; it turns finished
 * batches' records into results. With `threads: 0` it decrypts in-process instead.
 *
 *   keys (JSON | client refresh | service) -> key-feed.ts -> snapshot SAB (version n)
 *   decrypt()/decryptBatch() -> pool/batcher.ts -> pool/dispatcher.ts -> wire/mailbox.ts
 *     -> worker/entry.ts -> worker/{native,node-crypto}.ts -> wire/slot.ts records -> results
 */
import { SharingClient } from '../client/sharing-client.js';
import { EngineClosedError, EngineOverloadedError, InvalidArgumentError, WorkerFailedError } from '../errors.js';
import { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { batchChannel, type BatchChannelMessage } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import { registerEngineMetrics, type EngineMetricsOptions, type MetricsRegistry } from '../observability/metrics.js';
import { decryptBidRequests, type BidRequestResult, type DecryptBidRequestsOptions } from '../openrtb/decrypt-bid-requests.js';
import { cachedDecryptToken, type FindingDecryptor } from '../cache/cached-decrypt.js';
import { TokenCache } from '../cache/token-cache.js';
import { applyOptOut } from '../optout/optout-check.js';
import { registerTokenCacheMetrics } from '../observability/token-cache-metrics.js';
import { decryptToken } from '../token/decrypt.js';
import { type DecryptionResult, DecryptionStatus, type TimeInput } from '../types.js';
import { toUnixMs } from '../util/time.js';
import { type CryptoBackend, resolveBackend } from '../native/backend.js';
import { inProcessDecryptor, inProcessFinder } from '../native/inline-decrypt.js';
import type { TokenDecryptor } from '../token/decrypt.js';
import { Batcher } from './pool/batcher.js';
import { ManyCall, SingleCall } from './pool/calls.js';
import { Dispatcher, type Batch } from './pool/dispatcher.js';
import { KeyFeed } from './key-feed.js';
import { type EngineOptions, type ResolvedEngineOptions, resolveEngineOptions, usesCredentials } from './options.js';
import {
  CODE_BY_STATUS,
  RECORD_BYTES,
  REC_F64_ESTABLISHED,
  REC_F64_EXPIRY,
  REC_F64_GENERATED,
  REC_I32_MASTER_KEY_ID,
  REC_I32_SITE_KEY_ID,
  readResult,
  type Slot,
} from './wire/slot.js';
import { EngineCounters, type EngineStats } from './stats.js';
import type { BulkHost, BulkSummary } from './bulk/coordinator.js';
import { decryptFile, decryptStream, type BulkInput, type BulkOutput, type BulkReadable } from './bulk/decrypt-bulk.js';
import { inProcessChunkRunner, inProcessSnapshots } from './bulk/in-process.js';
import type { BulkOptions } from './bulk/options.js';
import { workerScript } from '../util/worker-script.js';
import { registerTestHooks, type EngineTestHooks } from './test-hooks.js';

export interface DecryptBatchOptions {
  /** Domain or app name per token (same length as the tokens), for client-side generated tokens. */
  domains?: readonly (string | null | undefined)[];
  /** Decryption time for the whole batch; default the time of the call. */
  now?: TimeInput;
}

export class DecryptionEngine {
  readonly #options: ResolvedEngineOptions;
  readonly #backend: CryptoBackend;
  /** threads: 0 only: the in-process decrypt function of the backend (as in the clients). */
  readonly #decryptInProcess: TokenDecryptor;
  readonly #keys: KeyFeed;
  readonly #batcher = new Batcher();
  readonly #dispatcher: Dispatcher | null;
  readonly #counters = new EngineCounters();
  readonly #log: Logger;
  #pumpScheduled = false;
  #closed = false;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;
  #hooks: EngineTestHooks | null = null;
  /** Bulk runs in progress: close() lets them finish. */
  readonly #bulkRuns = new Set<Promise<unknown>>();
  #bulkHostMade: BulkHost | null = null;
  readonly #cache: TokenCache | undefined;
  readonly #find: FindingDecryptor | undefined;
  readonly #runPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  private constructor(options: ResolvedEngineOptions, backend: CryptoBackend, keys: KeyFeed) {
    this.#options = options;
    this.#keys = keys;
    this.#log = options.logger;
    this.#backend = backend;
    this.#decryptInProcess = inProcessDecryptor(options.threads === 0 ? backend : 'node-crypto');
    this.#cache = options.tokenCache ? new TokenCache(options.tokenCache) : undefined;
    this.#find = this.#cache && options.threads === 0 ? inProcessFinder(backend) : undefined;
    this.#dispatcher =
      options.threads === 0
        ? null
        : new Dispatcher(
            {
              threads: options.threads,
              maxBatchSize: options.maxBatchSize,
              batchesPerWorker: options.batchesPerWorker,
              idleParkMs: options.idleParkMs,
              batchWindowUs: options.batchWindowUs,
              clientType: options.clientType,
              backend,
            },
            {
              batcher: this.#batcher,
              snapshot: () => this.#keys.snapshot,
              complete: (batch) => this.#complete(batch),
              decryptOversized: (call, index) => {
                const result = decryptToken(call.token(index), this.#keys.keySet, options.clientType, call.domain(index), call.nowMs);
                call.settle(index, this.#counted(result));
              },
              failed: (batch, err, retried) => this.#failed(batch, err, retried),
            },
          );
    registerTestHooks(this, (hooks) => {
      this.#hooks = hooks;
      this.#dispatcher?.setHooks(hooks);
    });
  }

  /**
   * Creates an engine. Keys come from `keys` (JSON), `client` (its refreshes are followed), or
   * service credentials (the engine refreshes and auto-refreshes). Without any, every result is
   * `NotInitialized` until `setKeys()`.
   */
  static async create(options: EngineOptions = {}): Promise<DecryptionEngine> {
    const resolved = resolveEngineOptions(options);
    if (options.clientType === undefined && options.client instanceof SharingClient) {
      resolved.clientType = 'sharing';
    }
    // Decided once here: every batch then names it, and a forced but missing native addon
    // (UID2_ENGINE_BACKEND=native) fails creation instead of a later batch.
    const backend = resolveBackend();
    const keys = new KeyFeed(resolved.threads > 0);
    if (usesCredentials(options)) {
      // The first refresh comes before any worker starts: wrong credentials fail create() without
      // a thread ever being spawned (and torn down while still loading).
      const first = await keys.startClient(resolved.clientType, {
        baseUrl: options.baseUrl,
        apiKey: options.apiKey,
        secretKey: options.secretKey,
        clientOptions: options.clientOptions,
        autoRefresh: options.autoRefresh,
        logger: options.logger,
      });
      if (!first.success && options.requireKeys !== false) {
        keys.close();
        throw first.error;
      }
    }
    let engine: DecryptionEngine;
    try {
      engine = new DecryptionEngine(resolved, backend, keys);
    } catch (err) {
      keys.close();
      throw err;
    }
    try {
      if (options.keys !== undefined) engine.setKeys(options.keys);
      if (options.client) keys.follow(options.client, false);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** The key set in force, if any. */
  get keySet(): KeySet | undefined {
    return this.#keys.keySet;
  }

  /**
   * Swaps keys now: key JSON (text, bytes or parsed) or an already parsed KeySet. Parses on the
   * calling thread; a client's refreshes (options.client or credentials) are the way to feed
   * large key sets without blocking it.
   * @throws KeysJsonError for malformed key JSON (the previous keys stay)
   */
  setKeys(json: string | Uint8Array | object | KeySet): void {
    this.#keys.publish(json instanceof KeySet ? json : parseKeys(json));
  }

  /** Decrypts one token. Calls made close together share a worker batch. */
  decrypt(token: string, domainOrAppName?: string | null, now?: TimeInput): Promise<DecryptionResult> {
    let nowMs: number;
    try {
      nowMs = toUnixMs(now);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closed) return Promise.reject(new EngineClosedError());
    if (!this.#dispatcher) return Promise.resolve(this.#counted(this.#inProcess(token, domainOrAppName, nowMs)));
    if (this.#cache) {
      // A hit is answered here, without a worker or the queue.
      const hit = this.#cache.lookup(token, domainOrAppName, nowMs, this.#keys.keySet, this.#options.clientType);
      if (hit !== undefined) return Promise.resolve(this.#counted(hit));
    }
    if (!this.#admit(1)) return Promise.reject(this.#overloaded(1));
    return new Promise<DecryptionResult>((resolve, reject) => {
      this.#queue(new SingleCall(token, domainOrAppName, nowMs, resolve, reject));
    });
  }

  /** Decrypts many tokens; results come back in input order. */
  decryptBatch(tokens: readonly string[], options: DecryptBatchOptions = {}): Promise<DecryptionResult[]> {
    if (!Array.isArray(tokens)) return Promise.reject(new InvalidArgumentError('tokens must be an array'));
    const domains = options.domains;
    if (domains !== undefined && (!Array.isArray(domains) || domains.length !== tokens.length)) {
      return Promise.reject(new InvalidArgumentError('options.domains must be an array as long as tokens'));
    }
    let nowMs: number;
    try {
      nowMs = toUnixMs(options.now, 'options.now');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closed) return Promise.reject(new EngineClosedError());
    if (!this.#dispatcher) {
      const startedAt = performance.now();
      const results = tokens.map((t, i) => this.#counted(this.#inProcess(t, domains?.[i], nowMs)));
      this.#observeBatch(results.length, performance.now() - startedAt, this.#keys.version);
      return Promise.resolve(results);
    }
    if (this.#cache) return this.#decryptBatchCached(tokens, domains, nowMs);
    if (!this.#admit(tokens.length)) return Promise.reject(this.#overloaded(tokens.length));
    return new Promise<DecryptionResult[]>((resolve, reject) => {
      this.#queue(new ManyCall(tokens, domains, nowMs, resolve, reject));
    });
  }

  /** decryptBatch() with the cache: hits answered here, only the misses go to workers, in order. */
  #decryptBatchCached(
    tokens: readonly string[],
    domains: readonly (string | null | undefined)[] | undefined,
    nowMs: number,
  ): Promise<DecryptionResult[]> {
    const cache = this.#cache!;
    const keySet = this.#keys.keySet;
    const clientType = this.#options.clientType;
    const results = new Array<DecryptionResult>(tokens.length);
    const missAt: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const hit = cache.lookup(tokens[i], domains?.[i], nowMs, keySet, clientType);
      if (hit === undefined) missAt.push(i);
      else results[i] = this.#counted(hit);
    }
    if (missAt.length === 0) return Promise.resolve(results);
    if (!this.#admit(missAt.length)) return Promise.reject(this.#overloaded(missAt.length));
    const missTokens = missAt.map((i) => tokens[i]!);
    const missDomains = domains === undefined ? undefined : missAt.map((i) => domains[i]);
    return new Promise<DecryptionResult[]>((resolve, reject) => {
      const settle = (missed: DecryptionResult[]): void => {
        for (let k = 0; k < missAt.length; k++) results[missAt[k]!] = missed[k]!;
        resolve(results);
      };
      this.#queue(new ManyCall(missTokens, missDomains, nowMs, settle, reject));
    });
  }

  /** In-process decryption (threads: 0), through the cache when there is one. */
  #inProcess(token: unknown, domain: string | null | undefined, nowMs: number): DecryptionResult {
    const keySet = this.#keys.keySet;
    if (this.#cache) return cachedDecryptToken(this.#cache, this.#find!, token, keySet, this.#options.clientType, domain, nowMs);
    return this.#decryptInProcess(token, keySet, this.#options.clientType, domain, nowMs);
  }

  /**
   * Decrypts a file of tokens, one per line (or JSON lines `{"token", "domainOrAppName"}`), into
   * a file of records in `options.format` (default JSON lines), in input order. The main thread
   * only moves chunks: workers split, decrypt and format (see docs/bulk.md). Paths are read and
   * written with no copy through the main thread, a path ending in `.gz` gzip-compressed; a
   * stream can stand for either side (a Writable is not ended). Memory stays flat whatever the
   * input size.
   * @throws InvalidArgumentError for bad options; the fs error for a file that cannot be opened;
   *   WorkerFailedError when a chunk failed twice; EngineClosedError after close()
   */
  decryptFile(input: BulkInput, output: BulkOutput, options?: BulkOptions): Promise<BulkSummary> {
    if (this.#closed) return Promise.reject(new EngineClosedError());
    return this.#trackBulk(decryptFile(this.#bulkHost(), input, output, options));
  }

  /**
   * Like decryptFile(), from any byte stream into the returned Readable (records as bytes), which
   * applies back-pressure: input is read only as fast as the records are consumed. Its `summary`
   * resolves when the last record has been pushed.
   * @throws InvalidArgumentError for bad options or input; EngineClosedError after close()
   */
  decryptStream(input: AsyncIterable<Uint8Array | string>, options?: BulkOptions): BulkReadable {
    if (this.#closed) throw new EngineClosedError();
    const stream = decryptStream(this.#bulkHost(), input, options);
    void this.#trackBulk(stream.summary).catch(() => {});
    return stream;
  }

  #trackBulk<T>(run: Promise<T>): Promise<T> {
    this.#bulkRuns.add(run);
    const forget = (): void => void this.#bulkRuns.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** What a bulk run needs of this engine: keys, opt-outs and where chunks run. */
  #bulkHost(): BulkHost {
    if (this.#bulkHostMade) return this.#bulkHostMade;
    const dispatcher = this.#dispatcher;
    const options = this.#options;
    const keys = this.#keys;
    const inProcess = dispatcher ? null : inProcessSnapshots();
    const entry = dispatcher ? workerScript('engine/worker/bulk-entry.js') : null;
    this.#bulkHostMade = {
      threads: options.threads,
      clientType: options.clientType,
      backend: this.#backend,
      snapshot: () => {
        if (inProcess) return inProcess(keys.keySet);
        const published = keys.snapshot;
        return published ? { sab: published.sab, version: published.version } : null;
      },
      optOut: () => options.optOut?.snapshot() ?? null,
      keepOptedOutUid: options.returnOptedOutUid,
      run: dispatcher ? (task) => dispatcher.runTask(this.#hooks?.bulkWorkerEntry ?? entry!, task) : inProcessChunkRunner(),
    };
    return this.#bulkHostMade;
  }

  stats(): EngineStats {
    const c = this.#counters;
    const d = this.#dispatcher;
    return {
      threads: this.#options.threads,
      liveWorkers: d?.liveWorkers ?? 0,
      backend: this.#backend,
      clientType: this.#options.clientType,
      batches: c.batches,
      tokens: c.tokens,
      batchRetries: c.batchRetries,
      failedBatches: c.failedBatches,
      overloadRejections: c.overloadRejections,
      optedOutResults: c.optedOut,
      queueDepth: this.#batcher.queued,
      inFlightBatches: d?.inFlightBatches ?? 0,
      inFlightTokens: d?.inFlightTokens ?? 0,
      statusCounts: c.statusCounts(),
      snapshotVersion: this.#keys.version,
      slotsAllocated: d?.slotsAllocated ?? 0,
      keyRefreshSuccesses: this.#keys.refreshes.successes,
      keyRefreshFailures: this.#keys.refreshes.failures,
      lastRefreshErrorCode: this.#keys.refreshes.lastErrorCode,
      keySetAgeMs: this.#keys.keySetAgeMs,
      batchDurationMs: { count: c.durations.count, sum: c.durations.sum, max: c.durations.max },
      largestBatch: c.durations.largestBatch,
      tokenCache: this.#cache?.stats() ?? null,
    };
  }

  /**
   * Decrypts the UID2/EUID tokens of OpenRTB bid requests (see `extractUid2Tokens`), all of them
   * in one `decryptBatch()` call. Results come back per request, in input order.
   */
  decryptBidRequests(requests: readonly unknown[], options?: DecryptBidRequestsOptions): Promise<BidRequestResult[]> {
    return decryptBidRequests(this, requests, options);
  }

  /**
   * Registers Prometheus metrics for this engine on `register` (default: prom-client's global
   * registry): tokens by status, batches, batch sizes and latency, queue depth, in-flight
   * tokens, live workers, key refreshes by outcome, key-set age, retries and rejections.
   * Needs the optional peer dependency prom-client.
   * @throws ConfigError (`UID2_ERR_CONFIG`, as a rejection) when prom-client is not installed;
   *   InvalidArgumentError when the names are already registered there
   */
  async metrics(register?: MetricsRegistry, options?: EngineMetricsOptions): Promise<void> {
    await registerEngineMetrics(
      { stats: () => this.stats(), onBatch: (observer) => this.#counters.batchObservers.push(observer) },
      register,
      options,
    );
    if (this.#cache) await registerTokenCacheMetrics(() => this.#cache?.stats(), register, options);
  }

  /** Settles everything queued and in flight, then stops the workers. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      await Promise.allSettled([...this.#bulkRuns]);
      if (this.#dispatcher) {
        this.#pump();
        if (!this.#idle()) await new Promise<void>((resolve) => (this.#drained = resolve));
      }
      this.#keys.close();
      await this.#dispatcher?.close();
    })();
    return this.#closing;
  }

  #idle(): boolean {
    return this.#batcher.queued === 0 && this.#dispatcher!.inFlightBatches === 0 && this.#dispatcher!.inFlightTokens === 0;
  }

  #queue(call: SingleCall | ManyCall): void {
    if (this.#options.batchWindowUs > 0) call.queuedAt = performance.now();
    this.#batcher.push(call);
    this.#schedulePump();
  }

  /** Dispatch at the end of this turn: calls made in the same turn go out together. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(this.#runPump);
  }

  #pump(): void {
    this.#dispatcher!.pump();
    if (this.#drained && this.#idle()) {
      const drained = this.#drained;
      this.#drained = null;
      drained();
    }
  }

  #admit(count: number): boolean {
    return this.#batcher.queued + this.#dispatcher!.inFlightTokens + count <= this.#options.maxQueuedTokens;
  }

  #overloaded(count: number): EngineOverloadedError {
    this.#counters.overloadRejections++;
    const queued = this.#batcher.queued + this.#dispatcher!.inFlightTokens;
    return new EngineOverloadedError(
      `engine overloaded: ${queued} tokens queued or in flight, ` +
        `${count} more would exceed maxQueuedTokens (${this.#options.maxQueuedTokens})`,
    );
  }

  /** Counts a result decided on this thread and applies the opt-out check; returns it. */
  #counted(result: DecryptionResult): DecryptionResult {
    this.#counters.statusCodes[CODE_BY_STATUS.get(result.status)!]!++;
    this.#counters.tokens++;
    return this.#checkOptOut(result);
  }

  #checkOptOut(result: DecryptionResult): DecryptionResult {
    const store = this.#options.optOut;
    if (store === null) return result;
    const checked = applyOptOut(result, store, this.#options.returnOptedOutUid);
    if (checked.optedOut) this.#counters.optedOut++;
    return checked;
  }

  #complete(batch: Batch): void {
    const { slot, parts } = batch;
    const codes = this.#counters.statusCodes;
    const hooks = this.#hooks;
    const seen: DecryptionResult[] | null = hooks?.onBatch ? [] : null;
    const checkOptOut = this.#options.optOut !== null;
    const cache = this.#cache;
    const keySet = batch.snapshot?.keySet;
    let pos = 0;
    for (let k = 0; k < parts.calls.length; k++) {
      const call = parts.calls[k]!;
      const start = parts.starts[k]!;
      const end = start + parts.counts[k]!;
      for (let i = start; i < end; i++, pos++) {
        let result = readResult(slot, pos);
        codes[slot.recordBytes[pos * RECORD_BYTES]!]!++;
        if (cache && result.status === DecryptionStatus.Success) this.#store(cache, slot, pos, call.token(i) as string, result, keySet!, call.nowMs);
        if (checkOptOut) result = this.#checkOptOut(result);
        seen?.push(result);
        call.settle(i, result);
      }
    }
    this.#counters.batches++;
    this.#counters.tokens += batch.count;
    this.#observeBatch(batch.count, performance.now() - batch.startedAt, batch.usedSnapshot);
    if (seen) this.#reportBatch(batch, seen);
    this.#checkDrained();
  }

  /** Keeps what a worker found for a token that decrypted, for the next call with it. */
  #store(cache: TokenCache, slot: Slot, pos: number, token: string, result: DecryptionResult, keySet: KeySet, nowMs: number): void {
    const rec = pos * RECORD_BYTES;
    const version = result.advertisingTokenVersion!;
    cache.store(
      token,
      {
        version,
        identityType: result.identityType,
        isClientSideGenerated: result.isClientSideGenerated!,
        siteId: result.siteId!,
        establishedMs: slot.recordF64[(rec >> 3) + REC_F64_ESTABLISHED]!,
        expiresMs: slot.recordF64[(rec >> 3) + REC_F64_EXPIRY]!,
        generatedMs: version === 2 ? undefined : slot.recordF64[(rec >> 3) + REC_F64_GENERATED]!,
        // A string made fresh from the record's bytes by readResult: safe for the cache to keep.
        uid: result.uid!,
        masterKeyId: slot.recordI32[(rec >> 2) + REC_I32_MASTER_KEY_ID]!,
        siteKeyId: slot.recordI32[(rec >> 2) + REC_I32_SITE_KEY_ID]!,
      },
      keySet,
      nowMs,
    );
  }

  #failed(batch: Batch, err: unknown, retried: boolean): void {
    const reason = (err as Error)?.message ?? String(err);
    if (retried) {
      this.#counters.batchRetries++;
      this.#log.warn(
        { event: 'uid2.engine.worker-failed', tokens: batch.count, attempt: batch.failures, err: reason, action: 'restart-and-rerun' },
        'engine worker failed mid-batch; the pool replaces it and the batch is re-run once',
      );
      return;
    }
    this.#counters.failedBatches++;
    this.#log.error(
      { event: 'uid2.engine.batch-failed', tokens: batch.count, attempt: batch.failures, err: reason },
      'engine batch failed twice; its calls are rejected with UID2_ERR_WORKER_FAILED',
    );
    const error = new WorkerFailedError(`a worker failed twice on a batch of ${batch.count} tokens: ${reason}`, { cause: err });
    for (const call of batch.parts.calls) call.fail(error);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#drained) queueMicrotask(() => this.#pump());
  }

  #observeBatch(tokens: number, durationMs: number, snapshotVersion: number): void {
    this.#counters.observeBatch(tokens, durationMs);
    if (batchChannel.hasSubscribers) {
      batchChannel.publish({
        tokens,
        durationMs,
        snapshotVersion,
        backend: this.#backend,
      } satisfies BatchChannelMessage);
    }
  }

  /** Test hook: what a batch decrypted, with the snapshot its worker used. */
  #reportBatch(batch: Batch, results: DecryptionResult[]): void {
    const tokens: unknown[] = [];
    const domains: (string | null | undefined)[] = [];
    const nows: number[] = [];
    const { parts } = batch;
    for (let k = 0; k < parts.calls.length; k++) {
      const call = parts.calls[k]!;
      for (let i = parts.starts[k]!; i < parts.starts[k]! + parts.counts[k]!; i++) {
        tokens.push(call.token(i));
        domains.push(call.domain(i));
        nows.push(call.nowMs);
      }
    }
    this.#hooks!.onBatch!({ snapshotVersion: batch.usedSnapshot, tokens, domains, nows, results });
  }
}
