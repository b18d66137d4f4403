/**
 * Completion: how a finished batch becomes results. It reads each result record of the batch's
 * slot (wire/slot.ts readResult), keeps what a token that decrypted found in the token cache,
 * applies the opt-out check, settles each call's tokens in order, and counts; a batch that failed
 * is logged and, after its last attempt, its calls rejected. Results decided on the main thread
 * (cache hits, in-process decryption, oversized tokens) are counted here too, so every figure of
 * DecryptionEngine.stats() has one place that moves it. A decryptColumns() batch builds no result:
 * its worker wrote the rows, and completion only places its raw UIDs and counts.
 */
import { WorkerFailedError } from '../../errors.js';
import type { InProcessDecryptor } from '../../in-process/decryptor.js';
import { batchChannel, type BatchChannelMessage } from '../../observability/channels.js';
import type { Logger } from '../../observability/logger.js';
import type { CryptoBackend } from '../../native/backend.js';
import { CODE_BY_STATUS } from '../../token/result.js';
import { type DecryptionResult, DecryptionStatus } from '../../types.js';
import { addStatusCounts, readFindings, readResult, recordScope, recordStatusCode, type Slot } from '../wire/slot.js';
import type { ColumnsCall } from './columns-call.js';
import type { Batch } from './dispatcher.js';

/** The counters completion moves (the engine's EngineCounters, engine/stats.ts). */
export interface CompletionCounters {
  batches: number;
  tokens: number;
  /** Tokens answered on the main thread (in-process decryption, cache hits). */
  inProcessTokens: number;
  batchRetries: number;
  failedBatches: number;
  optedOut: number;
  /** Results per status code (token/result.ts). */
  readonly statusCodes: Float64Array;
  /** Dual-scope engines: results per status code of UID2's tokens ([0]) and EUID's ([1]); else null. */
  readonly scopeStatusCodes: readonly [Float64Array, Float64Array] | null;
  observeBatch(tokens: number, durationMs: number): void;
}

/** What a completed worker batch decrypted, with the snapshot its worker used (the onBatch test hook). */
export interface BatchInfo {
  snapshotVersion: number;
  tokens: readonly unknown[];
  domains: readonly (string | null | undefined)[];
  nows: readonly number[];
  results: readonly DecryptionResult[];
}

/** Test hooks completion reads (engine/test-hooks.ts installs them). */
export interface CompletionHooks {
  /** Called after each worker batch settles, with the snapshot version its worker decrypted with. */
  onBatch?: (info: BatchInfo) => void;
}

interface CompletionOptions {
  readonly counters: CompletionCounters;
  /** Its token cache keeps the workers' findings; its opt-out check marks every result. */
  readonly decryptor: InProcessDecryptor;
  readonly checkOptOut: boolean;
  readonly backend: CryptoBackend;
  readonly logger: Logger;
}

export class Completion {
  readonly #counters: CompletionCounters;
  readonly #decryptor: InProcessDecryptor;
  readonly #checkOptOut: boolean;
  readonly #backend: CryptoBackend;
  readonly #log: Logger;
  /** Null until a test asks for hooks: one field read per batch. */
  hooks: CompletionHooks | null = null;

  constructor(options: CompletionOptions) {
    this.#counters = options.counters;
    this.#decryptor = options.decryptor;
    this.#checkOptOut = options.checkOptOut;
    this.#backend = options.backend;
    this.#log = options.logger;
  }

  /**
   * Counts a result decided on this thread (opt-out already checked), judged by the key set at
   * `scope` (engine-keys.ts scopeOf: 1 for EUID's in a dual-scope engine, else 0); returns it.
   */
  counted(result: DecryptionResult, scope: 0 | 1): DecryptionResult {
    const code = CODE_BY_STATUS.get(result.status)!;
    this.#counters.statusCodes[code]!++;
    const scopes = this.#counters.scopeStatusCodes;
    if (scopes !== null) scopes[scope][code]!++;
    this.#counters.tokens++;
    this.#counters.inProcessTokens++;
    if (result.optedOut === true) this.#counters.optedOut++;
    return result;
  }

