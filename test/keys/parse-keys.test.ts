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
  keysBody,
  keysResponse,
  legacyKeysResponse,
  makeKey,
  makeSharingWorld,
  makeWorld,
} from '../helpers/fixtures.js';
import { BAD, goodKey, withBody } from '../helpers/bad-key-json.js';

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
