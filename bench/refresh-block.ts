/**
 * `mainThreadBlockMs`: the longest event-loop block while a refresh of N keys reaches an engine
 * through a client (fetch, envelope, JSON parse and validation, KeySet, snapshot encode, publish).
 *
 * Method: perf_hooks.monitorEventLoopDelay at 1 ms resolution runs for the whole refresh; its
 * largest interval between timer turns bounds the longest block from above (a block of B ms shows
 * as B to B + 1 ms). The operator serving the keys runs on its own worker thread (key-server.ts),
 * so its work is not counted. The same probe over an idle spell of the same length gives the
 * machine's own delays (preemption on a shared VM, GC), reported beside it, and an async hook
 * times each main-thread callback, which tells the main thread's own work from time it waited
 * for a core (on a 2-core machine the refresh worker, the operator and their GC threads can hold
 * both).
 *
 * Paths, same run, same client and engine, rounds alternating: `main-thread` (every refresh on
 * the calling thread and its snapshot encoded by the engine's publish: the only path before the
 * refresh worker) and `worker` (every refresh on the refresh worker, which also encodes the
 * snapshot). `defaultUsesWorker` says which one a client takes by default at that size (after
 * one answer of REFRESH_THREAD_MIN_BYTES or more).
 */
import { createHook } from 'node:async_hooks';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BidstreamClient, DecryptionEngine } from '../dist/index.js';
import { REFRESH_THREAD_MIN_BYTES, refreshThreadHooks } from '../dist/service/refresh-thread.js';

export interface RefreshBlockRow {
  keys: number;
  /** `main-thread`: every response opened on the main thread; `worker`: every one on the refresh worker. */
  path: 'main-thread' | 'worker';
  /** Whether the default threshold (REFRESH_THREAD_MIN_BYTES) sends a response of this size to the worker. */
  defaultUsesWorker: boolean;
  /** Least over the rounds of each refresh's longest event-loop block, ms (see REFRESH_BLOCK_METHOD). */
  mainThreadBlockMs: number;
  /** Median over the rounds of each refresh's longest block, ms. */
  medianBlockMs: number;
  /** Median over the rounds of each refresh's longest single main-thread callback, ms. */
  longestCallbackMs: number;
  /** The same two figures for an idle spell as long as a refresh: the machine's own gaps, ms. */
  idleBlockMs: number;
  idleMedianBlockMs: number;
  /** refresh() start to resolution (engine published), median ms. */
  refreshMs: number;
  /** Response body size, bytes. */
  responseBytes: number;
}

export const REFRESH_BLOCK_METHOD =
  'mainThreadBlockMs: the largest event-loop delay (perf_hooks.monitorEventLoopDelay, resolution 1 ms: a block of B ms reads B to B + 1 ms, an idle loop about 1 ms) while client.refresh() of N keys reaches a 1-thread engine that follows the client (the operator serves from its own worker thread), least over the rounds; rounds of both paths and an idle spell of the same length alternate, so all three see the same machine. Preemption can only lengthen a delay, so the least round is the estimate least inflated by a shared machine; the median is reported beside it, and the longest single main-thread callback (async_hooks before/after, median over rounds) as the main thread\'s own work.';

/**
 * Runs `work` under an event-loop delay monitor at 1 ms resolution and an async hook that times
 * every callback the main thread runs. `gapMs`: the largest interval between two of the monitor's
 * timer turns (a block of B ms shows as B to B + 1 ms; an idle loop as about 1 ms), which also
 * counts time the thread was runnable but had no core. `callbackMs`: the longest single callback
 * (I/O, timer, message, promise reaction), the main thread's own work only.
 */
async function probe<T>(work: () => Promise<T>): Promise<{ gapMs: number; callbackMs: number; value: T; ms: number }> {
  const starts = new Map<number, number>();
  let longest = 0;
  const hook = createHook({
    before: (id) => void starts.set(id, performance.now()),
    after: (id) => {
      const start = starts.get(id);
      if (start !== undefined && performance.now() - start > longest) longest = performance.now() - start;
    },
  });
  const monitor = monitorEventLoopDelay({ resolution: 1 });
  monitor.enable();
  hook.enable();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  hook.disable();
  // Two more timer turns, so the interval that holds the work's last block is recorded.
  await new Promise((resolve) => setTimeout(resolve, 2));
  monitor.disable();
  return { gapMs: monitor.max / 1e6, callbackMs: longest, value, ms };
}

interface Server {
  worker: Worker;
  url: string;
  apiKey: string;
  secretKey: string;
  responseBytes: number;
}

async function startServer(keys: number): Promise<Server> {
  const worker = new Worker(new URL('./key-server.js', import.meta.url), { workerData: { keys } });
  const info = await new Promise<Omit<Server, 'worker'>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, ...info };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const PATHS = { 'main-thread': Infinity, worker: 0 } as const;

export async function runRefreshBlock(sizes: readonly number[], rounds: number): Promise<RefreshBlockRow[]> {
  const rows: RefreshBlockRow[] = [];
  for (const keys of sizes) {
    const server = await startServer(keys);
    const client = new BidstreamClient(server.url, server.apiKey, server.secretKey);
    const engine = await DecryptionEngine.create({ client, threads: 1 });
    try {
      const blocks = { 'main-thread': [] as number[], worker: [] as number[], idle: [] as number[] };
      const callbacks = { 'main-thread': [] as number[], worker: [] as number[] };
      const times = { 'main-thread': [] as number[], worker: [] as number[] };
      // Round 0 warms up (JIT, the refresh worker's start) and is not counted.
      for (let round = 0; round <= rounds; round++) {
        for (const path of ['main-thread', 'worker'] as const) {
          refreshThreadHooks.minBytes = PATHS[path];
          const posted = refreshThreadHooks.jobsPosted;
          const { gapMs, callbackMs, value, ms } = await probe(() => client.refresh());
          if (!value.success) throw value.error;
          if (client.keySet!.size !== keys || engine.keySet !== client.keySet) throw new Error(`a refresh of ${keys} keys did not reach the engine`);
          if ((refreshThreadHooks.jobsPosted > posted) !== (path === 'worker')) throw new Error(`the ${path} path was not taken`);
          if (round === 0) continue;
          blocks[path].push(gapMs);
          callbacks[path].push(callbackMs);
          times[path].push(ms);
        }
        if (round === 0) continue;
        const idle = await probe(() => new Promise((resolve) => setTimeout(resolve, times.worker.at(-1))));
        blocks.idle.push(idle.gapMs);
      }
      const { responseBytes } = server;
      for (const path of ['main-thread', 'worker'] as const) {
        rows.push({
          keys,
          path,
          defaultUsesWorker: responseBytes >= REFRESH_THREAD_MIN_BYTES,
          mainThreadBlockMs: Math.min(...blocks[path]),
          medianBlockMs: median(blocks[path]),
          longestCallbackMs: median(callbacks[path]),
          idleBlockMs: Math.min(...blocks.idle),
          idleMedianBlockMs: median(blocks.idle),
          refreshMs: median(times[path]),
          responseBytes,
        });
      }
    } finally {
      refreshThreadHooks.minBytes = REFRESH_THREAD_MIN_BYTES;
      await engine.close();
      client.close();
      server.worker.postMessage('close');
      await new Promise((resolve) => server.worker.once('exit', resolve));
    }
  }
  return rows;
}
