/**
 * The token cache's one promise: every result equals, field for field, what decrypting afresh
 * returns. A seeded fast-check run drives random interleavings of tokens (valid, expired, CSTG
 * with and without allowed domains, tampered, foreign keys, v2/v3/v4, UID2/EUID, lifetime and
 * clock-skew edge cases), `now` values jumping forward and backward, and key-set swaps that add,
 * remove and expire keys and reuse key ids with new secrets, through clients with a (small,
 * evicting) cache and clients without one, and through the cache directly for 'legacy' rules.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import { InProcessDecryptor } from '../../src/in-process/decryptor.js';
import { BidstreamClient, SharingClient } from '../../src/index.js';
import { parseKeys } from '../../src/keys/parse.js';
import { BACKEND_ENV } from '../../src/native/backend.js';
import { loadNative } from '../../src/native/load.js';
import { decryptToken } from '../../src/token/decrypt.js';
import { encodeAdvertisingToken, type TokenFields } from '../../src/token/encode.js';
import type { IdentityScope } from '../../src/types.js';
import {
  DAY_MS,
  DAY_S,
  HOUR_MS,
  MINUTE_MS,
  NOW_MS,
  NOW_S,
  SITE_DOMAINS,
  SITE_ID,
  keysResponse,
  makeKey,
  makeWorld,
  randomRawUid,
  randomSecret,
  type TestKey,
} from '../helpers/fixtures.js';

// Key ids the key sets draw from; each id has two secrets, so a swap can reuse an id with another.
const MASTER_IDS = [5101, 5102];
const SITE_IDS = [5201, 5202];
const FOREIGN_ID = 6666; // in no key set, ever
const SECRETS = new Map<number, [Buffer, Buffer]>(
  [...MASTER_IDS, ...SITE_IDS, FOREIGN_ID].map((id) => [id, [randomSecret(), randomSecret()]]),
);
const OTHER_SITE_ID = 7399; // no site data: CSTG tokens of this site never pass the domain check

function encodingKey(id: number, secret: 0 | 1): { id: number; secret: Buffer } {
  return { id, secret: SECRETS.get(id)![secret] };
}

const HOT = 40;

/** The token pool: every kind the brief lists, minted with the project's encoder. */
function mintPool(): string[] {
  const world = makeWorld();
  const tokens: string[] = [];
  const random = fc.sample(
    fc.record({
      version: fc.constantFrom(2, 3, 4) as fc.Arbitrary<2 | 3 | 4>,
      scope: fc.constantFrom<IdentityScope>('UID2', 'EUID'),
      type: fc.constantFrom('Email', 'Phone') as fc.Arbitrary<'Email' | 'Phone'>,
      master: fc.constantFrom(...MASTER_IDS, FOREIGN_ID),
      masterSecret: fc.constantFrom<0 | 1>(0, 1),
      site: fc.constantFrom(...SITE_IDS, FOREIGN_ID),
      siteSecret: fc.constantFrom<0 | 1>(0, 1),
      cstg: fc.boolean(),
      siteId: fc.constantFrom(SITE_ID, OTHER_SITE_ID),
      // Expiry from well past to far future; generation in the past, the future (skew), or long ago.
      expiresMs: fc.constantFrom(NOW_MS - HOUR_MS, NOW_MS, NOW_MS + HOUR_MS, NOW_MS + 3 * HOUR_MS, NOW_MS + 40 * DAY_MS),
      generatedMs: fc.constantFrom(NOW_MS - MINUTE_MS, NOW_MS - 2 * HOUR_MS, NOW_MS + 10 * MINUTE_MS, NOW_MS + HOUR_MS, NOW_MS - 10 * DAY_MS),
      tamper: fc.constantFrom(false, false, false, true),
      encoding: fc.constantFrom<'base64url' | 'base64'>('base64url', 'base64'),
    }),
    { seed: 1301, numRuns: 160 },
  );
  // The first HOT tokens are the likely-good ones (known ids, first secrets, UID2, untampered),
  // which the commands draw most often, so repeats and hits are frequent.
  for (let i = 0; i < HOT; i++) {
    Object.assign(random[i]!, { master: MASTER_IDS[i % 2], masterSecret: 0, site: SITE_IDS[(i >> 1) % 2], siteSecret: 0, scope: 'UID2', tamper: false });
  }
  for (const r of random) {
    const fields: TokenFields = world.fields({
      version: r.version,
      masterKey: encodingKey(r.master, r.masterSecret),
      siteKey: encodingKey(r.site, r.siteSecret),
      rawUid: r.version === 2 ? `user-${tokens.length}@example.test` : randomRawUid(r.type),
      siteId: r.siteId,
      expiresMs: r.expiresMs,
      generatedMs: r.generatedMs,
      establishedMs: NOW_MS - 30 * DAY_MS,
      identityScope: r.scope,
      identityType: r.type,
      clientSideGenerated: r.cstg,
      encoding: r.encoding,
    });
    let token = encodeAdvertisingToken(fields);
    if (r.tamper) {
      const at = 10 + (tokens.length % (token.length - 20));
      token = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    }
    tokens.push(token);
  }
  tokens.push('not a token', 'AAAA', '');
  return tokens;
}

