/**
 * `uid2-engine optout serve` as a process (dist/, `npm run build` first): prints its URL once
 * listening, drains on SIGTERM, and answers 503 (never 200) when the disk refuses the write
 * (a real EFBIG from a file-size limit), recovering the file on the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { CLI_PATH, runCli } from '../helpers/cli.js';

let dir: string;
let storePath: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uid2-serve-'));
  storePath = join(dir, 'optouts.log');
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the receiver (optionally through a shell prefix) and resolves with its URL once it printed it. */
async function startServe(args: string[], shellPrefix?: string): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const argv = [CLI_PATH, 'optout', 'serve', '--store', storePath, ...args];
  const child = shellPrefix
    ? spawn('bash', ['-c', `${shellPrefix}; exec "$0" "$@"`, process.execPath, ...argv])
    : spawn(process.execPath, argv);
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let out = '';
  child.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

const NOW_S = Math.floor(Date.now() / 1000);
const deliver = (url: string, uid: string, headers: Record<string, string> = {}): Promise<number> =>
  fetch(`${url}?identity=${encodeURIComponent(uid)}&timestamp=${NOW_S}`, { headers }).then(
    (r) => r.status,
    () => 0,
  );

describe('uid2-engine optout serve', () => {
  it('prints its URL once listening, records deliveries, and on SIGTERM finishes requests in flight and exits 0', async () => {
    const { child, url, stderr } = await startServe(['--port', '0', '--path', '/hook', '--token', 'tok']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hook$/);
    const uids = Array.from({ length: 400 }, () => randomBytes(32).toString('base64'));
    expect(await deliver(url, uids[0]!)).toBe(401);
    const statuses: Promise<number>[] = [];
    for (const u of uids) statuses.push(deliver(url, u, { Authorization: 'Bearer tok' }));
    // Signal once the first answers arrive, while others are still in flight.
    await Promise.race(statuses);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    const answered = await Promise.all(statuses);
    expect(answered.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(answered.every((s) => s === 200 || s === 0)).toBe(true);
    expect(stderr()).toContain('opt-out receiver stopped');
    const store = await FileOptOutStore.open(storePath);
    uids.forEach((u, i) => {
      if (answered[i] === 200) expect(store.has(u)).toBe(true);
    });
    await store.close();
  });

  it('answers 503 once the disk refuses writes, never 200 for an opt-out it did not store; restarts clean', async () => {
    // 16 KiB file-size limit: about 170 opt-outs delivered one at a time (each a record and its
    // commit). SIGXFSZ ignored, so writes fail with EFBIG.
    const { child, url } = await startServe(['--port', '0'], "trap '' XFSZ; ulimit -f 16");
    const uids = Array.from({ length: 260 }, () => randomBytes(32).toString('base64'));
    const statuses: number[] = [];
    for (const u of uids) statuses.push(await deliver(url, u));
    expect(statuses.slice(0, 100).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(503);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    child.kill('SIGTERM');
    await once(child, 'exit');
    const store = await FileOptOutStore.open(storePath);
    expect(store.loadReport.tornTailBytes).toBe(0);
    uids.forEach((u, i) => expect([i, store.has(u)]).toEqual([i, statuses[i] === 200]));
    await store.close();
  });

  it('reports bad usage with exit code 2 before touching the store', async () => {
    const missing = await runCli(['optout', 'serve', '--port', '0']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --store FILE');
    const badParam = await runCli(['optout', 'serve', '--store', storePath, '--identity-param', 'a b']);
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('--identity-param must be 1 to 64 URL-safe characters');
    const badPort = await runCli(['optout', 'serve', '--store', storePath, '--port', '70000']);
    expect(badPort.stderr).toContain('--port must be an integer from 0 to 65535');
    const sub = await runCli(['optout', 'frobnicate']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('unknown optout subcommand "frobnicate"');
  });
});
