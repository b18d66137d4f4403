/**
 * The bulk entry points behind DecryptionEngine.decryptFile() and decryptStream(): open the
 * source and sink, run the coordinator, report the summary.
 */
import { Readable, Writable } from 'node:stream';
import { EngineClosedError, InvalidArgumentError } from '../../errors.js';
import { BulkRun, type BulkHost, type BulkSummary } from './coordinator.js';
import { resolveBulkOptions, type BulkOptions } from './options.js';
import { streamSink, openFileSink, type ChunkSink } from './sink.js';
import { openFileSource, streamSource } from './source.js';

/** decryptStream()'s output: the records as bytes, and the run's summary once it has ended. */
export interface BulkReadable extends Readable {
  /** Resolves with the summary after the last record; rejects (as the stream errors) on failure. */
  readonly summary: Promise<BulkSummary>;
}

/** Input of decryptFile(): a path, or a byte stream (stdin, a socket, a caller's Readable). */
export type BulkInput = string | AsyncIterable<Uint8Array | string>;
/** Output of decryptFile(): a path, or a Writable (written to, not ended: the caller owns it). */
export type BulkOutput = string | Writable;

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return value !== null && typeof value === 'object' && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

export async function decryptFile(host: BulkHost, input: BulkInput, output: BulkOutput, options?: BulkOptions): Promise<BulkSummary> {
  if (!(typeof input === 'string' && input !== '') && !isAsyncIterable(input)) {
    throw new InvalidArgumentError('input must be a file path or a Readable');
  }
  const isWritable = output instanceof Writable || (typeof output === 'object' && output !== null && typeof (output as Writable).write === 'function');
  if (!(typeof output === 'string' && output !== '') && !isWritable) throw new InvalidArgumentError('output must be a file path or a Writable');
  const resolved = resolveBulkOptions(options);
  const source = typeof input === 'string' ? await openFileSource(input) : streamSource(input);
  let sink: ChunkSink;
  try {
    sink = typeof output === 'string' ? await openFileSink(output) : streamSink(output, false);
  } catch (err) {
    await source.close();
    throw err;
  }
  return new BulkRun(host, source, sink, resolved).run();
}

/** A sink that pushes copies into a Readable, waiting while its reader is behind. */
class ReadableSink implements ChunkSink {
  readonly #out: Readable;
  #wake: (() => void) | null = null;
  constructor(out: Readable) {
    this.#out = out;
  }
  /** The Readable's _read(): its reader wants more. */
  pull(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
  async write(bytes: Uint8Array): Promise<void> {
    // Its reader is gone: stop reading input rather than decrypt it for nobody.
    if (this.#out.destroyed) throw new Error('the output stream was destroyed');
    if (bytes.length === 0) return;
    if (!this.#out.push(Buffer.from(bytes))) await new Promise<void>((resolve) => (this.#wake = resolve));
  }
  async end(): Promise<void> {
    this.#out.push(null);
  }
  async abort(): Promise<void> {}
}

/**
 * Runs a bulk decryption from `input` (a Readable or any async iterable of bytes) into the
 * returned Readable. Nothing is read until the Readable is read (or piped); `started` hears the
 * run when it begins (the engine lets running runs finish before it closes).
 */
export function decryptStream(
  host: BulkHost,
  input: AsyncIterable<Uint8Array | string>,
  options: BulkOptions | undefined,
  started: (run: Promise<BulkSummary>) => void,
): BulkReadable {
  if (!isAsyncIterable(input)) {
    throw new InvalidArgumentError('input must be a Readable or an async iterable of bytes');
  }
  const resolved = resolveBulkOptions(options);
  let sink: ReadableSink | null = null;
  let settle: { resolve: (s: BulkSummary) => void; reject: (e: unknown) => void };
  const summary = new Promise<BulkSummary>((resolve, reject) => (settle = { resolve, reject }));
  summary.catch(() => {});
  const out = new Readable({
    read() {
      if (sink) return sink.pull();
      sink = new ReadableSink(out);
      const run = host.closed() ? Promise.reject(new EngineClosedError()) : new BulkRun(host, streamSource(input), sink, resolved).run();
      started(run);
      run.then(settle.resolve, (err: unknown) => {
        settle.reject(err);
        out.destroy(err as Error);
      });
    },
    destroy(err, callback) {
      // Destroyed before it was ever read: there is no run, and there will be none.
      if (!sink) settle.reject(err ?? new Error('the output stream was destroyed before it was read'));
      callback(err);
    },
  });
  return Object.assign(out, { summary });
}
