/**
 * Workers killed at random during sustained load: every call settles exactly once, with its own
 * token's result (or the typed worker error), and the pool returns to full size.
 */
import { describe, expect, it } from 'vitest';
import { DecryptionEngine, decryptToken, parseKeys } from '../../src/index.js';
import { withWorkerEntry } from '../../src/engine/test-hooks.js';
import { WorkerCrashes } from '../helpers/crashing-worker.mjs';
import { NOW_MS, keyResponse, mixedCorpus, prng } from '../engine/mixed-corpus.js';

describe('random worker kills under sustained load', () => {
  it('loses nothing, duplicates nothing, misattributes nothing; the pool recovers', async () => {
    const k = keyResponse(3000, 'kills');
    const corpus = mixedCorpus(4000, k, 77);
    const keys = parseKeys(k.json);
    const expected = corpus.map((t) => decryptToken(t.token, keys, 'bidstream', t.domain, NOW_MS));
    const crashes = new WorkerCrashes();
    const engine = await DecryptionEngine.create(withWorkerEntry({ keys: k.json, threads: 2, dispatch: 'workers' as const, maxBatchSize: 64 }, crashes.entry));
    const random = prng(5);
    let settledTwice = 0;
    let kills = 0;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; code: string } | undefined)[] = new Array(corpus.length);
    const calls: Promise<void>[] = [];
    for (let round = 0; round < 40; round++) {
      if (random() < 0.3) {
        crashes.crashNextBatches = 1;
        kills++;
      }
      for (let j = 0; j < 100; j++) {
        const i = round * 100 + j;
        const t = corpus[i]!;
        calls.push(
          engine.decrypt(t.token, t.domain, NOW_MS).then(
            (value) => {
              if (outcomes[i]) settledTwice++;
              outcomes[i] = { ok: true, value };
            },
            (err: { code: string }) => {
              if (outcomes[i]) settledTwice++;
              outcomes[i] = { ok: false, code: err.code };
            },
          ),
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    expect(kills).toBeGreaterThan(3);
    expect(settledTwice).toBe(0);
    let failed = 0;
    outcomes.forEach((o, i) => {
      expect(o).toBeDefined();
      if (o!.ok) expect(o!.value).toEqual(expected[i]);
      else {
        failed++;
        expect(o!.code).toBe('UID2_ERR_WORKER_FAILED');
      }
    });
    const stats = engine.stats();
    expect(stats.batchRetries).toBeGreaterThan(0);
    // Only batches that were hit twice may fail; each failure is counted once per batch.
    expect(failed).toBeLessThanOrEqual(stats.failedBatches * 64);
    for (let i = 0; i < 300 && engine.stats().liveWorkers < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(engine.stats().liveWorkers).toBe(2);
    // And the recovered pool still decrypts correctly.
    expect(await engine.decryptBatch(corpus.slice(0, 500).map((t) => t.token), { domains: corpus.slice(0, 500).map((t) => t.domain), now: NOW_MS })).toEqual(expected.slice(0, 500));
    await engine.close();
  });
});
