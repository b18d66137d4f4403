/**
 * DecryptionEngine: the facade. It validates calls, admits them against maxQueuedTokens and
 * routes them (dispatch-policy.ts): token-cache hits, and whatever costs the main thread less
 * here than a hand-off (every token with `threads: 0` or `dispatch: 'in-process'`), to the
 * in-process decryptor; the rest to the queue (pool/batcher.ts) that the dispatcher hands to
 * worker lanes, whose finished batches become results (or, for decryptColumns(), the columns the
 * workers wrote) in pool/completion.ts. It also closes, and reports stats.
 *
 *   keys (JSON | client refresh | service) -> key-feed.ts -> snapshot SAB (version n)
 *   decrypt()/decryptBatch()/decryptColumns() -> dispatch-policy.ts -> here (in-process/), or
 *     pool/batcher.ts -> pool/dispatcher.ts -> wire/mailbox.ts -> worker/entry.ts
 *     -> worker/{native,node-crypto}.ts -> wire/slot.ts records -> pool/completion.ts -> results
 *                                        (decryptColumns: -> wire/columns.ts -> pool/decrypted-columns.ts)
 */
import { SharingClient } from '../client/sharing-client.js';
import { EngineClosedError, EngineOverloadedError, InvalidArgumentError, KeysScopeError } from '../errors.js';
import { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { registerEngineMetrics, type EngineMetricsOptions, type MetricsRegistry } from '../observability/metrics.js';
import { decryptBidRequests, type BidRequestResult, type DecryptBidRequestsOptions } from '../openrtb/decrypt-bid-requests.js';
import { TokenCache } from '../cache/token-cache.js';
import { InProcessDecryptor } from '../in-process/decryptor.js';
import { registerTokenCacheMetrics } from '../observability/token-cache-metrics.js';
import type { ClientType, DecryptionResult, IdentityScope, TimeInput } from '../types.js';
import type { Logger } from '../observability/logger.js';
import { toUnixMs } from '../util/time.js';
import { type CryptoBackend, resolveBackend } from '../native/backend.js';
import { DispatchPolicy } from './dispatch-policy.js';
import { Batcher } from './pool/batcher.js';
import { ManyCall, SingleCall, type Call } from './pool/calls.js';
import { ColumnsCall } from './pool/columns-call.js';
import { Completion } from './pool/completion.js';
import type { DecryptedColumns } from './pool/decrypted-columns.js';
import { Dispatcher, type PublishedSnapshot, type WorkerEntry } from './pool/dispatcher.js';
import { splitLines } from './pool/lines.js';
import type { KeyFeed } from './key-feed.js';
import { EngineKeys } from './engine-keys.js';
import { type EngineOptions, type KeySourceOptions, type ResolvedEngineOptions, resolveEngineOptions, usesCredentials } from './options.js';
import { decodeBatch, openSnapshot, type OpenSnapshot } from './worker/decode.js';
import { createBatchSlot, writeColumns, type Slot } from './wire/slot.js';
import { EngineCounters, keyFigures, type EngineStats } from './stats.js';
import type { BulkHost, BulkSummary } from './bulk/coordinator.js';
import { decryptFile, decryptStream, type BulkInput, type BulkOutput, type BulkReadable } from './bulk/decrypt-bulk.js';
import { inProcessChunkRunner } from './bulk/in-process.js';
import { snapshotRef } from './wire/messages.js';
import type { BulkOptions } from './bulk/options.js';
import { workerScript } from '../util/worker-script.js';
import { bulkWorkerEntryOf, registerTestHooks, workerEntryOf } from './test-hooks.js';

export interface DecryptBatchOptions {
  /** Domain or app name per token (same length as the tokens), for client-side generated tokens. */
  domains?: readonly (string | null | undefined)[];
  /** Decryption time for the whole batch; default the time of the call. */
  now?: TimeInput;
}

/** decryptColumns() takes decryptBatch()'s options: `domains` then has one entry per token (per line of a Buffer). */
export type DecryptColumnsOptions = DecryptBatchOptions;

export class DecryptionEngine {
  readonly #options: ResolvedEngineOptions;
  readonly #backend: CryptoBackend;
  /**
   * On this thread: every token with threads: 0, else those too large for a batch slot; its
   * token cache answers hits and keeps the workers' findings, its opt-out check marks every result.
   */
  readonly #decryptor: InProcessDecryptor;
  readonly #keys: EngineKeys;
  readonly #batcher = new Batcher();
  readonly #dispatcher: Dispatcher | null;
  readonly #policy: DispatchPolicy;
  /** decryptColumns() batches run on this thread: a slot, and the snapshot opened for it. */
  #hereSlot: Slot | null = null;
  #hereSnapshot: { published: PublishedSnapshot; open: OpenSnapshot } | null = null;
  readonly #counters: EngineCounters;
  readonly #completion: Completion;
  #pumpScheduled = false;
  #closed = false;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;
  /** Bulk runs in progress: close() lets them finish. */
  readonly #bulkRuns = new Set<Promise<unknown>>();
  #bulkHostMade: BulkHost | null = null;
  /** Where bulk chunks run on workers: worker/bulk-entry.js unless a test brings its own. */
  readonly #bulkEntry: URL | undefined;
  readonly #cache: TokenCache | undefined;
  readonly #runPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  private constructor(options: ResolvedEngineOptions, backend: CryptoBackend, keys: EngineKeys, workerEntry: WorkerEntry | undefined, bulkEntry: URL | undefined) {
    this.#bulkEntry = bulkEntry;
    this.#options = options;
    this.#counters = new EngineCounters(keys.dual);
    this.#keys = keys;
    this.#backend = backend;
    this.#decryptor = new InProcessDecryptor(backend, {
      tokenCache: options.tokenCache ? new TokenCache(options.tokenCache) : undefined,
      optOut: options.optOut,
      returnOptedOutUid: options.returnOptedOutUid,
    });
    this.#cache = this.#decryptor.cache;
    const completion = new Completion({
      counters: this.#counters,
      decryptor: this.#decryptor,
      checkOptOut: options.optOut !== null,
      backend,
      logger: options.logger,
    });
    this.#completion = completion;
    const pooled = options.threads > 0 && options.dispatch !== 'in-process';
    this.#policy = new DispatchPolicy(pooled ? options.dispatch : 'in-process', backend);
    this.#dispatcher = !pooled
        ? null
        : new Dispatcher(
            {
              workerEntry,
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
              complete: (batch) => {
                if (batch.columns === null) completion.complete(batch);
                else this.#completeColumns(batch.parts.calls[0] as ColumnsCall, batch.parts.starts[0]!, batch.count, batch.slot, batch.usedSnapshot, batch.startedAt);
                this.#checkDrained();
              },
              decryptHere: (call, index) => this.#decryptHere(call, index),
              keepHere: (n) => this.#policy.batch(n),
              failed: (batch, err, retried) => {
                completion.failed(batch, err, retried);
                if (retried) return;
                if (batch.columns) this.#dispatcher!.release(batch.columns);
                this.#checkDrained();
              },
            },
          );
    registerTestHooks(this, (hooks) => (completion.hooks = hooks));
  }

  /**
   * Creates an engine. Keys come from `keys` (JSON), `client` (its refreshes are followed), or
   * service credentials (the engine refreshes and auto-refreshes); with `scopes`, one such source
   * per identity scope (UID2 and EUID tokens in one engine). Without any, every result is
   * `NotInitialized` until `setKeys()`.
   */
  static async create(options: EngineOptions = {}): Promise<DecryptionEngine> {
    const resolved = resolveEngineOptions(options);
    const sources = resolved.scopes === null ? [options] : [resolved.scopes.UID2, resolved.scopes.EUID];
    if (options.clientType === undefined && sources.some((source) => source.client instanceof SharingClient)) {
      resolved.clientType = 'sharing';
    }
    // Decided once here: every batch then names it, and a forced but missing native addon
    // (UID2_ENGINE_BACKEND=native) fails creation instead of a later batch.
    const backend = resolveBackend();
    const keys = new EngineKeys(resolved.scopes !== null, resolved.logger);
    const feeds = keys.euid === undefined ? [keys.main] : [keys.main, keys.euid];
    try {
      // The first refreshes come before any worker starts: wrong credentials fail create() without
      // a thread ever being spawned (and torn down while still loading).
      await Promise.all(feeds.map((feed, i) => DecryptionEngine.#firstRefresh(feed, sources[i]!, resolved.clientType, options.logger)));
    } catch (err) {
      keys.close();
      throw err;
    }
    let engine: DecryptionEngine;
    try {
      engine = new DecryptionEngine(resolved, backend, keys, workerEntryOf(options), bulkWorkerEntryOf(options));
    } catch (err) {
      keys.close();
      throw err;
    }
    try {
      feeds.forEach((feed, i) => {
        const source = sources[i]!;
        if (source.keys !== undefined) feed.publish(source.keys instanceof KeySet ? source.keys : parseKeys(source.keys));
        if (source.client) {
          const keySet = source.client.keySet;
          // A followed client of the wrong service is a configuration mistake: loud here, counted later.
          if (feed.scope !== undefined && keySet !== undefined && keySet.identityScope !== feed.scope) {
            throw new KeysScopeError(`options.scopes.${feed.scope}.client holds ${keySet.identityScope} keys`);
          }
          feed.follow(source.client, false);
        }
      });
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** A credentials source's client and its first refresh (which must succeed unless requireKeys: false). */
  static async #firstRefresh(feed: KeyFeed, source: KeySourceOptions, clientType: ClientType, logger: Logger | undefined): Promise<void> {
    if (!usesCredentials(source)) return;
    const first = await feed.startClient(clientType, {
      baseUrl: source.baseUrl,
      apiKey: source.apiKey,
      secretKey: source.secretKey,
      clientOptions: source.clientOptions,
      autoRefresh: source.autoRefresh,
      logger,
    });
    if (source.requireKeys === false) return;
    if (!first.success) throw first.error;
    if (feed.keySet === undefined) throw new KeysScopeError(`options.scopes.${feed.scope} credentials answered with keys of the other scope`);
  }

  /** The key set in force, if any (a dual-scope engine: UID2's; see keySetOf()). */
  get keySet(): KeySet | undefined {
    return this.#keys.keySet;
  }

  /**
   * The key set in force for `scope`'s tokens: a dual-scope engine's scope, or a single-scope
   * engine's key set when it is of that scope.
   */
  keySetOf(scope: IdentityScope): KeySet | undefined {
    const feed = this.#keys.feed(scope);
    if (feed !== undefined) return feed.keySet;
    const keySet = this.#keys.keySet;
    return keySet?.identityScope === scope ? keySet : undefined;
  }

  /**
   * Swaps keys now: key JSON (text, bytes or parsed) or an already parsed KeySet. Parses on the
   * calling thread; a client's refreshes (options.client or credentials) are the way to feed
   * large key sets without blocking it. A dual-scope engine gives them to `scope` (default: the
   * scope the key set names).
   * @throws KeysJsonError for malformed key JSON; KeysScopeError when `scope` and the key set's
   *   scope differ (the previous keys stay either way)
   */
  setKeys(json: string | Uint8Array | object | KeySet, scope?: IdentityScope): void {
    if (scope !== undefined && scope !== 'UID2' && scope !== 'EUID') throw new InvalidArgumentError('scope must be "UID2" or "EUID"');
    const keySet = json instanceof KeySet ? json : parseKeys(json);
    if (scope !== undefined && keySet.identityScope !== scope) {
      throw new KeysScopeError(`the key set is of scope ${keySet.identityScope}, not ${scope}; the keys in force stay`);
    }
    (this.#keys.feed(keySet.identityScope) ?? this.#keys.main).publish(keySet);
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
    if (this.#dispatcher === null || this.#policy.single()) return Promise.resolve(this.#single(token, domainOrAppName, nowMs));
    if (this.#cache) {
      // A hit is answered here, without a worker or the queue.
      const scope = this.#keys.scopeOf(token);
      const hit = this.#cache.lookup(token, domainOrAppName, nowMs, this.#keys.keySetAt(scope), this.#options.clientType);
      if (hit !== undefined) return Promise.resolve(this.#completion.counted(this.#decryptor.checkOptOut(hit), scope));
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
    let nowMs: number;
    try {
      nowMs = this.#callTime(options, tokens.length, 'as long as tokens');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#dispatcher === null || this.#policy.batch(tokens.length)) {
      const startedAt = performance.now();
      const results = tokens.map((t, i) => this.#inProcess(t, domains?.[i], nowMs));
      const durationMs = performance.now() - startedAt;
      this.#policy.observe(tokens.length, durationMs * 1000);
      this.#completion.observe(results.length, durationMs, this.#keys.version);
      return Promise.resolve(results);
    }
    if (this.#cache) return this.#decryptBatchCached(tokens, domains, nowMs);
    if (!this.#admit(tokens.length)) return Promise.reject(this.#overloaded(tokens.length));
    return new Promise<DecryptionResult[]>((resolve, reject) => {
      this.#queue(new ManyCall(tokens, domains, nowMs, resolve, reject));
    });
  }

  /**
   * The checks decryptBatch() and decryptColumns() share, in order: `options.domains` has `count`
   * entries (`rule` words that in the message), `options.now` is a time, the engine is open.
   * Returns the call's time in ms.
   * @throws InvalidArgumentError, EngineClosedError (the caller rejects with it)
   */
  #callTime(options: DecryptBatchOptions, count: number, rule: string): number {
    const domains = options.domains;
    if (domains !== undefined && (!Array.isArray(domains) || domains.length !== count)) {
      throw new InvalidArgumentError(`options.domains must be an array ${rule}`);
    }
    const nowMs = toUnixMs(options.now, 'options.now');
    if (this.#closed) throw new EngineClosedError();
    return nowMs;
  }

  /** decryptBatch() with the cache: hits answered here, only the misses go to workers, in order. */
  #decryptBatchCached(
    tokens: readonly string[],
    domains: readonly (string | null | undefined)[] | undefined,
    nowMs: number,
  ): Promise<DecryptionResult[]> {
    const cache = this.#cache!;
    const keys = this.#keys;
    const clientType = this.#options.clientType;
    const results = new Array<DecryptionResult>(tokens.length);
    const missAt: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const scope = keys.scopeOf(tokens[i]);
      const hit = cache.lookup(tokens[i], domains?.[i], nowMs, keys.keySetAt(scope), clientType);
      if (hit === undefined) missAt.push(i);
      else results[i] = this.#completion.counted(this.#decryptor.checkOptOut(hit), scope);
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

  /**
   * Decrypts many tokens into columns: one typed array per result field (status codes, site ids,
   * times in ms, identity type, version, flags, raw UID bytes), row i for token i, written by the
   * workers straight from their records, with `result(i)` and `uid(i)` building one
   * DecryptionResult (equal to decryptBatch()'s) or raw UID string on demand. `tokens` is an
   * array of strings or a Buffer of tokens one per line (LF, CRLF or CR; lines are read as UTF-8,
   * and a Buffer of ASCII lines is never made into strings). The main thread's cost per token is
   * its write into a batch slot; with `optOut` also one opt-out lookup per Success, and with
   * `tokenCache` it costs what decryptBatch() costs (docs/engine.md "Columnar results").
   */
  decryptColumns(tokens: readonly string[] | Buffer, options: DecryptColumnsOptions = {}): Promise<DecryptedColumns> {
    const isBuffer = Buffer.isBuffer(tokens);
    if (!isBuffer && !Array.isArray(tokens)) return Promise.reject(new InvalidArgumentError('tokens must be an array of strings or a Buffer'));
    let input: ConstructorParameters<typeof ColumnsCall>[0];
    try {
      input = isBuffer ? { buffer: tokens, lines: splitLines(tokens) } : { strings: tokens as readonly string[] };
    } catch (err) {
      return Promise.reject(new InvalidArgumentError((err as Error).message));
    }
    const count = 'strings' in input ? input.strings.length : input.lines.count;
    const domains = options.domains;
    let nowMs: number;
    try {
      nowMs = this.#callTime(options, count, 'with one entry per token');
    } catch (err) {
      return Promise.reject(err);
    }
    const optOut = { checked: this.#options.optOut !== null, returnUid: this.#options.returnOptedOutUid };
    return new Promise<DecryptedColumns>((resolve, reject) => {
      const call = new ColumnsCall(input, domains, nowMs, optOut, resolve, reject);
      if (count === 0) return;
      if (this.#cache) {
        this.#columnsFromResults(call, domains);
      } else if (this.#dispatcher === null || this.#policy.batch(count, true)) {
        this.#columnsHere(call);
      } else if (!this.#admit(count)) {
        reject(this.#overloaded(count));
      } else {
        this.#queue(call);
      }
    });
  }

  /**
   * decryptColumns() with the token cache: the call is decryptBatch() (hits here, misses to the
   * workers, their findings stored), and each row is written from its result, so the cache and the
   * opt-out check behave exactly as they do there.
   */
  #columnsFromResults(call: ColumnsCall, domains: readonly (string | null | undefined)[] | undefined): void {
    const texts = Array.from({ length: call.count }, (_, i) => call.token(i) as string);
    this.decryptBatch(texts, { domains, now: call.nowMs }).then(
      (results) => results.forEach((result, i) => call.settle(i, result)),
      (err: Error) => call.fail(err),
    );
  }

  /** A decryptColumns() call decrypted on this thread: the workers' own batch code, run here. */
  #columnsHere(call: ColumnsCall): void {
    const startedAt = performance.now();
    const batcher = new Batcher();
    batcher.push(call);
    this.#hereSlot ??= createBatchSlot(this.#options.maxBatchSize);
    const slot = this.#hereSlot;
    const snapshot = this.#openHereSnapshot();
    while (batcher.queued > 0) {
      const parts = batcher.fill(slot, Math.min(slot.capacity, batcher.queued));
      if (parts.count === 0) {
        const { index } = batcher.takeOversized();
        this.#decryptHere(call, index);
        continue;
      }
      this.#counters.inProcessTokens += parts.count;
      decodeBatch(slot, parts.count, snapshot?.open ?? null, this.#options.clientType, this.#backend);
      writeColumns(slot, parts.count, call.columns, parts.starts[0]!);
      this.#completeColumns(call, parts.starts[0]!, parts.count, slot, snapshot?.published.version ?? 0, startedAt);
    }
    this.#policy.observe(call.count, (performance.now() - startedAt) * 1000);
  }

  /** The published snapshot, opened for decodeBatch() on this thread (reopened when keys change). */
  #openHereSnapshot(): { published: PublishedSnapshot; open: OpenSnapshot } | null {
    const published = this.#keys.snapshot;
    if (published === null) return null;
    if (this.#hereSnapshot?.published !== published) {
      this.#hereSnapshot = { published, open: openSnapshot(published.sab, published.version, published.euidSab) };
    }
    return this.#hereSnapshot;
  }

  /** decrypt() on this thread; one in a sample is timed for the dispatch policy. */
  #single(token: string, domain: string | null | undefined, nowMs: number): DecryptionResult {
    const policy = this.#policy;
    if (!policy.timeNext) return this.#inProcess(token, domain, nowMs);
    const startedAt = performance.now();
    const result = this.#inProcess(token, domain, nowMs);
    policy.observe(1, (performance.now() - startedAt) * 1000);
    return result;
  }

  /** Token `index` of `call` decided on this thread (too large for any slot, or kept here by the policy). */
  #decryptHere(call: Call, index: number): void {
    call.settle(index, this.#inProcess(call.token(index), call.domain(index), call.nowMs));
  }

  /** In-process decryption, opt-out checked and counted. */
  #inProcess(token: unknown, domain: string | null | undefined, nowMs: number): DecryptionResult {
    const scope = this.#keys.scopeOf(token);
    return this.#completion.counted(this.#decryptor.decrypt(token, this.#keys.keySetAt(scope), this.#options.clientType, domain, nowMs), scope);
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
    return decryptStream(this.#bulkHost(), input, options, (run) => void this.#trackBulk(run).catch(() => {}));
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
    const entry = dispatcher ? (this.#bulkEntry ?? workerScript('engine/worker/bulk-entry.js')) : null;
    this.#bulkHostMade = {
      threads: options.threads,
      clientType: options.clientType,
      backend: this.#backend,
      snapshot: () => {
        const published = keys.snapshot;
        return published === null ? null : snapshotRef(published);
      },
      optOut: () => options.optOut?.snapshot() ?? null,
      keepOptedOutUid: options.returnOptedOutUid,
      closed: () => this.#closed,
      run: dispatcher ? (task) => dispatcher.runTask(entry!, task) : inProcessChunkRunner(),
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
      inProcessTokens: c.inProcessTokens,
      dispatch: this.#policy.mode,
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
      ...keyFigures(c, this.#keys.main, this.#keys.euid),
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

  #queue(call: Call): void {
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

  /**
   * Rows [start, start + count) of a decryptColumns() call were written from the batch in `slot`
   * (by a worker, or here): completion counts them, places their raw UIDs and checks opt-outs; the
   * call's last rows answer it and free its columns target in the lanes.
   */
  #completeColumns(call: ColumnsCall, start: number, count: number, slot: Slot, snapshotVersion: number, startedAt: number): void {
    if (!this.#completion.completeColumns(call, start, count, slot, snapshotVersion, startedAt)) return;
    call.finish();
    this.#dispatcher?.release(call.columns);
  }

  #checkDrained(): void {
    if (this.#drained) queueMicrotask(() => this.#pump());
  }
}
