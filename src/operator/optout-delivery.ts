/**
 * The local operator's opt-out webhook delivery, as the UID2 opt-out service does it: one HTTP
 * call per opt-out to the URL the DSP registered, the raw UID (standard base64, URL-encoded)
 * and the time (Unix seconds) either replacing `%%identity%%` / `%%timestamp%%` in the URL or
 * appended as query parameters; optional extra headers (e.g. a bearer token). 200 and 204 are
 * success; 429, 5xx, timeouts and connection errors are retried with exponential backoff and
 * jitter; any other status is a failure and is not retried.
 *
 *   optOut() ─► queue ─► up to `concurrency` calls in flight ─► 200/204: delivered
 *                  ▲                                        ├─► 429/5xx/error: wait, retry
 *                  └──────────── backoff timer ◄────────────┘   (until maxAttempts: failed)
 */
import { InvalidArgumentError } from '../errors.js';
import { integerOption } from '../util/integer-option.js';

export interface OptOutWebhookOptions {
  /** The webhook URL, e.g. `http://127.0.0.1:8080/optout` or `...?user=%%identity%%&t=%%timestamp%%`. */
  url: string;
  /** Default `GET`. The parameters travel in the URL either way. */
  method?: 'GET' | 'POST';
  /** Query parameter names used when the URL has no placeholders. Defaults `identity`, `timestamp`. */
  identityParam?: string;
  timeParam?: string;
  /** Extra request headers, e.g. `{ Authorization: 'Bearer ...' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Calls in flight at once. Default 16. */
  concurrency?: number;
  /** Tries per opt-out before it counts as failed. Default 100. */
  maxAttempts?: number;
  /** First retry delay, ms; doubles each retry up to `retryMaxMs`, with jitter. Default 100. */
  retryBaseMs?: number;
  /** Default 5000. */
  retryMaxMs?: number;
  /** Time allowed for one call, ms. Default 5000. */
  timeoutMs?: number;
}

export type ResolvedOptOutWebhookOptions = Required<OptOutWebhookOptions>;

export const DEFAULT_OPTOUT_WEBHOOK_OPTIONS = Object.freeze({
  method: 'GET' as const,
  identityParam: 'identity',
  timeParam: 'timestamp',
  headers: Object.freeze({}) as Readonly<Record<string, string>>,
  concurrency: 16,
  maxAttempts: 100,
  retryBaseMs: 100,
  retryMaxMs: 5000,
  timeoutMs: 5000,
});

/** @throws InvalidArgumentError naming the first bad option */
export function resolveOptOutWebhookOptions(value: unknown): ResolvedOptOutWebhookOptions | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError('options.optOutWebhook must be an object');
  const o = value as Record<string, unknown>;
  const d = DEFAULT_OPTOUT_WEBHOOK_OPTIONS;
  let url: URL;
  try {
    url = new URL(String(o['url']).replaceAll('%%identity%%', 'I').replaceAll('%%timestamp%%', '1'));
  } catch {
    throw new InvalidArgumentError('options.optOutWebhook.url must be an http: or https: URL');
  }
  if (typeof o['url'] !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError('options.optOutWebhook.url must be an http: or https: URL');
  }
  const method = o['method'] ?? d.method;
  if (method !== 'GET' && method !== 'POST') throw new InvalidArgumentError('options.optOutWebhook.method must be "GET" or "POST"');
  const names: Record<string, string> = {};
  for (const key of ['identityParam', 'timeParam'] as const) {
    const name = o[key] ?? d[key];
    if (typeof name !== 'string' || !/^[A-Za-z0-9._~-]{1,64}$/.test(name)) throw new InvalidArgumentError(`options.optOutWebhook.${key} must be 1 to 64 URL-safe characters`);
    names[key] = name;
  }
  const headers = o['headers'] ?? d.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new InvalidArgumentError('options.optOutWebhook.headers must be an object of strings');
  }
  const n = (key: 'concurrency' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'timeoutMs', max: number): number =>
    integerOption(o[key], `options.optOutWebhook.${key}`, d[key], max);
  return {
    url: o['url'],
    method,
    identityParam: names['identityParam']!,
    timeParam: names['timeParam']!,
    headers: Object.freeze({ ...(headers as Record<string, string>) }),
    concurrency: n('concurrency', 1024),
    maxAttempts: n('maxAttempts', 1_000_000),
    retryBaseMs: n('retryBaseMs', 3_600_000),
    retryMaxMs: n('retryMaxMs', 3_600_000),
    timeoutMs: n('timeoutMs', 3_600_000),
  };
}

