/**
 * The logger option of clients and the engine, against the real local operator: refresh
 * successes and failures, worker restarts and failed batches are logged, and no logged argument
 * ever holds the api key, the secret key, a key secret, a token or a raw UID.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withWorkerEntry } from '../../src/engine/test-hooks.js';
import { WorkerCrashes } from '../helpers/crashing-worker.mjs';
import { BidstreamClient, DecryptionEngine, SharingClient } from '../../src/index.js';
import { startLocalOperator, type LocalOperator, type OperatorFault } from '../../src/testing.js';
import { capturingLogger, type CapturingLogger } from './capture.js';

let op: LocalOperator;
const loggers: CapturingLogger[] = [];
/** Tokens and raw UIDs handed to the library in this file: none may show up in a log. */
const sensitive: string[] = [];
const cleanups: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  op = await startLocalOperator();
});
afterEach(async () => {
  op.setFault(null);
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  // The scan covers every logger of the file, after every test has logged what it could.
  const secrets = [
    op.apiKey,
    op.secretKey,
    ...op.keyResponse('bidstream').body.keys.map((k) => k.secret),
    ...op.keyResponse('sharing').body.keys.map((k) => k.secret),
    ...sensitive,
  ];
  expect(loggers.reduce((n, l) => n + l.entries.length, 0)).toBeGreaterThan(10);
  for (const logger of loggers) {
    const text = logger.text();
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
  await op.close();
});

function logger(withChild = true): CapturingLogger {
  const l = capturingLogger(withChild);
  loggers.push(l);
  return l;
}

function mint(options: Parameters<LocalOperator['mintToken']>[0]): { token: string; rawUid: string } {
  const rawUid = options.rawUid ?? op.randomRawUid();
  const token = op.mintToken({ ...options, rawUid });
  sensitive.push(token, rawUid);
  return { token, rawUid };
}

describe('client logger', () => {
  it('logs a successful refresh with key and keyset counts, bound to the client component', async () => {
    const log = logger();
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey, { logger: log });
    cleanups.push(() => client.close());
    expect(await client.refresh()).toEqual({ success: true });
    const expected = op.keyResponse('bidstream').body.keys;
    expect(log.entries).toEqual([
      {
        level: 'info',
        obj: {
          event: 'uid2.refresh',
          success: true,
          endpoint: 'bidstream',
          keys: expected.length,
          // Bidstream keys carry no keyset_id, as from the real service.
          keysets: 0,
        },
        msg: 'UID2 key refresh succeeded',
        bindings: { component: 'uid2-client' },
      },
    ]);
  });

  it.each<[OperatorFault, string]>([
    [{ kind: 'http-error', status: 500 }, 'UID2_ERR_SERVICE_HTTP'],
    [{ kind: 'http-error', status: 401 }, 'UID2_ERR_SERVICE_HTTP'],
    [{ kind: 'drop-connection' }, 'UID2_ERR_SERVICE_NETWORK'],
    [{ kind: 'garbage-body' }, 'UID2_ERR_ENVELOPE'],
    [{ kind: 'truncated-body' }, 'UID2_ERR_ENVELOPE'],
    [{ kind: 'wrong-nonce' }, 'UID2_ERR_NONCE_MISMATCH'],
    [{ kind: 'stale-keys' }, 'UID2_ERR_KEYS_STALE'],
  ])('logs a failed refresh (%j) as a warning with its code', async (fault, code) => {
    const log = logger();
    const client = new SharingClient(op.url, op.apiKey, op.secretKey, { logger: log });
    cleanups.push(() => client.close());
    op.setFault(fault);
    const result = await client.refresh();
    expect(result.error?.code).toBe(code);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      level: 'warn',
      obj: { event: 'uid2.refresh', success: false, endpoint: 'sharing', code, err: result.error!.message },
      msg: 'UID2 key refresh failed; the previous keys stay in force',
    });
  });

  it('a wrong api key or secret is logged by code, never by value', async () => {
    const log = logger();
    const wrongApiKey = `${op.apiKey}-wrong`;
    const wrongSecret = Buffer.alloc(32, 7).toString('base64');
    sensitive.push(wrongApiKey, wrongSecret);
    const a = new BidstreamClient(op.url, wrongApiKey, op.secretKey, { logger: log });
    const b = new BidstreamClient(op.url, op.apiKey, wrongSecret, { logger: log });
    cleanups.push(() => a.close(), () => b.close());
    await a.refresh();
    await b.refresh();
    expect(log.entries.map((e) => [e.level, e.obj['code']])).toEqual([
      ['warn', 'UID2_ERR_SERVICE_HTTP'],
      ['warn', 'UID2_ERR_SERVICE_HTTP'],
    ]);
  });

  it('an aborted refresh is only a debug line; a logger without child gets the component merged in', async () => {
    const log = logger(false);
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey, { logger: log });
    cleanups.push(() => client.close());
    op.setFault({ kind: 'delay', ms: 5_000 });
    const controller = new AbortController();
    const pending = client.refresh({ signal: controller.signal });
    controller.abort();
    expect((await pending).error?.code).toBe('UID2_ERR_ABORTED');
    expect(log.entries).toEqual([
      {
        level: 'debug',
        obj: { component: 'uid2-client', event: 'uid2.refresh', success: false, endpoint: 'bidstream', code: 'UID2_ERR_ABORTED' },
        msg: 'UID2 key refresh aborted',
        bindings: {},
      },
    ]);
  });

  it.each([{}, { info() {} }, 'console', { info: 1, warn() {}, error() {}, debug() {} }])(
    'rejects a logger without the four levels: %j',
    (bad) => {
      expect(() => new BidstreamClient(op.url, op.apiKey, op.secretKey, { logger: bad as never })).toThrow(
        expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT', message: 'options.logger must have info, warn, error and debug functions' }),
      );
    },
  );
});

