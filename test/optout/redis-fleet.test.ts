/**
 * The fleet path against a real redis-server, with real processes: the CLI with
 * `--store redis://...` (`optout serve`, `optout backfill`, `decrypt --optout-store`), and the
 * fault tests of issue 15: Redis SIGKILLed and restarted (AOF, appendfsync always) while the
 * local operator delivers opt-outs through the receiver (0 acknowledged lost, follower processes
 * converge); a follower SIGKILLed and restarted on its warm-start cache converges; Redis down for
 * 10 s (UID2_REDIS_OUTAGE_MS shortens it while developing: the code path does not depend on the
 * length) while a client decrypts without pause.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../bench/free-port.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus } from '../../src/index.js';
import { startLocalOperator } from '../../src/testing.js';
import { readCachePosition } from '../../src/optout/redis/position.js';
import { RedisOptOutStore } from '../../src/optout/redis/store.js';
import { CLI_PATH, jsonLines, runCli } from '../helpers/cli.js';
import { RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const FOLLOWER = join(dirname(fileURLToPath(import.meta.url)), '../helpers/redis-follower.mjs');
const OUTAGE_MS = Number(process.env['UID2_REDIS_OUTAGE_MS'] ?? 10_000);
let redis: RedisServer;
let dir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'uid2-redis-fleet-'));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await redis.destroy();
  rmSync(dir, { recursive: true, force: true });
});


/** `optout serve --store <url>` on `port`; resolves once it printed its URL. */
async function startReceiver(port: number, url: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [CLI_PATH, 'optout', 'serve', '--port', String(port), '--store', url, '--allow-unauthenticated'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
  });
  return proc;
}

interface Follower {
  proc: ChildProcess;
  /** Asks how many of the raw UIDs in `file` it does not hold. */
  check(file: string): Promise<{ missing: number; size: number; stats: Record<string, unknown> }>;
}

