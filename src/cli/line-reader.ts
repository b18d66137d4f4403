/**
 * The line reader of `encrypt`, `map` and `optout backfill` (`decrypt` reads through the engine's
 * bulk path, which has its own): lines in chunks, split as readline splits them, and in bounded
 * memory whatever the input. Every input line is hostile: a line longer than the engine's line
 * limit (1 MiB, `DEFAULT_BULK_OPTIONS.maxLineBytes`, the one `decrypt` applies) is never held or
 * decoded; its bytes are dropped as they stream past and the chunk names it by index, so each
 * command reports it its own way.
 *
 * Per read, the complete lines are decoded in windows of at most the limit (one `toString` and one
 * `split` per window, the fast path); only an unfinished last line is kept, as bytes, until its
 * line break arrives or it passes the limit. Splitting on bytes is exact: CR and LF never occur
 * inside a multi-byte UTF-8 character, so a character split across reads is simply carried.
 */
import type { Readable } from 'node:stream';
import { DEFAULT_BULK_OPTIONS } from '../engine/bulk/options.js';

/** Lines per chunk: large enough to amortise a batch dispatch, small enough to stay in cache. */
const CHUNK_LINES = 4096;
/** Longest line read as a line, in bytes (line break excluded). */
export const MAX_LINE_BYTES = DEFAULT_BULK_OPTIONS.maxLineBytes;
/** Overlong lines named one by one on stderr; the rest are counted. */
const OVERLONG_NAMED = 10;

const LF = 0x0a;
const CR = 0x0d;
/** readline's line breaks (`crlfDelay: Infinity`): CRLF, LF, or a lone CR. */
const LINE_BREAK = /\r\n|\n|\r/;

export interface LineChunk {
  /** The lines, without line endings; an overlong line's entry is ''. */
  lines: string[];
  /** Line number (from 1) of `lines[0]`. */
  firstLine: number;
  /** Indexes in `lines` of the lines longer than `maxLineBytes`, ascending. */
  overlong: number[];
  /** Bytes of input read so far, up to and including this chunk (for progress). */
  bytesRead: number;
}

/** The index of the first CR or LF in `buffer[from, to)`, or -1 (searching that range only). */
function firstBreak(buffer: Buffer, from: number, to: number): number {
  const range = buffer.subarray(from, to);
  const lf = range.indexOf(LF);
  const cr = range.indexOf(CR);
  const first = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
  return first < 0 ? -1 : from + first;
}

/** The index of the last CR or LF in `buffer[from, to]`, or -1 (searching that range only). */
function lastBreak(buffer: Buffer, from: number, to: number): number {
  const range = buffer.subarray(from, to + 1);
  const last = Math.max(range.lastIndexOf(LF), range.lastIndexOf(CR));
  return last < 0 ? -1 : from + last;
}

/**
 * Yields the lines of `stream` in chunks of `chunkLines`, without line endings, split exactly as
 * readline splits them: CRLF, LF and lone CR end a line, a last line without a newline counts,
 * and no empty line follows a final newline. Lines are decoded as UTF-8 (an invalid sequence
 * becomes U+FFFD). A line of more than `maxLineBytes` bytes is yielded as '' with its index in
 * `overlong`; memory stays within about `maxLineBytes` plus one read whatever the input.
 */
