/**
 * Hybrid dispatch: which side decrypts. Handing tokens to a worker is not free for the main
 * thread: a batch costs a wake-up of the worker and an event-loop turn for its completion
 * (HANDOFF_BATCH_US), and each token its write into the slot and the reading of its result
 * (HANDOFF_TOKEN_US, or HANDOFF_COLUMN_TOKEN_US with decryptColumns()). Decrypting here costs the
 * main thread IN_PROCESS_US per token (1 µs native, 10 µs node-crypto). The rule (mode 'auto'):
 *
 *   n tokens decrypt here  iff  n x IN_PROCESS_US <= HANDOFF_BATCH_US + n x HANDOFF_TOKEN_US
 *                          and in-process work stays within IN_PROCESS_SHARE of the main thread.
 *
 * A decryptBatch() or decryptColumns() call is `n` tokens. A decrypt() call is one token that
 * would share its hand-off with the other calls of its event-loop turn: it decrypts here when
 * that is cheaper for a turn of the usual size (sampled), else it queues, and when the queue is
 * cut for an idle worker the rule is applied again to what actually queued (Dispatcher.pump).
 * Work past the share (a token bucket refilled with wall time, charged with this process's own
 * measured in-process cost) goes to the workers, which is what lets the engine grow past one
 * core when the main thread has better things to do.
 *
 * All the figures are measurements on one machine (docs/engine.md gives them and the commands).
 * The comparison uses them as they are: a slower or loaded machine stretches both sides alike
 * (a hand-off's event-loop time grows with load as decryption's does), so the sizes at which a
 * hand-off repays itself stay put: ~125 tokens native (31 for decryptColumns()), 3 node-crypto.
 * Only the share is charged with what this process measures, since that is about its own time.
 * Where cores are idle a hand-off costs less than HANDOFF_BATCH_US, and the rule errs toward in
 * process: never costlier than it.
 */
import { performance } from 'node:perf_hooks';
import type { CryptoBackend } from '../native/backend.js';

/** Where the engine decrypts: by the rule above, always in worker threads, or always here. */
export type DispatchMode = 'auto' | 'workers' | 'in-process';

/**
 * Main-thread µs a batch hand-off costs beyond its tokens (worker wake-up, completion turn), in
 * event-loop time: the load bench's pool rows give 20-30 µs per hand-off on the 2-core VM at a load
 * average of 3-5 (up to 45 µs at 10-15).
 */
export const HANDOFF_BATCH_US = 25;
/** Main-thread µs per token of a handed-off decrypt()/decryptBatch() batch (write, read the record, build the result, settle). */
export const HANDOFF_TOKEN_US = 0.8;
/** Main-thread µs per token of a handed-off decryptColumns() batch (its write). */
export const HANDOFF_COLUMN_TOKEN_US = 0.2;
/** The most of the main thread's time that in-process decryption may take. */
export const IN_PROCESS_SHARE = 0.5;
/** Main-thread µs per token of in-process decryption (the hand-off bench's worker function, in one thread, plus a result). */
export const IN_PROCESS_US: Readonly<Record<CryptoBackend, number>> = Object.freeze({ native: 1, 'node-crypto': 10 });

/** One in SAMPLE decrypt() calls refills the budget, times its decryption and probes its turn. */
const SAMPLE_MASK = 15;
/**
 * The measured in-process cost (what the share is charged) is the median of this many recent
 * samples (µs per token): a sample taken while the thread was descheduled is an outlier the median
 * ignores, where a moving average would climb with every one of them.
 */
const SAMPLES = 31;
/** Samples needed before they replace the starting estimate. */
const MIN_SAMPLES = 7;
/**
 * Turn sizes are the median of this many sampled turns, each counted up to MAX_TURN: a burst (a
 * stalled caller issuing thousands of calls at once) must not make every later call queue.
 */
const TURNS = 15;
const MAX_TURN = 256;
/** The budget's burst: this much in-process work may happen at once (µs). */
const CREDIT_CAP_US = 5000;

