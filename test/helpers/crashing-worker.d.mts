/** Types of crashing-worker.mjs (see there). */
export declare class WorkerCrashes {
  /** For withWorkerEntry(): this file as the workers' entry, with the shared crash counter. */
  readonly entry: { readonly filename: string; readonly workerData: unknown };
  /** Batches still to crash: the next ones any worker of the engine starts. */
  crashNextBatches: number;
}
declare const runLane: unknown;
export default runLane;