interface KeySetSpec {
  keys: { id: number; secret: 0 | 1 | null; expiresInS: number }[];
  scope: IdentityScope;
  maxBidstreamLifetimeSeconds: number | undefined;
  maxSharingLifetimeSeconds: number | undefined;
  allowClockSkewSeconds: number | undefined;
  domains: 'site' | 'none' | 'other';
}

const keySetSpec: fc.Arbitrary<KeySetSpec> = fc.record({
  keys: fc.tuple(
    ...[...MASTER_IDS, ...SITE_IDS].map((id) =>
      fc.record({
        id: fc.constant(id),
        secret: fc.constantFrom<0 | 1 | null>(0, 0, 1, null),
        // Keys that expire within the run's `now` range (all of them expired: KeysNotSynced).
        expiresInS: fc.constantFrom(30 * DAY_S, 2 * 3600, -3600),
      }),
    ),
  ),
  scope: fc.constantFrom<IdentityScope>('UID2', 'UID2', 'EUID'),
  maxBidstreamLifetimeSeconds: fc.constantFrom(undefined, 3 * 3600, 30 * DAY_S),
  maxSharingLifetimeSeconds: fc.constantFrom(undefined, 3 * 3600),
  allowClockSkewSeconds: fc.constantFrom(undefined, 60, 1800),
  domains: fc.constantFrom<'site' | 'none' | 'other'>('site', 'none', 'other'),
});

function keysJson(spec: KeySetSpec): object {
  const keys: TestKey[] = [];
  for (const k of spec.keys) {
    if (k.secret === null) continue;
    keys.push(
      makeKey(k.id, {
        keysetId: MASTER_IDS.includes(k.id) ? 1 : 77,
        secret: SECRETS.get(k.id)![k.secret],
        activates: NOW_S - DAY_S,
        created: NOW_S - DAY_S,
        expires: NOW_S + k.expiresInS,
      }),
    );
  }
  const siteData =
    spec.domains === 'site'
      ? [{ id: SITE_ID, domain_names: SITE_DOMAINS }]
      : spec.domains === 'other'
        ? [{ id: SITE_ID, domain_names: ['elsewhere.test'] }, { id: OTHER_SITE_ID, domain_names: ['publisher.test'] }]
        : [];
  return keysResponse({
    keys,
    identityScope: spec.scope,
    siteData,
    ...(spec.maxBidstreamLifetimeSeconds !== undefined && { maxBidstreamLifetimeSeconds: spec.maxBidstreamLifetimeSeconds }),
    ...(spec.maxSharingLifetimeSeconds !== undefined && { maxSharingLifetimeSeconds: spec.maxSharingLifetimeSeconds }),
    ...(spec.allowClockSkewSeconds !== undefined && { allowClockSkewSeconds: spec.allowClockSkewSeconds }),
  });
}

