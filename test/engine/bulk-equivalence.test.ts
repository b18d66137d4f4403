/**
 * Bulk streams against the old CLI's code path: the old line reader (cli/line-reader.ts readLineChunks),
 * the JSON-line rule, decryptBatch() and JSON.stringify of the old record object (kept below as
 * the reference it was) must give byte for byte what engine.decryptFile() writes, on every
 * vector, the 200k differential corpus and the fuzz corpus, with threads 0, 1 and 2 and each
 * backend.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DecryptionEngine, type ClientType } from '../../src/index.js';
import { bulkOutput, oldPathJsonl } from './bulk-helpers.js';
import { withBackend } from '../helpers/backend.js';
import { loadVectors } from '../helpers/vectors.js';
import { NOW_MS, keyResponse } from './mixed-corpus.js';
import { corpusPool, differentialCorpus } from '../native/corpus.js';
import { NATIVE_EXPECTED } from '../native/harness.js';

const BACKENDS = NATIVE_EXPECTED ? (['native', 'node-crypto'] as const) : (['node-crypto'] as const);

const engines: DecryptionEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function engineFor(backend: string, threads: number, keys: object | undefined, clientType: ClientType = 'bidstream'): Promise<DecryptionEngine> {
  const engine = await withBackend(backend, () => DecryptionEngine.create({ threads, clientType, ...(keys ? { keys } : {}) }));
  engines.push(engine);
  return engine;
}

/** A token as an input line: plain when it reads back as itself, else a JSON line. */
function lineOf(token: unknown, domain: string | null | undefined): string {
  if (typeof token === 'string' && domain == null && !/[\r\n]/.test(token) && !token.startsWith('{')) return token;
  return JSON.stringify({ token, domainOrAppName: domain ?? undefined });
}

describe('bulk JSON lines equal the old path byte for byte', () => {
  it('on every decryption vector (each key set, client type and time), threads 0, 1, 2, each backend', async () => {
    const vectors = loadVectors();
    const groups = new Map<string, typeof vectors.decrypt>();
    for (const v of vectors.decrypt) {
      const key = `${v.keySet}|${v.clientType}|${v.nowMs}`;
      groups.set(key, [...(groups.get(key) ?? []), v]);
    }
    let compared = 0;
    for (const group of groups.values()) {
      const { keySet, clientType, nowMs } = group[0]!;
      const keys = keySet === null ? undefined : (vectors.keySets[keySet]!.response as object);
      const input = Buffer.from(group.map((v) => lineOf(v.token, v.domainOrAppName)).join('\n') + '\n');
      const reference = await oldPathJsonl(await engineFor('node-crypto', 0, keys, clientType), input, nowMs);
      for (const backend of BACKENDS) {
        for (const threads of [0, 1, 2]) {
          const engine = await engineFor(backend, threads, keys, clientType);
          expect((await bulkOutput(engine, input, { now: nowMs })).toString('utf8'), `${backend} threads ${threads}`).toBe(reference);
          await engine.close();
          compared += group.length;
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(loadVectors().decrypt.length * 3);
  }, 120_000);

  it('on the 200k differential corpus (plain and JSON lines), threads 0, 1, 2, each backend', async () => {
    const keys = keyResponse(3000, 'differential');
    const pool = corpusPool(keys, 8_000, 41);
    const lines: string[] = [];
    for (let chunk = 0; lines.length < 200_000; chunk++) {
      for (const t of differentialCorpus(pool, 10_000, 100 + chunk)) lines.push(lineOf(t.token, t.domain));
    }
    const input = Buffer.from(lines.join('\n') + '\n');
    const reference = await oldPathJsonl(await engineFor('node-crypto', 0, keys.json), input, NOW_MS);
    expect(reference.split('\n')).toHaveLength(200_001);
    for (const backend of BACKENDS) {
      for (const threads of [0, 1, 2]) {
        const engine = await engineFor(backend, threads, keys.json);
        const out = (await bulkOutput(engine, input, { now: NOW_MS })).toString('utf8');
        // One comparison of the first differing line keeps a failure readable.
        const a = out.split('\n');
        const b = reference.split('\n');
        const at = a.findIndex((line, i) => line !== b[i]);
        expect({ backend, threads, at, line: a[at], expected: b[at], lines: a.length }).toEqual({ backend, threads, at: -1, line: undefined, expected: undefined, lines: b.length });
        await engine.close();
      }
    }
  }, 300_000);

  it('on the fuzz corpus, threads 0, 1, 2, each backend', async () => {
    const dir = new URL('../fuzz-corpus/', import.meta.url);
    const saved = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { input: unknown; domain: string | null; nowMs: number; keys: object });
    const input = Buffer.from(saved.map((s) => JSON.stringify({ token: s.input, domainOrAppName: s.domain })).join('\n') + '\n');
    const reference = await oldPathJsonl(await engineFor('node-crypto', 0, saved[0]!.keys), input, saved[0]!.nowMs);
    for (const backend of BACKENDS) {
      for (const threads of [0, 1, 2]) {
        const engine = await engineFor(backend, threads, saved[0]!.keys);
        expect((await bulkOutput(engine, input, { now: saved[0]!.nowMs })).toString('utf8'), `${backend} threads ${threads}`).toBe(reference);
        await engine.close();
      }
    }
  }, 120_000);

  it('on hostile lines: CR, CRLF and LF endings, empty lines, binary, invalid UTF-8, non-ASCII, braces, long lines', async () => {
    const keys = keyResponse(3000, 'differential');
    const pool = corpusPool(keys, 500, 7);
    const rnd = ((seed) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32))(99);
    const parts: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = rnd();
      let line: Buffer;
      if (r < 0.5) line = Buffer.from(pool.base[Math.floor(rnd() * pool.base.length)]!.token);
      else if (r < 0.6) line = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
      else if (r < 0.65) line = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x41]);
      else if (r < 0.7) line = Buffer.from('é' + pool.base[0]!.token);
      else if (r < 0.75) line = Buffer.from('{' + pool.base[1]!.token);
      else if (r < 0.8) line = Buffer.from('x'.repeat(2040 + Math.floor(rnd() * 20)));
      else if (r < 0.85) line = Buffer.alloc(0);
      else line = Buffer.from(JSON.stringify({ token: pool.base[2]!.token, domainOrAppName: 'news.example' }));
      parts.push(line, Buffer.from(['\n', '\r\n', '\r'][Math.floor(rnd() * 3)]!));
    }
    parts.push(Buffer.from('last line without a break'));
    const input = Buffer.concat(parts);
    const reference = await oldPathJsonl(await engineFor('node-crypto', 0, keys.json), input, NOW_MS, 'com.example.app');
    for (const threads of [0, 2]) {
      const engine = await engineFor(BACKENDS[0], threads, keys.json);
      const out = await bulkOutput(engine, input, { now: NOW_MS, domainOrAppName: 'com.example.app' });
      expect(out.toString('utf8') === reference, `threads ${threads}`).toBe(true);
      await engine.close();
    }
  }, 120_000);
});