describe('engine logger', () => {
  it('with credentials, the created client logs its refreshes through the engine logger', async () => {
    const log = logger();
    const engine = await DecryptionEngine.create({
      baseUrl: op.url,
      apiKey: op.apiKey,
      secretKey: op.secretKey,
      threads: 0,
      logger: log,
      autoRefresh: { intervalMs: 60_000, retryIntervalMs: 20, jitter: 0 },
    });
    cleanups.push(() => engine.close());
    expect(log.entries[0]).toMatchObject({ level: 'info', obj: { event: 'uid2.refresh', success: true }, bindings: { component: 'uid2-client' } });
    const { token, rawUid } = mint({ version: 4 });
    expect(await engine.decrypt(token)).toMatchObject({ status: 'Success', uid: rawUid });
  });

  it('logs a worker restart and the batch re-run; a batch failing twice is an error line', async () => {
    const log = logger();
    const crashes = new WorkerCrashes();
    const engine = await DecryptionEngine.create(withWorkerEntry({ keys: op.keyResponse('bidstream'), threads: 1, dispatch: 'workers' as const, logger: log }, crashes.entry));
    cleanups.push(() => engine.close());
    const { token, rawUid } = mint({ version: 4 });

    crashes.crashNextBatches = 1;
    expect(await engine.decrypt(token)).toMatchObject({ status: 'Success', uid: rawUid });
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      level: 'warn',
      obj: { event: 'uid2.engine.worker-failed', tokens: 1, attempt: 1, action: 'restart-and-rerun' },
      msg: 'engine worker failed mid-batch; the pool replaces it and the batch is re-run once',
      bindings: { component: 'uid2-engine' },
    });
    expect(typeof log.entries[0]!.obj['err']).toBe('string');

    crashes.crashNextBatches = 2;
    await expect(engine.decryptBatch([token, token])).rejects.toMatchObject({ code: 'UID2_ERR_WORKER_FAILED' });
    expect(log.entries.slice(1).map((e) => [e.level, e.obj['event'], e.obj['tokens'], e.obj['attempt']])).toEqual([
      ['warn', 'uid2.engine.worker-failed', 2, 1],
      ['error', 'uid2.engine.batch-failed', 2, 2],
    ]);
    expect(engine.stats()).toMatchObject({ batchRetries: 2, failedBatches: 1 });
  });

  it('rejects a bad logger with the option named', async () => {
    await expect(DecryptionEngine.create({ threads: 0, logger: { info() {} } as never })).rejects.toMatchObject({
      code: 'UID2_ERR_INVALID_ARGUMENT',
      message: 'options.logger must have info, warn, error and debug functions',
    });
  });

  it('is silent by default: no logger, no output, same results', async () => {
    const crashes = new WorkerCrashes();
    const engine = await DecryptionEngine.create(withWorkerEntry({ keys: op.keyResponse('bidstream'), threads: 1 }, crashes.entry));
    cleanups.push(() => engine.close());
    crashes.crashNextBatches = 1;
    const { token } = mint({ version: 3 });
    expect((await engine.decrypt(token)).status).toBe('Success');
  });
});
