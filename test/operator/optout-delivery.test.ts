/**
 * The local operator's opt-outs over loopback: the admin route, webhook delivery as the UID2
 * service does it (method, parameter names or URL placeholders, extra headers), retries on
 * 429/5xx/connection errors with backoff, no retry on other statuses, and the CLI flags.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalOperator, type LocalOperator, type LocalOperatorOptions } from '../../src/testing.js';
import { CLI_PATH } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
}

/** A webhook that records each call and answers with `status(callNumber)`. */
async function webhook(status: (n: number, r: Received) => number, port = 0): Promise<{ url: string; calls: Received[]; server: Server }> {
  const calls: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const r = { method: req.method ?? '', url: new URL(req.url ?? '', 'http://x'), headers: req.headers };
    calls.push(r);
    res.writeHead(status(calls.length, r)).end();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/optout`, calls, server };
}

async function operator(optOutWebhook: LocalOperatorOptions['optOutWebhook']): Promise<LocalOperator> {
  const op = await startLocalOperator({ optOutWebhook });
  closers.push(() => op.close());
  return op;
}

const uid = (): string => randomBytes(32).toString('base64');

describe('local operator opt-outs', () => {
  it('delivers an opt-out by GET with the default parameter names, the raw UID URL-encoded, time in seconds', async () => {
    const hook = await webhook(() => 200);
    const op = await operator({ url: hook.url });
    const u = Buffer.alloc(32, 0xfb).toString('base64'); // has '+' and '/' and '='
    op.optOut(u, 1_700_000_123_456);
    await until(() => op.optOutDelivery.delivered, (n) => n === 1, 'the delivery');
    const [call] = hook.calls;
    expect(call!.method).toBe('GET');
    expect(call!.url.searchParams.get('identity')).toBe(u);
    expect(call!.url.searchParams.get('timestamp')).toBe('1700000123');
    expect(op.deliveredOptOuts()).toEqual([u]);
    expect(op.optOutDelivery).toEqual({ pending: 0, delivered: 1, attempts: 1, retried: 0, failed: 0 });
  });

  it('fills %%identity%% / %%timestamp%% placeholders, uses POST and extra headers when configured', async () => {
    const hook = await webhook(() => 204);
    const op = await operator({ url: `${hook.url.replace('/optout', '/dsp')}?user=%%identity%%&optouttime=%%timestamp%%`, method: 'POST', headers: { Authorization: 'Bearer hook-token' } });
    const u = uid();
    op.optOut(u, 1_700_000_000_000);
    await until(() => op.optOutDelivery.delivered, (n) => n === 1, 'the delivery');
    const [call] = hook.calls;
    expect(call!.method).toBe('POST');
    expect(call!.url.pathname).toBe('/dsp');
    expect(call!.url.searchParams.get('user')).toBe(u);
    expect(call!.url.searchParams.get('optouttime')).toBe('1700000000');
    expect(call!.headers.authorization).toBe('Bearer hook-token');
  });

  it('retries 429 and 5xx with backoff until acknowledged; does not retry other statuses', async () => {
    const hook = await webhook((n, r) => (r.url.searchParams.get('identity')?.startsWith('A') ? 400 : n <= 3 ? (n === 2 ? 429 : 503) : 200));
    const op = await operator({ url: hook.url, retryBaseMs: 5, retryMaxMs: 20, concurrency: 1 });
    const u = `B${uid().slice(1)}`;
    op.optOut(u);
    await until(() => op.optOutDelivery.delivered, (n) => n === 1, 'the delivery');
    expect(op.optOutDelivery).toMatchObject({ delivered: 1, attempts: 4, retried: 3, failed: 0 });
    op.optOut(`A${uid().slice(1)}`);
    await until(() => op.optOutDelivery.failed, (n) => n === 1, 'the failure');
    expect(op.optOutDelivery).toMatchObject({ delivered: 1, attempts: 5, failed: 1, pending: 0 });
  });

  it('retries connection errors: a webhook that comes up later still gets every opt-out', async () => {
    const probe = await webhook(() => 200);
    const port = (probe.server.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.server.close(() => r()));
    const op = await operator({ url: `http://127.0.0.1:${port}/optout`, retryBaseMs: 10, retryMaxMs: 50 });
    const list = Array.from({ length: 20 }, uid);
    for (const u of list) op.optOut(u);
    await until(() => op.optOutDelivery.retried, (n) => n >= 20, 'failed first tries');
    const hook = await webhook(() => 200, port);
    await until(() => op.optOutDelivery.delivered, (n) => n === 20, 'every delivery');
    expect(new Set(hook.calls.map((c) => c.url.searchParams.get('identity')))).toEqual(new Set(list));
  });

  it('opts out through the admin route with the api key, which /v2/optout/status then reports', async () => {
    const hook = await webhook(() => 200);
    const op = await operator({ url: hook.url });
    const u = uid();
    const post = (auth: string, body: string): Promise<Response> =>
      fetch(`${op.url}/local/optout`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body });
    expect((await post('Bearer wrong', JSON.stringify({ advertising_id: u }))).status).toBe(401);
    expect((await post(`Bearer ${op.apiKey}`, JSON.stringify({ advertising_id: 'nope' }))).status).toBe(400);
    expect((await post(`Bearer ${op.apiKey}`, '{')).status).toBe(400);
    expect((await fetch(`${op.url}/local/optout`)).status).toBe(405);
    expect(hook.calls.length).toBe(0);
    const ok = await post(`Bearer ${op.apiKey}`, JSON.stringify({ advertising_id: u, opted_out_since: 1_700_000_000_000 }));
    expect(ok.status).toBe(200);
    await until(() => hook.calls.length, (n) => n === 1, 'the delivery');
    const { BidstreamClient } = await import('../../src/index.js');
    const status = await new BidstreamClient(op.url, op.apiKey, op.secretKey).optOutStatus([u, uid()]);
    expect(status).toEqual({ optedOut: [{ advertisingId: u, optedOutSinceMs: 1_700_000_000_000 }], skipped: [] });
    expect(() => op.optOut('bad')).toThrow('rawUid must be a raw UID');
  });

  it('validates the webhook options', async () => {
    await expect(startLocalOperator({ optOutWebhook: { url: 'ftp://x' } })).rejects.toThrow('options.optOutWebhook.url must be an http: or https: URL');
    await expect(startLocalOperator({ optOutWebhook: { url: 'http://x', method: 'PUT' as 'GET' } })).rejects.toThrow('options.optOutWebhook.method must be "GET" or "POST"');
    await expect(startLocalOperator({ optOutWebhook: { url: 'http://x', concurrency: 0 } })).rejects.toThrow('options.optOutWebhook.concurrency must be a positive integer');
    await expect(startLocalOperator({ optOutWebhook: { url: 'http://x', headers: { a: 1 as unknown as string } } })).rejects.toThrow('options.optOutWebhook.headers must be an object of strings');
  });

  it('uid2-engine operator --optout-webhook delivers what POST /local/optout opts out, with the given headers', async () => {
    const hook = await webhook(() => 200);
    const child = spawn(process.execPath, [CLI_PATH, 'operator', '--optout-webhook', hook.url, '--optout-header', 'X-Dsp: demo', '--optout-identity-param', 'user']);
    closers.push(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await until(() => out, (o) => o.includes('UID2_SECRET_KEY='), 'the operator to print its credentials');
    const env = Object.fromEntries(out.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const u = uid();
    const res = await fetch(`${env['UID2_BASE_URL']}/local/optout`, { method: 'POST', headers: { Authorization: `Bearer ${env['UID2_API_KEY']}` }, body: JSON.stringify({ advertising_id: u }) });
    expect(res.status).toBe(200);
    await until(() => hook.calls.length, (n) => n === 1, 'the delivery');
    expect(hook.calls[0]!.url.searchParams.get('user')).toBe(u);
    expect(hook.calls[0]!.headers['x-dsp']).toBe('demo');
  });
});
