/**
 * The durable half of the file store: an append-only log of fixed-size, checksummed records
 * (format in docs/optout.md), written with group commit: every add waiting while one write +
 * fdatasync is in flight goes into the next write, so one fsync acknowledges hundreds of
 * opt-outs. An add resolves only after the fdatasync that covers it returned.
 *
 *   file   := header:64 | record:48 ...
 *   header := magic "UID2OPT\n" | version:u32be (1) | recordBytes:u32be (48) | createdMs:i64be
 *             | 36 zero bytes | crc32:u32be (of bytes 0..59)
 *   record := type:u8 (1) | uidLength:u8 (32|33) | optedOutMs:i64be | uid:33 (zero-padded)
 *             | 0:u8 | crc32:u32be (of bytes 0..43)
 *
 * Writes are serialised (a group starts only after the previous group's fdatasync), so at a
 * crash at most the last group is partly on disk, in any order of its pages. Recovery reads
 * records until the first bad one (short, wrong type or length, bad checksum); if everything
 * from there to the end fits in one group, it is that unacknowledged tail and is cut off
 * (truncate + fsync); anything else is damage, reported as OptOutCorruptError, never dropped.
 *
 * Fixed records rather than self-describing ones (msgpack, JSON): loading 10M opt-outs must
 * take seconds, and a fixed record is checked and decoded with a few reads and one CRC-32.
 */
import { constants, type Stats } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OptOutClosedError, OptOutCorruptError, OptOutLockedError, OptOutWriteError } from '../../errors.js';
import { crc32Range } from './crc32.js';
import { MAX_RAW_UID_BYTES } from '../raw-uid.js';

const LOG_MAGIC = Buffer.from('UID2OPT\n', 'latin1');
const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 64;
export const LOG_RECORD_BYTES = 48;
const RECORD_TYPE_OPTOUT = 1;
const RECORD_CRC_AT = 44;
const HEADER_CRC_AT = 60;
/** Read this much of the file at a time when loading. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** What a load found. */
export interface LogLoadReport {
  /** Valid records read (duplicates included). */
  records: number;
  /** Bytes cut off as a torn tail (0 for a clean file). */
  tornTailBytes: number;
}

export interface OptOutLogOptions {
  /** Most records in one group commit; bounds the tail recovery may cut. Default 4096. */
  maxGroupRecords: number;
  /** Open for reading only: no lock, no writes, a torn tail is skipped but left in place. */
  readOnly: boolean;
}

/** Encodes one record into `out` at `offset`. */
export function encodeRecord(out: Buffer, offset: number, uid: Uint8Array, optedOutMs: number): void {
  out.fill(0, offset, offset + LOG_RECORD_BYTES);
  out[offset] = RECORD_TYPE_OPTOUT;
  out[offset + 1] = uid.length;
  out.writeBigInt64BE(BigInt(optedOutMs), offset + 2);
  out.set(uid, offset + 10);
  out.writeUInt32BE(crc32Range(out, offset, offset + RECORD_CRC_AT), offset + RECORD_CRC_AT);
}

/** True when the record at `offset` is complete and intact. */
function recordValid(buf: Buffer, offset: number): boolean {
  const length = buf[offset + 1]!;
  return (
    buf[offset] === RECORD_TYPE_OPTOUT &&
    (length === 32 || length === 33) &&
    buf.readUInt32BE(offset + RECORD_CRC_AT) === crc32Range(buf, offset, offset + RECORD_CRC_AT)
  );
}

function encodeHeader(createdMs: number): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  LOG_MAGIC.copy(header, 0);
  header.writeUInt32BE(LOG_VERSION, 8);
  header.writeUInt32BE(LOG_RECORD_BYTES, 12);
  header.writeBigInt64BE(BigInt(createdMs), 16);
  header.writeUInt32BE(crc32Range(header, 0, HEADER_CRC_AT), HEADER_CRC_AT);
  return header;
}

function headerValid(header: Buffer): boolean {
  return (
    header.subarray(0, 8).equals(LOG_MAGIC) &&
    header.readUInt32BE(8) === LOG_VERSION &&
    header.readUInt32BE(12) === LOG_RECORD_BYTES &&
    header.readUInt32BE(HEADER_CRC_AT) === crc32Range(header, 0, HEADER_CRC_AT)
  );
}

