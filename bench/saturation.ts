/** The highest rate each contender sustains: achieved >= 99% of offered and p99 <= 1 ms. */
import type { LoadRun } from './load.js';
import type { SaturationRow } from './report.js';

export const COARSE_METHOD =
  'Coarse: the highest of the tested rates at which the run was sustained (0 when none was). ' +
  'Run without --quick for a search.';
export const SEARCH_METHOD =
  'Search: start at 2,500 tokens/s and double while sustained (up to 800,000), then bisect 4 times ' +
  'between the last sustained and the first failed rate; each probe is an open-loop run of the ' +
  'configured duration (Poisson arrivals).';

export function coarseSaturation(runs: readonly LoadRun[]): SaturationRow[] {
  const rows = new Map<string, SaturationRow>();
  for (const run of runs) {
    const key = `${run.contender}|${run.backend}|${run.threads}`;
    const row = rows.get(key) ?? { contender: run.contender, backend: run.backend, threads: run.threads, maxSustainedPerSec: 0, maxThroughputPerSec: 0, p99AtMaxThroughputUs: null };
    if (run.sustained && run.offeredPerSec > row.maxSustainedPerSec) row.maxSustainedPerSec = run.offeredPerSec;
    if (run.keptUp && run.offeredPerSec > (row.maxThroughputPerSec ?? 0)) {
      row.maxThroughputPerSec = run.offeredPerSec;
      row.p99AtMaxThroughputUs = run.p99Us;
    }
    rows.set(key, row);
  }
  return [...rows.values()];
}

/** Exponential then bisection search; `probe(rate)` runs one open-loop run and says if it held. */
export async function searchSaturation(probe: (rate: number) => Promise<boolean>, start = 2500, max = 800_000, steps = 4): Promise<number> {
  let good = 0;
  let bad = 0;
  for (let rate = start; rate <= max; rate *= 2) {
    if (await probe(rate)) good = rate;
    else {
      bad = rate;
      break;
    }
  }
  if (bad === 0) return good;
  for (let i = 0; i < steps; i++) {
    const mid = Math.round((good + bad) / 2);
    if (await probe(mid)) good = mid;
    else bad = mid;
  }
  return good;
}
