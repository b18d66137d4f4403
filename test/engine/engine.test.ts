/**
 * DecryptionEngine against real Piscina workers: results identical to the in-process client,
 * key swaps under load, worker crashes, overload, close, threads: 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BidstreamClient,
  DecryptionEngine,
  DecryptionStatus,
  decryptToken,
  parseKeys,
  type ClientType,
  type DecryptionResult,
  type KeySet,
} from '../../src/index.js';
import type { BatchInfo } from '../../src/engine/pool/completion.js';
import { testHooks, withWorkerEntry } from '../../src/engine/test-hooks.js';
import { WorkerCrashes } from '../helpers/crashing-worker.mjs';
import { loadVectors } from '../helpers/vectors.js';
import { NATIVE_EXPECTED } from '../native/harness.js';
import { NOW_MS, keyResponse, mixedCorpus } from './mixed-corpus.js';

const engines: DecryptionEngine[] = [];
async function engineWith(options: Parameters<typeof DecryptionEngine.create>[0]): Promise<DecryptionEngine> {
  const engine = await DecryptionEngine.create(options);
  engines.push(engine);
  return engine;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

function inProcess(keys: KeySet | undefined, clientType: ClientType, tokens: { token: string; domain: string | null }[], now: number): DecryptionResult[] {
  return tokens.map((t) => decryptToken(t.token, keys, clientType, t.domain, now));
}

describe('DecryptionEngine results equal the in-process client', () => {
  const vectors = loadVectors();
  const groups = new Map<string, typeof vectors.decrypt>();
  for (const c of vectors.decrypt) {
    const id = `${c.keySet}|${c.clientType}|${c.nowMs}`;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }

  it.each([...groups.entries()])('vectors %s, through decryptBatch and decrypt', async (_id, cases) => {
    const first = cases[0]!;
    const keys = first.keySet === null ? undefined : vectors.keySets[first.keySet]!.response;
    const engine = await engineWith({ threads: 1, clientType: first.clientType, ...(keys ? { keys } : {}) });
    const expected = cases.map((c) =>
      decryptToken(c.token, keys ? parseKeys(keys) : undefined, c.clientType, c.domainOrAppName, c.nowMs),
    );
    const batch = await engine.decryptBatch(
      cases.map((c) => c.token),
      { domains: cases.map((c) => c.domainOrAppName), now: first.nowMs },
    );
    const singles = await Promise.all(cases.map((c) => engine.decrypt(c.token, c.domainOrAppName, c.nowMs)));
    expect(batch).toEqual(expected);
    expect(singles).toEqual(expected);
    cases.forEach((c, i) => expect(batch[i]!.status, c.name).toBe(c.expect.status));
  });

  it('100k random mixed tokens, 2 workers', async () => {
    const k = keyResponse(1000, 'mixed');
    const corpus = mixedCorpus(100_000, k, 7);
    const engine = await engineWith({ keys: k.json, threads: 2 });
    const results = await engine.decryptBatch(
      corpus.map((t) => t.token),
      { domains: corpus.map((t) => t.domain), now: NOW_MS },
    );
    const expected = inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS);
    let mismatches = 0;
    results.forEach((r, i) => {
      if (JSON.stringify(r) !== JSON.stringify(expected[i])) mismatches++;
    });
    expect(mismatches).toBe(0);
    // The corpus really is mixed.
    const statuses = new Set(expected.map((r) => r.status));
    for (const s of ['Success', 'ExpiredToken', 'InvalidPayload', 'NotAuthorizedForMasterKey', 'DomainOrAppNameCheckFailed']) {
      expect(statuses.has(s as DecryptionStatus)).toBe(true);
    }
    expect(engine.stats().tokens).toBe(100_000);
    expect(engine.stats().statusCounts.Success).toBe(expected.filter((r) => r.status === 'Success').length);
  }, 120_000); // 100k tokens through 2 workers: far from 30 s on a quiet machine, near it on a loaded 2-core one

  it('non-string and oversized tokens are InvalidPayload, after the key checks', async () => {
    const k = keyResponse(1000, 'odd');
    const engine = await engineWith({ keys: k.json, threads: 1 });
    const odd = [undefined, null, 42, {}, 'x'.repeat(5000), 'ÀÀÀÀÀÀ', '\uD800abcd', ''] as unknown as string[];
    const results = await engine.decryptBatch(odd, { now: NOW_MS });
    expect(results.map((r) => r.status)).toEqual(odd.map(() => 'InvalidPayload'));
    const noKeys = await engineWith({ threads: 1 });
    expect((await noKeys.decryptBatch(odd, { now: NOW_MS })).map((r) => r.status)).toEqual(odd.map(() => 'NotInitialized'));
  });
});

describe('key snapshots', () => {
  it('a swap every few milliseconds under load: every batch matches the snapshot it used', async () => {
    const k1 = keyResponse(1000, 'swap-a');
    const k2 = keyResponse(2000, 'swap-b');
    const corpus = [...mixedCorpus(3000, k1, 11), ...mixedCorpus(3000, k2, 12)];
    const engine = await engineWith({ keys: k1.json, threads: 2, dispatch: 'workers', maxBatchSize: 64 });
    const byVersion = new Map<number, KeySet>([[engine.stats().snapshotVersion, engine.keySet!]]);
    const batches: BatchInfo[] = [];
    testHooks(engine).onBatch = (info) => batches.push(info);

    let flip = false;
    const swapper = setInterval(() => {
      flip = !flip;
      engine.setKeys(flip ? k2.json : k1.json);
      byVersion.set(engine.stats().snapshotVersion, engine.keySet!);
    }, 3);
    for (let round = 0; round < 20; round++) {
      const slice = corpus.slice((round * 300) % corpus.length, ((round * 300) % corpus.length) + 300);
      await Promise.all([
        engine.decryptBatch(slice.map((t) => t.token), { domains: slice.map((t) => t.domain), now: NOW_MS }),
        ...slice.slice(0, 50).map((t) => engine.decrypt(t.token, t.domain, NOW_MS)),
      ]);
      await new Promise((r) => setTimeout(r, 2));
    }
    clearInterval(swapper);

    let mismatches = 0;
    for (const b of batches) {
      const keys = byVersion.get(b.snapshotVersion)!;
      expect(keys).toBeDefined();
      b.results.forEach((r, i) => {
        const expected = decryptToken(b.tokens[i], keys, 'bidstream', b.domains[i], b.nows[i]!);
        if (JSON.stringify(expected) !== JSON.stringify(r)) mismatches++;
      });
    }
    expect(mismatches).toBe(0);
    expect(new Set(batches.map((b) => b.snapshotVersion)).size).toBeGreaterThan(2);
  });

  it('follows a client: refreshJson on the client reaches the workers', async () => {
    const k1 = keyResponse(1000, 'client-a');
    const k2 = keyResponse(2000, 'client-b');
    const client = new BidstreamClient('https://unused.example', 'k', 's');
    client.refreshJson(k1.json);
    const engine = await engineWith({ client, threads: 1 });
    const [t2] = mixedCorpus(200, k2, 3).filter((t) => t.domain === null && !t.token.startsWith('Ag'));
    const before = await engine.decrypt(t2!.token, null, NOW_MS);
    client.refreshJson(k2.json);
    const after = await engine.decrypt(t2!.token, null, NOW_MS);
    expect(before.status).toBe('NotAuthorizedForMasterKey');
    expect(after).toEqual(decryptToken(t2!.token, parseKeys(k2.json), 'bidstream', null, NOW_MS));
  });

  it('before any keys every result is NotInitialized; setKeys then takes effect', async () => {
    const k = keyResponse(1000, 'late');
    const engine = await engineWith({ threads: 1 });
    const corpus = mixedCorpus(20, k, 5);
    const results = await engine.decryptBatch(corpus.map((t) => t.token), { now: NOW_MS });
    expect(new Set(results.map((r) => r.status))).toEqual(new Set(['NotInitialized']));
    engine.setKeys(k.json);
    expect(await engine.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS })).toEqual(
      inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS),
    );
  });

  it('setKeys with malformed JSON throws a coded error and keeps the previous keys', async () => {
    const k = keyResponse(1000, 'keep');
    const engine = await engineWith({ keys: k.json, threads: 1 });
    const version = engine.stats().snapshotVersion;
    expect(() => engine.setKeys('{"body":[{}]}')).toThrow(expect.objectContaining({ code: 'UID2_ERR_KEYS_JSON' }));
    expect(engine.stats().snapshotVersion).toBe(version);
    const [t] = mixedCorpus(50, k, 9).filter((c) => c.domain === null);
    expect(await engine.decrypt(t!.token, null, NOW_MS)).toEqual(decryptToken(t!.token, parseKeys(k.json), 'bidstream', null, NOW_MS));
  });
});

describe('worker faults', () => {
  it('a worker killed mid-batch: the batch is re-run, nothing lost or duplicated, pool back to size', async () => {
    const k = keyResponse(1000, 'crash');
    const corpus = mixedCorpus(2000, k, 21);
    const crashes = new WorkerCrashes();
    const engine = await engineWith(withWorkerEntry({ keys: k.json, threads: 2, dispatch: 'workers' as const, maxBatchSize: 128 }, crashes.entry));
    crashes.crashNextBatches = 3;
    let settled = 0;
    const singles = corpus.slice(0, 500).map((t) =>
      engine.decrypt(t.token, t.domain, NOW_MS).finally(() => settled++),
    );
    const batch = engine.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS });
    const expected = inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS);
    const singleResults = await Promise.allSettled(singles);
    const batchResults = await batch.then((r) => r, (e: unknown) => e);
    expect(settled).toBe(500);
    // Three crashes on distinct batches: each re-run succeeds, so every call resolves correctly.
    // (If two crashes hit the same batch, only that batch's calls reject, with the typed error.)
    const stats = engine.stats();
    expect(stats.batchRetries).toBeGreaterThanOrEqual(1);
    singleResults.forEach((r, i) => {
      if (r.status === 'fulfilled') expect(r.value).toEqual(expected[i]);
      else expect((r.reason as { code: string }).code).toBe('UID2_ERR_WORKER_FAILED');
    });
    if (Array.isArray(batchResults)) expect(batchResults).toEqual(expected);
    else expect((batchResults as { code: string }).code).toBe('UID2_ERR_WORKER_FAILED');
    for (let i = 0; i < 200 && engine.stats().liveWorkers < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(engine.stats().liveWorkers).toBe(2);
  });

  it('a batch that fails twice rejects its calls with UID2_ERR_WORKER_FAILED; the engine goes on', async () => {
    const k = keyResponse(1000, 'crash2');
    const corpus = mixedCorpus(100, k, 22);
    const crashes = new WorkerCrashes();
    const engine = await engineWith(withWorkerEntry({ keys: k.json, threads: 1, dispatch: 'workers' as const }, crashes.entry));
    crashes.crashNextBatches = 2;
    await expect(engine.decryptBatch(corpus.map((t) => t.token), { now: NOW_MS })).rejects.toMatchObject({
      code: 'UID2_ERR_WORKER_FAILED',
      name: 'WorkerFailedError',
    });
    expect(engine.stats().failedBatches).toBe(1);
    const again = await engine.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS });
    expect(again).toEqual(inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS));
  });
});

describe('backpressure and lifecycle', () => {
  it('beyond maxQueuedTokens calls reject at once with UID2_ERR_ENGINE_OVERLOADED; the rest resolve', async () => {
    const k = keyResponse(1000, 'load');
    const corpus = mixedCorpus(400, k, 31);
    const engine = await engineWith({ keys: k.json, threads: 1, dispatch: 'workers', maxQueuedTokens: 100, maxBatchSize: 32 });
    const outcomes = await Promise.allSettled(corpus.map((t) => engine.decrypt(t.token, t.domain, NOW_MS)));
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason.code).toBe('UID2_ERR_ENGINE_OVERLOADED');
    const expected = inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS);
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') expect(o.value).toEqual(expected[i]);
    });
    expect(engine.stats().overloadRejections).toBe(rejected.length);
    await expect(engine.decryptBatch(corpus.map((t) => t.token))).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_OVERLOADED' });
  });

  it('close() settles everything in flight, then rejects new calls with UID2_ERR_ENGINE_CLOSED', async () => {
    const k = keyResponse(1000, 'close');
    const corpus = mixedCorpus(1000, k, 41);
    const engine = await DecryptionEngine.create({ keys: k.json, threads: 2 });
    const pending = corpus.map((t) => engine.decrypt(t.token, t.domain, NOW_MS));
    const closing = engine.close();
    expect(await Promise.all(pending)).toEqual(inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS));
    await closing;
    await expect(engine.decrypt(corpus[0]!.token)).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_CLOSED' });
    await expect(engine.decryptBatch([corpus[0]!.token])).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_CLOSED' });
    await engine.close(); // idempotent
    expect(engine.stats().liveWorkers).toBe(0);
  });

  it('threads: 0 decrypts in-process with the same results and no workers', async () => {
    const k = keyResponse(1000, 'inproc');
    const corpus = mixedCorpus(500, k, 51);
    const engine = await engineWith({ keys: k.json, threads: 0 });
    const expected = inProcess(parseKeys(k.json), 'bidstream', corpus, NOW_MS);
    expect(await engine.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS })).toEqual(expected);
    expect(await Promise.all(corpus.map((t) => engine.decrypt(t.token, t.domain, NOW_MS)))).toEqual(expected);
    expect(engine.stats()).toMatchObject({ threads: 0, liveWorkers: 0, backend: NATIVE_EXPECTED ? 'native' : 'node-crypto', tokens: 1000 });
  });

  it('decryptBatch of zero tokens resolves to []', async () => {
    const engine = await engineWith({ threads: 1 });
    expect(await engine.decryptBatch([])).toEqual([]);
  });

  it('stats() reports batches, tokens, statuses, snapshot version, slots', async () => {
    const k = keyResponse(1000, 'stats');
    const corpus = mixedCorpus(1000, k, 61);
    const engine = await engineWith({ keys: k.json, threads: 1, maxBatchSize: 100 });
    await engine.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS });
    const s = engine.stats();
    expect(s.batches).toBe(10);
    expect(s.tokens).toBe(1000);
    expect(Object.values(s.statusCounts).reduce((a, b) => a + b, 0)).toBe(1000);
    expect(s.snapshotVersion).toBe(1);
    expect(s.queueDepth).toBe(0);
    expect(s.inFlightBatches).toBe(0);
    expect(s.slotsAllocated).toBeLessThanOrEqual(2);
    expect(JSON.stringify(s)).not.toContain(k.master.secret.toString('base64'));
  });
});

describe('options validation', () => {
  it.each([
    [{ threads: -1 }, 'options.threads must be a non-negative integer no larger than 1024'],
    [{ threads: 1.5 }, 'options.threads must be a non-negative integer no larger than 1024'],
    [{ maxBatchSize: 0 }, 'options.maxBatchSize must be a positive integer no larger than 65536'],
    [{ maxBatchSize: 100_000 }, 'options.maxBatchSize must be a positive integer no larger than 65536'],
    [{ idleParkMs: 0 }, 'options.idleParkMs must be a positive integer no larger than 2147483647'],
    [{ batchWindowUs: -1 }, 'options.batchWindowUs must be a non-negative integer no larger than 1000000'],
    [{ batchesPerWorker: 5 }, 'options.batchesPerWorker must be a positive integer no larger than 4'],
    [{ maxQueuedTokens: 0 }, 'options.maxQueuedTokens must be a positive integer'],
    [{ dispatch: 'sometimes' }, 'options.dispatch must be "auto", "workers" or "in-process"'],
    [{ dispatch: 'workers', threads: 0 }, 'options.dispatch "workers" needs options.threads >= 1'],
    [{ clientType: 'dsp' }, 'options.clientType must be "bidstream", "sharing" or "legacy"'],
    [{ keys: {}, baseUrl: 'http://x' }, 'options.keys, options.client and credentials (baseUrl, apiKey, secretKey) are alternatives: give at most one'],
  ])('%j -> %s', async (options, message) => {
    await expect(DecryptionEngine.create(options as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message });
  });

  it('bad key JSON at create() rejects with UID2_ERR_KEYS_JSON', async () => {
    await expect(DecryptionEngine.create({ keys: '{"status":"error"}', threads: 1 })).rejects.toMatchObject({ code: 'UID2_ERR_KEYS_JSON' });
  });

  it('bad call arguments reject with UID2_ERR_INVALID_ARGUMENT', async () => {
    const engine = await engineWith({ threads: 1 });
    await expect(engine.decryptBatch('abc' as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
    await expect(engine.decryptBatch(['a', 'b'], { domains: ['x'] })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
    await expect(engine.decrypt('abcd', null, Number.NaN)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
  });
});
