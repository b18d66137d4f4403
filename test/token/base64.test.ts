/**
 * The strict base64 codec (src/codec/base64.ts) that token decoding relies on: the wire-format
 * doc requires that any character outside the alphabet, whitespace included, is rejected, where
 * Node's own decoder would silently skip it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Head24, decodeBase64Strict, encodeBase64, encodeBase64Url, hasUrlCharacters } from '../../src/codec/base64.js';

describe('decodeBase64Strict', () => {
  it('decodes standard base64 with and without padding', () => {
    expect(decodeBase64Strict('aGVsbG8=', 'standard')).toEqual(Buffer.from('hello'));
    expect(decodeBase64Strict('aGVsbG8', 'standard')).toEqual(Buffer.from('hello'));
    expect(decodeBase64Strict('aGVsbA==', 'standard')).toEqual(Buffer.from('hell'));
    expect(decodeBase64Strict('aGVsbA', 'standard')).toEqual(Buffer.from('hell'));
    expect(decodeBase64Strict('aGVs', 'standard')).toEqual(Buffer.from('hel'));
    expect(decodeBase64Strict('', 'standard')).toEqual(Buffer.alloc(0));
  });

  it('keeps the two alphabets apart', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0xfe]);
    const standard = bytes.toString('base64'); // '+/+/' characters
    const url = bytes.toString('base64url');
    expect(standard).toMatch(/[+/]/);
    expect(url).toMatch(/[-_]/);
    expect(decodeBase64Strict(standard, 'standard')).toEqual(bytes);
    expect(decodeBase64Strict(url, 'url')).toEqual(bytes);
    expect(decodeBase64Strict(url, 'standard')).toBeNull();
    expect(decodeBase64Strict(standard, 'url')).toBeNull();
    expect(decodeBase64Strict(standard, 'either')).toEqual(bytes);
    expect(decodeBase64Strict(url, 'either')).toEqual(bytes);
  });

  it.each([
    ['a space', 'aGVs bG8='],
    ['a leading space', ' aGVsbG8='],
    ['a trailing newline', 'aGVsbG8=\n'],
    ['a newline inside', 'aGVs\nbG8='],
    ['a tab', 'aGVs\tbG8='],
    ['a carriage return', 'aGVsbG8\r'],
    ['a NUL', 'aGVs\u0000bG8='],
    ['a dot', 'aGVs.bG8='],
    ['a non-ASCII letter', 'aGVs\u00e9G8='],
    ['a character above 0xFFFF', 'aGVs\u{1F600}bG8='],
    ['padding inside', 'aG=sbG8='],
    ['padding in the middle unit', 'aGV=bG8='],
    ['padding after a complete unit', 'aGVs='],
    ['too much padding', 'aGVsbA==='],
    ['only padding', '===='],
    ['one padding char where two are needed', 'aGVsbA='],
    ['a dangling single character', 'aGVsb'],
    ['a dangling character with padding', 'aGVsb==='],
  ])('rejects %s', (_name, text) => {
    expect(decodeBase64Strict(text, 'standard')).toBeNull();
    expect(decodeBase64Strict(text, 'url')).toBeNull();
    expect(decodeBase64Strict(text, 'either')).toBeNull();
  });

  it('round-trips random bytes in both alphabets, padded and unpadded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const standard = encodeBase64(bytes);
        const url = encodeBase64Url(bytes);
        expect(url).not.toMatch(/[=+/]/);
        expect(decodeBase64Strict(standard, 'standard')).toEqual(buf);
        expect(decodeBase64Strict(standard.replace(/=+$/, ''), 'standard')).toEqual(buf);
        expect(decodeBase64Strict(url, 'url')).toEqual(buf);
        expect(decodeBase64Strict(url, 'either')).toEqual(buf);
        expect(decodeBase64Strict(standard, 'either')).toEqual(buf);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('agrees with Node on valid text and never throws on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40, unit: 'binary' }), (text) => {
        const decoded = decodeBase64Strict(text, 'either');
        if (decoded !== null) {
          expect(text).toMatch(/^[A-Za-z0-9+/_-]*={0,2}$/);
          expect(decoded).toEqual(Buffer.from(text, 'base64'));
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('encodes views of larger buffers by their own bytes only', () => {
    const big = Buffer.from([1, 2, 3, 4, 5, 6]);
    const view = big.subarray(2, 5);
    expect(encodeBase64(view)).toBe(Buffer.from([3, 4, 5]).toString('base64'));
    expect(encodeBase64Url(new Uint8Array(big.buffer, big.byteOffset + 1, 2))).toBe(Buffer.from([2, 3]).toString('base64url'));
  });
});

describe('hasUrlCharacters', () => {
  it.each([
    ['AAAA', false],
    ['A+/A', false],
    ['A-AA', true],
    ['AA_A', true],
    ['', false],
  ])('%j -> %s', (text, expected) => {
    expect(hasUrlCharacters(text)).toBe(expected);
  });
});

describe('base64Head24', () => {
  /** What it replaces: the first four characters decoded strictly on their own, as three bytes or nothing. */
  function reference(text: string): number {
    const head = text.slice(0, 4);
    const bytes = decodeBase64Strict(head, hasUrlCharacters(head) ? 'url' : 'standard');
    return bytes === null || bytes.length < 3 ? -1 : (bytes[0]! << 16) | (bytes[1]! << 8) | bytes[2]!;
  }

  it('equals the strict decoder of the first four characters on any text', () => {
    const chars = 'AZaz09+/-_= \n\u00e9\u0100!'.split('');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 8, unit: fc.constantFrom(...chars) }), fc.string({ maxLength: 8, unit: 'binary' })), (text) => {
        expect(base64Head24(text)).toBe(reference(text));
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it.each([
    ['AgAA', 0x020000],
    ['E4AAAAAB', 0x138000],
    ['____', 0xffffff],
    ['////', 0xffffff],
    ['/_AA', -1],
    ['AgA=', -1],
    ['AgA', -1],
    ['Ag\u00c0A', -1],
  ])('%s -> %i', (text, head) => {
    expect(base64Head24(text)).toBe(head);
    expect(reference(text)).toBe(head);
  });
});
