/** Private cross-module keys. Test hooks hang off the engine under a symbol, out of the public API. */
export const kTestHooks = Symbol('uid2-engine.testHooks');

/** What tests can reach through `engine[kTestHooks]`. */
export interface EngineTestHooks {
  /** The next N batches make their worker exit mid-batch (each attempt counts). */
  crashNextBatches: number;
  /** Called after each batch settles, with the snapshot version it was decrypted with. */
  onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  snapshotVersion: number;
  tokens: readonly unknown[];
  domains: readonly (string | null | undefined)[];
  nows: readonly number[];
  results: readonly import('../types.js').DecryptionResult[];
}
