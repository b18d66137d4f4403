/**
 * Options of the Redis-backed fleet opt-out store, their defaults and their validation, kept
 * apart from the store so its file stays about the sync protocol.
 */
import { InvalidArgumentError } from '../../errors.js';
import { resolveLogger, type Logger } from '../../observability/logger.js';
import { integerOption } from '../../util/integer-option.js';

export interface RedisOptOutStoreOptions {
  /**
   * Prefix of the store's keys: `<prefix>:set` (hash raw UID -> earliest opt-out ms),
   * `<prefix>:log` (stream of changes), `<prefix>:epoch`. Keep the braces (a Redis Cluster hash
   * tag) so the three keys share one slot. Default `'{uid2:optout}'`.
   */
  keyPrefix?: string;
  /**
   * A local opt-out file (the file store's format) used as a warm-start cache: the process keeps
   * every opt-out it learns there, with its stream position beside it (`<file>.redis-position`),
   * so a restart reads only the stream's tail. Default none (every start loads the whole set).
   */
  cacheFile?: string | null;
  /**
   * Stream entries kept (approximate trim, `XADD MAXLEN ~`). A follower that falls further
   * behind reloads the whole hash instead of reading the stream. Default 1 000 000.
   */
  streamMaxLen?: number;
  /** Hash entries asked for per HSCAN call while loading. Default 10 000. */
  loadBatch?: number;
  /** Stream entries read per XREAD. Default 10 000. */
  readBatch?: number;
  /** How long one XREAD blocks waiting for new entries, ms (the idle sync heartbeat). Default 1000. */
  blockMs?: number;
  /** Longest wait between reconnect attempts, ms (backoff doubles from 50 ms up to it). Default 2000. */
  maxBackoffMs?: number;
  /** Connect timeout, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** An add waiting longer than this for Redis is rejected (the webhook answers 503), ms. Default 5000. */
  writeTimeoutMs?: number;
  /**
   * What `open` does when Redis would lose acknowledged opt-outs on a restart (`appendonly no`)
   * or its persistence cannot be read (CONFIG and INFO refused): `'warn'` logs it (and
   * `store.persistence` says it); `'refuse'` fails the open with OptOutRedisError. Default `'warn'`.
   */
  onNoPersistence?: 'warn' | 'refuse';
  /**
   * A pino-compatible logger for the persistence check and warm-start cache failures (logged once
   * per interval; never a raw UID or a credential). Default: silent.
   */
  logger?: Logger;
}

export const DEFAULT_REDIS_OPTOUT_STORE_OPTIONS: Readonly<Required<Omit<RedisOptOutStoreOptions, 'logger'>>> = Object.freeze({
  keyPrefix: '{uid2:optout}',
  cacheFile: null,
  streamMaxLen: 1_000_000,
  loadBatch: 10_000,
  readBatch: 10_000,
  blockMs: 1000,
  maxBackoffMs: 2000,
  connectTimeoutMs: 5000,
  writeTimeoutMs: 5000,
  onNoPersistence: 'warn',
});

export type ResolvedRedisOptOutStoreOptions = Required<Omit<RedisOptOutStoreOptions, 'logger'>> & { logger: Logger };

export function resolveRedisOptOutStoreOptions(options: unknown): ResolvedRedisOptOutStoreOptions {
  const d = DEFAULT_REDIS_OPTOUT_STORE_OPTIONS;
  if (options === undefined || options === null) return { ...d, logger: resolveLogger(undefined, 'options.logger', 'uid2-optout-redis') };
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('options must be an object');
  const o = options as Record<string, unknown>;
  const keyPrefix = o['keyPrefix'] ?? d.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix === '' || keyPrefix.length > 200) {
    throw new InvalidArgumentError('options.keyPrefix must be a non-empty string of at most 200 characters');
  }
  const cacheFile = o['cacheFile'] ?? d.cacheFile;
  if (cacheFile !== null && (typeof cacheFile !== 'string' || cacheFile === '')) {
    throw new InvalidArgumentError('options.cacheFile must be a non-empty string (a file path) or null');
  }
  const onNoPersistence = o['onNoPersistence'] ?? d.onNoPersistence;
  if (onNoPersistence !== 'warn' && onNoPersistence !== 'refuse') throw new InvalidArgumentError(`options.onNoPersistence must be 'warn' or 'refuse'`);
  return {
    keyPrefix,
    cacheFile,
    onNoPersistence,
    logger: resolveLogger(o['logger'], 'options.logger', 'uid2-optout-redis'),
    streamMaxLen: integerOption(o['streamMaxLen'], 'options.streamMaxLen', d.streamMaxLen, 1_000_000_000),
    loadBatch: integerOption(o['loadBatch'], 'options.loadBatch', d.loadBatch, 1_000_000),
    readBatch: integerOption(o['readBatch'], 'options.readBatch', d.readBatch, 1_000_000),
    blockMs: integerOption(o['blockMs'], 'options.blockMs', d.blockMs, 60_000),
    maxBackoffMs: integerOption(o['maxBackoffMs'], 'options.maxBackoffMs', d.maxBackoffMs, 60_000),
    connectTimeoutMs: integerOption(o['connectTimeoutMs'], 'options.connectTimeoutMs', d.connectTimeoutMs, 600_000),
    writeTimeoutMs: integerOption(o['writeTimeoutMs'], 'options.writeTimeoutMs', d.writeTimeoutMs, 600_000),
  };
}

/** True for a `redis://` or `rediss://` URL (what the CLI's `--store` tells from a file path). */
export function isRedisUrl(text: string): boolean {
  return /^rediss?:\/\//i.test(text);
}

/**
 * `host:port/db` of a Redis URL, for messages: never the user name or password.
 * @throws InvalidArgumentError for a URL that is not redis:// or rediss:// with a host
 */
export function describeRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('url must be a redis://HOST:PORT/DB URL');
  }
  if ((parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
    throw new InvalidArgumentError('url must be a redis://HOST:PORT/DB URL');
  }
  const db = parsed.pathname.replace(/^\//, '') || '0';
  if (!/^\d{1,5}$/.test(db)) throw new InvalidArgumentError('url must be a redis://HOST:PORT/DB URL (DB a number)');
  return `${parsed.hostname}:${parsed.port || '6379'}/${db}`;
}
