/**
 * Hostile token corpus for the backend differential test: the engine's mixed corpus plus
 * mutations (bit flips, truncations, extensions, re-encodings, character swaps, junk) and tokens
 * crafted with the real keys but a broken inner structure (short layers, bad id lengths, bad
 * padding, identity-type bits, foreign scope, extreme times), so the decoder's every bounds check
 * is reached past a valid tag. Deterministic for a seed.
 */
import { cbcEncrypt, gcmEncrypt } from '../../src/crypto/aes.js';
import { NOW_MS, mixedCorpus, prng, type CorpusKeys, type CorpusToken } from '../engine/mixed-corpus.js';
import type { Input } from './harness.js';

type Rnd = () => number;
const DAY = 86_400_000;

const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);
const pick = <T>(rnd: Rnd, items: readonly T[]): T => items[int(rnd, items.length)]!;
function bytes(rnd: Rnd, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  return b;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';
const ODD_CHARS = ['=', ' ', '\n', '\t', '-', '_', '+', '/', '.', '\u00e9', '\u20ac', '\u0000', '\ud83d\ude00', '\u0080', '\u00ff'];

function int64(rnd: Rnd): bigint {
  switch (int(rnd, 6)) {
    case 0:
      return BigInt.asIntN(64, BigInt(`0x${bytes(rnd, 8).toString('hex')}`)); // anything, incl. > 2^53
    case 1:
      return BigInt(-int(rnd, 1e9));
    case 2:
      return 2n ** 53n + BigInt(int(rnd, 5)) - 2n;
    default:
      return BigInt(NOW_MS + int(rnd, 4 * DAY) - 2 * DAY);
  }
}

function keyId(rnd: Rnd, keys: CorpusKeys, want: 'master' | 'site'): number {
  const r = rnd();
  if (r < 0.85) return want === 'master' ? keys.master.id : keys.site.id;
  if (r < 0.92) return want === 'master' ? keys.site.id : keys.master.id; // the other known key
  return pick(rnd, [0, -1, 999_999, 2 ** 31 - 1, -(2 ** 31), int(rnd, 5000)]);
}

function encodeText(rnd: Rnd, raw: Buffer, version: number): string {
  if (version !== 4) return raw.toString('base64');
  return rnd() < 0.7 ? raw.toString('base64url') : raw.toString('base64');
}

/** v3/v4 with real keys and a structure that is broken in one chosen way (or not at all). */
function craftV3(rnd: Rnd, keys: CorpusKeys): string {
  const version = rnd() < 0.6 ? 4 : 3;
  const fault = int(rnd, 10);
  const uidLength = pick(rnd, [0, 1, 16, 32, 33, 64, 300]);
  let site = Buffer.concat([bytes(rnd, 36), bytes(rnd, uidLength)]);
  site.writeInt32BE(pick(rnd, [77, 10, 0, -5, 2 ** 31 - 1]), 0);
  site.writeInt32BE(pick(rnd, [0, 1, 2, 3, 0x7fffffff, -1]), 16);
  site.writeBigInt64BE(int64(rnd), 20);
  if (fault === 0) site = site.subarray(0, int(rnd, 36)); // site layer shorter than its header
  const siteIv = bytes(rnd, 12);
  let siteSealed = gcmEncrypt(keys.site.secret, site, siteIv);
  if (fault === 1) siteSealed = siteSealed.subarray(0, int(rnd, siteSealed.length)); // truncated tag/body
  if (fault === 2) siteSealed[siteSealed.length - 1 - int(rnd, 16)]! ^= 1 << int(rnd, 8); // tag bit
  if (fault === 3) siteSealed = gcmEncrypt(keys.site.secret, Buffer.alloc(0), siteIv); // empty ciphertext

  let master = Buffer.concat([bytes(rnd, 33), siteSealed]);
  master.writeBigInt64BE(int64(rnd), 0);
  master.writeBigInt64BE(rnd() < 0.5 ? BigInt(NOW_MS - 1000) : int64(rnd), 8);
  master.writeInt32BE(keyId(rnd, keys, 'site'), 29);
  if (fault === 4) master = master.subarray(0, int(rnd, 34)); // master layer shorter than its header

  const euid = rnd() < 0.15;
  const typeBits = rnd() < 0.8 ? int(rnd, 2) : 2 + int(rnd, 2);
  const prefix = rnd() < 0.1 ? 0 : rnd() < 0.05 ? int(rnd, 256) : ((euid ? 1 : 0) << 4) | (typeBits << 2) | 3;
  const root = Buffer.alloc(6);
  root[0] = prefix;
  root[1] = version === 3 ? 112 : 128;
  root.writeInt32BE(keyId(rnd, keys, 'master'), 2);
  let sealed = gcmEncrypt(keys.master.secret, master, bytes(rnd, 12));
  if (fault === 5) sealed = sealed.subarray(0, int(rnd, 28)); // shorter than iv + tag
  return encodeText(rnd, Buffer.concat([root, sealed]), version);
}

/** v2 with real keys and a broken identity, master layer or padding (or none). */
function craftV2(rnd: Rnd, keys: CorpusKeys): string {
  const fault = int(rnd, 9);
  const id = Buffer.from(`user${int(rnd, 1e6)}@example.com`.slice(0, 1 + int(rnd, 24)), 'utf8');
  let identity = Buffer.concat([Buffer.alloc(8), id, Buffer.alloc(12)]);
  identity.writeInt32BE(pick(rnd, [77, 10, -1]), 0);
  identity.writeInt32BE(fault === 0 ? pick(rnd, [-1, -(2 ** 31), id.length + 1 + int(rnd, 40), 2 ** 31 - 1]) : id.length, 4);
  identity.writeInt32BE(pick(rnd, [0, 1, 2, 3]), 8 + id.length);
  identity.writeBigInt64BE(int64(rnd), 12 + id.length);
  if (fault === 1) identity = identity.subarray(0, int(rnd, 20)); // shorter than the fixed fields
  const siteKey = keys.site.secret;
  const identityIv = bytes(rnd, 16);
  let inner = cbcEncrypt(siteKey, identityIv, identity);
  if (fault === 2) inner = Buffer.concat([inner, bytes(rnd, 16)]); // random last block: bad padding (usually)
  if (fault === 3) inner = inner.subarray(0, inner.length - 1 - int(rnd, 15)); // unaligned
  if (fault === 4) inner = Buffer.alloc(0);

  let master = Buffer.concat([Buffer.alloc(12), identityIv, inner]);
  master.writeBigInt64BE(int64(rnd), 0);
  master.writeInt32BE(keyId(rnd, keys, 'site'), 8);
  if (fault === 5) master = master.subarray(0, int(rnd, 28));
  const masterIv = bytes(rnd, 16);
  let outer = cbcEncrypt(keys.master.secret, masterIv, master);
  if (fault === 6) outer[outer.length - 1 - int(rnd, 32)]! ^= 1 << int(rnd, 8);
  const root = Buffer.alloc(5);
  root[0] = 2;
  root.writeInt32BE(keyId(rnd, keys, 'master'), 1);
  return Buffer.concat([root, masterIv, outer]).toString('base64');
}

/** Bytes under the token text, in whichever alphabet it used; null if it is not base64 at all. */
function decodeLoose(token: string): Buffer | null {
  return /^[A-Za-z0-9+/\-_]*={0,2}$/.test(token) ? Buffer.from(token, 'base64') : null;
}

function mutate(rnd: Rnd, token: string): string {
  const raw = decodeLoose(token);
  const url = /[-_]/.test(token);
  const reencode = (b: Buffer): string => (url ? b.toString('base64url') : b.toString('base64'));
  switch (int(rnd, 9)) {
    case 0: // bit flips in the bytes, re-encoded: headers, key ids, IVs, ciphertexts, tags
    case 1: {
      if (!raw || raw.length === 0) return token;
      const b = Buffer.from(raw);
      const flips = 1 + int(rnd, 3);
      for (let i = 0; i < flips; i++) b[rnd() < 0.3 ? int(rnd, Math.min(8, b.length)) : int(rnd, b.length)]! ^= 1 << int(rnd, 8);
      return reencode(b);
    }
    case 2: // truncated text
      return token.slice(0, int(rnd, token.length + 1));
    case 3: // truncated bytes, re-encoded
      return raw ? reencode(raw.subarray(0, int(rnd, raw.length + 1))) : token;
    case 4: // extended text or bytes
      return rnd() < 0.5
        ? token + Array.from({ length: 1 + int(rnd, 6) }, () => pick(rnd, [...ALPHABET, '='])).join('')
        : raw ? reencode(Buffer.concat([raw, bytes(rnd, 1 + int(rnd, 40))])) : token;
    case 5: {
      // the same bytes in another encoding: padded/unpadded, either alphabet, mixed alphabets
      if (!raw) return token;
      const std = raw.toString('base64');
      switch (int(rnd, 5)) {
        case 0:
          return std;
        case 1:
          return std.replace(/=+$/, '');
        case 2:
          return raw.toString('base64url');
        case 3:
          return raw.toString('base64url') + '='.repeat((4 - (raw.toString('base64url').length % 4)) % 4);
        default:
          return std.replace(/[+/]/g, (c) => (rnd() < 0.5 ? c : c === '+' ? '-' : '_'));
      }
    }
    case 6: {
      // one character replaced or inserted: alphabet, padding, whitespace, non-ASCII
      const at = int(rnd, token.length + 1);
      const c = rnd() < 0.5 ? pick(rnd, [...ALPHABET]) : pick(rnd, ODD_CHARS);
      return rnd() < 0.5 ? token.slice(0, at) + c + token.slice(at + 1) : token.slice(0, at) + c + token.slice(at);
    }
    case 7: // padding games
      return token.replace(/=+$/, '') + '='.repeat(int(rnd, 4));
    default: // header rewritten to another version byte
      if (!raw || raw.length < 2) return token;
      {
        const b = Buffer.from(raw);
        if (rnd() < 0.5) b[0] = pick(rnd, [2, 0, 3, 0x13, 0x17, 0xff]);
        else b[1] = pick(rnd, [112, 128, 0, 2, 113]);
        return reencode(b);
      }
  }
}

function junk(rnd: Rnd): unknown {
  switch (int(rnd, 6)) {
    case 0:
      return pick(rnd, [undefined, null, 42, {}, ['AAAA'], '', 'A', 'AAA', 'AAAA', '====', 'AA==']);
    case 1: // long text around the 2048-character limit
      return Array.from({ length: 2040 + int(rnd, 20) }, () => pick(rnd, [...ALPHABET])).join('');
    case 2: // random bytes under a forced version header
      return Buffer.concat([
        Buffer.from(pick(rnd, [[2, 0, 0, 3, 233], [3, 112, 0, 0, 3, 233], [3, 128, 0, 0, 3, 233], [0x13, 128]])),
        bytes(rnd, int(rnd, 200)),
      ]).toString(rnd() < 0.5 ? 'base64' : 'base64url');
    case 3:
      return Array.from({ length: int(rnd, 300) }, () => pick(rnd, [...ALPHABET, ...ODD_CHARS])).join('');
    default:
      return bytes(rnd, int(rnd, 400)).toString(rnd() < 0.5 ? 'base64' : 'base64url');
  }
}

/** Tokens minted with real keys, built once: minting is the slow part of making a corpus. */
export interface CorpusPool {
  base: CorpusToken[];
  crafted: string[];
}

export function corpusPool(keys: CorpusKeys, size: number, seed: number): CorpusPool {
  const rnd = prng(seed);
  return {
    base: mixedCorpus(size, keys, seed + 1),
    crafted: Array.from({ length: size }, () => (rnd() < 0.75 ? craftV3(rnd, keys) : craftV2(rnd, keys))),
  };
}

/** `count` inputs drawn from `pool` (as minted, mutated, or junk), mostly at NOW_MS. */
export function differentialCorpus(pool: CorpusPool, count: number, seed: number): Input[] {
  const rnd = prng(seed);
  const out: Input[] = [];
  for (let i = 0; i < count; i++) {
    const r = rnd();
    const base = pick(rnd, pool.base);
    let token: unknown;
    let domain: string | null | undefined = null;
    if (r < 0.2) {
      token = base.token;
      domain = base.domain;
    } else if (r < 0.45) {
      token = mutate(rnd, base.token);
      if (rnd() < 0.5) domain = base.domain;
    } else if (r < 0.7) {
      token = pick(rnd, pool.crafted);
      if (rnd() < 0.3) token = mutate(rnd, token as string);
    } else if (r < 0.87) {
      token = mutate(rnd, mutate(rnd, base.token));
    } else {
      token = junk(rnd);
    }
    if (domain === null && rnd() < 0.3) domain = pick(rnd, ['news.example', 'NEWS.EXAMPLE', 'com.example.app', 'evil.example', '', 'n\u00e9ws.example']);
    const t = rnd();
    const nowMs = t < 0.9 ? NOW_MS : t < 0.95 ? NOW_MS + 400 * DAY : NOW_MS + int(rnd, 8 * DAY) - 4 * DAY;
    out.push({ token, domain, nowMs });
  }
  return out;
}
