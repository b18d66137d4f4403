/**
 * Every shared decryption vector through both backends of the worker, through the in-process
 * native path, and through an engine forced to each backend: statuses and fields as the vectors
 * state, records identical between backends, results identical to the in-process client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/engine/engine.js';
import { BidstreamClient, SharingClient, decryptToken, parseKeys } from '../../src/index.js';
import { decoderOf } from '../../src/native/backend.js';
import { makeWorld, NOW_MS, rawV3Token } from '../helpers/fixtures.js';
import { comparable, expectedFields, loadVectors } from '../helpers/vectors.js';
import { NATIVE_EXPECTED, requireNative, runBackend, snapshotOf } from './harness.js';

const vectors = loadVectors();

describe.skipIf(!NATIVE_EXPECTED)('decrypt vectors: native and node-crypto backends', () => {
  requireNative();

  it.each(vectors.decrypt.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const keys = c.keySet === null ? undefined : parseKeys(vectors.keySets[c.keySet]!.response as object);
    const snapshot = keys ? snapshotOf(keys) : null;
    const input = [{ token: c.token, domain: c.domainOrAppName, nowMs: c.nowMs }];
    const native = runBackend('native', snapshot, c.clientType, input);
    const nodeCrypto = runBackend('node-crypto', snapshot, c.clientType, input);
    const expected = expectedFields(c.expect);
    expect(comparable(native.results[0]!, expected)).toEqual(expected);
    expect(native.records).toEqual(nodeCrypto.records);
    expect(native.results).toEqual(nodeCrypto.results);
    expect(native.results[0]).toEqual(decryptToken(c.token, keys, c.clientType, c.domainOrAppName, c.nowMs));
  });

  it.each(vectors.decrypt.map((c) => [c.name, c] as const))('in process, native: %s', (_name, c) => {
    const keys = c.keySet === null ? undefined : parseKeys(vectors.keySets[c.keySet]!.response as object);
    const native = decoderOf('native').decrypt(c.token, keys, c.clientType, c.domainOrAppName, c.nowMs);
    const expected = expectedFields(c.expect);
    expect(comparable(native, expected)).toEqual(expected);
    expect(native).toEqual(decryptToken(c.token, keys, c.clientType, c.domainOrAppName, c.nowMs));
    // And through the clients, which choose native here by default.
    if (c.clientType === 'legacy') return;
    const client = c.clientType === 'bidstream' ? new BidstreamClient() : new SharingClient();
    expect(client.backend).toBe('native');
    if (c.keySet !== null) expect(client.refreshJson(vectors.keySets[c.keySet]!.response as object).success).toBe(true);
    const viaClient =
      client instanceof BidstreamClient
        ? client.decryptTokenIntoRawUid(c.token, c.domainOrAppName, c.nowMs)
        : client.decryptTokenIntoRawUid(c.token, c.nowMs);
    // (A sharing client passes no domain: rule 8 does not apply to sharing anyway.)
    expect(viaClient).toEqual(native);
  });

  it('all vectors of one key set in a single native batch (contexts reused across tokens)', () => {
    for (const [name, entry] of Object.entries(vectors.keySets)) {
      const cases = vectors.decrypt.filter((c) => c.keySet === name);
      const snapshot = snapshotOf(parseKeys(entry.response as object));
      for (const clientType of ['bidstream', 'sharing', 'legacy'] as const) {
        const inputs = cases.map((c) => ({ token: c.token, domain: c.domainOrAppName, nowMs: c.nowMs }));
        const native = runBackend('native', snapshot, clientType, inputs);
        expect(native.records).toEqual(runBackend('node-crypto', snapshot, clientType, inputs).records);
      }
    }
  });
});

describe.skipIf(!NATIVE_EXPECTED)('identity type from the prefix: native reads it as node-crypto does', () => {
  requireNative();

  it.each([
    [0x03, 'UID2', 'Email'],
    [0x07, 'UID2', 'Phone'],
    [0x0b, 'UID2', 'Phone'],
    [0x0f, 'UID2', 'Phone'],
    [0x13, 'EUID', 'Email'],
    [0x1f, 'EUID', 'Phone'],
  ] as const)('prefix 0x%s (%s): %s', (prefix, scope, type) => {
    const world = makeWorld(scope === 'EUID' ? { identityScope: 'EUID' } : {});
    const snapshot = snapshotOf(world.keySet);
    const inputs = ([3, 4] as const).map((version) => ({ token: rawV3Token(world, { prefix, version }), nowMs: NOW_MS }));
    const native = runBackend('native', snapshot, 'bidstream', inputs);
    expect(native.results.map((r) => [r.status, r.identityType])).toEqual([
      ['Success', type],
      ['Success', type],
    ]);
    expect(native.records).toEqual(runBackend('node-crypto', snapshot, 'bidstream', inputs).records);
  });
});

describe.skipIf(!NATIVE_EXPECTED)('DecryptionEngine on each backend', () => {
  requireNative();
  const saved = process.env['UID2_ENGINE_BACKEND'];
  const engines: DecryptionEngine[] = [];
  afterEach(async () => {
    process.env['UID2_ENGINE_BACKEND'] = saved;
    if (saved === undefined) delete process.env['UID2_ENGINE_BACKEND'];
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it.each(['native', 'node-crypto'] as const)('%s: every vector through decryptBatch, stats().backend', async (backend) => {
    process.env['UID2_ENGINE_BACKEND'] = backend;
    for (const [name, entry] of Object.entries(vectors.keySets)) {
      const cases = vectors.decrypt.filter((c) => c.keySet === name);
      const byGroup = new Map<string, typeof cases>();
      for (const c of cases) byGroup.set(`${c.clientType}|${c.nowMs}`, [...(byGroup.get(`${c.clientType}|${c.nowMs}`) ?? []), c]);
      for (const group of byGroup.values()) {
        const first = group[0]!;
        const engine = await DecryptionEngine.create({ threads: 1, clientType: first.clientType, keys: entry.response as object });
        engines.push(engine);
        expect(engine.stats().backend).toBe(backend);
        const results = await engine.decryptBatch(
          group.map((c) => c.token),
          { domains: group.map((c) => c.domainOrAppName), now: first.nowMs },
        );
        group.forEach((c, i) => expect(comparable(results[i]!, expectedFields(c.expect)), c.name).toEqual(expectedFields(c.expect)));
      }
    }
  });

  it('auto-selects native when the addon loads, for the workers and for threads: 0 in process', async () => {
    delete process.env['UID2_ENGINE_BACKEND'];
    const pooled = await DecryptionEngine.create({ threads: 1 });
    const inProcess = await DecryptionEngine.create({ threads: 0 });
    engines.push(pooled, inProcess);
    expect(pooled.stats().backend).toBe('native');
    expect(inProcess.stats().backend).toBe('native');
    const results = await pooled.decryptBatch(['AgAAAA', 'x']);
    expect(results.map((r) => r.status)).toEqual(['NotInitialized', 'NotInitialized']);
  });
});
