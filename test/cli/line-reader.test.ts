/**
 * The CLI's bounded line reader against a reference split: the same bytes fed whole, in 1-byte,
 * 2-byte and random-size pieces must give the same lines, overlong marks, line numbers and
 * progress, whatever falls on a read boundary (a CRLF, a multi-byte character, the limit).
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, overlongMessage, overlongNotes, readLineChunks, type LineChunk } from '../../src/cli/line-reader.js';

interface Split {
  lines: string[];
  /** Line numbers (from 1) of the overlong lines. */
  overlong: number[];
}

/**
 * The reference: readline's split of the whole input at once (CRLF, LF, lone CR; no empty line
 * after a final break), each line decoded alone, and a line of more than `limit` bytes marked.
 */
function referenceSplit(input: Buffer, limit: number): Split {
  const lines: string[] = [];
  const overlong: number[] = [];
  let start = 0;
  const end = (at: number): void => {
    if (at - start > limit) {
      overlong.push(lines.length + 1);
      lines.push('');
    } else lines.push(input.toString('utf8', start, at));
  };
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0x0a || input[i] === 0x0d) {
      end(i);
      if (input[i] === 0x0d && input[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < input.length) end(input.length);
  return { lines, overlong };
}

/** Feeds `pieces` to the reader and checks the chunks' own bookkeeping on the way. */
async function readAll(pieces: readonly Buffer[], limit: number, chunkLines = 3): Promise<Split & { chunks: LineChunk[] }> {
  const chunks: LineChunk[] = [];
  for await (const chunk of readLineChunks(Readable.from(pieces), chunkLines, limit)) chunks.push(chunk);
  const lines = chunks.flatMap((c) => c.lines);
  const overlong = chunks.flatMap((c) => c.overlong.map((i) => c.firstLine + i));
  let next = 1;
  for (const chunk of chunks) {
    expect(chunk.firstLine).toBe(next);
    expect(chunk.lines.length).toBeGreaterThan(0);
    expect(chunk.lines.length).toBeLessThanOrEqual(chunkLines);
    next += chunk.lines.length;
  }
  return { lines, overlong, chunks };
}

function cut(input: Buffer, sizes: (i: number) => number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let pos = 0, i = 0; pos < input.length; i++) {
    const size = Math.max(1, sizes(i));
    pieces.push(input.subarray(pos, pos + size));
    pos += size;
  }
  return pieces;
}

