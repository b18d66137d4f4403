/**
 * Token lines of a decryptColumns() Buffer, found without making a string per line: LF, CRLF and
 * a lone CR end a line, a last line without an ending counts, and no empty line follows a final
 * ending (the CLI's rule, cli/io.ts). Each scan for CR or LF runs in native code over the whole
 * buffer once.
 */
import { isAscii } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;

/** Line i is bytes [starts[i], ends[i]) of the buffer. */
export interface Lines {
  readonly count: number;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  /** Every byte of the buffer is ASCII: each line can be copied into a slot as it is. */
  readonly ascii: boolean;
}

/** @throws RangeError for a buffer of 4 GiB or more (offsets are 32-bit) */
export function splitLines(buf: Buffer): Lines {
  if (buf.length >= 2 ** 32) throw new RangeError('tokens: a Buffer of 4 GiB or more');
  // Real tokens are 150-300 bytes: room for that many lines, then doubling (shorter lines).
  const guess = Math.max(16, Math.ceil(buf.length / 150));
  let starts = new Uint32Array(guess);
  let ends = new Uint32Array(guess);
  let count = 0;
  let pos = 0;
  let nextLf = buf.indexOf(LF);
  let nextCr = buf.indexOf(CR);
  const length = buf.length;
  while (pos < length) {
    if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
    if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
    let end: number;
    let next: number;
    if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
      end = nextCr;
      next = nextCr + 1 === nextLf ? nextLf + 1 : nextCr + 1;
    } else if (nextLf !== -1) {
      end = nextLf;
      next = nextLf + 1;
    } else {
      end = length;
      next = length;
    }
    if (count === starts.length) {
      starts = grow(starts);
      ends = grow(ends);
    }
    starts[count] = pos;
    ends[count] = end;
    count++;
    pos = next;
  }
  return { count, starts, ends, ascii: isAscii(buf) };
}

function grow(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}
