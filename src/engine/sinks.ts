/** Result sinks: each caller's promise settles exactly once, whatever happens to its batches. */
import type { DecryptionResult } from '../types.js';
import type { ResultSink } from './batch-io.js';

export class SingleSink implements ResultSink {
  #done = false;
  constructor(
    private readonly resolve: (result: DecryptionResult) => void,
    private readonly reject: (error: Error) => void,
  ) {}

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
