/**
 * A child process of the identity map benchmark (bench/identity-map.ts): runs the CLI's own
 * `uid2-engine map` code (runMap) in a process of its own, apart from the local operator, and
 * prints what it cost this process as one JSON line: CPU time of the whole process (every
 * thread: main, libuv, GC) and of the main thread, wall time, and peak RSS.
 * `node map-child.js '<MapCommandValues as JSON>'`
 */
import { runMap, type MapCommandValues } from '../dist/cli/map-command.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface MapChildReport {
  processCpuMs: number;
  mainThreadCpuMs: number | null;
  wallMs: number;
  maxRssMiB: number;
  /** The CLI's error message, if it failed. */
  error: string | null;
}

const values = JSON.parse(process.argv[2] ?? '{}') as MapCommandValues;
const cpu0 = process.cpuUsage();
const main0 = mainThreadCpuMs();
const t0 = performance.now();
let error: string | null = null;
try {
  await runMap(values);
} catch (err) {
  error = (err as Error).message;
}
const cpu = process.cpuUsage(cpu0);
const main1 = mainThreadCpuMs();
const report: MapChildReport = {
  processCpuMs: (cpu.user + cpu.system) / 1000,
  mainThreadCpuMs: main0 === null || main1 === null ? null : main1 - main0,
  wallMs: performance.now() - t0,
  // resourceUsage().maxRSS is in KiB on Linux.
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
  error,
};
process.stdout.write(JSON.stringify(report) + '\n');
