/**
 * The fleet opt-out store: Redis holds the one shared, durable set; every process keeps a local
 * copy (the same shared in-memory set as the file store) that `has()` reads, and follows Redis.
 *
 *   add ─► Lua script (atomic): HGET set uid; earlier or equal time known ─► 0, nothing written
 *                               else HSET set uid ms; XADD log MAXLEN ~ N * u uid t ms ─► 1 | 2
 *       ─► reply (after Redis's AOF fsync with `appendfsync always`) ─► local set ─► resolve
 *
 *   follower: [start] position = stream's last-generated id, then HSCAN the whole hash
 *             (or, with a warm-start cache of the same epoch, the cache's saved position)
 *             [follow] XREAD BLOCK from the position on a dedicated connection, apply entries
 *             [connection lost] local set unchanged, reads go on; retry with backoff; when
 *             back, [check] entries after our position were trimmed? ─► reload the hash : follow
 *
 * Why a hash and a stream: the hash is the current state (earliest time per raw UID, loaded in
 * chunks on start; never trimmed), the stream the ordered change log followers resume from by
 * id. Taking the position before the scan makes the two overlap rather than leave a gap;
 * applying an opt-out twice changes nothing. Raw UIDs travel as their 32 or 33 bytes, times as
 * decimal Unix ms, in both; anything else read from Redis is skipped and counted.
 *
 * The local set never depends on the warm-start cache file (cache.ts): it is filled from it at
 * start when the file opens, and the file is written behind it; a file that fails is counted,
 * logged and worked around, never a reason to stop following. What Redis's persistence makes of
 * an acknowledged write is checked at open (persistence.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidArgumentError, OptOutClosedError, OptOutRedisError, OptOutWriteError } from '../../errors.js';
import type { MetricsRegistry } from '../../observability/metrics.js';
import { registerOptOutStoreMetrics, type OptOutStoreMetricsOptions } from '../../observability/optout-store-metrics.js';
import { failureCode } from '../../util/failure-code.js';
import { OptOutSet, type OptOutSetChange } from '../set.js';
import { isRawUidBytes, parseRawUid } from '../raw-uid.js';
import { WarmStartCache, type WarmStartCacheStats } from './cache.js';
import { loadRedisClient } from './client.js';
import { LocalOptOutSet } from './local-set.js';
import { describeRedisUrl, resolveRedisOptOutStoreOptions, type RedisOptOutStoreOptions, type ResolvedRedisOptOutStoreOptions } from './options.js';
import { describeRedisPersistence, readRedisPersistence, type RedisPersistence } from './persistence.js';
import { STREAM_START_ID, isStreamId, streamIdMs } from './position.js';
import type { OptOutStore, OptOutStoreHealth, RawUidInput } from '../store.js';
import { isOptOutMs, toOptOutSeconds } from '../time.js';

/** KEYS: set, log. ARGV: uid bytes, ms, stream max length. Returns 0 unchanged, 1 added, 2 earlier. */
const ADD_SCRIPT = `
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known and tonumber(known) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'u', ARGV[1], 't', ARGV[2])
if known then return 2 end
return 1`;

const CHANGES: readonly OptOutSetChange[] = ['unchanged', 'added', 'earlier'];
/** How often a follower with a cache saves its stream position, ms. */
const POSITION_SAVE_MS = 1000;
const FIRST_BACKOFF_MS = 50;

type AddCommand = { uid2OptOutAdd(set: string, log: string, uid: Buffer, ms: string, maxLen: string): Promise<number> };
type StreamEntry = [Buffer, Buffer[]];

/** Where a follower is in its sync protocol. */
type SyncState = 'start' | 'check' | 'load' | 'follow';

