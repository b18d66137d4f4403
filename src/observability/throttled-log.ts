/**
 * Failure logging that cannot flood: a disk that fills up under a flood of opt-outs fails
 * thousands of writes a second, and one log line each would bury everything else (and fill the
 * disk the logs share). The first failure of a run is logged at once; later ones at most once per
 * interval, with the run's count so far and how many went unlogged since the last line; a success
 * after failures is logged too, also at most once per interval, so an operator sees both the
 * start and the end of an episode.
 */
import type { Logger } from './logger.js';

/** Default interval between two failure lines, ms. */
export const DEFAULT_FAILURE_LOG_INTERVAL_MS = 10_000;

export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #level: 'error' | 'warn' | 'info';
  #lastFailureMs = -Infinity;
  #lastSuccessMs = -Infinity;
  /** Failures since the last failure line. */
  #unlogged = 0;
  /** Failures since the last success line. */
  #run = 0;

  constructor(logger: Logger, intervalMs = DEFAULT_FAILURE_LOG_INTERVAL_MS, level: 'error' | 'warn' | 'info' = 'error') {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#level = level;
  }

  /** Counts one failure; logs it (at the level given) unless a failure line was written less than an interval ago. */
  failure(fields: Record<string, unknown>, message: string): void {
    this.#run++;
    const now = Date.now();
    if (now - this.#lastFailureMs < this.#intervalMs) {
      this.#unlogged++;
      return;
    }
    this.#logger[this.#level]({ ...fields, count: this.#run, unlogged: this.#unlogged }, message);
    this.#lastFailureMs = now;
    this.#unlogged = 0;
  }

  /**
   * A success after failures: one `info` line with how many failed since the last such line, at
   * most once per interval (a disk at its last free page fails and succeeds by turns). Nothing
   * when nothing failed.
   */
  success(fields: Record<string, unknown>, message: string): void {
    if (this.#run === 0) return;
    const now = Date.now();
    if (now - this.#lastSuccessMs < this.#intervalMs) return;
    this.#logger.info({ ...fields, failures: this.#run }, message);
    this.#lastSuccessMs = now;
    this.#run = 0;
  }
}