async function startFollower(options: { url: string; cacheFile?: string }): Promise<Follower & { ready: { size: number } }> {
  const proc = spawn(process.execPath, [FOLLOWER, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  const lines: Interface = createInterface({ input: proc.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await iterator.next();
    if (done) throw new Error(`follower ${proc.pid} exited (${proc.exitCode})`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
  const ready = (await next()) as { size: number };
  return {
    proc,
    ready,
    async check(file) {
      proc.stdin!.write(`${file}\n`);
      return (await next()) as Awaited<ReturnType<Follower['check']>>;
    },
  };
}

async function stopFollower(f: Follower): Promise<void> {
  f.proc.stdin!.end();
  if (f.proc.exitCode === null) await once(f.proc, 'exit');
}

function uidFile(name: string, uids: readonly string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${uids.join('\n')}\n`);
  return path;
}

describe('the fleet path with the CLI and a real redis-server', () => {
  it('optout serve, optout backfill and decrypt --optout-store accept --store redis://HOST:PORT/DB', async () => {
    const url = `redis://127.0.0.1:${redis.port}/1`;
    const port = await freePort();
    const receiver = await startReceiver(port, url);
    const op = await startLocalOperator({ optOutWebhook: { url: `http://127.0.0.1:${port}/optout`, retryBaseMs: 20 } });
    try {
      const viaWebhook = op.randomRawUid();
      op.optOut(viaWebhook);
      await until(() => op.deliveredOptOuts(), (d) => d.includes(viaWebhook), 'the receiver to acknowledge');
      // Backfill: the operator knows an opt-out the webhook never delivered (no webhook on this one).
      const quiet = await startLocalOperator();
      const viaBackfill = quiet.randomRawUid();
      quiet.optOut(viaBackfill, 1_710_000_000_000);
      const input = uidFile('backfill.txt', [viaBackfill, quiet.randomRawUid()]);
      const backfill = await runCli(['optout', 'backfill', '--input', input, '--store', url, '--base-url', quiet.url, '--api-key', quiet.apiKey, '--secret-key', quiet.secretKey]);
      expect(backfill.stderr).toBe('');
      expect(JSON.parse(backfill.stdout)).toMatchObject({ checked: 2, optedOut: 1, recorded: 1, storeSize: 2 });
      await quiet.close();

      const kept = op.randomRawUid();
      const keysFile = join(dir, 'keys.json');
      writeFileSync(keysFile, JSON.stringify(op.keyResponse('bidstream')));
      const tokens = [viaWebhook, viaBackfill, kept].map((rawUid) => op.mintToken({ version: 4, rawUid }));
      const run = await runCli(['decrypt', '--keys', keysFile, '--optout-store', url, ...tokens]);
      expect(run.stderr).toBe('');
      expect(jsonLines(run.stdout).map((r) => [r['uid'], r['optedOut']])).toEqual([
        [null, true],
        [null, true],
        [kept, false],
      ]);
      const unreachable = await runCli(['decrypt', '--keys', keysFile, '--optout-store', `redis://user:hunter2@127.0.0.1:${await freePort()}/0`, tokens[0]!]);
      expect(unreachable.code).toBe(2);
      expect(unreachable.stderr).toContain('cannot open opt-out store in Redis');
      expect(unreachable.stderr).not.toContain('hunter2');
    } finally {
      await op.close();
      receiver.kill('SIGTERM');
      await once(receiver, 'exit');
    }
  });

  it('Redis SIGKILLed and restarted (AOF) while opt-outs flow: 0 acknowledged lost, 3 follower processes converge', async () => {
    const url = `redis://127.0.0.1:${redis.port}/2`;
    const port = await freePort();
    const receiver = await startReceiver(port, url);
    const followers = await Promise.all([0, 1, 2].map(() => startFollower({ url })));
    const op = await startLocalOperator({
      optOutWebhook: { url: `http://127.0.0.1:${port}/optout`, concurrency: 16, retryBaseMs: 20, retryMaxMs: 250, maxAttempts: 100_000 },
    });
    const N = 2000;
    try {
      const uids = Array.from({ length: N }, () => op.randomRawUid());
      for (const u of uids) op.optOut(u, Date.now());
      await until(() => op.optOutDelivery.delivered, (d) => d >= 200, 'some opt-outs to be acknowledged');
      const acknowledged = [...op.deliveredOptOuts()];
      await redis.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      await redis.restart();
      // Everything acknowledged before the crash is in Redis after the AOF replay.
      const plain = new Redis(url);
      const present = await Promise.all(acknowledged.map((u) => plain.hexists('{uid2:optout}:set', Buffer.from(u, 'base64') as unknown as string)));
      expect({ acknowledged: acknowledged.length, lost: present.filter((p) => p === 0).length }).toEqual({ acknowledged: acknowledged.length, lost: 0 });
      await until(() => op.optOutDelivery.delivered, (d) => d >= N, 'the retries to deliver all', 1200, 25);
      expect(op.optOutDelivery).toMatchObject({ delivered: N, failed: 0, pending: 0 });
      expect(await plain.hlen('{uid2:optout}:set')).toBe(N);
      plain.disconnect();
      const file = uidFile('flow.txt', uids);
      for (const f of followers) {
        const answer = await until(() => f.check(file), (a) => a.missing === 0, `follower ${f.proc.pid} to converge`, 400, 50);
        expect(answer.size).toBe(N);
      }
    } finally {
      await op.close();
      await Promise.all(followers.map(stopFollower));
      receiver.kill('SIGTERM');
      await once(receiver, 'exit');
    }
  });

  it('a follower SIGKILLed mid-stream and restarted on its warm-start cache converges (reading the stream tail, not the hash)', async () => {
    const url = `redis://127.0.0.1:${redis.port}/3`;
    const cacheFile = join(dir, 'follower-cache.log');
    const writer = await RedisOptOutStore.open(url);
    const first = await startFollower({ url, cacheFile });
    const uids = Array.from({ length: 4000 }, () => randomBytes(32).toString('base64'));
    try {
      let written = 0;
      const writing = (async () => {
        for (; written < uids.length; written += 100) await Promise.all(uids.slice(written, written + 100).map((u) => writer.add(u, Date.now())));
      })();
      await until(() => written, (w) => w >= 1500, 'opt-outs to flow');
      // Killed once its position file is past some of the flow (saved once a second), so the
      // restart has a tail to read rather than the whole stream.
      await until(() => readCachePosition(cacheFile), (p) => p !== null && p.lastId !== '0-0', 'a saved position inside the flow', 400, 25);
      first.proc.kill('SIGKILL');
      await once(first.proc, 'exit');
      await writing;
      const second = await startFollower({ url, cacheFile });
      const file = uidFile('killed.txt', uids);
      const answer = await until(() => second.check(file), (a) => a.missing === 0, 'the restarted follower to converge', 400, 50);
      expect(answer.size).toBe(uids.length);
      // It resumed from the cache's position: no reload of the hash, fewer entries applied than exist.
      expect(answer.stats['reloads']).toBe(0);
      expect(answer.stats['applied'] as number).toBeLessThan(uids.length);
      await stopFollower(second);
    } finally {
      if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
      await writer.close();
    }
  });

  it(`Redis down ${OUTAGE_MS} ms: decryption goes on with the last known set, adds fail, the follower catches up after`, async () => {
    const url = `redis://127.0.0.1:${redis.port}/4`;
    const op = await startLocalOperator();
    const writer = await RedisOptOutStore.open(url, { maxBackoffMs: 200, writeTimeoutMs: 1000 });
    const follower = await RedisOptOutStore.open(url, { maxBackoffMs: 200, blockMs: 200 });
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey, { optOut: follower });
    expect((await client.refresh()).success).toBe(true);
    const opted = op.randomRawUid();
    const kept = op.randomRawUid();
    const later = op.randomRawUid();
    await writer.add(opted, Date.now());
    await until(() => follower.has(opted), Boolean, 'the follower to see the opt-out');
    const tokens = [opted, kept, later].map((rawUid) => op.mintToken({ version: 4, rawUid }));
    // Decrypt continuously on this thread, counting results per 100 ms window.
    const windows: number[] = [];
    let wrong = 0;
    let running = true;
    const decrypting = (async () => {
      while (running) {
        const end = Date.now() + 100;
        let n = 0;
        while (Date.now() < end) {
          const [a, b] = [client.decryptTokenIntoRawUid(tokens[0]!), client.decryptTokenIntoRawUid(tokens[1]!)];
          if (a.status !== DecryptionStatus.Success || a.optedOut !== true || b.optedOut !== false || b.uid !== kept) wrong++;
          n += 2;
        }
        windows.push(n);
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      await redis.stop('SIGKILL');
      const outageStart = windows.length;
      await expect(writer.add(later, Date.now())).rejects.toThrow(/did not take the opt-out/);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      const outageWindows = windows.slice(outageStart);
      expect(follower.stats().connected).toBe(false);
      await redis.restart();
      await until(() => writer.add(later, Date.now()).then(() => true, () => false), Boolean, 'the writer to reconnect');
      await until(() => client.decryptTokenIntoRawUid(tokens[2]!).optedOut, (o) => o === true, 'the follower to catch up');
      running = false;
      await decrypting;
      // Decryption never stopped: every window of the outage produced results, all correct.
      expect(outageWindows.length).toBeGreaterThan(0);
      expect(outageWindows.filter((n) => n === 0)).toEqual([]);
      expect(wrong).toBe(0);
      expect(follower.stats()).toMatchObject({ connected: true });
    } finally {
      running = false;
      await decrypting;
      if (!redis.running) await redis.restart();
      client.close();
      await writer.close();
      await follower.close();
      await op.close();
    }
  });
});
