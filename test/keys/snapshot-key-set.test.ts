/**
 * A KeySet built over a snapshot (what a refresh on the refresh worker yields) behaves exactly like
 * the parsed KeySet it was encoded from: every public method, every policy field, decryption and
 * encryption. And a KeySet has one snapshot, encoded once.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decryptToken, encryptRawUid, type KeySet, parseKeys } from '../../src/index.js';
import { keySetFromSnapshot, snapshotOf } from '../../src/keys/key-set.js';
import { encodeSnapshot } from '../../src/keys/snapshot.js';
import {
  DAY_S,
  MASTER_KEYSET_ID,
  NOW_MS,
  NOW_S,
  SITE_ID,
  SITE_KEYSET_ID,
  keysResponse,
  legacyKeysResponse,
  makeKey,
  makeSharingWorld,
  makeWorld,
  randomRawUid,
} from '../helpers/fixtures.js';

/** Every observable answer of a key set, for the times and ids given. */
function observe(keySet: KeySet, times: number[], probeIds: number[]): unknown {
  const keyView = (k: ReturnType<KeySet['getKey']>): unknown =>
    k && { id: k.id, keysetId: k.keysetId, siteId: k.siteId, created: k.created, activates: k.activates, expires: k.expires, secret: k.secret.toString('hex') };
  const ids = [...keySet.keys().map((k) => k.id), ...probeIds];
  const sites = [...keySet.siteIds(), 424242, 2 ** 40];
  return {
    policy: {
      identityScope: keySet.identityScope,
      allowClockSkewSeconds: keySet.allowClockSkewSeconds,
      maxBidstreamLifetimeSeconds: keySet.maxBidstreamLifetimeSeconds,
      maxSharingLifetimeSeconds: keySet.maxSharingLifetimeSeconds,
      callerSiteId: keySet.callerSiteId,
      masterKeysetId: keySet.masterKeysetId,
      defaultKeysetId: keySet.defaultKeysetId,
      tokenExpirySeconds: keySet.tokenExpirySeconds,
      latestKeyExpiryMs: keySet.latestKeyExpiryMs,
    },
    size: keySet.size,
    keys: keySet.keys().map(keyView),
    byId: ids.map((id) => keyView(keySet.getKey(id))),
    keysetIds: keySet.keysetIds(),
    active: [...keySet.keysetIds(), 999_999].flatMap((ks) => times.map((t) => keySet.getActiveKey(ks, t)?.id)),
    master: times.map((t) => keySet.getMasterKey(t)?.id),
    default: times.map((t) => keySet.getDefaultKey(t)?.id),
    siteIds: keySet.siteIds(),
    names: sites.map((s) => keySet.getDomainNames(s)),
    allowed: sites.flatMap((s) => ['publisher.test', 'PUBLISHER.test', 'com.publisher.app', 'other.test', '', null, undefined].map((n) => keySet.isDomainOrAppNameAllowed(s, n))),
    valid: times.map((t) => keySet.isValid(t)),
    json: keySet.toJSON(),
    inspected: inspect(keySet),
  };
}

const TIMES = [0, (NOW_S - 3 * DAY_S) * 1000, (NOW_S - DAY_S) * 1000, NOW_MS, (NOW_S + DAY_S) * 1000 + 1, (NOW_S + 400 * DAY_S) * 1000];
const PROBE_IDS = [0, -1, 424242, 2 ** 31 - 1, -(2 ** 31), 5, 2 ** 32 + 5, 2 ** 40];

const CASES: [string, () => KeySet][] = [
  ['a bidstream world', () => makeWorld({ allowClockSkewSeconds: 0, maxBidstreamLifetimeSeconds: 3600 }).keySet],
  ['a sharing world (EUID)', () => makeSharingWorld({ identityScope: 'EUID', maxSharingLifetimeSeconds: 7200 }).keySet],
  [
    'keysets with rotations, equal activations, expired and future keys',
    () =>
      parseKeys(
        keysResponse({
          keys: [
            makeKey(1, { keysetId: MASTER_KEYSET_ID, activates: NOW_S - 2 * DAY_S, expires: NOW_S - DAY_S }),
            makeKey(2, { keysetId: MASTER_KEYSET_ID, activates: NOW_S - DAY_S }),
            makeKey(3, { keysetId: SITE_KEYSET_ID, activates: NOW_S - DAY_S }),
            makeKey(4, { keysetId: SITE_KEYSET_ID, activates: NOW_S - DAY_S }), // same activation: service order wins
            makeKey(7, { keysetId: MASTER_KEYSET_ID, activates: NOW_S + DAY_S }),
            makeKey(8, { keysetId: 3, activates: NOW_S - DAY_S, expires: NOW_S + 3 * DAY_S }),
          ],
          siteData: [
            { id: SITE_ID, domain_names: ['Publisher.TEST'] },
            { id: 55, domain_names: [] },
            { id: SITE_ID, domain_names: ['com.publisher.app'] }, // merged with the first entry
          ],
          callerSiteId: 55,
          masterKeysetId: MASTER_KEYSET_ID,
          defaultKeysetId: SITE_KEYSET_ID,
          tokenExpirySeconds: 1234,
        }),
      ),
  ],
  ['the legacy key list (site ids, no keysets)', () => parseKeys(legacyKeysResponse([makeKey(21, { siteId: -1 }), makeKey(22, { siteId: 55 })]))],
  [
    'ids outside int32, one equal to another modulo 2^32',
    () =>
      parseKeys(
        keysResponse({
          keys: [makeKey(5, { keysetId: 2 ** 40 }), makeKey(2 ** 32 + 5, { keysetId: 2 }), makeKey(-(2 ** 40), { keysetId: 2 })],
          siteData: [{ id: 2 ** 40, domain_names: ['publisher.test'] }],
        }),
      ),
  ],
  ['an empty key set', () => parseKeys({ keys: [] })],
];

