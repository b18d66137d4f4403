/**
 * What each caller waits on: one decrypt() or one decryptBatch() call, each settled exactly once
 * whatever happens to the batches its tokens travel in. A call is queued whole (no object per
 * token) and batches take ranges of it.
 */
import type { DecryptionResult } from '../../types.js';
import type { ColumnViews } from '../wire/columns.js';
import { textBytes, writeToken, type Slot } from '../wire/slot.js';

/** Where Call.write() stopped. */
export interface Written {
  next: number;
  offset: number;
}

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
  /**
   * The columns target of a decryptColumns() call, whose batches hold its tokens alone; null for
   * calls answered with result objects.
   */
  get columns(): ColumnViews | null {
    return null;
  }
  abstract token(i: number): unknown;
  abstract domain(i: number): string | null | undefined;
  abstract settle(i: number, result: DecryptionResult): void;
  abstract fail(error: Error): void;

  /**
   * Writes tokens [from, to) as entries from `index` of `slot`, at text offset `offset`, stopping
   * early when the text region is full; sets `out.next` to the first token not written and
   * `out.offset` to the next free offset.
   */
  write(slot: Slot, index: number, offset: number, from: number, to: number, out: Written): void {
    const nowMs = this.nowMs;
    let i = from;
    for (; i < to; i++) {
      const token = this.token(i);
      const domain = this.domain(i);
      if (offset + textBytes(token, domain) > slot.bytesCapacity) break;
      offset = writeToken(slot, index++, offset, token, domain, nowMs);
    }
    out.next = i;
    out.offset = offset;
  }
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
