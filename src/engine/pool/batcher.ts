/**
 * The queue of calls waiting for a worker, and how a batch is cut from it: the next `n` tokens in
 * call order, written once into a slot. Taking a batch moves a head index (and an offset into the
 * head call) instead of copying the queue, so one huge decryptBatch() costs linear time.
 */
import type { Call, Written } from './calls.js';

/** Reused by every fill(): where the last Call.write() stopped. */
const written: Written = { next: 0, offset: 0 };
import type { ColumnViews } from '../wire/columns.js';
import type { Slot } from '../wire/slot.js';

/** The calls and token ranges of one batch, in slot order: part k covers counts[k] tokens of calls[k] from starts[k]. */
export interface BatchParts {
  readonly calls: Call[];
  readonly starts: number[];
  readonly counts: number[];
  /** Tokens in the batch. */
  count: number;
}

export class Batcher {
  #calls: Call[] = [];
  #head = 0;
  #queued = 0;

  /** Tokens waiting. */
  get queued(): number {
    return this.#queued;
  }

  /** performance.now() when the oldest waiting call was queued (0 unless the engine stamps calls). */
  get oldestQueuedAt(): number {
    return this.#calls[this.#head]?.queuedAt ?? 0;
  }

  /** The columns target of the next call to take tokens from, null when that call has none (or none waits). */
  get headColumns(): ColumnViews | null {
    return this.#calls[this.#head]?.columns ?? null;
  }

  push(call: Call): void {
    this.#calls.push(call);
    this.#queued += call.count;
  }

  /**
   * Moves up to `n` of the next tokens (n <= queued) into `slot`, stopping early only when the
   * slot's text region is full (long hostile tokens or domains); returns which calls they belong
   * to and how many tokens went in. 0 only when the next token alone does not fit an empty slot
   * (a domain of tens of kilobytes): the caller then takes it with takeOversized().
   */
  fill(slot: Slot, n: number): BatchParts {
    const parts: BatchParts = { calls: [], starts: [], counts: [], count: 0 };
    let offset = 0;
    let index = 0;
    while (index < n) {
      const call = this.#calls[this.#head]!;
      // A decryptColumns() call's batches hold its tokens alone: their worker writes its columns.
      if (index > 0 && (call.columns !== null || parts.calls[0]!.columns !== null)) break;
      const start = call.next;
      const last = Math.min(call.count, start + n - index);
      call.write(slot, index, offset, start, last, written);
      const i = written.next;
      offset = written.offset;
      index += i - start;
      if (i > start) {
        parts.calls.push(call);
        parts.starts.push(start);
        parts.counts.push(i - start);
      }
      this.#queued -= i - start;
      call.next = i;
      if (i === call.count) this.#shift();
      if (i < last) break; // the slot is full
    }
    parts.count = index;
    return parts;
  }

  /** Removes the next token (one that fits no slot) and returns its call and index. */
  takeOversized(): { call: Call; index: number } {
    const call = this.#calls[this.#head]!;
    const index = call.next++;
    this.#queued--;
    if (call.next === call.count) this.#shift();
    return { call, index };
  }

  #shift(): void {
    this.#calls[this.#head++] = undefined as unknown as Call;
    if (this.#head === this.#calls.length) {
      this.#calls = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#calls.length) {
      this.#calls = this.#calls.slice(this.#head);
      this.#head = 0;
    }
  }
}
