/**
 * What each caller waits on: one decrypt() or one decryptBatch() call, each settled exactly once
 * whatever happens to the batches its tokens travel in. A call is queued whole (no object per
 * token) and batches take ranges of it.
 */
import type { DecryptionResult } from '../../types.js';

export abstract class Call {
  /** Index of the first token no batch has taken yet. */
  next = 0;
  /** performance.now() at queueing, stamped only when a batch window is in use. */
  queuedAt = 0;
  protected done = false;
  constructor(
    readonly count: number,
    readonly nowMs: number,
  ) {}
  abstract token(i: number): unknown;
  abstract domain(i: number): string | null | undefined;
  abstract settle(i: number, result: DecryptionResult): void;
  abstract fail(error: Error): void;
}

/** One decrypt() call. */
export class SingleCall extends Call {
  constructor(
    readonly tokenValue: unknown,
    readonly domainValue: string | null | undefined,
    nowMs: number,
    private readonly resolve: (result: DecryptionResult) => void,
    private readonly reject: (error: Error) => void,
  ) {
    super(1, nowMs);
  }

  token(): unknown {
    return this.tokenValue;
  }

  domain(): string | null | undefined {
    return this.domainValue;
  }

  settle(_i: number, result: DecryptionResult): void {
    if (this.done) return;
    this.done = true;
    this.resolve(result);
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }
}

/** One decryptBatch() call: results in input order, one promise; one failure rejects it once. */
export class ManyCall extends Call {
  readonly #results: DecryptionResult[];
  #remaining: number;

  constructor(
    readonly tokens: readonly unknown[],
    readonly domains: readonly (string | null | undefined)[] | undefined,
    nowMs: number,
    private readonly resolve: (results: DecryptionResult[]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    super(tokens.length, nowMs);
    this.#results = new Array<DecryptionResult>(tokens.length);
    this.#remaining = tokens.length;
    if (tokens.length === 0) this.#finish();
  }

  token(i: number): unknown {
    return this.tokens[i];
  }

  domain(i: number): string | null | undefined {
    return this.domains?.[i];
  }

  settle(i: number, result: DecryptionResult): void {
    if (this.done) return;
    this.#results[i] = result;
    if (--this.#remaining === 0) this.#finish();
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }

  #finish(): void {
    this.done = true;
    this.resolve(this.#results);
  }
}
