/**
 * Key JSON the official SDKs accept (docs/api.md "Key JSON fidelity"): where the Java SDK (Gson)
 * and the Python SDK read a key response, this parser reads it the same way instead of refusing
 * the whole key set, which would stop every refresh until the service changed its answer.
 */
import { describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus, KeySet, KeysJsonError, decryptToken, parseKeys } from '../../src/index.js';
import { keySetFromSnapshot, snapshotOf } from '../../src/keys/key-set.js';
import { NOW_MS, keyJson, legacyKeysResponse, makeKey, makeWorld } from '../helpers/fixtures.js';

describe('two keys with one id: the last one stands (Java and Python keep the last in their id maps)', () => {
  const first = makeKey(11, { keysetId: 1 });
  const last = makeKey(11, { keysetId: 2 });
  const other = makeKey(12, { keysetId: 1 });

  it('getKey, keys() and the keyset lists hold only the last, in the key list and the snapshot form', () => {
    const parsed = parseKeys({ keys: [first, other, last].map(keyJson) });
    for (const keys of [parsed, keySetFromSnapshot(snapshotOf(parsed))]) {
      expect(keys.size).toBe(2);
      expect(keys.keys().map((k) => [k.id, k.keysetId])).toEqual([
        [12, 1],
        [11, 2],
      ]);
      expect(keys.getKey(11)!.secret).toEqual(last.secret);
      expect(keys.getActiveKey(2, NOW_MS)!.id).toBe(11);
      // The earlier key of id 11 is gone from keyset 1 too: only key 12 is left there.
      expect(keys.getActiveKey(1, NOW_MS)!.id).toBe(12);
    }
  });

  it('the legacy key list too', () => {
    const keys = parseKeys(legacyKeysResponse([makeKey(21, { siteId: 5 }), makeKey(21, { siteId: 6 })]));
    expect(keys.keys().map((k) => [k.id, k.siteId])).toEqual([[21, 6]]);
  });

  it('a token under the last key decrypts; one under the earlier key of that id does not', () => {
    const world = makeWorld();
    const replaced = makeKey(world.site.id, { keysetId: world.site.keysetId! });
    const body = { ...world.response.body, keys: [...(world.response.body['keys'] as unknown[]), keyJson(replaced)] };
    const keys = parseKeys({ status: 'success', body });
    expect(decryptToken(world.token({ siteKey: replaced }), keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.Success);
    expect(decryptToken(world.token(), keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidPayload);
  });

  it('a client refresh with a repeated id succeeds', () => {
    const client = new BidstreamClient('https://x.test', 'k', 's');
    expect(client.refreshJson({ status: 'success', body: { keys: [first, last].map(keyJson) } })).toEqual({ success: true });
    expect(client.keySet!.getKey(11)!.keysetId).toBe(2);
  });

  it('every key is still checked: a malformed earlier key of a repeated id refuses the set', () => {
    expect(() => parseKeys({ keys: [{ ...keyJson(first), secret: 'bad' }, keyJson(last)] })).toThrow(KeysJsonError);
  });
});

describe('integers in strings, read as Gson getAsInt/getAsLong read them (Integer.parseInt, Long.parseLong)', () => {
  const key = makeKey(11, { keysetId: 1 });
  const asNumbers = {
    caller_site_id: 300,
    master_keyset_id: 1,
    default_keyset_id: 1,
    max_bidstream_lifetime_seconds: 7200,
    max_sharing_lifetime_seconds: 3600,
    allow_clock_skew_seconds: 60,
    token_expiry_seconds: 86400,
    keys: [keyJson(key)],
    site_data: [{ id: 300, domain_names: ['a.test'] }],
  };
  const stringify = (value: number): string => String(value);
  const asStrings = {
    ...Object.fromEntries(Object.entries(asNumbers).map(([name, value]) => [name, typeof value === 'number' ? stringify(value) : value])),
    keys: [Object.fromEntries(Object.entries(keyJson(key)).map(([name, value]) => [name, typeof value === 'number' ? stringify(value) : value]))],
    site_data: [{ id: '300', domain_names: ['a.test'] }],
  };

  function summary(keys: KeySet): unknown {
    return {
      policy: [
        keys.callerSiteId,
        keys.masterKeysetId,
        keys.defaultKeysetId,
        keys.maxBidstreamLifetimeSeconds,
        keys.maxSharingLifetimeSeconds,
        keys.allowClockSkewSeconds,
        keys.tokenExpirySeconds,
      ],
      keys: keys.keys().map((k) => [k.id, k.keysetId, k.siteId, k.created, k.activates, k.expires]),
      sites: keys.siteIds(),
    };
  }

  it('every integer field of a key response may be a string of digits, read as the number it spells', () => {
    expect(summary(parseKeys(asStrings))).toEqual(summary(parseKeys(asNumbers)));
    expect(summary(parseKeys(asStrings))).toEqual({
      policy: [300, 1, 1, 7200, 3600, 60, 86400],
      keys: [[11, 1, undefined, key.created, key.activates, key.expires]],
      sites: [300],
    });
  });

  it('the legacy key list too (site_id, times)', () => {
    const legacy = keyJson(makeKey(21, { siteId: 5 }));
    const strings = Object.fromEntries(Object.entries(legacy).map(([name, value]) => [name, typeof value === 'number' ? String(value) : value]));
    expect(parseKeys([strings]).getKey(21)).toMatchObject({ id: 21, siteId: 5, activates: legacy['activates'] });
  });

  it('a sign and leading zeros, as Integer.parseInt takes them', () => {
    for (const [text, value] of [
      ['+300', 300],
      ['007', 7],
      ['-7', -7],
      ['0', 0],
    ] as const) {
      expect(parseKeys({ keys: [], caller_site_id: text }).callerSiteId).toBe(value);
    }
    // "-0" is 0, not -0.
    expect(Object.is(parseKeys({ keys: [], caller_site_id: '-0' }).callerSiteId, 0)).toBe(true);
    expect(parseKeys({ keys: [], token_expiry_seconds: '+60' }).tokenExpirySeconds).toBe(60);
  });

  it("a duration as long as Java's Long.MAX_VALUE is taken (and is then no limit)", () => {
    expect(parseKeys({ keys: [], max_bidstream_lifetime_seconds: '9223372036854775807' }).maxBidstreamLifetimeSeconds).toBe(2 ** 63);
  });

  it('the values read from strings are the ones the decryption rules apply', () => {
    const world = makeWorld();
    const body = { ...world.response.body, max_bidstream_lifetime_seconds: '100', allow_clock_skew_seconds: '0' };
    const keys = parseKeys({ status: 'success', body });
    // A one-hour token is longer-lived than 100 s.
    expect(decryptToken(world.token(), keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidTokenLifetime);
    const short = world.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + 50_000 });
    expect(decryptToken(short, keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.Success);
    // Generated a minute ahead of now, with no clock skew allowed.
    const ahead = world.token({ generatedMs: NOW_MS + 60_000, expiresMs: NOW_MS + 100_000 });
    expect(decryptToken(ahead, keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidTokenLifetime);
  });

  // The strings refused (" 300", "3e2", "300.5", "0x12c", past 2^53, ...) are in the parser's table of
  // malformed key JSON, test/helpers/bad-key-json.ts, with the message each one gets.
});

describe('identity_scope: "EUID" is EUID, any other string, number or boolean UID2 (as Java reads it)', () => {
  it.each([['euid'], ['Euid'], ['EUID '], ['uid2'], [''], [5], [1], [true]])('%j reads as UID2', (scope) => {
    expect(parseKeys({ keys: [], identity_scope: scope }).identityScope).toBe('UID2');
  });

  it('"EUID" and "UID2" read as themselves; absent and null as UID2', () => {
    expect(parseKeys({ keys: [], identity_scope: 'EUID' }).identityScope).toBe('EUID');
    expect(parseKeys({ keys: [], identity_scope: 'UID2' }).identityScope).toBe('UID2');
    expect(parseKeys({ keys: [] }).identityScope).toBe('UID2');
    expect(parseKeys({ keys: [], identity_scope: null }).identityScope).toBe('UID2');
  });

  it('under a scope read as UID2, UID2 tokens decrypt and EUID tokens fail closed with InvalidIdentityScope', () => {
    const world = makeWorld();
    const keys = parseKeys({ status: 'success', body: { ...world.response.body, identity_scope: 'euid' } });
    expect(decryptToken(world.token(), keys, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.Success);
    expect(decryptToken(world.token({ identityScope: 'EUID' }), keys, 'bidstream', null, NOW_MS).status).toBe(
      DecryptionStatus.InvalidIdentityScope,
    );
  });

  // Arrays and objects are refused: test/helpers/bad-key-json.ts.
});
