/**
 * The webhook receiver on a real node:http server over loopback with a real file store: what it
 * accepts, what it refuses (and that nothing refused reaches the store or crashes the server).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { createOptOutHandler, type OptOutHandler } from '../../src/optout/webhook/handler.js';
import { DEFAULT_OPTOUT_HANDLER_OPTIONS, type OptOutHandlerOptions } from '../../src/optout/webhook/options.js';

let dir: string;
let store: FileOptOutStore;
let server: Server;
let handler: OptOutHandler;
let base: string;
const NOW_S = Math.floor(Date.now() / 1000);

async function serve(options: OptOutHandlerOptions = { path: '/optout' }): Promise<void> {
  handler = createOptOutHandler(store, options);
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uid2-webhook-'));
  store = await FileOptOutStore.open(join(dir, 'optouts.log'));
});
afterEach(async () => {
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const uid = (): string => randomBytes(32).toString('base64');
const q = (identity: string, time: string | number, names = ['identity', 'timestamp']): string =>
  `${names[0]}=${encodeURIComponent(identity)}&${names[1]}=${time}`;

function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('createOptOutHandler', () => {
  it('counts a sender that closes mid-body as aborted, not failed: no 503, no error log, nothing stored', async () => {
    const lines: { level: string; msg: string }[] = [];
    const record = (level: string) => (_obj: object, msg?: string) => lines.push({ level, msg: msg ?? '' });
    await serve({ path: '/optout', logger: { info: record('info'), warn: record('warn'), error: record('error'), debug: record('debug') } });
    const u = uid();
    const body = q(u, NOW_S);
    const { port } = server.address() as AddressInfo;
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // Promises a longer body than it sends, then goes away.
    socket.write(`POST /optout HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length + 100}\r\n\r\n${body}`);
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    const deadline = Date.now() + 5_000;
    while (handler.stats.aborted === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(handler.stats).toEqual({ recorded: 0, duplicates: 0, rejected: 0, failed: 0, aborted: 1 });
    expect(store.has(u)).toBe(false);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines).toContainEqual({ level: 'debug', msg: 'opt-out request aborted by the sender' });
    expect(handler.health().ok).toBe(true);
  });

  it('records a GET delivery durably and answers 200; a repeat is 200 and writes nothing', async () => {
    await serve();
    const u = uid();
    const res = await fetch(`${base}/optout?${q(u, NOW_S)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(store.optedOutSince(u)).toBe(NOW_S * 1000);
    const size = statSync(store.path).size;
    expect((await fetch(`${base}/optout?${q(u, NOW_S)}`)).status).toBe(200);
    expect(statSync(store.path).size).toBe(size);
    expect(handler.stats).toEqual({ recorded: 1, duplicates: 1, rejected: 0, failed: 0, aborted: 0 });
    // Durable: another process opening the file sees it.
    const reader = await FileOptOutStore.open(store.path, { readOnly: true });
    expect(reader.has(u)).toBe(true);
    await reader.close();
  });

  it('takes POST deliveries (query, form body, JSON body), custom parameter names, 33-byte UIDs and an unescaped +', async () => {
    await serve({ path: '/hook', identityParam: 'user', timeParam: 'optouttime' });
    const names = ['user', 'optouttime'];
    const [a, b, c] = [uid(), randomBytes(33).toString('base64'), uid()];
    expect((await fetch(`${base}/hook?${q(a, NOW_S, names)}`, { method: 'POST' })).status).toBe(200);
    const form = await fetch(`${base}/hook`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: q(b, NOW_S - 5, names) });
    expect(form.status).toBe(200);
    const json = await fetch(`${base}/hook`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: c, optouttime: NOW_S }) });
    expect(json.status).toBe(200);
    const plus = Buffer.alloc(32, 0xfb).toString('base64');
    expect((await fetch(`${base}/hook?user=${plus}&optouttime=${NOW_S}`)).status).toBe(200);
    expect([a, b, c, plus].map((u) => store.has(u))).toEqual([true, true, true, true]);
    expect(store.optedOutSince(b)).toBe((NOW_S - 5) * 1000);
  });

  it('checks the bearer token: 401 for none, a wrong one, a longer or shorter one; 200 for the right one', async () => {
    await serve({ path: '/optout', token: 's3cret-token' });
    const u = uid();
    for (const auth of [undefined, 'Bearer wrong', 'Bearer s3cret-token-and-more', 'Bearer s3cret', 's3cret-token', 'Basic s3cret-token']) {
      const res = await fetch(`${base}/optout?${q(u, NOW_S)}`, { headers: auth ? { Authorization: auth } : {} });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('s3cret');
    }
    expect(store.size).toBe(0);
    expect((await fetch(`${base}/optout?${q(u, NOW_S)}`, { headers: { Authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect(store.has(u)).toBe(true);
  });

  it('refuses malformed identities, times, methods, paths and oversized requests; none reaches the store or stops the server', async () => {
    await serve({ path: '/optout', maxUrlBytes: 512, maxBodyBytes: 256 });
    const u = uid();
    const size = statSync(store.path).size;
    const cases: [string, () => Promise<{ status: number; body: string }>][] = [
      ['no identity', () => raw('GET', `/optout?timestamp=${NOW_S}`)],
      ['no time', () => raw('GET', `/optout?identity=${encodeURIComponent(u)}`)],
      ['31 bytes', () => raw('GET', `/optout?${q(randomBytes(31).toString('base64'), NOW_S)}`)],
      ['34 bytes', () => raw('GET', `/optout?${q(randomBytes(34).toString('base64'), NOW_S)}`)],
      ['base64url', () => raw('GET', `/optout?${q(Buffer.alloc(32, 0xfb).toString('base64url'), NOW_S)}`)],
      ['not base64', () => raw('GET', `/optout?${q('%%identity%%', NOW_S)}`)],
      ['an email', () => raw('GET', `/optout?${q('user@example.com', NOW_S)}`)],
      ['two identities', () => raw('GET', `/optout?${q(u, NOW_S)}&identity=${encodeURIComponent(uid())}`)],
      ['time in ms', () => raw('GET', `/optout?${q(u, NOW_S * 1000)}`)],
      ['time negative', () => raw('GET', `/optout?${q(u, -5)}`)],
      ['time zero', () => raw('GET', `/optout?${q(u, 0)}`)],
      ['time fraction', () => raw('GET', `/optout?${q(u, '1700000000.5')}`)],
      ['time text', () => raw('GET', `/optout?${q(u, '%%timestamp%%')}`)],
      ['time far future', () => raw('GET', `/optout?${q(u, NOW_S + 10 * 86_400)}`)],
      ['PUT', () => raw('PUT', `/optout?${q(u, NOW_S)}`)],
      ['DELETE', () => raw('DELETE', `/optout?${q(u, NOW_S)}`)],
      ['HEAD', () => raw('HEAD', `/optout?${q(u, NOW_S)}`)],
      ['wrong path', () => raw('GET', `/other?${q(u, NOW_S)}`)],
      ['URL too long', () => raw('GET', `/optout?${q(u, NOW_S)}&pad=${'x'.repeat(600)}`)],
      ['body too long (declared)', () => raw('POST', '/optout', { 'Content-Type': 'application/x-www-form-urlencoded' }, `${q(u, NOW_S)}&pad=${'x'.repeat(400)}`)],
      ['body too long (chunked)', () => raw('POST', '/optout', { 'Transfer-Encoding': 'chunked' }, Buffer.alloc(4096, 0x61))],
      ['bad JSON', () => raw('POST', '/optout', { 'Content-Type': 'application/json' }, '{"identity":')],
      ['JSON array', () => raw('POST', '/optout', { 'Content-Type': 'application/json' }, '[1,2]')],
    ];
    const expected: Record<string, number> = { PUT: 405, DELETE: 405, HEAD: 405, 'wrong path': 404, 'URL too long': 414, 'body too long (declared)': 413, 'body too long (chunked)': 413 };
    for (const [name, send] of cases) {
      const res = await send();
      expect([name, res.status]).toEqual([name, expected[name] ?? 400]);
      expect(res.body).not.toContain(u);
    }
    expect(store.size).toBe(0);
    expect(statSync(store.path).size).toBe(size);
    expect(handler.stats.rejected).toBe(cases.length);
    // Still serving.
    expect((await fetch(`${base}/optout?${q(u, NOW_S)}`)).status).toBe(200);
  });

  it('answers 503 (never 200) when the store cannot record the opt-out', async () => {
    await serve();
    await store.close();
    const res = await fetch(`${base}/optout?${q(uid(), NOW_S)}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(handler.stats.failed).toBe(1);
  });

  it('/healthz (no token) says whether the store can take opt-outs; a store without health() is judged by its last add', async () => {
    await serve({ path: '/optout', token: 'secret' });
    const health = async (): Promise<[number, unknown]> => {
      const r = await fetch(`${base}/healthz`);
      return [r.status, await r.json()];
    };
    expect(await health()).toEqual([200, { status: 'ok' }]);
    expect((await raw('HEAD', '/healthz')).status).toBe(200);
    expect((await raw('POST', '/healthz')).status).toBe(404);
    await store.close();
    expect(await health()).toEqual([503, { status: 'failing', reason: 'closed' }]);

    // A store of one's own, without health(): failing after a failed add, ok after a good one.
    let fail = true;
    const custom = {
      add: async () => {
        if (fail) throw Object.assign(new Error('nope'), { code: 'EIO' });
        return 'added' as const;
      },
      has: () => false,
      optedOutSince: () => undefined,
      size: 0,
      snapshot: () => new SharedArrayBuffer(64),
      close: async () => {},
    };
    const own = createOptOutHandler(custom, { healthPath: '/ready' });
    expect(own.health()).toEqual({ ok: true, reason: null });
    const second = createServer(own);
    await new Promise<void>((r) => second.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(second.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/x?${q(uid(), NOW_S)}`)).status).toBe(503);
      expect(own.health()).toEqual({ ok: false, reason: 'EIO' });
      expect((await fetch(`${url}/ready`)).status).toBe(503);
      expect((await fetch(`${url}/healthz?${q(uid(), NOW_S)}`)).status).toBe(503); // not the health path here: a delivery
      fail = false;
      expect((await fetch(`${url}/x?${q(uid(), NOW_S)}`)).status).toBe(200);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => second.close(() => r()));
    }
  });

  it('metrics: handler.metrics() on a registry, and GET metricsPath with the handler\'s and the store\'s figures', async () => {
    const { Registry } = await import('prom-client');
    await serve({ path: '/optout', metricsPath: '/metrics' });
    expect((await fetch(`${base}/optout?${q(uid(), NOW_S)}`)).status).toBe(200);
    expect((await fetch(`${base}/optout?identity=bad&timestamp=1`)).status).toBe(400);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('uid2_optout_webhook_deliveries_total{outcome="recorded"} 1');
    expect(text).toContain('uid2_optout_webhook_deliveries_total{outcome="rejected"} 1');
    expect(text).toContain('uid2_optout_webhook_healthy 1');
    expect(text).toContain('uid2_optout_size 1');
    expect(text).toContain('uid2_optout_writes_total 1');
    const registry = new Registry();
    await handler.metrics(registry, { prefix: 'hook_' });
    expect(await registry.getSingleMetricAsString('hook_deliveries_total')).toContain('hook_deliveries_total{outcome="failed"} 0');
  });

  it('serves every path when options.path is null (a router chose it) and validates its options', async () => {
    await serve({});
    expect((await fetch(`${base}/anything/here?${q(uid(), NOW_S)}`)).status).toBe(200);
    expect(DEFAULT_OPTOUT_HANDLER_OPTIONS.identityParam).toBe('identity');
    expect(() => createOptOutHandler(store, { path: 'optout' })).toThrow('options.path must be a path starting with "/" (no query), or null');
    expect(() => createOptOutHandler(store, { identityParam: 'a b' })).toThrow('options.identityParam must be 1 to 64 URL-safe characters');
    expect(() => createOptOutHandler(store, { identityParam: 'x', timeParam: 'x' })).toThrow('options.identityParam and options.timeParam must differ');
    expect(() => createOptOutHandler(store, { token: 'has space' })).toThrow('options.token must be printable ASCII without spaces, or null');
    expect(() => createOptOutHandler(store, { maxBodyBytes: 0 })).toThrow('options.maxBodyBytes must be a positive integer');
    expect(() => createOptOutHandler(store, 5 as never)).toThrow('options must be an object');
    expect(() => createOptOutHandler(store, { healthPath: 'healthz' })).toThrow('options.healthPath must be a path starting with "/" (no query), or null');
    expect(() => createOptOutHandler(store, { path: '/a', metricsPath: '/a' })).toThrow('options.path, options.healthPath and options.metricsPath must differ');
    expect(() => createOptOutHandler(store, { failureLogIntervalMs: -1 })).toThrow('options.failureLogIntervalMs must be a non-negative integer no larger than 86400000');
    expect(DEFAULT_OPTOUT_HANDLER_OPTIONS).toMatchObject({ healthPath: '/healthz', metricsPath: null, failureLogIntervalMs: 10_000 });
    // With path null, /healthz is still the health path.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(() => createOptOutHandler(null as never)).toThrow('store must be an OptOutStore');
  });
});