describe('a KeySet over a snapshot', () => {
  it.each(CASES)('%s: answers every question like the parsed KeySet', (_name, make) => {
    const parsed = make();
    const viaSnapshot = keySetFromSnapshot(encodeSnapshot(parsed));
    expect(observe(viaSnapshot, TIMES, PROBE_IDS)).toEqual(observe(parsed, TIMES, PROBE_IDS));
  });

  it('decrypts every token like the parsed KeySet, and a token it encrypts decrypts with the parsed one', () => {
    const world = makeSharingWorld();
    const viaSnapshot = keySetFromSnapshot(encodeSnapshot(world.keySet));
    const tokens = [
      world.token(),
      world.token({ version: 3 }),
      world.token({ version: 2 }),
      world.token({ identityType: 'Phone', rawUid: randomRawUid('Phone') }),
      world.token({ expiresMs: NOW_MS - 1 }),
      world.token({ siteKey: { ...world.site, id: 999 } }),
      'not a token',
    ];
    for (const clientType of ['bidstream', 'sharing', 'legacy'] as const) {
      for (const token of tokens) {
        expect(decryptToken(token, viaSnapshot, clientType, 'publisher.test', NOW_MS)).toEqual(
          decryptToken(token, world.keySet, clientType, 'publisher.test', NOW_MS),
        );
      }
    }
    const rawUid = randomRawUid();
    const encrypted = encryptRawUid(rawUid, viaSnapshot, NOW_MS);
    expect(encrypted.status).toBe('Success');
    expect(decryptToken(encrypted.encryptedData, world.keySet, 'sharing', undefined, NOW_MS)).toMatchObject({ status: 'Success', uid: rawUid });
  });

  it('builds a Key object only for a key asked for, and the same one every time', () => {
    const parsed = makeWorld().keySet;
    const viaSnapshot = keySetFromSnapshot(encodeSnapshot(parsed));
    const id = parsed.keys()[1]!.id;
    expect(viaSnapshot.getKey(id)).toBe(viaSnapshot.getKey(id));
    expect(viaSnapshot.keys()[1]).toBe(viaSnapshot.getKey(id));
    expect(Object.keys(viaSnapshot.getKey(id)!)).not.toContain('secret');
    expect(inspect(viaSnapshot.getKey(id), { showHidden: true, getters: true })).toMatch(/\[secret redacted\]$/);
  });
});

describe('snapshotOf', () => {
  it('encodes a parsed KeySet once, on first demand', () => {
    const keySet = makeWorld().keySet;
    const first = snapshotOf(keySet);
    expect(snapshotOf(keySet)).toBe(first);
    expect(encodeSnapshot(keySet)).not.toBe(first); // encodeSnapshot always makes a fresh buffer
  });

  it('returns the very buffer a snapshot-built KeySet came from', () => {
    const sab = encodeSnapshot(makeWorld().keySet);
    expect(snapshotOf(keySetFromSnapshot(sab))).toBe(sab);
  });

  it('refuses a buffer that is not a complete snapshot', () => {
    expect(() => keySetFromSnapshot(new SharedArrayBuffer(256))).toThrow('not a complete key snapshot');
    const sab = encodeSnapshot(makeWorld().keySet);
    const truncated = new SharedArrayBuffer(sab.byteLength - 1);
    new Uint8Array(truncated).set(new Uint8Array(sab).subarray(0, truncated.byteLength));
    expect(() => keySetFromSnapshot(truncated)).toThrow('not a complete key snapshot');
  });
});