const POOL = mintPool();
const GOOD_KEYS: KeySetSpec = {
  keys: [...MASTER_IDS, ...SITE_IDS].map((id) => ({ id, secret: 0, expiresInS: 30 * DAY_S })),
  scope: 'UID2',
  maxBidstreamLifetimeSeconds: undefined,
  maxSharingLifetimeSeconds: undefined,
  allowClockSkewSeconds: undefined,
  domains: 'site',
};
const DOMAINS = [null, undefined, 'publisher.test', 'NEWS.publisher.test', 'elsewhere.test', '987654321', 'other.example'];
const NOW_OFFSETS = [-DAY_MS, -2 * HOUR_MS, -20 * MINUTE_MS, 0, 1, 59 * MINUTE_MS, HOUR_MS + 1, 150 * MINUTE_MS, 4 * HOUR_MS, 41 * DAY_MS];

type Command =
  | { kind: 'decrypt'; token: number; domain: number; now: number }
  | { kind: 'keys'; spec: KeySetSpec };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('decrypt' as const), token: fc.oneof({ weight: 3, arbitrary: fc.nat(HOT - 1) }, fc.nat(POOL.length - 1)), domain: fc.nat(DOMAINS.length - 1), now: fc.nat(NOW_OFFSETS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('keys' as const), spec: fc.oneof(keySetSpec, fc.constant(GOOD_KEYS)) }) },
);

/** Both in-process backends where the addon loads (it does wherever `npm ci` built it). */
const BACKENDS = loadNative() ? (['native', 'node-crypto'] as const) : (['node-crypto'] as const);

/** A client made with `backend` forced, as UID2_ENGINE_BACKEND forces it. */
function withBackend<T>(backend: string, make: () => T): T {
  const before = process.env[BACKEND_ENV];
  process.env[BACKEND_ENV] = backend;
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = before;
  }
}

describe.each(BACKENDS)('token cache equivalence, %s backend', (backend) => {
  const through = (cache: TokenCache): InProcessDecryptor => new InProcessDecryptor(backend, { tokenCache: cache });

  it('every result equals a fresh decryption, field for field, across keys, times and evictions', () => {
    let totalHits = 0;
    let totalLookups = 0;
    fc.assert(
      fc.property(fc.array(command, { minLength: 30, maxLength: 200, size: 'max' }), fc.constantFrom(4, 16, 1000), fc.constantFrom<'always' | 'repeat'>('always', 'repeat'), (commands, maxEntries, admission) => {
        const [cachedBid, plainBid, cachedShare, plainShare] = withBackend(backend, () => [
          new BidstreamClient(undefined, undefined, undefined, { tokenCache: { maxEntries, admission } }),
          new BidstreamClient(),
          new SharingClient(undefined, undefined, undefined, { tokenCache: { maxEntries, admission } }),
          new SharingClient(),
        ] as const);
        expect(cachedBid.backend).toBe(backend);
        const legacyCache = new TokenCache({ maxEntries, admission });
        const legacy = through(legacyCache);
        // Most runs start with every known key under its first secret; the rest start with none.
        const start: Command[] = commands.length % 4 === 0 ? [] : [{ kind: 'keys', spec: GOOD_KEYS }];
        for (const c of [...start, ...commands]) {
          if (c.kind === 'keys') {
            const json = keysJson(c.spec);
            for (const client of [cachedBid, plainBid, cachedShare, plainShare]) expect(client.refreshJson(json).success).toBe(true);
            continue;
          }
          const token = POOL[c.token]!;
          const domain = DOMAINS[c.domain];
          const now = NOW_MS + NOW_OFFSETS[c.now]!;
          expect(cachedBid.decryptTokenIntoRawUid(token, domain, now)).toStrictEqual(plainBid.decryptTokenIntoRawUid(token, domain, now));
          expect(cachedShare.decryptTokenIntoRawUid(token, now)).toStrictEqual(plainShare.decryptTokenIntoRawUid(token, now));
          const keys = plainBid.keySet;
          expect(legacy.decrypt(token, keys, 'legacy', domain, now)).toStrictEqual(decryptToken(token, keys, 'legacy', domain, now));
          expect(legacyCache.size).toBeLessThanOrEqual(maxEntries);
        }
        for (const s of [cachedBid.tokenCacheStats()!, cachedShare.tokenCacheStats()!, legacyCache.stats()]) {
          totalHits += s.hits;
          totalLookups += s.hits + s.misses;
        }
      }),
      { seed: 1313, numRuns: 200 },
    );
    // The property means something only if the cache answered a good share of the calls.
    expect(totalHits).toBeGreaterThan(totalLookups / 10);
  });

  it('covers the statuses a hit can give (the pool is not all failures)', () => {
    // One deterministic pass: every key set spec with both secrets of every id, every token, NOW.
    const seen = new Set<string>();
    const cached = through(new TokenCache());
    for (const secret of [0, 1] as const) {
      for (const scope of ['UID2', 'EUID'] as const) {
        const keys = parseKeys(
          keysJson({
            keys: [...MASTER_IDS, ...SITE_IDS].map((id) => ({ id, secret, expiresInS: 30 * DAY_S })),
            scope,
            maxBidstreamLifetimeSeconds: 3 * 3600,
            maxSharingLifetimeSeconds: undefined,
            allowClockSkewSeconds: 60,
            domains: 'site',
          }),
        );
        for (const token of POOL) {
          for (const domain of [null, 'publisher.test']) {
            cached.decrypt(token, keys, 'bidstream', domain, NOW_MS);
            const again = cached.decrypt(token, keys, 'bidstream', domain, NOW_MS);
            expect(again).toStrictEqual(decryptToken(token, keys, 'bidstream', domain, NOW_MS));
            seen.add(again.status);
          }
        }
      }
    }
    for (const status of ['Success', 'ExpiredToken', 'DomainOrAppNameCheckFailed', 'InvalidTokenLifetime', 'InvalidPayload', 'InvalidIdentityScope', 'NotAuthorizedForMasterKey', 'NotAuthorizedForKey']) {
      expect(seen).toContain(status);
    }
    expect(cached.cache!.stats().hits).toBeGreaterThan(0);
  });
});

