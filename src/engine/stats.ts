/** What `DecryptionEngine.stats()` reports; read by the Prometheus metrics too. */
import type { ClientType, DecryptionStatus } from '../types.js';
import type { CryptoBackend } from './backend.js';

export interface EngineStats {
  threads: number;
  /** Worker threads alive now (back to `threads` shortly after a worker dies). */
  liveWorkers: number;
  /** The crypto backend of the workers (engine/backend.ts); 'in-process' with threads: 0. */
  backend: CryptoBackend | 'in-process';
  clientType: ClientType;
  batches: number;
  tokens: number;
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
}
