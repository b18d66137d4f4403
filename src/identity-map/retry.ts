/**
 * Retrying one batch: answers that say "later" are retried with exponential back-off and full
 * jitter until the batch's deadline, everything else fails at once.
 *
 *   retried:  HTTP 429 (the service's rate limit, which carries no body), HTTP 5xx, network
 *             failures, timeouts. Mapping is read-only, so sending a batch twice is harmless.
 *   at once:  any other HTTP status (400, 401, 403, 413, ...), an answer that does not decrypt
 *             or carries another nonce, a malformed answer, the caller's abort.
 *
 * Back-off before retry n (n = 1, 2, ...) is uniform in [0, min(max, initial * 2^(n-1))]
 * ("full jitter"), so clients throttled together spread out instead of returning in step.
 * A retry is sent only if it starts before the deadline (each attempt keeps its whole timeout,
 * so a batch gives up at most `timeoutMs` after the deadline); past it the batch fails with
 * RetryDeadlineError holding the last failure.
 */
import { AbortedError, RetryDeadlineError, ServiceHttpError, ServiceNetworkError, ServiceTimeoutError, type Uid2Error } from '../errors.js';

export interface RetryPolicy {
  retryDeadlineMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Whether a failed attempt is worth repeating. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ServiceHttpError) return err.statusCode === 429 || err.statusCode >= 500;
  return err instanceof ServiceNetworkError || err instanceof ServiceTimeoutError;
}

/** The back-off before retry `retry` (1 for the first retry), ms. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(retry - 1, 52));
  return Math.floor(random() * cap);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('the identity map call was aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('the identity map call was aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt()` until it succeeds, fails for good, or the deadline passes.
 * `onRetry` hears each failure that is about to be retried (for counters; never logged here).
 * @throws the attempt's own error when it is not retryable; RetryDeadlineError; AbortedError
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  what: string,
  onRetry: (err: Uid2Error) => void = () => {},
  random: () => number = Math.random,
): Promise<T> {
  const startedAt = performance.now();
  const deadline = startedAt + policy.retryDeadlineMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      const failure = err as Uid2Error;
      const wait = backoffMs(attempts, policy, random);
      if (performance.now() + wait >= deadline) {
        const elapsed = Math.round(performance.now() - startedAt);
        throw new RetryDeadlineError(attempts, `${what} still failing after ${attempts} attempts in ${elapsed} ms: ${failure.message} (${failure.code})`, { cause: failure });
      }
      onRetry(failure);
      await sleep(wait, signal);
    }
  }
}
