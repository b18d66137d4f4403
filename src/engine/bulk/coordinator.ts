/**
 * The bulk coordinator: the main thread's whole share of bulk decryption. It never looks at a
 * token; it moves chunks.
 *
 *   source ──read──► chunk input (shared) ──task──► worker: split, decrypt, format ──► chunk output
 *      ▲ cut after the last line break; the tail is carried to the next chunk                │
 *      └──────── chunk reused ◄── sink ◄── written in input order (back-pressure) ◄──────────┘
 *
 * At most `threads + 2` chunks exist (2 in process), so memory is flat whatever the input size:
 * the source is not read while every chunk is in flight or waiting to be written. A chunk whose
 * records did not all fit its output buffer is written and run again from where it stopped. A
 * task that fails (its worker died or threw) is run again from its start, its partial output
 * overwritten, so nothing is lost or written twice; a second failure fails the run with
 * UID2_ERR_WORKER_FAILED. A line longer than a chunk is never held: one record says so and the
 * rest of it is skipped up to its line break.
 */
import { WorkerFailedError } from '../../errors.js';
import type { CryptoBackend } from '../../native/backend.js';
import type { ClientType } from '../../types.js';
import { chunkInputCapacity, createChunk, type Chunk, type ChunkResult, type ChunkTask } from '../wire/bulk-chunk.js';
import { formatPreamble } from '../wire/record-format.js';
import { STATUS_BY_CODE } from '../../token/result.js';
import type { ResolvedBulkOptions } from './options.js';
import type { ChunkSink } from './sink.js';
import type { ChunkSource } from './source.js';

/** What the engine lends a bulk run. */
export interface BulkHost {
  readonly threads: number;
  readonly clientType: ClientType;
  readonly backend: CryptoBackend;
  /** The key snapshot a chunk cut now uses (null: no keys yet). */
  snapshot(): ChunkTask['snapshot'];
  /** The opt-out set to check against now, or null without an opt-out store. */
  optOut(): SharedArrayBuffer | null;
  readonly keepOptedOutUid: boolean;
  /** Whether the engine is closed (a stream read after close() fails with EngineClosedError). */
  closed(): boolean;
  /** Runs a chunk task on a worker (or in process). */
  run(task: ChunkTask): Promise<ChunkResult>;
}

/** How a bulk run went. */
export interface BulkSummary {
  /** Records written: one per input line. */
  readonly records: number;
  readonly bytesRead: number;
  readonly durationMs: number;
  /** Records per status: the statuses that occurred, in the order they first did. */
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Records whose raw UID is opted out (with an opt-out store). */
  readonly optedOut: number;
  /** Lines longer than maxLineBytes (each reported as an invalid token). */
  readonly overlongLines: number;
  /** Line numbers (1-based) of the first few of them. */
  readonly firstOverlongLines: readonly number[];
}

const LF = 0x0a;
const CR = 0x0d;
/** Attempts a chunk gets before the run fails. */
const ATTEMPTS = 2;
const OVERLONG_REPORTED = 10;

interface Entry {
  readonly chunk: Chunk;
  start: number;
  readonly end: number;
  readonly overlong: boolean;
  readonly nowMs: number;
  readonly snapshot: ChunkTask['snapshot'];
  /** Input bytes read when the chunk was cut (for progress). */
  readonly bytesRead: number;
  result: Promise<ChunkResult>;
}

/** Index of the last line break in input[0, filled), or -1. */
function lastBreak(input: Buffer, filled: number): number {
  const lf = input.lastIndexOf(LF, filled - 1);
  if (lf < 0) return input.lastIndexOf(CR, filled - 1);
  for (let i = filled - 1; i > lf; i--) if (input[i] === CR) return i;
  return lf;
}

/** Index of the first line break in input[from, filled), or -1. */
function firstBreak(input: Buffer, from: number, filled: number): number {
  const lf = input.indexOf(LF, from);
  const cr = input.indexOf(CR, from);
  const first = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
  return first >= 0 && first < filled ? first : -1;
}