describe('token cache equivalence through DecryptionEngine (public API)', () => {
  it('an engine with the cache and one without answer every call the same, with worker pools and key swaps', async () => {
    const { DecryptionEngine } = await import('../../src/index.js');
    const commandsFor = fc.sample(fc.array(command, { minLength: 40, maxLength: 120, size: 'max' }), { seed: 4242, numRuns: 12 });
    let hits = 0;
    for (const [run, commands] of commandsFor.entries()) {
      const threads = run % 3 === 0 ? 0 : 1;
      const cached = await DecryptionEngine.create({ threads, keys: keysJson(GOOD_KEYS), tokenCache: { maxEntries: run % 2 ? 8 : 1000 } });
      const plain = await DecryptionEngine.create({ threads, keys: keysJson(GOOD_KEYS) });
      try {
        for (let i = 0; i < commands.length; i++) {
          const c = commands[i]!;
          if (c.kind === 'keys') {
            const json = keysJson(c.spec);
            cached.setKeys(json);
            plain.setKeys(json);
            continue;
          }
          const token = POOL[c.token]!;
          const domain = DOMAINS[c.domain];
          const now = NOW_MS + NOW_OFFSETS[c.now]!;
          if (i % 3 === 0) {
            // A batch of this and the next few tokens, through decryptBatch (hits and misses split).
            const tokens = [token, POOL[(c.token + 1) % HOT]!, token, POOL[(c.token + 7) % POOL.length]!];
            const domains = [domain, domain, null, domain];
            expect(await cached.decryptBatch(tokens, { domains, now })).toStrictEqual(await plain.decryptBatch(tokens, { domains, now }));
          } else {
            expect(await cached.decrypt(token, domain, now)).toStrictEqual(await plain.decrypt(token, domain, now));
          }
        }
        hits += cached.stats().tokenCache!.hits;
        expect(plain.stats().tokenCache).toBeNull();
      } finally {
        await Promise.all([cached.close(), plain.close()]);
      }
    }
    expect(hits).toBeGreaterThan(50);
  });
});
