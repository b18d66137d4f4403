/**
 * Every decryption rule of the wire-format doc (docs/uid2-wire-format.md, "Decryption rules"),
 * every DecryptionStatus, and the order in which the rules apply. Tokens are minted with the
 * project's encoder and fresh random keys (test/helpers/fixtures.ts), never the vector values.
 */
import { describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus, MAX_TOKEN_LENGTH, SharingClient, decryptToken, parseKeys, type ClientType, type DecryptionResult, type KeySet } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import {
  DAY_MS,
  DAY_S,
  HOUR_MS,
  MINUTE_MS,
  NOW_MS,
  NOW_S,
  SITE_ID,
  cbcEncryptRaw,
  keysResponse,
  legacyKeysResponse,
  makeKey,
  makeWorld,
  randomRawUid,
  randomRawUidBytes,
  rawV2IdentityPlain,
  rawV2Token,
  rawV3MasterPlain,
  rawV3SitePlain,
  rawV3Token,
  tokenBytes,
  type World,
} from '../helpers/fixtures.js';

const S = DecryptionStatus;

function decrypt(
  token: unknown,
  keys: KeySet | undefined | null,
  clientType: ClientType = 'bidstream',
  domainOrAppName?: string | null,
  nowMs = NOW_MS,
): DecryptionResult {
  return decryptToken(token, keys, clientType, domainOrAppName, nowMs);
}

/** Re-encodes token bytes after `edit` in the same alphabet as the original v3/v4 token. */
function editBytes(token: string, edit: (bytes: Buffer) => Buffer | void, encoding: 'base64' | 'base64url'): string {
  const bytes = tokenBytes(token);
  const edited = edit(bytes) ?? bytes;
  return edited.toString(encoding);
}

const world = makeWorld();
const euidWorld = makeWorld({ identityScope: 'EUID' });

describe('rule 1: keys', () => {
  it('NotInitialized when no keys were ever loaded (undefined or null)', () => {
    const token = world.token();
    expect(decrypt(token, undefined)).toEqual({ status: S.NotInitialized });
    expect(decrypt(token, null, 'sharing')).toEqual({ status: S.NotInitialized });
    expect(decrypt(token, undefined, 'legacy')).toEqual({ status: S.NotInitialized });
  });

  it('NotInitialized from clients that never refreshed, before looking at the token at all', () => {
    expect(new BidstreamClient('https://x.test', 'k', 's').decryptTokenIntoRawUid('x', null, NOW_MS).status).toBe(
      S.NotInitialized,
    );
    expect(new SharingClient('https://x.test', 'k', 's').decryptTokenIntoRawUid('', NOW_MS).status).toBe(S.NotInitialized);
  });

  it('KeysNotSynced when every key has expired', () => {
    const stale = makeWorld({ masterKey: { expires: NOW_S - 10 }, siteKey: { expires: NOW_S - 5 } });
    expect(decrypt(stale.token(), stale.keySet)).toEqual({ status: S.KeysNotSynced });
    expect(decrypt(stale.token(), stale.keySet, 'sharing')).toEqual({ status: S.KeysNotSynced });
    expect(decrypt(stale.token(), stale.keySet, 'legacy')).toEqual({ status: S.KeysNotSynced });
  });

  it('a key whose expires equals now counts as expired', () => {
    const expiresS = NOW_S + 100;
    const w = makeWorld({ masterKey: { expires: expiresS }, siteKey: { expires: expiresS } });
    const token = w.token({ generatedMs: expiresS * 1000 - MINUTE_MS, expiresMs: expiresS * 1000 + HOUR_MS });
    expect(decrypt(token, w.keySet, 'bidstream', null, expiresS * 1000).status).toBe(S.KeysNotSynced);
    expect(decrypt(token, w.keySet, 'bidstream', null, expiresS * 1000 - 1).status).toBe(S.Success);
  });

  it('one key still valid is enough, even if it is not the one the token names', () => {
    const w = makeWorld({
      masterKey: { expires: NOW_S - 10 },
      siteKey: { expires: NOW_S - 10 },
      extraKeys: [makeKey(9999, { keysetId: 3 })],
    });
    expect(decrypt(w.token(), w.keySet).status).toBe(S.Success);
  });

  it('an empty key list is never in sync', () => {
    const empty = parseKeys({ body: { keys: [] } });
    expect(decrypt(world.token(), empty)).toEqual({ status: S.KeysNotSynced });
  });

  it('key checks come before any look at the token', () => {
    const stale = makeWorld({ masterKey: { expires: NOW_S - 10 }, siteKey: { expires: NOW_S - 10 } });
    expect(decrypt('ab', stale.keySet).status).toBe(S.KeysNotSynced);
    expect(decrypt('not a token', undefined).status).toBe(S.NotInitialized);
  });
});

