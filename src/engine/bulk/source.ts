/**
 * Where bulk input comes from, read straight into a chunk's shared input region: a file
 * descriptor (the common case: the kernel copies into shared memory, the main thread only waits),
 * or any byte stream (stdin, a gunzip stream, a caller's Readable), copied in as it arrives.
 * A path ending in `.gz` is read through node:zlib's gunzip (on the libuv thread pool).
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

export interface ChunkSource {
  /** Reads up to `length` bytes into `target` at `offset`; 0 at the end. */
  read(target: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

class FileSource implements ChunkSource {
  readonly #file: FileHandle;
  constructor(file: FileHandle) {
    this.#file = file;
  }
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    return (await this.#file.read(target, offset, length, null)).bytesRead;
  }
  close(): Promise<void> {
    return this.#file.close();
  }
}

class StreamSource implements ChunkSource {
  readonly #chunks: AsyncIterator<Uint8Array | string>;
  readonly #stream: Readable | undefined;
  #pending: Uint8Array | null = null;

  constructor(input: AsyncIterable<Uint8Array | string>) {
    this.#chunks = input[Symbol.asyncIterator]();
    this.#stream = typeof (input as Readable).destroy === 'function' ? (input as Readable) : undefined;
  }

  async read(target: Buffer, offset: number, length: number): Promise<number> {
    let piece = this.#pending;
    this.#pending = null;
    while (piece === null || piece.length === 0) {
      const next = await this.#chunks.next();
      if (next.done) return 0;
      piece = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    }
    const n = Math.min(length, piece.length);
    target.set(n === piece.length ? piece : piece.subarray(0, n), offset);
    if (n < piece.length) this.#pending = piece.subarray(n);
    return n;
  }

  async close(): Promise<void> {
    this.#stream?.destroy();
    await this.#chunks.return?.();
  }
}

/** A byte stream as a source. */
export function streamSource(input: AsyncIterable<Uint8Array | string>): ChunkSource {
  return new StreamSource(input);
}

/**
 * Opens `path` for reading; gunzips a `.gz` file.
 * @throws the fs error (ENOENT, EISDIR, ...) as it came
 */
export async function openFileSource(path: string): Promise<ChunkSource> {
  if (path.endsWith('.gz')) {
    const file = await open(path, 'r');
    const stat = await file.stat();
    if (stat.isDirectory()) {
      await file.close();
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR' });
    }
    return streamSource(createReadStream('', { fd: file, highWaterMark: 256 * 1024 }).pipe(createGunzip()));
  }
  const file = await open(path, 'r');
  if ((await file.stat()).isDirectory()) {
    await file.close();
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR' });
  }
  return new FileSource(file);
}
