/**
 * A counting semaphore for requests in flight: one per client, shared by all its calls, so
 * `maxConcurrentRequests` bounds the client, not each call. Waiters are served first come,
 * first served; a waiter whose signal aborts leaves the queue.
 */
import { AbortedError } from '../errors.js';

interface Waiter {
  grant: () => void;
}

export class RequestLimiter {
  readonly #max: number;
  #active = 0;
  readonly #queue: Waiter[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Resolves once a slot is held (call `release()` exactly once afterwards).
   * @throws AbortedError when `signal` aborts first
   */
  acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError('the identity map call was aborted'));
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new AbortedError('the identity map call was aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  release(): void {
    const next = this.#queue.shift();
    // The slot passes straight to the next waiter, so the count does not change.
    if (next) next.grant();
    else this.#active--;
  }
}
