/**
 * The durable half of the file store: an append-only log of fixed-size, checksummed records
 * (format.ts, docs/optout.md), written with group commit: every add waiting while one write +
 * fdatasync is in flight goes into the next write, closed by a commit record, so one fsync
 * acknowledges hundreds of opt-outs. An add resolves only after the fdatasync that covers it
 * returned. One writer per file, held by an OS lock (lock.ts).
 *
 *   open ─► lock ─► scan (scan.ts): clean ─► commit any records left after the last commit
 *                                   torn last write ─► cut it
 *                                   damage ─► OptOutCorruptError (offset; `optout repair`)
 *   add ─► queue ─► [group: records + commit] ─► write ─► fdatasync ─► resolve all
 *                                                  └ fails ─► reject this group (503), cut it,
 *                                                    retry with the next; before acknowledging
 *                                                    again: reopen the file and verify it
 *
 * A failed write or fsync is treated as transient (a full disk gets space again), but after one
 * the page cache may not hold what the disk holds (Linux marks pages clean after a failed
 * writeback), so the next group that is written fine is acknowledged only after the file was
 * reopened and every record in it checked; if that check fails, the log stops taking writes.
 *
 * Fixed records rather than self-describing ones (msgpack, JSON): loading 10M opt-outs must
 * take seconds, and a fixed record is checked and decoded with a few reads and one CRC-32.
 */
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { OptOutClosedError, OptOutCorruptError, OptOutWriteError } from '../../errors.js';
import { failureCode } from '../../util/failure-code.js';
import { MAX_RAW_UID_BYTES } from '../raw-uid.js';
import {
  LEGACY_LOG_VERSION,
  LOG_HEADER_BYTES,
  LOG_MAGIC,
  LOG_RECORD_BYTES,
  LOG_VERSION,
  RECORD_UID_AT,
  Slot,
  classifySlot,
  encodeCommit,
  encodeHeader,
  encodeRecord,
  headerCreatedMs,
  headerVersion,
  recordMs,
  recordUidLength,
} from './format.js';
import { isSameFile, openLocked } from './lock.js';
import { LogRewriter, fsyncDirectory } from './rewrite.js';
import { salvageLog, scanLog, type ByteRange, type OnRecord } from './scan.js';

const READ_CHUNK_BYTES = 4 * 1024 * 1024 - ((4 * 1024 * 1024) % LOG_RECORD_BYTES);

/** What a load found. */
export interface LogLoadReport {
  /** Intact records read (duplicates included). */
  records: number;
  /** Bytes of an unfinished last write: cut by a writer, skipped (and left) by a reader. 0 for a clean file. */
  tornTailBytes: number;
  /** Read-only opens: bytes of damage skipped (a writer refuses a damaged file instead). */
  damagedBytes: number;
  /** Read-only opens: damaged ranges skipped. */
  damagedRanges: number;
  /** Read-only opens: the first 100 of them. */
  damaged: ByteRange[];
}

/** How the log's writes have gone (a writer's; all zero for a reader). */
export interface LogWriteStats {
  /** False after a failed write, until a later one was written and the file verified; false for good once verification failed. */
  healthy: boolean;
  /** Records written and acknowledged. */
  written: number;
  /** Records whose write failed (their adds were rejected). */
  failed: number;
  /** Write groups that failed. */
  failedWrites: number;
  /** Times the file was reopened and verified after a failure. */
  reopens: number;
  /** The last failure (an errno code such as ENOSPC, or an error code), or null. */
  lastError: string | null;
  /** When it happened, Unix ms, or null. */
  lastErrorMs: number | null;
}

export interface OptOutLogOptions {
  /** Most records in one write group. Default 4096. */
  maxGroupRecords: number;
  /** Open for reading only: no lock, no writes, a torn tail and damage skipped but left in place. */
  readOnly: boolean;
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
  /** The real file (symlinks resolved): rewrites replace it, not a link to it. Writers only. */
  #realPath = '';
  /** The handle holding the writer lock (writers only). */
  #lock: FileHandle | undefined;
  #fh: FileHandle | undefined;
  #size = 0;
  #records = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #writing: Promise<void> | undefined;
  #paused: Promise<void> | undefined;
  /** A write failed: verify the file before acknowledging again. */
  #suspect = false;
  /** Verification failed: no more writes. */
  #broken: Error | undefined;
  #closed = false;
  readonly #stats = { written: 0, failed: 0, failedWrites: 0, reopens: 0, lastError: null as string | null, lastErrorMs: null as number | null };

