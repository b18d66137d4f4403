/**
 * AES-256-GCM tag handling. Node 20 accepts a truncated GCM tag unless `authTagLength` is pinned,
 * which would let a forger search 2^32 tags instead of 2^128; the codec must insist on 16 bytes.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GCM_IV_LENGTH, GCM_TAG_LENGTH, gcmDecrypt, gcmEncrypt } from '../../src/crypto/aes.js';
import { DecryptionStatus, decryptToken } from '../../src/index.js';
import { NOW_MS, makeWorld, rawV3Token } from '../helpers/fixtures.js';

const key = randomBytes(32);
const plaintext = Buffer.from('the quick brown fox jumps over the lazy dog');

/** iv | ciphertext | tag with a tag of `tagLength` bytes, produced by Node itself. */
function sealWithTagLength(tagLength: number, plain: Buffer = plaintext): { sealed: Buffer; iv: Buffer; body: Buffer; tag: Buffer } {
  const iv = randomBytes(GCM_IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return { sealed: Buffer.concat([iv, body, tag]), iv, body, tag };
}

describe('gcmDecrypt', () => {
  it('opens what gcmEncrypt seals, with a fresh IV each time', () => {
    const a = gcmEncrypt(key, plaintext);
    const b = gcmEncrypt(key, plaintext);
    expect(a.length).toBe(GCM_IV_LENGTH + plaintext.length + GCM_TAG_LENGTH);
    expect(a.subarray(0, GCM_IV_LENGTH)).not.toEqual(b.subarray(0, GCM_IV_LENGTH));
    expect(gcmDecrypt(key, a)).toEqual(plaintext);
    expect(gcmDecrypt(key, b)).toEqual(plaintext);
  });

  it('works on an empty plaintext (IV and tag only)', () => {
    const sealed = gcmEncrypt(key, Buffer.alloc(0));
    expect(sealed.length).toBe(GCM_IV_LENGTH + GCM_TAG_LENGTH);
    const opened = gcmDecrypt(key, sealed);
    expect(opened).not.toBeNull();
    expect(opened!.length).toBe(0);
  });

  it('uses a given IV', () => {
    const iv = Buffer.alloc(GCM_IV_LENGTH, 7);
    const sealed = gcmEncrypt(key, plaintext, iv);
    expect(sealed.subarray(0, GCM_IV_LENGTH)).toEqual(iv);
    expect(gcmDecrypt(key, sealed)).toEqual(plaintext);
  });

  it.each([12, 4])('returns null for a genuine %i-byte tag (truncated tags are refused)', (tagLength) => {
    const { sealed, iv, body, tag } = sealWithTagLength(tagLength);
    expect(tag.length).toBe(tagLength);
    expect(gcmDecrypt(key, sealed)).toBeNull();
    // And for a truncated prefix of the real 16-byte tag.
    const full = gcmEncrypt(key, plaintext, iv);
    expect(full.subarray(GCM_IV_LENGTH, GCM_IV_LENGTH + body.length)).toEqual(body);
    expect(gcmDecrypt(key, full.subarray(0, full.length - (GCM_TAG_LENGTH - tagLength)))).toBeNull();
  });

  it('returns null for a short tag on an empty plaintext', () => {
    for (const tagLength of [4, 12]) {
      expect(gcmDecrypt(key, sealWithTagLength(tagLength, Buffer.alloc(0)).sealed)).toBeNull();
    }
  });

  it('returns null when any single tag bit is flipped', () => {
    const sealed = gcmEncrypt(key, plaintext);
    for (let bit = 0; bit < GCM_TAG_LENGTH * 8; bit++) {
      const copy = Buffer.from(sealed);
      copy[sealed.length - GCM_TAG_LENGTH + (bit >> 3)] ^= 1 << (bit & 7);
      expect(gcmDecrypt(key, copy)).toBeNull();
    }
  });

  it('returns null when the IV or ciphertext is modified, or the key is wrong', () => {
    const sealed = gcmEncrypt(key, plaintext);
    for (const index of [0, GCM_IV_LENGTH - 1, GCM_IV_LENGTH, GCM_IV_LENGTH + 10]) {
      const copy = Buffer.from(sealed);
      copy[index] ^= 0x40;
      expect(gcmDecrypt(key, copy)).toBeNull();
    }
    expect(gcmDecrypt(randomBytes(32), sealed)).toBeNull();
  });

  it('returns null for input shorter than IV + tag', () => {
    for (const length of [0, 1, 12, 27]) expect(gcmDecrypt(key, Buffer.alloc(length))).toBeNull();
    // 28 zero bytes have the right length but a tag that cannot verify.
    expect(gcmDecrypt(key, Buffer.alloc(28))).toBeNull();
  });

  it('opens a sub-range [start, end) of a larger buffer', () => {
    const sealed = gcmEncrypt(key, plaintext);
    const framed = Buffer.concat([Buffer.from([9, 9, 9]), sealed, Buffer.from([8, 8])]);
    expect(gcmDecrypt(key, framed, 3, 3 + sealed.length)).toEqual(plaintext);
    expect(gcmDecrypt(key, framed, 3)).toBeNull();
    expect(gcmDecrypt(key, framed, 3, 3 + sealed.length - 1)).toBeNull();
  });
});

describe('truncated GCM tags inside tokens', () => {
  const world = makeWorld();
  const drop4 = (layer: Buffer): Buffer => layer.subarray(0, layer.length - 4);

  it('a master layer whose tag lost its last 4 bytes is InvalidPayload', () => {
    for (const version of [3, 4] as const) {
      const token = rawV3Token(world, { version, transformMasterLayer: drop4 });
      expect(decryptToken(token, world.keySet, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidPayload);
    }
  });

  it('a site layer whose tag lost its last 4 bytes (master layer re-sealed properly) is InvalidPayload', () => {
    for (const version of [3, 4] as const) {
      const token = rawV3Token(world, { version, transformSiteLayer: drop4 });
      expect(decryptToken(token, world.keySet, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidPayload);
    }
  });

  it('a master layer sealed with a genuine 12-byte or 4-byte tag is InvalidPayload', () => {
    // Re-seal the master plaintext with Node's short tags: a decoder that let Node pick the tag
    // length from the input would accept these.
    for (const tagLength of [12, 4]) {
      const token = rawV3Token(world, {
        transformMasterLayer: (layer) => {
          const plain = gcmDecrypt(world.master.secret, layer)!;
          const iv = randomBytes(GCM_IV_LENGTH);
          const cipher = createCipheriv('aes-256-gcm', world.master.secret, iv, { authTagLength: tagLength });
          const body = Buffer.concat([cipher.update(plain), cipher.final()]);
          return Buffer.concat([iv, body, cipher.getAuthTag()]);
        },
      });
      expect(decryptToken(token, world.keySet, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.InvalidPayload);
    }
  });

  it('the same assembly with intact tags decrypts', () => {
    const token = rawV3Token(world);
    expect(decryptToken(token, world.keySet, 'bidstream', null, NOW_MS).status).toBe(DecryptionStatus.Success);
  });
});
