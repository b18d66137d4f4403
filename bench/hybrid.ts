/**
 * The hybrid-dispatch targets, read off one load run: per offered rate, the default engine's
 * main-thread µs per token (net of the floor) against its baseline in the same run, inline[native]
 * for the native backend, and for node-crypto the cheaper of inline[node-crypto] and the forced
 * pool; with p99 next to the baseline's.
 */
import type { LoadRun } from './load.js';

export interface HybridRatio {
  backend: string;
  offeredPerSec: number;
  engineNetUs: number;
  baseline: string;
  baselineNetUs: number;
  /** engineNetUs / baselineNetUs (target <= 1.05). */
  ratio: number;
  /** The same ratio on main-thread CPU time net of the floor (null without /proc). */
  cpuRatio: number | null;
  engineP99Us: number;
  baselineP99Us: number;
  /** Whether the engine and the baseline kept up with the offered rate. */
  engineKeptUp: boolean;
  baselineKeptUp: boolean;
}

export function hybridRatios(runs: readonly LoadRun[]): HybridRatio[] {
  const out: HybridRatio[] = [];
  const find = (contender: string, backend: string, rate: number): LoadRun | undefined =>
    runs.find((r) => r.contender === contender && r.backend === backend && r.offeredPerSec === rate && r.mainThreadNetUsPerToken !== undefined);
  for (const engine of runs.filter((r) => r.contender === 'engine' && r.mainThreadNetUsPerToken !== undefined)) {
    const rate = engine.offeredPerSec;
    const candidates = [find('inline', engine.backend, rate), engine.backend === 'native' ? undefined : find('pool', engine.backend, rate)].filter(
      (r): r is LoadRun => r !== undefined,
    );
    if (candidates.length === 0) continue;
    const base = candidates.reduce((a, b) => (b.mainThreadNetUsPerToken! < a.mainThreadNetUsPerToken! ? b : a));
    out.push({
      backend: engine.backend,
      offeredPerSec: rate,
      engineNetUs: engine.mainThreadNetUsPerToken!,
      baseline: base.contender,
      baselineNetUs: base.mainThreadNetUsPerToken!,
      ratio: engine.mainThreadNetUsPerToken! / base.mainThreadNetUsPerToken!,
      cpuRatio:
        engine.mainThreadCpuNetUsPerToken === undefined || base.mainThreadCpuNetUsPerToken === undefined
          ? null
          : engine.mainThreadCpuNetUsPerToken / base.mainThreadCpuNetUsPerToken,
      engineP99Us: engine.p99Us,
      baselineP99Us: base.p99Us,
      engineKeptUp: engine.keptUp,
      baselineKeptUp: base.keptUp,
    });
  }
  return out;
}

/** One note line per row, for the report. */
export function hybridNotes(rows: readonly HybridRatio[]): string[] {
  return rows.map(
    (h) =>
      `hybrid: engine[${h.backend}] at ${h.offeredPerSec.toLocaleString('en-US')}/s: ${h.engineNetUs.toFixed(2)} µs/token net vs ${h.baseline}[${h.backend}] ` +
      `${h.baselineNetUs.toFixed(2)} (ratio ${h.ratio.toFixed(2)}, target <= 1.05; on main-thread CPU time ${h.cpuRatio === null ? '-' : h.cpuRatio.toFixed(2)}); ` +
      `p99 ${Math.round(h.engineP99Us)} vs ${Math.round(h.baselineP99Us)} µs` +
      (h.engineKeptUp && h.baselineKeptUp ? '' : ` (kept up: engine ${h.engineKeptUp}, ${h.baseline} ${h.baselineKeptUp})`),
  );
}