export class BulkRun {
  readonly #host: BulkHost;
  readonly #source: ChunkSource;
  readonly #sink: ChunkSink;
  readonly #options: ResolvedBulkOptions;
  readonly #maxChunks: number;
  readonly #chunks: Chunk[] = [];
  readonly #free: Chunk[] = [];
  readonly #order: Entry[] = [];
  /** Bytes after the last line break of the chunk cut last: the start of the next one. */
  readonly #carry: Buffer;
  #carryLength = 0;
  #bytesRead = 0;
  #sourceDone = false;
  /** The last chunk ended in CR: an LF first in the next read belongs to it. */
  #skipLf = false;
  /** Inside a line too long for a chunk: input is dropped up to its line break. */
  #skipping = false;
  readonly #statusCounts = new Array<number>(STATUS_BY_CODE.length).fill(0);
  readonly #statusOrder: number[] = [];
  #records = 0;
  #optedOut = 0;
  #overlong = 0;
  readonly #firstOverlong: number[] = [];

  constructor(host: BulkHost, source: ChunkSource, sink: ChunkSink, options: ResolvedBulkOptions) {
    this.#host = host;
    this.#source = source;
    this.#sink = sink;
    this.#options = options;
    this.#maxChunks = host.threads === 0 ? 2 : host.threads + 2;
    this.#carry = Buffer.allocUnsafe(chunkInputCapacity(options.maxLineBytes));
  }

