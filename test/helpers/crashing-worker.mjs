/**
 * Engine workers that die mid-batch on demand, for the crash tests (and tools/soak.ts). Shipped
 * code has no crash branch: a test creates its engine with
 * `withWorkerEntry(options, crashes.entry)` (src/engine/test-hooks.ts), so its workers start from
 * this file, which runs the shipped lane loop (engine/worker/entry.js laneLoop) over a decoder
 * that, while `crashNextBatches` > 0, takes one crash per batch: it decodes the first half of the
 * batch, as a thread dying mid-batch would leave it, and exits the thread.
 *
 * JavaScript, not TypeScript: worker threads load it natively. It runs the compiled engine
 * (npm run build), as every test that starts engine workers does.
 */
import { workerData } from 'node:worker_threads';
import { decodeBatch } from '../../dist/engine/worker/decode.js';
import { laneLoop } from '../../dist/engine/worker/entry.js';

/** The main thread's handle: the entry to start workers from, and the crash counter they share. */
export class WorkerCrashes {
  #pending = new Int32Array(new SharedArrayBuffer(4));

  get entry() {
    return { filename: import.meta.url, workerData: { pendingCrashes: this.#pending.buffer } };
  }

  /** Batches still to crash: the next ones any worker of the engine starts. */
  get crashNextBatches() {
    return Atomics.load(this.#pending, 0);
  }

  set crashNextBatches(n) {
    Atomics.store(this.#pending, 0, n);
  }
}

const pending = workerData?.pendingCrashes ? new Int32Array(workerData.pendingCrashes) : null;

/** Takes one pending crash, if any (several workers may race for the last one). */
function takeCrash() {
  for (let n = Atomics.load(pending, 0); n > 0; n = Atomics.load(pending, 0)) {
    if (Atomics.compareExchange(pending, 0, n, n - 1) === n) return true;
  }
  return false;
}

export default laneLoop((slot, count, snapshot, clientType, backend) => {
  if (pending !== null && takeCrash()) {
    decodeBatch(slot, count >> 1, snapshot, clientType, backend);
    process.exit(70);
  }
  decodeBatch(slot, count, snapshot, clientType, backend);
});
