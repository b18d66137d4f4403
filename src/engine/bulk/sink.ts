/**
 * Where bulk output goes: a file descriptor written straight from a chunk's shared output buffer
 * (the chunk is reused once the write is done), or a byte stream (stdout, a gzip stream, the
 * Readable of decryptStream()) that gets a copy, with its back-pressure honoured. A path ending
 * in `.gz` is written through node:zlib's gzip.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';

export interface ChunkSink {
  /** Writes `bytes` (a view the caller reuses once this resolves). */
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes and closes (a stream given by the caller is ended, not destroyed). */
  end(): Promise<void>;
  /** Releases everything after a failure. */
  abort(): Promise<void>;
}

class FileSink implements ChunkSink {
  readonly #file: FileHandle;
  constructor(file: FileHandle) {
    this.#file = file;
  }
  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += (await this.#file.write(bytes, done, bytes.length - done, null)).bytesWritten;
  }
  end(): Promise<void> {
    return this.#file.close();
  }
  abort(): Promise<void> {
    return this.#file.close();
  }
}

class StreamSink implements ChunkSink {
  readonly #out: Writable;
  readonly #endStream: boolean;
  readonly #then: (() => Promise<void>) | undefined;
  constructor(out: Writable, endStream: boolean, then?: () => Promise<void>) {
    this.#out = out;
    this.#endStream = endStream;
    this.#then = then;
  }
  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    // The stream may hold the bytes past this call: it gets its own copy.
    // events.once rejects when the stream errors before it drains.
    if (!this.#out.write(Buffer.from(bytes))) await once(this.#out, 'drain');
  }
  async end(): Promise<void> {
    if (this.#endStream) {
      const finished = once(this.#out, 'finish');
      this.#out.end();
      await finished;
    }
    await this.#then?.();
  }
  async abort(): Promise<void> {
    if (this.#endStream) this.#out.destroy();
    await this.#then?.().catch(() => {});
  }
}


/** A writable stream as a sink; `end` says whether the sink ends it when done. */
export function streamSink(out: Writable, end: boolean): ChunkSink {
  return new StreamSink(out, end);
}

/**
 * Creates (or truncates) `path` for writing; gzips into a `.gz` file.
 * @throws the fs error (ENOENT, EACCES, ...) as it came
 */
export async function openFileSink(path: string): Promise<ChunkSink> {
  if (path.endsWith('.gz')) {
    const file = createWriteStream(path);
    await once(file, 'open');
    const gzip = createGzip();
    gzip.pipe(file);
    return new StreamSink(gzip, true, async () => {
      if (!file.closed) await once(file, 'close');
    });
  }
  return new FileSink(await open(path, 'w'));
}
