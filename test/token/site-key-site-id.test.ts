/**
 * `DecryptionResult.siteKeySiteId` (Java's getSiteKeySiteId(), Python's site_key_site_id): the
 * site id of the key that decrypted the inner layer, present exactly where `siteId` is, with the
 * same value on every path: the TypeScript decoder, the native addon one token at a time, the
 * token cache's hits, and the engine's workers (records written by node-crypto and by the addon).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import { InProcessDecryptor } from '../../src/in-process/decryptor.js';
import { BidstreamClient, DecryptionEngine, DecryptionStatus, decryptToken, parseKeys, type DecryptionResult, type KeySet } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { BACKEND_ENV, type CryptoBackend } from '../../src/native/backend.js';
import { loadNative } from '../../src/native/load.js';
import { HOUR_MS, NOW_MS, legacyKeysResponse, makeKey, makeWorld } from '../helpers/fixtures.js';

/** Past int32, so no path may carry it in a 32-bit field. */
const BIG_SITE_ID = 2 ** 40 + 3;

// The legacy key list gives each key a site_id; bidstream and sharing keys have none.
const master = makeKey(61, { siteId: -1 });
const site = makeKey(62, { siteId: BIG_SITE_ID });
const legacyJson = legacyKeysResponse([master, site]);
const legacyKeys = parseKeys(legacyJson);
const world = makeWorld();

const legacyToken = (overrides: Parameters<typeof world.fields>[0] = {}): string =>
  encodeAdvertisingToken(world.fields({ masterKey: master, siteKey: site, ...overrides }));

/** [name, token, key set JSON, key set, expected status, expected siteKeySiteId (undefined: absent)]. */
const CASES: [string, string, object, KeySet, DecryptionStatus, number | undefined][] = [
  ['v4 under a legacy site key', legacyToken(), legacyJson, legacyKeys, DecryptionStatus.Success, BIG_SITE_ID],
  ['v3 under a legacy site key', legacyToken({ version: 3 }), legacyJson, legacyKeys, DecryptionStatus.Success, BIG_SITE_ID],
  ['v2 under a legacy site key', legacyToken({ version: 2, rawUid: 'someone@example.test' }), legacyJson, legacyKeys, DecryptionStatus.Success, BIG_SITE_ID],
  ['expired, under a legacy site key', legacyToken({ expiresMs: NOW_MS - HOUR_MS }), legacyJson, legacyKeys, DecryptionStatus.ExpiredToken, BIG_SITE_ID],
  ['master and site the same key (site_id -1)', legacyToken({ siteKey: master }), legacyJson, legacyKeys, DecryptionStatus.Success, -1],
  ['a keyset site key without site_id reads 0', world.token(), world.response, world.keySet, DecryptionStatus.Success, 0],
  ['an unknown site key: absent, as siteId is', legacyToken({ siteKey: { id: 999, secret: site.secret } }), legacyJson, legacyKeys, DecryptionStatus.NotAuthorizedForKey, undefined],
];

function expectField(result: DecryptionResult, status: DecryptionStatus, siteKeySiteId: number | undefined): void {
  expect(result.status).toBe(status);
  if (siteKeySiteId === undefined) {
    expect('siteKeySiteId' in result).toBe(false);
    expect('siteId' in result).toBe(false);
  } else {
    expect(result.siteKeySiteId).toBe(siteKeySiteId);
    expect(result.siteId).toBeTypeOf('number');
  }
}

const BACKENDS: CryptoBackend[] = loadNative() ? ['native', 'node-crypto'] : ['node-crypto'];

describe('siteKeySiteId', () => {
  it.each(CASES)('decryptToken: %s', (_name, token, _json, keys, status, siteKeySiteId) => {
    expectField(decryptToken(token, keys, 'bidstream', null, NOW_MS), status, siteKeySiteId);
  });

  describe.each(BACKENDS)('in process, %s backend', (backend) => {
    it.each(CASES)('without and with the token cache (miss, then hit): %s', (_name, token, _json, keys, status, siteKeySiteId) => {
      const expected = decryptToken(token, keys, 'bidstream', null, NOW_MS);
      expect(new InProcessDecryptor(backend).decrypt(token, keys, 'bidstream', null, NOW_MS)).toStrictEqual(expected);
      const cache = new TokenCache();
      const cached = new InProcessDecryptor(backend, { tokenCache: cache });
      for (let i = 0; i < 2; i++) expect(cached.decrypt(token, keys, 'bidstream', null, NOW_MS)).toStrictEqual(expected);
      if (status === DecryptionStatus.Success) expect(cache.stats().hits).toBe(1);
      expectField(expected, status, siteKeySiteId);
    });

    it('a token cache hit reports the site id of the key set in force (same key id and secret, new site_id)', () => {
      const cache = new InProcessDecryptor(backend, { tokenCache: new TokenCache() });
      const token = legacyToken();
      expect(cache.decrypt(token, legacyKeys, 'bidstream', null, NOW_MS).siteKeySiteId).toBe(BIG_SITE_ID);
      const moved = parseKeys(legacyKeysResponse([master, { ...site, siteId: 4242 }]));
      expect(cache.decrypt(token, moved, 'bidstream', null, NOW_MS)).toStrictEqual(decryptToken(token, moved, 'bidstream', null, NOW_MS));
      expect(cache.cache!.stats().hits).toBe(1);
      expect(cache.decrypt(token, moved, 'bidstream', null, NOW_MS).siteKeySiteId).toBe(4242);
    });
  });

  describe.each(BACKENDS)('DecryptionEngine, %s backend', (backend) => {
    const engines: DecryptionEngine[] = [];
    afterAll(async () => {
      await Promise.all(engines.map((e) => e.close()));
    });

    async function engine(keys: object, threads: number): Promise<DecryptionEngine> {
      const before = process.env[BACKEND_ENV];
      process.env[BACKEND_ENV] = backend;
      try {
        // threads: 1 means worker records: force the workers (the default policy keeps small calls in process).
        const made = await DecryptionEngine.create({ keys, threads, tokenCache: true, ...(threads > 0 && { dispatch: 'workers' as const }) });
        engines.push(made);
        expect(made.stats().backend).toBe(backend);
        return made;
      } finally {
        if (before === undefined) delete process.env[BACKEND_ENV];
        else process.env[BACKEND_ENV] = before;
      }
    }

    it.each([1, 0])('threads: %i, worker records (and cache hits) equal decryptToken', async (threads) => {
      for (const json of [legacyJson, world.response]) {
        const keys = parseKeys(json);
        const cases = CASES.filter((c) => c[2] === json);
        const tokens = cases.map((c) => c[1]);
        const expected = tokens.map((t) => decryptToken(t, keys, 'bidstream', null, NOW_MS));
        const e = await engine(json, threads);
        // Twice: the second time successes come from the token cache.
        for (let i = 0; i < 2; i++) expect(await e.decryptBatch(tokens, { now: NOW_MS })).toStrictEqual(expected);
        // With threads, the first pass went through worker records, not the in-process path.
        if (threads > 0) expect(e.stats().batches).toBeGreaterThan(0);
        cases.forEach((c, i) => expectField(expected[i]!, c[4], c[5]));
      }
    });
  });
});

it('reaches the clients', () => {
  const client = new BidstreamClient('https://x.test', 'k', 's');
  expect(client.refreshJson(legacyJson).success).toBe(true);
  expect(client.decryptTokenIntoRawUid(legacyToken(), null, NOW_MS)).toMatchObject({ status: 'Success', siteKeySiteId: BIG_SITE_ID });
});
