/**
 * The engine's worker threads load their entry through import(), never require(esm): on Node 20 a
 * thread terminated in the middle of a synchronous require() of an ES module aborts the whole
 * process (FATAL ERROR: v8::Module::IsGraphAsync ...), and the pool terminates threads that are
 * still starting when it closes or replaces a worker. Seen once in a clean-clone CI run (the fork
 * running test/engine/engine-service.test.ts died); the loop that reproduces it is in the message
 * of the commit that added this test.
 */
import { describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { withWorkerEntry } from '../../src/engine/test-hooks.js';

describe('engine worker threads', () => {
  it.skipIf((process.features as { require_module?: boolean }).require_module !== true)(
    'run with require(esm) off, so Piscina loads their entry with import()',
    async () => {
      const seen = new SharedArrayBuffer(4);
      const entry = { filename: new URL('../helpers/module-loading-worker.mjs', import.meta.url).href, workerData: { seen } };
      const engine = await DecryptionEngine.create(withWorkerEntry({ threads: 1, dispatch: 'workers' as const }, entry));
      try {
        expect((await engine.decrypt('not a token')).status).toBe('NotInitialized');
        expect(Atomics.load(new Int32Array(seen), 0)).toBe(1);
      } finally {
        await engine.close();
      }
    },
  );
});