describe('rule 2: shape and version', () => {
  it.each(['', 'A', 'AI', 'AIA'])('fewer than 4 characters (%j) is InvalidPayload', (token) => {
    expect(decrypt(token, world.keySet)).toEqual({ status: S.InvalidPayload });
  });

  it('a non-string token is InvalidPayload', () => {
    for (const token of [undefined, null, 42, {}, ['AAAA'], Buffer.from('AAAAAAAA')]) {
      expect(decrypt(token, world.keySet)).toEqual({ status: S.InvalidPayload });
    }
  });

  it('a token longer than MAX_TOKEN_LENGTH is InvalidPayload', () => {
    const token = world.token();
    expect(decrypt(token + 'A'.repeat(MAX_TOKEN_LENGTH - token.length + 1), world.keySet).status).toBe(S.InvalidPayload);
  });

  it('4 characters that are not base64 in the header are InvalidPayload', () => {
    for (const token of ['A===', '!AAAAAAA', 'A AAAAAA', 'AB=CAAAA', '\u00e9AAAAAAA']) {
      expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
    }
  });

  describe('strict decoding: any character outside the alphabet is InvalidPayload', () => {
    const token = world.token();
    const mid = Math.floor(token.length / 2);
    const cases: [string, string][] = [
      ['a space inside', token.slice(0, mid) + ' ' + token.slice(mid)],
      ['a trailing newline', token + '\n'],
      ['a trailing CRLF', token + '\r\n'],
      ['a leading space', ' ' + token],
      ['a tab inside', token.slice(0, mid) + '\t' + token.slice(mid)],
      ['a star inside', token.slice(0, mid) + '*' + token.slice(mid)],
      ['a dot at the end', token + '.'],
      ['a non-ASCII letter', token.slice(0, mid) + '\u00e9' + token.slice(mid + 1)],
      ['padding in the middle', token.slice(0, mid) + '==' + token.slice(mid)],
      ['too much padding', token + '==='],
    ];
    it.each(cases)('%s', (_name, bad) => {
      expect(decrypt(bad, world.keySet)).toEqual({ status: S.InvalidPayload });
    });
    it('and the same token without the damage decrypts', () => {
      expect(decrypt(token, world.keySet).status).toBe(S.Success);
    });
  });

  it('a v2 token with whitespace is InvalidPayload', () => {
    const token = world.token({ version: 2, rawUid: 'someone@example.test' });
    expect(decrypt(token, world.keySet).status).toBe(S.Success);
    expect(decrypt(token.slice(0, 30) + ' ' + token.slice(30), world.keySet).status).toBe(S.InvalidPayload);
    expect(decrypt(token + '\n', world.keySet).status).toBe(S.InvalidPayload);
  });

  it('a header byte pattern that is neither v2, v3 nor v4 is VersionNotSupported', () => {
    const token = world.token();
    for (const versionByte of [0, 1, 2, 3, 111, 113, 127, 129, 255]) {
      const bad = editBytes(token, (b) => void (b[1] = versionByte), 'base64url');
      expect(decrypt(bad, world.keySet)).toEqual({ status: S.VersionNotSupported });
    }
    // Any 4 valid characters whose bytes name no version.
    expect(decrypt('AAAAAAAA', world.keySet).status).toBe(S.VersionNotSupported);
    expect(decrypt('////', world.keySet).status).toBe(S.VersionNotSupported);
  });

  it('h0 == 2 routes to v2 before h1 is looked at', () => {
    // A v4 token with its first byte set to 2 is read as v2: the "master key id" is then bytes
    // 1..4, which start with 0x80 and name no key. Under EUID keys a v4 reading would have been
    // InvalidIdentityScope (prefix 2 has scope bit 0), so the status proves the routing.
    const token = euidWorld.token();
    const asV2 = editBytes(token, (b) => void (b[0] = 2), 'base64');
    expect(decrypt(asV2, euidWorld.keySet).status).toBe(S.NotAuthorizedForMasterKey);
  });

  it('truncated tokens are InvalidPayload', () => {
    const token = world.token();
    const v3 = world.token({ version: 3 });
    const v2 = world.token({ version: 2, rawUid: 'x@example.test' });
    for (const t of [token, v3, v2]) {
      for (const keep of [4, 8, 12, 20, 40, t.length - 24, t.length - 4]) {
        expect(decrypt(t.slice(0, keep), world.keySet).status).toBe(S.InvalidPayload);
      }
    }
  });

  it('bytes cut after the base64 level (re-encoded) are InvalidPayload', () => {
    const token = world.token();
    for (const cut of [1, 4, 16, 17, 60]) {
      const bad = editBytes(token, (b) => b.subarray(0, b.length - cut), 'base64url');
      expect(decrypt(bad, world.keySet).status).toBe(S.InvalidPayload);
    }
    // Only the 6-byte root header left: no GCM layer at all.
    expect(decrypt(editBytes(token, (b) => b.subarray(0, 6), 'base64url'), world.keySet).status).toBe(S.InvalidPayload);
  });

  it('a corrupted GCM tag (master or site layer) is InvalidPayload', () => {
    const token = world.token();
    expect(decrypt(editBytes(token, (b) => void (b[b.length - 1] ^= 1), 'base64url'), world.keySet).status).toBe(
      S.InvalidPayload,
    );
    const siteTagCorrupted = rawV3Token(world, {
      transformSiteLayer: (layer) => {
        const copy = Buffer.from(layer);
        copy[copy.length - 1] ^= 0x80;
        return copy;
      },
    });
    expect(decrypt(siteTagCorrupted, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('a layer sealed with the wrong key is InvalidPayload', () => {
    const other = makeWorld();
    // Names our master key id but is sealed with another secret.
    const forged = rawV3Token({ master: { ...other.master, id: world.master.id }, site: world.site });
    expect(decrypt(forged, world.keySet).status).toBe(S.InvalidPayload);
    // Site layer sealed with a different key than the one site_key_id names.
    const forgedSite = rawV3Token({ master: world.master, site: { ...other.site, id: world.site.id } });
    expect(decrypt(forgedSite, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('v3/v4 master payload too short to hold its fixed fields is InvalidPayload', () => {
    // 33 fixed bytes are needed before the site layer; the site key id sits at offset 29.
    for (const length of [0, 8, 28, 30, 32]) {
      const token = rawV3Token(world, {
        masterPlain: (siteLayer) => rawV3MasterPlain(siteLayer).subarray(0, length),
      });
      expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
    }
    // All fixed fields but no site layer: the site GCM layer is missing.
    const noSite = rawV3Token(world, { masterPlain: (siteLayer) => rawV3MasterPlain(siteLayer).subarray(0, 33) });
    expect(decrypt(noSite, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('v3/v4 site payload too short is InvalidPayload; exactly the fixed fields is a valid empty raw UID', () => {
    const full = rawV3SitePlain(Buffer.alloc(0));
    expect(full.length).toBe(36);
    for (const length of [0, 4, 20, 35]) {
      const token = rawV3Token(world, { sitePlain: full.subarray(0, length) });
      expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
    }
    const empty = decrypt(rawV3Token(world, { sitePlain: full }), world.keySet);
    expect(empty.status).toBe(S.Success);
    expect(empty.uid).toBe('');
  });

  it('GCM layers with a cut tag are InvalidPayload (master and site layer)', () => {
    const cut4 = (layer: Buffer): Buffer => layer.subarray(0, layer.length - 4);
    expect(decrypt(rawV3Token(world, { transformMasterLayer: cut4 }), world.keySet).status).toBe(S.InvalidPayload);
    expect(decrypt(rawV3Token(world, { transformSiteLayer: cut4 }), world.keySet).status).toBe(S.InvalidPayload);
    // The untouched assembly decrypts, so the cut is what failed.
    expect(decrypt(rawV3Token(world), world.keySet).status).toBe(S.Success);
  });

  describe('v2 payload errors', () => {
    it('the layer-by-layer v2 assembly decrypts (sanity check of the builder)', () => {
      const result = decrypt(rawV2Token(world), world.keySet);
      expect(result.status).toBe(S.Success);
      expect(result.uid).toBe('v2-identity@example.test');
    });

    const badPadding = (key: Buffer, iv: Buffer, plain: Uint8Array): Buffer => {
      // Whole blocks whose last byte is 0: never valid PKCS#7.
      const padded = Buffer.alloc(Math.ceil((plain.length + 1) / 16) * 16);
      Buffer.from(plain).copy(padded);
      return cbcEncryptRaw(key, iv, padded, false);
    };
    const wrongPadValue = (key: Buffer, iv: Buffer, plain: Uint8Array): Buffer => {
      // Claims 3 padding bytes but they differ: 0x01 0x02 0x03.
      const total = Math.ceil((plain.length + 3) / 16) * 16;
      const padded = Buffer.alloc(total, 3);
      Buffer.from(plain).copy(padded);
      padded[total - 3] = 1;
      padded[total - 2] = 2;
      return cbcEncryptRaw(key, iv, padded, false);
    };

    it('bad CBC padding in the master layer is InvalidPayload', () => {
      expect(decrypt(rawV2Token(world, { encryptMaster: badPadding }), world.keySet).status).toBe(S.InvalidPayload);
      expect(decrypt(rawV2Token(world, { encryptMaster: wrongPadValue }), world.keySet).status).toBe(S.InvalidPayload);
    });

    it('bad CBC padding in the identity layer is InvalidPayload', () => {
      expect(decrypt(rawV2Token(world, { encryptIdentity: badPadding }), world.keySet).status).toBe(S.InvalidPayload);
      expect(decrypt(rawV2Token(world, { encryptIdentity: wrongPadValue }), world.keySet).status).toBe(S.InvalidPayload);
    });

    it('a CBC ciphertext that is not whole blocks is InvalidPayload', () => {
      const token = rawV2Token(world, { encryptMaster: (k, iv, p) => cbcEncryptRaw(k, iv, p).subarray(0, -1) });
      expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
      const noCiphertext = rawV2Token(world, { encryptMaster: () => Buffer.alloc(0) });
      expect(decrypt(noCiphertext, world.keySet).status).toBe(S.InvalidPayload);
    });

    it('a master payload too short for expires, site key id and IV is InvalidPayload', () => {
      for (const length of [0, 8, 12, 27]) {
        const masterPlain = Buffer.alloc(length);
        if (length >= 12) masterPlain.writeInt32BE(world.site.id, 8);
        expect(decrypt(rawV2Token(world, { masterPlain }), world.keySet).status).toBe(S.InvalidPayload);
      }
    });

    it('an identity payload too short is InvalidPayload', () => {
      const identity = rawV2IdentityPlain('');
      expect(identity.length).toBe(20);
      for (const length of [0, 8, 19]) {
        const token = rawV2Token(world, { identityPlain: identity.subarray(0, length) });
        expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
      }
      expect(decrypt(rawV2Token(world, { identityPlain: identity }), world.keySet)).toMatchObject({
        status: S.Success,
        uid: '',
      });
    });

    it.each([
      ['negative', -1],
      ['very negative', -2147483648],
      ['huge', 2147483647],
      ['one more than the bytes left', 'v2-identity@example.test'.length + 1],
    ])('id_len %s is InvalidPayload', (_name, idLength) => {
      const token = rawV2Token(world, { identityPlain: rawV2IdentityPlain('v2-identity@example.test', { idLength }) });
      expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
    });

    it('a shorter id_len than the id is read as written (the rest shifts into later fields)', () => {
      // Not a rule of the doc, just the byte reading: the result is still a well-formed status.
      const token = rawV2Token(world, { identityPlain: rawV2IdentityPlain('abcdef', { idLength: 2 }) });
      const result = decrypt(token, world.keySet);
      expect(Object.values(S)).toContain(result.status);
    });
  });
});

describe('rule 2: encodings', () => {
  it('v4 decrypts as base64url, standard base64 with padding and standard base64 without padding', () => {
    const fields = world.fields();
    const url = encodeAdvertisingToken(fields);
    const standard = encodeAdvertisingToken({ ...fields, encoding: 'base64' });
    // 163 bytes for a 32-byte raw UID: standard base64 needs '==' padding.
    expect(standard.endsWith('==')).toBe(true);
    expect(url).not.toMatch(/[+/=]/);
    const unpadded = standard.replace(/=+$/, '');
    const urlPadded = url + '==';
    for (const token of [url, standard, unpadded, urlPadded]) {
      expect(decrypt(token, world.keySet)).toMatchObject({ status: S.Success, uid: fields.rawUid, advertisingTokenVersion: 4 });
    }
  });

  it('v4 with wrong padding is InvalidPayload', () => {
    const standard = world.token({ encoding: 'base64' });
    const unpadded = standard.replace(/=+$/, '');
    expect(decrypt(unpadded + '=', world.keySet).status).toBe(S.InvalidPayload);
    expect(decrypt(unpadded + '===', world.keySet).status).toBe(S.InvalidPayload);
    expect(decrypt(standard + '=', world.keySet).status).toBe(S.InvalidPayload);
  });

  it('v3 must be standard base64: its base64url form is InvalidPayload', () => {
    // Find a v3 token whose standard form contains '+' or '/' (nearly every one does).
    let token = '';
    for (let i = 0; i < 100 && !/[+/]/.test(token); i++) token = world.token({ version: 3 });
    expect(token).toMatch(/[+/]/);
    expect(decrypt(token, world.keySet)).toMatchObject({ status: S.Success, advertisingTokenVersion: 3 });
    const asUrl = Buffer.from(token, 'base64').toString('base64url');
    expect(decrypt(asUrl, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('v2 must be standard base64: its base64url form is InvalidPayload', () => {
    let token = '';
    for (let i = 0; i < 100 && !/[+/]/.test(token); i++) token = world.token({ version: 2, rawUid: 'id@example.test' });
    expect(token).toMatch(/[+/]/);
    const asUrl = Buffer.from(token, 'base64').toString('base64url');
    expect(decrypt(asUrl, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('legacy prefix byte 0 decrypts as UID2 email (v3 and v4)', () => {
    for (const version of [3, 4] as const) {
      const fields = world.fields({ version, legacyPrefix: true });
      const token = encodeAdvertisingToken(fields);
      expect(tokenBytes(token)[0]).toBe(0);
      expect(decrypt(token, world.keySet)).toMatchObject({
        status: S.Success,
        uid: fields.rawUid,
        identityType: 'Email',
        advertisingTokenVersion: version,
      });
      // Prefix 0 means UID2: an EUID key set refuses it.
      expect(decrypt(encodeAdvertisingToken({ ...fields, masterKey: euidWorld.master, siteKey: euidWorld.site }), euidWorld.keySet).status).toBe(
        S.InvalidIdentityScope,
      );
    }
  });
});

describe('rule 3: identity scope (v3/v4 only)', () => {
  it('UID2 token against EUID keys and EUID token against UID2 keys are InvalidIdentityScope', () => {
    for (const version of [3, 4] as const) {
      const uid2Token = encodeAdvertisingToken(
        world.fields({ version, identityScope: 'UID2', masterKey: euidWorld.master, siteKey: euidWorld.site }),
      );
      expect(decrypt(uid2Token, euidWorld.keySet)).toEqual({ status: S.InvalidIdentityScope });
      const euidToken = world.token({ version, identityScope: 'EUID' });
      expect(decrypt(euidToken, world.keySet)).toEqual({ status: S.InvalidIdentityScope });
      // Matching scopes decrypt.
      expect(decrypt(euidWorld.token({ version }), euidWorld.keySet).status).toBe(S.Success);
    }
  });

  it('the scope check applies to every client type', () => {
    const euidToken = world.token({ identityScope: 'EUID' });
    for (const clientType of ['bidstream', 'sharing', 'legacy'] as const) {
      expect(decrypt(euidToken, world.keySet, clientType).status).toBe(S.InvalidIdentityScope);
    }
  });

  it('v2 tokens carry no scope: they decrypt under EUID keys', () => {
    const token = euidWorld.token({ version: 2, rawUid: 'v2@example.test' });
    expect(decrypt(token, euidWorld.keySet)).toMatchObject({ status: S.Success, uid: 'v2@example.test' });
  });

  it('only bit 4 of the prefix is the scope', () => {
    const token = world.token();
    const euidBit = editBytes(token, (b) => void (b[0] |= 0x10), 'base64url');
    expect(decrypt(euidBit, world.keySet).status).toBe(S.InvalidIdentityScope);
  });
});

describe('rule 4: master key', () => {
  it('an unknown master key id is NotAuthorizedForMasterKey (v2, v3, v4)', () => {
    const other = makeWorld();
    for (const version of [2, 3, 4] as const) {
      const token = other.token({ version, masterKey: { id: 4242, secret: other.master.secret }, rawUid: version === 2 ? 'a@b.test' : randomRawUid() });
      expect(decrypt(token, world.keySet)).toEqual({ status: S.NotAuthorizedForMasterKey });
    }
  });

  it('the master key is found by id even when it has expired or is not yet active', () => {
    const expiredMaster = makeWorld({ masterKey: { expires: NOW_S - DAY_S } });
    expect(decrypt(expiredMaster.token(), expiredMaster.keySet).status).toBe(S.Success);
    expect(decrypt(expiredMaster.token({ version: 2, rawUid: 'v2' }), expiredMaster.keySet).status).toBe(S.Success);
    const futureMaster = makeWorld({ masterKey: { activates: NOW_S + DAY_S } });
    expect(decrypt(futureMaster.token({ version: 3 }), futureMaster.keySet).status).toBe(S.Success);
  });

  it('a key without keyset id (legacy form) decrypts too', () => {
    const master = makeKey(61, { siteId: -1 });
    const site = makeKey(62, { siteId: SITE_ID });
    const keys = parseKeys(legacyKeysResponse([master, site]));
    const fields = world.fields({ masterKey: master, siteKey: site });
    expect(decrypt(encodeAdvertisingToken(fields), keys, 'legacy')).toMatchObject({ status: S.Success, uid: fields.rawUid });
  });
});

describe('rule 5: site key', () => {
  it('an unknown site key id is NotAuthorizedForKey (v2, v3, v4)', () => {
    const other = makeWorld();
    for (const version of [2, 3, 4] as const) {
      const token = world.token({ version, siteKey: { id: 4343, secret: other.site.secret }, rawUid: version === 2 ? 'a@b.test' : randomRawUid() });
      expect(decrypt(token, world.keySet)).toEqual({ status: S.NotAuthorizedForKey });
    }
  });

  it('the site key is found by id even when it has expired', () => {
    const w = makeWorld({ siteKey: { expires: NOW_S - DAY_S } });
    expect(decrypt(w.token(), w.keySet).status).toBe(S.Success);
  });

  it('master and site may be the same key', () => {
    const fields = world.fields({ siteKey: world.master });
    expect(decrypt(encodeAdvertisingToken(fields), world.keySet)).toMatchObject({ status: S.Success, uid: fields.rawUid });
  });
});

describe('rule 7: token expiry', () => {
  it.each([2, 3, 4] as const)('v%i: now > expires is ExpiredToken; now == expires is still valid', (version) => {
    const expiresMs = NOW_MS + 5 * MINUTE_MS + 1;
    const fields = world.fields({ version, expiresMs, rawUid: version === 2 ? 'v2-id' : randomRawUid() });
    const token = encodeAdvertisingToken(fields);
    expect(decrypt(token, world.keySet, 'bidstream', null, expiresMs)).toMatchObject({ status: S.Success, uid: fields.rawUid });
    const expired = decrypt(token, world.keySet, 'bidstream', null, expiresMs + 1);
    expect(expired.status).toBe(S.ExpiredToken);
    expect(expired.uid).toBeUndefined();
  });

  it('ExpiredToken still reports the token metadata (but no uid)', () => {
    const fields = world.fields({ expiresMs: NOW_MS - 1, establishedMs: NOW_MS - 2 * DAY_MS });
    const result = decrypt(encodeAdvertisingToken(fields), world.keySet);
    expect(result).toEqual({
      status: S.ExpiredToken,
      uid: undefined,
      siteId: SITE_ID,
      siteKeySiteId: 0,
      identityType: 'Email',
      advertisingTokenVersion: 4,
      isClientSideGenerated: false,
      established: new Date(NOW_MS - 2 * DAY_MS),
      expiry: new Date(NOW_MS - 1),
    });
  });

  it('applies to every client type', () => {
    const token = world.token({ expiresMs: NOW_MS - 1000 });
    for (const clientType of ['bidstream', 'sharing', 'legacy'] as const) {
      expect(decrypt(token, world.keySet, clientType).status).toBe(S.ExpiredToken);
    }
  });
});

describe('rule 8: domain or app name check for CSTG tokens', () => {
  const cstg = (w: World = world, overrides = {}): string => w.token({ clientSideGenerated: true, ...overrides });

  it('bidstream: a listed domain succeeds, ignoring case in both directions', () => {
    const token = cstg();
    for (const name of ['publisher.test', 'PUBLISHER.TEST', 'Publisher.Test', 'NEWS.publisher.test', 'com.publisher.app', '987654321']) {
      expect(decrypt(token, world.keySet, 'bidstream', name)).toMatchObject({ status: S.Success, isClientSideGenerated: true });
    }
  });

  it('bidstream: an unlisted name, a missing name or an empty name fails', () => {
    const token = cstg();
    for (const name of ['other.test', 'publisher.test.evil', 'sub.publisher.test', '', ' publisher.test', null, undefined]) {
      const result = decrypt(token, world.keySet, 'bidstream', name);
      expect(result.status).toBe(S.DomainOrAppNameCheckFailed);
      expect(result.uid).toBeUndefined();
      expect(result.siteId).toBe(SITE_ID);
    }
  });

  it('a site without site_data fails, and another site\'s names do not help', () => {
    const token = cstg(world, { siteId: SITE_ID + 1 });
    expect(decrypt(token, world.keySet, 'bidstream', 'publisher.test').status).toBe(S.DomainOrAppNameCheckFailed);
    const noSiteData = makeWorld({ siteData: [] });
    expect(decrypt(cstg(noSiteData), noSiteData.keySet, 'bidstream', 'publisher.test').status).toBe(
      S.DomainOrAppNameCheckFailed,
    );
  });

  it('legacy clients check like bidstream', () => {
    const token = cstg();
    expect(decrypt(token, world.keySet, 'legacy', 'other.test').status).toBe(S.DomainOrAppNameCheckFailed);
    expect(decrypt(token, world.keySet, 'legacy', undefined).status).toBe(S.DomainOrAppNameCheckFailed);
    expect(decrypt(token, world.keySet, 'legacy', 'publisher.TEST').status).toBe(S.Success);
  });

  it('sharing clients skip the check', () => {
    const token = cstg();
    expect(decrypt(token, world.keySet, 'sharing', undefined)).toMatchObject({ status: S.Success, isClientSideGenerated: true });
    expect(decrypt(token, world.keySet, 'sharing', 'other.test').status).toBe(S.Success);
  });

  it('non-CSTG tokens skip the check (privacy bits 0, or only the meaningless bit 0)', () => {
    for (const privacyBits of [0, 1, 0b100, 0x7ffffff1 & ~2]) {
      const token = world.token({ privacyBits });
      expect(decrypt(token, world.keySet, 'bidstream', undefined)).toMatchObject({
        status: S.Success,
        isClientSideGenerated: false,
      });
      expect(decrypt(token, world.keySet, 'bidstream', 'other.test').status).toBe(S.Success);
    }
  });

  it('any privacy bits with bit 1 set make a CSTG token', () => {
    for (const privacyBits of [2, 3, 0b1110, -1]) {
      const token = world.token({ privacyBits });
      expect(decrypt(token, world.keySet, 'bidstream', undefined).status).toBe(S.DomainOrAppNameCheckFailed);
      expect(decrypt(token, world.keySet, 'bidstream', 'publisher.test')).toMatchObject({
        status: S.Success,
        isClientSideGenerated: true,
      });
    }
  });

  it('applies to v2 and v3 CSTG tokens as well', () => {
    for (const version of [2, 3] as const) {
      const token = cstg(world, { version, rawUid: version === 2 ? 'v2-cstg' : randomRawUid() });
      expect(decrypt(token, world.keySet, 'bidstream', undefined).status).toBe(S.DomainOrAppNameCheckFailed);
      expect(decrypt(token, world.keySet, 'bidstream', 'publisher.test')).toMatchObject({
        status: S.Success,
        isClientSideGenerated: true,
        advertisingTokenVersion: version,
      });
    }
  });

  it('through BidstreamClient', () => {
    const client = new BidstreamClient('https://x.test', 'k', 's');
    expect(client.refreshJson(world.response).success).toBe(true);
    const token = cstg();
    expect(client.decryptTokenIntoRawUid(token, 'other.test', NOW_MS).status).toBe(S.DomainOrAppNameCheckFailed);
    expect(client.decryptTokenIntoRawUid(token, undefined, NOW_MS).status).toBe(S.DomainOrAppNameCheckFailed);
    expect(client.decryptTokenIntoRawUid(token, 'publisher.test', new Date(NOW_MS)).status).toBe(S.Success);
  });
});

describe('rule 9: token lifetime and clock skew', () => {
  const limited = makeWorld({ maxBidstreamLifetimeSeconds: 3600, maxSharingLifetimeSeconds: 7200, allowClockSkewSeconds: 60 });
  const g = NOW_MS - 10 * MINUTE_MS;

  it('bidstream: floor((expires - generated)/1000) > max_bidstream_lifetime_seconds fails', () => {
    const ok = limited.token({ generatedMs: g, expiresMs: g + 3600 * 1000 + 999 });
    expect(decrypt(ok, limited.keySet, 'bidstream').status).toBe(S.Success);
    const tooLong = limited.token({ generatedMs: g, expiresMs: g + 3601 * 1000 });
    const result = decrypt(tooLong, limited.keySet, 'bidstream');
    expect(result.status).toBe(S.InvalidTokenLifetime);
    expect(result.uid).toBeUndefined();
    expect(result.expiry).toEqual(new Date(g + 3601 * 1000));
  });

  it('sharing: uses max_sharing_lifetime_seconds instead', () => {
    const between = limited.token({ generatedMs: g, expiresMs: g + 5000 * 1000 });
    expect(decrypt(between, limited.keySet, 'bidstream').status).toBe(S.InvalidTokenLifetime);
    expect(decrypt(between, limited.keySet, 'sharing').status).toBe(S.Success);
    const ok = limited.token({ generatedMs: g, expiresMs: g + 7200 * 1000 + 999 });
    expect(decrypt(ok, limited.keySet, 'sharing').status).toBe(S.Success);
    const tooLong = limited.token({ generatedMs: g, expiresMs: g + 7201 * 1000 });
    expect(decrypt(tooLong, limited.keySet, 'sharing').status).toBe(S.InvalidTokenLifetime);
  });

  it('each client uses its own maximum, even when sharing is the smaller one', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 7200, maxSharingLifetimeSeconds: 3600 });
    const token = w.token({ generatedMs: g, expiresMs: g + 5000 * 1000 });
    expect(decrypt(token, w.keySet, 'bidstream').status).toBe(S.Success);
    expect(decrypt(token, w.keySet, 'sharing').status).toBe(S.InvalidTokenLifetime);
  });

  it('clock skew: floor((generated - now)/1000) > allow_clock_skew_seconds fails', () => {
    const ok = limited.token({ generatedMs: NOW_MS + 60 * 1000 + 999, expiresMs: NOW_MS + HOUR_MS });
    expect(decrypt(ok, limited.keySet, 'bidstream').status).toBe(S.Success);
    expect(decrypt(ok, limited.keySet, 'sharing').status).toBe(S.Success);
    const skewed = limited.token({ generatedMs: NOW_MS + 61 * 1000, expiresMs: NOW_MS + HOUR_MS });
    expect(decrypt(skewed, limited.keySet, 'bidstream').status).toBe(S.InvalidTokenLifetime);
    expect(decrypt(skewed, limited.keySet, 'sharing').status).toBe(S.InvalidTokenLifetime);
  });

  it('the default clock skew is 1800 s and there is no default lifetime limit', () => {
    const open = makeWorld();
    const farFuture = open.token({ generatedMs: NOW_MS - 1000, expiresMs: NOW_MS + 10 * 365 * DAY_MS });
    expect(decrypt(farFuture, open.keySet, 'bidstream').status).toBe(S.Success);
    expect(decrypt(farFuture, open.keySet, 'sharing').status).toBe(S.Success);
    const skewOk = open.token({ generatedMs: NOW_MS + 1800 * 1000 + 999, expiresMs: NOW_MS + DAY_MS });
    expect(decrypt(skewOk, open.keySet, 'bidstream').status).toBe(S.Success);
    const skewBad = open.token({ generatedMs: NOW_MS + 1801 * 1000, expiresMs: NOW_MS + DAY_MS });
    expect(decrypt(skewBad, open.keySet, 'bidstream').status).toBe(S.InvalidTokenLifetime);
  });

  it('v2 uses now as the generation time', () => {
    // Lifetime is measured from now: floor((expires - now)/1000).
    const ok = limited.token({ version: 2, rawUid: 'v2-id', expiresMs: NOW_MS + 3600 * 1000 + 999 });
    expect(decrypt(ok, limited.keySet, 'bidstream').status).toBe(S.Success);
    const tooLong = limited.token({ version: 2, rawUid: 'v2-id', expiresMs: NOW_MS + 3601 * 1000 });
    expect(decrypt(tooLong, limited.keySet, 'bidstream').status).toBe(S.InvalidTokenLifetime);
    expect(decrypt(tooLong, limited.keySet, 'sharing').status).toBe(S.Success);
    // The same token is fine a second later, when less of its lifetime remains.
    expect(decrypt(tooLong, limited.keySet, 'bidstream', null, NOW_MS + 1000).status).toBe(S.Success);
    // A v2 token can never fail the clock skew check (generated == now): zero skew allowed.
    const noSkew = makeWorld({ allowClockSkewSeconds: 0 });
    expect(decrypt(noSkew.token({ version: 2, rawUid: 'v2-id' }), noSkew.keySet, 'bidstream').status).toBe(S.Success);
  });

  it('legacy clients skip both lifetime checks', () => {
    const tooLong = limited.token({ generatedMs: g, expiresMs: g + 10 * DAY_MS });
    const skewed = limited.token({ generatedMs: NOW_MS + DAY_MS, expiresMs: NOW_MS + 2 * DAY_MS });
    expect(decrypt(tooLong, limited.keySet, 'legacy').status).toBe(S.Success);
    expect(decrypt(skewed, limited.keySet, 'legacy').status).toBe(S.Success);
  });

  it('floor, not round: 999 ms over the limit is not over it; lifetime == max is fine', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 100, allowClockSkewSeconds: 0 });
    expect(decrypt(w.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + 100_000 }), w.keySet).status).toBe(S.Success);
    expect(decrypt(w.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + 100_999 }), w.keySet).status).toBe(S.Success);
    expect(decrypt(w.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + 101_000 }), w.keySet).status).toBe(
      S.InvalidTokenLifetime,
    );
    expect(decrypt(w.token({ generatedMs: NOW_MS + 999, expiresMs: NOW_MS + 50_000 }), w.keySet).status).toBe(S.Success);
    expect(decrypt(w.token({ generatedMs: NOW_MS + 1000, expiresMs: NOW_MS + 50_000 }), w.keySet).status).toBe(
      S.InvalidTokenLifetime,
    );
  });
});

describe('rule 10: Success fields', () => {
  it.each([3, 4] as const)('v%i: every field', (version) => {
    const raw = randomRawUidBytes();
    const token = world.token({
      version,
      rawUid: raw,
      siteId: 123456,
      expiresMs: NOW_MS + 2 * HOUR_MS + 7,
      establishedMs: NOW_MS - 400 * DAY_MS + 3,
      identityType: 'Phone',
    });
    expect(decrypt(token, world.keySet)).toEqual({
      status: S.Success,
      uid: raw.toString('base64'),
      siteId: 123456,
      siteKeySiteId: 0,
      identityType: 'Phone',
      advertisingTokenVersion: version,
      isClientSideGenerated: false,
      established: new Date(NOW_MS - 400 * DAY_MS + 3),
      expiry: new Date(NOW_MS + 2 * HOUR_MS + 7),
    });
  });

  it('v2: uid is the identity string as is; identityType is absent', () => {
    const id = 'Zm9vYmFy+/= \u00e9\u4e2d mixed';
    const token = world.token({ version: 2, rawUid: id, siteId: 77, establishedMs: NOW_MS - DAY_MS, expiresMs: NOW_MS + HOUR_MS });
    expect(decrypt(token, world.keySet)).toEqual({
      status: S.Success,
      uid: id,
      siteId: 77,
      siteKeySiteId: 0,
      identityType: undefined,
      advertisingTokenVersion: 2,
      isClientSideGenerated: false,
      established: new Date(NOW_MS - DAY_MS),
      expiry: new Date(NOW_MS + HOUR_MS),
    });
  });

  it('uid is standard base64 with padding of any raw UID length', () => {
    for (const length of [1, 2, 3, 31, 32, 33, 64]) {
      const raw = Buffer.alloc(length, 0xfb);
      const result = decrypt(world.token({ rawUid: raw }), world.keySet);
      expect(result.uid).toBe(raw.toString('base64'));
    }
  });

  it('identity type comes from prefix bits 2-3 (Email 0, Phone otherwise) in v3 and v4', () => {
    for (const version of [3, 4] as const) {
      expect(decrypt(world.token({ version, identityType: 'Email' }), world.keySet).identityType).toBe('Email');
      expect(decrypt(world.token({ version, identityType: 'Phone' }), world.keySet).identityType).toBe('Phone');
    }
    const euid = decrypt(euidWorld.token({ identityType: 'Phone' }), euidWorld.keySet);
    expect(euid).toMatchObject({ status: S.Success, identityType: 'Phone' });
  });

  // Bits 2-3 of the prefix: 0 is Email, any other value (1, 2, 3) Phone, as the official SDKs read
  // them. Bit 4 is the scope, so 0x13 and 0x1F are EUID prefixes.
  it.each([
    [0x03, 'UID2', 'Email'],
    [0x07, 'UID2', 'Phone'],
    [0x0b, 'UID2', 'Phone'],
    [0x0f, 'UID2', 'Phone'],
    [0x13, 'EUID', 'Email'],
    [0x1f, 'EUID', 'Phone'],
  ] as const)('prefix 0x%s (%s) reads as identity type %s in v3 and v4', (prefix, scope, type) => {
    const w = scope === 'EUID' ? euidWorld : world;
    for (const version of [3, 4] as const) {
      const result = decrypt(rawV3Token(w, { prefix, version }), w.keySet);
      expect({ version, status: result.status, identityType: result.identityType }).toEqual({
        version,
        status: S.Success,
        identityType: type,
      });
    }
  });

  it('isClientSideGenerated is privacy bit 1 only; bit 0 means nothing', () => {
    const expectations: [number, boolean][] = [
      [0, false],
      [1, false],
      [2, true],
      [3, true],
      [4, false],
      [6, true],
    ];
    for (const [privacyBits, cstg] of expectations) {
      const result = decrypt(world.token({ privacyBits }), world.keySet, 'sharing');
      expect({ privacyBits, cstg: result.isClientSideGenerated }).toEqual({ privacyBits, cstg });
      const v2 = decrypt(world.token({ version: 2, rawUid: 'v2', privacyBits }), world.keySet, 'sharing');
      expect({ privacyBits, cstg: v2.isClientSideGenerated }).toEqual({ privacyBits, cstg });
    }
  });

  it('failures before both layers decrypted carry nothing but the status', () => {
    const cases = [
      decrypt('AAA', world.keySet),
      decrypt('AAAAAAAA', world.keySet),
      decrypt(world.token({ identityScope: 'EUID' }), world.keySet),
      decrypt(world.token({ masterKey: { id: 1, secret: world.master.secret } }), world.keySet),
      decrypt(world.token({ siteKey: { id: 1, secret: world.site.secret } }), world.keySet),
    ];
    for (const result of cases) expect(Object.keys(result)).toEqual(['status']);
  });
});

describe('rule order', () => {
  it('an expired CSTG token with a bad domain is ExpiredToken', () => {
    const token = world.token({ clientSideGenerated: true, expiresMs: NOW_MS - 1 });
    expect(decrypt(token, world.keySet, 'bidstream', 'wrong.test').status).toBe(S.ExpiredToken);
    expect(decrypt(token, world.keySet, 'bidstream', undefined).status).toBe(S.ExpiredToken);
  });

  it('an expired token with a bad lifetime is ExpiredToken', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 10 });
    const token = w.token({ generatedMs: NOW_MS - DAY_MS, expiresMs: NOW_MS - 1 });
    expect(decrypt(token, w.keySet).status).toBe(S.ExpiredToken);
  });

  it('a CSTG token with a bad domain and a bad lifetime is DomainOrAppNameCheckFailed', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 10, allowClockSkewSeconds: 0 });
    const token = w.token({ clientSideGenerated: true, generatedMs: NOW_MS + HOUR_MS, expiresMs: NOW_MS + DAY_MS });
    expect(decrypt(token, w.keySet, 'bidstream', 'wrong.test').status).toBe(S.DomainOrAppNameCheckFailed);
    expect(decrypt(token, w.keySet, 'bidstream', 'publisher.test').status).toBe(S.InvalidTokenLifetime);
  });

  it('an unknown master key with the wrong scope is InvalidIdentityScope', () => {
    const token = world.token({ identityScope: 'EUID', masterKey: { id: 4444, secret: world.master.secret } });
    expect(decrypt(token, world.keySet).status).toBe(S.InvalidIdentityScope);
  });

  it('a wrong scope is reported even when the payload is too short to hold a key id', () => {
    // The scope is the first byte; the Java SDK checks it before reading anything else.
    const token = world.token({ identityScope: 'EUID' });
    expect(decrypt(token.slice(0, 4), world.keySet).status).toBe(S.InvalidIdentityScope);
    expect(decrypt(token.slice(0, 4), euidWorld.keySet).status).toBe(S.InvalidPayload);
  });

  it('VersionNotSupported comes before the scope check', () => {
    const token = world.token({ identityScope: 'EUID' });
    const unknownVersion = editBytes(token, (b) => void (b[1] = 0x71), 'base64url');
    expect(decrypt(unknownVersion, world.keySet).status).toBe(S.VersionNotSupported);
  });

  it('an unknown master key with a corrupted payload is NotAuthorizedForMasterKey', () => {
    const token = world.token({ masterKey: { id: 4545, secret: world.master.secret } });
    const corrupted = editBytes(token, (b) => void (b[b.length - 1] ^= 0xff), 'base64url');
    expect(decrypt(corrupted, world.keySet).status).toBe(S.NotAuthorizedForMasterKey);
  });

  it('an unknown site key on an expired, CSTG, too-long token is NotAuthorizedForKey', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 1 });
    const token = w.token({
      siteKey: { id: 4646, secret: w.site.secret },
      clientSideGenerated: true,
      generatedMs: NOW_MS - DAY_MS,
      expiresMs: NOW_MS - 1,
    });
    expect(decrypt(token, w.keySet, 'bidstream', 'wrong.test').status).toBe(S.NotAuthorizedForKey);
  });

  it('a corrupted site layer on an expired token is InvalidPayload (rule 6 before rule 7)', () => {
    const token = rawV3Token(world, {
      masterPlain: (layer) => rawV3MasterPlain(layer, { expiresMs: NOW_MS - DAY_MS }),
      transformSiteLayer: (layer) => {
        const copy = Buffer.from(layer);
        copy[20] ^= 1;
        return copy;
      },
    });
    expect(decrypt(token, world.keySet).status).toBe(S.InvalidPayload);
  });

  it('KeysNotSynced comes before the master-key lookup', () => {
    const stale = makeWorld({ masterKey: { expires: NOW_S - 1 }, siteKey: { expires: NOW_S - 1 } });
    const unknownMaster = stale.token({ masterKey: { id: 4747, secret: stale.master.secret } });
    expect(decrypt(unknownMaster, stale.keySet).status).toBe(S.KeysNotSynced);
  });
});

