/**
 * TokenCache mechanics: options and their messages, SIEVE eviction, the maxEntries and maxBytes
 * bounds (hostile 2,048-character tokens included), the byte accounting, what store() refuses,
 * key replacement, stats, and the client option.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_CACHE_OPTIONS, resolveTokenCacheOptions } from '../../src/cache/options.js';
import { TOKEN_CACHE_ENTRY_OVERHEAD, TokenCache } from '../../src/cache/token-cache.js';
import { InProcessDecryptor } from '../../src/in-process/decryptor.js';
import { BidstreamClient, DecryptionStatus, InvalidArgumentError, registerTokenCacheMetrics, SharingClient } from '../../src/index.js';
import { decryptToken, evaluateToken, type CheckedToken } from '../../src/token/decrypt.js';
import type { TokenFindings } from '../../src/token/result.js';
import { MAX_TOKEN_LENGTH } from '../../src/token/layout.js';
import { HOUR_MS, MASTER_KEY_ID, NOW_MS, SITE_KEY_ID, makeWorld, randomRawUidBytes, type World } from '../helpers/fixtures.js';

const world = makeWorld();

function decryptThrough(cache: TokenCache, token: string, w: World = world, now = NOW_MS, domain: string | null = null) {
  return new InProcessDecryptor('node-crypto', { tokenCache: cache }).decrypt(token, w.keySet, 'bidstream', domain, now);
}

function found(token: string, w: World = world): TokenFindings {
  const outcome = evaluateToken(token, w.keySet, 'bidstream', null, NOW_MS) as CheckedToken;
  return { ...outcome, uid: outcome.uidBytes };
}

/** A v4 token of exactly `length` characters (a long raw UID), decryptable under `world`. */
function tokenOfLength(length: number): string {
  const mint = (uidLength: number) => world.token({ rawUid: Buffer.concat([randomRawUidBytes(), Buffer.alloc(uidLength - 32, 7)]) });
  // Base64: 4 characters per 3 bytes, so start near the answer and step up.
  let uid = Math.max(32, Math.floor(((length - mint(32).length) * 3) / 4) + 32 - 3);
  while (mint(uid + 1).length <= length) uid++;
  return mint(uid);
}

describe('options', () => {
  it('fills defaults and names the bad field', () => {
    expect(resolveTokenCacheOptions(undefined)).toBeUndefined();
    expect(resolveTokenCacheOptions(false)).toBeUndefined();
    expect(resolveTokenCacheOptions(true)).toEqual(DEFAULT_TOKEN_CACHE_OPTIONS);
    expect(resolveTokenCacheOptions({ maxEntries: 5 })).toEqual({ maxEntries: 5, maxBytes: DEFAULT_TOKEN_CACHE_OPTIONS.maxBytes, admission: 'always' });
    const cases: [unknown, string][] = [
      ['yes', 'options.tokenCache must be an object, true or false'],
      [[], 'options.tokenCache must be an object, true or false'],
      [{ maxEntries: 0 }, 'options.tokenCache.maxEntries must be a positive integer no larger than 16777216'],
      [{ maxEntries: 1.5 }, 'options.tokenCache.maxEntries must be a positive integer no larger than 16777216'],
      [{ maxEntries: 2 ** 25 }, 'options.tokenCache.maxEntries must be a positive integer no larger than 16777216'],
      [{ maxBytes: -1 }, `options.tokenCache.maxBytes must be a positive integer no larger than ${Number.MAX_SAFE_INTEGER}`],
      [{ maxBytes: '1' }, `options.tokenCache.maxBytes must be a positive integer no larger than ${Number.MAX_SAFE_INTEGER}`],
      [{ admission: 'sometimes' }, 'options.tokenCache.admission must be "always" or "repeat"'],
    ];
    for (const [value, message] of cases) {
      expect(() => resolveTokenCacheOptions(value)).toThrow(new InvalidArgumentError(message));
    }
    expect(() => new TokenCache({ maxEntries: -2 })).toThrow('options.maxEntries must be a positive integer');
    expect(() => new BidstreamClient(undefined, undefined, undefined, { tokenCache: { maxBytes: 0 } })).toThrow(
      'options.tokenCache.maxBytes must be a positive integer',
    );
  });
});