  private constructor(path: string, options: OptOutLogOptions) {
    this.path = path;
    this.#options = options;
  }

  /** Intact records in the file (duplicates included). */
  get records(): number {
    return this.#records;
  }

  /** Bytes in the file. */
  get byteLength(): number {
    return this.#size;
  }

  stats(): LogWriteStats {
    return { healthy: !this.#closed && !this.#suspect && !this.#broken && !this.#options.readOnly, ...this.#stats };
  }

  /**
   * Opens (creating it unless read-only) and loads the log, calling `onRecord` for each intact
   * record in file order with the raw UID at `buf[offset .. offset + length)` (a reused read
   * buffer: copy the bytes to keep them).
   * @param expect called once with the number of records the file can hold, before the first record
   * @throws OptOutLockedError, NativeUnavailableError (no lock without the addon), OptOutCorruptError, or the file system's error
   */
  static async open(path: string, options: OptOutLogOptions, expect: (records: number) => void, onRecord: OnRecord): Promise<{ log: OptOutLog; report: LogLoadReport }> {
    const log = new OptOutLog(path, options);
    try {
      if (options.readOnly) {
        log.#fh = await open(path, 'r');
      } else {
        log.#lock = await openLocked(path);
        log.#realPath = await realpath(path);
        log.#fh = log.#lock;
      }
      const report = await log.#load(expect, onRecord);
      return { log, report };
    } catch (err) {
      await log.#release();
      throw err;
    }
  }

  async #load(expect: (records: number) => void, onRecord: OnRecord): Promise<LogLoadReport> {
    const readOnly = this.#options.readOnly;
    const fh = this.#fh!;
    const size = (await fh.stat()).size;
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    if (size > 0) await fh.read(header, 0, Math.min(size, LOG_HEADER_BYTES), 0);
    const version = headerVersion(header);
    if (size < LOG_HEADER_BYTES || (version === 0 && size === LOG_HEADER_BYTES)) {
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
        await fsyncDirectory(this.#realPath);
      }
      this.#size = LOG_HEADER_BYTES;
      expect(0);
      return { records: 0, tornTailBytes: 0, damagedBytes: 0, damagedRanges: 0, damaged: [] };
    }
    if (version === 0) {
      const damaged = new OptOutCorruptError(0, `${this.path} has no valid opt-out file header; "uid2-engine optout repair ${this.path}" keeps every intact record`);
      if (!readOnly) throw damaged;
      // A reader takes what it can: every intact record from byte 0 on, the header counted as damage.
      expect(Math.floor(size / LOG_RECORD_BYTES));
      const report = await this.#salvage({ records: 0, tornTailBytes: 0, damagedBytes: 0, damagedRanges: 0, damaged: [] }, 0, size, true, onRecord);
      if (report.records === 0 && !header.subarray(0, 8).equals(LOG_MAGIC)) throw new OptOutCorruptError(0, `${this.path} is not an opt-out file`);
      return report;
    }
    const commits = version === LOG_VERSION;
    expect(Math.floor((size - LOG_HEADER_BYTES) / LOG_RECORD_BYTES));
    const scan = await scanLog(fh, LOG_HEADER_BYTES, size, LOG_HEADER_BYTES, commits, onRecord);
    const report: LogLoadReport = { records: scan.records, tornTailBytes: scan.tail === 'torn' ? size - scan.end : 0, damagedBytes: 0, damagedRanges: 0, damaged: [] };
    this.#records = scan.records;
    this.#size = scan.end;
    if (scan.tail === 'damaged') {
      if (!readOnly) {
        throw new OptOutCorruptError(
          scan.end,
          `${this.path} is damaged at byte ${scan.end} (acknowledged opt-outs follow); refusing to drop them: "uid2-engine optout repair ${this.path}" keeps every intact record and sets the damaged bytes aside`,
        );
      }
      return this.#salvage(report, scan.end, size, commits, onRecord);
    }
    if (readOnly) return report;
    if (report.tornTailBytes > 0) await fh.truncate(scan.end);
    if (version === LEGACY_LOG_VERSION) {
      await this.#rewrite(headerCreatedMs(header), false, (_uid, ms) => ms);
    } else if (scan.end > scan.committedEnd) {
      // Records a crash left after the last commit (a write whose fdatasync may not have
      // returned): intact opt-outs, kept; synced and committed before anything else is written.
      const commit = Buffer.alloc(LOG_RECORD_BYTES);
      encodeCommit(commit, 0, scan.committedEnd, (scan.end - scan.committedEnd) / LOG_RECORD_BYTES);
      await fh.datasync();
      await fh.write(commit, 0, LOG_RECORD_BYTES, scan.end);
      await fh.datasync();
      this.#size = scan.end + LOG_RECORD_BYTES;
    } else if (report.tornTailBytes > 0) {
      await fh.datasync();
    }
    return report;
  }