  /**
   * Rows [start, start + count) of a decryptColumns() call were written from the batch in `slot`
   * (by a worker, or on this thread): counts them from the batch's status counts, places their raw
   * UIDs, and runs the opt-out check over them. Returns true when they were the call's last rows.
   */
  completeColumns(call: ColumnsCall, start: number, count: number, slot: Slot, snapshotVersion: number, startedAt: number): boolean {
    const counters = this.#counters;
    addStatusCounts(slot, counters.statusCodes, counters.scopeStatusCodes);
    counters.batches++;
    counters.tokens += count;
    const last = call.placeBatch(count, slot);
    if (this.#checkOptOut) counters.optedOut += call.checkOptOut(start, count, (uid) => this.#decryptor.isOptedOut(uid));
    this.observe(count, performance.now() - startedAt, snapshotVersion);
    const onBatch = this.hooks?.onBatch;
    if (onBatch) {
      const view = call.view();
      const rows = Array.from({ length: count }, (_, k) => start + k);
      onBatch({
        snapshotVersion,
        tokens: rows.map((i) => call.token(i)),
        domains: rows.map((i) => call.domain(i)),
        nows: rows.map(() => call.nowMs),
        results: rows.map((i) => view.result(i)),
      });
    }
    return last;
  }

  /** Settles every call of a batch its worker finished, from the batch's result records. */
  complete(batch: Batch): void {
    const { slot, parts } = batch;
    const counters = this.#counters;
    const codes = counters.statusCodes;
    const scopeCodes = counters.scopeStatusCodes;
    const onBatch = this.hooks?.onBatch;
    const seen: DecryptionResult[] | null = onBatch ? [] : null;
    const checkOptOut = this.#checkOptOut;
    const decryptor = this.#decryptor;
    const cache = decryptor.cache;
    const snapshot = batch.snapshot;
    let pos = 0;
    for (let k = 0; k < parts.calls.length; k++) {
      const call = parts.calls[k]!;
      const start = parts.starts[k]!;
      const end = start + parts.counts[k]!;
      for (let i = start; i < end; i++, pos++) {
        let result = readResult(slot, pos);
        const code = recordStatusCode(slot, pos);
        // 0: the engine's (or UID2's) key set judged the token; else EUID's (a dual-scope batch).
        const scope = recordScope(slot, pos);
        codes[code]!++;
        if (scopeCodes !== null) scopeCodes[scope === 0 ? 0 : 1]![code]!++;
        // Keeps what the worker found, for the next call with this token, under that key set.
        if (cache && result.status === DecryptionStatus.Success) {
          const keySet = scope === 0 ? snapshot!.keySet : snapshot!.euidKeySet;
          cache.store(call.token(i) as string, readFindings(slot, pos, result), keySet!, call.nowMs);
        }
        if (checkOptOut) {
          result = decryptor.checkOptOut(result);
          if (result.optedOut === true) counters.optedOut++;
        }
        seen?.push(result);
        call.settle(i, result);
      }
    }
    counters.batches++;
    counters.tokens += batch.count;
    this.observe(batch.count, performance.now() - batch.startedAt, batch.usedSnapshot);
    if (seen) onBatch!(batchInfo(batch, seen));
  }

  /** A batch attempt failed; `retried` says whether the dispatcher re-runs it, else its calls are rejected. */
  failed(batch: Batch, err: unknown, retried: boolean): void {
    const reason = (err as Error)?.message ?? String(err);
    if (retried) {
      this.#counters.batchRetries++;
      this.#log.warn(
        { event: 'uid2.engine.worker-failed', tokens: batch.count, attempt: batch.failures, err: reason, action: 'restart-and-rerun' },
        'engine worker failed mid-batch; the pool replaces it and the batch is re-run once',
      );
      return;
    }
    this.#counters.failedBatches++;
    this.#log.error(
      { event: 'uid2.engine.batch-failed', tokens: batch.count, attempt: batch.failures, err: reason },
      'engine batch failed twice; its calls are rejected with UID2_ERR_WORKER_FAILED',
    );
    const error = new WorkerFailedError(`a worker failed twice on a batch of ${batch.count} tokens: ${reason}`, { cause: err });
    for (const call of batch.parts.calls) call.fail(error);
  }

  /** One batch's size and time (an in-process decryptBatch() counts as one), for stats and the batch channel. */
  observe(tokens: number, durationMs: number, snapshotVersion: number): void {
    this.#counters.observeBatch(tokens, durationMs);
    if (batchChannel.hasSubscribers) {
      batchChannel.publish({ tokens, durationMs, snapshotVersion, backend: this.#backend } satisfies BatchChannelMessage);
    }
  }
}

/** The onBatch hook's view of a batch: its inputs in slot order and the results given. */
function batchInfo(batch: Batch, results: DecryptionResult[]): BatchInfo {
  const tokens: unknown[] = [];
  const domains: (string | null | undefined)[] = [];
  const nows: number[] = [];
  const { parts } = batch;
  for (let k = 0; k < parts.calls.length; k++) {
    const call = parts.calls[k]!;
    for (let i = parts.starts[k]!; i < parts.starts[k]! + parts.counts[k]!; i++) {
      tokens.push(call.token(i));
      domains.push(call.domain(i));
      nows.push(call.nowMs);
    }
  }
  return { snapshotVersion: batch.usedSnapshot, tokens, domains, nows, results };
}
