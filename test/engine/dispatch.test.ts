/**
 * Hybrid dispatch: the same calls give the same results whichever side decrypts (in process,
 * worker threads, or the default policy choosing per call), with both backends and with keys
 * swapped between and during calls; and the policy's rule itself (dispatch-policy.ts): small work
 * stays here, work that repays a hand-off and work past the main thread's share goes to workers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine, decryptToken, parseKeys, type DecryptionResult, type DispatchMode, type EngineOptions } from '../../src/index.js';
import {
  DispatchPolicy,
  HANDOFF_BATCH_US,
  HANDOFF_COLUMN_TOKEN_US,
  HANDOFF_TOKEN_US,
  IN_PROCESS_US,
} from '../../src/engine/dispatch-policy.js';
import { NATIVE_EXPECTED } from '../native/harness.js';
import { NOW_MS, keyResponse, mixedCorpus, prng } from './mixed-corpus.js';
import { withBackend } from '../helpers/backend.js';

const engines: DecryptionEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

/** Creates an engine with UID2_ENGINE_BACKEND set to `backend` (read at create()). */
async function engineOn(backend: 'native' | 'node-crypto', options: EngineOptions): Promise<DecryptionEngine> {
  const engine = await withBackend(backend, () => DecryptionEngine.create(options));
  engines.push(engine);
  return engine;
}

const backends = NATIVE_EXPECTED ? (['native', 'node-crypto'] as const) : (['node-crypto'] as const);

describe.each(backends)('results are identical whichever side decrypts (%s)', (backend) => {
  it('decrypt(), decryptBatch() and decryptColumns() of every size, keys swapped between turns', async () => {
    const a = keyResponse(5100, `dispatch-a-${backend}`);
    const b = keyResponse(5200, `dispatch-b-${backend}`);
    const corpus = [...mixedCorpus(1500, a, 71), ...mixedCorpus(1500, b, 72)];
    const modes: DispatchMode[] = ['auto', 'workers', 'in-process'];
    const contenders = await Promise.all(modes.map((dispatch) => engineOn(backend, { keys: a.json, threads: 1, dispatch, maxBatchSize: 128 })));
    const rnd = prng(99);
    const outputs: DecryptionResult[][][] = contenders.map(() => []);
    for (let round = 0; round < 40; round++) {
      if (round % 7 === 3) for (const e of contenders) e.setKeys(round % 2 ? b.json : a.json);
      const start = Math.floor(rnd() * corpus.length);
      // Sizes on both sides of the policy's thresholds: 1, a few, dozens, hundreds.
      const size = [1, 2, 5, 20, 60, 300, 900][Math.floor(rnd() * 7)]!;
      const slice = Array.from({ length: size }, (_, j) => corpus[(start + j) % corpus.length]!);
      const tokens = slice.map((t) => t.token);
      const domains = slice.map((t) => t.domain);
      const kind = round % 3;
      await Promise.all(
        contenders.map(async (engine, c) => {
          let results: DecryptionResult[];
          if (kind === 0) results = await Promise.all(slice.map((t) => engine.decrypt(t.token, t.domain, NOW_MS)));
          else if (kind === 1) results = await engine.decryptBatch(tokens, { domains, now: NOW_MS });
          else {
            const columns = await engine.decryptColumns(tokens, { domains, now: NOW_MS });
            results = tokens.map((_, i) => columns.result(i));
          }
          outputs[c]!.push(results);
        }),
      );
    }
    const [auto, workers, inProcess] = outputs;
    expect(workers).toEqual(inProcess);
    expect(auto).toEqual(inProcess);
    // The default really used both sides; the forced ones only theirs.
    const [autoStats, workerStats, localStats] = contenders.map((e) => e.stats());
    expect(autoStats!.inProcessTokens).toBeGreaterThan(0);
    expect(autoStats!.inProcessTokens).toBeLessThan(autoStats!.tokens);
    expect(workerStats!.inProcessTokens).toBe(0);
    expect(localStats!.inProcessTokens).toBe(localStats!.tokens);
    expect(localStats!.liveWorkers).toBe(0);
    expect(autoStats!.dispatch).toBe('auto');
  });

  it('keys swapped every few milliseconds while both sides decrypt: each result is one of the two key sets’ answers', async () => {
    const a = keyResponse(5300, `dswap-a-${backend}`);
    const b = keyResponse(5400, `dswap-b-${backend}`);
    const keysA = parseKeys(a.json);
    const keysB = parseKeys(b.json);
    const corpus = [...mixedCorpus(800, a, 81), ...mixedCorpus(800, b, 82)];
    const engine = await engineOn(backend, { keys: a.json, threads: 1 });
    let flip = false;
    const swapper = setInterval(() => {
      flip = !flip;
      engine.setKeys(flip ? b.json : a.json);
    }, 2);
    let wrong = 0;
    let checked = 0;
    const check = (t: (typeof corpus)[number], r: DecryptionResult): void => {
      const onA = JSON.stringify(decryptToken(t.token, keysA, 'bidstream', t.domain, NOW_MS));
      const onB = JSON.stringify(decryptToken(t.token, keysB, 'bidstream', t.domain, NOW_MS));
      if (JSON.stringify(r) !== onA && JSON.stringify(r) !== onB) wrong++;
      checked++;
    };
    try {
      for (let round = 0; round < 30; round++) {
        const slice = corpus.slice((round * 97) % 1400, ((round * 97) % 1400) + 200);
        const [singles, batch] = await Promise.all([
          Promise.all(slice.slice(0, 20).map((t) => engine.decrypt(t.token, t.domain, NOW_MS))),
          engine.decryptBatch(slice.map((t) => t.token), { domains: slice.map((t) => t.domain), now: NOW_MS }),
        ]);
        singles.forEach((r, i) => check(slice[i]!, r));
        batch.forEach((r, i) => check(slice[i]!, r));
        await sleep(1);
      }
    } finally {
      clearInterval(swapper);
    }
    expect(wrong).toBe(0);
    expect(checked).toBe(30 * 220);
    const stats = engine.stats();
    expect(stats.inProcessTokens).toBeGreaterThan(0);
    expect(stats.inProcessTokens).toBeLessThan(stats.tokens);
  });
});

