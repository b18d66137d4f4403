/**
 * Runs large key refreshes on a dedicated worker thread, so that a refresh of thousands of keys
 * never blocks the event loop: at 10,000 keys, receiving the 2 MB answer alone costs the main
 * thread a few ms, and opening, parsing, validating and encoding it tens of ms (see
 * docs/performance.md). The main thread posts the sealed request and gets back the key set's snapshot
 * SharedArrayBuffer (shared, not copied), over which it builds the KeySet in O(1).
 *
 * Whether a refresh goes here is decided before it is sent, so by the size of the client's
 * previous answer (`useRefreshThread`): a client learns its key set's size on its first refresh,
 * which runs on the calling thread.
 *
 * The worker is started on first use, restarted after it dies, and holds the process open only
 * while a refresh is running: idle, it is unref'd, so it never keeps a process alive. Its queue is
 * bounded; a refresh finding it full runs on the calling thread.
 */
import { Worker } from 'node:worker_threads';
import {
  AbortedError,
  EnvelopeError,
  InternalError,
  KeysJsonError,
  NonceMismatchError,
  ResponseTimestampError,
  ServiceHttpError,
  ServiceNetworkError,
  ServiceTimeoutError,
  StaleKeysError,
  type Uid2Error,
  WorkerFailedError,
} from '../errors.js';
import { keySetFromSnapshot } from '../keys/key-set.js';
import { workerScript } from '../util/worker-script.js';
import { abortReason } from './http.js';
import type { FetchedKeySet, SealedKeyRequest } from './key-response.js';
import type { RefreshErrorReply, RefreshJob, RefreshMessage, RefreshReply } from './refresh-messages.js';

/**
 * A client whose previous answer had at least this many bytes (about 160 keys) refreshes on the
 * worker; below it, on the calling thread, where a refresh costs less than the worker's round
 * trip. Chosen by measurement: see bench/refresh-block.ts and docs/performance.md.
 */
export const REFRESH_THREAD_MIN_BYTES = 32 * 1024;

/** Refreshes waiting for, or running on, the worker at most. */
export const MAX_PENDING_REFRESHES = 4;

/** The errors a refresh can give, rebuilt on this side of the thread boundary. */
const REBUILD: Readonly<Record<string, (reply: RefreshErrorReply) => Uid2Error>> = {
  UID2_ERR_SERVICE_HTTP: (r) => new ServiceHttpError(r.statusCode ?? 0, r.message),
  UID2_ERR_SERVICE_NETWORK: (r) => new ServiceNetworkError(r.message),
  UID2_ERR_SERVICE_TIMEOUT: (r) => new ServiceTimeoutError(r.message),
  UID2_ERR_ABORTED: (r) => new AbortedError(r.message),
  UID2_ERR_ENVELOPE: (r) => new EnvelopeError(r.message),
  UID2_ERR_NONCE_MISMATCH: (r) => new NonceMismatchError(r.message),
  UID2_ERR_RESPONSE_TIMESTAMP: (r) => new ResponseTimestampError(r.timestampMs ?? Number.NaN, r.message),
  UID2_ERR_KEYS_JSON: (r) => new KeysJsonError(r.message),
  UID2_ERR_KEYS_STALE: (r) => new StaleKeysError(r.message),
};

interface Pending {
  resolve(result: FetchedKeySet): void;
  reject(error: Uid2Error): void;
}

/** @internal Test and benchmark hooks; not reachable from the package's exports. */
export const refreshThreadHooks = {
  /** Clients whose previous answer had at least this many bytes use the worker (0: all, even a first refresh; Infinity: none). */
  minBytes: REFRESH_THREAD_MIN_BYTES,
  /** The next this many jobs make the worker exit on receipt (a worker dying mid-refresh). */
  crashNextJobs: 0,
  /** Jobs posted to a worker so far. */
  jobsPosted: 0,
  /** Workers started so far. */
  workersStarted: 0,
};

/** Whether a client whose previous answer had `previousResponseBytes` (0: none yet) uses the worker. */
export function useRefreshThread(previousResponseBytes: number): boolean {
  return previousResponseBytes >= refreshThreadHooks.minBytes;
}

class RefreshThread {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  run(request: SealedKeyRequest, signals: readonly AbortSignal[]): Promise<FetchedKeySet> | null {
    if (this.#pending.size >= MAX_PENDING_REFRESHES) return null;
    const aborted = signals.find((s) => s.aborted);
    if (aborted) return Promise.reject(abortReason(aborted.reason));
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    const crash = refreshThreadHooks.crashNextJobs > 0 ? (refreshThreadHooks.crashNextJobs--, true as const) : undefined;
    // Fresh copies: a Buffer may be a view into Node's shared pool, which cloning would copy whole.
    const job: RefreshJob = { type: 'refresh', id, request: { ...request, secret: new Uint8Array(request.secret), nonce: new Uint8Array(request.nonce) }, crash };
    const promise = new Promise<FetchedKeySet>((resolve, reject) => {
      // An abort settles the caller at once; the worker is told to stop, and its late reply is dropped.
      const onAbort = function (this: AbortSignal): void {
        settle.reject(abortReason(this.reason));
        worker.postMessage({ type: 'cancel', id } satisfies RefreshMessage);
      };
      const done = (): void => {
        for (const s of signals) s.removeEventListener('abort', onAbort);
        if (this.#pending.get(id) === settle) this.#pending.delete(id);
        if (this.#pending.size === 0) this.#worker?.unref();
      };
      const settle: Pending = {
        resolve: (result) => (done(), resolve(result)),
        reject: (error) => (done(), reject(error)),
      };
      this.#pending.set(id, settle);
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    });
    worker.ref();
    worker.postMessage(job satisfies RefreshMessage);
    refreshThreadHooks.jobsPosted++;
    return promise;
  }

  #start(): Worker {
    const worker = new Worker(workerScript('service/refresh-worker.js'));
    refreshThreadHooks.workersStarted++;
    worker.unref();
    worker.on('message', (reply: RefreshReply) => this.#settle(reply));
    // 'error' (an uncaught exception in the worker) is followed by 'exit'; both end this worker.
    worker.on('error', () => this.#lost(worker));
    worker.on('exit', () => this.#lost(worker));
    this.#worker = worker;
    return worker;
  }

  #settle(reply: RefreshReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    if ('snapshot' in reply) {
      let keySet;
      try {
        keySet = keySetFromSnapshot(reply.snapshot);
      } catch (err) {
        pending.reject(new InternalError('the refresh worker sent an incomplete key snapshot', { cause: err }));
        return;
      }
      pending.resolve({ keySet, responseBytes: reply.responseBytes });
    } else {
      const rebuild = REBUILD[reply.code];
      pending.reject(rebuild ? rebuild(reply) : new InternalError(reply.message));
    }
  }

  /** The worker died: every refresh it held fails, and the next one starts a new worker. */
  #lost(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    for (const pending of [...this.#pending.values()]) {
      pending.reject(new WorkerFailedError('the key refresh worker stopped during a refresh; the previous keys stay in force'));
    }
  }
}

let thread: RefreshThread | undefined;

/**
 * Runs `fetchKeySet()` on the shared refresh worker (one per process, whatever the number of
 * clients): same outcome, plus WorkerFailedError when the worker dies during the refresh.
 * @returns `null` when the worker's queue is full: run the refresh on this thread instead
 */
export function fetchKeySetOffThread(request: SealedKeyRequest, signals: readonly AbortSignal[]): Promise<FetchedKeySet> | null {
  return (thread ??= new RefreshThread()).run(request, signals);
}