export class DispatchPolicy {
  readonly mode: DispatchMode;
  /** IN_PROCESS_US of the backend: what the rule compares. */
  readonly #perToken: number;
  /** In-process µs per token this process measures (IN_PROCESS_US until samples come): what the share is charged. */
  #inProcessUs: number;
  readonly #samples = new Float64Array(SAMPLES);
  #sampled = 0;
  /** decrypt() calls per event-loop turn: the median of recent sampled turns. */
  #callsPerTurn = 1;
  readonly #turns = new Float64Array(TURNS);
  #turnsSeen = 0;
  /** In-process µs the main thread may still spend now (the share's token bucket). */
  #credit = CREDIT_CAP_US;
  #refilledAt = performance.now();
  #singles = 0;
  #probeFrom = -1;
  /** Set by a sample: the engine times the next in-process decryption and reports it. */
  timeNext = false;
  readonly #endProbe = (): void => {
    const observed = this.#singles - this.#probeFrom + 1;
    this.#probeFrom = -1;
    // The sampled call sits anywhere in its turn: on average (k + 1) / 2 calls remain of k.
    this.#turns[this.#turnsSeen++ % TURNS] = Math.min(MAX_TURN, 2 * observed - 1);
    this.#callsPerTurn = median(this.#turns, this.#turnsSeen);
  };

  constructor(mode: DispatchMode, backend: CryptoBackend) {
    this.mode = mode;
    this.#perToken = IN_PROCESS_US[backend];
    this.#inProcessUs = this.#perToken;
  }

  /** decrypt(): true to decrypt this token here now, false to queue it for a worker batch. */
  single(): boolean {
    if (this.mode !== 'auto') return this.mode === 'in-process';
    if ((++this.#singles & SAMPLE_MASK) === 0) this.#sample();
    const k = this.#callsPerTurn;
    if (this.#credit < this.#inProcessUs || k * this.#perToken > HANDOFF_BATCH_US + k * HANDOFF_TOKEN_US) return false;
    this.#credit -= this.#inProcessUs;
    return true;
  }

  /**
   * `n` tokens at once (a call, or what queued for an idle worker): true to decrypt them here.
   * `columns`: they are decryptColumns() tokens (a hand-off costs less per token).
   */
  batch(n: number, columns = false): boolean {
    if (this.mode !== 'auto') return this.mode === 'in-process';
    if (n * this.#perToken > HANDOFF_BATCH_US + n * (columns ? HANDOFF_COLUMN_TOKEN_US : HANDOFF_TOKEN_US)) return false;
    this.#refill();
    const spent = n * this.#inProcessUs;
    if (this.#credit < spent) return false;
    this.#credit -= spent;
    return true;
  }

  /** `n` tokens took `us` to decrypt here (timed by the engine): refines what the share is charged. */
  observe(n: number, us: number): void {
    this.timeNext = false;
    if (n <= 0 || !(us >= 0)) return;
    this.#samples[this.#sampled++ % SAMPLES] = us / n;
    if (this.#sampled >= MIN_SAMPLES && (this.#sampled & 7) === 0) this.#inProcessUs = median(this.#samples, this.#sampled);
  }

  /** Current estimates (tests). */
  get inProcessUs(): number {
    return this.#inProcessUs;
  }

  get callsPerTurn(): number {
    return this.#callsPerTurn;
  }

  #sample(): void {
    this.#refill();
    this.timeNext = true;
    if (this.#probeFrom < 0) {
      this.#probeFrom = this.#singles;
      queueMicrotask(this.#endProbe);
    }
  }

  #refill(): void {
    const now = performance.now();
    this.#credit = Math.min(CREDIT_CAP_US, this.#credit + (now - this.#refilledAt) * 1000 * IN_PROCESS_SHARE);
    this.#refilledAt = now;
  }
}

/** The median of the first min(seen, length) entries of a ring. */
function median(ring: Float64Array, seen: number): number {
  const recent = ring.slice(0, Math.min(seen, ring.length)).sort();
  return recent[recent.length >> 1]!;
}
