/**
 * Refreshes on the refresh worker (service/refresh-thread.ts) give what refreshes on the calling
 * thread give: the same key set, and for every failure the same error class, code and message,
 * the previous keys kept. A worker that dies fails its refreshes with a typed error and the next
 * refresh works; the worker never keeps a process alive, and no secret reaches an error or a log.
 * Real servers throughout: the local operator and node:http servers on port 0. Needs the build
 * (the worker runs dist/service/refresh-worker.js).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AbortedError, BidstreamClient, DecryptionEngine, KeysJsonError, SharingClient, Uid2Error, WorkerFailedError, type RefreshResult } from '../../src/index.js';
import { decodeSecretKey, openRequest, sealResponse, startLocalOperator, type LocalOperator, type LocalOperatorOptions, type OperatorFault } from '../../src/testing.js';
import { snapshotOf } from '../../src/keys/key-set.js';
import { MAX_PENDING_REFRESHES, REFRESH_THREAD_MIN_BYTES, refreshThreadHooks } from '../../src/service/refresh-thread.js';
import { BAD, goodKey } from '../helpers/bad-key-json.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ON_WORKER = 0;
const ON_CALLER = Infinity;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  refreshThreadHooks.minBytes = REFRESH_THREAD_MIN_BYTES;
  refreshThreadHooks.crashNextJobs = 0;
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function operator(options: LocalOperatorOptions = {}): Promise<LocalOperator> {
  const op = await startLocalOperator(options);
  cleanup.push(() => op.close());
  return op;
}

/** Refreshes `client` on the worker or on the calling thread; says which one ran it. */
async function refreshOn(minBytes: number, client: BidstreamClient | SharingClient, signal?: AbortSignal): Promise<RefreshResult & { onWorker: boolean }> {
  refreshThreadHooks.minBytes = minBytes;
  const posted = refreshThreadHooks.jobsPosted;
  const pending = client.refresh(signal ? { signal } : {});
  const onWorker = refreshThreadHooks.jobsPosted > posted;
  refreshThreadHooks.minBytes = REFRESH_THREAD_MIN_BYTES;
  return { ...(await pending), onWorker };
}

function describeError(error: Uid2Error | undefined): unknown {
  return error && { name: error.name, code: error.code, message: error.message, statusCode: (error as { statusCode?: number }).statusCode };
}

const SECRET_KEY = Buffer.alloc(32, 0x5a).toString('base64');
const API_KEY = 'UID2-C-L-999-ApiKeyThatMustNeverBePrinted00';

