/**
 * The fleet store's warm-start cache: an opt-out log (the file store's format, file/log.ts) that
 * receives, in the background, every opt-out the local set learns from Redis, and the stream
 * position (position.ts) up to which the file holds everything, so a restart reads only the
 * stream's tail. The local set never waits on it or depends on it:
 *
 *   learnt ─► local set (at once) ─► append to the file (background, at most MAX_PENDING queued)
 *   stream position after a batch ─► mark ─► once every earlier append is durable ─► savable
 *   an append fails (full disk, EIO) ─► counted, logged once per interval, the cache becomes
 *     'incomplete': the saved position stays where it was (before the missing opt-out), later
 *     appends go on; a restart reads the stream again from there (applying twice changes nothing)
 *   the file cannot be opened (locked, damaged, unwritable) ─► 'unavailable': the store follows
 *     Redis from a full load, without a cache
 */
import type { Logger } from '../../observability/logger.js';
import { ThrottledLog } from '../../observability/throttled-log.js';
import { failureCode } from '../../util/failure-code.js';
import { OptOutLog } from '../file/log.js';
import { DEFAULT_FILE_OPTOUT_STORE_OPTIONS } from '../file/store.js';
import type { OnRecord } from '../file/scan.js';
import { readCachePosition, writeCachePosition, type CachePosition } from './position.js';

/** Appends queued before the cache stops taking more (and becomes incomplete) rather than grow. */
const MAX_PENDING = 100_000;

/** What `stats().cache` reports. */
export interface WarmStartCacheStats {
  /**
   * `none` (no cache file configured), `ok`, `incomplete` (an opt-out could not be written: the
   * saved position no longer moves, so a restart re-reads from it) or `unavailable` (the file
   * could not be opened: the store follows Redis without it).
   */
  state: 'none' | 'ok' | 'incomplete' | 'unavailable';
  /** Opt-outs written to the file. */
  writes: number;
  /** Failures: open, appends, position saves. */
  errors: number;
  /** The last failure's code or message, or null. */
  lastError: string | null;
}

export class WarmStartCache {
  readonly path: string;
  readonly #log: OptOutLog;
  readonly #failures: ThrottledLog;
  /** The position saved when the cache was opened (null when none or unreadable). */
  readonly saved: CachePosition | null;
  #pending = 0;
  /** Appends since the last mark. */
  #batch: Promise<void>[] = [];
  /** Marks settle in order. */
  #marks: Promise<void> = Promise.resolve();
  /** Where the file is complete up to (a stream id), once durable; null before the first mark. */
  #durable: { stream: string; epoch: string; lastId: string } | null = null;
  #savedId: string | null;
  #incomplete = false;
  readonly #s = { writes: 0, errors: 0, lastError: null as string | null };

  private constructor(path: string, log: OptOutLog, saved: CachePosition | null, logger: Logger) {
    this.path = path;
    this.#log = log;
    this.saved = saved;
    this.#savedId = saved?.lastId ?? null;
    this.#failures = new ThrottledLog(logger);
  }

  /**
   * Opens the cache file for writing, loading its records through `expect` and `onRecord`.
   * @throws what OptOutLog.open throws (the caller goes on without a cache)
   */
  static async open(path: string, logger: Logger, expect: (records: number) => void, onRecord: OnRecord): Promise<WarmStartCache> {
    const { log } = await OptOutLog.open(path, { readOnly: false, maxGroupRecords: DEFAULT_FILE_OPTOUT_STORE_OPTIONS.maxGroupRecords }, expect, onRecord);
    return new WarmStartCache(path, log, await readCachePosition(path), logger);
  }

  stats(): Omit<WarmStartCacheStats, 'state'> & { state: 'ok' | 'incomplete' } {
    return { state: this.#incomplete ? 'incomplete' : 'ok', ...this.#s };
  }

  #failed(err: unknown, what: string): void {
    this.#s.errors++;
    this.#s.lastError = failureCode(err);
    this.#failures.failure({ event: 'uid2.optout.cache', code: this.#s.lastError }, `warm-start cache ${what} failed; the local set keeps following Redis, a restart re-reads the stream from the last saved position`);
  }

  /** Queues an opt-out the local set just learnt; never waits, never throws. */
  append(uid: Uint8Array, optedOutMs: number): void {
    if (this.#pending >= MAX_PENDING) {
      this.#incomplete = true;
      this.#failed(new Error('backlog'), 'write (too many queued)');
      return;
    }
    this.#pending++;
    const done = this.#log.append(Uint8Array.from(uid), optedOutMs).then(
      () => {
        this.#pending--;
        this.#s.writes++;
        this.#failures.success({ event: 'uid2.optout.cache' }, 'warm-start cache writes again');
      },
      (err: unknown) => {
        this.#pending--;
        this.#incomplete = true;
        this.#failed(err, 'write');
      },
    );
    this.#batch.push(done);
  }

  /** Everything appended so far comes before stream entry `lastId`: savable once durable, unless incomplete. */
  mark(position: { epoch: string; stream: string; lastId: string }): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#marks = this.#marks.then(async () => {
      await Promise.all(batch);
      if (!this.#incomplete) this.#durable = position;
    });
  }

  /** Saves the durable position when it moved. Never throws. */
  async savePosition(): Promise<void> {
    const position = this.#durable;
    if (position === null || position.lastId === this.#savedId) return;
    try {
      await writeCachePosition(this.path, position);
      this.#savedId = position.lastId;
    } catch (err) {
      this.#failed(err, 'position save');
    }
  }

  /** Waits for queued appends, saves the position, closes the file. */
  async close(): Promise<void> {
    await this.#marks;
    await Promise.all(this.#batch);
    await this.savePosition();
    await this.#log.close();
  }
}
