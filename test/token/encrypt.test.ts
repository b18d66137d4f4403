/**
 * Sharing encryption (doc "Sharing: encrypting a raw UID into a v4 token"): through
 * SharingClient.encryptRawUidIntoToken, encryptRawUid and the Python-style free functions.
 */
import { describe, expect, it } from 'vitest';
import { gcmDecrypt } from '../../src/crypto/aes.js';
import {
  DecryptionStatus,
  EncryptionError,
  EncryptionStatus,
  KeysJsonError,
  SharingClient,
  Uid2Error,
  decrypt,
  decryptToken,
  encrypt,
  encryptRawUid,
  parseKeys,
} from '../../src/index.js';
import {
  CALLER_SITE_ID,
  DAY_MS,
  DAY_S,
  HOUR_S,
  MASTER_KEYSET_ID,
  MINUTE_MS,
  NOW_MS,
  NOW_S,
  SITE_KEYSET_ID,
  keysResponse,
  makeKey,
  makeSharingWorld,
  makeWorld,
  randomRawUid,
  tokenBytes,
  type World,
} from '../helpers/fixtures.js';

function sharingClient(world: World): SharingClient {
  const client = new SharingClient('https://operator.test', 'api-key', 'client-secret');
  expect(client.refreshJson(world.response)).toEqual({ success: true });
  return client;
}

function encryptOk(client: SharingClient, rawUid: string, now: number = NOW_MS): string {
  const result = client.encryptRawUidIntoToken(rawUid, now);
  expect(result.status).toBe(EncryptionStatus.Success);
  return result.encryptedData!;
}

const world = makeSharingWorld();

