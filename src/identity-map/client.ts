/**
 * IdentityMapV3Client: `POST /v3/identity/map` for advertisers and data providers. One call
 * takes any number of identities and returns one outcome per identity, in the caller's order:
 *
 *   input ─► batches.ts (normalize, hash, ≤ 5,000 a request, invalid ones answered locally)
 *         ─► limiter.ts (≤ maxConcurrentRequests in flight across the client)
 *         ─► retry.ts (429 / 5xx / network / timeout: back off with jitter until the deadline)
 *         ─► request.ts (seal, POST, open) ─► response.ts (validate, place each answer)
 *
 * A call succeeds whole or fails whole: the first batch that fails for good aborts the others
 * and the call rejects with that batch's typed error (`UID2_ERR_*`); nothing partial is returned.
 * Error messages name batches, fields and counts, never an identity or a raw UID.
 */
import { AbortedError } from '../errors.js';
import { resolveCredentials } from '../service/credentials.js';
import { checkCredentialsForPath, type CheckedCredentials } from '../service/key-request.js';
import { checkInput, inputSize, prepareBatches, type IdentityMapInput, type PreparedBatch } from './batches.js';
import { RequestLimiter } from './limiter.js';
import { resolveIdentityMapOptions, type IdentityMapOptions, type ResolvedIdentityMapOptions } from './options.js';
import type { IdentityMapOutcome } from './outcome.js';
import { IDENTITY_MAP_PATH, sendIdentityMapRequest } from './request.js';
import { readIdentityMapResponse } from './response.js';
import { IdentityMapV3Response } from './result.js';
import { withRetries } from './retry.js';

/** Options of one `generateIdentityMap` call. */
export interface GenerateIdentityMapOptions {
  /** Aborts the call: requests in flight are cancelled and it rejects with AbortedError. */
  signal?: AbortSignal;
}

/** What a client has sent so far. */
export interface IdentityMapStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Requests that failed with a retryable answer and were sent again (429s among them). */
  retries: number;
  /** Of those, the ones answered HTTP 429. */
  throttled: number;
}

export class IdentityMapV3Client {
  readonly #credentials: CheckedCredentials;
  readonly #options: ResolvedIdentityMapOptions;
  readonly #limiter: RequestLimiter;
  readonly #stats: IdentityMapStats = { requests: 0, retries: 0, throttled: 0 };

  /**
   * Each credential defaults to `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY`.
   * @throws ConfigError, SecretKeyError (unusable credentials), InvalidArgumentError (options)
   */
  constructor(baseUrl?: string, apiKey?: string, secretKey?: string, options?: IdentityMapOptions) {
    this.#options = resolveIdentityMapOptions(options);
    this.#credentials = checkCredentialsForPath(resolveCredentials(baseUrl, apiKey, secretKey), IDENTITY_MAP_PATH);
    this.#limiter = new RequestLimiter(this.#options.maxConcurrentRequests);
  }

  /** Counters since the client was made (a copy). */
  get stats(): IdentityMapStats {
    return { ...this.#stats };
  }

  /**
   * Maps emails, phone numbers and their hashes to raw UIDs.
   * @throws InvalidArgumentError (input shape), AbortedError, ServiceHttpError (a status that is
   *   not retried, e.g. 400 or 401), EnvelopeError, NonceMismatchError, IdentityMapResponseError,
   *   RetryDeadlineError (429/5xx/network/timeouts until the deadline; `cause` is the last one)
   */
  async generateIdentityMap(input: IdentityMapInput, options: GenerateIdentityMapOptions = {}): Promise<IdentityMapV3Response> {
    const checked = checkInput(input);
    const outcomes = new Array<IdentityMapOutcome>(inputSize(checked));
    const callSignal = options.signal;
    // One signal for the whole call: the caller's abort and the first failure both cancel the
    // call's other requests and back-off sleeps (their answers would be thrown away).
    const cancel = new AbortController();
    const onCallAbort = (): void => cancel.abort(new AbortedError('the identity map call was aborted'));
    if (callSignal?.aborted) onCallAbort();
    else callSignal?.addEventListener('abort', onCallAbort, { once: true });
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    try {
      for (const batch of prepareBatches(checked, outcomes, this.#options.maxIdentitiesPerRequest)) {
        await this.#limiter.acquire(cancel.signal);
        if (failure) {
          this.#limiter.release();
          break;
        }
        const sent: Promise<void> = this.#send(batch, outcomes, cancel.signal)
          .catch((error: unknown) => {
            failure ??= { error };
            cancel.abort();
          })
          .finally(() => {
            this.#limiter.release();
            inFlight.delete(sent);
          });
        inFlight.add(sent);
      }
    } catch (error) {
      // Aborted while a batch waited for a slot.
      failure ??= { error };
      cancel.abort();
    }
    await Promise.all(inFlight);
    callSignal?.removeEventListener('abort', onCallAbort);
    if (failure) throw failure.error;
    return new IdentityMapV3Response(checked, outcomes);
  }

  async #send(batch: PreparedBatch, outcomes: IdentityMapOutcome[], signal: AbortSignal): Promise<void> {
    const o = this.#options;
    const answer = await withRetries(
      () => {
        this.#stats.requests++;
        return sendIdentityMapRequest(batch.payload, {
          credentials: this.#credentials,
          binary: o.binary,
          timeoutMs: o.timeoutMs,
          maxResponseBytes: o.maxResponseBytes,
          signals: [signal],
        });
      },
      o,
      signal,
      `${IDENTITY_MAP_PATH} batch of ${batch.size}`,
      (err) => {
        this.#stats.retries++;
        if ((err as { statusCode?: number }).statusCode === 429) this.#stats.throttled++;
      },
    );
    readIdentityMapResponse(answer, batch.lists, outcomes);
  }
}
