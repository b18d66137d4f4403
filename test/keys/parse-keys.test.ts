/**
 * Key JSON parsing (doc "Key JSON"): malformed responses are rejected whole with a
 * KeysJsonError naming the problem, a failed refresh keeps the previous key set, and every
 * accepted shape and default is honoured.
 */
import { describe, expect, it } from 'vitest';
import { BidstreamClient, KeySet, KeysJsonError, SharingClient, Uid2Error, parseKeys } from '../../src/index.js';
import {
  DAY_S,
  NOW_MS,
  keyJson,
  keysBody,
  keysResponse,
  legacyKeysResponse,
  makeKey,
  makeSharingWorld,
  makeWorld,
} from '../helpers/fixtures.js';

const goodKey = keyJson(makeKey(11, { keysetId: 1 }));
const goodSecret = goodKey['secret'] as string;
const withKey = (patch: Record<string, unknown>, drop: string[] = []): unknown => {
  const key: Record<string, unknown> = { ...goodKey, ...patch };
  for (const name of drop) delete key[name];
  return { status: 'success', body: { keys: [key] } };
};
const withBody = (patch: Record<string, unknown>): unknown => ({ status: 'success', body: { keys: [goodKey], ...patch } });

/** [case name, input (text or parsed), what the message must say]. */
const BAD: [string, unknown, RegExp][] = [
  ['status error', '{"status":"error"}', /status is "error"/],
  ['status error with a body', { status: 'error', body: { keys: [goodKey] } }, /status is "error"/],
  ['status not a string', { status: 1, body: { keys: [] } }, /status is 1/],
  ['body a string', '{"body":"error"}', /body must be an object or an array of keys, got string/],
  ['body null', { status: 'success', body: null }, /body must be an object or an array of keys, got null/],
  ['status success without body', { status: 'success' }, /body must be an object or an array of keys, got undefined/],
  ['body an array of numbers', '{"body":[1,2,3]}', /body\[0\] must be an object, got number/],
  ['body an array of an empty object', '{"body":[{}]}', /body\[0\]\.id is missing/],
  ['id a string', '{"body":[{"id":"test"}]}', /body\[0\]\.id must be an integer, got string/],
  ['secret missing (legacy)', '{"body":[{"id":5}]}', /body\[0\]\.secret is missing/],
  ['a JSON array of numbers', '[1,2,3]', /body\[0\] must be an object, got number/],
  ['a JSON array with a null', [null], /body\[0\] must be an object, got null/],
  ['not JSON', 'this is not json', /does not parse/],
  ['empty text', '', /does not parse/],
  ['truncated JSON', '{"body":{"keys":[', /does not parse/],
  ['JSON null', 'null', /must be an object, got null/],
  ['JSON number', '42', /must be an object, got number/],
  ['JSON string', '"keys"', /must be an object, got string/],
  ['JSON true', 'true', /must be an object, got boolean/],
  ['keys missing', { status: 'success', body: {} }, /body\.keys must be an array, got undefined/],
  ['keys an object', { body: { keys: {} } }, /body\.keys must be an array, got object/],
  ['keys a string', { keys: 'abc' }, /body\.keys must be an array, got string/],
  ['a key not an object', { keys: ['abc'] }, /keys\[0\] must be an object, got string/],
  ['a key an array', { keys: [[]] }, /keys\[0\] must be an object, got array/],
  ['id missing', withKey({}, ['id']), /keys\[0\]\.id is missing/],
  ['id a float', withKey({ id: 1.5 }), /keys\[0\]\.id must be an integer, got number/],
  ['id null', withKey({ id: null }), /keys\[0\]\.id must be an integer, got null/],
  ['id unsafe', withKey({ id: 2 ** 60 }), /keys\[0\]\.id must be an integer/],
  ['secret missing', withKey({}, ['secret']), /keys\[0\]\.secret is missing/],
  ['secret a number', withKey({ secret: 12 }), /keys\[0\]\.secret must be a string, got number/],
  ['secret null', withKey({ secret: null }), /keys\[0\]\.secret must be a string, got null/],
  ['secret not base64', withKey({ secret: 'not base64 at all!' }), /keys\[0\]\.secret must be base64 of 32 bytes/],
  ['secret with whitespace', withKey({ secret: ` ${goodSecret}` }), /keys\[0\]\.secret must be base64 of 32 bytes/],
  ['secret in base64url', withKey({ secret: Buffer.alloc(32, 0xfb).toString('base64url') }), /secret must be base64 of 32 bytes/],
  ['secret of 16 bytes', withKey({ secret: Buffer.alloc(16, 1).toString('base64') }), /secret must be base64 of 32 bytes/],
  ['secret of 33 bytes', withKey({ secret: Buffer.alloc(33, 1).toString('base64') }), /secret must be base64 of 32 bytes/],
  ['secret empty', withKey({ secret: '' }), /secret must be base64 of 32 bytes/],
  ['activates missing', withKey({}, ['activates']), /keys\[0\]\.activates is missing/],
  ['activates a string', withKey({ activates: '1700000000' }), /keys\[0\]\.activates must be an integer, got string/],
  ['expires missing', withKey({}, ['expires']), /keys\[0\]\.expires is missing/],
  ['expires a boolean', withKey({ expires: true }), /keys\[0\]\.expires must be an integer, got boolean/],
  ['created a string', withKey({ created: 'yesterday' }), /keys\[0\]\.created must be an integer, got string/],
  ['keyset_id a string', withKey({ keyset_id: '1' }), /keys\[0\]\.keyset_id must be an integer, got string/],
  ['site_id an object', withKey({ site_id: {} }), /keys\[0\]\.site_id must be an integer, got object/],
  [
    'duplicate key ids',
    { keys: [goodKey, { ...goodKey, secret: Buffer.alloc(32, 2).toString('base64') }] },
    /duplicate key id 11/,
  ],
  ['duplicate key ids (legacy)', [goodKey, goodKey], /duplicate key id 11/],
  ['identity_scope lower case', withBody({ identity_scope: 'uid2' }), /identity_scope must be "UID2" or "EUID", got "uid2"/],
  ['identity_scope a number', withBody({ identity_scope: 5 }), /identity_scope must be "UID2" or "EUID", got 5/],
  ['allow_clock_skew_seconds a string', withBody({ allow_clock_skew_seconds: '1800' }), /allow_clock_skew_seconds must be a non-negative number/],
  ['allow_clock_skew_seconds negative', withBody({ allow_clock_skew_seconds: -1 }), /allow_clock_skew_seconds must be a non-negative number, got -1/],
  ['max_bidstream_lifetime_seconds an array', withBody({ max_bidstream_lifetime_seconds: [] }), /max_bidstream_lifetime_seconds must be a non-negative number/],
  ['max_sharing_lifetime_seconds negative', withBody({ max_sharing_lifetime_seconds: -5 }), /max_sharing_lifetime_seconds must be a non-negative number/],
  ['token_expiry_seconds not numeric', withBody({ token_expiry_seconds: 'thirty days' }), /token_expiry_seconds must be a non-negative number, got "thirty days"/],
  ['token_expiry_seconds a negative string', withBody({ token_expiry_seconds: '-5' }), /token_expiry_seconds must be a non-negative number/],
  ['caller_site_id a string', withBody({ caller_site_id: '9' }), /body\.caller_site_id must be an integer, got string/],
  ['master_keyset_id a float', withBody({ master_keyset_id: 1.25 }), /body\.master_keyset_id must be an integer/],
  ['default_keyset_id a boolean', withBody({ default_keyset_id: false }), /body\.default_keyset_id must be an integer, got boolean/],
  ['site_data an object', withBody({ site_data: {} }), /site_data must be an array, got object/],
  ['site_data entry a string', withBody({ site_data: ['x'] }), /site_data\[0\] must be an object, got string/],
  ['site_data entry without id', withBody({ site_data: [{ domain_names: [] }] }), /site_data\[0\]\.id is missing/],
  ['site_data domain_names a string', withBody({ site_data: [{ id: 1, domain_names: 'a.test' }] }), /site_data\[0\]\.domain_names must be an array of strings/],
  ['site_data domain_names with a number', withBody({ site_data: [{ id: 1, domain_names: ['a.test', 5] }] }), /site_data\[0\]\.domain_names must be an array of strings/],
  ['second key bad', { keys: [goodKey, { ...goodKey, id: 12, expires: 'never' }] }, /keys\[1\]\.expires must be an integer, got string/],
];

