/**
 * The queue of calls waiting for a worker, and how a batch is cut from it: the next `n` tokens in
 * call order, written once into a slot. Taking a batch moves a head index (and an offset into the
 * head call) instead of copying the queue, so one huge decryptBatch() costs linear time.
 */
import type { Call } from './calls.js';
import { textBytes, writeToken, type Slot } from './slot.js';

/** The calls and token ranges of one batch, in slot order: parts[k] covers counts[k] tokens of calls[k] from starts[k]. */
export interface BatchParts {
  readonly calls: Call[];
  readonly starts: number[];
  readonly counts: number[];
}

export class Batcher {
  #calls: Call[] = [];
  #head = 0;
  #queued = 0;

  /** Tokens waiting. */
  get queued(): number {
    return this.#queued;
  }

  push(call: Call): void {
    this.#calls.push(call);
    this.#queued += call.count;
  }

  /** Text bytes the next `n` tokens need in a slot. */
  textBytesFor(n: number): number {
    let bytes = 0;
    for (let c = this.#head; n > 0 && c < this.#calls.length; c++) {
      const call = this.#calls[c]!;
      const end = Math.min(call.count, call.next + n);
      for (let i = call.next; i < end; i++) bytes += textBytes(call.token(i), call.domain(i));
      n -= end - call.next;
    }
    return bytes;
  }

  /** Moves the next `n` tokens (n <= queued) into `slot`; returns which calls they belong to. */
  fill(slot: Slot, n: number): BatchParts {
    const parts: BatchParts = { calls: [], starts: [], counts: [] };
    let offset = 0;
    let index = 0;
    while (n > 0) {
      const call = this.#calls[this.#head]!;
      const start = call.next;
      const end = Math.min(call.count, start + n);
      const nowMs = call.nowMs;
      for (let i = start; i < end; i++) offset = writeToken(slot, index++, offset, call.token(i), call.domain(i), nowMs);
      parts.calls.push(call);
      parts.starts.push(start);
      parts.counts.push(end - start);
      call.next = end;
      n -= end - start;
      this.#queued -= end - start;
      if (end === call.count) this.#shift();
    }
    return parts;
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