/** What `RedisOptOutStore.stats()` reports. */
export interface RedisOptOutStoreStats {
  /** The follower's connection to Redis is up and its last read from Redis succeeded (nothing else counts). */
  connected: boolean;
  /** The store can take opt-outs now: the writer's connection is up, its last add did not fail, persistence not refused. */
  healthy: boolean;
  /** Opt-outs in the local set. */
  size: number;
  /**
   * How far the local set may be behind Redis, ms: 0 when the last read found no more entries;
   * while reading a backlog, the age of the last entry applied; while disconnected, the time
   * since the follower was last caught up.
   */
  lagMs: number;
  /** Wall time (Unix ms) of the last successful read from Redis (an empty read counts), or null. */
  lastSyncMs: number | null;
  /** For the last stream entry applied: apply time minus the entry's creation time in Redis, ms. */
  lastEntryDelayMs: number | null;
  /** The stream id the follower reads after. */
  position: string;
  /** Stream entries and hash entries applied to the local set. */
  applied: number;
  /** Full reloads of the hash after the start (the stream was trimmed past the position). */
  reloads: number;
  /** Adds Redis acknowledged. */
  writes: number;
  /** Adds that failed (rejected: the webhook answers 503). */
  writeErrors: number;
  /** Connection and command errors (reads and writes). */
  errors: number;
  /** The last error's message, or null. */
  lastError: string | null;
  /** Entries read from Redis that were not a raw UID and a time (skipped). */
  malformed: number;
  /** The warm-start cache file (never a reason for the fields above to change). */
  cache: WarmStartCacheStats;
  /** What Redis's persistence makes of an acknowledged opt-out, or null before Redis was reached. */
  persistence: RedisPersistence | null;
}

/** The Redis-backed fleet opt-out store. Open it with `RedisOptOutStore.open('redis://HOST:PORT/DB')`. */
export class RedisOptOutStore implements OptOutStore {
  /** `host:port/db` of the Redis followed (never credentials). */
  readonly target: string;
  readonly #o: ResolvedRedisOptOutStoreOptions;
  readonly #writer: Redis & AddCommand;
  readonly #reader: Redis;
  readonly #local: LocalOptOutSet;
  readonly #cache: WarmStartCache | null;
  /** Why the cache file could not be opened, or null. */
  readonly #cacheUnavailable: string | null;
  readonly #keys: { set: string; log: string; epoch: string };
  #state: SyncState = 'start';
  #position = STREAM_START_ID;
  #epoch: string | null = null;
  #closed = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #positionTimer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #persistence: RedisPersistence | null = null;
  /** Set when Redis would lose acknowledged writes and `onNoPersistence` is 'refuse': adds are refused. */
  #refusal: string | null = null;
  /** The last add failed, and the writer has not reconnected since. */
  #writeFailing: string | null = null;
  #caughtUp = false;
  #lastCaughtUpMs = Date.now();
  readonly #s = { connected: false, lastSyncMs: null as number | null, lastEntryDelayMs: null as number | null, applied: 0, reloads: 0, writes: 0, writeErrors: 0, errors: 0, lastError: null as string | null, malformed: 0 };

  private constructor(target: string, o: ResolvedRedisOptOutStoreOptions, writer: Redis & AddCommand, reader: Redis, local: LocalOptOutSet, cache: WarmStartCache | null, cacheUnavailable: string | null) {
    this.target = target;
    this.#o = o;
    this.#writer = writer;
    this.#reader = reader;
    this.#local = local;
    this.#cache = cache;
    this.#cacheUnavailable = cacheUnavailable;
    this.#keys = { set: `${o.keyPrefix}:set`, log: `${o.keyPrefix}:log`, epoch: `${o.keyPrefix}:epoch` };
  }