/** Every way of feeding `input` this test uses: whole, 1-byte, 2-byte, 3-byte and random pieces. */
function feeds(input: Buffer, seed: number): Buffer[][] {
  let state = seed >>> 0 || 1;
  const random = (): number => ((state = Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32;
  return [[input], cut(input, () => 1), cut(input, () => 2), cut(input, () => 3), cut(input, () => 1 + Math.floor(random() * 17)), cut(input, () => 1 + Math.floor(random() * 300))];
}

async function expectReference(input: Buffer, limit: number, seed = 1): Promise<void> {
  const expected = referenceSplit(input, limit);
  for (const pieces of feeds(input, seed)) {
    const { lines, overlong } = await readAll(pieces, limit);
    expect({ lines, overlong }).toEqual(expected);
  }
}

describe('readLineChunks', () => {
  it('splits as readline does, however the input is cut', async () => {
    const cases = [
      '',
      'a',
      'a\n',
      '\n',
      '\n\n',
      '\r',
      '\r\n',
      '\r\r\n\n',
      'a\r\nb\rc\nd',
      'a\r\n\r\nb\r',
      'one\ntwo\r\nthree\rfour\n\rfive',
      'é\r\n€\n𝄞 ok\r😀',
      '  spaced  \n\ttabbed\t\n',
    ];
    for (const text of cases) await expectReference(Buffer.from(text, 'utf8'), MAX_LINE_BYTES);
    // The old reader's meaning, on text: the whole string split, no empty line after a final break.
    const { lines } = await readAll(feeds(Buffer.from('a\r\nb\rc\n\nd\r\n', 'utf8'), 7)[1]!, MAX_LINE_BYTES);
    expect(lines).toEqual(['a', 'b', 'c', '', 'd']);
  });

  it('decodes UTF-8 characters split across reads, and bad bytes as U+FFFD as a whole-input decode does', async () => {
    const input = Buffer.concat([Buffer.from('é€𝄞\n', 'utf8'), Buffer.from([0xe2, 0x82, 0x0a, 0xf0, 0x9f, 0x0d, 0x0a, 0xff, 0xc3]), Buffer.from('\r€', 'utf8')]);
    await expectReference(input, MAX_LINE_BYTES);
    const { lines } = await readAll(cut(input, () => 1), MAX_LINE_BYTES);
    const whole = input.toString('utf8').split(/\r\n|\n|\r/);
    expect(lines).toEqual(whole);
    expect(lines[0]).toBe('é€𝄞');
  });

  it('matches the reference on random bytes drawn from line breaks, ASCII and multi-byte UTF-8', async () => {
    const alphabet = ['a', 'b', '\n', '\r', '\r\n', 'é', '€', '😀', '\u0000'].map((t) => Buffer.from(t, 'utf8')).concat([Buffer.from([0xff]), Buffer.from([0xe2])]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: alphabet.length - 1 }), { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), fc.integer(), async (picks, limit, seed) => {
        const input = Buffer.concat(picks.map((p) => alphabet[p]!));
        await expectReference(input, limit, seed);
      }),
      { numRuns: 300 },
    );
  });

  it('marks a line longer than the limit, at the start, middle and end, exactly at the limit and one byte over', async () => {
    const limit = 8;
    const at = 'x'.repeat(limit);
    const over = 'y'.repeat(limit + 1);
    const long = 'z'.repeat(5 * limit);
    const texts = [
      `${over}\nok\n`,
      `ok\n${over}\r\nok`,
      `ok\r${over}`,
      `${at}\n${over}\n${at}`,
      `${long}\r${long}\r\n${long}\n`,
      `ok\n${at}\r\n${long}`,
      '€€€\n€€é\n€€éé', // 9 bytes (over), 8 bytes (at the limit), 10 bytes (over)
    ];
    for (const [i, text] of texts.entries()) await expectReference(Buffer.from(text, 'utf8'), limit, i + 1);
    const { lines, overlong } = await readAll([Buffer.from(`ok\n${at}\n${over}\n${long}`, 'utf8')], limit);
    expect(lines).toEqual(['ok', at, '', '']);
    expect(overlong).toEqual([3, 4]);
  });

  it('skips an overlong line in a single large read and across many reads alike', async () => {
    const limit = 1024;
    const input = Buffer.from(`a\n${'q'.repeat(10 * limit)}\r\nb\n${'r'.repeat(3 * limit)}\n${'s'.repeat(limit)}\n`, 'utf8');
    await expectReference(input, limit);
    const { lines, overlong } = await readAll(cut(input, () => 100), limit);
    expect(lines).toEqual(['a', '', 'b', '', 's'.repeat(limit)]);
    expect(overlong).toEqual([2, 4]);
  });

  it('reads text streams (strings) as their UTF-8 bytes, and reports the bytes read with each chunk', async () => {
    const chunks: LineChunk[] = [];
    for await (const chunk of readLineChunks(Readable.from(['ab\ncd', '\r', '\nef\n']), 2)) chunks.push(chunk);
    expect(chunks).toEqual([
      { lines: ['ab', 'cd'], firstLine: 1, overlong: [], bytesRead: 6 },
      { lines: ['ef'], firstLine: 3, overlong: [], bytesRead: 10 },
    ]);
  });

  it('uses the engine line limit, 1 MiB', () => {
    expect(MAX_LINE_BYTES).toBe(1024 * 1024);
  });
});

describe('overlong line messages', () => {
  it('names the first ten lines, then counts the rest, never showing content', () => {
    expect(overlongNotes([], 0, 'an invalid raw UID')).toBe('');
    expect(overlongNotes([4], 1, 'an invalid raw UID')).toBe('uid2-engine: line 4 is longer than 1,048,576 bytes: reported as an invalid raw UID\n');
    const notes = overlongNotes(Array.from({ length: 12 }, (_, i) => i + 1), 1234, 'an invalid token').split('\n');
    expect(notes).toHaveLength(12);
    expect(notes[9]).toBe('uid2-engine: line 10 is longer than 1,048,576 bytes: reported as an invalid token');
    expect(notes[10]).toBe('uid2-engine: 1,224 more lines longer than 1,048,576 bytes');
    expect(overlongMessage(7, 'in.txt', 'a raw UID')).toBe('line 7 of in.txt is longer than 1,048,576 bytes: not a raw UID');
  });
});
