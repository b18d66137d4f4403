/**
 * The mailbox protocol under stress: many concurrent callers (single decrypt() calls and
 * decryptBatch() calls of every size, interleaved over many event-loop turns) through 3 worker
 * lanes, while workers are made to die mid-batch at random moments and lanes park and restart.
 * Every call settles exactly once; every result equals the in-process decryption of its token;
 * a rejection happens only as UID2_ERR_WORKER_FAILED for a batch whose re-run died too. The same
 * for decryptColumns() calls, whose workers write straight into the caller's columns.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine, decryptToken, parseKeys, type DecryptionResult } from '../../src/index.js';
import { withWorkerEntry } from '../../src/engine/test-hooks.js';
import { WorkerCrashes } from '../helpers/crashing-worker.mjs';
import { NOW_MS, keyResponse, mixedCorpus, prng } from './mixed-corpus.js';

const engines: DecryptionEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

describe('mailbox protocol', () => {
  it('many concurrent callers with random worker deaths: each call settles once, results equal in-process', async () => {
    const k = keyResponse(4000, 'mailbox');
    const keySet = parseKeys(k.json);
    const corpus = mixedCorpus(3000, k, 77);
    const rnd = prng(2026);
    // A short park time so lanes also park and restart during the run.
    const hooks = new WorkerCrashes();
    const engine = await DecryptionEngine.create(withWorkerEntry({ threads: 3, dispatch: 'workers' as const, keys: k.json, maxBatchSize: 64, idleParkMs: 5 }, hooks.entry));
    engines.push(engine);

    let settled = 0;
    let rejected = 0;
    const mismatches: string[] = [];
    const calls: Promise<void>[] = [];
    const check = (i: number, got: DecryptionResult): void => {
      const t = corpus[i]!;
      const want = decryptToken(t.token, keySet, 'bidstream', t.domain, NOW_MS);
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${i}: ${got.status} != ${want.status}`);
    };
    for (let round = 0; round < 60; round++) {
      const burst = 1 + Math.floor(rnd() * 40);
      for (let c = 0; c < burst; c++) {
        const start = Math.floor(rnd() * corpus.length);
        const size = rnd() < 0.6 ? 1 : 1 + Math.floor(rnd() * 300);
        const slice = Array.from({ length: size }, (_, j) => (start + j) % corpus.length);
        const call =
          size === 1 && rnd() < 0.8
            ? engine.decrypt(corpus[slice[0]!]!.token, corpus[slice[0]!]!.domain, NOW_MS).then((r) => check(slice[0]!, r))
            : engine
                .decryptBatch(
                  slice.map((i) => corpus[i]!.token),
                  { domains: slice.map((i) => corpus[i]!.domain), now: NOW_MS },
                )
                .then((rs) => {
                  expect(rs).toHaveLength(size);
                  rs.forEach((r, j) => check(slice[j]!, r));
                });
        calls.push(
          call.then(
            () => void settled++,
            (err: { code?: string }) => {
              expect(err.code).toBe('UID2_ERR_WORKER_FAILED');
              rejected++;
              settled++;
            },
          ),
        );
      }
      if (rnd() < 0.15 && hooks.crashNextBatches === 0) hooks.crashNextBatches = 1;
      // Vary the spacing: same turn, next macrotask, or a pause long enough for lanes to park.
      const pause = rnd();
      if (pause < 0.3) await sleep(0);
      else if (pause < 0.4) await sleep(12);
    }
    await Promise.all(calls);
    hooks.crashNextBatches = 0;

    expect(mismatches).toEqual([]);
    expect(settled).toBe(calls.length);
    const stats = engine.stats();
    expect(stats.batchRetries).toBeGreaterThan(0);
    // A call is rejected only when a batch failed twice.
    if (rejected > 0) expect(stats.failedBatches).toBeGreaterThan(0);
    expect({ queue: stats.queueDepth, batches: stats.inFlightBatches, tokens: stats.inFlightTokens }).toEqual({ queue: 0, batches: 0, tokens: 0 });
    // The pool is back to size and still answers correctly.
    const after = await engine.decryptBatch(corpus.slice(0, 500).map((t) => t.token), { domains: corpus.slice(0, 500).map((t) => t.domain), now: NOW_MS });
    after.forEach((r, i) => check(i, r));
    expect(mismatches).toEqual([]);
    for (let i = 0; i < 100 && engine.stats().liveWorkers < 3; i++) await sleep(20);
    expect(engine.stats().liveWorkers).toBe(3);
  });

  it('decryptColumns() with random worker deaths mid-batch: every row written once, equal to in-process', async () => {
    const k = keyResponse(4100, 'mailbox-columns');
    const keySet = parseKeys(k.json);
    const corpus = mixedCorpus(3000, k, 78);
    const expected = corpus.map((t) => decryptToken(t.token, keySet, 'bidstream', t.domain, NOW_MS));
    const rnd = prng(2027);
    const hooks = new WorkerCrashes();
    const engine = await DecryptionEngine.create(withWorkerEntry({ threads: 3, dispatch: 'workers' as const, keys: k.json, maxBatchSize: 64, idleParkMs: 5 }, hooks.entry));
    engines.push(engine);
    const problems: string[] = [];
    let rejected = 0;
    const calls: Promise<void>[] = [];
    for (let round = 0; round < 40; round++) {
      const start = Math.floor(rnd() * corpus.length);
      const size = 1 + Math.floor(rnd() * 700);
      const rows = Array.from({ length: size }, (_, j) => (start + j) % corpus.length);
      // Half as strings with domains, half as a Buffer of lines (no domains: a token's own).
      const asBuffer = rnd() < 0.5;
      const want = asBuffer ? rows.map((i) => decryptToken(corpus[i]!.token, keySet, 'bidstream', undefined, NOW_MS)) : rows.map((i) => expected[i]!);
      const call = asBuffer
        ? engine.decryptColumns(Buffer.from(rows.map((i) => corpus[i]!.token).join('\n')), { now: NOW_MS })
        : engine.decryptColumns(rows.map((i) => corpus[i]!.token), { domains: rows.map((i) => corpus[i]!.domain), now: NOW_MS });
      calls.push(
        call.then(
          (columns) => {
            if (columns.length !== size) problems.push(`round ${round}: ${columns.length} rows for ${size} tokens`);
            want.forEach((w, j) => {
              if (JSON.stringify(columns.result(j)) !== JSON.stringify(w)) problems.push(`round ${round} row ${j}: ${columns.result(j).status} != ${w.status}`);
            });
            // A re-run batch reserved its raw UIDs again: no two rows may share bytes.
            const ranges = want
              .map((_, j) => [columns.uidOffset[j]!, columns.uidLength[j]!] as const)
              .filter(([, length]) => length > 0)
              .sort((a, b) => a[0] - b[0]);
            for (let r = 1; r < ranges.length; r++) if (ranges[r - 1]![0] + ranges[r - 1]![1] > ranges[r]![0]) problems.push(`round ${round}: raw UIDs overlap`);
          },
          (err: { code?: string }) => {
            expect(err.code).toBe('UID2_ERR_WORKER_FAILED');
            rejected++;
          },
        ),
      );
      if (rnd() < 0.3 && hooks.crashNextBatches === 0) hooks.crashNextBatches = 1;
      if (rnd() < 0.3) await sleep(rnd() < 0.5 ? 0 : 12);
    }
    await Promise.all(calls);
    hooks.crashNextBatches = 0;
    expect(problems.slice(0, 5)).toEqual([]);
    const stats = engine.stats();
    expect(stats.batchRetries).toBeGreaterThan(0);
    if (rejected > 0) expect(stats.failedBatches).toBeGreaterThan(0);
    expect({ queue: stats.queueDepth, batches: stats.inFlightBatches, tokens: stats.inFlightTokens }).toEqual({ queue: 0, batches: 0, tokens: 0 });
  });

  it('a lane that parked starts again for the next call, with the keys published while it slept', async () => {
    const a = keyResponse(5000, 'park-a');
    const b = keyResponse(6000, 'park-b');
    const engine = await DecryptionEngine.create({ threads: 1, dispatch: 'workers', keys: a.json, idleParkMs: 1 });
    engines.push(engine);
    const tokenA = mixedCorpus(20, a, 1).find((t) => decryptToken(t.token, parseKeys(a.json), 'bidstream', t.domain, NOW_MS).status === 'Success')!;
    const tokenB = mixedCorpus(20, b, 1).find((t) => decryptToken(t.token, parseKeys(b.json), 'bidstream', t.domain, NOW_MS).status === 'Success')!;
    expect((await engine.decrypt(tokenA.token, tokenA.domain, NOW_MS)).status).toBe('Success');
    await sleep(30); // parked by now
    engine.setKeys(b.json);
    const [onA, onB] = await engine.decryptBatch([tokenA.token, tokenB.token], { domains: [tokenA.domain, tokenB.domain], now: NOW_MS });
    expect([onA!.status, onB!.status]).toEqual(['NotAuthorizedForMasterKey', 'Success']);
  });

  it('slot limits: hostile 2,048-character tokens and a domain too large for any slot give in-process results', async () => {
    const k = keyResponse(7000, 'slots');
    const keySet = parseKeys(k.json);
    const engine = await DecryptionEngine.create({ threads: 1, dispatch: 'workers', keys: k.json, maxBatchSize: 256 });
    engines.push(engine);
    const good = mixedCorpus(50, k, 5);
    const long = Array.from({ length: 600 }, (_, i) => 'A'.repeat(2040 + (i % 8)) + 'é'.repeat(i % 3));
    const hugeDomain = 'x'.repeat(300_000) + '.example';
    const tokens = [...long, ...good.map((t) => t.token), good[0]!.token];
    const domains = [...long.map(() => null), ...good.map((t) => t.domain), hugeDomain];
    const results = await engine.decryptBatch(tokens, { domains, now: NOW_MS });
    expect(results).toEqual(tokens.map((t, i) => decryptToken(t, keySet, 'bidstream', domains[i], NOW_MS)));
    expect(engine.stats().slotsAllocated).toBeLessThanOrEqual(4);
  });

  it('batchWindowUs: calls spread over a few milliseconds share one batch; with no window each goes at once', async () => {
    const k = keyResponse(8000, 'window');
    const keySet = parseKeys(k.json);
    const corpus = mixedCorpus(6, k, 9);
    const run = async (batchWindowUs: number): Promise<number> => {
      const engine = await DecryptionEngine.create({ threads: 1, dispatch: 'workers', keys: k.json, batchWindowUs });
      engines.push(engine);
      await engine.decryptBatch(['warm-up']);
      const before = engine.stats().batches;
      const pending: Promise<DecryptionResult>[] = [];
      for (const t of corpus) {
        pending.push(engine.decrypt(t.token, t.domain, NOW_MS));
        await sleep(3);
      }
      const results = await Promise.all(pending);
      expect(results).toEqual(corpus.map((t) => decryptToken(t.token, keySet, 'bidstream', t.domain, NOW_MS)));
      return engine.stats().batches - before;
    };
    expect(await run(200_000)).toBe(1);
    expect(await run(0)).toBe(corpus.length);
  });
});
