/** What `DecryptionEngine.stats()` reports, and the counters behind it; read by the Prometheus metrics too. */
import type { TokenCacheStats } from '../cache/token-cache.js';
import type { ClientType, DecryptionStatus } from '../types.js';
import type { CryptoBackend } from '../native/backend.js';
import { STATUS_BY_CODE } from '../token/result.js';
import type { DispatchMode } from './dispatch-policy.js';
import type { CompletionCounters } from './pool/completion.js';

export interface EngineStats {
  threads: number;
  /** Worker threads alive now (back to `threads` shortly after a worker dies). */
  liveWorkers: number;
  /**
   * The crypto backend (native/backend.ts): the workers', or with threads: 0 the one that
   * decrypts in process (as in the clients).
   */
  backend: CryptoBackend;
  clientType: ClientType;
  batches: number;
  tokens: number;
  /**
   * Tokens answered on the calling thread (in-process decryption and token-cache hits); the rest
   * of `tokens` went to the workers.
   */
  inProcessTokens: number;
  /** The dispatch policy in force (options.dispatch; 'in-process' with threads: 0). */
  dispatch: DispatchMode;
  queueDepth: number;
  inFlightBatches: number;
  inFlightTokens: number;
  statusCounts: Record<DecryptionStatus, number>;
  snapshotVersion: number;
  /** Batches a worker failed on and that were re-run once. */
  batchRetries: number;
  /** Batches whose calls were rejected after the re-run failed too. */
  failedBatches: number;
  /** Calls rejected because the queue was full. */
  overloadRejections: number;
  /** Results whose raw UID was in the `optOut` store (0 without one). */
  optedOutResults: number;
  /** Key refreshes of the followed client (credentials or `client`) that succeeded / failed. */
  keyRefreshSuccesses: number;
  keyRefreshFailures: number;
  /** Code of the last failed refresh since the last success, if any. */
  lastRefreshErrorCode: string | null;
  /** Milliseconds since the key set in force was published (null before any keys). */
  keySetAgeMs: number | null;
  /** Shared-memory batch slots allocated (steady state: stays flat). */
  slotsAllocated: number;
  /**
   * Completed batches' time from dispatch to results, ms: count, sum and largest. In-process
   * (threads: 0), each decryptBatch() call counts as one batch here.
   */
  batchDurationMs: { count: number; sum: number; max: number };
  /** Tokens in the largest completed batch. */
  largestBatch: number;
  /** The token cache's counters (options.tokenCache), or null when it is off. */
  tokenCache: TokenCacheStats | null;
}

/** The engine's own counters (everything in EngineStats that is not read off another part). */
export class EngineCounters implements CompletionCounters {
  batches = 0;
  tokens = 0;
  inProcessTokens = 0;
  batchRetries = 0;
  failedBatches = 0;
  overloadRejections = 0;
  optedOut = 0;
  /** Results per status code (token/result.ts STATUS_BY_CODE). */
  readonly statusCodes = new Float64Array(STATUS_BY_CODE.length);
  readonly durations = { count: 0, sum: 0, max: 0, largestBatch: 0 };
  /** Per completed batch: the metrics' histograms (engine.metrics()). */
  readonly batchObservers: ((tokens: number, durationMs: number) => void)[] = [];

  observeBatch(tokens: number, durationMs: number): void {
    const d = this.durations;
    d.count++;
    d.sum += durationMs;
    if (durationMs > d.max) d.max = durationMs;
    if (tokens > d.largestBatch) d.largestBatch = tokens;
    for (const observer of this.batchObservers) observer(tokens, durationMs);
  }

  statusCounts(): Record<DecryptionStatus, number> {
    const counts = {} as Record<DecryptionStatus, number>;
    STATUS_BY_CODE.forEach((status, code) => (counts[status] = this.statusCodes[code]!));
    return counts;
  }
}
