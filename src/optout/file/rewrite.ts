/**
 * Writing a whole opt-out log afresh and putting it in place of the old one, for compaction and
 * repair: records go to `<real file>.<tag>` with a commit every COMMIT_EVERY records (so the
 * last group, the only one a load may take for a torn write, stays small), the file is
 * fdatasynced, locked (lock.ts: before anyone can open it under the log's name), renamed over
 * the log and the directory fsynced. A crash leaves the old file or the new one, never a mix.
 */
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LOG_HEADER_BYTES, LOG_RECORD_BYTES, encodeCommit, encodeHeader, encodeRecord } from './format.js';
import { lockFile } from './lock.js';

/** Records per group in a rewritten file (the writer's default group size). */
const COMMIT_EVERY = 4096;
const BUFFER_BYTES = 4 * 1024 * 1024 - ((4 * 1024 * 1024) % LOG_RECORD_BYTES);

/** fsyncs the directory holding `path`, so a create or rename in it is durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const dir = await open(dirname(path), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A fresh log being written beside the real one. */
export class LogRewriter {
  readonly #realPath: string;
  readonly #tmpPath: string;
  readonly #fh: FileHandle;
  readonly #buf = Buffer.allocUnsafe(BUFFER_BYTES);
  #used = 0;
  /** File offset of #buf[0]. */
  #position = LOG_HEADER_BYTES;
  #groupStart = LOG_HEADER_BYTES;
  #inGroup = 0;
  #records = 0;

  private constructor(realPath: string, tmpPath: string, fh: FileHandle) {
    this.#realPath = realPath;
    this.#tmpPath = tmpPath;
    this.#fh = fh;
  }

  /** Starts `<realPath>.<tag>` (replacing a leftover one) with a header created at `createdMs`. */
  static async create(realPath: string, tag: string, createdMs: number): Promise<LogRewriter> {
    const tmpPath = `${realPath}.${tag}`;
    const fh = await open(tmpPath, 'w', 0o600);
    try {
      await fh.write(encodeHeader(createdMs), 0, LOG_HEADER_BYTES, 0);
    } catch (err) {
      await fh.close();
      await rm(tmpPath, { force: true });
      throw err;
    }
    return new LogRewriter(realPath, tmpPath, fh);
  }

  /** Records written so far. */
  get records(): number {
    return this.#records;
  }

  /** Bytes the finished file holds so far. */
  get byteLength(): number {
    return this.#position + this.#used;
  }

  /** Adds one record; returns a promise only when the buffer had to be written first (await it). */
  add(uid: Uint8Array, optedOutMs: number): Promise<void> | undefined {
    if (this.#used + 2 * LOG_RECORD_BYTES > this.#buf.length) return this.#flush().then(() => this.#put(uid, optedOutMs));
    this.#put(uid, optedOutMs);
    return undefined;
  }

  #put(uid: Uint8Array, optedOutMs: number): void {
    encodeRecord(this.#buf, this.#used, uid, optedOutMs);
    this.#used += LOG_RECORD_BYTES;
    this.#records++;
    if (++this.#inGroup === COMMIT_EVERY) this.#commit();
  }

  #commit(): void {
    encodeCommit(this.#buf, this.#used, this.#groupStart, this.#inGroup);
    this.#used += LOG_RECORD_BYTES;
    this.#groupStart = this.#position + this.#used;
    this.#inGroup = 0;
  }

  async #flush(): Promise<void> {
    let done = 0;
    while (done < this.#used) {
      const { bytesWritten } = await this.#fh.write(this.#buf, done, this.#used - done, this.#position + done);
      done += bytesWritten;
    }
    this.#position += this.#used;
    this.#used = 0;
  }

  /**
   * Closes the last group, fdatasyncs, locks the new file and renames it over the real one.
   * @returns the new log's locked handle (write-only: open the path again to read it)
   */
  async install(): Promise<FileHandle> {
    if (this.#inGroup > 0) this.#commit();
    await this.#flush();
    await this.#fh.datasync();
    lockFile(this.#fh, this.#tmpPath);
    await rename(this.#tmpPath, this.#realPath);
    await fsyncDirectory(this.#realPath);
    return this.#fh;
  }

  /** Gives up: closes and removes the temporary file. */
  async abort(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
    await rm(this.#tmpPath, { force: true });
  }
}