/** A node:http server on port 0 that answers every request with `payload` sealed for it. */
async function sealedServer(payload: () => string): Promise<string> {
  const secret = decodeSecretKey(SECRET_KEY);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const opened = openRequest(secret, Buffer.from(Buffer.concat(chunks).toString(), 'base64'));
      res.end(sealResponse(secret, opened.nonce, Buffer.from(payload())).toString('base64'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('malformed key responses on the refresh worker', () => {
  it('every case of the parser table fails with the calling thread\'s KeysJsonError, keeping the previous keys', async () => {
    let payload = '';
    const url = await sealedServer(() => payload);
    const good = { status: 'success', body: { keys: [goodKey] } };
    for (const [name, input] of BAD) {
      payload = typeof input === 'string' ? input : JSON.stringify(input);
      const outcomes = [];
      for (const minBytes of [ON_CALLER, ON_WORKER]) {
        const client = new BidstreamClient(url, API_KEY, SECRET_KEY);
        expect(client.refreshJson(good).success).toBe(true);
        const before = client.keySet;
        const result = await refreshOn(minBytes, client);
        expect(result.onWorker, name).toBe(minBytes === ON_WORKER);
        expect(result.success, name).toBe(false);
        expect(result.error, name).toBeInstanceOf(KeysJsonError);
        expect(client.keySet, name).toBe(before);
        outcomes.push(describeError(result.error));
      }
      expect(outcomes[1], name).toEqual(outcomes[0]);
    }
  });
});

describe('service failures on the refresh worker', () => {
  const FAULTS: [string, OperatorFault | 'unreachable'][] = [
    ['HTTP 503', { kind: 'http-error', status: 503 }],
    ['HTTP 401', { kind: 'http-error', status: 401 }],
    ['a dropped connection', { kind: 'drop-connection' }],
    ['a truncated body', { kind: 'truncated-body' }],
    ['a garbage body', { kind: 'garbage-body' }],
    ['a wrong nonce', { kind: 'wrong-nonce' }],
    ['a response timestamp of 0', { kind: 'response-timestamp', timestampMs: 0 }],
    ['a response timestamp of 8.64e15', { kind: 'response-timestamp', timestampMs: 8.64e15 }],
    ['stale keys', { kind: 'stale-keys' }],
    ['a delay past the timeout', { kind: 'delay', ms: 2_000 }],
    ['an unreachable service', 'unreachable'],
  ];

  it.each(FAULTS)('%s: the same error class, code, message and status as on the calling thread', async (_name, fault) => {
    const op = await operator();
    const url = fault === 'unreachable' ? 'http://127.0.0.1:9' : op.url;
    if (fault !== 'unreachable') op.setFault(fault);
    const outcomes = [];
    for (const minBytes of [ON_CALLER, ON_WORKER]) {
      const client = new BidstreamClient(url, op.apiKey, op.secretKey, { timeoutMs: 300 });
      const result = await refreshOn(minBytes, client);
      expect(result.onWorker).toBe(minBytes === ON_WORKER);
      expect(result.success).toBe(false);
      expect(client.keySet).toBeUndefined();
      outcomes.push(describeError(result.error));
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    if (fault !== 'unreachable' && fault.kind === 'response-timestamp') expect(outcomes[0]).toMatchObject({ name: 'ResponseTimestampError', code: 'UID2_ERR_RESPONSE_TIMESTAMP' });
  });
});

describe('a refresh on the refresh worker', () => {
  it('applies the same key set as the calling thread, which an engine then decrypts with', async () => {
    const op = await operator();
    for (let i = 0; i < 3; i++) op.rotateKeys();
    const [caller, worker] = [new BidstreamClient(op.url, op.apiKey, op.secretKey), new BidstreamClient(op.url, op.apiKey, op.secretKey)];
    expect(await refreshOn(ON_CALLER, caller)).toEqual({ success: true, onWorker: false });
    expect(await refreshOn(ON_WORKER, worker)).toEqual({ success: true, onWorker: true });
    const a = caller.keySet!;
    const b = worker.keySet!;
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.keys().map((k) => [k.id, k.keysetId, k.activates, k.expires, k.secret.toString('hex')])).toEqual(
      a.keys().map((k) => [k.id, k.keysetId, k.activates, k.expires, k.secret.toString('hex')]),
    );
    expect([b.keysetIds(), b.siteIds(), b.siteIds().map((s) => b.getDomainNames(s))]).toEqual([a.keysetIds(), a.siteIds(), a.siteIds().map((s) => a.getDomainNames(s))]);
    // The snapshot the worker encoded is the one an engine publishes: no second encode.
    expect(snapshotOf(b)).toBe(snapshotOf(b));

    const engine = await DecryptionEngine.create({ client: worker, threads: 1 });
    cleanup.push(() => engine.close());
    const tokens = [op.mintToken({ version: 4 }), op.mintToken({ version: 3 }), op.mintToken({ version: 2 })];
    const results = await engine.decryptBatch(tokens);
    expect(results.map((r) => r.status)).toEqual(['Success', 'Success', 'Success']);
    expect(results.map((r) => r.uid)).toEqual(tokens.map((t) => caller.decryptTokenIntoRawUid(t).uid));
    // In-process decryption (the native addon reads the same snapshot when it is built) agrees too.
    expect(tokens.map((t) => worker.decryptTokenIntoRawUid(t))).toEqual(tokens.map((t) => caller.decryptTokenIntoRawUid(t)));
  });

  it('gives a sharing client keys it encrypts with and the calling thread\'s keys decrypt', async () => {
    const op = await operator();
    const [caller, worker] = [new SharingClient(op.url, op.apiKey, op.secretKey), new SharingClient(op.url, op.apiKey, op.secretKey)];
    expect((await refreshOn(ON_CALLER, caller)).success).toBe(true);
    expect(await refreshOn(ON_WORKER, worker)).toEqual({ success: true, onWorker: true });
    const rawUid = op.randomRawUid();
    const encrypted = worker.encryptRawUidIntoToken(rawUid);
    expect(encrypted.status).toBe('Success');
    expect(caller.decryptTokenIntoRawUid(encrypted.encryptedData!)).toMatchObject({ status: 'Success', uid: rawUid });
    expect(worker.keySet!.callerSiteId).toBe(caller.keySet!.callerSiteId);
    expect(worker.keySet!.tokenExpirySeconds).toBe(caller.keySet!.tokenExpirySeconds);
  });

  it('is where a client refreshes once its previous answer was large, and not before', async () => {
    const op = await operator();
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    const small = await refreshOn(REFRESH_THREAD_MIN_BYTES, client);
    expect(small).toEqual({ success: true, onWorker: false }); // first refresh: size unknown, calling thread
    // A large key set: about 200 bytes of answer per key.
    const big = await operator({ sites: Array.from({ length: 18 }, (_, i) => ({ id: 3000 + i, domainNames: [`s${i}.test`] })) });
    for (let i = 0; i < 10; i++) big.rotateKeys();
    const large = new BidstreamClient(big.url, big.apiKey, big.secretKey);
    expect(await refreshOn(REFRESH_THREAD_MIN_BYTES, large)).toEqual({ success: true, onWorker: false });
    expect(large.keySet!.size).toBeGreaterThan(200);
    expect(await refreshOn(REFRESH_THREAD_MIN_BYTES, large)).toEqual({ success: true, onWorker: true });
    expect(await refreshOn(REFRESH_THREAD_MIN_BYTES, client)).toEqual({ success: true, onWorker: false });
  });

  it('an AbortSignal aborts it at once; close() during it keeps the previous keys', async () => {
    const op = await operator();
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    expect((await client.refresh()).success).toBe(true);
    const before = client.keySet;
    op.setFault({ kind: 'delay', ms: 5_000 });
    const controller = new AbortController();
    const aborted = refreshOn(ON_WORKER, client, controller.signal);
    setTimeout(() => controller.abort(), 50);
    const result = await aborted;
    expect(result.onWorker).toBe(true);
    expect(result.error).toBeInstanceOf(AbortedError);

    op.setFault({ kind: 'delay', ms: 200 });
    const closing = refreshOn(ON_WORKER, client);
    client.close();
    const closed = await closing;
    expect(closed.error).toBeInstanceOf(AbortedError);
    expect(closed.error!.message).toBe('the client is closed');
    expect(client.keySet).toBe(before);
  });

  it('runs on the calling thread when the worker already holds its most refreshes', async () => {
    const op = await operator();
    op.setFault({ kind: 'delay', ms: 300 });
    const clients = Array.from({ length: MAX_PENDING_REFRESHES + 1 }, () => new BidstreamClient(op.url, op.apiKey, op.secretKey));
    const results = await Promise.all(clients.map((c) => refreshOn(ON_WORKER, c)));
    expect(results.map((r) => r.success)).toEqual(clients.map(() => true));
    expect(results.map((r) => r.onWorker)).toEqual([...Array<boolean>(MAX_PENDING_REFRESHES).fill(true), false]);
  });
});

describe('a refresh worker that dies', () => {
  it('fails the refreshes it held with WorkerFailedError, keeps the previous keys, and the next refresh works', async () => {
    const op = await operator();
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    const other = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    expect((await refreshOn(ON_WORKER, client)).success).toBe(true); // the worker is up
    const before = client.keySet;
    const errors: Uid2Error[] = [];
    client.on('refreshError', (e: Uid2Error) => errors.push(e));
    op.setFault({ kind: 'delay', ms: 100 });
    const started = refreshThreadHooks.workersStarted;
    refreshThreadHooks.crashNextJobs = 1;
    const [first, second] = await Promise.all([refreshOn(ON_WORKER, client), refreshOn(ON_WORKER, other)]);
    for (const result of [first, second]) {
      expect(result.error).toBeInstanceOf(WorkerFailedError);
      expect(result.error!.code).toBe('UID2_ERR_WORKER_FAILED');
    }
    expect(client.keySet).toBe(before);
    expect(other.keySet).toBeUndefined();
    expect(client.lastError?.code).toBe('UID2_ERR_WORKER_FAILED');
    expect(errors.map((e) => e.code)).toEqual(['UID2_ERR_WORKER_FAILED']);

    op.setFault(null);
    expect(await refreshOn(ON_WORKER, client)).toEqual({ success: true, onWorker: true });
    expect(refreshThreadHooks.workersStarted).toBe(started + 1);
    expect(client.keySet).not.toBe(before);
  });
});

describe('the refresh worker and the process', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'uid2-refresh-thread-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('holds the process open while a refresh runs, and lets it exit once idle', async () => {
    const op = await operator();
    op.setFault({ kind: 'delay', ms: 300 });
    // Nothing but the refresh in flight keeps this program alive: no timer, no server, no await.
    const file = join(scratch, 'refresh.mjs');
    writeFileSync(
      file,
      `import { BidstreamClient } from ${JSON.stringify(join(ROOT, 'dist/index.js'))};
       import { refreshThreadHooks } from ${JSON.stringify(join(ROOT, 'dist/service/refresh-thread.js'))};
       refreshThreadHooks.minBytes = 0;
       const client = new BidstreamClient(process.env.URL, process.env.API_KEY, process.env.SECRET_KEY);
       const first = await client.refresh();
       // The worker is up now (a worker still starting holds the process open by itself).
       client.refresh().then((r) => console.log(JSON.stringify({ success: first.success && r.success, keys: client.keySet?.size, jobs: refreshThreadHooks.jobsPosted })));`,
    );
    // Asynchronously: the operator answering the child lives in this process.
    const child = await promisify(execFile)(process.execPath, [file], {
      env: { ...process.env, URL: op.url, API_KEY: op.apiKey, SECRET_KEY: op.secretKey },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ success: true, keys: op.keyResponse('bidstream').body.keys.length, jobs: 2 });
  });
});

