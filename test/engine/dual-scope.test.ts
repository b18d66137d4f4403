/**
 * One engine for UID2 and EUID tokens (options.scopes): on a mixed corpus every result equals the
 * single-scope engine's of the token's scope (identityScopeOf; v2 and unreadable tokens are
 * UID2's), on every path (decrypt, decryptBatch, decryptColumns, decryptFile), in the workers and
 * in process, with each backend. The two key sets reuse the same key ids with different secrets,
 * so a token judged by the wrong set could not succeed. Also: a scope without keys answers
 * NotInitialized for its own tokens only, per-scope stats, scope mix-ups refused, and keys swapped
 * on both scopes under load with zero mismatches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DecryptionEngine, KeySet, identityScopeOf, parseKeys, type DecryptionResult, type EngineOptions } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { bulkOutput } from './bulk-helpers.js';
import { withBackend } from '../helpers/backend.js';
import { NOW_MS, keyResponse, mixedCorpus, prng, type CorpusToken } from './mixed-corpus.js';
import { NATIVE_EXPECTED } from '../native/harness.js';

const BACKENDS = NATIVE_EXPECTED ? (['native', 'node-crypto'] as const) : (['node-crypto'] as const);
const DAY = 86_400_000;

const uid2 = keyResponse(100, 'dual-uid2', 'UID2');
const euid = keyResponse(100, 'dual-euid', 'EUID');
// EUID's site data differs too (its CSTG site allows the other domain), so the policy rules run
// against the wrong key set would give other answers.
(euid.json as { body: { site_data: object[] } }).body.site_data = [{ id: 77, domain_names: ['evil.example'] }];

/** Both scopes' corpora interleaved, plus tokens made to cross over and inputs that name no scope. */
function dualCorpus(count: number, seed: number): CorpusToken[] {
  const a = mixedCorpus(count, uid2, seed);
  const b = mixedCorpus(count, euid, seed + 1);
  const rnd = prng(seed + 2);
  const out: CorpusToken[] = [];
  while (a.length > 0 || b.length > 0) out.push((rnd() < 0.5 && a.length > 0) || b.length === 0 ? a.shift()! : b.shift()!);
  const crossed = (scope: 'UID2' | 'EUID', keys: typeof uid2): string =>
    encodeAdvertisingToken({
      version: 4,
      masterKey: keys.master,
      siteKey: keys.site,
      rawUid: Buffer.alloc(32, 7),
      siteId: 10,
      expiresMs: NOW_MS + DAY,
      generatedMs: NOW_MS - 1000,
      establishedMs: NOW_MS - DAY,
      identityScope: scope,
    });
  // An EUID prefix on a token the UID2 keys made (and the reverse): judged by the prefix's scope.
  out.push({ token: crossed('EUID', uid2), domain: null }, { token: crossed('UID2', euid), domain: null });
  for (const junk of ['', 'abc', 'AAAA', '////', 'AgA=', 'é'.repeat(40), 'x'.repeat(3000)]) out.push({ token: junk, domain: null });
  return out;
}

const corpus = dualCorpus(700, 11);
const tokens = corpus.map((t) => t.token);
const domains = corpus.map((t) => t.domain);
const scopeOf = (token: string): 'UID2' | 'EUID' => (identityScopeOf(token) === 'EUID' ? 'EUID' : 'UID2');

const engines: DecryptionEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function engine(backend: string, options: EngineOptions): Promise<DecryptionEngine> {
  const made = await withBackend(backend, () => DecryptionEngine.create(options));
  engines.push(made);
  return made;
}

/** What the single-scope engine of each token's scope answers (in process, node-crypto). */
async function expectedFor(list: readonly string[], listDomains: readonly (string | null)[], keys: { UID2?: object; EUID?: object }): Promise<DecryptionResult[]> {
  const single = async (json: object | undefined): Promise<DecryptionResult[]> => {
    const e = await engine('node-crypto', { threads: 0, ...(json ? { keys: json } : {}) });
    return e.decryptBatch(list, { domains: listDomains, now: NOW_MS });
  };
  const [u, e] = await Promise.all([single(keys.UID2), single(keys.EUID)]);
  return list.map((token, i) => (scopeOf(token) === 'EUID' ? e[i]! : u[i]!));
}

