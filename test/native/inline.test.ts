/**
 * The in-process native path (src/native/inline-decrypt.ts over the addon's decodeOne): its
 * argument contract, the bounded per-key-set context table (swaps release contexts, collected key
 * sets free theirs), and the backend the clients, the free functions and a threads: 0 engine
 * choose, with UID2_ENGINE_BACKEND forcing it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/engine/engine.js';
import { encodeSnapshot } from '../../src/keys/snapshot.js';
import { BidstreamClient, SharingClient, decrypt, decryptToken, parseKeys } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { decoderOf } from '../../src/native/backend.js';
import { NOW_MS, SITE_KEY_SITE_ID, keyResponse } from '../engine/mixed-corpus.js';
import { NATIVE_EXPECTED, requireNative } from './harness.js';

function v4For(k: ReturnType<typeof keyResponse>, rawUid = Buffer.alloc(32, 7)): string {
  return encodeAdvertisingToken({
    version: 4,
    masterKey: k.master,
    siteKey: k.site,
    rawUid,
    siteId: 77,
    expiresMs: NOW_MS + 60_000,
    generatedMs: NOW_MS,
    establishedMs: NOW_MS - 1000,
  });
}

/** A full garbage collection, for the test that collected key sets free their contexts. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe.skipIf(!NATIVE_EXPECTED)('decodeOne contract', () => {
  const addon = requireNative();
  const k = keyResponse(8000, 'inline-contract');
  const snapshot = encodeSnapshot(parseKeys(k.json));
  const scratch = new Float64Array(10);

  it('rejects arguments that are not a token, a snapshot, a version and a scratch array', () => {
    const call = (...args: unknown[]): unknown => (addon().decodeOne as (...a: unknown[]) => unknown)(...args);
    expect(() => call('AAAA', snapshot, 1)).toThrow(/4 arguments/);
    expect(() => call(5, snapshot, 1, scratch)).toThrow(/token must be a string/);
    expect(() => call('AAAA', new ArrayBuffer(256), 1, scratch)).toThrow(/snapshot must be a SharedArrayBuffer/);
    expect(() => call('AAAA', snapshot, Number.NaN, scratch)).toThrow(/snapshotVersion must be a number/);
    expect(() => call('AAAA', snapshot, 1, new Float64Array(9))).toThrow(/scratch must be a Float64Array of at least 10 elements/);
    expect(() => call('AAAA', snapshot, 1, new Uint8Array(64))).toThrow(/scratch must be a Float64Array/);
    const corrupt = new SharedArrayBuffer(snapshot.byteLength);
    expect(() => call('AAAA', corrupt, 2, scratch)).toThrow(expect.objectContaining({ code: 'UID2_ERR_NATIVE_SNAPSHOT', message: 'not a complete key snapshot' }));
  });

  it('returns a status code, or the raw UID text with the fields in scratch', () => {
    const uid = Buffer.from('0123456789abcdef0123456789abcdef');
    expect(addon().decodeOne(v4For(k, uid), snapshot, 1, scratch)).toBe(uid.toString('base64'));
    // version, identity type, site id, privacy bits, established, expires, generated, master and site key ids
    expect([...scratch]).toEqual([4, 1, 77, 0, NOW_MS - 1000, NOW_MS + 60_000, NOW_MS, k.master.id, k.site.id, SITE_KEY_SITE_ID]);
    // Rule 2 in the addon too: too long, too short, unknown version; non-ASCII never decodes.
    expect(addon().decodeOne('A'.repeat(2049), snapshot, 1, scratch)).toBe(4);
    expect(addon().decodeOne('AAA', snapshot, 1, scratch)).toBe(4);
    expect(addon().decodeOne('AAAAAAAA', snapshot, 1, scratch)).toBe(7);
    expect(addon().decodeOne(v4For(k).replace(/.$/, '\u0141'), snapshot, 1, scratch)).toBe(4);
  });
});

describe.skipIf(!NATIVE_EXPECTED)('in-process native contexts per key set', () => {
  const addon = requireNative();
  const decryptNative = decoderOf('native').decrypt;

  it('key-set swaps keep at most 4 key sets of contexts; collected key sets free theirs', () => {
    const k = keyResponse(8100, 'inline-swaps');
    const token = v4For(k);
    const expected = decryptToken(token, parseKeys(k.json), 'bidstream', null, NOW_MS);
    expect(expected.status).toBe('Success');
    const peak = { keySets: 0, contexts: 0 };
    const opened = addon().inlineStats().opened;
    for (let i = 0; i < 200; i++) {
      // A new KeySet per swap (as every refresh makes): a new snapshot, new contexts.
      expect(decryptNative(token, parseKeys(k.json), 'bidstream', null, NOW_MS)).toEqual(expected);
      const stats = addon().inlineStats();
      peak.keySets = Math.max(peak.keySets, stats.keySets);
      peak.contexts = Math.max(peak.contexts, stats.contexts);
    }
    // Four key sets of two GCM contexts each (master and site key), never more.
    expect(peak).toEqual({ keySets: 4, contexts: 8 });
    expect(addon().inlineStats().opened - opened).toBe(200);

    // None of those key sets is reachable any more: once collected, the next miss frees them all.
    collectGarbage();
    const current = parseKeys(k.json);
    expect(decryptNative(token, current, 'bidstream', null, NOW_MS)).toEqual(expected);
    expect(addon().inlineStats()).toMatchObject({ keySets: 1, contexts: 2 });
  });

  it('alternating between two live key sets reuses both sets of contexts', () => {
    const a = keyResponse(8200, 'inline-a');
    const b = keyResponse(8300, 'inline-b');
    const keysA = parseKeys(a.json);
    const keysB = parseKeys(b.json);
    let opened = 0;
    for (let i = 0; i < 20; i++) {
      if (i === 1) opened = addon().inlineStats().opened;
      expect(decryptNative(v4For(a), keysA, 'bidstream', null, NOW_MS).status).toBe('Success');
      expect(decryptNative(v4For(b), keysB, 'bidstream', null, NOW_MS).status).toBe('Success');
      // A token of one key set under the other: its master key is unknown there.
      expect(decryptNative(v4For(a), keysB, 'bidstream', null, NOW_MS).status).toBe('NotAuthorizedForMasterKey');
    }
    // Both snapshots were opened in the first round and never again.
    expect(addon().inlineStats().opened).toBe(opened);
  });
});

describe('in-process backend of the clients, the free functions and threads: 0', () => {
  const saved = process.env['UID2_ENGINE_BACKEND'];
  const engines: DecryptionEngine[] = [];
  afterEach(async () => {
    process.env['UID2_ENGINE_BACKEND'] = saved;
    if (saved === undefined) delete process.env['UID2_ENGINE_BACKEND'];
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });
  const auto = NATIVE_EXPECTED ? 'native' : 'node-crypto';
  const k = keyResponse(8400, 'inline-clients');

  it(`defaults to ${auto}; UID2_ENGINE_BACKEND=node-crypto forces the TypeScript decoder`, async () => {
    delete process.env['UID2_ENGINE_BACKEND'];
    expect(new BidstreamClient().backend).toBe(auto);
    expect(new SharingClient().backend).toBe(auto);
    const engine = await DecryptionEngine.create({ threads: 0, keys: k.json });
    engines.push(engine);
    expect(engine.stats().backend).toBe(auto);

    process.env['UID2_ENGINE_BACKEND'] = 'node-crypto';
    const client = new BidstreamClient();
    expect(client.backend).toBe('node-crypto');
    const forced = await DecryptionEngine.create({ threads: 0, keys: k.json });
    engines.push(forced);
    expect(forced.stats().backend).toBe('node-crypto');

    process.env['UID2_ENGINE_BACKEND'] = 'openssl';
    expect(() => new SharingClient()).toThrow(/UID2_ENGINE_BACKEND must be "native" or "node-crypto"/);
  });

  it.skipIf(!NATIVE_EXPECTED)('both backends give the same results through every in-process entry point', async () => {
    const token = v4For(k);
    const results = [];
    for (const backend of ['native', 'node-crypto'] as const) {
      process.env['UID2_ENGINE_BACKEND'] = backend;
      const bidstream = new BidstreamClient();
      const sharing = new SharingClient();
      expect(bidstream.refreshJson(k.json).success && sharing.refreshJson(k.json).success).toBe(true);
      expect([bidstream.backend, sharing.backend]).toEqual([backend, backend]);
      const engine = await DecryptionEngine.create({ threads: 0, keys: k.json });
      engines.push(engine);
      results.push([
        bidstream.decryptTokenIntoRawUid(token, null, NOW_MS),
        bidstream.decryptTokenIntoRawUid(token.slice(0, -2), null, NOW_MS),
        sharing.decryptTokenIntoRawUid(token, NOW_MS),
        sharing.decryptTokenIntoRawUid(token, NOW_MS + 120_000),
        decrypt(token, k.json, NOW_MS),
        await engine.decrypt(token, null, NOW_MS),
        ...(await engine.decryptBatch([token, 'AAAA', token], { now: NOW_MS })),
      ]);
    }
    expect(results[0]![0]!.status).toBe('Success');
    expect(results[0]).toEqual(results[1]);
  });
});
