/**
 * One token cache serving two key sets in force at once, UID2's and EUID's, as
 * DualScopeBidstreamClient uses it: interleaved tokens of both scopes are all answered as a fresh
 * decryption would (the two key sets share key ids with other secrets), the cache never re-derives
 * its key states when the scopes alternate (counted through the key sets' getKey calls, not by
 * timing), and a new key set of one scope leaves the other scope's entries as they were.
 */
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import { InProcessDecryptor } from '../../src/in-process/decryptor.js';
import type { DecryptionKeys } from '../../src/keys/decryption-keys.js';
import { decryptToken } from '../../src/token/decrypt.js';
import { NOW_MS, makeWorld, type World } from '../helpers/fixtures.js';

/** `world`'s key set, counting the key look-ups made through it. */
function counted(world: World): DecryptionKeys & { lookups: number } {
  const keys = world.keySet;
  const view = {
    lookups: 0,
    identityScope: keys.identityScope,
    allowClockSkewSeconds: keys.allowClockSkewSeconds,
    maxBidstreamLifetimeSeconds: keys.maxBidstreamLifetimeSeconds,
    maxSharingLifetimeSeconds: keys.maxSharingLifetimeSeconds,
    isValid: (nowMs: number) => keys.isValid(nowMs),
    getKey: (id: number) => {
      view.lookups++;
      return keys.getKey(id);
    },
    isDomainOrAppNameAllowed: (siteId: number, name: string | null | undefined) => keys.isDomainOrAppNameAllowed(siteId, name),
  };
  return view;
}

describe('one cache, a key set per identity scope', () => {
  it('answers interleaved UID2 and EUID tokens from one cache without re-deriving key states, and keeps each scope\'s entries through the other\'s key swap', () => {
    const worlds = { UID2: makeWorld(), EUID: makeWorld({ identityScope: 'EUID' }) };
    const keys = { UID2: counted(worlds.UID2), EUID: counted(worlds.EUID) };
    const cache = new TokenCache();
    const decryptor = new InProcessDecryptor('node-crypto', { tokenCache: cache });
    const cases = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 'UID2' : 'EUID') as 'UID2' | 'EUID').map((scope) => ({ scope, token: worlds[scope].token() }));
    const run = (scope: 'UID2' | 'EUID', token: string, k: DecryptionKeys) => {
      const got = decryptor.decrypt(token, k, 'bidstream', null, NOW_MS);
      expect(got).toEqual(decryptToken(token, k, 'bidstream', null, NOW_MS));
      return `${scope} ${got.status}`;
    };

    expect(cases.map((c) => run(c.scope, c.token, keys[c.scope]))).toEqual(cases.map((c) => `${c.scope} Success`));
    // The first hits derive each scope's key states once (4 slots, one look-up each)...
    for (const c of cases) run(c.scope, c.token, keys[c.scope]);
    const before = { UID2: keys.UID2.lookups, EUID: keys.EUID.lookups };
    for (let pass = 0; pass < 3; pass++) for (const c of cases) run(c.scope, c.token, keys[c.scope]);
    expect(cache.stats()).toMatchObject({ entries: 8, hits: 32, misses: 8 });
    // ...and then never again: only decryptToken() above looks keys up (two per token per pass).
    expect({ UID2: keys.UID2.lookups - before.UID2, EUID: keys.EUID.lookups - before.EUID }).toEqual({ UID2: 3 * 4 * 2, EUID: 3 * 4 * 2 });

    // EUID's keys replaced by the same ids with other secrets: its entries must not answer, UID2's still do.
    const swapped = makeWorld({ identityScope: 'EUID' }).keySet;
    const statuses = cases.map((c) => run(c.scope, c.token, c.scope === 'EUID' ? swapped : keys.UID2));
    expect(statuses).toEqual(cases.map((c) => (c.scope === 'EUID' ? 'EUID InvalidPayload' : 'UID2 Success')));
    expect(cache.stats()).toMatchObject({ entries: 4, hits: 36, misses: 12 });
  });
});