  /**
   * Connects to Redis at `url` (`redis://[user:password@]HOST:PORT/DB`, or `rediss://`), checks
   * what its persistence makes of an acknowledged write (`persistence`; warns, or refuses with
   * `onNoPersistence: 'refuse'`), loads the whole set (or, with `cacheFile`, the cache plus the
   * stream since its position) and starts following. With a cache, an unreachable Redis is not
   * fatal: the store starts from the cache and catches up once Redis answers. A cache file that
   * cannot be opened (locked by another process, damaged, unwritable) is logged and skipped.
   * @throws InvalidArgumentError for a bad URL or options; ConfigError when ioredis is not
   *   installed; OptOutRedisError when Redis cannot be loaded from and there is no usable cache,
   *   or when it would lose acknowledged writes on a restart and `onNoPersistence` is 'refuse'
   */
  static async open(url: string, options?: RedisOptOutStoreOptions): Promise<RedisOptOutStore> {
    if (typeof url !== 'string') throw new InvalidArgumentError('url must be a redis://HOST:PORT/DB URL');
    const target = describeRedisUrl(url);
    const o = resolveRedisOptOutStoreOptions(options);
    const RedisClient = await loadRedisClient();
    const common: RedisOptions = {
      lazyConnect: true,
      connectTimeout: o.connectTimeoutMs,
      // Commands fail at once while disconnected (an add becomes a 503, a read a retry of ours)
      // and are never replayed behind our back after a reconnect.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(FIRST_BACKOFF_MS * 2 ** Math.min(times, 16), o.maxBackoffMs),
    };
    const writer = new RedisClient(url, { ...common, commandTimeout: o.writeTimeoutMs, enableAutoPipelining: true }) as Redis & AddCommand;
    const reader = new RedisClient(url, common);
    writer.defineCommand('uid2OptOutAdd', { numberOfKeys: 2, lua: ADD_SCRIPT });
    let store: RedisOptOutStore | undefined;
    // ioredis emits connection errors as events; the store counts them (an unheard 'error' would be printed).
    const onError = (err: unknown): void => {
      if (store) store.#noteError(err);
    };
    writer.on('error', onError);
    reader.on('error', onError);
    reader.on('ready', () => {
      if (store) store.#wake?.();
    });
    writer.on('ready', () => {
      if (store) store.#writeFailing = null;
    });
    let set: OptOutSet | undefined;
    let cache: WarmStartCache | null = null;
    let cacheUnavailable: string | null = null;
    try {
      if (o.cacheFile !== null) {
        try {
          cache = await WarmStartCache.open(
            o.cacheFile,
            o.logger,
            (records) => (set = new OptOutSet(records)),
            (buf, offset, length, ms) => set!.addAt(buf, offset, length, toOptOutSeconds(ms)),
          );
        } catch (err) {
          set?.close();
          set = undefined;
          cacheUnavailable = failureCode(err);
          o.logger.warn({ event: 'uid2.optout.cache', code: cacheUnavailable }, 'warm-start cache file unusable; following Redis without it (a full load at each start)');
        }
      }
      let connectError: unknown;
      try {
        await Promise.all([writer.connect(), reader.connect()]);
      } catch (err) {
        connectError = err;
      }
      let persistence: RedisPersistence | null = null;
      if (connectError === undefined) {
        persistence = await readRedisPersistence(writer);
        const problem = describeRedisPersistence(persistence);
        if (problem !== null && o.onNoPersistence === 'refuse' && (persistence.durability === 'none' || persistence.durability === 'unknown')) {
          throw new OptOutRedisError(`Redis at ${target}: ${problem}; refusing to acknowledge opt-outs it would lose (onNoPersistence: 'refuse')`);
        }
        if (problem !== null) o.logger.warn({ event: 'uid2.optout.redis', durability: persistence.durability }, problem);
      }
      try {
        if (connectError !== undefined) throw connectError;
        set ??= new OptOutSet(await reader.hlen(`${o.keyPrefix}:set`));
        store = new RedisOptOutStore(target, o, writer, reader, new LocalOptOutSet(set), cache, cacheUnavailable);
        store.#persistence = persistence;
        await store.#prepare();
      } catch (err) {
        if (!cache) {
          const why = cacheUnavailable === null ? '' : ` (and the warm-start cache is unusable: ${cacheUnavailable})`;
          throw new OptOutRedisError(`cannot load opt-outs from Redis at ${target}: ${(err as Error)?.message ?? err}${why}`, { cause: err });
        }
        // Start from the cache; the follow loop connects and catches up.
        store ??= new RedisOptOutStore(target, o, writer, reader, new LocalOptOutSet(set!), cache, cacheUnavailable);
        store.#persistence = persistence;
        store.#noteError(err);
      }
    } catch (err) {
      writer.disconnect();
      reader.disconnect();
      await cache?.close();
      set?.close();
      throw err;
    }
    store.#loop = store.#follow();
    if (cache) {
      store.#positionTimer = setInterval(() => void store.#savePosition(), POSITION_SAVE_MS);
      store.#positionTimer.unref();
    }
    return store;
  }