describe('clients pass their own rules through', () => {
  it('SharingClient uses sharing rules; BidstreamClient bidstream rules', () => {
    const w = makeWorld({ maxBidstreamLifetimeSeconds: 60, maxSharingLifetimeSeconds: 7200 });
    const response = keysResponse({
      keys: [w.master, w.site],
      maxBidstreamLifetimeSeconds: 60,
      maxSharingLifetimeSeconds: 7200,
      siteData: [],
    });
    const token = w.token({ clientSideGenerated: true, generatedMs: NOW_MS, expiresMs: NOW_MS + HOUR_MS });
    const sharing = new SharingClient('https://x.test', 'k', 's');
    const bidstream = new BidstreamClient('https://x.test', 'k', 's');
    sharing.refreshJson(response);
    bidstream.refreshJson(response);
    expect(sharing.decryptTokenIntoRawUid(token, NOW_MS).status).toBe(S.Success);
    expect(bidstream.decryptTokenIntoRawUid(token, 'publisher.test', NOW_MS).status).toBe(S.DomainOrAppNameCheckFailed);
    const plain = w.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + HOUR_MS });
    expect(bidstream.decryptTokenIntoRawUid(plain, undefined, NOW_MS).status).toBe(S.InvalidTokenLifetime);
  });
});