describe('malformed key JSON', () => {
  it.each(BAD)('%s throws KeysJsonError naming the problem', (_name, input, message) => {
    let caught: unknown;
    try {
      parseKeys(input as string | object);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KeysJsonError);
    expect(caught).toBeInstanceOf(Uid2Error);
    const error = caught as KeysJsonError;
    expect(error.code).toBe('UID2_ERR_KEYS_JSON');
    expect(error.name).toBe('KeysJsonError');
    expect(error.message).toMatch(message);
  });

  it.each(BAD)('%s: a failed refreshJson returns the error and keeps the previous key set', (_name, input, message) => {
    const world = makeSharingWorld();
    for (const client of [new BidstreamClient('https://x.test', 'k', 's'), new SharingClient('https://x.test', 'k', 's')]) {
      expect(client.refreshJson(world.response)).toEqual({ success: true });
      const before = client.keySet;
      expect(before).toBeInstanceOf(KeySet);
      let events = 0;
      client.on('keys', () => events++);
      const result = client.refreshJson(input as string | object);
      expect(result.success).toBe(false);
      expect(result.error).toBeInstanceOf(KeysJsonError);
      expect(result.error!.code).toBe('UID2_ERR_KEYS_JSON');
      expect(result.error!.message).toMatch(message);
      expect(client.keySet).toBe(before);
      expect(events).toBe(0);
    }
  });

  it('a failed first refresh leaves the client uninitialised', () => {
    const client = new BidstreamClient('https://x.test', 'k', 's');
    expect(client.refreshJson('{"status":"error"}').success).toBe(false);
    expect(client.keySet).toBeUndefined();
  });

  it('bytes are parsed as UTF-8 text, and rejected the same way', () => {
    const world = makeWorld();
    const bytes = new TextEncoder().encode(JSON.stringify(world.response));
    expect(parseKeys(bytes).size).toBe(2);
    expect(() => parseKeys(new TextEncoder().encode('{"body":[{"id":5}]}'))).toThrow(/secret is missing/);
    expect(() => parseKeys(new Uint8Array([0x7b, 0xff]))).toThrow(KeysJsonError);
  });
});

