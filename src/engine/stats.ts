/** What `DecryptionEngine.stats()` reports, and the counters behind it; read by the Prometheus metrics too. */
import type { TokenCacheStats } from '../cache/token-cache.js';
import type { ClientType, DecryptionStatus, IdentityScope } from '../types.js';
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
  /**
   * A dual-scope engine (options.scopes): each scope's keys and tokens; the figures above are
   * then both scopes' together (refresh counts summed, `keySetAgeMs` the older key set's,
   * `lastRefreshErrorCode` UID2's, else EUID's). Null for a single-scope engine.
   */
  scopes: Record<IdentityScope, ScopeStats> | null;
}

/** One scope of a dual-scope engine. */
export interface ScopeStats {
  /** Milliseconds since this scope's key set in force was published (null before any keys). */
  keySetAgeMs: number | null;
  keyRefreshSuccesses: number;
  keyRefreshFailures: number;
  /** Code of this scope's last failed refresh since its last success, if any. */
  lastRefreshErrorCode: string | null;
  /** Results of the tokens judged by this scope's key set (v2 and unreadable tokens: UID2's). */
  statusCounts: Record<DecryptionStatus, number>;
}

/** What stats() reads of one key feed. */
interface FeedFigures {
  readonly keySetAgeMs: number | null;
  readonly refreshes: { readonly successes: number; readonly failures: number; readonly lastErrorCode: string | null };
}

/** The key figures of EngineStats: one feed's, or both scopes' together and each (dual scope). */
export function keyFigures(
  counters: EngineCounters,
  main: FeedFigures,
  euid: FeedFigures | undefined,
): Pick<EngineStats, 'keyRefreshSuccesses' | 'keyRefreshFailures' | 'lastRefreshErrorCode' | 'keySetAgeMs' | 'scopes'> {
  const scope = (feed: FeedFigures, codes: Float64Array | undefined): ScopeStats => ({
    keySetAgeMs: feed.keySetAgeMs,
    keyRefreshSuccesses: feed.refreshes.successes,
    keyRefreshFailures: feed.refreshes.failures,
    lastRefreshErrorCode: feed.refreshes.lastErrorCode,
    statusCounts: statusCountsOf(codes ?? counters.statusCodes),
  });
  if (euid === undefined) {
    const { statusCounts: _, ...figures } = scope(main, undefined);
    return { ...figures, scopes: null };
  }
  const ages = [main.keySetAgeMs, euid.keySetAgeMs].filter((age): age is number => age !== null);
  return {
    keyRefreshSuccesses: main.refreshes.successes + euid.refreshes.successes,
    keyRefreshFailures: main.refreshes.failures + euid.refreshes.failures,
    lastRefreshErrorCode: main.refreshes.lastErrorCode ?? euid.refreshes.lastErrorCode,
    keySetAgeMs: ages.length === 0 ? null : Math.max(...ages),
    scopes: { UID2: scope(main, counters.scopeStatusCodes![0]), EUID: scope(euid, counters.scopeStatusCodes![1]) },
  };
}

function statusCountsOf(codes: Float64Array): Record<DecryptionStatus, number> {
  const counts = {} as Record<DecryptionStatus, number>;
  STATUS_BY_CODE.forEach((status, code) => (counts[status] = codes[code]!));
  return counts;
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
  readonly scopeStatusCodes: readonly [Float64Array, Float64Array] | null;
  readonly durations = { count: 0, sum: 0, max: 0, largestBatch: 0 };
  /** Per completed batch: the metrics' histograms (engine.metrics()). */
  readonly batchObservers: ((tokens: number, durationMs: number) => void)[] = [];

  constructor(dual: boolean) {
    this.scopeStatusCodes = dual ? [new Float64Array(STATUS_BY_CODE.length), new Float64Array(STATUS_BY_CODE.length)] : null;
  }

  observeBatch(tokens: number, durationMs: number): void {
    const d = this.durations;
    d.count++;
    d.sum += durationMs;
    if (durationMs > d.max) d.max = durationMs;
    if (tokens > d.largestBatch) d.largestBatch = tokens;
    for (const observer of this.batchObservers) observer(tokens, durationMs);
  }

  statusCounts(): Record<DecryptionStatus, number> {
    return statusCountsOf(this.statusCodes);
  }
}
