/**
 * Key JSON the official SDKs accept (docs/api.md "Key JSON fidelity"): where the Java SDK (Gson)
 * and the Python SDK read a key response, this parser reads it the same way instead of refusing
 * the whole key set, which would stop every refresh until the service changed its answer.
 */
import { describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus, KeysJsonError, decryptToken, parseKeys } from '../../src/index.js';
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
