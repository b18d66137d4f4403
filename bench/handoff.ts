/**
 * The hand-off: what the engine's coordinator costs compared with the work it offloads.
 *
 * - worker function: the exact code a worker runs per batch (engine/worker/decode.ts decodeBatch) on a
 *   pre-filled slot of `batch` tokens, called in this thread: the rate one worker can reach.
 * - engine: DecryptionEngine with one worker, decryptBatch() of the same `batch` tokens end to
 *   end (write the slot, hand off, decode on the worker, build results), awaited one after another.
 *
 * Rounds alternate between the two so load on the machine hits both alike; medians count. The
 * engine's main-thread time is event-loop utilisation over its rounds divided by tokens.
 */
import { performance } from 'node:perf_hooks';
import { DecryptionEngine, parseKeys } from '../dist/index.js';
import { type LocalOperator } from '../dist/testing.js';
import { decodeBatch, openSnapshot } from '../dist/engine/worker/decode.js';
import { packBatch } from '../dist/engine/wire/slot.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';
import type { CorpusToken } from './corpus.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface HandoffRow {
  backend: string;
  batch: number;
  /** Tokens/s of the worker's batch function in one thread. */
  workerFunctionPerSec: number;
  /** Tokens/s of engine.decryptBatch() with one worker. */
  enginePerSec: number;
  /** enginePerSec / workerFunctionPerSec. */
  ratio: number;
  /** Main-thread busy µs per token during the engine rounds (event-loop utilisation, wall time). */
  mainThreadUsPerToken: number;
  /** Main-thread CPU µs per token during the engine rounds (thread-cpu.ts; null without /proc). */
  mainThreadCpuUsPerToken: number | null;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runHandoff(operator: LocalOperator, corpus: readonly CorpusToken[], rounds: number, batch = 4096): Promise<HandoffRow[]> {
  const v4 = corpus.filter((t) => t.version === 4 && t.kind === 'valid');
  const tokens = Array.from({ length: batch }, (_, i) => v4[i % v4.length]!.token);
  const keysJson = operator.keyResponse('bidstream');
  const nowMs = Date.now();
  const snapshot = openSnapshot(encodeSnapshot(parseKeys(keysJson)), 1);
  const slot = packBatch(tokens.map((token) => ({ token, nowMs })));
  const rows: HandoffRow[] = [];
  const saved = process.env['UID2_ENGINE_BACKEND'];
  try {
    for (const backend of ['native', 'node-crypto'] as const) {
      process.env['UID2_ENGINE_BACKEND'] = backend;
      let engine: DecryptionEngine;
      try {
        engine = await DecryptionEngine.create({ keys: keysJson, threads: 1 });
      } catch {
        continue; // native not built here: the report's notes say which backends ran
      }
      try {
        for (let r = 0; r < 3; r++) {
          decodeBatch(slot, batch, snapshot, 'bidstream', backend);
          await engine.decryptBatch(tokens, { now: nowMs });
        }
        const fn: number[] = [];
        const eng: number[] = [];
        let busyMs = 0;
        let cpuMs: number | null = 0;
        for (let r = 0; r < rounds; r++) {
          let start = performance.now();
          decodeBatch(slot, batch, snapshot, 'bidstream', backend);
          fn.push(batch / ((performance.now() - start) / 1000));
          const elu0 = performance.eventLoopUtilization();
          const cpu0 = mainThreadCpuMs();
          start = performance.now();
          const results = await engine.decryptBatch(tokens, { now: nowMs });
          eng.push(batch / ((performance.now() - start) / 1000));
          busyMs += performance.eventLoopUtilization(elu0).active;
          const cpu1 = mainThreadCpuMs();
          cpuMs = cpuMs === null || cpu0 === null || cpu1 === null ? null : cpuMs + cpu1 - cpu0;
          if (results[batch - 1]!.status !== 'Success') throw new Error(`hand-off bench: ${results[batch - 1]!.status}`);
        }
        const workerFunctionPerSec = median(fn);
        const enginePerSec = median(eng);
        rows.push({
          backend,
          batch,
          workerFunctionPerSec,
          enginePerSec,
          ratio: enginePerSec / workerFunctionPerSec,
          mainThreadUsPerToken: (busyMs * 1000) / (rounds * batch),
          mainThreadCpuUsPerToken: cpuMs === null ? null : (cpuMs * 1000) / (rounds * batch),
        });
      } finally {
        await engine.close();
      }
    }
  } finally {
    if (saved === undefined) delete process.env['UID2_ENGINE_BACKEND'];
    else process.env['UID2_ENGINE_BACKEND'] = saved;
  }
  return rows;
}