  /** What Redis's persistence makes of an acknowledged opt-out (read at open, or when Redis was first reached), or null before. */
  get persistence(): RedisPersistence | null {
    return this.#persistence;
  }

  get size(): number {
    return this.#local.size;
  }

  has(rawUid: RawUidInput): boolean {
    return this.#local.has(rawUid);
  }

  optedOutSince(rawUid: RawUidInput): number | undefined {
    return this.#local.optedOutSince(rawUid);
  }

  snapshot(): SharedArrayBuffer {
    return this.#local.snapshot();
  }

  /**
   * Records an opt-out in Redis; resolves once Redis acknowledged it (durable as far as Redis's
   * persistence settings make it: see docs/optout.md) and the local set holds it.
   */
  async add(rawUid: RawUidInput, optedOutMs: number): Promise<OptOutSetChange> {
    if (this.#closed) throw new OptOutClosedError();
    const bytes = typeof rawUid === 'string' ? parseRawUid(rawUid) : rawUid instanceof Uint8Array && isRawUidBytes(rawUid) ? rawUid : null;
    if (!bytes) throw new InvalidArgumentError('rawUid must be standard base64 of 32 or 33 bytes');
    if (!isOptOutMs(optedOutMs)) throw new InvalidArgumentError('optedOutMs must be integer Unix milliseconds from 1000 to 4294967295000');
    if (this.#refusal !== null) {
      this.#s.writeErrors++;
      throw new OptOutWriteError(`Redis at ${this.target}: ${this.#refusal}`);
    }
    const uid = Buffer.from(bytes);
    let result: number;
    try {
      result = await this.#writer.uid2OptOutAdd(this.#keys.set, this.#keys.log, uid, String(optedOutMs), String(this.#o.streamMaxLen));
    } catch (err) {
      this.#s.writeErrors++;
      this.#writeFailing = 'UID2_ERR_OPTOUT_REDIS';
      this.#noteError(err);
      throw new OptOutWriteError(`Redis at ${this.target} did not take the opt-out: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    this.#s.writes++;
    this.#writeFailing = null;
    this.#learn(uid, optedOutMs);
    return CHANGES[result] ?? 'unchanged';
  }

  /** Applies an opt-out to the local set, and queues it for the cache file when it changed the set. */
  #learn(uid: Uint8Array, optedOutMs: number): OptOutSetChange {
    const change = this.#local.apply(uid, optedOutMs);
    if (change !== 'unchanged') this.#cache?.append(uid, optedOutMs);
    return change;
  }

  health(): OptOutStoreHealth {
    if (this.#closed) return { ok: false, reason: 'closed' };
    if (this.#refusal !== null) return { ok: false, reason: 'UID2_ERR_OPTOUT_REDIS' };
    if (this.#writer.status !== 'ready') return { ok: false, reason: 'disconnected' };
    return this.#writeFailing === null ? { ok: true, reason: null } : { ok: false, reason: this.#writeFailing };
  }

  /** The follower's sync state and counters. */
  stats(): RedisOptOutStoreStats {
    const s = this.#s;
    const now = Date.now();
    let lagMs = 0;
    if (!s.connected) lagMs = now - this.#lastCaughtUpMs;
    else if (!this.#caughtUp) lagMs = this.#position === STREAM_START_ID ? now - this.#lastCaughtUpMs : Math.max(0, now - streamIdMs(this.#position));
    const cache: WarmStartCacheStats = this.#cache
      ? this.#cache.stats()
      : { state: this.#o.cacheFile === null ? 'none' : 'unavailable', writes: 0, errors: this.#cacheUnavailable === null ? 0 : 1, lastError: this.#cacheUnavailable };
    return {
      ...s,
      connected: s.connected && this.#reader.status === 'ready',
      healthy: this.health().ok,
      size: this.#local.size,
      lagMs,
      position: this.#position,
      cache,
      persistence: this.#persistence,
    };
  }

  /**
   * Registers Prometheus metrics read from `stats()` (`uid2_optout_size`, `_healthy`,
   * `_connected`, `_lag_seconds`, `_last_sync_timestamp_seconds`, `_applied_total`,
   * `_reloads_total`, `_writes_total`, `_write_errors_total`, `_errors_total`,
   * `_cache_errors_total`) on `register` (default: prom-client's global registry). Needs the
   * optional peer dependency prom-client.
   */
  metrics(register?: MetricsRegistry, options?: OptOutStoreMetricsOptions): Promise<void> {
    return registerOptOutStoreMetrics(() => this.stats(), register, options);
  }

  /** Stops following, saves the cache position, closes both connections and the local set. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#positionTimer);
    this.#wake?.();
    // Ends a blocked XREAD at once; an add in flight on the writer still gets its answer.
    this.#reader.disconnect();
    await this.#loop;
    await this.#writer.quit().catch(() => this.#writer.disconnect());
    await this.#saving;
    await this.#cache?.close();
    this.#local.close();
  }

  #noteError(err: unknown): void {
    this.#s.errors++;
    this.#s.lastError = (err as Error)?.message ?? String(err);
  }

  /** Runs the sync protocol up to 'follow' (see the diagram at the top). */
  async #prepare(): Promise<void> {
    if (this.#state === 'start') {
      if (this.#persistence === null) await this.#checkPersistenceLate();
      await this.#reader.set(this.#keys.epoch, randomBytes(16).toString('hex'), 'NX');
      this.#epoch = await this.#reader.get(this.#keys.epoch);
      const saved = this.#cache?.saved;
      if (saved && saved.epoch === this.#epoch && saved.stream === this.#keys.log) {
        this.#position = saved.lastId;
        this.#state = 'check';
      } else {
        // A cache of another data set (or none) is kept and completed, never emptied: opt-outs are forever.
        this.#state = 'load';
      }
    }
    if (this.#state === 'check') {
      const trimmed = await this.#trimmedSince(this.#position);
      if (trimmed) this.#s.reloads++;
      this.#state = trimmed ? 'load' : 'follow';
    }
    if (this.#state === 'load') {
      const position = await this.#lastGeneratedId();
      await this.#loadHash();
      this.#position = position;
      this.#markCache();
      this.#state = 'follow';
    }
  }

  /** The persistence check of a store that started from its cache while Redis was unreachable. */
  async #checkPersistenceLate(): Promise<void> {
    const persistence = await readRedisPersistence(this.#writer);
    this.#persistence = persistence;
    const problem = describeRedisPersistence(persistence);
    if (problem === null) return;
    if (this.#o.onNoPersistence === 'refuse' && (persistence.durability === 'none' || persistence.durability === 'unknown')) {
      this.#refusal = `${problem}; refusing to acknowledge opt-outs it would lose (onNoPersistence: 'refuse')`;
      this.#o.logger.error({ event: 'uid2.optout.redis', durability: persistence.durability }, this.#refusal);
    } else {
      this.#o.logger.warn({ event: 'uid2.optout.redis', durability: persistence.durability }, problem);
    }
  }

  /** Tells the cache that everything applied so far comes before the current position. */
  #markCache(): void {
    if (this.#cache && this.#epoch !== null) this.#cache.mark({ epoch: this.#epoch, stream: this.#keys.log, lastId: this.#position });
  }

  /** The stream's last generated id (taken before a scan), or 0-0 when it does not exist. */
  async #lastGeneratedId(): Promise<string> {
    const info = await this.#streamInfo();
    const id = info?.get('last-generated-id');
    return isStreamId(id) ? id : STREAM_START_ID;
  }

  /**
   * True when entries after `position` may have been trimmed from the stream. Trimming removes
   * the oldest entries first, so while the entry at `position` is still there, nothing after it
   * is gone. A follower that has seen no entry (position 0-0) reloads when any were trimmed
   * (Redis 7's entries-added above the length; on Redis 6, whenever the stream has entries).
   */
  async #trimmedSince(position: string): Promise<boolean> {
    if (position !== STREAM_START_ID) return (await this.#reader.xrange(this.#keys.log, position, position)).length === 0;
    const info = await this.#streamInfo();
    if (!info || Number(info.get('length')) === 0) return false;
    const added = info.get('entries-added');
    return added === undefined || Number(added) > Number(info.get('length'));
  }

  async #streamInfo(): Promise<Map<string, unknown> | null> {
    let reply: unknown;
    try {
      reply = await this.#reader.call('XINFO', 'STREAM', this.#keys.log);
    } catch (err) {
      if (/no such key/i.test((err as Error)?.message ?? '')) return null;
      throw err;
    }
    const info = new Map<string, unknown>();
    if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) info.set(String(reply[i]), reply[i + 1]);
    return info;
  }

  async #loadHash(): Promise<void> {
    let cursor = '0';
    do {
      const [next, items] = (await this.#reader.hscanBuffer(this.#keys.set, cursor, 'COUNT', this.#o.loadBatch)) as [Buffer, Buffer[]];
      cursor = next.toString('latin1');
      for (let i = 0; i + 1 < items.length; i += 2) this.#applyOne(items[i]!, items[i + 1]!);
    } while (cursor !== '0');
  }

  /** Applies one raw UID and time read from Redis. */
  #applyOne(uid: Buffer | undefined, msText: Buffer | undefined): void {
    const ms = msText && msText.length <= 16 ? Number(msText.toString('latin1')) : NaN;
    if (!uid || !isRawUidBytes(uid) || !isOptOutMs(ms)) {
      this.#s.malformed++;
      return;
    }
    this.#s.applied++;
    this.#learn(uid, ms);
  }

  #applyEntries(entries: StreamEntry[]): void {
    for (const [, fields] of entries) {
      let uid: Buffer | undefined;
      let ms: Buffer | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = fields[i]!;
        if (name.length === 1 && name[0] === 0x75) uid = fields[i + 1];
        else if (name.length === 1 && name[0] === 0x74) ms = fields[i + 1];
      }
      this.#applyOne(uid, ms);
    }
    const last = entries[entries.length - 1];
    if (last) {
      const id = last[0].toString('latin1');
      if (isStreamId(id)) {
        this.#position = id;
        this.#markCache();
        this.#s.lastEntryDelayMs = Date.now() - streamIdMs(id);
      }
    }
  }

  /** The follow loop: runs until close, never throws; the local set stays readable throughout. */
  async #follow(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.#closed) {
      try {
        if (this.#state !== 'follow') await this.#prepare();
        const reply = (await this.#reader.xreadBuffer('COUNT', this.#o.readBatch, 'BLOCK', this.#o.blockMs, 'STREAMS', this.#keys.log, this.#position)) as
          | [Buffer, StreamEntry[]][]
          | null;
        const entries = reply?.[0]?.[1] ?? [];
        this.#applyEntries(entries);
        const now = Date.now();
        this.#s.connected = true;
        this.#s.lastSyncMs = now;
        this.#caughtUp = entries.length < this.#o.readBatch;
        if (this.#caughtUp) this.#lastCaughtUpMs = now;
        backoff = FIRST_BACKOFF_MS;
      } catch (err) {
        if (this.#closed) break;
        this.#noteError(err);
        this.#s.connected = false;
        this.#caughtUp = false;
        if (this.#state === 'follow') this.#state = 'check';
        await this.#pause(backoff);
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
      }
    }
  }

  /** Waits `ms`, or less when the reader reconnects or the store closes. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  /** Saves the cache's durable position (one save at a time; a save asked for meanwhile runs after it). */
  #savePosition(): Promise<void> {
    const cache = this.#cache;
    if (!cache) return this.#saving;
    this.#saving = this.#saving.then(() => cache.savePosition());
    return this.#saving;
  }
}
