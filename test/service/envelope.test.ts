/** The service envelope: the shared response vectors, round trips both ways, and every rejection. */
import { describe, expect, it } from 'vitest';
import { EnvelopeError, NonceMismatchError, ResponseTimestampError, SecretKeyError, Uid2Error } from '../../src/index.js';
import { decodeSecretKey, openRequest, openResponse, sealRequest, sealResponse } from '../../src/testing.js';
import { gcmDecrypt } from '../../src/crypto/aes.js';
import { MAX_RESPONSE_CLOCK_SKEW_MS } from '../../src/service/envelope.js';
import { loadVectors } from '../helpers/vectors.js';

const cases = loadVectors().responseEnvelopes;

/** The timestamp sealed in a response envelope (now, when it does not decrypt). */
function vectorTime(secret: Buffer, base64: string): number {
  const plain = gcmDecrypt(secret, Buffer.from(base64, 'base64'), 0);
  return plain ? Number(plain.readBigInt64BE(0)) : Date.now();
}
const SECRET = Buffer.alloc(32, 7);
const OTHER_SECRET = Buffer.alloc(32, 8);

describe('responseEnvelopes vectors', () => {
  it('has cases of both outcomes', () => {
    expect(cases.some((c) => c.expect.ok)).toBe(true);
    expect(cases.some((c) => !c.expect.ok)).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const secret = decodeSecretKey(c.secretKey);
    const nonce = Buffer.from(c.nonceHex, 'hex');
    // The vectors were sealed long ago: they are opened at the time they carry.
    const sealedAt = vectorTime(secret, c.responseBase64);
    if (c.expect.ok) {
      const opened = openResponse(secret, c.responseBase64, nonce, sealedAt);
      expect(JSON.parse(opened.payload.toString('utf8'))).toEqual(c.expect.json);
      expect(opened.nonce.equals(nonce)).toBe(true);
      expect(opened.timestampMs).toBe(sealedAt);
      // The same bytes sent raw (application/octet-stream) open identically.
      expect(openResponse(secret, Buffer.from(c.responseBase64, 'base64'), nonce, sealedAt).payload).toEqual(opened.payload);
    } else {
      let error: unknown;
      try {
        openResponse(secret, c.responseBase64, nonce, sealedAt);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(Uid2Error);
      const code = (error as Uid2Error).code;
      if (c.name.includes('nonce')) expect(code).toBe('UID2_ERR_NONCE_MISMATCH');
      else expect(code).toBe('UID2_ERR_ENVELOPE');
    }
  });
});

describe('request envelope', () => {
  it('is 0x01 | GCM(secret, timestamp | nonce | payload) and opens on the service side', () => {
    const payload = Buffer.from('{"hello":1}');
    const env = sealRequest(SECRET, payload, { nowMs: 1_767_225_600_123 });
    expect(env.bytes[0]).toBe(1);
    expect(env.nonce).toHaveLength(8);
    expect(env.bytes).toHaveLength(1 + 12 + 8 + 8 + payload.length + 16);
    const opened = openRequest(SECRET, env.bytes);
    expect(opened.timestampMs).toBe(1_767_225_600_123);
    expect(opened.nonce.equals(env.nonce)).toBe(true);
    expect(opened.payload.toString()).toBe('{"hello":1}');
  });

  it('uses a fresh nonce and IV each time', () => {
    const a = sealRequest(SECRET);
    const b = sealRequest(SECRET);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.bytes.equals(b.bytes)).toBe(false);
  });

  it('rejects another version, a wrong secret, an empty or short envelope', () => {
    const env = sealRequest(SECRET);
    const v2 = Buffer.from(env.bytes);
    v2[0] = 2;
    expect(() => openRequest(SECRET, v2)).toThrow(/version 2 is not supported/);
    expect(() => openRequest(OTHER_SECRET, env.bytes)).toThrow(EnvelopeError);
    expect(() => openRequest(SECRET, Buffer.alloc(0))).toThrow(/empty/);
    expect(() => openRequest(SECRET, env.bytes.subarray(0, 30))).toThrow(/too short/);
  });
});