export async function* readLineChunks(stream: Readable, chunkLines = CHUNK_LINES, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<LineChunk> {
  let lines: string[] = [];
  let overlong: number[] = [];
  let firstLine = 1;
  let bytesRead = 0;
  /**
   * The unfinished line's bytes so far, `pending[0, pendingBytes)`, at most maxLineBytes: one
   * buffer, grown by doubling and reused, so a line trickled in a byte a read costs no more than
   * its bytes.
   */
  let pending = Buffer.alloc(0);
  let pendingBytes = 0;
  const keep = (bytes: Buffer): void => {
    if (pendingBytes + bytes.length > pending.length) {
      const grown = Buffer.allocUnsafe(Math.min(maxLineBytes, Math.max(2 * pending.length, pendingBytes + bytes.length, 256)));
      pending.copy(grown, 0, 0, pendingBytes);
      pending = grown;
    }
    pendingBytes += bytes.copy(pending, pendingBytes);
  };
  const takePending = (tail: Buffer): string => {
    keep(tail);
    const line = pending.toString('utf8', 0, pendingBytes);
    pendingBytes = 0;
    return line;
  };
  /** The unfinished line is longer than maxLineBytes: its bytes are being dropped. */
  let skipping = false;
  /** The last read ended with a CR: a LF opening the next one completes that CRLF. */
  let afterCr = false;
  const chunks: LineChunk[] = [];
  const flush = (): void => {
    chunks.push({ lines, firstLine, overlong, bytesRead });
    firstLine += lines.length;
    lines = [];
    overlong = [];
  };
  const push = (line: string): void => {
    lines.push(line);
    if (lines.length >= chunkLines) flush();
  };
  const pushOverlong = (): void => {
    overlong.push(lines.length);
    push('');
  };

  for await (const data of stream as AsyncIterable<Buffer | string>) {
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const end = buffer.length;
    bytesRead += end;
    if (end === 0) continue;
    let pos = 0;
    if (afterCr && buffer[0] === LF) pos = 1;
    afterCr = false;
    // Finish the line carried from earlier reads.
    if (skipping || pendingBytes > 0) {
      const at = firstBreak(buffer, pos, end);
      if (at < 0) {
        if (!skipping && pendingBytes + end - pos > maxLineBytes) {
          skipping = true;
          pendingBytes = 0;
        }
        if (!skipping) keep(buffer.subarray(pos));
        pos = end;
      } else {
        if (skipping || pendingBytes + at - pos > maxLineBytes) pushOverlong();
        else push(takePending(buffer.subarray(pos, at)));
        skipping = false;
        pendingBytes = 0;
        pos = at + 1;
        if (buffer[at] === CR) {
          if (pos === end) afterCr = true;
          else if (buffer[pos] === LF) pos++;
        }
      }
    }
    // The complete lines of this read, a window of at most maxLineBytes + 1 bytes at a time (so
    // that no line in a window can be overlong), each window ending with a line break.
    const last = pos < end ? lastBreak(buffer, pos, end - 1) : -1;
    while (last >= 0 && pos <= last) {
      const windowEnd = last - pos <= maxLineBytes ? last : lastBreak(buffer, pos, pos + maxLineBytes);
      if (windowEnd < 0) {
        // No line break within maxLineBytes of pos: this line is overlong; skip to its end.
        const at = firstBreak(buffer, pos + maxLineBytes + 1, last + 1);
        pushOverlong();
        pos = at + 1;
        if (buffer[at] === CR && pos < end && buffer[pos] === LF) pos++;
      } else {
        const parts = buffer.toString('utf8', pos, windowEnd + 1).split(LINE_BREAK);
        parts.pop(); // '' after the window's final line break
        for (const line of parts) push(line);
        pos = windowEnd + 1;
        if (buffer[windowEnd] === CR && pos < end && buffer[pos] === LF) pos++;
      }
      if (pos === end && buffer[end - 1] === CR) afterCr = true;
    }
    // The unfinished last line.
    if (pos < end) {
      if (end - pos > maxLineBytes) skipping = true;
      else keep(buffer.subarray(pos));
    }
    for (const chunk of chunks) yield chunk;
    chunks.length = 0;
  }
  if (skipping) pushOverlong();
  else if (pendingBytes > 0) push(takePending(Buffer.alloc(0)));
  if (lines.length > 0) flush();
  for (const chunk of chunks) yield chunk;
}

/**
 * The stderr notes for overlong lines: the first ones by number, then how many more. `named`
 * holds the first line numbers (OVERLONG_NAMED at most are used) and `count` all of them.
 */
export function overlongNotes(named: readonly number[], count: number, reportedAs: string): string {
  const limit = MAX_LINE_BYTES.toLocaleString('en-US');
  let text = '';
  for (const line of named.slice(0, OVERLONG_NAMED)) text += `uid2-engine: line ${line} is longer than ${limit} bytes: reported as ${reportedAs}\n`;
  if (count > OVERLONG_NAMED) text += `uid2-engine: ${(count - OVERLONG_NAMED).toLocaleString('en-US')} more lines longer than ${limit} bytes\n`;
  return text;
}

/** The message for an overlong line where a command stops at a malformed line. */
export function overlongMessage(line: number, where: string, what: string): string {
  return `line ${line} of ${where} is longer than ${MAX_LINE_BYTES.toLocaleString('en-US')} bytes: not ${what}`;
}