describe('EncryptionStatus', () => {
  it('NotInitialized before any keys', () => {
    const client = new SharingClient('https://operator.test', 'k', 's');
    expect(client.encryptRawUidIntoToken(randomRawUid(), NOW_MS)).toEqual({ status: EncryptionStatus.NotInitialized });
    expect(encryptRawUid(randomRawUid(), undefined, NOW_MS)).toEqual({ status: EncryptionStatus.NotInitialized });
  });

  it('KeysNotSynced when every key has expired (a key expiring exactly now included)', () => {
    const stale = makeSharingWorld({ masterKey: { expires: NOW_S }, siteKey: { expires: NOW_S - HOUR_S } });
    expect(sharingClient(stale).encryptRawUidIntoToken(randomRawUid(), NOW_S * 1000)).toEqual({
      status: EncryptionStatus.KeysNotSynced,
    });
  });

  it('NotAuthorizedForMasterKey with bidstream keys (no master_keyset_id)', () => {
    const bidstream = makeWorld();
    expect(bidstream.keySet.masterKeysetId).toBeUndefined();
    expect(sharingClient(bidstream).encryptRawUidIntoToken(randomRawUid(), NOW_MS)).toEqual({
      status: EncryptionStatus.NotAuthorizedForMasterKey,
    });
  });

  it('NotAuthorizedForMasterKey when the master keyset has no active key', () => {
    const future = makeSharingWorld({ masterKey: { activates: NOW_S + 10 } });
    expect(sharingClient(future).encryptRawUidIntoToken(randomRawUid(), NOW_MS).status).toBe(
      EncryptionStatus.NotAuthorizedForMasterKey,
    );
    const expiredMaster = makeSharingWorld({ masterKey: { expires: NOW_S - 10 } });
    expect(sharingClient(expiredMaster).encryptRawUidIntoToken(randomRawUid(), NOW_MS).status).toBe(
      EncryptionStatus.NotAuthorizedForMasterKey,
    );
    const missingKeyset = makeSharingWorld({ masterKeysetId: 999 });
    expect(sharingClient(missingKeyset).encryptRawUidIntoToken(randomRawUid(), NOW_MS).status).toBe(
      EncryptionStatus.NotAuthorizedForMasterKey,
    );
  });

  it('NotAuthorizedForKey when the default keyset has no active key', () => {
    const noDefault = makeSharingWorld({ defaultKeysetId: 998 });
    expect(sharingClient(noDefault).encryptRawUidIntoToken(randomRawUid(), NOW_MS)).toEqual({
      status: EncryptionStatus.NotAuthorizedForKey,
    });
    const futureSite = makeSharingWorld({ siteKey: { activates: NOW_S + 10 } });
    expect(sharingClient(futureSite).encryptRawUidIntoToken(randomRawUid(), NOW_MS).status).toBe(
      EncryptionStatus.NotAuthorizedForKey,
    );
    // default_keyset_id absent altogether.
    const absent = parseKeys(
      keysResponse({ keys: [world.master, world.site], masterKeysetId: MASTER_KEYSET_ID, callerSiteId: CALLER_SITE_ID }),
    );
    expect(encryptRawUid(randomRawUid(), absent, NOW_MS).status).toBe(EncryptionStatus.NotAuthorizedForKey);
  });

  it('keys without keyset_id are never chosen to encrypt', () => {
    const master = makeKey(10, {});
    const site = makeKey(11, {});
    const keys = parseKeys(keysResponse({ keys: [master, site], masterKeysetId: MASTER_KEYSET_ID, defaultKeysetId: SITE_KEYSET_ID }));
    expect(encryptRawUid(randomRawUid(), keys, NOW_MS).status).toBe(EncryptionStatus.NotAuthorizedForMasterKey);
  });

  it.each([
    ['not base64', 'not base64!'],
    ['base64 with whitespace', randomRawUid().slice(0, 20) + ' ' + randomRawUid().slice(21)],
    ['base64url characters', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['an empty string', ''],
    ['a dangling base64 character', 'AAAAA'],
    ['far too long', 'A'.repeat(2000)],
  ])('EncryptionFailure for a raw UID that is %s', (_name, rawUid) => {
    expect(sharingClient(world).encryptRawUidIntoToken(rawUid, NOW_MS)).toEqual({ status: EncryptionStatus.EncryptionFailure });
  });

  it('EncryptionFailure for a raw UID that is not a string', () => {
    for (const rawUid of [undefined, null, 42, Buffer.alloc(32)]) {
      expect(encryptRawUid(rawUid, world.keySet, NOW_MS)).toEqual({ status: EncryptionStatus.EncryptionFailure });
    }
  });

  it('key checks come before the raw UID check', () => {
    expect(encryptRawUid('not base64!', undefined, NOW_MS).status).toBe(EncryptionStatus.NotInitialized);
    expect(encryptRawUid('not base64!', makeWorld().keySet, NOW_MS).status).toBe(EncryptionStatus.NotAuthorizedForMasterKey);
  });
});

describe('the v4 token it produces', () => {
  it('is base64url without padding and decrypts back to the raw UID', () => {
    const client = sharingClient(world);
    for (let i = 0; i < 20; i++) {
      const rawUid = randomRawUid();
      const token = encryptOk(client, rawUid);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(client.decryptTokenIntoRawUid(token, NOW_MS)).toMatchObject({
        status: DecryptionStatus.Success,
        uid: rawUid,
        advertisingTokenVersion: 4,
      });
    }
  });

  it('uses fresh IVs: two encryptions of the same raw UID differ', () => {
    const client = sharingClient(world);
    const rawUid = randomRawUid();
    const a = encryptOk(client, rawUid);
    const b = encryptOk(client, rawUid);
    expect(a).not.toBe(b);
    const [ba, bb] = [tokenBytes(a), tokenBytes(b)];
    // Same root header, different outer IV.
    expect(ba.subarray(0, 6)).toEqual(bb.subarray(0, 6));
    expect(ba.subarray(6, 18)).not.toEqual(bb.subarray(6, 18));
    // Different inner (site layer) IV too.
    const ma = gcmDecrypt(world.master.secret, ba, 6)!;
    const mb = gcmDecrypt(world.master.secret, bb, 6)!;
    expect(ma.subarray(33, 45)).not.toEqual(mb.subarray(33, 45));
    expect(client.decryptTokenIntoRawUid(a, NOW_MS).uid).toBe(rawUid);
    expect(client.decryptTokenIntoRawUid(b, NOW_MS).uid).toBe(rawUid);
  });

  it('lays out every field as the doc says', () => {
    const rawUid = randomRawUid();
    const token = encryptOk(sharingClient(world), rawUid);
    const bytes = tokenBytes(token);
    expect(bytes[0]).toBe(0b00011); // UID2, Email, low bits 3
    expect(bytes[1]).toBe(128);
    expect(bytes.readInt32BE(2)).toBe(world.master.id);
    const master = gcmDecrypt(world.master.secret, bytes, 6)!;
    expect(Number(master.readBigInt64BE(0))).toBe(NOW_MS + 30 * DAY_MS); // expires
    expect(Number(master.readBigInt64BE(8))).toBe(NOW_MS); // generated
    expect(master.readInt32BE(16)).toBe(0); // operator site id
    expect(master.readUInt8(20)).toBe(1); // operator type
    expect(master.readInt32BE(21)).toBe(0); // operator version
    expect(master.readInt32BE(25)).toBe(0); // operator key id
    expect(master.readInt32BE(29)).toBe(world.site.id); // site key id
    const site = gcmDecrypt(world.site.secret, master, 33)!;
    expect(site.readInt32BE(0)).toBe(CALLER_SITE_ID);
    expect(Number(site.readBigInt64BE(4))).toBe(0); // publisher id
    expect(site.readInt32BE(12)).toBe(0); // client key id
    expect(site.readInt32BE(16)).toBe(0); // privacy bits
    expect(Number(site.readBigInt64BE(20))).toBe(NOW_MS); // established
    expect(Number(site.readBigInt64BE(28))).toBe(NOW_MS); // refreshed
    expect(site.subarray(36).toString('base64')).toBe(rawUid);
  });

  it('expiry = now + token_expiry_seconds (number, numeric string, or the 30-day default)', () => {
    const cases: [number | string | undefined, number][] = [
      [3600, 3600],
      ['7200', 7200],
      [String(30 * DAY_S), 30 * DAY_S],
      [undefined, 30 * DAY_S],
    ];
    for (const [tokenExpirySeconds, seconds] of cases) {
      const w = makeSharingWorld();
      const response = keysResponse({
        keys: [w.master, w.site],
        callerSiteId: CALLER_SITE_ID,
        masterKeysetId: MASTER_KEYSET_ID,
        defaultKeysetId: SITE_KEYSET_ID,
        ...(tokenExpirySeconds === undefined ? {} : { tokenExpirySeconds }),
      });
      const client = new SharingClient('https://operator.test', 'k', 's');
      expect(client.refreshJson(response).success).toBe(true);
      const token = encryptOk(client, randomRawUid());
      const result = client.decryptTokenIntoRawUid(token, NOW_MS);
      expect(result.status).toBe(DecryptionStatus.Success);
      expect(result.expiry).toEqual(new Date(NOW_MS + seconds * 1000));
      expect(result.established).toEqual(new Date(NOW_MS));
      expect(result.siteId).toBe(CALLER_SITE_ID);
      expect(result.isClientSideGenerated).toBe(false);
    }
  });

  it('a fractional now is floored to the millisecond, as decryption reads it (not EncryptionFailure)', () => {
    const client = sharingClient(world);
    for (const now of [NOW_MS + 0.25, NOW_MS + 0.999, NOW_MS - 0.5]) {
      const rawUid = randomRawUid();
      const token = encryptOk(client, rawUid, now);
      const result = client.decryptTokenIntoRawUid(token, now);
      expect(result.status).toBe(DecryptionStatus.Success);
      expect(result.uid).toBe(rawUid);
      expect(result.established).toEqual(new Date(Math.floor(now)));
      expect(result.expiry).toEqual(new Date(Math.floor(now) + 30 * DAY_MS));
    }
    const direct = encryptRawUid(randomRawUid(), world.keySet, NOW_MS + 0.5);
    expect(direct.status).toBe(EncryptionStatus.Success);
    expect(encrypt(randomRawUid(), 'UID2', world.keySet, NOW_MS + 0.5)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('a fractional token_expiry_seconds gives an expiry floored to the millisecond', () => {
    const client = sharingClient(makeSharingWorld({ tokenExpirySeconds: 1.0005 }));
    const result = client.decryptTokenIntoRawUid(encryptOk(client, randomRawUid()), NOW_MS);
    expect(result.status).toBe(DecryptionStatus.Success);
    expect(result.expiry).toEqual(new Date(NOW_MS + 1000));
  });

  it('uses the active master and default keys: latest activation that is active wins', () => {
    const olderMaster = makeKey(801, { keysetId: MASTER_KEYSET_ID, activates: NOW_S - 2 * DAY_S });
    const newerMaster = makeKey(802, { keysetId: MASTER_KEYSET_ID, activates: NOW_S - HOUR_S });
    const futureMaster = makeKey(803, { keysetId: MASTER_KEYSET_ID, activates: NOW_S + HOUR_S });
    const oldSite = makeKey(901, { keysetId: SITE_KEYSET_ID, activates: NOW_S - 2 * DAY_S });
    const newSiteExpired = makeKey(902, { keysetId: SITE_KEYSET_ID, activates: NOW_S - HOUR_S, expires: NOW_S - 1 });
    const keys = parseKeys(
      keysResponse({
        keys: [futureMaster, newerMaster, olderMaster, newSiteExpired, oldSite],
        masterKeysetId: MASTER_KEYSET_ID,
        defaultKeysetId: SITE_KEYSET_ID,
        callerSiteId: CALLER_SITE_ID,
      }),
    );
    const result = encryptRawUid(randomRawUid(), keys, NOW_MS);
    const bytes = tokenBytes(result.encryptedData!);
    expect(bytes.readInt32BE(2)).toBe(802);
    const master = gcmDecrypt(newerMaster.secret, bytes, 6)!;
    expect(master.readInt32BE(29)).toBe(901);
    // An hour later the future master key has activated and takes over.
    const later = tokenBytes(encryptRawUid(randomRawUid(), keys, NOW_MS + HOUR_S * 1000).encryptedData!);
    expect(later.readInt32BE(2)).toBe(803);
  });

  it('detects phone raw UIDs by their first character (F or B)', () => {
    const client = sharingClient(world);
    const cases: [string, 'Email' | 'Phone'][] = [
      [randomRawUid('Phone'), 'Phone'],
      [randomRawUid('Email'), 'Email'],
      ['F' + randomRawUid().slice(1), 'Phone'],
      ['B' + randomRawUid().slice(1), 'Phone'],
      ['A' + randomRawUid().slice(1), 'Email'],
      ['f' + randomRawUid().slice(1), 'Email'],
      ['b' + randomRawUid().slice(1), 'Email'],
      ['E' + randomRawUid().slice(1), 'Email'],
    ];
    for (const [rawUid, type] of cases) {
      const token = encryptOk(client, rawUid);
      expect(tokenBytes(token)[0]! & 0b1100).toBe(type === 'Phone' ? 0b0100 : 0);
      expect(client.decryptTokenIntoRawUid(token, NOW_MS)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, identityType: type });
    }
  });

  it('EUID key sets produce EUID tokens', () => {
    const euid = makeSharingWorld({ identityScope: 'EUID' });
    const client = sharingClient(euid);
    const rawUid = randomRawUid('Phone');
    const token = encryptOk(client, rawUid);
    expect(tokenBytes(token)[0]).toBe(0b10111);
    expect(client.decryptTokenIntoRawUid(token, NOW_MS)).toMatchObject({
      status: DecryptionStatus.Success,
      uid: rawUid,
      identityType: 'Phone',
    });
    // A UID2 client refuses it.
    const uid2 = makeSharingWorld({ masterKey: { secret: euid.master.secret }, siteKey: { secret: euid.site.secret } });
    expect(sharingClient(uid2).decryptTokenIntoRawUid(token, NOW_MS).status).toBe(DecryptionStatus.InvalidIdentityScope);
  });

  it('takes the time from a Date as well as from Unix ms', () => {
    const client = sharingClient(world);
    const token = client.encryptRawUidIntoToken(randomRawUid(), new Date(NOW_MS + MINUTE_MS)).encryptedData!;
    expect(client.decryptTokenIntoRawUid(token, NOW_MS + MINUTE_MS).established).toEqual(new Date(NOW_MS + MINUTE_MS));
  });
});

describe('free functions encrypt() and decrypt()', () => {
  it('round-trip with a KeySet, key JSON text or a parsed object', () => {
    for (const keys of [world.keySet, JSON.stringify(world.response), world.response]) {
      const rawUid = randomRawUid();
      const token = encrypt(rawUid, 'UID2', keys, NOW_MS);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decrypt(token, keys, NOW_MS)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, siteId: CALLER_SITE_ID });
    }
  });

  it('encrypt() takes the identity scope from its argument', () => {
    const rawUid = randomRawUid();
    const token = encrypt(rawUid, 'EUID', world.keySet, new Date(NOW_MS));
    expect(tokenBytes(token)[0]! & 0x10).toBe(0x10);
    // The UID2 key set then refuses to decrypt it.
    expect(decryptToken(token, world.keySet, 'sharing', null, NOW_MS).status).toBe(DecryptionStatus.InvalidIdentityScope);
    const euid = parseKeys({ ...world.response, body: { ...world.response.body, identity_scope: 'EUID' } });
    expect(decrypt(token, euid, NOW_MS).uid).toBe(rawUid);
  });

  it('encrypt() throws EncryptionError with the status', () => {
    const cases: [() => unknown, EncryptionStatus][] = [
      [() => encrypt(randomRawUid(), 'UID2', makeWorld().keySet, NOW_MS), EncryptionStatus.NotAuthorizedForMasterKey],
      [() => encrypt(randomRawUid(), 'UID2', makeSharingWorld({ defaultKeysetId: 5 }).keySet, NOW_MS), EncryptionStatus.NotAuthorizedForKey],
      [() => encrypt('%%%', 'UID2', world.keySet, NOW_MS), EncryptionStatus.EncryptionFailure],
      [() => encrypt(randomRawUid(), 'UID2', world.keySet, NOW_MS + 365 * DAY_MS), EncryptionStatus.KeysNotSynced],
    ];
    for (const [call, status] of cases) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(EncryptionError);
      expect(caught).toBeInstanceOf(Uid2Error);
      const error = caught as EncryptionError;
      expect(error.status).toBe(status);
      expect(error.code).toBe('UID2_ERR_ENCRYPTION');
      expect(error.message).toContain(status);
    }
  });

  it('decrypt() throws EncryptionError with the status and uses legacy rules', () => {
    const limited = makeWorld({ maxBidstreamLifetimeSeconds: 1, maxSharingLifetimeSeconds: 1 });
    // Legacy: no lifetime check.
    const longLived = limited.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + DAY_MS });
    expect(decrypt(longLived, limited.keySet, NOW_MS).status).toBe(DecryptionStatus.Success);
    const cases: [string, DecryptionStatus][] = [
      [limited.token({ expiresMs: NOW_MS - 1 }), DecryptionStatus.ExpiredToken],
      ['AAA', DecryptionStatus.InvalidPayload],
      [limited.token({ identityScope: 'EUID' }), DecryptionStatus.InvalidIdentityScope],
      // No domain can be passed, so a CSTG token fails the legacy domain check.
      [limited.token({ clientSideGenerated: true }), DecryptionStatus.DomainOrAppNameCheckFailed],
    ];
    for (const [token, status] of cases) {
      expect(() => decrypt(token, limited.keySet, NOW_MS)).toThrow(EncryptionError);
      try {
        decrypt(token, limited.keySet, NOW_MS);
      } catch (err) {
        expect((err as EncryptionError).status).toBe(status);
        expect((err as EncryptionError).message).toContain(status);
      }
    }
  });

  it('malformed key JSON throws KeysJsonError, not EncryptionError', () => {
    expect(() => encrypt(randomRawUid(), 'UID2', '{"body":[{"id":5}]}', NOW_MS)).toThrow(KeysJsonError);
    expect(() => decrypt('AAAA', 'not json', NOW_MS)).toThrow(KeysJsonError);
  });
});
