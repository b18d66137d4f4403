/**
 * `npm run bench -- --scope dual [--quick]`: one engine for UID2 and EUID tokens (options.scopes)
 * against the single-scope engine, on the same token count.
 *
 * - corpus: v4 tokens minted by two local operators (one UID2, one EUID) over loopback; the
 *   single-scope engine decrypts UID2 tokens with UID2's keys, the dual-scope engine a 50/50
 *   interleaved mix of both scopes with both key sets. Every result is checked to be Success
 *   before timing, so both do the same work per token;
 * - paths: the worker's batch function alone (engine/worker/decode.ts decodeBatch over a slot of
 *   4,096 tokens with the engine's backend, called in this thread: one key-set snapshot against the
 *   dual-scope pair), decryptBatch() of 4,096 tokens on the worker pool (`dispatch: 'workers'`,
 *   the default thread count), decryptBatch() in process (`threads: 0`), and decrypt() one token
 *   per call in process (what a bidder's request handler does);
 * - a third contender, the dual-scope engine on the single-scope engine's UID2 tokens, separates
 *   the cost of routing from that of alternating between two key sets;
 * - rounds alternate the contenders (A/B/C, A/B/C, ...); each round decrypts a fixed number of
 *   tokens; the median round of each gives tokens/s, and the ratio dual/single is the figure
 *   compared with the target (>= 0.95). In-process rounds are timed by the main thread's CPU time
 *   (bench/thread-cpu.ts: all their work is on that thread, and CPU time does not grow when other
 *   processes take the CPU on a loaded machine) and by the wall clock; worker rounds by the wall
 *   clock only. The load average is printed with the result.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DecryptionEngine, parseKeys, type EngineOptions } from '../dist/index.js';
import { decodeBatch, openSnapshot } from '../dist/engine/worker/decode.js';
import { packBatch } from '../dist/engine/wire/slot.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';
import { resolveBackend } from '../dist/native/backend.js';
import { startLocalOperator, type LocalOperator } from '../dist/testing.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface DualScopeRow {
  path: Path | `worker batch function (${string})`;
  /** What the rates are per: the main thread's CPU seconds (in-process paths) or wall seconds. */
  clock: 'cpu' | 'wall';
  singlePerSec: number;
  dualPerSec: number;
  /** dualPerSec / singlePerSec. */
  ratio: number;
  /** The dual-scope engine on the single-scope engine's UID2 tokens, / singlePerSec: routing without alternating key sets. */
  uid2OnlyRatio: number;
  /** The in-process rows' wall-clock ratio (null for the worker row, whose figure is wall-clock already). */
  wallRatio: number | null;
}

export interface DualScopeResult {
  rows: DualScopeRow[];
  rounds: number;
  threads: number;
  load: string;
}

const BATCH = 4096;
const TARGET = 0.95;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function mint(operator: LocalOperator, count: number): string[] {
  return Array.from({ length: count }, () => operator.mintToken({ version: 4 }));
}

type Path = 'worker batch function' | 'decryptBatch, workers' | 'decryptBatch, in process' | 'decrypt(), in process';

/**
 * The worker's batch function in this thread: rounds alternate one snapshot on the UID2 tokens,
 * the dual-scope pair on the mixed tokens and the pair on the UID2 tokens; per round `repeat`
 * calls over a 4,096-token slot; tokens per CPU second of this thread (wall time without /proc).
 */
