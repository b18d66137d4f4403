/**
 * The auto-refresh loop: one refresh at start, then one per interval after a success or per
 * retry interval after a failure, each delay jittered. The next timer is armed only once the
 * previous refresh has settled, so refreshes of one loop never overlap. Timers are unref'd: a
 * background refresh must never keep a process alive on its own.
 */
import { AbortedError, type Uid2Error } from '../errors.js';
import { MAX_TIMER_MS } from '../util/time.js';
import type { AutoRefreshOptions } from './options.js';

/** Outcome of a refresh: never thrown, always returned. */
export interface RefreshResult {
  success: boolean;
  error?: Uid2Error;
}

export type RefreshFunction = (signal: AbortSignal) => Promise<RefreshResult>;

/** `baseMs` scaled by a random factor in [1 - jitter, 1 + jitter], kept to what timers accept. */
export function jitteredDelay(baseMs: number, jitter: number, random: () => number = Math.random): number {
  const delay = Math.round(baseMs * (1 + jitter * (2 * random() - 1)));
  return Math.min(Math.max(delay, 1), MAX_TIMER_MS);
}

export class AutoRefresher {
  readonly #refresh: RefreshFunction;
  readonly #options: Required<AutoRefreshOptions>;
  // Aborts the refresh in flight when the loop stops, so stop() leaves nothing running.
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(refresh: RefreshFunction, options: Required<AutoRefreshOptions>) {
    this.#refresh = refresh;
    this.#options = options;
  }

  /** Runs the first refresh now; resolves with its outcome (later ones report through events). */
  start(): Promise<RefreshResult> {
    return this.#run();
  }

  /** Clears the pending timer and aborts the refresh in flight. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#controller.abort(new AbortedError('auto-refresh was stopped'));
  }

  async #run(): Promise<RefreshResult> {
    this.#timer = undefined;
    let success = false;
    try {
      const result = await this.#refresh(this.#controller.signal);
      success = result.success;
      return result;
    } finally {
      // Armed even if an event listener threw inside the refresh: the loop must outlive it.
      if (!this.#stopped) {
        const { intervalMs, retryIntervalMs, jitter } = this.#options;
        this.#timer = setTimeout(() => void this.#run(), jitteredDelay(success ? intervalMs : retryIntervalMs, jitter));
        this.#timer.unref();
      }
    }
  }
}
