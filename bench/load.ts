/**
 * Open-loop load: arrivals at fixed intended times (bench/schedule.ts), each token's latency
 * measured from its intended arrival to its result, so a contender that falls behind is charged
 * for the whole wait (no coordinated omission). Recorded in an HDR histogram.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Contender } from './contenders.js';
import type { CorpusToken } from './corpus.js';
import { type Histogram, type LatencySummary, newHistogram, recordUs, summarize } from './latency.js';
import { type ArrivalProcess, arrivalTimesUs, dueUntil } from './schedule.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface LoadOptions {
  ratePerSec: number;
  durationSec: number;
  process: ArrivalProcess;
  seed: number;
  /** Shortest gap between generator wake-ups, µs. */
  minGapUs: number;
}

export interface LoadRun extends LatencySummary {
  contender: string;
  backend: string;
  threads: number;
  offeredPerSec: number;
  achievedPerSec: number;
  /** Arrivals in the schedule and how many were issued / completed. */
  arrivals: number;
  issued: number;
  completed: number;
  errors: number;
  /** Main-thread busy time (event-loop utilisation) per completed token, µs. */
  mainThreadUsPerToken: number;
  /** mainThreadUsPerToken minus the floor contender's at the same offered rate (addFloorNet). */
  mainThreadNetUsPerToken?: number;
  /**
   * Main-thread CPU time per completed token, µs (thread-cpu.ts; null without /proc): unlike
   * event-loop utilisation it does not grow while other processes hold the CPU mid-callback.
   */
  mainThreadCpuUsPerToken: number | null;
  /** mainThreadCpuUsPerToken minus the floor's at the same offered rate (addFloorNet). */
  mainThreadCpuNetUsPerToken?: number;
  eventLoopDelayP99Us: number;
  /** Every arrival issued and answered without error, at >= 99% of the scheduled arrivals' rate. */
  keptUp: boolean;
  /** keptUp and p99 <= 1 ms: the issue's "sustainable" criterion. */
  sustained: boolean;
  histogram: Histogram;
}

const absNow = (): number => performance.timeOrigin + performance.now();

export function runLoad(contender: Contender, corpus: readonly CorpusToken[], options: LoadOptions): Promise<LoadRun> {
  const arrivals = arrivalTimesUs(options.ratePerSec, options.durationSec, options.process, options.seed);
  const histogram = newHistogram();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const startAbs = absNow() + 50; // let the ticker thread start first
  const deadlineAbs = startAbs + options.durationSec * 1500 + 2000;
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let lastDoneAbs = startAbs;
  let tickerDone = false;

  return new Promise<LoadRun>((resolve, reject) => {
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = mainThreadCpuMs();
    eld.enable();
    const ticker = new Worker(new URL('./ticker-worker.js', import.meta.url), {
      workerData: { arrivals, startAbsMs: startAbs, minGapUs: options.minGapUs, stop },
    });

    const finishIfDone = (): void => {
      if (!tickerDone || completed < issued) return;
      const elu = performance.eventLoopUtilization(elu0);
      const cpu1 = mainThreadCpuMs();
      eld.disable();
      const elapsedSec = Math.max(options.durationSec, (lastDoneAbs - startAbs) / 1000);
      const achievedPerSec = completed / elapsedSec;
      const summary = summarize(histogram);
      const keptUp = issued === arrivals.length && errors === 0 && achievedPerSec >= 0.99 * (arrivals.length / options.durationSec);
      resolve({
        contender: contender.name,
        backend: contender.backend,
        threads: contender.threads,
        offeredPerSec: options.ratePerSec,
        achievedPerSec,
        arrivals: arrivals.length,
        issued,
        completed,
        errors,
        ...summary,
        mainThreadUsPerToken: completed > 0 ? (elu.active * 1000) / completed : 0,
        mainThreadCpuUsPerToken: cpu0 === null || cpu1 === null || completed === 0 ? null : ((cpu1 - cpu0) * 1000) / completed,
        eventLoopDelayP99Us: eld.percentile(99) / 1000,
        keptUp,
        sustained: keptUp && summary.p99Us <= 1000,
        histogram,
      });
    };
    const done = (intendedAbs: number): void => {
      const now = absNow();
      recordUs(histogram, (now - intendedAbs) * 1000);
      completed++;
      lastDoneAbs = now;
      if (tickerDone) finishIfDone();
    };
    const failed = (intendedAbs: number): void => {
      errors++;
      done(intendedAbs);
    };

    const issueDue = (all: boolean): void => {
      const now = absNow();
      const due = all ? arrivals.length : dueUntil(arrivals, issued, (now - startAbs) * 1000);
      for (; issued < due; issued++) {
        const intendedAbs = startAbs + arrivals[issued]! / 1000;
        const token = corpus[issued % corpus.length]!;
        if (contender.decryptSync) {
          contender.decryptSync(token);
          done(intendedAbs);
          // A main-thread contender far behind schedule would run forever: give up at the deadline.
          if ((issued & 255) === 0 && absNow() > deadlineAbs) {
            issued++;
            break;
          }
        } else {
          contender.decryptAsync!(token).then(
            () => done(intendedAbs),
            () => failed(intendedAbs),
          );
        }
      }
    };

    ticker.on('message', (upTo: number) => {
      if (absNow() > deadlineAbs) Atomics.store(stop, 0, 1);
      if (upTo === -1) {
        // The schedule is over (or stopped at the deadline): issue what is due, then finish.
        if (Atomics.load(stop, 0) === 0) issueDue(true);
        tickerDone = true;
        void ticker.terminate();
        finishIfDone();
        return;
      }
      issueDue(false);
    });
    ticker.on('error', reject);
  });
}

/**
 * Adds mainThreadNetUsPerToken (and mainThreadCpuNetUsPerToken) to every run: its main-thread
 * µs/token minus the floor's at the same offered rate, so what the load generator itself costs
 * the main thread is taken out.
 */
export function addFloorNet(runs: LoadRun[]): void {
  for (const run of runs) {
    const floor = runs.find((r) => r.contender === 'floor' && r.offeredPerSec === run.offeredPerSec);
    if (!floor) continue;
    run.mainThreadNetUsPerToken = Math.max(0, run.mainThreadUsPerToken - floor.mainThreadUsPerToken);
    if (run.mainThreadCpuUsPerToken !== null && floor.mainThreadCpuUsPerToken !== null) {
      run.mainThreadCpuNetUsPerToken = Math.max(0, run.mainThreadCpuUsPerToken - floor.mainThreadCpuUsPerToken);
    }
  }
}

/** The JSON row of a run (the histogram goes to its own .hgrm file). */
export function loadRow(run: LoadRun): Record<string, number | string | boolean | null> {
  const { histogram: _h, ...row } = run;
  return row;
}