describe('the dispatch rule', () => {
  it('forced modes answer the same for every call', () => {
    for (const mode of ['workers', 'in-process'] as const) {
      const policy = new DispatchPolicy(mode, 'native');
      const here = mode === 'in-process';
      expect([policy.single(), policy.batch(1), policy.batch(1_000_000), policy.batch(3, true)]).toEqual([here, here, here, here]);
    }
  });

  it.each(['native', 'node-crypto'] as const)('%s: n tokens stay here exactly while n x in-process cost <= the hand-off cost', (backend) => {
    const perToken = IN_PROCESS_US[backend];
    // The break-even sizes the rule implies, for decryptBatch() and decryptColumns() tokens.
    const limit = Math.floor(HANDOFF_BATCH_US / (perToken - HANDOFF_TOKEN_US));
    const columnsLimit = Math.floor(HANDOFF_BATCH_US / (perToken - HANDOFF_COLUMN_TOKEN_US));
    const fresh = (): DispatchPolicy => new DispatchPolicy('auto', backend);
    expect(fresh().batch(limit)).toBe(true);
    expect(fresh().batch(limit + 1)).toBe(false);
    expect(fresh().batch(columnsLimit, true)).toBe(true);
    expect(fresh().batch(columnsLimit + 1, true)).toBe(false);
    // One decrypt() call, when calls come one per turn: a hand-off would carry it alone.
    expect(fresh().single()).toBe(perToken <= HANDOFF_BATCH_US + HANDOFF_TOKEN_US);
  });

  it('decrypt() calls that come many per turn share hand-offs: once the turn size is seen, they queue', async () => {
    const policy = new DispatchPolicy('auto', 'node-crypto');
    expect(policy.single()).toBe(true);
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 64; i++) policy.single();
      await Promise.resolve(); // the turn ends
    }
    expect(policy.callsPerTurn).toBeGreaterThan(16);
    expect(policy.single()).toBe(false);
  });

  it('one burst turn (a stalled caller catching up) does not make later calls queue', async () => {
    const policy = new DispatchPolicy('auto', 'native');
    for (let i = 0; i < 50_000; i++) policy.single();
    await Promise.resolve();
    for (let turn = 0; turn < 64; turn++) {
      policy.single();
      await Promise.resolve();
    }
    expect(policy.callsPerTurn).toBe(1);
    expect(policy.single()).toBe(true);
  });

  it('in-process work past the main thread’s share goes to workers, and comes back with time', async () => {
    const policy = new DispatchPolicy('auto', 'native');
    let here = 0;
    // Batches that are each cheaper here, back to back: far more work than half the wall time.
    for (let i = 0; i < 20_000; i++) if (policy.batch(10)) here++;
    expect(here).toBeGreaterThan(0);
    expect(here).toBeLessThan(20_000);
    await sleep(20);
    expect(policy.batch(10)).toBe(true);
  });

  it('measured costs charge the share (samples taken while descheduled do not); the sizes that repay a hand-off stay put', () => {
    const policy = new DispatchPolicy('auto', 'native');
    for (let i = 0; i < 40; i++) policy.observe(10, 50); // 5 µs per token
    expect(policy.inProcessUs).toBe(5);
    // A third of the samples stalled for a millisecond: the estimate stays where the work is.
    for (let i = 0; i < 40; i++) policy.observe(1, i % 3 === 0 ? 1000 : 5);
    expect(policy.inProcessUs).toBe(5);
    // The same batches, back to back: the share runs out about 5 times sooner than at 1 µs.
    const fresh = new DispatchPolicy('auto', 'native');
    let slow = 0;
    let fast = 0;
    for (let i = 0; i < 2_000; i++) {
      if (policy.batch(10)) slow++;
      if (fresh.batch(10)) fast++;
    }
    expect(slow).toBeLessThan(fast / 2);
    expect(slow).toBeGreaterThan(0);
  });
});