describe('response envelope', () => {
  const nonce = Buffer.from('0102030405060708', 'hex');

  it('round-trips as base64 text and as raw bytes, with the service timestamp', () => {
    const at = Date.now() - 1234;
    const sealed = sealResponse(SECRET, nonce, Buffer.from('{"status":"success"}'), at);
    for (const body of [sealed.toString('base64'), sealed, `${sealed.toString('base64')}\n`]) {
      const opened = openResponse(SECRET, body, nonce);
      expect(opened.payload.toString()).toBe('{"status":"success"}');
      expect(opened.timestampMs).toBe(at);
    }
  });

  it('refuses a timestamp more than 5 minutes from the local clock, with its own code', () => {
    expect(MAX_RESPONSE_CLOCK_SKEW_MS).toBe(300_000);
    const now = 1_760_000_000_000;
    for (const at of [0, 8.64e15, -1, Number.MAX_SAFE_INTEGER, now - 300_001, now + 300_001]) {
      const sealed = sealResponse(SECRET, nonce, Buffer.from('{}'), at);
      let error: unknown;
      try {
        openResponse(SECRET, sealed, nonce, now);
      } catch (err) {
        error = err;
      }
      expect(error, String(at)).toBeInstanceOf(ResponseTimestampError);
      expect(error).toMatchObject({ code: 'UID2_ERR_RESPONSE_TIMESTAMP', timestampMs: at });
      expect((error as Error).message).toMatch(/^response envelope timestamp -?\d+ \(Unix ms\) is \d+ s (ahead of|behind) this machine's clock; more than 300 s is refused \(a wrong clock here or at the service\)$/);
    }
    for (const at of [now, now - 300_000, now + 300_000]) expect(openResponse(SECRET, sealResponse(SECRET, nonce, Buffer.from('{}'), at), nonce, now).timestampMs).toBe(at);
    // A wrong nonce is reported as such, whatever the time.
    expect(() => openResponse(SECRET, sealResponse(SECRET, nonce, Buffer.from('{}'), 0), Buffer.alloc(8), now)).toThrow(NonceMismatchError);
  });

  it.each([
    ['not base64', 'this is not base64!', EnvelopeError, /not valid base64/],
    ['whitespace inside', 'AAAA AAAA', EnvelopeError, /not valid base64/],
    ['too short', Buffer.alloc(20).toString('base64'), EnvelopeError, /too short/],
    ['empty', '', EnvelopeError, /too short/],
  ] as const)('rejects %s', (_name, body, type, message) => {
    expect(() => openResponse(SECRET, body, nonce)).toThrow(type);
    expect(() => openResponse(SECRET, body, nonce)).toThrow(message);
  });

  it('rejects a flipped bit anywhere, a wrong secret and another nonce', () => {
    const sealed = sealResponse(SECRET, nonce, Buffer.from('{}'));
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 1;
      expect(() => openResponse(SECRET, bad, nonce)).toThrow(EnvelopeError);
    }
    expect(() => openResponse(OTHER_SECRET, sealed, nonce)).toThrow(/wrong secret key or altered data/);
    expect(() => openResponse(SECRET, sealed, Buffer.alloc(8))).toThrow(NonceMismatchError);
  });
});

describe('secret key', () => {
  it.each([
    ['not base64', 'not base64 at all'],
    ['16 bytes', Buffer.alloc(16).toString('base64')],
    ['33 bytes', Buffer.alloc(33).toString('base64')],
    ['url alphabet', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['empty', ''],
    ['not a string', 42],
  ])('rejects %s without echoing it', (_name, value) => {
    let error: unknown;
    try {
      decodeSecretKey(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SecretKeyError);
    expect((error as SecretKeyError).code).toBe('UID2_ERR_SECRET_KEY');
    if (typeof value === 'string' && value !== '') expect((error as Error).message).not.toContain(value);
  });

  it('accepts base64 of 32 bytes, surrounding whitespace ignored', () => {
    expect(decodeSecretKey(` ${SECRET.toString('base64')}\n`).equals(SECRET)).toBe(true);
  });
});
