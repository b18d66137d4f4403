/**
 * A worker killed mid-chunk (a real thread exit, after it wrote half the chunk's records into
 * the shared output; the test's own entry, fixtures/dying-bulk-entry.mjs, brings the exit): the chunk runs again and the output holds every record once, in order.
 * A chunk that kills its worker every time fails the run with UID2_ERR_WORKER_FAILED.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { withBulkWorkerEntry } from '../../src/engine/test-hooks.js';
import { bulkOutput, oldPathJsonl } from './bulk-helpers.js';
import { NOW_MS, keyResponse, mixedCorpus } from './mixed-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'uid2-bulk-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keys = keyResponse(6000, 'bulk-kill');
// About 9 MB of lines: several 1 MiB chunks in flight at once on two workers.
const lines = mixedCorpus(2000, keys, 3).map((t) => (t.domain === null ? t.token : JSON.stringify({ token: t.token, domainOrAppName: t.domain })));
const input = Buffer.from(Array.from({ length: 20 }, () => lines.join('\n')).join('\n') + '\n');

const DYING_ENTRY = new URL('./fixtures/dying-bulk-entry.mjs', import.meta.url);

/**
 * Runs `body` with an engine whose threads, replacements included, start with the dying entry's
 * settings (a worker thread copies the environment when it starts).
 */
async function withKills(threads: number, kills: string, marks: string, body: (engine: DecryptionEngine) => Promise<void>): Promise<void> {
  process.env['UID2_TEST_KILL_DIR'] = marks;
  process.env['UID2_TEST_KILLS'] = kills;
  const engine = await DecryptionEngine.create(withBulkWorkerEntry({ keys: keys.json, threads }, DYING_ENTRY));
  try {
    await body(engine);
  } finally {
    await engine.close();
    delete process.env['UID2_TEST_KILL_DIR'];
    delete process.env['UID2_TEST_KILLS'];
  }
}

describe('bulk worker kills', () => {
  it('three workers killed mid-chunk: nothing lost, nothing duplicated, input order kept', async () => {
    const marks = mkdtempSync(join(dir, 'marks-'));
    await withKills(2, '3', marks, async (engine) => {
      const reference = await oldPathJsonl(engine, input, NOW_MS);
      const out = (await bulkOutput(engine, input, { now: NOW_MS })).toString('utf8');
      // Two threads may both take the last kill: at least three chunks died.
      expect(readdirSync(marks).length).toBeGreaterThanOrEqual(3);
      expect(out.length).toBe(reference.length);
      expect(out === reference).toBe(true);
      // The pool replaced its dead threads: the engine still decrypts.
      expect((await engine.decryptBatch([lines[0]!], { now: NOW_MS }))[0]!.status).toBeDefined();
    });
  }, 120_000);

  it('a chunk that kills every worker it meets fails the run with UID2_ERR_WORKER_FAILED', async () => {
    await withKills(1, 'all', dir, async (engine) => {
      await expect(bulkOutput(engine, input, { now: NOW_MS })).rejects.toMatchObject({ code: 'UID2_ERR_WORKER_FAILED' });
    });
  }, 120_000);
});
