/**
 * Property tests (fast-check, fixed seeds): decryption never throws and only reports known
 * statuses for any input, sharing encryption round-trips, the encoder round-trips every field,
 * and a v4 token's authenticated bytes cannot be altered without failing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gcmEncrypt } from '../../src/crypto/aes.js';
import { DecryptionStatus, SharingClient, decrypt, decryptToken, encrypt, type ClientType, type DecryptionResult, type IdentityScope, type IdentityType, type KeySet } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import {
  CALLER_SITE_ID,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  NOW_MS,
  SITE_KEY_ID,
  cbcEncryptRaw,
  makeSharingWorld,
  rawV3MasterPlain,
  rawV3Root,
  type World,
} from '../helpers/fixtures.js';

const S = DecryptionStatus;
const KNOWN = new Set<string>(Object.values(DecryptionStatus));
const CLIENT_TYPES: ClientType[] = ['bidstream', 'sharing', 'legacy'];

const uid2 = makeSharingWorld();
const euid = makeSharingWorld({ identityScope: 'EUID' });
const worlds: Record<IdentityScope, World> = { UID2: uid2, EUID: euid };

/** Decrypts under every client type and both scopes; each result must be well-formed. */
function decryptEverywhere(token: unknown): DecryptionResult[] {
  const results: DecryptionResult[] = [];
  for (const keys of [uid2.keySet, euid.keySet] as KeySet[]) {
    for (const clientType of CLIENT_TYPES) {
      const result = decryptToken(token, keys, clientType, 'publisher.test', NOW_MS);
      expect(KNOWN.has(result.status)).toBe(true);
      if (result.status !== S.Success) expect(result.uid).toBeUndefined();
      else expect(typeof result.uid).toBe('string');
      results.push(result);
    }
  }
  return results;
}

const BASE64_ISH = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=', ' ', '\n', '.'];

