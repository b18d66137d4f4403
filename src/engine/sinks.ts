/** Result sinks: each caller's promise settles exactly once, whatever happens to its batches. */
import type { DecryptionResult } from '../types.js';
import type { PendingToken, ResultSink } from './batch-io.js';

/**
 * One decrypt() call: its queue entry and its sink in one object (one allocation per call on the
 * hot path instead of two).
 */
export class SingleCall implements PendingToken, ResultSink {
  readonly index = 0;
  #done = false;
  constructor(
    readonly token: unknown,
    readonly domain: string | null | undefined,
    readonly nowMs: number,
    private readonly resolve: (result: DecryptionResult) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  get sink(): ResultSink {
    return this;
  }

  settle(_index: number, result: DecryptionResult): void {
    if (this.#done) return;
    this.#done = true;
    this.resolve(result);
  }

  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.reject(error);
  }
}

/** Collects a decryptBatch() call's results in input order; one failure rejects the call once. */
export class BatchSink implements ResultSink {
  readonly #results: DecryptionResult[];
  #remaining: number;
  #done = false;

  constructor(
    count: number,
    private readonly resolve: (results: DecryptionResult[]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.#results = new Array<DecryptionResult>(count);
    this.#remaining = count;
    if (count === 0) this.finish();
  }

  settle(index: number, result: DecryptionResult): void {
    if (this.#done) return;
    this.#results[index] = result;
    if (--this.#remaining === 0) this.finish();
  }

  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.reject(error);
  }

  private finish(): void {
    this.#done = true;
    this.resolve(this.#results);
  }
}
