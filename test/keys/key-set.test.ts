/**
 * KeySet: lookups by id, active-key selection per keyset, domain checks, validity, immutability
 * and secrecy (no key secret in any serialisation).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseKeys, type KeySet } from '../../src/index.js';
import {
  NOW_MS,
  NOW_S,
  keysResponse,
  legacyKeysResponse,
  makeKey,
  makeSharingWorld,
  type TestKey,
} from '../helpers/fixtures.js';

const T = 1_900_000_000; // key times in this file are offsets from T seconds

describe('getKey', () => {
  it('finds every key by id, active or not, and nothing else', () => {
    const keys: TestKey[] = [];
    for (let i = 0; i < 2000; i++) {
      keys.push(makeKey(i * 7 - 3000, { keysetId: i % 13, activates: T + i, expires: T + (i % 2 === 0 ? -1 : 10_000) }));
    }
    const set = parseKeys(keysResponse({ keys }));
    expect(set.size).toBe(2000);
    for (const key of keys) {
      const found = set.getKey(key.id)!;
      expect(found.id).toBe(key.id);
      expect(found.secret.equals(key.secret)).toBe(true);
      expect(found.activates).toBe(key.activates);
    }
    expect(set.getKey(-3001)).toBeUndefined();
    expect(set.getKey(2000 * 7)).toBeUndefined();
    expect(set.getKey(0.5)).toBeUndefined();
  });

  it('keys() keeps the order the service sent', () => {
    const keys = [makeKey(3), makeKey(1), makeKey(2)];
    expect(parseKeys(keysResponse({ keys })).keys().map((k) => k.id)).toEqual([3, 1, 2]);
  });
});

describe('getActiveKey: activates <= now < expires, latest activation wins', () => {
  // Keyset 5, sent out of order:
  //   A: [T+100, T+1000)   B: [T+200, T+300)   C: [T+400, T+2000)   D: [T+500, T+600)
  const A = makeKey(1, { keysetId: 5, activates: T + 100, expires: T + 1000 });
  const B = makeKey(2, { keysetId: 5, activates: T + 200, expires: T + 300 });
  const C = makeKey(3, { keysetId: 5, activates: T + 400, expires: T + 2000 });
  const D = makeKey(4, { keysetId: 5, activates: T + 500, expires: T + 600 });
  const other = makeKey(9, { keysetId: 6, activates: T, expires: T + 5000 });
  const noKeyset = makeKey(10, { activates: T, expires: T + 5000 });
  const set = parseKeys(keysResponse({ keys: [D, other, B, noKeyset, C, A] }));
  const ms = (s: number): number => s * 1000;

  it.each([
    ['before any activation', ms(T + 99) + 999, undefined],
    ['A activates (boundary inclusive)', ms(T + 100), 1],
    ['just before B activates', ms(T + 200) - 1, 1],
    ['B activates and wins over A', ms(T + 200), 2],
    ['just before B expires', ms(T + 300) - 1, 2],
    ['B expired (boundary exclusive): back to A', ms(T + 300), 1],
    ['C activates', ms(T + 400), 3],
    ['D activates and wins', ms(T + 500), 4],
    ['D expired: back to C', ms(T + 600), 3],
    ['A expired, C still active', ms(T + 1000), 3],
    ['just before C expires', ms(T + 2000) - 1, 3],
    ['everything expired', ms(T + 2000), undefined],
    ['long after', ms(T + 100_000), undefined],
  ])('%s', (_name, nowMs, expectedId) => {
    expect(set.getActiveKey(5, nowMs)?.id).toBe(expectedId);
  });

  it('agrees with a linear scan at every second', () => {
    const all = [A, B, C, D];
    for (let s = T + 50; s <= T + 2050; s += 1) {
      for (const nowMs of [ms(s) - 1, ms(s), ms(s) + 1]) {
        const active = all.filter((k) => ms(k.activates) <= nowMs && nowMs < ms(k.expires));
        const best = active.sort((x, y) => y.activates - x.activates)[0];
        expect(set.getActiveKey(5, nowMs)?.id).toBe(best?.id);
      }
    }
  });

  it('keysets do not interfere; keys without keyset and unknown keysets give nothing', () => {
    expect(set.getActiveKey(6, ms(T + 200))?.id).toBe(9);
    expect(set.getActiveKey(7, ms(T + 200))).toBeUndefined();
    expect(set.keysetIds().sort()).toEqual([5, 6]);
    // Key 10 has no keyset: reachable by id only.
    expect(set.getKey(10)?.keysetId).toBeUndefined();
  });

  it('a keyset with a single key that is not yet active', () => {
    const single = parseKeys(keysResponse({ keys: [makeKey(1, { keysetId: 1, activates: T + 10, expires: T + 20 })] }));
    expect(single.getActiveKey(1, ms(T + 9))).toBeUndefined();
    expect(single.getActiveKey(1, ms(T + 10))?.id).toBe(1);
  });
});

describe('getMasterKey / getDefaultKey', () => {
  it('are the active keys of master_keyset_id and default_keyset_id', () => {
    const world = makeSharingWorld();
    expect(world.keySet.getMasterKey(NOW_MS)?.id).toBe(world.master.id);
    expect(world.keySet.getDefaultKey(NOW_MS)?.id).toBe(world.site.id);
    expect(world.keySet.getMasterKey(world.master.expires * 1000)).toBeUndefined();
    expect(world.keySet.getDefaultKey(world.site.activates * 1000 - 1)).toBeUndefined();
  });

  it('are undefined without the sharing fields', () => {
    const set = parseKeys(keysResponse({ keys: [makeKey(1, { keysetId: 1 }), makeKey(2, { keysetId: 2 })] }));
    expect(set.getMasterKey(NOW_MS)).toBeUndefined();
    expect(set.getDefaultKey(NOW_MS)).toBeUndefined();
  });

  it('follow the latest active key in their keysets', () => {
    const m1 = makeKey(1, { keysetId: 1, activates: NOW_S - 100 });
    const m2 = makeKey(2, { keysetId: 1, activates: NOW_S - 10 });
    const d1 = makeKey(3, { keysetId: 2, activates: NOW_S - 100 });
    const d2 = makeKey(4, { keysetId: 2, activates: NOW_S + 10 });
    const set = parseKeys(keysResponse({ keys: [m2, m1, d2, d1], masterKeysetId: 1, defaultKeysetId: 2 }));
    expect(set.getMasterKey(NOW_MS)?.id).toBe(2);
    expect(set.getDefaultKey(NOW_MS)?.id).toBe(3);
    expect(set.getDefaultKey((NOW_S + 10) * 1000)?.id).toBe(4);
  });
});

describe('isDomainOrAppNameAllowed', () => {
  const set = parseKeys(
    keysResponse({
      keys: [makeKey(1)],
      siteData: [
        { id: 10, domain_names: ['Example.COM', 'com.Example.App', '1234567'] },
        { id: 11, domain_names: [] },
      ],
    }),
  );

  it.each([
    [10, 'example.com', true],
    [10, 'EXAMPLE.COM', true],
    [10, 'Example.COM', true],
    [10, 'com.example.app', true],
    [10, '1234567', true],
    [10, 'www.example.com', false],
    [10, 'example.co', false],
    [10, 'example.com ', false],
    [10, '', false],
    [10, null, false],
    [10, undefined, false],
    [11, 'example.com', false],
    [12, 'example.com', false],
  ])('site %i, %j -> %s', (siteId, name, allowed) => {
    expect(set.isDomainOrAppNameAllowed(siteId, name)).toBe(allowed);
  });

  it('getDomainNames returns the names as sent', () => {
    expect(set.getDomainNames(10)).toEqual(['Example.COM', 'com.Example.App', '1234567']);
    expect(set.getDomainNames(11)).toEqual([]);
  });
});

describe('isValid', () => {
  it('is true until the latest key expiry, exclusive', () => {
    const set = parseKeys(
      keysResponse({
        keys: [makeKey(1, { activates: T, expires: T + 10 }), makeKey(2, { activates: T + 5, expires: T + 50 }), makeKey(3, { expires: T + 20 })],
      }),
    );
    expect(set.latestKeyExpiryMs).toBe((T + 50) * 1000);
    expect(set.isValid((T + 50) * 1000 - 1)).toBe(true);
    expect(set.isValid((T + 50) * 1000)).toBe(false);
    expect(set.isValid((T + 51) * 1000)).toBe(false);
    // Validity does not depend on activation.
    expect(set.isValid(0)).toBe(true);
  });

  it('an empty key set is never valid', () => {
    const set = parseKeys({ keys: [] });
    expect(set.latestKeyExpiryMs).toBe(-Infinity);
    expect(set.isValid(0)).toBe(false);
    expect(set.isValid(-1e15)).toBe(false);
  });
});

describe('immutability', () => {
  const world = makeSharingWorld();
  const set: KeySet = world.keySet;

  it('the key set, its key list, each key and each domain list are frozen', () => {
    expect(Object.isFrozen(set)).toBe(true);
    expect(Object.isFrozen(set.keys())).toBe(true);
    for (const key of set.keys()) expect(Object.isFrozen(key)).toBe(true);
    expect(Object.isFrozen(set.getDomainNames(set.siteIds()[0]!))).toBe(true);
  });

  it('writes throw (ESM modules are strict) and change nothing', () => {
    const mutable = set as unknown as Record<string, unknown>;
    expect(() => {
      mutable['identityScope'] = 'EUID';
    }).toThrow(TypeError);
    expect(() => {
      mutable['newField'] = 1;
    }).toThrow(TypeError);
    expect(() => {
      (set.keys() as TestKey[]).push(world.master);
    }).toThrow(TypeError);
    expect(() => {
      (set.getKey(world.master.id) as unknown as Record<string, unknown>)['expires'] = 0;
    }).toThrow(TypeError);
    expect(() => {
      (set.getKey(world.master.id) as unknown as Record<string, unknown>)['secret'] = Buffer.alloc(32);
    }).toThrow(TypeError);
    expect(set.identityScope).toBe('UID2');
    expect(set.size).toBe(2);
    expect(set.getKey(world.master.id)!.expires).toBe(world.master.expires);
    expect(set.getKey(world.master.id)!.secret.equals(world.master.secret)).toBe(true);
  });

  it('keysetIds() and siteIds() return copies', () => {
    set.keysetIds().push(999);
    set.siteIds().push(999);
    expect(set.keysetIds()).not.toContain(999);
    expect(set.siteIds()).not.toContain(999);
  });
});

describe('secrets never leak', () => {
  const world = makeSharingWorld();
  const legacyKeys = [makeKey(31, { siteId: 1 }), makeKey(32, { siteId: 2 })];
  const sets: [string, KeySet, TestKey[]][] = [
    ['sharing key set', world.keySet, [world.master, world.site]],
    ['legacy key set', parseKeys(legacyKeysResponse(legacyKeys)), legacyKeys],
  ];

  function assertNoSecret(text: string, keys: TestKey[]): void {
    for (const key of keys) {
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        expect(text).not.toContain(key.secret.toString(encoding));
      }
      // Node prints Buffers as "<Buffer 3f a2 ...>"; look for the first bytes in that form too.
      const spaced = [...key.secret.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      expect(text).not.toContain(spaced);
    }
  }

  it.each(sets)('%s: JSON.stringify, util.inspect and String()', (_name, set, keys) => {
    const outputs = [
      JSON.stringify(set),
      JSON.stringify({ nested: { set } }),
      inspect(set),
      inspect(set, { showHidden: true, depth: Infinity, getters: true }),
      inspect({ nested: [set] }, { depth: Infinity }),
      String(set),
    ];
    for (const text of outputs) assertNoSecret(text, keys);
    expect(JSON.parse(JSON.stringify(set))).toMatchObject({ keys: keys.length });
    expect(inspect(set)).toMatch(/^KeySet /);
  });

  it.each(sets)('%s: each key and the key list', (_name, set, keys) => {
    for (const key of set.keys()) {
      assertNoSecret(JSON.stringify(key), keys);
      assertNoSecret(inspect(key), keys);
      assertNoSecret(`${JSON.stringify({ ...key })}`, keys);
      expect(Object.keys(key)).not.toContain('secret');
      // Still usable by the codec.
      expect(key.secret.length).toBe(32);
    }
    assertNoSecret(JSON.stringify(set.keys()), keys);
    assertNoSecret(inspect(set.keys()), keys);
  });
});
