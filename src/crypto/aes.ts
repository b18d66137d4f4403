/**
 * AES-256 primitives over node:crypto. GCM always pins the tag to 16 bytes: without
 * `authTagLength`, Node 20 accepts a truncated tag, which would let a forger try 2^32 tags
 * instead of 2^128.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const GCM_IV_LENGTH = 12;
export const GCM_TAG_LENGTH = 16;
export const CBC_IV_LENGTH = 16;

/**
 * Opens `iv:12 | ciphertext | tag:16` stored in `data[start, end)`.
 * Returns the plaintext, or `null` when the input is too short or the tag does not verify.
 */
export function gcmDecrypt(key: Uint8Array, data: Uint8Array, start = 0, end = data.length): Buffer | null {
  if (end - start < GCM_IV_LENGTH + GCM_TAG_LENGTH) return null;
  const tagStart = end - GCM_TAG_LENGTH;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(start, start + GCM_IV_LENGTH), {
      authTagLength: GCM_TAG_LENGTH,
    });
    decipher.setAuthTag(data.subarray(tagStart, end));
    const plain = decipher.update(data.subarray(start + GCM_IV_LENGTH, tagStart));
    decipher.final();
    return plain;
  } catch {
    return null;
  }
}

/** Seals `plaintext` as `iv:12 | ciphertext | tag:16`, with a fresh random IV unless one is given. */
export function gcmEncrypt(key: Uint8Array, plaintext: Uint8Array, iv: Uint8Array = randomBytes(GCM_IV_LENGTH)): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_LENGTH });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** AES-256-CBC with PKCS#7 padding. Returns `null` on a bad length or bad padding. */
export function cbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return null;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}

export function cbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}
