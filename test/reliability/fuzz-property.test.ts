/**
 * fast-check over the whole decrypt path: arbitrary strings, arbitrary bytes as base64/base64url
 * text, and mutations of valid tokens go through every engine backend and the CLI, which must
 * agree exactly with the library (itself checked never to throw and to return known statuses).
 * Fixed seeds: the same inputs on every run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { FUZZ_NOW_MS, checkLibrary, fuzzKeyJson, fuzzKeys, seedTokens } from '../../tools/fuzz-target.js';
import { mutate, seeded } from '../../tools/mutate.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { withBackend } from '../helpers/backend.js';

const seeds = seedTokens();
const hostileInput = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')),
  fc.tuple(fc.nat(seeds.length - 1), fc.integer()).map(([i, s]) => mutate(seeds[i]!, seeded(s)).input),
);
const domain = fc.constantFrom(null, 'fuzz.example', 'FUZZ.example', 'other.example', '');
const batch = fc.array(fc.record({ input: hostileInput, domain }), { minLength: 1, maxLength: 64 });

describe('fast-check: engine backends and CLI agree with the library on hostile input', () => {
  const engines: DecryptionEngine[] = [];
  beforeAll(async () => {
    for (const backend of ['node-crypto', 'native']) {
      try {
        engines.push(await withBackend(backend, () => DecryptionEngine.create({ keys: fuzzKeyJson(), threads: 1 })));
      } catch (err) {
        // CI always builds the addon; only an explicit node-crypto run may lack it.
        if (backend !== 'native' || process.env['CI'] === 'true') throw err;
      }
    }
  });
  afterAll(() => Promise.all(engines.map((e) => e.close())));

  it('every engine backend returns exactly the library result', async () => {
    const keys = fuzzKeys();
    expect(engines.length).toBeGreaterThanOrEqual(1);
    await fc.assert(
      fc.asyncProperty(batch, async (cases) => {
        const expected = cases.map((c) => {
          const checked = checkLibrary(keys, c);
          if ('problem' in checked) throw new Error(checked.problem);
          return checked.results.bidstream;
        });
        for (const engine of engines) {
          const got = await engine.decryptBatch(cases.map((c) => c.input), { domains: cases.map((c) => c.domain), now: FUZZ_NOW_MS });
          expect(got).toEqual(expected);
        }
      }),
      { seed: 2026, numRuns: 150 },
    );
  });

  it('the CLI prints the library status for each input, in order', async () => {
    const keys = fuzzKeys();
    const cases = fc.sample(fc.record({ input: hostileInput, domain }), { seed: 7, numRuns: 600 });
    const keysPath = join(mkdtempSync(join(tmpdir(), 'uid2-fc-')), 'keys.json');
    writeFileSync(keysPath, JSON.stringify(fuzzKeyJson()));
    const input = cases.map((c) => JSON.stringify({ token: c.input, domainOrAppName: c.domain })).join('\n') + '\n';
    const run = await runCli(['decrypt', '--keys', keysPath, '--now', String(FUZZ_NOW_MS)], input);
    expect(run.code).toBe(0);
    const statuses = jsonLines(run.stdout).map((r) => r['status']);
    expect(statuses).toEqual(
      cases.map((c) => {
        const checked = checkLibrary(keys, c);
        return 'problem' in checked ? checked.problem : checked.results.bidstream.status;
      }),
    );
  });
});
