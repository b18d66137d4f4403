/** Private cross-module keys. Test hooks hang off the engine under a symbol, out of the public API. */
export const kTestHooks = Symbol('uid2-engine.testHooks');

/** What tests can reach through `engine[kTestHooks]`. */
export interface EngineTestHooks {
  /** The next N batches make their worker exit mid-batch (each attempt counts). */
  crashNextBatches: number;
  /** Called after each batch settles, with the snapshot version it was decrypted with. */
  onBatch?: (info: { snapshotVersion: number; tokens: readonly unknown[] }) => void;
}