  /** A reader's load past damage: every intact record from `from` on (scan.ts), the damage reported. */
  async #salvage(report: LogLoadReport, from: number, size: number, commits: boolean, onRecord: OnRecord): Promise<LogLoadReport> {
    const salvage = await salvageLog(this.#fh!, from, size, commits, onRecord);
    report.records += salvage.records;
    report.damagedBytes = salvage.damagedBytes;
    report.damagedRanges = salvage.damagedRanges;
    report.damaged = salvage.damaged;
    this.#records = report.records;
    this.#size = size;
    return report;
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

  #fail(code: string, records: number): void {
    this.#stats.failedWrites++;
    this.#stats.failed += records;
    this.#stats.lastError = code;
    this.#stats.lastErrorMs = Date.now();
  }

  async #writeGroup(group: Pending[]): Promise<void> {
    const fh = this.#fh;
    if (this.#broken || !fh) {
      const err = new OptOutWriteError(`${this.path} cannot be written: ${this.#broken?.message ?? 'closed'}`, { cause: this.#broken });
      for (const p of group) p.reject(err);
      return;
    }
    const buf = Buffer.allocUnsafe((group.length + 1) * LOG_RECORD_BYTES);
    group.forEach((p, i) => encodeRecord(buf, i * LOG_RECORD_BYTES, p.uid, p.optedOutMs));
    const at = this.#size;
    encodeCommit(buf, group.length * LOG_RECORD_BYTES, at, group.length);
    try {
      let written = 0;
      while (written < buf.length) {
        const { bytesWritten } = await fh.write(buf, written, buf.length - written, at + written);
        written += bytesWritten;
      }
      await fh.datasync();
      if (this.#suspect) await this.#reopenAndVerify(at + buf.length, this.#records + group.length);
    } catch (cause) {
      const code = failureCode(cause);
      this.#fail(code, group.length);
      if (cause instanceof OptOutCorruptError) {
        // The file no longer holds what was acknowledged: stop writing, say so on every add.
        this.#broken = cause;
        const err = new OptOutWriteError(`${this.path} cannot be written: ${cause.message}`, { cause });
        for (const p of [...group, ...this.#queue.splice(0)]) p.reject(err);
        return;
      }
      // Nothing of this group counts: cut it off (best effort; a later group overwrites it anyway).
      this.#suspect = true;
      await this.#fh?.truncate(at).catch(() => undefined);
      const err = new OptOutWriteError(`writing ${this.path} failed (${code}); these opt-outs were not recorded (later ones are tried again)`, { cause });
      for (const p of group) p.reject(err);
      return;
    }
    this.#size = at + buf.length;
    this.#records += group.length;
    this.#stats.written += group.length;
    for (const p of group) p.resolve();
  }

  /**
   * After a failed write: reopens the file (a descriptor that saw no error), cuts it to `size`
   * (what the last good group ended at), syncs, and checks that it holds `records` intact records
   * in committed groups and nothing else.
   * @throws OptOutCorruptError when it does not; the file system's error (then try again later)
   */
  async #reopenAndVerify(size: number, records: number): Promise<void> {
    this.#stats.reopens++;
    const fh = await open(this.#realPath, constants.O_RDWR);
    try {
      if (!(await isSameFile(fh, this.#realPath)) || !(await isSameFile(this.#lock!, this.#realPath))) {
        throw new OptOutCorruptError(0, `${this.path} was replaced by another file while open for writing`);
      }
      await fh.truncate(size);
      await fh.datasync();
      const scan = await scanLog(fh, LOG_HEADER_BYTES, size, LOG_HEADER_BYTES, true, null);
      if (scan.tail !== 'none' || scan.committedEnd !== size || scan.records !== records) {
        throw new OptOutCorruptError(scan.end, `${this.path} does not hold what was acknowledged after a failed write (checked to byte ${scan.end}, ${scan.records} of ${records} records)`);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    const old = this.#fh;
    this.#fh = fh;
    if (old !== this.#lock) await old?.close().catch(() => undefined);
    this.#suspect = false;
  }

  /**
   * Rewrites the file with only the records `keep` accepts, in order (the store keeps one
   * record per raw UID, at its earliest time), then puts it in place (rewrite.ts). Appends wait.
   * @param keep receives each intact record in file order; returns the time to write, or -1 to drop it
   */
  async compact(keep: (uid: Buffer, optedOutMs: number) => number): Promise<{ before: number; after: number }> {
    if (this.#closed || !this.#fh) throw new OptOutClosedError();
    if (this.#options.readOnly) throw new OptOutWriteError(`${this.path} is open read-only`);
    if (this.#broken) throw new OptOutWriteError(`${this.path} cannot be written: ${this.#broken.message}`, { cause: this.#broken });
    let resume!: () => void;
    this.#paused = new Promise((r) => (resume = r));
    try {
      await this.#writing;
      const before = this.#records;
      const header = Buffer.alloc(LOG_HEADER_BYTES);
      await this.#fh.read(header, 0, LOG_HEADER_BYTES, 0);
      await this.#rewrite(headerCreatedMs(header), true, keep);
      return { before, after: this.#records };
    } finally {
      this.#paused = undefined;
      resume();
    }
  }

  /** Writes the kept records into a fresh file and puts it in place of this one (rewrite.ts). */
  async #rewrite(createdMs: number, commits: boolean, keep: (uid: Buffer, optedOutMs: number) => number): Promise<void> {
    const fh = this.#fh!;
    const out = await LogRewriter.create(this.#realPath, 'compact', createdMs);
    let lock: FileHandle;
    try {
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      let position = LOG_HEADER_BYTES;
      while (position + LOG_RECORD_BYTES <= this.#size) {
        const want = Math.min(chunk.length, Math.floor((this.#size - position) / LOG_RECORD_BYTES) * LOG_RECORD_BYTES);
        const { bytesRead } = await fh.read(chunk, 0, want, position);
        if (bytesRead < LOG_RECORD_BYTES) break;
        for (let o = 0; o + LOG_RECORD_BYTES <= bytesRead; o += LOG_RECORD_BYTES) {
          const kind = classifySlot(chunk, o, commits);
          if (kind === Slot.Commit) continue;
          if (kind !== Slot.Record) throw new OptOutCorruptError(position + o, `${this.path} changed under compaction at byte ${position + o}`);
          const uid = chunk.subarray(o + RECORD_UID_AT, o + RECORD_UID_AT + recordUidLength(chunk, o));
          const ms = keep(uid, recordMs(chunk, o));
          if (ms < 0) continue;
          const full = out.add(uid, ms);
          if (full) await full;
        }
        position += bytesRead - (bytesRead % LOG_RECORD_BYTES);
      }
      lock = await out.install();
    } catch (err) {
      await out.abort();
      throw err;
    }
    let data: FileHandle;
    try {
      data = await open(this.#realPath, constants.O_RDWR);
    } catch (err) {
      // The new file is in place but cannot be written through: writing on would go to the old,
      // unlinked one, so nothing more is acknowledged.
      this.#broken = err as Error;
      this.#stats.lastError = failureCode(err);
      await lock.close().catch(() => undefined);
      throw err;
    }
    const [oldFh, oldLock] = [this.#fh, this.#lock];
    this.#lock = lock;
    this.#fh = data;
    this.#size = out.byteLength;
    this.#records = out.records;
    await oldFh?.close().catch(() => undefined);
    if (oldLock !== oldFh) await oldLock?.close().catch(() => undefined);
  }

  /** Waits for every pending append, then closes the file, releasing the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#release();
  }

  async #release(): Promise<void> {
    const [fh, lock] = [this.#fh, this.#lock];
    this.#fh = undefined;
    this.#lock = undefined;
    await fh?.close().catch(() => undefined);
    if (lock !== fh) await lock?.close().catch(() => undefined);
  }
}
