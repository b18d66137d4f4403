/**
 * Write failures are transient until proven otherwise (issue 23, finding 3), on a real full disk
 * (a small tmpfs, test/helpers/small-disk.ts): the failing group is rejected (503), later groups
 * are tried again, the store reopens and verifies the file before acknowledging again, the
 * receiver answers /healthz 503 meanwhile and logs one line per interval, and after space is
 * freed every delivery is 200 and every 200 is on disk after a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OptOutCorruptError, OptOutWriteError } from '../../src/errors.js';
import { LOG_HEADER_BYTES } from '../../src/optout/file/format.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { createOptOutHandler } from '../../src/optout/webhook/handler.js';
import type { Logger } from '../../src/observability/logger.js';
import { CLI_PATH } from '../helpers/cli.js';
import { SmallDisk } from '../helpers/small-disk.js';

const T = 1_700_000_000_000;
const NOW_S = Math.floor(Date.now() / 1000);
const uid = (): string => randomBytes(32).toString('base64');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function disk(bytes: number): SmallDisk {
  const d = SmallDisk.mount(bytes);
  cleanups.push(() => d.destroy());
  return d;
}

/** A logger that keeps every line. */
function capture(): { logger: Logger; lines: { level: string; obj: Record<string, unknown>; msg?: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') }, lines };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const deliver = (url: string, u: string): Promise<number> =>
  fetch(`${url}/optout?identity=${encodeURIComponent(u)}&timestamp=${NOW_S}`).then(
    (r) => r.status,
    () => 0,
  );

describe('the file store on a full disk', () => {
  it('fails the group that hit ENOSPC, takes the next ones once space is back, after reopening and verifying the file', async () => {
    const d = disk(256 * 1024);
    const path = join(d.dir, 'optouts.log');
    const store = await FileOptOutStore.open(path);
    cleanups.push(() => store.close());
    const before = Array.from({ length: 50 }, uid);
    for (const u of before) await store.add(u, T);
    d.fill();
    // The log's last page still has room for a few groups; the first to need a new page fails.
    const during: { u: string; ok: boolean; err?: unknown }[] = [];
    for (let i = 0; i < 200; i++) {
      const u = uid();
      during.push(await store.add(u, T).then(
        () => ({ u, ok: true }),
        (err: unknown) => ({ u, ok: false, err }),
      ));
    }
    const failed = during.filter((r) => !r.ok);
    expect(failed.length).toBeGreaterThan(100);
    expect(failed[0]!.err).toBeInstanceOf(OptOutWriteError);
    expect((failed[0]!.err as Error & { cause: { code: string } }).cause.code).toBe('ENOSPC');
    expect(failed.every((r) => !store.has(r.u))).toBe(true);
    expect(store.health()).toEqual({ ok: false, reason: 'ENOSPC' });
    expect(store.stats()).toMatchObject({ healthy: false, lastError: 'ENOSPC', failed: failed.length });

    d.free();
    const after = Array.from({ length: 100 }, uid);
    await Promise.all(after.map((u) => store.add(u, T)));
    for (const r of failed) await store.add(r.u, T); // the UID2 service's retries
    expect(store.health()).toEqual({ ok: true, reason: null });
    expect(store.stats()).toMatchObject({ healthy: true, reopens: 1 });
    await store.close();

    const reopened = await FileOptOutStore.open(path);
    expect(reopened.loadReport).toMatchObject({ tornTailBytes: 0, damagedBytes: 0 });
    expect([...before, ...during.map((r) => r.u), ...after].filter((u) => !reopened.has(u))).toEqual([]);
    await reopened.close();
  });

  it('after a failed write, verification finds a file that no longer holds what was acknowledged and stops taking writes', async () => {
    const d = disk(128 * 1024);
    const path = join(d.dir, 'optouts.log');
    const store = await FileOptOutStore.open(path);
    cleanups.push(() => store.close());
    for (let i = 0; i < 20; i++) await store.add(uid(), T);
    d.fill();
    let failures = 0;
    for (let i = 0; i < 200 && failures === 0; i++) await store.add(uid(), T).catch(() => failures++);
    expect(failures).toBe(1);
    // Meanwhile an acknowledged record rots on disk (a bit flipped in its raw UID).
    const fd = openSync(path, 'r+');
    const at = LOG_HEADER_BYTES + 2 * 48 + 20;
    writeSync(fd, Buffer.of(readFileSync(path)[at]! ^ 4), 0, 1, at);
    closeSync(fd);
    d.free();
    const err = await store.add(uid(), T).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptOutWriteError);
    expect((err as { cause: unknown }).cause).toBeInstanceOf(OptOutCorruptError);
    expect(store.health()).toEqual({ ok: false, reason: 'UID2_ERR_OPTOUT_CORRUPT' });
    await expect(store.add(uid(), T)).rejects.toThrow(/cannot be written/);
  });

  it('the handler: 503 while the disk is full, /healthz 503 with the reason, one log line per interval, 200 and healthy again once freed', async () => {
    const d = disk(256 * 1024);
    const store = await FileOptOutStore.open(join(d.dir, 'optouts.log'));
    cleanups.push(() => store.close());
    const { logger, lines } = capture();
    const handler = createOptOutHandler(store, { path: '/optout', logger, failureLogIntervalMs: 60_000 });
    const url = await listen(createServer(handler));
    const health = async (): Promise<[number, unknown]> => {
      const r = await fetch(`${url}/healthz`);
      return [r.status, await r.json()];
    };
    expect(await health()).toEqual([200, { status: 'ok' }]);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) sent.push(uid());
    for (const u of sent) expect(await deliver(url, u)).toBe(200);
    d.fill();
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) {
      const u = uid();
      sent.push(u);
      statuses.push(await deliver(url, u));
    }
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(100);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(await health()).toEqual([503, { status: 'failing', reason: 'ENOSPC' }]);
    d.free();
    for (let i = 0; i < 50; i++) {
      const u = uid();
      sent.push(u);
      expect(await deliver(url, u)).toBe(200);
    }
    expect(await health()).toEqual([200, { status: 'ok' }]);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.obj).toMatchObject({ event: 'uid2.optout.webhook', status: 503, code: 'UID2_ERR_OPTOUT_WRITE', cause: 'ENOSPC', count: 1 });
    const recovered = lines.filter((l) => l.level === 'info');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.obj).toMatchObject({ failures: statuses.filter((s) => s === 503).length });
    const logged = JSON.stringify(lines);
    expect(sent.some((u) => logged.includes(u) || logged.includes(encodeURIComponent(u)))).toBe(false);
    expect(handler.stats.failed).toBe(statuses.filter((s) => s === 503).length);
  });
});

