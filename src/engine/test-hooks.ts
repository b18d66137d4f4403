/**
 * Test hooks, out of the public API: tests reach an engine's hooks through `testHooks(engine)`
 * from this internal module (the package's exports map exposes only its entry point). Engines
 * register an installer at creation; until a test asks, the hooks cost one null check per batch.
 */
import type { DecryptionResult } from '../types.js';

export interface EngineTestHooks {
  /** The next N batch attempts make their worker exit mid-batch, as a crash would. */
  crashNextBatches: number;
  /** Bulk chunks run this worker entry instead of worker/bulk-entry.js (a test's own, e.g. one that dies mid-chunk). */
  bulkWorkerEntry?: URL;
  /** Called after each batch settles, with the snapshot version its worker decrypted with. */
  onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  snapshotVersion: number;
  tokens: readonly unknown[];
  domains: readonly (string | null | undefined)[];
  nows: readonly number[];
  results: readonly DecryptionResult[];
}

const installers = new WeakMap<object, (hooks: EngineTestHooks) => void>();
const installed = new WeakMap<object, EngineTestHooks>();

/** Called by an engine once, at creation. */
export function registerTestHooks(engine: object, install: (hooks: EngineTestHooks) => void): void {
  installers.set(engine, install);
}

/** The hooks of `engine`, installed on first use. */
export function testHooks(engine: object): EngineTestHooks {
  let hooks = installed.get(engine);
  if (!hooks) {
    const install = installers.get(engine);
    if (!install) throw new Error('not an engine');
    hooks = { crashNextBatches: 0 };
    install(hooks);
    installed.set(engine, hooks);
  }
  return hooks;
}