/** What the delivery has done so far. */
export interface OptOutDeliveryStats {
  /** Opt-outs waiting for a call or a retry. */
  pending: number;
  /** Acknowledged with 200 or 204. */
  delivered: number;
  /** Calls made, first tries and retries. */
  attempts: number;
  /** Calls answered 429/5xx or failed to connect (each was retried unless attempts ran out). */
  retried: number;
  /** Given up: a status that is not retried, or maxAttempts reached. */
  failed: number;
}

interface Job {
  rawUid: string;
  seconds: number;
  attempts: number;
}

/** Delivers opt-outs to one webhook. */
export class OptOutDelivery {
  readonly #options: ResolvedOptOutWebhookOptions;
  readonly #queue: Job[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #closing = new AbortController();
  readonly #delivered: string[] = [];
  #inFlight = 0;
  #waiting = 0;
  #stats = { attempts: 0, retried: 0, failed: 0 };

  constructor(options: ResolvedOptOutWebhookOptions) {
    this.#options = options;
  }

  get stats(): OptOutDeliveryStats {
    return { pending: this.#queue.length + this.#inFlight + this.#waiting, delivered: this.#delivered.length, ...this.#stats };
  }

  /** Raw UIDs whose delivery was acknowledged (200/204), in the order the answers came. */
  delivered(): readonly string[] {
    return this.#delivered;
  }

  /** Queues the delivery of one opt-out. */
  enqueue(rawUid: string, optedOutMs: number): void {
    if (this.#closing.signal.aborted) return;
    this.#queue.push({ rawUid, seconds: Math.floor(optedOutMs / 1000), attempts: 0 });
    this.#pump();
  }

  /** Stops: cancels retries and calls in flight. Undelivered opt-outs are dropped. */
  close(): void {
    this.#closing.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#queue.length = 0;
  }

  #url(job: Job): string {
    const { url, identityParam, timeParam } = this.#options;
    const identity = encodeURIComponent(job.rawUid);
    if (url.includes('%%identity%%') || url.includes('%%timestamp%%')) {
      return url.replaceAll('%%identity%%', identity).replaceAll('%%timestamp%%', String(job.seconds));
    }
    return `${url}${url.includes('?') ? '&' : '?'}${identityParam}=${identity}&${timeParam}=${job.seconds}`;
  }

  #pump(): void {
    while (this.#inFlight < this.#options.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#inFlight++;
      void this.#attempt(job).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #attempt(job: Job): Promise<void> {
    job.attempts++;
    this.#stats.attempts++;
    let status = 0;
    try {
      const res = await fetch(this.#url(job), {
        method: this.#options.method,
        headers: this.#options.headers,
        redirect: 'manual',
        signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#options.timeoutMs)]),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch {
      status = 0; // connection refused or reset, timeout: retried
    }
    if (this.#closing.signal.aborted) return;
    if (status === 200 || status === 204) {
      this.#delivered.push(job.rawUid);
      return;
    }
    if (status !== 0 && status !== 429 && status < 500) {
      this.#stats.failed++;
      return;
    }
    this.#stats.retried++;
    if (job.attempts >= this.#options.maxAttempts) {
      this.#stats.failed++;
      return;
    }
    const { retryBaseMs, retryMaxMs } = this.#options;
    const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(job.attempts - 1, 30)) * (0.5 + Math.random() / 2);
    this.#waiting++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#waiting--;
      this.#queue.push(job);
      this.#pump();
    }, delay);
    this.#timers.add(timer);
  }
}
