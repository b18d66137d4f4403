/**
 * Hostile-input generators for the fuzzer: random bytes and text, and mutations of valid tokens
 * (bit flips, truncations, extensions, re-encodings, whitespace, huge inputs).
 */

import { seededRandom } from '../dist-bench/seeded-random.js';

export type Random = () => number;

/** The shared seeded PRNG (mulberry32). */
export const seeded: (seed: number) => Random = seededRandom;

const int = (r: Random, n: number): number => Math.floor(r() * n);

function randomBytes(r: Random, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
}

function decodeAny(token: string): Buffer {
  return Buffer.from(token, 'base64');
}

function encodeLike(token: string, bytes: Buffer, r: Random): string {
  const style = int(r, 4);
  if (style === 0) return bytes.toString('base64');
  if (style === 1) return bytes.toString('base64url');
  if (style === 2) return bytes.toString('base64').replace(/=+$/, '');
  return /[-_]/.test(token) ? bytes.toString('base64url') : bytes.toString('base64');
}

export const MUTATIONS = [
  'bit-flip', 'byte-set', 'truncate', 'extend', 're-encode', 'whitespace', 'char-swap', 'header-bytes', 'splice', 'huge', 'padding',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

export function mutate(token: string, r: Random): { input: string; mutation: Mutation } {
  const mutation = MUTATIONS[int(r, MUTATIONS.length)]!;
  const bytes = decodeAny(token);
  switch (mutation) {
    case 'bit-flip': {
      const b = Buffer.from(bytes);
      const flips = 1 + int(r, 3);
      for (let i = 0; i < flips; i++) b[int(r, b.length)]! ^= 1 << int(r, 8);
      return { input: encodeLike(token, b, r), mutation };
    }
    case 'byte-set': {
      const b = Buffer.from(bytes);
      b[int(r, Math.min(b.length, 40))] = int(r, 256);
      return { input: encodeLike(token, b, r), mutation };
    }
    case 'truncate':
      return { input: int(r, 2) ? token.slice(0, int(r, token.length)) : encodeLike(token, bytes.subarray(0, int(r, bytes.length)), r), mutation };
    case 'extend':
      return { input: int(r, 2) ? token + 'A'.repeat(1 + int(r, 8)) : encodeLike(token, Buffer.concat([bytes, randomBytes(r, 1 + int(r, 64))]), r), mutation };
    case 're-encode':
      return { input: encodeLike(token, bytes, r), mutation };
    case 'whitespace': {
      const at = int(r, token.length + 1);
      return { input: token.slice(0, at) + [' ', '\n', '\t', '\r', '\u00a0'][int(r, 5)] + token.slice(at), mutation };
    }
    case 'char-swap': {
      const at = int(r, token.length);
      const chars = 'AZaz09+/-_=.!é\u0000\uD800';
      return { input: token.slice(0, at) + chars[int(r, chars.length)] + token.slice(at + 1), mutation };
    }
    case 'header-bytes': {
      const b = Buffer.from(bytes);
      b[int(r, 6)] = [0, 2, 3, 0x13, 0x17, 112, 128, 255][int(r, 8)]!;
      return { input: encodeLike(token, b, r), mutation };
    }
    case 'splice': {
      const cut = int(r, token.length);
      return { input: token.slice(0, cut) + token.slice(int(r, token.length)), mutation };
    }
    case 'huge':
      return { input: token.repeat(2 + int(r, 400)), mutation };
    case 'padding':
      return { input: token.replace(/=+$/, '') + '='.repeat(int(r, 4)), mutation };
  }
}

/** Inputs with no valid token behind them. */
export function randomInput(r: Random): string {
  const kind = int(r, 5);
  if (kind === 0) return randomBytes(r, int(r, 300)).toString('base64');
  if (kind === 1) return randomBytes(r, int(r, 300)).toString('base64url');
  if (kind === 2) return Array.from({ length: int(r, 300) }, () => String.fromCharCode(int(r, 0x3000))).join('');
  if (kind === 3) return randomBytes(r, int(r, 64)).toString('latin1');
  // A plausible header followed by junk.
  return ['A4AA', 'A3AA', 'AgAA', 'E4AA', 'B4AA', 'AIAA'][int(r, 6)]! + randomBytes(r, int(r, 250)).toString('base64url');
}