describe('decryption never throws and reports only known statuses', () => {
  it('for random strings (any UTF-16 code units)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        decryptEverywhere(text);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random strings over the base64 alphabets, padding and whitespace', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...BASE64_ISH), maxLength: 400 }), (text) => {
        decryptEverywhere(text);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random tails after a real token header', () => {
    const header = uid2.token().slice(0, 8);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...BASE64_ISH), maxLength: 300 }), (tail) => {
        decryptEverywhere(header + tail);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random bytes as base64, unpadded base64 and base64url', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const buf = Buffer.from(bytes);
        for (const text of [buf.toString('base64'), buf.toString('base64').replace(/=+$/, ''), buf.toString('base64url')]) {
          decryptEverywhere(text);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random bytes behind every version header naming a real master key', () => {
    const masterId = Buffer.alloc(4);
    masterId.writeInt32BE(uid2.master.id);
    const headers = [
      Buffer.from([0x03, 0x80, ...masterId]),
      Buffer.from([0x03, 0x70, ...masterId]),
      Buffer.from([0x13, 0x80, ...masterId]),
      Buffer.from([0x00, 0x80, ...masterId]),
      Buffer.from([0x02, ...masterId]),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 300 }), (header, tail) => {
        const bytes = Buffer.concat([header, tail]);
        const results = [...decryptEverywhere(bytes.toString('base64')), ...decryptEverywhere(bytes.toString('base64url'))];
        // Without the key no payload can be forged.
        for (const result of results) expect(result.status).not.toBe(S.Success);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random plaintexts sealed with the real keys (v3/v4 master and site layers)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(3, 4),
        fc.uint8Array({ maxLength: 120 }),
        fc.uint8Array({ maxLength: 120 }),
        fc.boolean(),
        (version, masterGarbage, siteGarbage, sealSite) => {
          // Either the whole master plaintext is random, or it is well-formed around a random
          // (sealed or unsealed) site layer.
          const siteLayer = sealSite ? gcmEncrypt(uid2.site.secret, siteGarbage) : Buffer.from(siteGarbage);
          const randomMaster = masterGarbage.length % 2 === 0;
          const masterPlain = randomMaster ? Buffer.from(masterGarbage) : rawV3MasterPlain(siteLayer);
          const bytes = rawV3Root(0x03, version === 3 ? 112 : 128, uid2.master.id, gcmEncrypt(uid2.master.secret, masterPlain));
          const results = decryptEverywhere(version === 3 ? bytes.toString('base64') : bytes.toString('base64url'));
          const sharing = results[1]!; // UID2 keys, sharing client
          if (masterPlain.length < 33) expect(sharing.status).toBe(S.InvalidPayload);
          if (randomMaster || !sealSite) return;
          // A well-formed master layer around a sealed random site payload: exactly the length decides.
          if (siteGarbage.length < 36) {
            expect(sharing.status).toBe(S.InvalidPayload);
          } else {
            expect(sharing.status).toBe(S.Success);
            expect(sharing.uid).toBe(Buffer.from(siteGarbage.subarray(36)).toString('base64'));
          }
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('for random plaintexts sealed with the real keys (v2 master and identity layers)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.option(fc.integer({ min: -5, max: 100 }), { nil: undefined }), (identity, idLen) => {
        const plain = Buffer.from(identity);
        if (idLen !== undefined && plain.length >= 8) plain.writeInt32BE(idLen, 4);
        const identityIv = Buffer.alloc(16, 3);
        const master = Buffer.alloc(12);
        master.writeBigInt64BE(BigInt(NOW_MS + HOUR_MS), 0);
        master.writeInt32BE(SITE_KEY_ID, 8);
        const masterPlain = Buffer.concat([master, identityIv, cbcEncryptRaw(uid2.site.secret, identityIv, plain)]);
        const masterIv = Buffer.alloc(16, 4);
        const root = Buffer.alloc(5);
        root[0] = 2;
        root.writeInt32BE(uid2.master.id, 1);
        const token = Buffer.concat([root, masterIv, cbcEncryptRaw(uid2.master.secret, masterIv, masterPlain)]).toString('base64');
        const sharing = decryptEverywhere(token)[1]!;
        const declared = plain.length >= 8 ? plain.readInt32BE(4) : -1;
        if (plain.length >= 20 && declared >= 0 && declared <= plain.length - 20) {
          expect(sharing.status).toBe(S.Success);
          expect(sharing.uid).toBe(plain.toString('utf8', 8, 8 + declared));
        } else {
          expect(sharing.status).toBe(S.InvalidPayload);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('round trips', () => {
  const clients: Record<IdentityScope, SharingClient> = {
    UID2: new SharingClient('https://operator.test', 'k', 's'),
    EUID: new SharingClient('https://operator.test', 'k', 's'),
  };
  clients.UID2.refreshJson(uid2.response);
  clients.EUID.refreshJson(euid.response);

  const rawUidArb = fc
    .record({
      bytes: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      type: fc.constantFrom<IdentityType>('Email', 'Phone'),
    })
    .map(({ bytes, type }) => {
      const buf = Buffer.from(bytes);
      // Phone raw UIDs start with 'B' or 'F' in base64 (top six bits 1 or 5).
      const top = buf[0]! >> 2;
      if (type === 'Phone') buf[0] = ((buf[0]! & 1 ? 5 : 1) << 2) | (buf[0]! & 3);
      else if (top === 1 || top === 5) buf[0] = buf[0]! ^ 0x80;
      return { rawUid: buf.toString('base64'), type };
    });

  it('SharingClient: encrypt -> decrypt returns the raw UID, for email and phone, UID2 and EUID', () => {
    fc.assert(
      fc.property(rawUidArb, fc.constantFrom<IdentityScope>('UID2', 'EUID'), fc.integer({ min: 0, max: 20 * 24 * 3600 }), ({ rawUid, type }, scope, offsetS) => {
        // Keys are active from NOW - 1 day to NOW + 30 days.
        const now = NOW_MS - 12 * HOUR_MS + offsetS * 1000;
        const client = clients[scope];
        const encrypted = client.encryptRawUidIntoToken(rawUid, now);
        expect(encrypted.status).toBe('Success');
        const token = encrypted.encryptedData!;
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(client.decryptTokenIntoRawUid(token, now)).toEqual({
          status: S.Success,
          uid: rawUid,
          siteId: CALLER_SITE_ID,
          // Sharing keys belong to keysets and carry no site_id.
          siteKeySiteId: 0,
          identityType: type,
          advertisingTokenVersion: 4,
          isClientSideGenerated: false,
          established: new Date(now),
          expiry: new Date(now + 30 * DAY_MS),
        });
        // The other scope's client refuses it.
        expect(clients[scope === 'UID2' ? 'EUID' : 'UID2'].decryptTokenIntoRawUid(token, now).status).toBe(S.InvalidIdentityScope);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('free functions: encrypt -> decrypt returns the raw UID', () => {
    fc.assert(
      fc.property(rawUidArb, fc.constantFrom<IdentityScope>('UID2', 'EUID'), ({ rawUid, type }, scope) => {
        const keys = worlds[scope].keySet;
        const token = encrypt(rawUid, scope, keys, NOW_MS);
        expect(decrypt(token, keys, NOW_MS)).toMatchObject({ status: S.Success, uid: rawUid, identityType: type });
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('encodeAdvertisingToken -> decryptToken returns every field, for v2, v3 and v4', () => {
    fc.assert(
      fc.property(
        fc.record({
          version: fc.constantFrom<2 | 3 | 4>(2, 3, 4),
          raw: fc.uint8Array({ maxLength: 64 }),
          v2Id: fc.string({ maxLength: 60 }),
          siteId: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
          privacyBits: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
          lifetimeMs: fc.integer({ min: 0, max: 3650 * DAY_MS }),
          ageMs: fc.integer({ min: 0, max: 3650 * DAY_MS }),
          establishedMs: fc.integer({ min: -1e14, max: 1e14 }),
          identityType: fc.constantFrom<IdentityType>('Email', 'Phone'),
          scope: fc.constantFrom<IdentityScope>('UID2', 'EUID'),
          encoding: fc.constantFrom<'base64' | 'base64url'>('base64', 'base64url'),
        }),
        (f) => {
          const world = worlds[f.scope];
          const fields = world.fields({
            version: f.version,
            rawUid: f.version === 2 ? f.v2Id : f.raw,
            siteId: f.siteId,
            privacyBits: f.privacyBits,
            generatedMs: NOW_MS - f.ageMs,
            expiresMs: NOW_MS + f.lifetimeMs,
            establishedMs: f.establishedMs,
            identityType: f.identityType,
            encoding: f.encoding,
          });
          const token = encodeAdvertisingToken(fields);
          // Sharing rules: no domain check; the default lifetime limit is unlimited.
          const result = decryptToken(token, world.keySet, 'sharing', null, NOW_MS);
          const expectedUid = f.version === 2 ? Buffer.from(f.v2Id, 'utf8').toString('utf8') : Buffer.from(f.raw).toString('base64');
          expect(result).toEqual({
            status: S.Success,
            uid: expectedUid,
            siteId: f.siteId,
            siteKeySiteId: 0,
            identityType: f.version === 2 ? undefined : f.identityType,
            advertisingTokenVersion: f.version,
            isClientSideGenerated: (f.privacyBits & 2) !== 0,
            established: new Date(f.establishedMs),
            expiry: new Date(NOW_MS + f.lifetimeMs),
          });
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('tampering with a v4 token', () => {
  // A v4 token is authenticated by its two GCM tags, but the 6-byte root header is not: the
  // format has no AAD. The master key id (bytes 2-5) still cannot be changed, because another id
  // names another key (or none) and the tag then fails. Two header bytes can be changed:
  //
  // - Byte 0, the prefix: its scope and identity-type bits are read before decryption and are not
  //   covered by any tag, so flipping a bit there may still decrypt. It can never change the uid,
  //   times or site; at most the reported identityType (or the scope check fails). That is the
  //   one exception to "any change fails", asserted below.
  // - Byte 1, the version: v3 and v4 share one layout, so 128 -> 112 relabels the token as v3.
  //   v3 must be standard base64, so a base64url token with a '-' or '_' is then refused; the
  //   token under test is chosen to contain one past its header so this holds for every flip.
  //   The separate test below shows the relabelling succeeding for a standard-base64 v4 token.
  const keys = uid2.keySet;
  const fields = uid2.fields({ rawUid: Buffer.alloc(32, 0x5a), identityType: 'Email' });
  let token = encodeAdvertisingToken(fields);
  for (let i = 0; i < 200 && !/[-_]/.test(token.slice(4)); i++) token = encodeAdvertisingToken(fields);
  const bytes = Buffer.from(token, 'base64url');
  const original = decryptToken(token, keys, 'bidstream', null, NOW_MS);

  function flipped(index: number, mask: number): DecryptionResult {
    const copy = Buffer.from(bytes);
    copy[index] ^= mask;
    return decryptToken(copy.toString('base64url'), keys, 'bidstream', null, NOW_MS);
  }

  function checkFlip(index: number, mask: number): void {
    const result = flipped(index, mask);
    expect(KNOWN.has(result.status)).toBe(true);
    if (index === 0) {
      // Byte 0 is not authenticated (see above): never a Success with another uid or other
      // fields; only identityType may differ.
      if (result.status === S.Success) {
        expect({ ...result, identityType: undefined }).toEqual({ ...original, identityType: undefined });
      }
    } else {
      expect({ index, mask, status: result.status }).not.toEqual({ index, mask, status: S.Success });
    }
  }

  it('the token under test decrypts, and contains a url-only character past its header', () => {
    expect(token).toMatch(/^.{4}.*[-_]/);
    expect(original).toMatchObject({ status: S.Success, uid: Buffer.alloc(32, 0x5a).toString('base64'), identityType: 'Email' });
  });

  it('flipping any single byte (random position and bits) never yields a different Success', () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        checkFlip(index, mask);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('exhaustively: every byte position with several masks, and every mask on bytes 0-5', () => {
    for (let index = 0; index < bytes.length; index++) {
      for (const mask of [0x01, 0x02, 0x10, 0x80, 0xff]) checkFlip(index, mask);
    }
    for (let index = 0; index < 6; index++) {
      for (let mask = 1; mask < 256; mask++) checkFlip(index, mask);
    }
  });

  it('byte 0 flips that keep scope decrypt unchanged, a type flip only changes identityType', () => {
    // Low bits (0-1) and high bits (5-7) carry nothing.
    for (const mask of [0x02, 0x20, 0x40, 0x80, 0xe2]) {
      expect(flipped(0, mask)).toEqual(original);
    }
    // 0x01 would make the first byte 2: a v2 token, whose "master key id" is then unknown.
    expect(flipped(0, 0x01).status).not.toBe(S.Success);
    expect(flipped(0, 0x04)).toEqual({ ...original, identityType: 'Phone' });
    // Type bits 2 and 3 read as Phone, as in the official SDKs (0 is Email, anything else Phone).
    expect(flipped(0, 0x08)).toEqual({ ...original, identityType: 'Phone' });
    expect(flipped(0, 0x0c)).toEqual({ ...original, identityType: 'Phone' });
    expect(flipped(0, 0x10).status).toBe(S.InvalidIdentityScope);
  });

  it('the version byte is not authenticated either: a standard-base64 v4 token relabelled v3 decrypts', () => {
    // Documents a property of the format (v3 and v4 share their layout), not a wish.
    const standard = encodeAdvertisingToken({ ...fields, encoding: 'base64' });
    const relabelled = Buffer.from(standard, 'base64');
    relabelled[1] = 112;
    expect(decryptToken(relabelled.toString('base64'), keys, 'bidstream', null, NOW_MS)).toEqual({
      ...decryptToken(standard, keys, 'bidstream', null, NOW_MS),
      advertisingTokenVersion: 3,
    });
  });

  it('tokens minted at other times keep the property (random tokens, random flips)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * HOUR_MS }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 255 }),
        (expiresIn, position, mask) => {
          const t = encodeAdvertisingToken(uid2.fields({ expiresMs: NOW_MS + expiresIn, generatedMs: NOW_MS - MINUTE_MS }));
          const b = Buffer.from(t, 'base64url');
          const index = 2 + (position % (b.length - 2)); // bytes 2.. (past prefix and version)
          b[index] ^= mask;
          expect(decryptToken(b.toString('base64url'), keys, 'sharing', null, NOW_MS).status).not.toBe(S.Success);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });
});
