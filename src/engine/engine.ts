/**
 * DecryptionEngine: the main-thread coordinator. It keeps the key snapshot in force, coalesces
 * decrypt() calls into batches, writes each batch once into a shared-memory slot, runs it on a
 * Piscina worker and turns the worker's result records into results.
 *
 *   keys (JSON | client refresh | service) --publish--> snapshot SAB (version n)
 *                                                           |  handle travels with each batch
 *   decrypt()/decryptBatch() -> queue -> batch slot SAB -> worker(s) -> result records -> results
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { BidstreamClient } from '../client/bidstream-client.js';
import { SharingClient } from '../client/sharing-client.js';
import { toUnixMs } from '../util/time.js';
import {
  ConfigError,
  EngineClosedError,
  EngineOverloadedError,
  InvalidArgumentError,
  WorkerFailedError,
} from '../errors.js';
import { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { batchChannel, type BatchChannelMessage } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import { registerEngineMetrics, type EngineMetricsOptions, type MetricsRegistry } from '../observability/metrics.js';
import { decryptBidRequests, type BidRequestResult, type DecryptBidRequestsOptions } from '../openrtb/decrypt-bid-requests.js';
import { decryptToken } from '../token/decrypt.js';
import { type DecryptionResult, DecryptionStatus, type TimeInput } from '../types.js';
import { type CryptoBackend, resolveBackend } from './backend.js';
import type { SlotViews } from './batch-layout.js';
import { CODE_BY_STATUS, STATUS_BY_CODE } from './batch-layout.js';
import { type PendingToken, SlotPool, bytesNeeded, readResult, writeBatch } from './batch-io.js';
import type { BatchReply, BatchTask, WorkerData } from './messages.js';
import { type EngineOptions, type ResolvedEngineOptions, resolveEngineOptions, usesCredentials } from './options.js';
import { BatchSink, SingleCall } from './sinks.js';
import { encodeSnapshot } from './snapshot.js';
import type { EngineStats } from './stats.js';
import { TokenQueue } from './token-queue.js';
import { type EngineTestHooks, kTestHooks } from './symbols.js';

export interface DecryptBatchOptions {
  /** Domain or app name per token (same length as the tokens), for client-side generated tokens. */
  domains?: readonly (string | null | undefined)[];
  /** Decryption time for the whole batch; default the time of the call. */
  now?: TimeInput;
}

interface Batch {
  readonly entries: PendingToken[];
  readonly slot: SlotViews;
  readonly task: BatchTask;
  readonly keySet: KeySet | undefined;
  attempts: number;
  /** performance.now() at dispatch, for the batch latency. */
  readonly startedAt: number;
}

