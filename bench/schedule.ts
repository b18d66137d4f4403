/**
 * Open-loop arrival schedules. Arrival times are fixed before a run starts and never depend on
 * how fast the contender answers: that is what keeps the harness free of coordinated omission.
 */

export type ArrivalProcess = 'poisson' | 'uniform';

export { seededRandom } from './seeded-random.js';
import { seededRandom } from './seeded-random.js';

/**
 * Intended arrival times in microseconds from the start of a run, for `ratePerSec` over
 * `durationSec`. Poisson: exponential gaps with mean 1/rate (bursty, like real traffic);
 * uniform: evenly spaced.
 */
export function arrivalTimesUs(ratePerSec: number, durationSec: number, process: ArrivalProcess, seed = 1): Float64Array {
  if (!(ratePerSec > 0) || !(durationSec > 0)) throw new RangeError('rate and duration must be positive');
  const horizonUs = durationSec * 1e6;
  const meanGapUs = 1e6 / ratePerSec;
  const expected = Math.ceil(ratePerSec * durationSec);
  const out: number[] = [];
  if (process === 'uniform') {
    for (let i = 0; i < expected; i++) out.push(i * meanGapUs);
    return Float64Array.from(out);
  }
  const random = seededRandom(seed);
  let t = 0;
  for (;;) {
    t += -Math.log(1 - random()) * meanGapUs;
    if (t >= horizonUs) break;
    out.push(t);
  }
  return Float64Array.from(out);
}

/** Index of the first arrival after `elapsedUs` (binary search): arrivals [from, result) are due. */
export function dueUntil(arrivals: Float64Array, from: number, elapsedUs: number): number {
  let lo = from;
  let hi = arrivals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arrivals[mid]! <= elapsedUs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
