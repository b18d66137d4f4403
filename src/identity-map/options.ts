/**
 * Options of IdentityMapV3Client, their defaults and their up-front validation (the constructor
 * checks them, so a bad value fails at once with a message naming the option).
 *
 * The default of one request at a time follows the UID2 documentation for `/v3/identity/map`:
 * "unless you are using a Private Operator, do not send batches in parallel". The client still
 * normalizes, hashes and seals the next batch while one is in flight, so one connection stays
 * busy; raise `maxConcurrentRequests` only against an operator that allows it.
 */
import { InvalidArgumentError } from '../errors.js';
import { integerOption } from '../util/integer-option.js';
import { MAX_TIMER_MS } from '../util/time.js';

/** The service's own limit: at most 5,000 identities in one request. */
export const MAX_IDENTITIES_PER_REQUEST = 5000;

/** The 4th constructor argument of IdentityMapV3Client. */
export interface IdentityMapOptions {
  /** Identities per request, 1 to 5,000. Default 5,000 (the service's limit). */
  maxIdentitiesPerRequest?: number;
  /** Requests in flight at once, across every call on this client, 1 to 64. Default 1 (see above). */
  maxConcurrentRequests?: number;
  /** Time allowed for one request (connect, answer and body), ms. Default 30 000. */
  timeoutMs?: number;
  /**
   * How long one batch keeps being retried after 429, 5xx, network failures and timeouts,
   * counted from its first attempt, ms: no retry starts after it (one in flight keeps its
   * `timeoutMs`), and the call fails with `RetryDeadlineError`. Default 120 000.
   */
  retryDeadlineMs?: number;
  /** The first back-off, ms; each retry doubles it (up to `maxBackoffMs`), with full jitter. Default 250. */
  initialBackoffMs?: number;
  /** The longest back-off, ms. Default 10 000. */
  maxBackoffMs?: number;
  /**
   * Send the envelope as raw bytes (`Content-Type: application/octet-stream`) instead of base64
   * text; the answer then comes as bytes too. Default false (base64 text, as the JSON form).
   */
  binary?: boolean;
  /** Largest response body read, bytes. Default 16 MiB (a full batch answers about 1 MB). */
  maxResponseBytes?: number;
}

export type ResolvedIdentityMapOptions = Readonly<Required<IdentityMapOptions>>;

export const DEFAULT_IDENTITY_MAP_OPTIONS: ResolvedIdentityMapOptions = Object.freeze({
  maxIdentitiesPerRequest: MAX_IDENTITIES_PER_REQUEST,
  maxConcurrentRequests: 1,
  timeoutMs: 30_000,
  retryDeadlineMs: 120_000,
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  binary: false,
  maxResponseBytes: 16 * 1024 * 1024,
});

/** Most requests in flight one client allows. */
const MAX_CONCURRENT_REQUESTS = 64;

/** @throws InvalidArgumentError naming the first bad option */
export function resolveIdentityMapOptions(options: unknown): ResolvedIdentityMapOptions {
  if (options === undefined || options === null) return DEFAULT_IDENTITY_MAP_OPTIONS;
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('options must be an object');
  const o = options as Record<string, unknown>;
  const d = DEFAULT_IDENTITY_MAP_OPTIONS;
  const binary = o['binary'] ?? d.binary;
  if (typeof binary !== 'boolean') throw new InvalidArgumentError('options.binary must be a boolean');
  const resolved = {
    maxIdentitiesPerRequest: integerOption(o['maxIdentitiesPerRequest'], 'options.maxIdentitiesPerRequest', d.maxIdentitiesPerRequest, MAX_IDENTITIES_PER_REQUEST),
    maxConcurrentRequests: integerOption(o['maxConcurrentRequests'], 'options.maxConcurrentRequests', d.maxConcurrentRequests, MAX_CONCURRENT_REQUESTS),
    timeoutMs: integerOption(o['timeoutMs'], 'options.timeoutMs', d.timeoutMs, MAX_TIMER_MS),
    retryDeadlineMs: integerOption(o['retryDeadlineMs'], 'options.retryDeadlineMs', d.retryDeadlineMs, MAX_TIMER_MS, 0),
    initialBackoffMs: integerOption(o['initialBackoffMs'], 'options.initialBackoffMs', d.initialBackoffMs, MAX_TIMER_MS),
    maxBackoffMs: integerOption(o['maxBackoffMs'], 'options.maxBackoffMs', d.maxBackoffMs, MAX_TIMER_MS),
    binary,
    maxResponseBytes: integerOption(o['maxResponseBytes'], 'options.maxResponseBytes', d.maxResponseBytes),
  };
  if (resolved.maxBackoffMs < resolved.initialBackoffMs) throw new InvalidArgumentError('options.maxBackoffMs must be at least options.initialBackoffMs');
  return Object.freeze(resolved);
}
