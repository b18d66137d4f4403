/**
 * Splits a chunk's input into lines and writes them into the chunk's slot as tokens, the way the
 * CLI has always read them: LF, CRLF and a lone CR end a line; a last line without a line break
 * counts when it is not empty; a line is a token, or a JSON object naming the token and its
 * domain or app name (parseTokenLine).
 *
 * Fast path (nearly every line): an ASCII line that is not JSON is its own token, so the slot's
 * table points at it where the coordinator read it. Other lines (JSON, non-ASCII bytes) are
 * decoded as UTF-8 text, exactly as a line of the old line reader was, and written into the
 * scratch region with the slot's writeToken(): the decoders then see what decryptBatch() would.
 * A line longer than the task's limit is never decoded: it is an invalid token.
 */
import { isAscii } from 'node:buffer';
import { MAX_TOKEN_LENGTH } from '../../token/layout.js';
import { CHUNK_BATCH_LINES, type ChunkTask } from '../wire/bulk-chunk.js';
import { placeInput, writeToken, type Slot } from '../wire/slot.js';

const LF = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;

/** A line as the bulk reader understands it: a token, with the domain or app name it names. */
export interface TokenLine {
  token: unknown;
  domainOrAppName: string | undefined;
}

/** A line is a token, or a JSON object naming the token and its domain or app name. */
export function parseTokenLine(line: string, defaultDomain: string | undefined): TokenLine {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      const domain = obj['domainOrAppName'];
      return { token: obj['token'], domainOrAppName: typeof domain === 'string' ? domain : defaultDomain };
    } catch {
      // Not JSON: decrypt the line as it is; it will be reported as InvalidPayload.
    }
  }
  return { token: line, domainOrAppName: defaultDomain };
}

export class LineSplitter {
  readonly #slot: Slot;
  readonly #bytes: Buffer;
  /** The input up to the task's end, so searches never run past it. */
  readonly #input: Buffer;
  readonly #end: number;
  readonly #maxLineBytes: number;
  readonly #nowMs: number;
  readonly #domain: string | undefined;
  readonly #domainOffset: number;
  readonly #domainLength: number;
  /** Where rewritten lines start, and where the scratch region ends. */
  readonly #scratchStart: number;
  readonly #scratchEnd: number;
  readonly #hasCr: boolean;
  readonly #ascii: boolean;
  #pos: number;
  /** Start of line i of the last fill, and (at [count]) where the next line starts. */
  readonly lineStarts = new Uint32Array(CHUNK_BATCH_LINES + 1);
  /** Indexes (in the last fill) of lines over the length limit. */
  readonly overlong: number[] = [];

  constructor(slot: Slot, task: ChunkTask, maxLineBytes: number) {
    this.#slot = slot;
    this.#bytes = slot.bytes;
    this.#input = slot.bytes.subarray(0, task.end);
    this.#pos = task.start;
    this.#end = task.end;
    this.#maxLineBytes = maxLineBytes;
    this.#nowMs = task.nowMs;
    this.#domain = task.domainOrAppName ?? undefined;
    // The default domain is written once, at the start of the scratch region; every plain line
    // points at it.
    this.#domainOffset = task.inputCapacity;
    this.#domainLength = this.#domain === undefined ? 0 : slot.bytes.write(this.#domain, this.#domainOffset, 'utf8');
    this.#scratchStart = this.#domainOffset + this.#domainLength;
    this.#scratchEnd = slot.bytesCapacity;
    const range = this.#input.subarray(task.start);
    this.#hasCr = range.indexOf(CR) >= 0;
    this.#ascii = isAscii(range);
  }

  /** Fills the slot with the next lines (at most its capacity); returns how many. */
  fill(): number {
    const slot = this.#slot;
    const bytes = this.#bytes;
    const starts = this.lineStarts;
    const end = this.#end;
    const nowMs = this.#nowMs;
    const domainLength = this.#domain === undefined ? -1 : this.#domainLength;
    let scratch = this.#scratchStart;
    let pos = this.#pos;
    let n = 0;
    this.overlong.length = 0;
    while (n < CHUNK_BATCH_LINES && pos < end) {
      // The line [pos, lineEnd) and where the next one starts.
      let lineEnd: number;
      let next: number;
      // Bytes after the last line break form a last line (never an empty one: pos < end). The
      // coordinator cuts chunks after a line break, so that happens only at the end of the input.
      if (!this.#hasCr) {
        const lf = this.#input.indexOf(LF, pos);
        lineEnd = lf < 0 ? end : lf;
        next = lf < 0 ? end : lf + 1;
      } else {
        lineEnd = pos;
        while (lineEnd < end && bytes[lineEnd] !== LF && bytes[lineEnd] !== CR) lineEnd++;
        next = lineEnd === end ? end : bytes[lineEnd] === CR && lineEnd + 1 < end && bytes[lineEnd + 1] === LF ? lineEnd + 2 : lineEnd + 1;
      }
      const length = lineEnd - pos;
      if (length > this.#maxLineBytes) {
        this.overlong.push(n);
        placeInput(slot, n, pos, -1, this.#domainOffset, domainLength, nowMs);
      } else if (bytes[pos] !== OPEN_BRACE && (this.#ascii || isAscii(bytes.subarray(pos, lineEnd)))) {
        placeInput(slot, n, pos, length <= MAX_TOKEN_LENGTH ? length : -1, this.#domainOffset, domainLength, nowMs);
      } else {
        const line = parseTokenLine(bytes.toString('utf8', pos, lineEnd), this.#domain);
        const room =
          (typeof line.token === 'string' && line.token.length <= MAX_TOKEN_LENGTH ? 3 * line.token.length : 0) +
          (line.domainOrAppName === undefined ? 0 : Buffer.byteLength(line.domainOrAppName, 'utf8'));
        // The scratch region holds the longest line: only a batch that already has lines fills up.
        if (scratch + room > this.#scratchEnd) break;
        scratch = writeToken(slot, n, scratch, line.token, line.domainOrAppName, nowMs);
      }
      starts[n] = pos;
      n++;
      pos = next;
    }
    starts[n] = pos;
    this.#pos = pos;
    return n;
  }
}
