/** safeExcerpt: one printable line, credentials redacted (as given or encoded) before any cut. */
import { describe, expect, it } from 'vitest';
import { safeExcerpt } from '../../src/service/sanitize.js';

const KEY = 'UID2-C-L-123-ab+cd/ef==';

describe('safeExcerpt', () => {
  it('makes one printable line of at most max characters', () => {
    expect(safeExcerpt('a\r\nb\u0000c\u202ed   e')).toBe('a b c d e');
    expect(safeExcerpt('x'.repeat(500), [], 20)).toBe(`${'x'.repeat(19)}…`);
    expect(safeExcerpt('plain text', [undefined, ''])).toBe('plain text');
  });

  it('redacts a credential split by controls or white space, and its encodings in one pattern', () => {
    expect(safeExcerpt(`k=${KEY.slice(0, 5)}\u0000\r\n${KEY.slice(5)};`, [KEY])).toBe('k=[redacted];');
    expect(safeExcerpt(`k=${encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())};`, [KEY])).toBe('k=[redacted];');
    expect(safeExcerpt(`k=${KEY.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_')};`, [KEY])).toBe('k=[redacted];');
  });

  it('drops the unrecognisable start of a credential at the end of a cut text, and only that', () => {
    expect(safeExcerpt(`error: bad key ${KEY.slice(0, 9)}`, [KEY], 200, true)).toBe('error: bad key');
    expect(safeExcerpt(`error: bad key ${encodeURIComponent(KEY).slice(0, 20)}`, [KEY], 200, true)).toBe('error: bad key');
    // Not cut: the same text is shown as it is (it holds no whole credential).
    expect(safeExcerpt(`error: bad key ${KEY.slice(0, 9)}`, [KEY])).toBe(`error: bad key ${KEY.slice(0, 9)}`);
  });

  it('reads a bounded head of a huge text and treats the rest as cut', () => {
    const text = `start${' '.repeat(10_000_000)}${KEY}`;
    expect(safeExcerpt(text, [KEY])).toBe('start');
    expect(safeExcerpt(`${'x '.repeat(5_000_000)}`, [KEY]).length).toBe(200);
  });
});
