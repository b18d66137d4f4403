/**
 * `uid2-engine optout serve` as a process (dist/, `npm run build` first): prints its URL once
 * listening, drains on SIGTERM, and answers 503 (never 200) when the disk refuses the write
 * (a real EFBIG from a file-size limit), recovering the file on the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
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

/** Opens a TCP connection to the receiver. */
function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

/** Sends `request` on `socket` and resolves with the first chunk of the answer. */
function roundTrip(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    socket.write(request);
  });
}

/**
 * Sends `head` at once, then `text` one byte every 20 ms (a slowloris), until the server closes
 * the connection or everything was sent; reports whether the server closed it and what it said.
 */
async function trickle(port: number, text: string, head = ''): Promise<{ closedByServer: boolean; answer: string; sent: number; total: number }> {
  const socket = await connect(port);
  let answer = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  const gone = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('close', () => (closed = true));
  if (head) socket.write(head);
  let sent = 0;
  while (!closed && sent < text.length) {
    socket.write(text[sent]!);
    sent++;
    await new Promise((r) => setTimeout(r, 20));
  }
  // Silent or finished: wait for the server's side.
  await gone;
  return { closedByServer: sent < text.length || text.length === 0, answer, sent, total: text.length };
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
    const { child, url, stderr } = await startServe(['--port', '0', '--allow-unauthenticated'], "trap '' XFSZ; ulimit -f 16");
    const uids = Array.from({ length: 260 }, () => randomBytes(32).toString('base64'));
    const statuses: number[] = [];
    for (const u of uids) statuses.push(await deliver(url, u));
    expect(statuses.slice(0, 100).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(503);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    // The operator sees why on stderr: pino-style JSON lines from the handler's logger.
    const failures = stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry['status'] === 503);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ level: 50, event: 'uid2.optout.webhook', code: expect.stringMatching(/^(UID2_ERR_|E)/) });
    for (const u of uids) expect(stderr()).not.toContain(u);
    child.kill('SIGTERM');
    await once(child, 'exit');
    const store = await FileOptOutStore.open(storePath);
    expect(store.loadReport.tornTailBytes).toBe(0);
    uids.forEach((u, i) => expect([i, store.has(u)]).toEqual([i, statuses[i] === 200]));
    await store.close();
  });

  it('refuses to start without a token unless --allow-unauthenticated, and then says so in one line', async () => {
    const refused = await runCli(['optout', 'serve', '--store', storePath, '--port', '0'], undefined, { ...process.env, UID2_OPTOUT_TOKEN: '' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('optout serve needs a bearer token: --token T or UID2_OPTOUT_TOKEN');
    expect(refused.stderr).toContain('--allow-unauthenticated');
    expect(existsSync(storePath)).toBe(false);

    const open = await startServe(['--port', '0', '--allow-unauthenticated']);
    expect(await deliver(open.url, randomBytes(32).toString('base64'))).toBe(200);
    const warnings = open.stderr().split('\n').filter((line) => line.includes('--allow-unauthenticated'));
    expect(warnings).toEqual([expect.stringMatching(/^uid2-engine: warning: no token \(--allow-unauthenticated\): anyone who can reach 127\.0\.0\.1:\d+ can record opt-outs$/)]);
    open.child.kill('SIGTERM');
    await once(open.child, 'exit');

    // The token from the environment (arguments show in ps).
    const env = startServe(['--port', '0'], 'export UID2_OPTOUT_TOKEN=from-env');
    const { child, url, stderr } = await env;
    expect(await deliver(url, randomBytes(32).toString('base64'))).toBe(401);
    expect(await deliver(url, randomBytes(32).toString('base64'), { Authorization: 'Bearer from-env' })).toBe(200);
    expect(stderr()).not.toContain('from-env');
    expect(stderr()).not.toContain('warning');
    child.kill('SIGTERM');
    await once(child, 'exit');
  });

  it('closes a connection whose headers or body trickle in (408) once its timeout passes, and one that sends nothing', async () => {
    const { child, url } = await startServe(['--port', '0', '--token', 'tok', '--headers-timeout', '300', '--request-timeout', '600']);
    const { port } = new URL(url);
    // Headers one byte at a time, never finished: the server must close the connection while
    // the client is still sending (it would go on for a minute).
    const slowHeaders = trickle(Number(port), `GET /optout?identity=x&timestamp=1 HTTP/1.1\r\nHost: a\r\n${'X-Pad: y\r\n'.repeat(200)}`);
    // Headers complete at once, then a declared body that trickles.
    const slowBody = trickle(Number(port), 'x'.repeat(1200), `POST /optout HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer tok\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1200\r\n\r\n`);
    const silent = trickle(Number(port), '');
    for (const result of await Promise.all([slowHeaders, slowBody, silent])) {
      expect(result.closedByServer).toBe(true);
      expect(result.answer === '' || result.answer.startsWith('HTTP/1.1 408')).toBe(true);
    }
    expect((await slowHeaders).sent).toBeLessThan((await slowHeaders).total);
    expect((await slowBody).sent).toBeLessThan((await slowBody).total);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });

  it('refuses connections over --max-connections, serves the ones it holds, and counts the refusals', async () => {
    const { child, url, stderr } = await startServe(['--port', '0', '--token', 'tok', '--max-connections', '2', '--headers-timeout', '60000', '--request-timeout', '60000']);
    const port = Number(new URL(url).port);
    const held = await Promise.all([connect(port), connect(port)]);
    // Both accepted: each answers a request (keep-alive), so the server holds two connections.
    for (const socket of held) expect(await roundTrip(socket, 'GET /optout HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer tok\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    const third = await connect(port);
    const outcome = await new Promise<string>((resolve) => {
      third.on('data', () => resolve('answered'));
      third.on('close', () => resolve('closed'));
      third.write('GET /optout HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer tok\r\n\r\n');
    });
    expect(outcome).toBe('closed');
    held[0]!.destroy();
    // A slot is free again once the server has seen the close.
    let status = 0;
    for (let i = 0; i < 100 && status !== 401; i++) status = await deliver(url, randomBytes(32).toString('base64'));
    expect(status).toBe(401);
    held[1]!.destroy();
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect(stderr()).toMatch(/connection refused: 2 connections open, the --max-connections cap/);
    expect(stderr()).toMatch(/opt-out receiver stopped: .* [1-9]\d* connections? refused at the cap/);
  });

  it('reports bad usage with exit code 2 before touching the store', async () => {
    const missing = await runCli(['optout', 'serve', '--port', '0', '--token', 't']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --store FILE');
    const badParam = await runCli(['optout', 'serve', '--store', storePath, '--identity-param', 'a b']);
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('--identity-param must be 1 to 64 URL-safe characters');
    const badPort = await runCli(['optout', 'serve', '--store', storePath, '--port', '70000']);
    expect(badPort.stderr).toContain('--port must be an integer from 0 to 65535');
    for (const [flag, value, message] of [
      ['--max-connections', '0', '--max-connections must be an integer from 1 to 1000000'],
      ['--headers-timeout', '5s', '--headers-timeout must be an integer from 1 to 3600000'],
      ['--request-timeout', '3600001', '--request-timeout must be an integer from 1 to 3600000'],
      ['--log-level', 'loud', '--log-level must be debug, info, warn or error'],
    ] as const) {
      const bad = await runCli(['optout', 'serve', '--store', storePath, '--token', 't', flag, value]);
      expect([flag, bad.code, bad.stderr]).toEqual([flag, 2, expect.stringContaining(message)]);
    }
    const inverted = await runCli(['optout', 'serve', '--store', storePath, '--token', 't', '--headers-timeout', '2000', '--request-timeout', '1000']);
    expect(inverted.stderr).toContain('--headers-timeout (2000) must not exceed --request-timeout (1000)');
    expect(existsSync(storePath)).toBe(false);
    const sub = await runCli(['optout', 'frobnicate']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('unknown optout subcommand "frobnicate"');
  });
});