describe('hits and misses', () => {
  it('answers a repeat from the entry and counts it', () => {
    const cache = new TokenCache();
    const token = world.token();
    const first = decryptThrough(cache, token);
    expect(first.status).toBe(DecryptionStatus.Success);
    expect(cache.stats()).toMatchObject({ entries: 1, hits: 0, misses: 1, evictions: 0 });
    expect(decryptThrough(cache, token)).toStrictEqual(first);
    expect(cache.stats()).toMatchObject({ entries: 1, hits: 1, misses: 1 });
  });

  it('never stores failures, and drops an entry once a call finds it expired', () => {
    const cache = new TokenCache();
    for (const bad of ['garbage', world.token({ expiresMs: NOW_MS - 1 }), makeWorld().token()]) {
      expect(decryptThrough(cache, bad).status).not.toBe(DecryptionStatus.Success);
    }
    expect(cache.size).toBe(0);
    const token = world.token({ expiresMs: NOW_MS + HOUR_MS });
    decryptThrough(cache, token);
    expect(cache.size).toBe(1);
    const late = NOW_MS + HOUR_MS + 1;
    expect(decryptThrough(cache, token, world, late)).toStrictEqual(decryptToken(token, world.keySet, 'bidstream', null, late));
    expect(cache.size).toBe(0);
  });

  it('a key id reused with another secret is a miss that drops the entry; a removed key is answered', () => {
    const cache = new TokenCache();
    const token = world.token();
    decryptThrough(cache, token);
    // Same ids, new secrets: a fresh decryption fails the GCM tag.
    const rekeyed = makeWorld();
    expect(cache.lookup(token, null, NOW_MS, rekeyed.keySet, 'bidstream')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(decryptThrough(cache, token, rekeyed).status).toBe(DecryptionStatus.InvalidPayload);

    decryptThrough(cache, token);
    const siteless = makeWorld({ masterKey: { secret: world.master.secret }, siteKey: { secret: world.site.secret } });
    expect(cache.lookup(token, null, NOW_MS, siteless.keySet, 'bidstream')).toStrictEqual(decryptToken(token, siteless.keySet, 'bidstream', null, NOW_MS));
    expect(cache.stats().hits).toBe(1);
  });
});

describe('admission', () => {
  it("'repeat' stores a token on its second miss, and forgets sightings after maxEntries new ones", () => {
    const cache = new TokenCache({ maxEntries: 64, admission: 'repeat' });
    const token = world.token();
    const first = decryptThrough(cache, token);
    expect(cache.size).toBe(0);
    expect(decryptThrough(cache, token)).toStrictEqual(first);
    expect(cache.size).toBe(1);
    expect(decryptThrough(cache, token)).toStrictEqual(first);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2 });

    // Forgetting: 50 tokens seen once, then 600 others (more than maxEntries first sightings, so
    // the doorkeeper starts over at least twice), then the 50 again: few are stored now (only those
    // whose bit a later token happened to set, at most 1 in 8), where without aging all 50 would be.
    const aging = new TokenCache({ maxEntries: 256, admission: 'repeat' });
    const early = Array.from({ length: 50 }, () => world.token());
    for (const t of early) decryptThrough(aging, t);
    for (let i = 0; i < 600; i++) decryptThrough(aging, world.token());
    for (const t of early) decryptThrough(aging, t);
    const held = early.filter((t) => aging.lookup(t, null, NOW_MS, world.keySet, 'bidstream') !== undefined).length;
    expect(held).toBeLessThan(20);
    expect(aging.size).toBeLessThan(256); // nothing was evicted to make the count look small
  });
});

describe('index', () => {
  it('a token that shares the hashed tail of an entry is a miss, never the entry', () => {
    const cache = new TokenCache();
    const token = world.token();
    decryptThrough(cache, token);
    const tampered = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    expect(tampered.slice(-12)).toBe(token.slice(-12));
    expect(cache.lookup(tampered, null, NOW_MS, world.keySet, 'bidstream')).toBeUndefined();
    expect(decryptThrough(cache, tampered).status).toBe(DecryptionStatus.InvalidPayload);
    expect(cache.lookup(token, null, NOW_MS, world.keySet, 'bidstream')?.status).toBe(DecryptionStatus.Success);
  });

  it('finds every entry through shared buckets, across growth, eviction and removal', () => {
    const cache = new TokenCache({ maxEntries: 3000 });
    const tokens = Array.from({ length: 3500 }, () => world.token());
    const uids = tokens.map((t) => decryptThrough(cache, t).uid);
    // The last 3000 are held (nothing was hit, so SIEVE evicted in insertion order).
    for (let i = 0; i < tokens.length; i++) {
      const hit = cache.lookup(tokens[i]!, null, NOW_MS, world.keySet, 'bidstream');
      expect(hit?.uid).toBe(i < 500 ? undefined : uids[i]);
    }
    // Expire half of them through lookups at a late time; the rest stay findable.
    const late = NOW_MS + 2 * HOUR_MS;
    for (let i = 500; i < tokens.length; i += 2) cache.lookup(tokens[i]!, null, late, world.keySet, 'bidstream');
    expect(cache.size).toBe(1500);
    for (let i = 501; i < tokens.length; i += 2) expect(cache.lookup(tokens[i]!, null, NOW_MS, world.keySet, 'bidstream')?.uid).toBe(uids[i]);
  });
});