  async run(): Promise<BulkSummary> {
    const startedAt = performance.now();
    try {
      await this.#sink.write(Buffer.from(formatPreamble(this.#options.format, this.#host.optOut() !== null)));
      for (;;) {
        while (this.#order.length < this.#maxChunks && !this.#sourceDone) {
          const entry = await this.#cut();
          if (entry) this.#order.push(entry);
        }
        const head = this.#order[0];
        if (!head) break;
        const result = await head.result;
        await this.#sink.write(new Uint8Array(head.chunk.output, 0, result.outputBytes));
        this.#account(result);
        if (result.consumed < head.end) {
          // The output buffer filled: the rest of the chunk runs again from where it stopped.
          head.start = result.consumed;
          this.#dispatch(head);
          continue;
        }
        this.#order.shift();
        this.#free.push(head.chunk);
        this.#options.onProgress?.({ records: this.#records, bytesRead: head.bytesRead });
      }
      await this.#sink.end();
    } catch (err) {
      for (const entry of this.#order) entry.result.catch(() => {});
      await this.#sink.abort().catch(() => {});
      throw err;
    } finally {
      await this.#source.close().catch(() => {});
    }
    const statusCounts: Record<string, number> = {};
    for (const code of this.#statusOrder) statusCounts[STATUS_BY_CODE[code]!] = this.#statusCounts[code]!;
    return {
      records: this.#records,
      bytesRead: this.#bytesRead,
      durationMs: performance.now() - startedAt,
      statusCounts,
      optedOut: this.#optedOut,
      overlongLines: this.#overlong,
      firstOverlongLines: this.#firstOverlong,
    };
  }

  #account(result: ChunkResult): void {
    for (const index of result.firstOverlong) {
      if (this.#firstOverlong.length < OVERLONG_REPORTED) this.#firstOverlong.push(this.#records + index + 1);
    }
    this.#overlong += result.overlongLines;
    this.#records += result.lines;
    this.#optedOut += result.optedOut;
    for (const code of result.statusOrder) if (this.#statusCounts[code] === 0) this.#statusOrder.push(code);
    for (let code = 0; code < result.statusCounts.length; code++) this.#statusCounts[code]! += result.statusCounts[code]!;
  }

  #dispatch(entry: Entry): void {
    const host = this.#host;
    const { chunk } = entry;
    const task: ChunkTask = {
      slot: chunk.slot.sab,
      capacity: chunk.slot.capacity,
      bytesCapacity: chunk.slot.bytesCapacity,
      inputCapacity: chunk.inputCapacity,
      output: chunk.output,
      start: entry.start,
      end: entry.end,
      maxLineBytes: this.#options.maxLineBytes,
      overlong: entry.overlong,
      nowMs: entry.nowMs,
      snapshot: entry.snapshot,
      clientType: host.clientType,
      backend: host.backend,
      format: this.#options.format,
      domainOrAppName: this.#options.domainOrAppName,
      optOut: host.optOut(),
      keepOptedOutUid: host.keepOptedOutUid,
    };
    const attempt = async (): Promise<ChunkResult> => {
      for (let failures = 0; ; ) {
        try {
          return await host.run(task);
        } catch (err) {
          if (++failures >= ATTEMPTS) {
            throw new WorkerFailedError(`a worker failed ${failures} times on a bulk chunk: ${(err as Error)?.message ?? String(err)}`, { cause: err });
          }
        }
      }
    };
    entry.result = attempt();
    // Observed when the chunk's turn comes; this only keeps an early failure from being
    // reported as unhandled while older chunks are still being written.
    entry.result.catch(() => {});
  }

  #newEntry(chunk: Chunk, end: number, overlong: boolean): Entry {
    const entry: Entry = {
      chunk,
      start: 0,
      end,
      overlong,
      nowMs: this.#options.nowMs ?? Date.now(),
      snapshot: this.#host.snapshot(),
      bytesRead: this.#bytesRead,
      result: null as unknown as Promise<ChunkResult>,
    };
    this.#dispatch(entry);
    return entry;
  }

  #takeChunk(): Chunk {
    const free = this.#free.pop();
    if (free) return free;
    const chunk = createChunk(this.#options.maxLineBytes);
    this.#chunks.push(chunk);
    return chunk;
  }

  /** Fills a chunk from the carried tail and the source, cuts it after its last line break and dispatches it. */
  async #cut(): Promise<Entry | null> {
    const chunk = this.#takeChunk();
    const input = chunk.input;
    const capacity = chunk.inputCapacity;
    let filled = this.#carryLength;
    if (filled > 0) this.#carry.copy(input, 0, 0, filled);
    this.#carryLength = 0;
    for (;;) {
      while (filled < capacity && !this.#sourceDone) {
        const n = await this.#source.read(input, filled, capacity - filled);
        if (n === 0) this.#sourceDone = true;
        else {
          if (this.#skipLf) {
            this.#skipLf = false;
            if (input[filled] === LF) {
              input.copyWithin(filled, filled + 1, filled + n);
              filled--;
            }
          }
          filled += n;
          this.#bytesRead += n;
        }
      }
      if (this.#skipping) {
        const at = firstBreak(input, 0, filled);
        if (at < 0) {
          filled = 0;
          if (this.#sourceDone) this.#skipping = false;
          else continue;
        } else {
          this.#skipping = false;
          let next = at + 1;
          if (input[at] === CR) {
            if (next < filled) {
              if (input[next] === LF) next++;
            } else if (!this.#sourceDone) this.#skipLf = true;
          }
          input.copyWithin(0, next, filled);
          filled -= next;
          continue;
        }
      }
      if (filled === 0) {
        this.#free.push(chunk);
        return null;
      }
      // The end of the input: everything left is lines (the last one may have no line break).
      if (this.#sourceDone) return this.#newEntry(chunk, filled, false);
      const last = lastBreak(input, filled);
      if (last < 0) {
        // A line longer than the chunk: one record for it, and its rest is skipped.
        this.#skipping = true;
        return this.#newEntry(chunk, 0, true);
      }
      const cutAt = last + 1;
      if (input[last] === CR && cutAt === filled) this.#skipLf = true;
      this.#carryLength = filled - cutAt;
      input.copy(this.#carry, 0, cutAt, filled);
      return this.#newEntry(chunk, cutAt, false);
    }
  }
}
