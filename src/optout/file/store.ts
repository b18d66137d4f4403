/**
 * The embedded opt-out store: the durable log (file/log.ts) plus the in-memory set
 * (set.ts), kept apart so another durable backend can reuse the set. Opening loads the
 * log into a set sized for it; an add goes to the log first and into the set only once its
 * fdatasync returned, so a reader never sees an opt-out that a crash could still lose, and
 * every opt-out a caller saw acknowledged survives one.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { MetricsRegistry } from '../../observability/metrics.js';
import { registerOptOutStoreMetrics, type OptOutStoreMetricsOptions } from '../../observability/optout-store-metrics.js';
import { integerOption } from '../../util/integer-option.js';
import { OptOutLog, type LogLoadReport, type LogWriteStats } from './log.js';
import { OptOutSet, type OptOutSetChange } from '../set.js';
import { isRawUidBytes, parseRawUid } from '../raw-uid.js';
import type { OptOutStore, OptOutStoreHealth, RawUidInput } from '../store.js';
import { isOptOutMs, toOptOutSeconds } from '../time.js';

export interface FileOptOutStoreOptions {
  /**
   * Open without writing: no lock, adds rejected, a torn tail skipped but left for the writer,
   * damage skipped (every intact record around it loaded; `loadReport` says what was skipped).
   * For processes that only check (e.g. `decrypt --optout-store`). Default false.
   */
  readOnly?: boolean;
  /** Most opt-outs written by one fdatasync (group commit). Default 4096. */
  maxGroupRecords?: number;
  /**
   * Compact on open when the file holds at least this many more records than raw UIDs
   * (superseded times); 0 never. Default 100 000.
   */
  compactAboveRedundant?: number;
}

export const DEFAULT_FILE_OPTOUT_STORE_OPTIONS: Readonly<Required<FileOptOutStoreOptions>> = Object.freeze({
  readOnly: false,
  maxGroupRecords: 4096,
  compactAboveRedundant: 100_000,
});

function resolveOptions(options: unknown): Required<FileOptOutStoreOptions> {
  if (options === undefined || options === null) return { ...DEFAULT_FILE_OPTOUT_STORE_OPTIONS };
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('options must be an object');
  const o = options as Record<string, unknown>;
  const d = DEFAULT_FILE_OPTOUT_STORE_OPTIONS;
  const readOnly = o['readOnly'] ?? d.readOnly;
  if (typeof readOnly !== 'boolean') throw new InvalidArgumentError('options.readOnly must be a boolean');
  return {
    readOnly,
    maxGroupRecords: integerOption(o['maxGroupRecords'], 'options.maxGroupRecords', d.maxGroupRecords, 1_000_000),
    compactAboveRedundant: integerOption(o['compactAboveRedundant'], 'options.compactAboveRedundant', d.compactAboveRedundant, Number.MAX_SAFE_INTEGER, 0),
  };
}

/** Raw UID bytes from text or bytes, or null when malformed. */
function uidBytes(rawUid: RawUidInput): Uint8Array | null {
  if (typeof rawUid === 'string') return parseRawUid(rawUid);
  return rawUid instanceof Uint8Array && isRawUidBytes(rawUid) ? rawUid : null;
}

/** What `FileOptOutStore.stats()` reports. */
export interface FileOptOutStoreStats extends LogWriteStats {
  /** Opted-out raw UIDs held. */
  size: number;
  /** Records in the file, duplicates included. */
  fileRecords: number;
}

/** The local file opt-out store. Open it with `FileOptOutStore.open(path)`. */
export class FileOptOutStore implements OptOutStore {
  readonly path: string;
  /** What loading the file found (records read, torn tail cut, damage a read-only open skipped). */
  readonly loadReport: LogLoadReport;
  readonly #log: OptOutLog;
  readonly #set: OptOutSet;
  #closed = false;

  private constructor(path: string, log: OptOutLog, set: OptOutSet, report: LogLoadReport) {
    this.path = path;
    this.#log = log;
    this.#set = set;
    this.loadReport = report;
  }