describe('no secret leaves the refresh worker', () => {
  it('in errors, events or logs, even when the service echoes the credentials', async () => {
    const KEY_SECRET = goodKey['secret'] as string;
    const payloads = [
      JSON.stringify({ status: 'error', message: `bad ${API_KEY} ${SECRET_KEY}` }),
      JSON.stringify({ status: `x${API_KEY}`, body: { keys: [goodKey] } }),
      JSON.stringify({ body: { keys: [goodKey, { ...goodKey, id: 12, secret: `${KEY_SECRET}!` }] } }),
      JSON.stringify({ body: { keys: [goodKey, { ...goodKey, id: 12, expires: KEY_SECRET }] } }),
      `{"body":{"keys":[${JSON.stringify(goodKey)},`,
    ];
    let payload = '';
    const url = await sealedServer(() => payload);
    const lines: string[] = [];
    const log = (...args: unknown[]): void => void lines.push(JSON.stringify(args));
    const client = new BidstreamClient(url, API_KEY, SECRET_KEY, { logger: { info: log, warn: log, error: log, debug: log } });
    const events: string[] = [];
    client.on('refreshError', (e: Uid2Error) => events.push(`${e.name} ${e.code} ${e.message} ${String(e.cause ?? '')}`));
    for (payload of payloads) {
      const result = await refreshOn(ON_WORKER, client);
      expect(result.onWorker).toBe(true);
      expect(result.success).toBe(false);
    }
    expect(events).toHaveLength(payloads.length);
    for (const text of [...lines, ...events]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(SECRET_KEY);
      expect(text).not.toContain(KEY_SECRET);
    }
  });
});
