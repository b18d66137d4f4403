/**
 * Runs a Node script as its own process and reports its exit code, stderr, wall time and peak
 * RSS: from `/usr/bin/time -v` when the machine has it, else by polling the child's VmHWM. One
 * home for the bulk bench and the CLI memory tests.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';

export interface MeasuredRun {
  code: number | null;
  stderr: string;
  wallSec: number;
  /** Peak resident set size in KiB; 0 when neither source could tell. */
  peakRssKb: number;
}

export async function runWithPeakRss(script: string, args: readonly string[]): Promise<MeasuredRun> {
  const useTime = existsSync('/usr/bin/time');
  const started = performance.now();
  const child = useTime
    ? spawn('/usr/bin/time', ['-v', process.execPath, script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let polledKb = 0;
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polledKb = Math.max(polledKb, Number(m[1]));
        } catch {
          // The process has exited.
        }
      }, 50);
  const [code] = (await once(child, 'close')) as [number | null];
  if (poll) clearInterval(poll);
  const wallSec = (performance.now() - started) / 1000;
  const timeKb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { code, stderr, wallSec, peakRssKb: timeKb ? Number(timeKb[1]) : polledKb };
}
