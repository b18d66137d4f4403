/** The shared-memory key snapshot agrees with the KeySet it was encoded from. */
import { describe, expect, it } from 'vitest';
import { parseKeys } from '../../src/index.js';
import { SnapshotKeys, encodeSnapshot } from '../../src/keys/snapshot.js';
import { prng, secretFor } from '../engine/mixed-corpus.js';

function bigKeyJson(count: number, seed: number): object {
  const rnd = prng(seed);
  const ids = new Set<number>();
  while (ids.size < count) ids.add(Math.floor(rnd() * 2 ** 31) * (rnd() < 0.1 ? -1 : 1));
  return {
    body: {
      identity_scope: 'EUID',
      allow_clock_skew_seconds: 600,
      max_bidstream_lifetime_seconds: 1234,
      keys: [...ids].map((id, i) => ({
        id,
        keyset_id: (i % 50) + 1,
        created: 1_700_000_000,
        activates: 1_700_000_000 + i,
        expires: 1_800_000_000 + i,
        secret: secretFor(`k${id}`).toString('base64'),
      })),
      site_data: Array.from({ length: 500 }, (_, i) => ({ id: i + 1, domain_names: [`Site${i}.Example`, `com.app${i}`] })),
    },
  };
}

describe('key snapshot', () => {
  it('finds every key of a 10,000-key set by id, with its exact secret, and no other id', () => {
    const keySet = parseKeys(bigKeyJson(10_000, 3));
    const snap = new SnapshotKeys(encodeSnapshot(keySet));
    expect(snap.size).toBe(10_000);
    for (const key of keySet.keys()) {
      expect(Buffer.compare(Buffer.from(snap.getKey(key.id)!.secret), key.secret)).toBe(0);
    }
    const rnd = prng(99);
    for (let i = 0; i < 10_000; i++) {
      const id = Math.floor(rnd() * 2 ** 32) - 2 ** 31;
      expect(snap.getKey(id) === undefined).toBe(keySet.getKey(id) === undefined);
    }
  });

  it('carries the policy fields and validity', () => {
    const keySet = parseKeys(bigKeyJson(10, 4));
    const snap = new SnapshotKeys(encodeSnapshot(keySet));
    expect(snap.identityScope).toBe('EUID');
    expect(snap.allowClockSkewSeconds).toBe(600);
    expect(snap.maxBidstreamLifetimeSeconds).toBe(1234);
    expect(snap.maxSharingLifetimeSeconds).toBe(Infinity);
    expect(snap.latestKeyExpiryMs).toBe(keySet.latestKeyExpiryMs);
    expect(snap.isValid(keySet.latestKeyExpiryMs - 1)).toBe(true);
    expect(snap.isValid(keySet.latestKeyExpiryMs)).toBe(false);
  });

  it('answers domain checks like the KeySet, ignoring case', () => {
    const keySet = parseKeys(bigKeyJson(10, 5));
    const snap = new SnapshotKeys(encodeSnapshot(keySet));
    for (const [site, name] of [
      [1, 'site0.example'],
      [1, 'SITE0.EXAMPLE'],
      [2, 'com.app1'],
      [2, 'site0.example'],
      [999, 'site0.example'],
      [3, ''],
    ] as const) {
      expect(snap.isDomainOrAppNameAllowed(site, name)).toBe(keySet.isDomainOrAppNameAllowed(site, name));
    }
    expect(snap.isDomainOrAppNameAllowed(1, undefined)).toBe(false);
    expect(snap.isDomainOrAppNameAllowed(1, null)).toBe(false);
  });

  it('an empty key set is valid to encode and is never valid to decrypt with', () => {
    const snap = new SnapshotKeys(encodeSnapshot(parseKeys({ keys: [] })));
    expect(snap.size).toBe(0);
    expect(snap.getKey(1)).toBeUndefined();
    expect(snap.isValid(0)).toBe(false);
  });

  it('refuses a buffer that is not a complete snapshot', () => {
    expect(() => new SnapshotKeys(new SharedArrayBuffer(256))).toThrow('not a complete key snapshot');
  });
});