describe('uid2-engine optout serve on a disk that fills up during a flood', () => {
  it('answers 503 while full, /healthz says so, and once space is freed every delivery is 200 and every 200 is on disk after a restart', async () => {
    const d = disk(512 * 1024);
    const storePath = join(d.dir, 'optouts.log');
    const child: ChildProcess = spawn(process.execPath, [CLI_PATH, 'optout', 'serve', '--port', '0', '--store', storePath, '--allow-unauthenticated']);
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
    const base = line.trim().replace(/\/optout$/, '');
    const ok = new Set<string>();
    const flood = async (count: number, concurrency: number): Promise<Map<string, number>> => {
      const out = new Map<string, number>();
      const queue = Array.from({ length: count }, uid);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let u = queue.pop(); u !== undefined; u = queue.pop()) {
            const status = await deliver(base, u);
            out.set(u, status);
            if (status === 200) ok.add(u);
          }
        }),
      );
      return out;
    };
    const first = await flood(300, 16);
    expect([...first.values()].every((s) => s === 200)).toBe(true);
    // The disk fills while deliveries are in flight.
    const during = flood(1500, 16);
    await new Promise((r) => setTimeout(r, 50));
    d.fill();
    const duringStatuses = [...(await during).values()];
    expect(duringStatuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(duringStatuses.every((s) => s === 200 || s === 503)).toBe(true);
    const healthz = await fetch(`${base}/healthz`);
    expect([healthz.status, await healthz.json()]).toEqual([503, { status: 'failing', reason: 'ENOSPC' }]);

    d.free();
    const later = await flood(500, 16);
    expect([...later.values()].filter((s) => s !== 200)).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // The sender retries what got 503.
    const retried = [...(await during)].filter(([, s]) => s === 503).map(([u]) => u);
    for (const u of retried) expect(await deliver(base, u)).toBe(200);
    for (const u of retried) ok.add(u);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    const store = await FileOptOutStore.open(storePath);
    expect(store.loadReport).toMatchObject({ tornTailBytes: 0, damagedBytes: 0 });
    expect([...ok].filter((u) => !store.has(u))).toEqual([]);
    expect(store.size).toBe(ok.size);
    await store.close();
    expect(stderr).not.toMatch(/[A-Za-z0-9+/]{43}=/);
  }, 60_000);
});
