/**
 * Test seams, out of the public API (the package's exports map exposes only its entry point):
 * - `testHooks(engine).onBatch` observes each completed worker batch with the snapshot version its
 *   worker decrypted with. Engines register an installer at creation; until a test asks, the
 *   hook costs one null check per batch.
 * - `withWorkerEntry(options, entry)` makes the engine created from `options` start its workers
 *   from a test's own entry (one that wraps engine/worker/entry.js laneLoop, e.g. to kill the
 *   thread mid-batch). Shipped code has no crash branch: the test brings it.
 */
import type { CompletionHooks } from './pool/completion.js';
import type { WorkerEntry } from './pool/dispatcher.js';

type EngineTestHooks = CompletionHooks;

const installers = new WeakMap<object, (hooks: EngineTestHooks) => void>();
const installed = new WeakMap<object, EngineTestHooks>();
const workerEntries = new WeakMap<object, WorkerEntry>();

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
    hooks = {};
    install(hooks);
    installed.set(engine, hooks);
  }
  return hooks;
}

/** Marks engine options: an engine created from them starts its workers from `entry`. Returns `options`. */
export function withWorkerEntry<T extends object>(options: T, entry: WorkerEntry): T {
  workerEntries.set(options, entry);
  return options;
}

/** The worker entry `withWorkerEntry()` gave these options, if any (read once by DecryptionEngine.create()). */
export function workerEntryOf(options: object): WorkerEntry | undefined {
  return workerEntries.get(options);
}