function batchFunctionRow(uid2Keys: object, euidKeys: object, uid2Tokens: readonly string[], mixed: readonly string[], rounds: number, repeat: number): DualScopeRow {
  const backend = resolveBackend();
  const nowMs = Date.now();
  const uid2Sab = encodeSnapshot(parseKeys(uid2Keys));
  const single = openSnapshot(uid2Sab, 1);
  const dual = openSnapshot(uid2Sab, 2, encodeSnapshot(parseKeys(euidKeys)));
  const slotOf = (tokens: readonly string[]) => packBatch(tokens.slice(0, BATCH).map((token) => ({ token, nowMs })));
  const [uid2Slot, mixedSlot] = [slotOf(uid2Tokens), slotOf(mixed)];
  const time = (slot: ReturnType<typeof slotOf>, snapshot: typeof single): { wall: number; cpu: number | null } => {
    const started = performance.now();
    const cpuStarted = mainThreadCpuMs();
    for (let k = 0; k < repeat; k++) decodeBatch(slot, BATCH, snapshot, 'bidstream', backend);
    const cpuEnded = mainThreadCpuMs();
    if (slot.recordBytes[0] !== 0) throw new Error('dual-scope bench: a token did not decrypt');
    const done = repeat * BATCH;
    return { wall: done / ((performance.now() - started) / 1000), cpu: cpuStarted === null || cpuEnded === null ? null : done / ((cpuEnded - cpuStarted) / 1000) };
  };
  const rates: { wall: number; cpu: number | null }[][] = [[], [], []];
  for (let r = 0; r < rounds + 2; r++) {
    const round = [time(uid2Slot, single), time(mixedSlot, dual), time(uid2Slot, dual)];
    if (r >= 2) round.forEach((rate, i) => rates[i]!.push(rate)); // two warm-up rounds
  }
  const clock = rates[0]!.every((r) => r.cpu !== null) ? 'cpu' : 'wall';
  const [singlePerSec, dualPerSec, uid2Only] = rates.map((list) => median(list.map((r) => (clock === 'cpu' ? r.cpu! : r.wall))));
  return { path: `worker batch function (${backend})`, clock, singlePerSec: singlePerSec!, dualPerSec: dualPerSec!, ratio: dualPerSec! / singlePerSec!, uid2OnlyRatio: uid2Only! / singlePerSec!, wallRatio: null };
}

/** One round: `total` tokens through `path`; tokens per wall second and per main-thread CPU second. */
async function round(engine: DecryptionEngine, path: Path, tokens: readonly string[], total: number): Promise<{ wall: number; cpu: number | null }> {
  const started = performance.now();
  const cpuStarted = mainThreadCpuMs();
  let done = 0;
  if (path === 'decrypt(), in process') {
    for (let i = 0; done < total; i = (i + 1) % tokens.length, done++) {
      if ((await engine.decrypt(tokens[i]!)).status !== 'Success') throw new Error('dual-scope bench: a token did not decrypt');
    }
  } else {
    for (let start = 0; done < total; start = (start + BATCH) % tokens.length, done += BATCH) {
      const results = await engine.decryptBatch(tokens.slice(start, start + BATCH));
      if (results[results.length - 1]!.status !== 'Success') throw new Error('dual-scope bench: a token did not decrypt');
    }
  }
  const cpuEnded = mainThreadCpuMs();
  return { wall: done / ((performance.now() - started) / 1000), cpu: cpuStarted === null || cpuEnded === null ? null : done / ((cpuEnded - cpuStarted) / 1000) };
}

