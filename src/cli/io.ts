/**
 * Streaming input and output for the CLI's line commands (`encrypt`, `map`, `optout backfill`):
 * the input and output files, a bounded number of chunks in flight, output written in input
 * order with backpressure. The lines come from line-reader.ts.
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
import { CliError, EXIT_USAGE } from './cli-error.js';
import type { LineChunk } from './line-reader.js';

/** Chunks in flight: one being written, the others keeping the engine's workers busy. */
export const MAX_CHUNKS_IN_FLIGHT = 4;

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
  work: (chunk: LineChunk) => Promise<ChunkOutput> | ChunkOutput,
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
    const output = Promise.resolve().then(() => work(chunk));
    // Rejections are observed when the chunk's turn comes; this only stops an early one from
    // being reported as unhandled while older chunks are still being written.
    output.catch(() => {});
    pending.push({ output, bytesRead: chunk.bytesRead });
    while (pending.length >= maxInFlight) await writeOldest();
  }
  while (pending.length > 0) await writeOldest();
}
