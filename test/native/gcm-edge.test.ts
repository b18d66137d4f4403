/**
 * AES-256-GCM edge cases: the addon's prepared-context opening must agree with node:crypto
 * pinned to a 16-byte tag (src/crypto/aes.ts) on every modified tag bit, truncated tags,
 * empty ciphertexts, short inputs and extensions, also when one context opens many blobs in a
 * row with failures in between (the per-key reuse of the batch decoder). Then the same edges
 * inside real v4 tokens, through both worker backends.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gcmDecrypt, gcmEncrypt } from '../../src/crypto/aes.js';
import { parseKeys } from '../../src/index.js';
import { NOW_MS, keyResponse } from '../engine/mixed-corpus.js';
import { NATIVE_EXPECTED, requireNative, runBackend, snapshotOf } from './harness.js';

const key = createHash('sha256').update('gcm-edge').digest();
const iv = createHash('sha256').update('iv').digest().subarray(0, 12);
const plain = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));

/** Every blob worth checking for one plaintext length. */
function edgeBlobs(length: number): Buffer[] {
  const sealed = gcmEncrypt(key, plain(length), iv);
  const blobs: Buffer[] = [sealed];
  const flipped = (at: number, bit: number): Buffer => {
    const b = Buffer.from(sealed);
    b[at]! ^= 1 << bit;
    return b;
  };
  for (let bit = 0; bit < 128; bit++) blobs.push(flipped(sealed.length - 16 + (bit >> 3), bit & 7)); // every tag bit
  for (let i = 0; i < 12; i++) blobs.push(flipped(i, i % 8)); // IV bits
  for (let i = 12; i < sealed.length - 16; i++) blobs.push(flipped(i, (i * 3) % 8)); // ciphertext bits
  for (let cut = 1; cut <= sealed.length; cut++) blobs.push(sealed.subarray(0, sealed.length - cut)); // truncations
  blobs.push(Buffer.concat([sealed, Buffer.from([0])]), Buffer.concat([sealed, sealed.subarray(-16)]));
  // A tag truncated to 12 or 4 bytes (what Node would accept without authTagLength).
  for (const tagLength of [12, 4]) {
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
    const body = c.update(plain(length));
    c.final();
    blobs.push(Buffer.concat([iv, body, c.getAuthTag()]));
  }
  blobs.push(Buffer.alloc(28), Buffer.alloc(0));
  return blobs;
}

const LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255];

describe.skipIf(!NATIVE_EXPECTED)('AES-GCM edge cases: addon vs node:crypto (16-byte tag)', () => {
  const addon = requireNative();

  it.each(LENGTHS)('plaintext of %i bytes', (length) => {
    const blobs = edgeBlobs(length);
    const expected = blobs.map((b) => gcmDecrypt(key, b));
    // One context for all blobs, failures interleaved with successes.
    expect(addon().gcmDecrypt(key, blobs)).toEqual(expected);
    // A fresh context per blob.
    expect(blobs.map((b) => addon().gcmDecrypt(key, [b])[0])).toEqual(expected);
    expect(expected[0]).toEqual(plain(length));
    expect(expected.filter((r) => r !== null)).toHaveLength(1);
  });

  it('an empty ciphertext with a valid tag opens to an empty buffer, not a failure', () => {
    const sealed = gcmEncrypt(key, Buffer.alloc(0), iv);
    expect(sealed).toHaveLength(28);
    expect(addon().gcmDecrypt(key, [sealed, sealed])).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
    expect(gcmDecrypt(key, sealed)).toEqual(Buffer.alloc(0));
  });

  it('rejects bad arguments with a TypeError', () => {
    expect(() => addon().gcmDecrypt(key.subarray(0, 16), [])).toThrow(TypeError);
    expect(() => addon().gcmDecrypt(key, [new Uint16Array(4) as unknown as Uint8Array])).toThrow();
  });
});

describe.skipIf(!NATIVE_EXPECTED)('GCM edges inside v4 tokens, both backends', () => {
  requireNative();

  it('site and master layers with flipped tag bits, truncated tags and empty ciphertexts', () => {
    const k = keyResponse(5000, 'gcm-edge');
    const snapshot = snapshotOf(parseKeys(k.json));
    const tokens: string[] = [];
    const token = (master: Buffer, mutateOuter?: (sealed: Buffer) => Buffer): string => {
      let sealed = gcmEncrypt(k.master.secret, master, iv);
      if (mutateOuter) sealed = mutateOuter(sealed);
      const root = Buffer.from([0x03, 128, 0, 0, 0, 0]);
      root.writeInt32BE(k.master.id, 2);
      return Buffer.concat([root, sealed]).toString('base64url');
    };
    const masterWith = (siteSealed: Buffer): Buffer => {
      const header = Buffer.alloc(33);
      header.writeBigInt64BE(BigInt(NOW_MS + 60_000), 0);
      header.writeBigInt64BE(BigInt(NOW_MS - 1000), 8);
      header.writeInt32BE(k.site.id, 29);
      return Buffer.concat([header, siteSealed]);
    };
    const site = Buffer.concat([Buffer.alloc(36), plain(32)]);
    site.writeInt32BE(10, 0);
    const siteSealed = gcmEncrypt(k.site.secret, site, iv);
    tokens.push(token(masterWith(siteSealed))); // valid
    for (let bit = 0; bit < 128; bit += 5) {
      const s = Buffer.from(siteSealed);
      s[s.length - 16 + (bit >> 3)]! ^= 1 << (bit & 7);
      tokens.push(token(masterWith(s)));
      tokens.push(token(masterWith(siteSealed), (m) => ((m[m.length - 16 + (bit >> 3)]! ^= 1 << (bit & 7)), m)));
    }
    for (const cut of [1, 4, 15, 16, 17, 40]) {
      tokens.push(token(masterWith(siteSealed.subarray(0, siteSealed.length - cut))));
      tokens.push(token(masterWith(siteSealed), (m) => m.subarray(0, m.length - cut)));
    }
    tokens.push(token(masterWith(gcmEncrypt(k.site.secret, Buffer.alloc(0), iv)))); // empty site layer
    tokens.push(token(Buffer.alloc(0))); // empty master layer

    const inputs = tokens.map((t) => ({ token: t, nowMs: NOW_MS }));
    const native = runBackend('native', snapshot, 'bidstream', inputs);
    const reference = runBackend('node-crypto', snapshot, 'bidstream', inputs);
    expect(native.records).toEqual(reference.records);
    expect(native.results).toEqual(reference.results);
    expect(reference.results[0]!.status).toBe('Success');
    expect(reference.results.slice(1).every((r) => r.status === 'InvalidPayload')).toBe(true);
  });
});
