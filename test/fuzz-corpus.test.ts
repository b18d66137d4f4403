/**
 * Replays every input saved under test/fuzz-corpus/ (hand-picked seeds, and anything `npm run
 * fuzz` ever found) through the library, the engine and the CLI, with the fuzzer's own checks,
 * and through the in-process native path, which must equal the TypeScript decoder.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionEngine, decryptToken, parseKeys as parseSourceKeys } from '../src/index.js';
import { decoderOf } from '../src/native/backend.js';
// The fuzz target is built against dist/, so its key sets come from dist/ too.
import { parseKeys } from '../dist/index.js';
import { FUZZ_NOW_MS, checkLibrary, type FuzzCase } from '../tools/fuzz-target.js';
import { jsonLines, runCli } from './helpers/cli.js';
import { NATIVE_EXPECTED } from './native/harness.js';

interface Saved {
  target: string;
  problem: string;
  input: unknown;
  domain: string | null;
  nowMs: number;
  keys: object;
}

const dir = new URL('./fuzz-corpus/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const saved = files.map((f) => [f, JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Saved] as const);

describe('fuzz corpus replay', () => {
  let engine: DecryptionEngine;
  beforeAll(async () => {
    engine = await DecryptionEngine.create({ keys: saved[0]![1].keys, threads: 1 });
  });
  afterAll(() => engine.close());

  it('has regression inputs', () => {
    expect(saved.length).toBeGreaterThanOrEqual(8);
  });

  it.each(saved)('%s', async (_file, s) => {
    const keys = parseKeys(s.keys);
    const c: FuzzCase = { input: s.input, domain: s.domain };
    const checked = checkLibrary(keys, c);
    if ('problem' in checked) throw new Error(checked.problem);
    engine.setKeys(s.keys);
    const [fromEngine] = await engine.decryptBatch([s.input as string], { domains: [s.domain], now: s.nowMs });
    expect(fromEngine).toEqual(checked.results.bidstream);
  });

  it.skipIf(!NATIVE_EXPECTED).each(saved)('in process, native equals node-crypto: %s', (_file, s) => {
    // Key sets from src/, as the in-process path snapshots src/ KeySets (a dist/ one would fall back).
    const keys = parseSourceKeys(s.keys);
    const decryptNative = decoderOf('native').decrypt;
    for (const clientType of ['bidstream', 'sharing', 'legacy'] as const) {
      for (const nowMs of [s.nowMs, FUZZ_NOW_MS]) {
        expect(decryptNative(s.input, keys, clientType, s.domain, nowMs)).toEqual(decryptToken(s.input, keys, clientType, s.domain, nowMs));
      }
    }
  });

  it('through the CLI: one line per input, the library status for each', async () => {
    const keysPath = join(mkdtempSync(join(tmpdir(), 'uid2-fuzz-')), 'keys.json');
    writeFileSync(keysPath, JSON.stringify(saved[0]![1].keys));
    const input = saved.map(([, s]) => JSON.stringify({ token: s.input, domainOrAppName: s.domain })).join('\n') + '\n';
    const run = await runCli(['decrypt', '--keys', keysPath, '--now', String(saved[0]![1].nowMs)], input);
    expect(run.code).toBe(0);
    const statuses = jsonLines(run.stdout).map((r) => r['status']);
    expect(statuses).toEqual(
      saved.map(([, s]) => {
        const checked = checkLibrary(parseKeys(s.keys), { input: s.input, domain: s.domain });
        return 'problem' in checked ? 'library problem' : checked.results.bidstream.status;
      }),
    );
  });
});