async function fsyncDirectory(path: string): Promise<void> {
  const dir = await open(dirname(path), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<path>.lock` (exclusive create, holding our pid). A lock left by a dead process (a
 * crash, SIGKILL) is taken over; one held by a live process is refused.
 */
async function takeLock(path: string): Promise<string> {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        const fh = await open(lockPath, 'r');
        try {
          holder = Number((await fh.readFile('utf8')).trim());
        } finally {
          await fh.close();
        }
      } catch {
        // Vanished meanwhile: try again.
      }
      if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new OptOutLockedError(`opt-out file ${path} is open for writing in process ${holder}`);
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new OptOutLockedError(`cannot take the lock ${lockPath}`);
}

interface Pending {
  uid: Uint8Array;
  optedOutMs: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The append-only opt-out log of one file. */
export class OptOutLog {
  readonly path: string;
  readonly #options: OptOutLogOptions;
  #fh: FileHandle | undefined;
  #lockPath: string | undefined;
  #size = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #writing: Promise<void> | undefined;
  #paused: Promise<void> | undefined;
  #broken: Error | undefined;
  #closed = false;
  #records = 0;

  private constructor(path: string, options: OptOutLogOptions) {
    this.path = path;
    this.#options = options;
  }

  /** Valid records in the file (duplicates included). */
  get records(): number {
    return this.#records;
  }

  /** Bytes in the file. */
  get byteLength(): number {
    return this.#size;
  }

  /**
   * Opens (creating it unless read-only) and loads the log, calling `onRecord` for each valid
   * record in file order with the raw UID at `buf[offset .. offset + length)` (a reused read
   * buffer: copy the bytes to keep them).
   * @param expect called once with the number of records the file can hold, before the first record
   * @throws OptOutLockedError, OptOutCorruptError, or the file system's error
   */
  static async open(
    path: string,
    options: OptOutLogOptions,
    expect: (records: number) => void,
    onRecord: (buf: Buffer, offset: number, length: number, optedOutMs: number) => void,
  ): Promise<{ log: OptOutLog; report: LogLoadReport }> {
    const log = new OptOutLog(path, options);
    if (!options.readOnly) log.#lockPath = await takeLock(path);
    try {
      const report = await log.#load(expect, onRecord);
      return { log, report };
    } catch (err) {
      await log.#release();
      throw err;
    }
  }

  async #load(expect: (records: number) => void, onRecord: (buf: Buffer, offset: number, length: number, optedOutMs: number) => void): Promise<LogLoadReport> {
    const readOnly = this.#options.readOnly;
    const fh = await open(this.path, readOnly ? 'r' : constants.O_RDWR | constants.O_CREAT, 0o600);
    this.#fh = fh;
    const stat: Stats = await fh.stat();
    let size = stat.size;
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    if (size > 0) await fh.read(header, 0, Math.min(size, LOG_HEADER_BYTES), 0);
    if (size < LOG_HEADER_BYTES || (!headerValid(header) && size === LOG_HEADER_BYTES)) {
      // New file, or a crash while the header was written (no record follows an unsynced
      // header): its start is our magic, or zeros where the data never reached the disk.
      const start = header.subarray(0, Math.min(size, 8));
      if (!start.equals(LOG_MAGIC.subarray(0, start.length)) && start.some((b) => b !== 0)) {
        throw new OptOutCorruptError(0, `${this.path} is not an opt-out file`);
      }
      if (!readOnly) {
        await fh.truncate(0);
        await fh.write(encodeHeader(Date.now()), 0, LOG_HEADER_BYTES, 0);
        await fh.datasync();
        await fsyncDirectory(this.path);
      }
      this.#size = LOG_HEADER_BYTES;
      expect(0);
      return { records: 0, tornTailBytes: 0 };
    }
    if (!headerValid(header)) throw new OptOutCorruptError(0, `${this.path} has no valid opt-out file header`);

    expect(Math.floor((size - LOG_HEADER_BYTES) / LOG_RECORD_BYTES));
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES - (READ_CHUNK_BYTES % LOG_RECORD_BYTES));
    let position = LOG_HEADER_BYTES;
    let records = 0;
    let bad = -1;
    while (position + LOG_RECORD_BYTES <= size && bad < 0) {
      const want = Math.min(chunk.length, Math.floor((size - position) / LOG_RECORD_BYTES) * LOG_RECORD_BYTES);
      const { bytesRead } = await fh.read(chunk, 0, want, position);
      if (bytesRead < want) size = position + bytesRead; // shrank while reading (read-only opens)
      for (let o = 0; o + LOG_RECORD_BYTES <= bytesRead; o += LOG_RECORD_BYTES) {
        if (!recordValid(chunk, o)) {
          bad = position + o;
          break;
        }
        // Times are written non-negative and below 2^53: two u32 reads, no BigInt.
        onRecord(chunk, o + 10, chunk[o + 1]!, chunk.readUInt32BE(o + 2) * 4_294_967_296 + chunk.readUInt32BE(o + 6));
        records++;
      }
      position += bytesRead - (bytesRead % LOG_RECORD_BYTES);
    }
    const end = bad >= 0 ? bad : position;
    const tail = size - end;
    if (tail > 0) {
      const maxTail = (this.#options.maxGroupRecords + 1) * LOG_RECORD_BYTES;
      if (tail > maxTail) {
        throw new OptOutCorruptError(
          end,
          `${this.path} is damaged at byte ${end}: ${tail} bytes follow, more than one write group (${maxTail}); refusing to drop them`,
        );
      }
      if (!readOnly) {
        await fh.truncate(end);
        await fh.datasync();
      }
    }
    this.#size = end;
    this.#records = records;
    return { records, tornTailBytes: tail };
  }

  /**
   * Appends one record; resolves once it is on disk (fdatasync returned).
   * @throws OptOutWriteError (as a rejection) when the write or fsync failed, OptOutClosedError
   */
  append(uid: Uint8Array, optedOutMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(new OptOutClosedError());
    if (this.#options.readOnly) return Promise.reject(new OptOutWriteError(`${this.path} is open read-only`));
    if (this.#broken) return Promise.reject(new OptOutWriteError(`${this.path} cannot be written: ${this.#broken.message}`, { cause: this.#broken }));
    if (uid.length > MAX_RAW_UID_BYTES) return Promise.reject(new RangeError('raw UID too long'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ uid, optedOutMs, resolve, reject });
      if (!this.#flushing) this.#flushing = this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#paused) await this.#paused;
        const group = this.#queue.splice(0, this.#options.maxGroupRecords);
        this.#writing = this.#writeGroup(group);
        await this.#writing;
        this.#writing = undefined;
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    if (this.#broken || !this.#fh) {
      const err = new OptOutWriteError(`${this.path} cannot be written: ${this.#broken?.message ?? 'closed'}`);
      for (const p of group) p.reject(err);
      return;
    }
    const buf = Buffer.allocUnsafe(group.length * LOG_RECORD_BYTES);
    group.forEach((p, i) => encodeRecord(buf, i * LOG_RECORD_BYTES, p.uid, p.optedOutMs));
    const at = this.#size;
    try {
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await this.#fh.write(buf, written, buf.length - written, at + written);
        written += bytesWritten;
      }
      await this.#fh.datasync();
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
      // After a failed fsync the kernel may have dropped the dirty pages: nothing written since
      // the last good fsync can be trusted, so the log stops taking writes until reopened.
      this.#broken = new Error(code);
      await this.#fh.truncate(at).catch(() => undefined);
      const err = new OptOutWriteError(`writing ${this.path} failed (${code}); the opt-outs were not recorded`, { cause });
      for (const p of group) p.reject(err);
      for (const p of this.#queue.splice(0)) p.reject(err);
      return;
    }
    this.#size = at + buf.length;
    this.#records += group.length;
    for (const p of group) p.resolve();
  }

  /**
   * Rewrites the file with only the records `keep` accepts, in order (the store keeps one
   * record per raw UID, at its earliest time), into `<path>.compact`, fsynced, then renamed
   * over the log: a crash leaves the old file or the new one, never a mix. Appends wait.
   * @param keep receives each valid record in file order; returns the time to write, or -1 to drop it
   */
  async compact(keep: (uid: Buffer, optedOutMs: number) => number): Promise<{ before: number; after: number }> {
    if (this.#closed || !this.#fh) throw new OptOutClosedError();
    if (this.#options.readOnly) throw new OptOutWriteError(`${this.path} is open read-only`);
    let resume!: () => void;
    this.#paused = new Promise((r) => (resume = r));
    try {
      await this.#writing;
      const before = this.#records;
      const tmpPath = `${this.path}.compact`;
      const out = await open(tmpPath, 'w', 0o600);
      let after = 0;
      try {
        await out.write(encodeHeader(Date.now()), 0, LOG_HEADER_BYTES, 0);
        const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES - (READ_CHUNK_BYTES % LOG_RECORD_BYTES));
        const outBuf = Buffer.allocUnsafe(chunk.length);
        let position = LOG_HEADER_BYTES;
        let outPosition = LOG_HEADER_BYTES;
        while (position < this.#size) {
          const { bytesRead } = await this.#fh.read(chunk, 0, Math.min(chunk.length, this.#size - position), position);
          if (bytesRead === 0) break;
          let o = 0;
          let n = 0;
          for (; o + LOG_RECORD_BYTES <= bytesRead; o += LOG_RECORD_BYTES) {
            if (!recordValid(chunk, o)) throw new OptOutCorruptError(position + o, `${this.path} changed under compaction at byte ${position + o}`);
            const uid = chunk.subarray(o + 10, o + 10 + chunk[o + 1]!);
            const ms = keep(uid, Number(chunk.readBigInt64BE(o + 2)));
            if (ms < 0) continue;
            encodeRecord(outBuf, n, uid, ms);
            n += LOG_RECORD_BYTES;
          }
          if (n > 0) await out.write(outBuf, 0, n, outPosition);
          outPosition += n;
          after += n / LOG_RECORD_BYTES;
          position += o;
        }
        await out.datasync();
      } finally {
        await out.close();
      }
      await rename(tmpPath, this.path);
      await fsyncDirectory(this.path);
      const old = this.#fh;
      this.#fh = await open(this.path, constants.O_RDWR);
      await old.close();
      this.#size = LOG_HEADER_BYTES + after * LOG_RECORD_BYTES;
      this.#records = after;
      return { before, after };
    } finally {
      this.#paused = undefined;
      resume();
    }
  }

  /** Waits for every pending append, then closes the file and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#release();
  }

  async #release(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => undefined);
    if (this.#lockPath) await rm(this.#lockPath, { force: true });
    this.#lockPath = undefined;
  }
}