describe('DecryptionEngine with scopes (UID2 and EUID together)', () => {
  it('the corpus holds both scopes, successes and failures in each', async () => {
    const expected = await expectedFor(tokens, domains, { UID2: uid2.json, EUID: euid.json });
    for (const scope of ['UID2', 'EUID'] as const) {
      const statuses = new Set(expected.filter((_, i) => scopeOf(tokens[i]!) === scope).map((r) => r.status));
      expect([...statuses]).toEqual(expect.arrayContaining(['Success', 'ExpiredToken', 'InvalidPayload', 'NotAuthorizedForMasterKey', 'DomainOrAppNameCheckFailed']));
    }
    expect(tokens.filter((t) => identityScopeOf(t) === 'EUID').length).toBeGreaterThan(500);
  });

  for (const backend of BACKENDS) {
    for (const threads of [0, 2]) {
      it(`${backend}, threads ${threads}: decrypt, decryptBatch, decryptColumns and decryptFile equal the single-scope engines`, async () => {
        const expected = await expectedFor(tokens, domains, { UID2: uid2.json, EUID: euid.json });
        const dual = await engine(backend, {
          threads,
          ...(threads > 0 ? { dispatch: 'workers' as const } : {}),
          scopes: { UID2: { keys: uid2.json }, EUID: { keys: euid.json } },
        });
        expect(await dual.decryptBatch(tokens, { domains, now: NOW_MS })).toEqual(expected);
        const singles = await Promise.all(tokens.slice(0, 300).map((t, i) => dual.decrypt(t, domains[i], NOW_MS)));
        expect(singles).toEqual(expected.slice(0, 300));
        const columns = await dual.decryptColumns(tokens, { domains, now: NOW_MS });
        expect(Array.from({ length: tokens.length }, (_, i) => columns.result(i))).toEqual(expected);

        // The bulk path routes in its chunks the same way: compare with the single-scope engines' files.
        const lines = Buffer.from(corpus.filter((t) => t.token.length > 0 && !t.token.includes('\n')).map((t) => JSON.stringify({ token: t.token, domainOrAppName: t.domain })).join('\n') + '\n');
        const bulk = await bulkOutput(dual, lines, { now: NOW_MS });
        const [u, e] = [await engine('node-crypto', { threads: 0, keys: uid2.json }), await engine('node-crypto', { threads: 0, keys: euid.json })];
        const [uOut, eOut] = [await bulkOutput(u, lines, { now: NOW_MS }), await bulkOutput(e, lines, { now: NOW_MS })];
        const inputLines = lines.toString().trimEnd().split('\n');
        const pick = (out: Buffer): string[] => out.toString().trimEnd().split('\n');
        const [dualLines, uLines, eLines] = [pick(bulk), pick(uOut), pick(eOut)];
        expect(dualLines).toHaveLength(inputLines.length);
        inputLines.forEach((line, i) => {
          const scope = scopeOf((JSON.parse(line) as { token: string }).token);
          expect(dualLines[i], `line ${i}`).toBe(scope === 'EUID' ? eLines[i] : uLines[i]);
        });

        const stats = dual.stats().scopes!;
        const euidCount = tokens.filter((t) => scopeOf(t) === 'EUID').length;
        // decryptBatch + 300 singles + decryptColumns, each token counted under its own scope.
        const counted = (scope: 'UID2' | 'EUID'): number => Object.values(stats[scope].statusCounts).reduce((a, b) => a + b, 0);
        const singlesEuid = tokens.slice(0, 300).filter((t) => scopeOf(t) === 'EUID').length;
        expect(counted('EUID')).toBe(2 * euidCount + singlesEuid);
        expect(counted('UID2')).toBe(2 * (tokens.length - euidCount) + (300 - singlesEuid));
      });
    }
  }

  it('a scope without keys answers NotInitialized for its own tokens only, until it gets them', async () => {
    for (const threads of [0, 2]) {
      const dual = await engine(NATIVE_EXPECTED ? 'native' : 'node-crypto', { threads, ...(threads > 0 ? { dispatch: 'workers' as const } : {}), scopes: { UID2: { keys: uid2.json }, EUID: {} } });
      const results = await dual.decryptBatch(tokens, { domains, now: NOW_MS });
      expect(results).toEqual(await expectedFor(tokens, domains, { UID2: uid2.json }));
      expect(results.filter((_, i) => scopeOf(tokens[i]!) === 'EUID').every((r) => r.status === 'NotInitialized')).toBe(true);
      expect(dual.stats().scopes!.EUID.keySetAgeMs).toBeNull();

      dual.setKeys(euid.json);
      expect(await dual.decryptBatch(tokens, { domains, now: NOW_MS })).toEqual(await expectedFor(tokens, domains, { UID2: uid2.json, EUID: euid.json }));
      expect(dual.keySetOf('EUID')?.identityScope).toBe('EUID');
      expect(dual.keySetOf('UID2')).toBe(dual.keySet);
    }
    // Neither scope: every token NotInitialized, each counted under its scope.
    const bare = await engine('node-crypto', { threads: 1, dispatch: 'workers', scopes: {} });
    expect((await bare.decryptBatch(tokens, { now: NOW_MS })).every((r) => r.status === 'NotInitialized')).toBe(true);
    expect(bare.stats().scopes!.EUID.statusCounts.NotInitialized).toBe(tokens.filter((t) => scopeOf(t) === 'EUID').length);
  });

  it('refuses a key set of the other scope, keeping the keys in force', async () => {
    const dual = await engine('node-crypto', { threads: 0, scopes: { UID2: { keys: uid2.json }, EUID: { keys: euid.json } } });
    const before = dual.keySetOf('EUID');
    expect(() => dual.setKeys(uid2.json, 'EUID')).toThrow(expect.objectContaining({ code: 'UID2_ERR_KEYS_SCOPE' }));
    expect(dual.keySetOf('EUID')).toBe(before);
    await expect(DecryptionEngine.create({ threads: 0, scopes: { UID2: { keys: euid.json } } })).rejects.toMatchObject({ code: 'UID2_ERR_KEYS_SCOPE' });
    expect(() => dual.setKeys(euid.json, 'UID3' as 'UID2')).toThrow(expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT' }));
  });

  it('rejects scopes combined with a top-level key source, unknown scopes and partial credentials', async () => {
    const bad: [EngineOptions, RegExp][] = [
      [{ keys: uid2.json, scopes: {} }, /options\.keys cannot be combined with options\.scopes/],
      [{ scopes: { UID3: {} } as never }, /only UID2 and EUID/],
      [{ scopes: { EUID: { baseUrl: 'http://127.0.0.1:1', apiKey: 'k' } } }, /needs baseUrl, apiKey and secretKey together/],
      [{ scopes: { UID2: { keys: uid2.json, baseUrl: 'http://127.0.0.1:1' } } }, /alternatives/],
      [{ scopes: [] as never }, /must be an object/],
    ];
    for (const [options, message] of bad) {
      await expect(DecryptionEngine.create({ threads: 0, ...options })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message: expect.stringMatching(message) });
    }
  });

  it('keys swapped on both scopes while batches are in flight: every result equals the single-scope answer', async () => {
    // Rotation as the service does it: each new key set adds keys and keeps the old ones, so every
    // token decrypts under every generation, and any mismatch would be a routing or snapshot error.
    const generations = (base: typeof uid2, label: string): KeySet[] =>
      [0, 1, 2, 3].map((g) => {
        const extra = keyResponse(1000 + g * 10, `${label}-${g}`, base.scope).json as { body: { keys: object[] } };
        const json = structuredClone(base.json) as { body: { keys: object[] } };
        json.body.keys.push(...extra.body.keys);
        return parseKeys(json);
      });
    const [uGen, eGen] = [generations(uid2, 'swap-uid2'), generations(euid, 'swap-euid')];
    const expected = await expectedFor(tokens, domains, { UID2: uid2.json, EUID: euid.json });
    const dual = await engine(NATIVE_EXPECTED ? 'native' : 'node-crypto', { threads: 2, scopes: { UID2: { keys: uGen[0]! }, EUID: { keys: eGen[0]! } } });
    let mismatches = 0;
    const runs: Promise<void>[] = [];
    for (let round = 0; round < 24; round++) {
      if (round % 2 === 0) dual.setKeys(uGen[(round / 2) % 4]!);
      else dual.setKeys(eGen[((round - 1) / 2) % 4]!);
      runs.push(
        dual.decryptBatch(tokens, { domains, now: NOW_MS }).then((results) => {
          results.forEach((r, i) => (mismatches += JSON.stringify(r) === JSON.stringify(expected[i]) ? 0 : 1));
        }),
      );
      const at = round * 37;
      runs.push(dual.decrypt(tokens[at]!, domains[at], NOW_MS).then((r) => void (mismatches += JSON.stringify(r) === JSON.stringify(expected[at]) ? 0 : 1)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(runs);
    expect(mismatches).toBe(0);
    expect(dual.stats().snapshotVersion).toBeGreaterThan(24);
  });
});
