/**
 * RedisOptOutStore against a real redis-server (test/helpers/redis-server.ts; never mocked, never
 * skipped): writes, followers, the initial load, the warm-start cache, trimming, Redis down and
 * back (reads go on, writes are 503s, followers catch up), options and the missing-package path.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError, OptOutClosedError, OptOutRedisError, OptOutWriteError } from '../../src/errors.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { loadRedisClient } from '../../src/optout/redis/client.js';
import { describeRedisUrl, isRedisUrl, resolveRedisOptOutStoreOptions } from '../../src/optout/redis/options.js';
import { readCachePosition } from '../../src/optout/redis/position.js';
import { RedisOptOutStore } from '../../src/optout/redis/store.js';
import { createOptOutHandler } from '../../src/optout/webhook/handler.js';
import { RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

let redis: RedisServer;
let dir: string;
let prefixes = 0;
const T0 = 1_700_000_000_000;

/** A fresh key prefix per test: tests share one server but never each other's data. */
function prefix(): string {
  return `{t${process.pid}-${++prefixes}}`;
}

function uid(): string {
  return randomBytes(32).toString('base64');
}

beforeAll(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'uid2-redis-store-'));
});
afterAll(async () => {
  await redis.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('RedisOptOutStore', () => {
  it('acknowledges an add once Redis holds it, keeps the earliest time, and a follower sees it', async () => {
    const keyPrefix = prefix();
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    const follower = await RedisOptOutStore.open(redis.url, { keyPrefix, blockMs: 200 });
    try {
      const a = uid();
      expect(writer.has(a)).toBe(false);
      expect(await writer.add(a, T0 + 5000)).toBe('added');
      expect(writer.has(a)).toBe(true);
      expect(await writer.add(a, T0 + 9000)).toBe('unchanged');
      expect(await writer.add(Buffer.from(a, 'base64'), T0)).toBe('earlier');
      expect(writer.optedOutSince(a)).toBe(T0);
      // What Redis holds, read with a plain client.
      const plain = new Redis(redis.url);
      expect(await plain.hget(`${keyPrefix}:set`, Buffer.from(a, 'base64') as unknown as string)).toBe(String(T0));
      expect(await plain.xlen(`${keyPrefix}:log`)).toBe(2); // the 'unchanged' add wrote nothing
      plain.disconnect();
      await until(() => follower.optedOutSince(a), (t) => t === T0, 'the follower to apply both entries');
      const s = follower.stats();
      expect(s).toMatchObject({ connected: true, size: 1, errors: 0, malformed: 0, writes: 0 });
      expect(s.lastSyncMs).toBeGreaterThan(0);
      expect(s.position).toMatch(/^[1-9]\d*-\d+$/);
      expect(writer.stats().writes).toBe(3);
      expect(writer.has('not a raw uid')).toBe(false);
      expect(writer.optedOutSince(uid())).toBeUndefined();
      expect(new Int32Array(follower.snapshot()).length).toBeGreaterThan(16);
    } finally {
      await writer.close();
      await follower.close();
    }
    await writer.close(); // idempotent
    await expect(writer.add(uid(), T0)).rejects.toBeInstanceOf(OptOutClosedError);
  });

  it('rejects malformed raw UIDs and times without touching Redis', async () => {
    const store = await RedisOptOutStore.open(redis.url, { keyPrefix: prefix() });
    try {
      await expect(store.add('abc', T0)).rejects.toThrow(new InvalidArgumentError('rawUid must be standard base64 of 32 or 33 bytes'));
      await expect(store.add(new Uint8Array(31), T0)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.add(uid(), 1.5)).rejects.toThrow('optedOutMs must be integer Unix milliseconds from 1000 to 4294967295000');
      expect(store.stats().writes).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('loads the whole set on open, in chunks (33-byte raw UIDs too), and skips malformed entries', async () => {
    const keyPrefix = prefix();
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    const uids = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? randomBytes(33) : randomBytes(32)).toString('base64'));
    await Promise.all(uids.map((u, i) => writer.add(u, T0 + i * 1000)));
    const plain = new Redis(redis.url);
    await plain.hset(`${keyPrefix}:set`, 'short', String(T0), Buffer.alloc(32, 7) as unknown as string, 'not a time');
    plain.disconnect();
    const fresh = await RedisOptOutStore.open(redis.url, { keyPrefix, loadBatch: 100 });
    try {
      expect(fresh.size).toBe(3000);
      expect(uids.every((u, i) => fresh.optedOutSince(u) === T0 + i * 1000)).toBe(true);
      expect(fresh.stats().malformed).toBe(2);
    } finally {
      await fresh.close();
      await writer.close();
    }
  });

  it('with a warm-start cache, a restart reads only the stream tail; a cache of another data set is completed', async () => {
    const keyPrefix = prefix();
    const cacheFile = join(dir, `cache-${prefixes}.log`);
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    const first = Array.from({ length: 500 }, uid);
    await Promise.all(first.map((u) => writer.add(u, T0)));
    const cached = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile });
    expect(cached.size).toBe(500);
    await cached.close();
    const saved = await readCachePosition(cacheFile);
    expect(saved?.stream).toBe(`${keyPrefix}:log`);

    const more = Array.from({ length: 20 }, uid);
    await Promise.all(more.map((u) => writer.add(u, T0)));
    const again = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile, blockMs: 200 });
    try {
      await until(() => again.size, (n) => n === 520, 'the tail to be applied');
      // Only the 20 new stream entries were read, not the 520-entry hash.
      expect(again.stats().applied).toBe(20);
      expect(more.every((u) => again.has(u))).toBe(true);
    } finally {
      await again.close();
    }
    // The cache file alone holds all of them.
    const file = await FileOptOutStore.open(cacheFile, { readOnly: true });
    expect(file.size).toBe(520);
    await file.close();

    // Another data set (new prefix, so a new epoch): the cache is kept and the hash loaded into it.
    const other = prefix();
    const otherWriter = await RedisOptOutStore.open(redis.url, { keyPrefix: other });
    await otherWriter.add(uid(), T0);
    const merged = await RedisOptOutStore.open(redis.url, { keyPrefix: other, cacheFile });
    expect(merged.size).toBe(521);
    await merged.close();
    await otherWriter.close();
    await writer.close();
  });

  it('reloads the hash when the stream was trimmed past a cached position', async () => {
    const keyPrefix = prefix();
    const cacheFile = join(dir, `trim-${prefixes}.log`);
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix, streamMaxLen: 10 });
    await writer.add(uid(), T0);
    const cached = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile });
    await cached.close();
    const later = Array.from({ length: 2000 }, uid);
    for (let i = 0; i < later.length; i += 200) await Promise.all(later.slice(i, i + 200).map((u) => writer.add(u, T0)));
    const plain = new Redis(redis.url);
    expect(await plain.xlen(`${keyPrefix}:log`)).toBeLessThan(2000);
    plain.disconnect();
    const again = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile });
    try {
      expect(again.stats().reloads).toBe(1);
      expect(again.size).toBe(2001);
      expect(later.every((u) => again.has(u))).toBe(true);
    } finally {
      await again.close();
      await writer.close();
    }
  });

  it('Redis down: reads go on with the last set, adds fail (the webhook answers 503, never 200), followers catch up', async () => {
    const keyPrefix = prefix();
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix, maxBackoffMs: 200, writeTimeoutMs: 1000 });
    const follower = await RedisOptOutStore.open(redis.url, { keyPrefix, maxBackoffMs: 200, blockMs: 200 });
    const server: Server = createServer(createOptOutHandler(writer, { path: '/optout' }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const hook = (u: string): Promise<Response> =>
      fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/optout?identity=${encodeURIComponent(u)}&timestamp=${Math.floor(T0 / 1000)}`);
    try {
      const before = uid();
      expect((await hook(before)).status).toBe(200);
      await until(() => follower.has(before), Boolean, 'the follower to see the first opt-out');

      await redis.stop('SIGKILL');
      const during = uid();
      const answers: number[] = [];
      for (let i = 0; i < 5; i++) answers.push((await hook(during)).status);
      expect(answers).toEqual([503, 503, 503, 503, 503]);
      await expect(writer.add(uid(), T0)).rejects.toBeInstanceOf(OptOutWriteError);
      expect(writer.has(during)).toBe(false);
      // Reads answer from the local set while Redis is away.
      expect(follower.has(before)).toBe(true);
      await until(() => follower.stats(), (s) => !s.connected && s.errors > 0, 'the follower to notice the outage');
      expect(writer.stats().writeErrors).toBeGreaterThanOrEqual(1);
      expect(writer.health().ok).toBe(false);
      expect(writer.stats().healthy).toBe(false);

      await redis.restart();
      const after = await until(() => hook(during), (r) => r.status === 200, 'the receiver to take writes again');
      expect(after.status).toBe(200);
      expect(writer.health()).toEqual({ ok: true, reason: null });
      await until(() => follower.has(during), Boolean, 'the follower to catch up');
      const s = follower.stats();
      expect(s.connected).toBe(true);
      expect(s.lastError).not.toBeNull();
    } finally {
      if (!redis.running) await redis.restart();
      await new Promise<void>((r) => server.close(() => r()));
      await writer.close();
      await follower.close();
    }
  });

  it('without a cache, open fails with OptOutRedisError when Redis is unreachable; with one it starts from the cache', async () => {
    const keyPrefix = prefix();
    const cacheFile = join(dir, `down-${prefixes}.log`);
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    const a = uid();
    await writer.add(a, T0);
    await writer.close();
    await (await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile })).close();

    await redis.stop();
    try {
      await expect(RedisOptOutStore.open(redis.url, { keyPrefix, connectTimeoutMs: 500 })).rejects.toBeInstanceOf(OptOutRedisError);
      const fromCache = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile, maxBackoffMs: 200, blockMs: 200 });
      try {
        expect(fromCache.has(a)).toBe(true);
        expect(fromCache.stats().connected).toBe(false);
        await redis.restart();
        const w = await RedisOptOutStore.open(redis.url, { keyPrefix });
        const b = uid();
        await w.add(b, T0);
        await w.close();
        await until(() => fromCache.has(b), Boolean, 'the cached store to connect and catch up');
        expect(fromCache.stats().connected).toBe(true);
      } finally {
        await fromCache.close();
      }
    } finally {
      if (!redis.running) await redis.restart();
    }
  });
});

describe('Redis store metrics', () => {
  it('exposes size, connection, lag, last sync and counters from stats() on a prom-client registry', async () => {
    const store = await RedisOptOutStore.open(redis.url, { keyPrefix: prefix(), blockMs: 100 });
    try {
      await store.add(uid(), T0);
      await until(() => store.stats().lastSyncMs, (t) => t !== null, 'a first read');
      const registry = new Registry();
      await store.metrics(registry);
      const text = await registry.metrics();
      expect(text).toMatch(/^uid2_optout_size 1$/m);
      expect(text).toMatch(/^uid2_optout_connected 1$/m);
      expect(text).toMatch(/^uid2_optout_writes_total 1$/m);
      expect(text).toMatch(/^uid2_optout_write_errors_total 0$/m);
      expect(text).toMatch(/^uid2_optout_lag_seconds \d/m);
      const lastSync = Number(/^uid2_optout_last_sync_timestamp_seconds (\S+)$/m.exec(text)![1]);
      expect(lastSync).toBeGreaterThan(T0 / 1000);
      await expect(store.metrics(registry)).rejects.toThrow('metrics named uid2_optout_* are already registered on this registry: pass another options.prefix');
      await expect(store.metrics(registry, { prefix: 'bad prefix' })).rejects.toThrow(InvalidArgumentError);
      await expect(store.metrics({} as Registry, { prefix: 'other_' })).rejects.toThrow('register must be a prom-client Registry');
      await store.metrics(registry, { prefix: 'second_' });
      expect(await registry.metrics()).toMatch(/^second_size 1$/m);
    } finally {
      await store.close();
    }
  });
});

describe('Redis store options and loading', () => {
  it('validates options with messages that name them', () => {
    expect(resolveRedisOptOutStoreOptions(undefined).keyPrefix).toBe('{uid2:optout}');
    const cases: [unknown, string][] = [
      [[], 'options must be an object'],
      [{ keyPrefix: '' }, 'options.keyPrefix must be a non-empty string of at most 200 characters'],
      [{ cacheFile: 3 }, 'options.cacheFile must be a non-empty string (a file path) or null'],
      [{ streamMaxLen: 0 }, 'options.streamMaxLen must be a positive integer no larger than 1000000000'],
      [{ loadBatch: 1.5 }, 'options.loadBatch must be a positive integer no larger than 1000000'],
      [{ readBatch: -1 }, 'options.readBatch must be a positive integer no larger than 1000000'],
      [{ blockMs: 'x' }, 'options.blockMs must be a positive integer no larger than 60000'],
      [{ maxBackoffMs: 0 }, 'options.maxBackoffMs must be a positive integer no larger than 60000'],
      [{ connectTimeoutMs: 0 }, 'options.connectTimeoutMs must be a positive integer no larger than 600000'],
      [{ writeTimeoutMs: 0 }, 'options.writeTimeoutMs must be a positive integer no larger than 600000'],
      [{ onNoPersistence: 'ignore' }, "options.onNoPersistence must be 'warn' or 'refuse'"],
      [{ logger: {} }, 'options.logger must have info, warn, error and debug functions'],
    ];
    for (const [options, message] of cases) expect(() => resolveRedisOptOutStoreOptions(options), message).toThrow(new InvalidArgumentError(message));
  });

  it('tells Redis URLs from paths and describes them without credentials', async () => {
    expect(isRedisUrl('redis://h:1/2')).toBe(true);
    expect(isRedisUrl('rediss://h')).toBe(true);
    expect(isRedisUrl('/var/lib/optouts.log')).toBe(false);
    expect(describeRedisUrl('redis://user:secret@cache.internal:6380/3')).toBe('cache.internal:6380/3');
    expect(describeRedisUrl('redis://cache.internal')).toBe('cache.internal:6379/0');
    for (const bad of ['http://h:1/0', 'redis://', 'redis://h:1/x', 'nonsense']) expect(() => describeRedisUrl(bad), bad).toThrow(InvalidArgumentError);
    await expect(RedisOptOutStore.open('file.log')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(RedisOptOutStore.open(7 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('says to install ioredis when it cannot be loaded', async () => {
    await expect(loadRedisClient('ioredis-not-installed-here')).rejects.toThrow(ConfigError);
    await expect(loadRedisClient('ioredis-not-installed-here')).rejects.toThrow(/npm install ioredis/);
    expect(typeof (await loadRedisClient())).toBe('function');
  });
});
