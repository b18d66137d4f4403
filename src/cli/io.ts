/**
 * Streaming input and output for the CLI's `decrypt` and `encrypt`: lines read in chunks, a
 * bounded number of chunks in flight, output written in input order with backpressure.
 *
 *   input ─► readLineChunks (4,096 lines) ─► work(chunk) ─┐ at most `maxInFlight` chunks
 *                                                         ▼ pending, oldest first
 *   output ◄── writeText (waits for 'drain') ◄── results of the oldest chunk
 *
 * Memory stays flat whatever the input size: the reader is not asked for the next chunk while
 * `maxInFlight` chunks are pending, and a chunk's output is written before its slot is reused.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CliError, EXIT_USAGE } from './cli-error.js';

/** Lines per chunk: large enough to amortise a batch dispatch, small enough to stay in cache. */
export const CHUNK_LINES = 4096;
/** Chunks in flight: one being written, the others keeping the engine's workers busy. */
export const MAX_CHUNKS_IN_FLIGHT = 4;

/** readline's line breaks (`crlfDelay: Infinity`): CRLF, LF, or a lone CR. */
const LINE_BREAK = /\r\n|\n|\r/;

export interface LineChunk {
  lines: string[];
  /** Bytes of input read so far, up to and including this chunk (for progress). */
  bytesRead: number;
}

/** What `--input` names: stdin, or a file and its size when it is a regular file. */
export interface InputSource {
  stream: Readable;
  /** Size in bytes of a regular file; undefined for stdin, pipes and devices. */
  size: number | undefined;
}

/**
 * Opens `input` (a path, or '-' / undefined for stdin).
 * @throws CliError (exit 2) when the file cannot be read
 */
export function openInput(input: string | undefined, stdin: Readable = process.stdin): InputSource {
  if (input === undefined || input === '-') return { stream: stdin, size: undefined };
  const size = inputSize(input);
  return { stream: createReadStream(input, { highWaterMark: 256 * 1024 }), size };
}

/**
 * Checks that `input` can be read: its size when it is a regular file, else undefined.
 * @throws CliError (exit 2) when it cannot be read
 */
export function inputSize(input: string): number | undefined {
  try {
    const stat = statSync(input);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    return stat.isFile() ? stat.size : undefined;
  } catch (err) {
    throw new CliError(EXIT_USAGE, `cannot read input ${input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Yields the lines of `stream` in chunks of `chunkLines`, without line endings, split exactly
 * as readline splits them (so the output matches the line-by-line CLI this replaced): CRLF, LF
 * and lone CR end a line, a last line without a newline counts, and no empty line follows a
 * final newline.
 */
export async function* readLineChunks(stream: Readable, chunkLines = CHUNK_LINES): AsyncGenerator<LineChunk> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lines: string[] = [];
  let bytesRead = 0;
  for await (const buffer of stream as AsyncIterable<Buffer | string>) {
    bytesRead += buffer.length;
    let text = rest + (typeof buffer === 'string' ? buffer : decoder.write(buffer));
    // A CR at the end of a read may be the first half of a CRLF: decide on the next read.
    let held = '';
    if (text.endsWith('\r')) {
      held = '\r';
      text = text.slice(0, -1);
    }
    const parts = text.split(LINE_BREAK);
    rest = parts.pop()! + held;
    for (const line of parts) {
      lines.push(line);
      if (lines.length >= chunkLines) {
        yield { lines, bytesRead };
        lines = [];
      }
    }
  }
  const tail = (rest + decoder.end()).split(LINE_BREAK);
  const last = tail.pop()!;
  lines.push(...tail);
  if (last !== '') lines.push(last);
  if (lines.length > 0) yield { lines, bytesRead };
}

/** Writes `text`, resolving once the stream can take more (its 'drain'), or rejecting on error. */
export async function writeText(out: Writable, text: string): Promise<void> {
  if (text === '' || out.write(text)) return;
  await once(out, 'drain'); // rejects when the stream errors first
}

/** Where output goes: stdout, or `--output FILE`; `close()` flushes a file (and leaves stdout open). */
export interface OutputTarget {
  stream: Writable;
  close(): Promise<void>;
}

/**
 * Opens `--output` (or stdout when absent or '-').
 * @throws CliError (exit 2) when the file cannot be created
 */
export async function openOutput(output: string | undefined, stdout: Writable = process.stdout): Promise<OutputTarget> {
  if (output === undefined || output === '-') {
    return { stream: stdout, close: async () => {} };
  }
  const stream = createWriteStream(output);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new CliError(EXIT_USAGE, `cannot write output ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return {
    stream,
    close: async () => {
      stream.end();
      await once(stream, 'close');
    },
  };
}

/** One chunk's finished output. */
export interface ChunkOutput {
  /** JSON lines, each ending in a newline. */
  text: string;
  /** Records in `text`. */
  count: number;
}

/**
 * Runs `work` over the chunks with at most `maxInFlight` pending, writing each chunk's output
 * in input order; `onWritten` hears each written chunk (for progress).
 */
export async function pipeChunks(
  chunks: AsyncIterable<LineChunk>,
  work: (lines: string[]) => Promise<ChunkOutput> | ChunkOutput,
  out: Writable,
  onWritten: (count: number, bytesRead: number) => void = () => {},
  maxInFlight = MAX_CHUNKS_IN_FLIGHT,
): Promise<void> {
  const pending: { output: Promise<ChunkOutput>; bytesRead: number }[] = [];
  const writeOldest = async (): Promise<void> => {
    const { output, bytesRead } = pending.shift()!;
    const { text, count } = await output;
    await writeText(out, text);
    onWritten(count, bytesRead);
  };
  for await (const chunk of chunks) {
    const output = Promise.resolve().then(() => work(chunk.lines));
    // Rejections are observed when the chunk's turn comes; this only stops an early one from
    // being reported as unhandled while older chunks are still being written.
    output.catch(() => {});
    pending.push({ output, bytesRead: chunk.bytesRead });
    while (pending.length >= maxInFlight) await writeOldest();
  }
  while (pending.length > 0) await writeOldest();
}
