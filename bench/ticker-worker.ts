/**
 * The load generator's clock. It sleeps on Atomics.wait until the next arrival is due (at most one
 * wake-up per `minGapUs`), then posts a message that wakes the main thread. The main thread thus
 * sleeps between arrivals like a server waiting on its sockets, so its busy time (event-loop
 * utilisation) is the contender's cost, not a spinning scheduler's.
 */
import { parentPort, workerData } from 'node:worker_threads';

interface TickerData {
  arrivals: Float64Array; // intended arrival times, µs from startAbsMs
  startAbsMs: number; // performance.timeOrigin + performance.now() at the start
  minGapUs: number;
  stop: Int32Array; // set [0] to 1 to stop early
}

const { arrivals, startAbsMs, minGapUs, stop } = workerData as TickerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const nowUs = (): number => (performance.timeOrigin + performance.now() - startAbsMs) * 1000;

let next = 0;
let lastTick = -Infinity;
while (next < arrivals.length && Atomics.load(stop, 0) === 0) {
  const due = Math.max(arrivals[next]!, lastTick + minGapUs);
  const waitUs = due - nowUs();
  if (waitUs > 0) Atomics.wait(sleeper, 0, 0, waitUs / 1000);
  const now = nowUs();
  while (next < arrivals.length && arrivals[next]! <= now) next++;
  lastTick = now;
  parentPort!.postMessage(next);
}
parentPort!.postMessage(-1);