describe('accepted shapes', () => {
  const world = makeSharingWorld({ allowClockSkewSeconds: 60, maxBidstreamLifetimeSeconds: 100, maxSharingLifetimeSeconds: 200 });

  function summary(keys: KeySet): unknown {
    return {
      scope: keys.identityScope,
      skew: keys.allowClockSkewSeconds,
      bidstream: keys.maxBidstreamLifetimeSeconds,
      sharing: keys.maxSharingLifetimeSeconds,
      caller: keys.callerSiteId,
      master: keys.masterKeysetId,
      default: keys.defaultKeysetId,
      expiry: keys.tokenExpirySeconds,
      ids: keys.keys().map((k) => k.id),
    };
  }

  it('the whole document, the body alone, as text, as an object', () => {
    const expected = {
      scope: 'UID2',
      skew: 60,
      bidstream: 100,
      sharing: 200,
      caller: world.keySet.callerSiteId,
      master: world.keySet.masterKeysetId,
      default: world.keySet.defaultKeysetId,
      expiry: 30 * DAY_S,
      ids: [world.master.id, world.site.id],
    };
    for (const input of [world.response, world.response.body, JSON.stringify(world.response), JSON.stringify(world.response.body)]) {
      expect(summary(parseKeys(input))).toEqual(expected);
    }
    // A body without status is fine too.
    expect(summary(parseKeys({ body: world.response.body }))).toEqual(expected);
  });

  it('the legacy key list, as a document or a bare array, with site_id per key', () => {
    const keys = [makeKey(21, { siteId: -1 }), makeKey(22, { siteId: 55 })];
    for (const input of [legacyKeysResponse(keys), legacyKeysResponse(keys).body, JSON.stringify(legacyKeysResponse(keys))]) {
      const set = parseKeys(input);
      expect(set.size).toBe(2);
      expect(set.getKey(22)).toMatchObject({ id: 22, siteId: 55, keysetId: undefined });
      expect(set.getKey(22)!.secret).toEqual(keys[1]!.secret);
      // Legacy key lists carry no policy: all defaults.
      expect(summary(set)).toEqual({
        scope: 'UID2',
        skew: 1800,
        bidstream: Infinity,
        sharing: Infinity,
        caller: undefined,
        master: undefined,
        default: undefined,
        expiry: 30 * DAY_S,
        ids: [21, 22],
      });
    }
  });

  it('token_expiry_seconds as a number or a numeric string', () => {
    for (const [value, seconds] of [
      [3600, 3600],
      ['3600', 3600],
      [' 86400 ', 86400],
      ['0', 0],
    ] as const) {
      expect(parseKeys(keysResponse({ keys: [], tokenExpirySeconds: value })).tokenExpirySeconds).toBe(seconds);
    }
  });

  it('defaults: UID2 scope, clock skew 1800, unlimited lifetimes, 30-day token expiry', () => {
    const keys = parseKeys({ keys: [goodKey] });
    expect(summary(keys)).toEqual({
      scope: 'UID2',
      skew: 1800,
      bidstream: Infinity,
      sharing: Infinity,
      caller: undefined,
      master: undefined,
      default: undefined,
      expiry: 2_592_000,
      ids: [11],
    });
    // null counts as absent.
    const nulls = parseKeys({
      keys: [goodKey],
      identity_scope: null,
      allow_clock_skew_seconds: null,
      max_bidstream_lifetime_seconds: null,
      token_expiry_seconds: null,
      site_data: null,
      master_keyset_id: null,
    });
    expect(summary(nulls)).toEqual(summary(keys));
  });

  it('EUID scope, zero clock skew and zero lifetimes are kept as given', () => {
    const keys = parseKeys(
      keysBody({ keys: [], identityScope: 'EUID', allowClockSkewSeconds: 0, maxBidstreamLifetimeSeconds: 0, maxSharingLifetimeSeconds: 0 }),
    );
    expect([keys.identityScope, keys.allowClockSkewSeconds, keys.maxBidstreamLifetimeSeconds, keys.maxSharingLifetimeSeconds]).toEqual([
      'EUID',
      0,
      0,
      0,
    ]);
  });

  it('created defaults to activates; unknown fields are ignored', () => {
    const key = { ...goodKey, extra: 'ignored' } as Record<string, unknown>;
    delete key['created'];
    const keys = parseKeys({ status: 'success', body: { keys: [key], something_new: [1, 2] } });
    expect(keys.getKey(11)!.created).toBe(goodKey['activates']);
  });

  it('site_data: domain names kept as sent; entries for the same site are merged; missing names are empty', () => {
    const keys = parseKeys(
      withBody({
        site_data: [
          { id: 1, domain_names: ['A.test', 'b.test'] },
          { id: 2 },
          { id: 1, domain_names: ['c.test'] },
        ],
      }) as object,
    );
    expect(keys.getDomainNames(1)).toEqual(['A.test', 'b.test', 'c.test']);
    expect(keys.getDomainNames(2)).toEqual([]);
    expect(keys.getDomainNames(3)).toBeUndefined();
    expect(keys.siteIds().sort()).toEqual([1, 2]);
    expect(keys.isDomainOrAppNameAllowed(1, 'c.TEST')).toBe(true);
  });

  it('an empty key list parses (and is then never in sync)', () => {
    const keys = parseKeys({ keys: [] });
    expect(keys.size).toBe(0);
    expect(keys.isValid(NOW_MS)).toBe(false);
  });
});
