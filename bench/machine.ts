/** The machine that heads every report. */
import { availableParallelism, cpus, totalmem, platform, release } from 'node:os';

export interface MachineInfo {
  /** Scheduling stalls seen by a busy loop (see stallProbe). */
  stalls?: StallProbe;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  openssl: string;
  v8: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    v8: process.versions.v8,
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString(),
  };
}

export interface StallProbe {
  durationMs: number;
  /** Gaps over 0.2 ms between consecutive clock reads of a busy loop: time the thread did not run. */
  gapsOver200us: number;
  largestGapsMs: number[];
}

/** Spins for `durationMs` and records when the thread was not running (preemption, steal, GC). */
export function stallProbe(durationMs: number): StallProbe {
  const gaps: number[] = [];
  let last = performance.now();
  const end = last + durationMs;
  for (;;) {
    const now = performance.now();
    if (now - last > 0.2) gaps.push(now - last);
    last = now;
    if (now > end) break;
  }
  gaps.sort((a, b) => b - a);
  return { durationMs, gapsOver200us: gaps.length, largestGapsMs: gaps.slice(0, 5).map((g) => Math.round(g * 100) / 100) };
}
