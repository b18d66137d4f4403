/**
 * The example bidder (examples/bidder/server.mjs) end to end over loopback: the local operator
 * in this process, the bidder in a child process with the operator's credentials in its
 * environment, real HTTP requests, and a SIGTERM with requests in flight. Needs the build.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

const SERVER = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/bidder/server.mjs');
const BID_REQUEST = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/bidder/bid-request.mjs');

/** Runs bid-request.mjs with the operator's credentials; resolves with its stdout. */
async function runBidRequest(args: string[] = []): Promise<string> {
  const env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey };
  const child = spawn(process.execPath, [BID_REQUEST, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bid-request.mjs exited ${code}: ${err}`);
  return out;
}

interface Bidder {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line matching `event` (already seen or yet to come). */
  waitFor(event: string): Promise<Record<string, unknown>>;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

let op: LocalOperator;
const children: ChildProcessWithoutNullStreams[] = [];
beforeAll(async () => {
  op = await startLocalOperator();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await op.close();
});

async function startBidder(): Promise<Bidder> {
  const env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey, PORT: '0', THREADS: '1', LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [SERVER], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const logs: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      for (const w of waiters.filter((w) => w.event === parsed['event'])) w.resolve(parsed);
    }
  });
  const waitFor = (event: string): Promise<Record<string, unknown>> => {
    const seen = logs.find((l) => l['event'] === event);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolvePromise, reject) => {
      waiters.push({ event, resolve: resolvePromise });
      void exit.then(([code]) => reject(new Error(`bidder exited (${code}) before "${event}": ${JSON.stringify(logs)}`)));
    });
  };
  const listening = await waitFor('listening');
  return { child, url: listening['url'] as string, logs, waitFor, exit };
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function read(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d: string) => (body += d));
    res.on('end', () => resolvePromise({ status: res.statusCode!, headers: res.headers, body }));
    res.on('error', reject);
  });
}

function http(url: string, method: string, body?: string): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    req.on('response', (res) => read(res).then(resolvePromise, reject));
    req.on('error', reject);
    req.end(body);
  });
}

/** A bid request; `where` is its `site` or `app` object (default a site on example.com). */
function bidRequest(id: string, tokens: string[], where: Record<string, unknown> = { site: { domain: 'example.com' } }): string {
  return JSON.stringify({
    id,
    imp: [{ id: 'imp-1', banner: { w: 300, h: 250 } }],
    ...where,
    user: { eids: [{ source: 'uidapi.com', uids: tokens.map((id) => ({ id, atype: 3 })) }] },
  });
}

describe('example bidder', () => {
  it('bids on the request bid-request.mjs makes with a token from /v2/token/generate', async () => {
    const bidder = await startBidder();
    try {
      const body = await runBidRequest();
      expect((JSON.parse(body) as { user: { eids: { uids: { id: string }[] }[] } }).user.eids[0]!.uids[0]!.id).toMatch(/^A4/);
      expect(op.requests.some((r) => r.path === '/v2/token/generate' && r.status === 200)).toBe(true);
      expect((await http(`${bidder.url}/bid`, 'POST', body)).status).toBe(200);
      expect((await http(`${bidder.url}/bid`, 'POST', await runBidRequest(['--invalid']))).status).toBe(204);
    } finally {
      bidder.child.kill('SIGTERM');
      expect(await bidder.exit).toEqual([0, null]);
    }
  });

  it('bids on decryptable users, no-bids otherwise, and exposes its metrics', async () => {
    const bidder = await startBidder();
    try {
      const rawUid = op.rawUidFor('bidder-user');
      const valid = op.mintToken({ version: 4, rawUid });

      const bid = await http(`${bidder.url}/bid`, 'POST', bidRequest('req-ok', [valid]));
      expect(bid.status).toBe(200);
      const response = JSON.parse(bid.body) as { id: string; cur: string; seatbid: { bid: { impid: string; price: number }[] }[] };
      expect(response).toMatchObject({ id: 'req-ok', cur: 'USD', seatbid: [{ bid: [{ impid: 'imp-1', price: 0.5 }] }] });
      expect(bid.body).not.toContain(rawUid);
      expect(bid.body).not.toContain(valid);

      // A CSTG token on its registered app bids; on a foreign domain it does not.
      const cstg = op.mintToken({ version: 4, clientSideGenerated: true });
      expect((await http(`${bidder.url}/bid`, 'POST', bidRequest('app', [cstg], { app: { bundle: 'com.example.app' } }))).status).toBe(200);
      expect((await http(`${bidder.url}/bid`, 'POST', bidRequest('evil', [cstg], { site: { domain: 'evil.example' } }))).status).toBe(204);

      for (const body of [
        bidRequest('garbage', ['not a token']),
        bidRequest('expired', [op.mintToken({ version: 4, expiresMs: Date.now() - 1000, generatedMs: Date.now() - 60_000 })]),
        JSON.stringify({ id: 'no-user', imp: [] }),
        JSON.stringify([1, 2, 3]),
      ]) {
        const reply = await http(`${bidder.url}/bid`, 'POST', body);
        expect(reply.status).toBe(204);
        expect(reply.body).toBe('');
      }
      expect((await http(`${bidder.url}/bid`, 'POST', '{not json')).status).toBe(400);
      expect((await http(`${bidder.url}/nowhere`, 'GET')).status).toBe(404);
      expect(await http(`${bidder.url}/healthz`, 'GET')).toMatchObject({ status: 200, body: '{"ok":true}' });

      // Concurrent requests are all answered, each with its own outcome.
      const concurrent = await Promise.all(
        Array.from({ length: 50 }, (_, i) => http(`${bidder.url}/bid`, 'POST', bidRequest(`c${i}`, [i % 2 === 0 ? valid : 'bad-token'])).then((r) => r.status)),
      );
      expect(concurrent).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 200 : 204)));

      const metrics = await http(`${bidder.url}/metrics`, 'GET');
      expect(metrics.status).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      expect(metrics.body).toContain('uid2_engine_tokens_total{status="Success"} 27');
      expect(metrics.body).toContain('uid2_engine_tokens_total{status="ExpiredToken"} 1');
      expect(metrics.body).toContain('uid2_engine_tokens_total{status="DomainOrAppNameCheckFailed"} 1');
      expect(metrics.body).toContain('uid2_engine_key_refreshes_total{outcome="success"} 1');
      expect(metrics.body).toMatch(/^uid2_engine_batch_duration_seconds_count \d+$/m);
      expect(metrics.body).toContain('bidder_requests_total{outcome="bid"} 27');
      expect(metrics.body).toContain('bidder_requests_total{outcome="no-bid"} 30');
      expect(metrics.body).toContain('bidder_requests_total{outcome="bad-request"} 1');
      expect(metrics.body).toContain('process_cpu_seconds_total');

      // Its logs: the refresh and startup, and never a credential, token or raw UID.
      const text = JSON.stringify(bidder.logs);
      expect(bidder.logs.find((l) => l['event'] === 'uid2.refresh')).toMatchObject({ success: true, component: 'uid2-client' });
      for (const secret of [op.apiKey, op.secretKey, valid, rawUid, cstg]) expect(text).not.toContain(secret);
    } finally {
      bidder.child.kill('SIGTERM');
      expect(await bidder.exit).toEqual([0, null]);
    }
  });

  it('on SIGTERM stops accepting, finishes the requests in flight, and exits 0', async () => {
    const bidder = await startBidder();
    const token = op.mintToken({ version: 3 });
    const body = bidRequest('in-flight', [token]);
    const IN_FLIGHT = 5;

    // Each request sends its headers and waits for 100 Continue: then the bidder's handler is
    // running (in flight) while the body has not been sent yet.
    const pending = Array.from({ length: IN_FLIGHT }, (_, i) => {
      const req = request(`${bidder.url}/bid`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', expect: '100-continue', 'content-length': Buffer.byteLength(body) },
      });
      const response = new Promise<Reply>((resolvePromise, reject) => {
        req.on('response', (res) => read(res).then(resolvePromise, reject));
        req.on('error', reject);
      });
      const continued = once(req, 'continue');
      req.flushHeaders();
      return { req, response, continued, i };
    });
    await Promise.all(pending.map((p) => p.continued));

    bidder.child.kill('SIGTERM');
    const shutting = await bidder.waitFor('shutting-down');
    expect(shutting).toMatchObject({ signal: 'SIGTERM', inFlight: IN_FLIGHT });

    // No new connections once shutdown has begun.
    await expect(http(`${bidder.url}/healthz`, 'GET')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    // The requests in flight complete normally.
    for (const p of pending) p.req.end(body);
    const replies = await Promise.all(pending.map((p) => p.response));
    expect(replies.map((r) => r.status)).toEqual(Array(IN_FLIGHT).fill(200));
    for (const r of replies) {
      expect(JSON.parse(r.body)).toMatchObject({ id: 'in-flight' });
      expect(r.headers['connection']).toBe('close');
    }

    expect(await bidder.exit).toEqual([0, null]);
    expect(bidder.logs.find((l) => l['event'] === 'stopped')).toMatchObject({ stats: { tokens: IN_FLIGHT } });
  });

  it('exits 1 with one log line when the UID2 credentials do not work', async () => {
    const env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: 'wrong', UID2_SECRET_KEY: op.secretKey, PORT: '0' };
    const child = spawn(process.execPath, [SERVER], { env });
    children.push(child as ChildProcessWithoutNullStreams);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(1);
    const last = JSON.parse(stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(last).toMatchObject({ level: 'error', event: 'startup-failed', code: 'UID2_ERR_SERVICE_HTTP' });
    expect(stderr).not.toContain(op.secretKey);
  });
});