function workerFile(): string {
  const sibling = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling.href;
  // Running from the TypeScript sources (the test suite): use the compiled worker.
  const built = new URL('../../dist/engine/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  throw new ConfigError('the engine worker script is missing: run "npm run build"');
}

export class DecryptionEngine {
  readonly #options: ResolvedEngineOptions;
  readonly #backend: CryptoBackend;
  readonly #pool: Piscina<BatchTask, BatchReply> | null;
  readonly #slots: SlotPool;
  readonly #maxInFlight: number;
  #keySet: KeySet | undefined;
  #snapshot: SharedArrayBuffer | null = null;
  #snapshotVersion = 0;

  readonly #queue = new TokenQueue();
  #flushDue = false;
  #timer: { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout } | null = null;
  #inFlight = 0;
  /** performance.now() of the last dispatch (batching policy). */
  #lastDispatchAt = -Infinity;
  #inFlightTokens = 0;
  #closed = false;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  #client: BidstreamClient | SharingClient | undefined;
  #ownsClient = false;
  readonly #onClientKeys = (keySet: KeySet): void => this.#publish(keySet);
  readonly #onRefresh = (): void => {
    this.#refreshes.successes++;
    this.#refreshes.lastErrorCode = null;
  };
  readonly #onRefreshError = (err: { code?: string }): void => {
    this.#refreshes.failures++;
    this.#refreshes.lastErrorCode = err?.code ?? 'UNKNOWN';
  };
  readonly #refreshes = { successes: 0, failures: 0, lastErrorCode: null as string | null };
  #publishedAt: number | null = null;

  readonly #counters = { batches: 0, tokens: 0, batchRetries: 0, failedBatches: 0, overloadRejections: 0 };
  readonly #statusCounts = new Float64Array(STATUS_BY_CODE.length);
  readonly #durations = { count: 0, sum: 0, max: 0, largestBatch: 0 };
  /** Per completed batch: the metrics' histograms (engine.metrics()). */
  readonly #batchObservers: ((tokens: number, durationMs: number) => void)[] = [];
  readonly #log: Logger;

  /** @internal Test hooks; see engine/symbols.ts. */
  readonly [kTestHooks]: EngineTestHooks = { crashNextBatches: 0 };

  private constructor(options: ResolvedEngineOptions, backend: CryptoBackend) {
    this.#options = options;
    this.#log = options.logger;
    this.#backend = backend;
    this.#slots = new SlotPool(options.maxBatchSize);
    this.#maxInFlight = Math.max(1, options.threads * options.batchesPerWorker);
    this.#pool =
      options.threads === 0
        ? null
        : new Piscina<BatchTask, BatchReply>({
            filename: workerFile(),
            minThreads: options.threads,
            maxThreads: options.threads,
            idleTimeout: 2 ** 31 - 1,
            // The engine never reads Piscina's per-task timing histograms: skip their cost.
            recordTiming: false,
            workerData: { kind: 'uid2-engine-worker' } satisfies WorkerData,
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
    const engine = new DecryptionEngine(resolved, resolveBackend());
    try {
      if (options.keys !== undefined) engine.setKeys(options.keys);
      if (options.client) engine.#follow(options.client, false);
      if (usesCredentials(options)) {
        const Client = resolved.clientType === 'sharing' ? SharingClient : BidstreamClient;
        // The engine's logger also hears its own client's refreshes, unless the client has one.
        const clientOptions =
          options.logger !== undefined && options.clientOptions?.logger === undefined
            ? { ...options.clientOptions, logger: options.logger }
            : options.clientOptions;
        const client = new Client(options.baseUrl, options.apiKey, options.secretKey, clientOptions);
        engine.#follow(client, true);
        const first = await client.startAutoRefresh(options.autoRefresh);
        if (!first.success && options.requireKeys !== false) throw first.error;
      }
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** The key set in force, if any. */
  get keySet(): KeySet | undefined {
    return this.#keySet;
  }

  /**
   * Swaps keys now: key JSON (text, bytes or parsed) or an already parsed KeySet.
   * @throws KeysJsonError for malformed key JSON (the previous keys stay)
   */
  setKeys(json: string | Uint8Array | object | KeySet): void {
    this.#publish(json instanceof KeySet ? json : parseKeys(json));
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
    if (!this.#pool) {
      const result = decryptToken(token, this.#keySet, this.#options.clientType, domainOrAppName, nowMs);
      this.#count(result.status);
      this.#counters.tokens++;
      return Promise.resolve(result);
    }
    if (!this.#admit(1)) return Promise.reject(this.#overloaded(1));
    return new Promise<DecryptionResult>((resolve, reject) => {
      this.#queue.push(new SingleCall(token, domainOrAppName, nowMs, resolve, reject));
      if (this.#queue.length >= this.#options.maxBatchSize) this.#pump();
      else this.#scheduleFlush();
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
    if (!this.#pool) {
      const startedAt = performance.now();
      const results = tokens.map((t, i) => decryptToken(t, this.#keySet, this.#options.clientType, domains?.[i], nowMs));
      for (const r of results) this.#count(r.status);
      this.#counters.tokens += results.length;
      this.#observeBatch(results.length, performance.now() - startedAt, 0);
      return Promise.resolve(results);
    }
    if (!this.#admit(tokens.length)) return Promise.reject(this.#overloaded(tokens.length));
    return new Promise<DecryptionResult[]>((resolve, reject) => {
      const sink = new BatchSink(tokens.length, resolve, reject);
      for (let i = 0; i < tokens.length; i++) {
        this.#queue.push({ token: tokens[i], domain: domains?.[i], nowMs, sink, index: i });
      }
      this.#flushDue = true;
      this.#pump();
    });
  }

  stats(): EngineStats {
    const statusCounts = {} as Record<DecryptionStatus, number>;
    STATUS_BY_CODE.forEach((status, code) => (statusCounts[status] = this.#statusCounts[code]!));
    return {
      threads: this.#options.threads,
      liveWorkers: this.#pool?.threads.length ?? 0,
      backend: this.#pool ? this.#backend : 'in-process',
      clientType: this.#options.clientType,
      ...this.#counters,
      queueDepth: this.#queue.length,
      inFlightBatches: this.#inFlight,
      inFlightTokens: this.#inFlightTokens,
      statusCounts,
      snapshotVersion: this.#snapshotVersion,
      slotsAllocated: this.#slots.created,
      keyRefreshSuccesses: this.#refreshes.successes,
      keyRefreshFailures: this.#refreshes.failures,
      lastRefreshErrorCode: this.#refreshes.lastErrorCode,
      keySetAgeMs: this.#publishedAt === null ? null : Date.now() - this.#publishedAt,
      batchDurationMs: { count: this.#durations.count, sum: this.#durations.sum, max: this.#durations.max },
      largestBatch: this.#durations.largestBatch,
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
  metrics(register?: MetricsRegistry, options?: EngineMetricsOptions): Promise<void> {
    return registerEngineMetrics(
      { stats: () => this.stats(), onBatch: (observer) => this.#batchObservers.push(observer) },
      register,
      options,
    );
  }

  /** Settles everything queued and in flight, then stops the workers. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      this.#flushDue = true;
      this.#pump();
      if (this.#queue.length > 0 || this.#inFlight > 0) {
        await new Promise<void>((resolve) => (this.#drained = resolve));
      }
      if (this.#timer) this.#clearTimer();
      this.#client?.off('keys', this.#onClientKeys);
      this.#client?.off('refresh', this.#onRefresh);
      this.#client?.off('refreshError', this.#onRefreshError);
      if (this.#ownsClient) this.#client?.close();
      await this.#pool?.destroy();
    })();
    return this.#closing;
  }

  #follow(client: BidstreamClient | SharingClient, owns: boolean): void {
    this.#client = client;
    this.#ownsClient = owns;
    client.on('keys', this.#onClientKeys);
    client.on('refresh', this.#onRefresh);
    client.on('refreshError', this.#onRefreshError);
    if (client.keySet) this.#publish(client.keySet);
  }

  #publish(keySet: KeySet): void {
    this.#keySet = keySet;
    this.#publishedAt = Date.now();
    if (!this.#pool) return;
    // A new buffer per version, fully written before any batch can reference it.
    const version = this.#snapshotVersion + 1;
    this.#snapshot = encodeSnapshot(keySet, version);
    this.#snapshotVersion = version;
  }

  #admit(count: number): boolean {
    return this.#queue.length + this.#inFlightTokens + count <= this.#options.maxQueuedTokens;
  }

  #overloaded(count: number): EngineOverloadedError {
    this.#counters.overloadRejections++;
    return new EngineOverloadedError(
      `engine overloaded: ${this.#queue.length + this.#inFlightTokens} tokens queued or in flight, ` +
        `${count} more would exceed maxQueuedTokens (${this.#options.maxQueuedTokens})`,
    );
  }

  #count(status: DecryptionStatus): void {
    this.#statusCounts[CODE_BY_STATUS.get(status)!]!++;
  }

  /**
   * Batching policy: a full batch goes at once; a partial batch goes at most once per
   * `maxBatchDelayUs`. Sparse traffic (the last dispatch was long enough ago) is dispatched on the
   * next event-loop turn, so a lone call pays no wait; under load, tokens accumulate for up to the
   * delay since the last dispatch, so batches grow with the rate instead of paying a worker round
   * trip (about 100 µs of main-thread time) for a handful of tokens.
   */
  #scheduleFlush(): void {
    if (this.#timer || this.#flushDue) return;
    const fire = (): void => {
      this.#timer = null;
      this.#flushDue = true;
      this.#pump();
    };
    const delayUs = this.#options.maxBatchDelayUs;
    // Below the 1 ms timer resolution there is no finer wait than the next event-loop turn.
    const waitMs = delayUs < 1000 ? 0 : this.#lastDispatchAt + delayUs / 1000 - performance.now();
    if (waitMs <= 0) this.#timer = { immediate: setImmediate(fire) };
    // setTimeout's resolution is 1 ms: shorter waits round up to it.
    else this.#timer = { timeout: setTimeout(fire, Math.max(1, waitMs)) };
  }

  #clearTimer(): void {
    if (!this.#timer) return;
    if ('immediate' in this.#timer) clearImmediate(this.#timer.immediate);
    else clearTimeout(this.#timer.timeout);
    this.#timer = null;
  }

  #pump(): void {
    const max = this.#options.maxBatchSize;
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      if (!this.#flushDue && this.#queue.length < max) break;
      const entries = this.#queue.take(max);
      this.#dispatch(entries);
    }
    if (this.#queue.length === 0) {
      this.#flushDue = false;
      this.#clearTimer();
    } else if (!this.#flushDue) {
      this.#scheduleFlush();
    }
    if (this.#drained && this.#queue.length === 0 && this.#inFlight === 0) {
      const drained = this.#drained;
      this.#drained = null;
      drained();
    }
  }

  #dispatch(entries: PendingToken[]): void {
    this.#lastDispatchAt = performance.now();
    const slot = this.#slots.acquire(bytesNeeded(entries));
    writeBatch(slot, entries);
    const task: BatchTask = {
      slot: slot.sab,
      capacity: slot.capacity,
      bytesCapacity: slot.bytesCapacity,
      count: entries.length,
      clientType: this.#options.clientType,
      snapshot: this.#snapshot,
      snapshotVersion: this.#snapshotVersion,
      backend: this.#backend,
    };
    this.#inFlight++;
    this.#inFlightTokens += entries.length;
    this.#run({ entries, slot, task, keySet: this.#keySet, attempts: 0, startedAt: performance.now() });
  }

  #run(batch: Batch): void {
    const hooks = this[kTestHooks];
    let task = batch.task;
    if (hooks.crashNextBatches > 0) {
      hooks.crashNextBatches--;
      task = { ...task, crash: true };
    }
    batch.attempts++;
    this.#pool!.run(task).then(
      (reply) => this.#complete(batch, reply),
      (err: unknown) => this.#failed(batch, err),
    );
  }

  #complete(batch: Batch, reply: BatchReply): void {
    const { entries, slot } = batch;
    const clientType = this.#options.clientType;
    const onBatch = this[kTestHooks].onBatch;
    const results: DecryptionResult[] | undefined = onBatch ? [] : undefined;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const result = readResult(slot, i, entry, batch.keySet, clientType);
      this.#count(result.status);
      results?.push(result);
      entry.sink.settle(entry.index, result);
    }
    this.#counters.batches++;
    this.#counters.tokens += entries.length;
    this.#observeBatch(entries.length, performance.now() - batch.startedAt, reply.snapshotVersion);
    onBatch?.({
      snapshotVersion: reply.snapshotVersion,
      tokens: entries.map((e) => e.token),
      domains: entries.map((e) => e.domain),
      nows: entries.map((e) => e.nowMs),
      results: results!,
    });
    this.#finish(batch);
  }

  #failed(batch: Batch, err: unknown): void {
    const reason = (err as Error)?.message ?? String(err);
    if (batch.attempts < 2) {
      // The worker died mid-batch (Piscina replaces it). Re-run the batch once, with the same
      // snapshot; records from the failed attempt are all overwritten.
      this.#counters.batchRetries++;
      this.#log.warn(
        { event: 'uid2.engine.worker-failed', tokens: batch.entries.length, attempt: batch.attempts, err: reason, action: 'restart-and-rerun' },
        'engine worker failed mid-batch; the pool replaces it and the batch is re-run once',
      );
      this.#run(batch);
      return;
    }
    this.#counters.failedBatches++;
    this.#log.error(
      { event: 'uid2.engine.batch-failed', tokens: batch.entries.length, attempt: batch.attempts, err: reason },
      'engine batch failed twice; its calls are rejected with UID2_ERR_WORKER_FAILED',
    );
    const error = new WorkerFailedError(
      `a worker failed twice on a batch of ${batch.entries.length} tokens: ${reason}`,
      { cause: err },
    );
    for (const entry of batch.entries) entry.sink.fail(error);
    this.#finish(batch);
  }

  #observeBatch(tokens: number, durationMs: number, snapshotVersion: number): void {
    const d = this.#durations;
    d.count++;
    d.sum += durationMs;
    if (durationMs > d.max) d.max = durationMs;
    if (tokens > d.largestBatch) d.largestBatch = tokens;
    for (const observer of this.#batchObservers) observer(tokens, durationMs);
    if (batchChannel.hasSubscribers) {
      batchChannel.publish({
        tokens,
        durationMs,
        snapshotVersion,
        backend: this.#pool ? this.#backend : 'in-process',
      } satisfies BatchChannelMessage);
    }
  }

  #finish(batch: Batch): void {
    this.#slots.release(batch.slot);
    this.#inFlight--;
    this.#inFlightTokens -= batch.entries.length;
    // Capacity freed: dispatch what is due (full batches, or tokens whose delay already passed
    // while every slot was busy); the rest keeps waiting for its batching timer.
    this.#pump();
  }
}