describe('bounds', () => {
  it('maxEntries holds and SIEVE keeps the entry that was hit', () => {
    const cache = new TokenCache({ maxEntries: 8 });
    const tokens = Array.from({ length: 8 }, () => world.token());
    for (const t of tokens) decryptThrough(cache, t);
    expect(cache.size).toBe(8);
    decryptThrough(cache, tokens[0]!); // visited
    decryptThrough(cache, world.token()); // evicts the oldest unvisited: tokens[1]
    expect(cache.size).toBe(8);
    expect(cache.stats().evictions).toBe(1);
    expect(cache.lookup(tokens[0]!, null, NOW_MS, world.keySet, 'bidstream')?.status).toBe(DecryptionStatus.Success);
    expect(cache.lookup(tokens[1]!, null, NOW_MS, world.keySet, 'bidstream')).toBeUndefined();
    for (let i = 0; i < 100; i++) {
      decryptThrough(cache, world.token());
      expect(cache.size).toBeLessThanOrEqual(8);
    }
    expect(cache.stats().evictions).toBe(101);
  });

  it('maxBytes holds under 2,048-character tokens, and bytes is the sum of what entries cost', () => {
    const maxBytes = 64 * 1024;
    const cache = new TokenCache({ maxBytes });
    const long = Array.from({ length: 80 }, () => tokenOfLength(MAX_TOKEN_LENGTH));
    expect(long.every((t) => t.length <= MAX_TOKEN_LENGTH && t.length > MAX_TOKEN_LENGTH - 8)).toBe(true);
    for (const t of long) {
      expect(decryptThrough(cache, t).status).toBe(DecryptionStatus.Success);
      expect(cache.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    const perEntry = cache.stats().bytes / cache.size;
    // Each entry holds a ~2 KiB token and a ~1.4 KiB raw UID text: about 18 fit in 64 KiB.
    expect(perEntry).toBeGreaterThan(3000);
    expect(cache.size).toBe(Math.floor(maxBytes / perEntry));
    expect(cache.stats().evictions).toBe(long.length - cache.size);
    // Hostile text that never decrypts is never held.
    const hostile = new TokenCache({ maxBytes: 4096 });
    for (let i = 0; i < 200; i++) decryptThrough(hostile, 'A'.repeat(MAX_TOKEN_LENGTH - i));
    expect(hostile.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('store() refuses what it must not keep', () => {
    const cache = new TokenCache({ maxBytes: 600 });
    const token = world.token();
    const f = found(token);
    expect(cache.store(token, f, world.keySet, f.expiresMs + 1)).toBe(false); // already expired
    expect(cache.store(token, { ...f, masterKeyId: 999 }, world.keySet)).toBe(false); // key not in the set
    expect(cache.store(token, { ...f, siteKeyId: 999 }, world.keySet)).toBe(false);
    expect(cache.store('x'.repeat(MAX_TOKEN_LENGTH + 1), f, world.keySet)).toBe(false);
    expect(cache.store(token, { ...f, version: 5 as 4 }, world.keySet)).toBe(false);
    expect(cache.store(token.slice(0, 10) + '\u0100' + token.slice(11), f, world.keySet)).toBe(false); // not base64 text
    const long = tokenOfLength(900);
    expect(cache.store(long, found(long), world.keySet)).toBe(false); // one entry over maxBytes
    expect(cache.size).toBe(0);
    expect(cache.store(token, f, world.keySet, NOW_MS)).toBe(true);
    expect(cache.store(token, f, world.keySet, NOW_MS)).toBe(true); // replaces, no duplicate
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: TOKEN_CACHE_ENTRY_OVERHEAD + 240 + 64 });
    expect(f.masterKeyId).toBe(MASTER_KEY_ID);
    expect(f.siteKeyId).toBe(SITE_KEY_ID);
  });

  it('charges a v2 identity beyond Latin-1 two bytes per character', () => {
    const cache = new TokenCache();
    const token = world.token({ version: 2, rawUid: '用户-ö@example.test' });
    const result = decryptThrough(cache, token);
    expect(result.uid).toBe('用户-ö@example.test');
    const text = (16 + 2 * result.uid!.length + 7) & ~7;
    expect(cache.stats().bytes).toBe(TOKEN_CACHE_ENTRY_OVERHEAD + ((16 + token.length + 7) & ~7) + text);
    expect(decryptThrough(cache, token)).toStrictEqual(result);
    const latin = world.token({ version: 2, rawUid: 'ö@example.test' });
    const before = cache.stats().bytes;
    decryptThrough(cache, latin);
    expect(cache.stats().bytes - before).toBe(TOKEN_CACHE_ENTRY_OVERHEAD + ((16 + latin.length + 7) & ~7) + ((16 + 14 + 7) & ~7));
  });

  it('store() with the key set that decrypted, while another is in force, vouches for the right secrets', () => {
    const cache = new TokenCache();
    const other = makeWorld();
    const token = world.token();
    cache.lookup('warm-up', null, NOW_MS, other.keySet, 'bidstream'); // other is in force
    decryptThrough(cache, other.token(), other); // and has entries
    expect(cache.store(token, found(token), world.keySet)).toBe(true);
    expect(cache.lookup(token, null, NOW_MS, other.keySet, 'bidstream')).toBeUndefined(); // ids reused, secrets differ
    cache.store(token, found(token), world.keySet);
    expect(cache.lookup(token, null, NOW_MS, world.keySet, 'bidstream')?.status).toBe(DecryptionStatus.Success);
  });

  it('clear() empties the cache and keeps the counters', () => {
    const cache = new TokenCache();
    const token = world.token();
    decryptThrough(cache, token);
    decryptThrough(cache, token);
    cache.clear();
    expect(cache.stats()).toEqual({ entries: 0, bytes: 0, hits: 1, misses: 1, evictions: 0 });
    expect(decryptThrough(cache, token).status).toBe(DecryptionStatus.Success);
    expect(cache.size).toBe(1);
  });
});

describe('clients and metrics', () => {
  it('the clients cache only with the option on, and expose the counters', async () => {
    const token = world.token();
    const off = new BidstreamClient();
    off.refreshJson(world.response);
    off.decryptTokenIntoRawUid(token, null, NOW_MS);
    expect(off.tokenCacheStats()).toBeUndefined();

    const on = new SharingClient(undefined, undefined, undefined, { tokenCache: true });
    on.refreshJson(world.response);
    on.decryptTokenIntoRawUid(token, NOW_MS);
    on.decryptTokenIntoRawUid(token, NOW_MS);
    expect(on.tokenCacheStats()).toMatchObject({ entries: 1, hits: 1, misses: 1 });

    const registry = new Registry();
    await registerTokenCacheMetrics(() => on.tokenCacheStats(), registry);
    on.decryptTokenIntoRawUid(token, NOW_MS);
    const json = await registry.getMetricsAsJSON();
    const value = (name: string) => json.find((m) => m.name === name)?.values[0]?.value;
    expect(value('uid2_engine_token_cache_entries')).toBe(1);
    expect(value('uid2_engine_token_cache_bytes')).toBe(on.tokenCacheStats()!.bytes);
    expect(value('uid2_engine_token_cache_hits_total')).toBe(2);
    expect(value('uid2_engine_token_cache_misses_total')).toBe(1);
    expect(value('uid2_engine_token_cache_evictions_total')).toBe(0);
    await expect(registerTokenCacheMetrics(() => on.tokenCacheStats(), registry)).rejects.toThrow('already registered');
    await expect(registerTokenCacheMetrics(() => undefined, registry, { prefix: '9bad' })).rejects.toThrow('options.prefix must be');
    await expect(registerTokenCacheMetrics(() => undefined, {} as Registry, { prefix: 'x_' })).rejects.toThrow('register must be a prom-client Registry');
    const empty = new Registry();
    await registerTokenCacheMetrics(() => undefined, empty, { prefix: 'none_' });
    expect((await empty.getMetricsAsJSON()).find((m) => m.name === 'none_token_cache_hits_total')?.values[0]?.value).toBe(0);
  });
});
