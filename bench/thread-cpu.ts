/**
 * CPU time of the calling thread, from Linux's /proc/self/task/<tid>/schedstat (nanoseconds on
 * the CPU). Unlike event-loop utilisation, which counts wall time while the loop is busy, it does
 * not grow when other processes take the CPU away mid-callback, so main-thread cost stays
 * comparable on a loaded machine. Only the main thread is measured (its tid is the pid).
 * `null` where /proc is not available.
 */
import { readFileSync } from 'node:fs';

const PATH = `/proc/self/task/${process.pid}/schedstat`;

export function mainThreadCpuMs(): number | null {
  try {
    return Number(readFileSync(PATH, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}
