/**
 * The hand-off: what the engine's coordinator costs compared with the work it offloads.
 *
 * - worker function: the exact code a worker runs per batch (engine/worker/decode.ts decodeBatch) on a
 *   pre-filled slot of `batch` tokens, called in this thread: the rate one worker can reach.
 * - engine: DecryptionEngine with one worker, decryptBatch() of the same `batch` tokens end to
 *   end (write the slot, hand off, decode on the worker, build results), awaited one after another;
 *   and decryptColumns() of them, as strings and as one newline-separated Buffer (write the slot,
 *   hand off, the worker writes the columns; no result objects).
 *
 * Rounds alternate between the two so load on the machine hits both alike; medians count. The
 * engine's main-thread time is event-loop utilisation over its rounds divided by tokens.
 */
import { performance } from 'node:perf_hooks';
import { DecryptedColumns, DecryptionEngine, parseKeys } from '../dist/index.js';
import { type LocalOperator } from '../dist/testing.js';
import { decodeBatch, openSnapshot } from '../dist/engine/worker/decode.js';
import { packBatch } from '../dist/engine/wire/slot.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';
import type { CorpusToken } from './corpus.js';
import { mainThreadCpuMs } from './thread-cpu.js';

/** The engine call each row measures. */
export type HandoffApi = 'decryptBatch' | 'decryptColumns' | 'decryptColumns(Buffer)';

export interface HandoffRow {
  backend: string;
  api: HandoffApi;
  batch: number;
  /** Tokens/s of the worker's batch function in one thread. */
  workerFunctionPerSec: number;
  /** Tokens/s of the engine call with one worker. */
  enginePerSec: number;
  /** enginePerSec / workerFunctionPerSec. */
  ratio: number;
  /** Main-thread busy µs per token during the engine rounds (event-loop utilisation, wall time). */
  mainThreadUsPerToken: number;
  /** Main-thread CPU µs per token during the engine rounds (thread-cpu.ts; null without /proc). */
  mainThreadCpuUsPerToken: number | null;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const APIS: readonly HandoffApi[] = ['decryptBatch', 'decryptColumns', 'decryptColumns(Buffer)'];

export async function runHandoff(operator: LocalOperator, corpus: readonly CorpusToken[], rounds: number, batch = 4096): Promise<HandoffRow[]> {
  const v4 = corpus.filter((t) => t.version === 4 && t.kind === 'valid');
  const tokens = Array.from({ length: batch }, (_, i) => v4[i % v4.length]!.token);
  // What a bulk caller holds: the tokens as one newline-separated Buffer (read from a file).
  const lines = Buffer.from(tokens.join('\n') + '\n');
  const keysJson = operator.keyResponse('bidstream');
  const nowMs = Date.now();
  const snapshot = openSnapshot(encodeSnapshot(parseKeys(keysJson)), 1);
  const slot = packBatch(tokens.map((token) => ({ token, nowMs })));
  const rows: HandoffRow[] = [];
  const saved = process.env['UID2_ENGINE_BACKEND'];
  const call = async (engine: DecryptionEngine, api: HandoffApi): Promise<string> => {
    if (api === 'decryptBatch') return (await engine.decryptBatch(tokens, { now: nowMs }))[batch - 1]!.status;
    const columns = await engine.decryptColumns(api === 'decryptColumns' ? tokens : lines, { now: nowMs });
    return DecryptedColumns.STATUSES[columns.status[batch - 1]!]!;
  };
  try {
    for (const backend of ['native', 'node-crypto'] as const) {
      process.env['UID2_ENGINE_BACKEND'] = backend;
      let engine: DecryptionEngine;
      try {
        // The default engine: a batch this large goes to its worker (hybrid dispatch).
        engine = await DecryptionEngine.create({ keys: keysJson, threads: 1 });
      } catch {
        continue; // native not built here: the report's notes say which backends ran
      }
      try {
        for (let r = 0; r < 3; r++) {
          decodeBatch(slot, batch, snapshot, 'bidstream', backend);
          for (const api of APIS) await call(engine, api);
        }
        const fn: number[] = [];
        const eng = new Map<HandoffApi, number[]>(APIS.map((a) => [a, []]));
        const busyMs = new Map<HandoffApi, number>(APIS.map((a) => [a, 0]));
        const cpuMs = new Map<HandoffApi, number | null>(APIS.map((a) => [a, 0]));
        // Rounds alternate the worker function and every engine call, so load on the machine hits all alike.
        for (let r = 0; r < rounds; r++) {
          let start = performance.now();
          decodeBatch(slot, batch, snapshot, 'bidstream', backend);
          fn.push(batch / ((performance.now() - start) / 1000));
          for (const api of APIS) {
            const elu0 = performance.eventLoopUtilization();
            const cpu0 = mainThreadCpuMs();
            start = performance.now();
            const status = await call(engine, api);
            eng.get(api)!.push(batch / ((performance.now() - start) / 1000));
            busyMs.set(api, busyMs.get(api)! + performance.eventLoopUtilization(elu0).active);
            const cpu1 = mainThreadCpuMs();
            const sum = cpuMs.get(api)!;
            cpuMs.set(api, sum === null || cpu0 === null || cpu1 === null ? null : sum + cpu1 - cpu0);
            if (status !== 'Success') throw new Error(`hand-off bench: ${api} gave ${status}`);
          }
        }
        const workerFunctionPerSec = median(fn);
        for (const api of APIS) {
          const enginePerSec = median(eng.get(api)!);
          const cpu = cpuMs.get(api)!;
          rows.push({
            backend,
            api,
            batch,
            workerFunctionPerSec,
            enginePerSec,
            ratio: enginePerSec / workerFunctionPerSec,
            mainThreadUsPerToken: (busyMs.get(api)! * 1000) / (rounds * batch),
            mainThreadCpuUsPerToken: cpu === null ? null : (cpu * 1000) / (rounds * batch),
          });
        }
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