  /**
   * Opens (or creates) the store at `path` and loads it.
   * @throws InvalidArgumentError for bad options; OptOutLockedError when another open holds the
   *   file for writing; NativeUnavailableError for a writer without the native addon (its file
   *   lock); OptOutCorruptError when a writer finds damage beyond a torn last write (its
   *   `offset`; `uid2-engine optout repair FILE` salvages); the file system's error (e.g. ENOENT
   *   for a missing file opened read-only)
   */
  static async open(path: string, options?: FileOptOutStoreOptions): Promise<FileOptOutStore> {
    if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('path must be a non-empty string');
    const o = resolveOptions(options);
    let set: OptOutSet | undefined;
    const { log, report } = await OptOutLog.open(
      path,
      { readOnly: o.readOnly, maxGroupRecords: o.maxGroupRecords },
      (records) => (set = new OptOutSet(records)),
      (buf, offset, length, ms) => set!.addAt(buf, offset, length, toOptOutSeconds(ms)),
    );
    const store = new FileOptOutStore(path, log, set!, report);
    if (!o.readOnly && o.compactAboveRedundant > 0 && report.records - set!.size >= o.compactAboveRedundant) await store.compact();
    return store;
  }

  get size(): number {
    return this.#set.size;
  }

  /** Records in the file, duplicates included (compaction brings it down to `size`). */
  get fileRecords(): number {
    return this.#log.records;
  }

  /** Bytes of the in-memory set (divide by `size` for bytes per entry). */
  get memoryBytes(): number {
    return this.#set.byteLength;
  }

  snapshot(): SharedArrayBuffer {
    return this.#set.buffer;
  }

  has(rawUid: RawUidInput): boolean {
    return this.#seconds(rawUid) !== 0;
  }

  optedOutSince(rawUid: RawUidInput): number | undefined {
    const seconds = this.#seconds(rawUid);
    return seconds === 0 ? undefined : seconds * 1000;
  }

  #seconds(rawUid: RawUidInput): number {
    const view = this.#set.view;
    return typeof rawUid === 'string' ? view.secondsForBase64(rawUid) : rawUid instanceof Uint8Array ? view.secondsForBytes(rawUid) : 0;
  }

  async add(rawUid: RawUidInput, optedOutMs: number): Promise<OptOutSetChange> {
    const bytes = uidBytes(rawUid);
    if (!bytes) throw new InvalidArgumentError('rawUid must be standard base64 of 32 or 33 bytes');
    if (!isOptOutMs(optedOutMs)) throw new InvalidArgumentError('optedOutMs must be integer Unix milliseconds from 1000 to 4294967295000');
    const seconds = toOptOutSeconds(optedOutMs);
    const known = this.#set.secondsForBytes(bytes);
    // Already durable at this time or earlier: a repeated delivery writes nothing.
    if (known !== 0 && known <= seconds) return 'unchanged';
    // The log may hold the bytes until its write: give it its own copy.
    await this.#log.append(Uint8Array.from(bytes), optedOutMs);
    return this.#set.add(bytes, seconds);
  }

  /**
   * Rewrites the file with one record per raw UID, at its earliest time. Adds wait meanwhile.
   * Two raw UIDs with the same 96-bit fingerprint (see ../set.ts: ~n^2 / 2^97) would keep one.
   * @returns records before and after
   */
  async compact(): Promise<{ before: number; after: number }> {
    const set = this.#set;
    const written = new OptOutSet(set.size);
    return this.#log.compact((uid, ms) => {
      const seconds = toOptOutSeconds(ms);
      const earliest = set.secondsForBytes(uid);
      // Dropped only when provably redundant: already written, or a record with an earlier time exists.
      if (written.secondsForBytes(uid) !== 0 || (earliest !== 0 && earliest < seconds)) return -1;
      written.add(uid, seconds);
      return ms;
    });
  }

  /** How writes have gone, with the sizes. */
  stats(): FileOptOutStoreStats {
    return { ...this.#log.stats(), size: this.#set.size, fileRecords: this.#log.records };
  }

  health(): OptOutStoreHealth {
    if (this.#closed) return { ok: false, reason: 'closed' };
    const s = this.#log.stats();
    return s.healthy ? { ok: true, reason: null } : { ok: false, reason: s.lastError ?? 'read-only' };
  }

  /**
   * Registers Prometheus metrics read from `stats()` (`uid2_optout_size`, `_healthy`,
   * `_writes_total`, `_write_errors_total`) on `register` (default: prom-client's global
   * registry). Needs the optional peer dependency prom-client.
   */
  metrics(register?: MetricsRegistry, options?: OptOutStoreMetricsOptions): Promise<void> {
    return registerOptOutStoreMetrics(() => {
      const s = this.stats();
      return { size: s.size, healthy: s.healthy, writes: s.written, writeErrors: s.failed };
    }, register, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#log.close();
    this.#set.close();
  }
}