export async function runDualScopeBench(quick: boolean, threads: number, progress: (text: string) => void): Promise<DualScopeResult> {
  const [uid2, euid] = [await startLocalOperator(), await startLocalOperator({ identityScope: 'EUID' })];
  const engines: DecryptionEngine[] = [];
  try {
    const count = quick ? 8192 : 16_384;
    const uid2Tokens = mint(uid2, count);
    const euidTokens = mint(euid, count / 2);
    // The same count: half of the UID2 tokens replaced by EUID ones, interleaved.
    const mixed = uid2Tokens.map((token, i) => (i % 2 === 1 ? euidTokens[(i - 1) / 2]! : token));
    const uid2Keys = uid2.keyResponse('bidstream');
    const euidKeys = euid.keyResponse('bidstream');
    const rounds = quick ? 7 : 15;
    progress(`dual scope: the worker batch function, ${rounds} alternated rounds`);
    const rows: DualScopeRow[] = [batchFunctionRow(uid2Keys, euidKeys, uid2Tokens, mixed, rounds, quick ? 8 : 32)];
    const paths: [Path, EngineOptions, number][] = [
      ['decryptBatch, workers', { threads, dispatch: 'workers' }, quick ? 65_536 : 262_144],
      ['decryptBatch, in process', { threads: 0 }, quick ? 32_768 : 131_072],
      ['decrypt(), in process', { threads: 0 }, quick ? 16_384 : 65_536],
    ];
    for (const [path, options, total] of paths) {
      progress(`dual scope: ${path}, ${rounds} alternated rounds of ${total.toLocaleString('en-US')} tokens`);
      const single = await DecryptionEngine.create({ ...options, keys: uid2Keys });
      const dual = await DecryptionEngine.create({ ...options, scopes: { UID2: { keys: uid2Keys }, EUID: { keys: euidKeys } } });
      engines.push(single, dual);
      const [s, d] = [await single.decryptBatch(uid2Tokens), await dual.decryptBatch(mixed)];
      if (![...s, ...d].every((r) => r.status === 'Success')) throw new Error('dual-scope bench: the corpus must decrypt fully on both engines');
      // Warm-up: workers started, contexts prepared, code optimised.
      await round(single, path, uid2Tokens, total / 4);
      await round(dual, path, mixed, total / 4);
      const singleRates: { wall: number; cpu: number | null }[] = [];
      const dualRates: { wall: number; cpu: number | null }[] = [];
      const uid2OnlyRates: { wall: number; cpu: number | null }[] = [];
      for (let r = 0; r < rounds; r++) {
        singleRates.push(await round(single, path, uid2Tokens, total));
        dualRates.push(await round(dual, path, mixed, total));
        uid2OnlyRates.push(await round(dual, path, uid2Tokens, total));
      }
      const byCpu = path !== 'decryptBatch, workers' && singleRates.every((r) => r.cpu !== null);
      const pick = (rates: typeof singleRates, clock: 'cpu' | 'wall'): number => median(rates.map((r) => (clock === 'cpu' ? r.cpu! : r.wall)));
      const clock = byCpu ? 'cpu' : 'wall';
      const singlePerSec = pick(singleRates, clock);
      const dualPerSec = pick(dualRates, clock);
      rows.push({ path, clock, singlePerSec, dualPerSec, ratio: dualPerSec / singlePerSec, uid2OnlyRatio: pick(uid2OnlyRates, clock) / singlePerSec, wallRatio: byCpu ? pick(dualRates, 'wall') / pick(singleRates, 'wall') : null });
      await Promise.all([single.close(), dual.close()]);
    }
    return { rows, rounds, threads, load: loadavg().map((l) => l.toFixed(2)).join(' ') };
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all([uid2.close(), euid.close()]);
  }
}

export function dualScopeMarkdown(r: DualScopeResult): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const lines = [
    '| path | clock | single-scope engine, UID2 tokens/s | dual-scope engine, 50/50 UID2+EUID tokens/s | ratio | target >= 0.95 | wall-clock ratio | dual-scope engine on the UID2 tokens, ratio |',
    '|---|---|---:|---:|---:|---|---:|---:|',
  ];
  for (const row of r.rows) {
    const clock = row.clock === 'cpu' ? (row.path.startsWith('worker') ? 'thread CPU' : 'main-thread CPU') : 'wall';
    lines.push(`| ${row.path} | ${clock} | ${n(row.singlePerSec)} | ${n(row.dualPerSec)} | ${row.ratio.toFixed(2)} | ${row.ratio >= TARGET ? 'met' : 'NOT met'} | ${(row.wallRatio ?? row.ratio).toFixed(2)} | ${row.uid2OnlyRatio.toFixed(2)} |`);
  }
  lines.push('');
  lines.push(`Medians of ${r.rounds} alternated rounds per path; workers: ${r.threads} thread(s); every token a v4 Success; load average ${r.load}.`);
  return lines.join('\n');
}
