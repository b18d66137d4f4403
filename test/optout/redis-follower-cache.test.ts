/**
 * The fleet store's local set never depends on its warm-start cache file (issue 23, finding 2),
 * against a real redis-server and a real full disk (a small tmpfs): while the cache's disk is
 * full the follower keeps learning every opt-out Redis acknowledged, `connected` stays about the
 * connection, the failure is counted and logged once per interval; after space is freed it keeps
 * following, and a restart on the cache holds everything. A cache file that cannot be opened is
 * worked around. And the store checks Redis's persistence at open (warns, or refuses on request).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptOutRedisError } from '../../src/errors.js';
import type { Logger } from '../../src/observability/logger.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { RedisOptOutStore } from '../../src/optout/redis/store.js';
import { RedisServer } from '../helpers/redis-server.js';
import { SmallDisk } from '../helpers/small-disk.js';
import { until } from '../helpers/wait.js';

const T0 = 1_700_000_000_000;
const uid = (): string => randomBytes(32).toString('base64');
let redis: RedisServer;
let dir: string;
let prefixes = 0;
const prefix = (): string => `{c${process.pid}-${++prefixes}}`;

function capture(): { logger: Logger; lines: { level: string; obj: Record<string, unknown>; msg?: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') }, lines };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'uid2-follower-cache-'));
});
afterAll(async () => {
  await redis.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('a follower whose warm-start cache is on a full disk', () => {
  it('keeps learning every opt-out Redis acknowledged, stays connected, counts and logs the cache failure; converges after space is freed and after a restart', async () => {
    const disk = SmallDisk.mount(256 * 1024);
    const keyPrefix = prefix();
    const cacheFile = join(disk.dir, 'cache.log');
    const { logger, lines } = capture();
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    let follower = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile, blockMs: 200, logger });
    try {
      const early = Array.from({ length: 20 }, uid);
      await Promise.all(early.map((u) => writer.add(u, T0)));
      await until(() => early.every((u) => follower.has(u)), Boolean, 'the follower to learn the first 20');
      expect(follower.stats().cache).toMatchObject({ state: 'ok', errors: 0 });

      disk.fill();
      const full = Array.from({ length: 400 }, uid);
      for (let i = 0; i < full.length; i += 50) await Promise.all(full.slice(i, i + 50).map((u) => writer.add(u, T0)));
      await until(() => full.filter((u) => !follower.has(u)).length, (n) => n === 0, 'the follower to learn all 400 while its cache disk is full');
      await until(() => follower.stats().cache.state, (s) => s === 'incomplete', 'the cache failure to be counted');
      const s = follower.stats();
      expect(s.connected).toBe(true);
      expect(s.cache.errors).toBeGreaterThan(0);
      expect(s.cache.lastError).toBe('ENOSPC');
      expect(s.lastError).toBeNull();
      const cacheLines = lines.filter((l) => l.obj['event'] === 'uid2.optout.cache' && l.level === 'error');
      expect(cacheLines.length).toBe(1);
      expect(cacheLines[0]!.obj).toMatchObject({ code: 'ENOSPC' });

      disk.free();
      const after = Array.from({ length: 20 }, uid);
      await Promise.all(after.map((u) => writer.add(u, T0)));
      await until(() => after.every((u) => follower.has(u)), Boolean, 'the follower to learn the 20 after space was freed');
      expect(follower.stats().connected).toBe(true);
      const registry = new Registry();
      await follower.metrics(registry);
      expect(await registry.getSingleMetricAsString('uid2_optout_cache_errors_total')).toMatch(/uid2_optout_cache_errors_total [1-9]/);

      // A restart on the cache: its saved position is from before the first lost write, so the
      // stream is read again from there.
      await follower.close();
      follower = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile, blockMs: 200 });
      const all = [...early, ...full, ...after];
      await until(() => all.filter((u) => !follower.has(u)).length, (n) => n === 0, 'the restarted follower to hold all 440');
      expect(follower.stats().cache.state).toBe('ok');
      expect(follower.size).toBe(440);
    } finally {
      await follower.close();
      await writer.close();
      disk.destroy();
    }
  }, 60_000);

  it('a cache file another process holds (or that is damaged) is logged and skipped: the store loads from Redis and follows', async () => {
    const keyPrefix = prefix();
    const cacheFile = join(dir, `held-${prefixes}.log`);
    const writer = await RedisOptOutStore.open(redis.url, { keyPrefix });
    const a = uid();
    await writer.add(a, T0);
    const holder = await FileOptOutStore.open(cacheFile);
    const { logger, lines } = capture();
    const follower = await RedisOptOutStore.open(redis.url, { keyPrefix, cacheFile, blockMs: 200, logger });
    try {
      expect(follower.has(a)).toBe(true);
      expect(follower.stats().cache).toMatchObject({ state: 'unavailable', errors: 1, lastError: 'UID2_ERR_OPTOUT_LOCKED' });
      expect(lines.some((l) => l.level === 'warn' && l.obj['code'] === 'UID2_ERR_OPTOUT_LOCKED')).toBe(true);
      const b = uid();
      await writer.add(b, T0);
      await until(() => follower.has(b), Boolean, 'the follower to follow without a cache');
    } finally {
      await follower.close();
      await holder.close();
      await writer.close();
    }
  });
});

describe('Redis persistence checked at open', () => {
  it('a Redis without AOF: open warns (and says so in persistence); with onNoPersistence "refuse" it refuses', async () => {
    const volatile = await RedisServer.start({ appendonly: false });
    try {
      const { logger, lines } = capture();
      const store = await RedisOptOutStore.open(volatile.url, { keyPrefix: prefix(), logger });
      expect(store.persistence).toEqual({ durability: 'none', appendonly: false, appendfsync: 'always' });
      expect(store.stats().persistence?.durability).toBe('none');
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
        'Redis runs without AOF (appendonly no): acknowledged opt-outs would not survive a Redis restart (set appendonly yes, appendfsync always)',
      ]);
      await store.close();
      const refused = await RedisOptOutStore.open(volatile.url, { keyPrefix: prefix(), onNoPersistence: 'refuse' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OptOutRedisError);
      expect((refused as Error).message).toContain('would not survive a Redis restart');
    } finally {
      await volatile.destroy();
    }
  });

  it('AOF with appendfsync always: no warning; everysec: a warning about machine crashes, not refused', async () => {
    const { logger, lines } = capture();
    const durable = await RedisOptOutStore.open(redis.url, { keyPrefix: prefix(), logger, onNoPersistence: 'refuse' });
    expect(durable.persistence).toEqual({ durability: 'always', appendonly: true, appendfsync: 'always' });
    await durable.close();
    expect(lines).toEqual([]);
    const everysec = await RedisServer.start({ appendfsync: 'everysec' });
    try {
      const store = await RedisOptOutStore.open(everysec.url, { keyPrefix: prefix(), logger, onNoPersistence: 'refuse' });
      expect(store.persistence?.durability).toBe('restart');
      expect(lines.map((l) => l.msg)).toEqual([expect.stringContaining('not a machine crash')]);
      await store.close();
    } finally {
      await everysec.destroy();
    }
  });
});
