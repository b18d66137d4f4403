/**
 * FIFO of tokens waiting for a batch. Taking a batch moves a head index instead of copying the
 * rest of the queue, so one decryptBatch() of a million tokens costs linear time, not quadratic;
 * the consumed prefix is dropped once it is at least half of the array (amortised O(1)).
 */
import type { PendingToken } from './batch-io.js';

export class TokenQueue {
  #items: PendingToken[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(entry: PendingToken): void {
    this.#items.push(entry);
  }

  /** Removes and returns up to `max` entries from the front, in order. */
  take(max: number): PendingToken[] {
    const end = Math.min(this.#items.length, this.#head + max);
    const taken = this.#items.slice(this.#head, end);
    this.#head = end;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }
}
