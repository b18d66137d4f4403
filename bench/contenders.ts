/** The decryption paths compared in one run, on one corpus. */
import { BidstreamClient, DecryptionEngine, type EngineOptions, type KeySet } from '../dist/index.js';
import type { CorpusToken } from './corpus.js';
import { naiveDecrypt, type NaiveKeys } from './naive.js';

export interface Contender {
  /** naive | inline | pool (the engine, worker threads forced) | engine (default dispatch) | engine-in-process */
  readonly name: string;
  /** Crypto backend: node-crypto or native ('-' where it does not apply). */
  readonly backend: string;
  /** Worker threads (0: all work on the main thread). */
  readonly threads: number;
  /** Main-thread contenders decrypt synchronously. */
  readonly decryptSync?: (t: CorpusToken) => unknown;
  /** Pool contenders answer asynchronously. */
  readonly decryptAsync?: (t: CorpusToken) => Promise<unknown>;
  /** The engine's token cache counters, where the contender has one. */
  readonly cacheStats?: () => { hits: number; misses: number } | null;
  /** A whole batch (micro benchmark of the pool). */
  readonly decryptMany?: (tokens: readonly CorpusToken[]) => Promise<unknown>;
  close(): Promise<void>;
}

/** Display name of a contender or of a result row: `pool[native, 1t]`, `engine[native, 1t]`, `inline[native]`, `naive`. */
export function label(c: { backend: string; threads: number } & ({ name: string } | { contender: string })): string {
  const name = 'name' in c ? c.name : c.contender;
  if (name.startsWith('pool') || name.startsWith('engine')) return `${name}[${c.backend}, ${c.threads}t]`;
  return name === 'inline' ? `inline[${c.backend}]` : name;
}

/** Runs `make` with UID2_ENGINE_BACKEND set to `backend` (when given), then restores it. */
async function withBackend<T>(backend: string | undefined, make: () => Promise<T>): Promise<T> {
  const previous = process.env['UID2_ENGINE_BACKEND'];
  if (backend) process.env['UID2_ENGINE_BACKEND'] = backend;
  try {
    return await make();
  } finally {
    if (previous === undefined) delete process.env['UID2_ENGINE_BACKEND'];
    else process.env['UID2_ENGINE_BACKEND'] = previous;
  }
}

export interface Credentials {
  baseUrl: string;
  apiKey: string;
  secretKey: string;
}

export function naiveContender(keySet: KeySet): Contender {
  const keys: NaiveKeys = { secrets: new Map(keySet.keys().map((k) => [k.id, k.secret])) };
  return {
    name: 'naive',
    backend: 'node-crypto',
    threads: 0,
    decryptSync: (t) => naiveDecrypt(t.token, keys, Date.now()),
    close: async () => {},
  };
}

/**
 * The library's BidstreamClient on the main thread, its backend forced through
 * UID2_ENGINE_BACKEND, which a client reads at construction; keys refreshed over loopback.
 */
export async function inlineContender(credentials: Credentials, backend: string): Promise<Contender> {
  const client = await withBackend(backend, async () => new BidstreamClient(credentials.baseUrl, credentials.apiKey, credentials.secretKey));
  const refreshed = await client.refresh();
  if (!refreshed.success) throw refreshed.error;
  return {
    name: 'inline',
    backend: client.backend,
    threads: 0,
    decryptSync: (t) => client.decryptTokenIntoRawUid(t.token, t.domain),
    close: async () => {},
  };
}

/**
 * The engine with a worker pool, every token handed to the workers (dispatch: 'workers'). `backend`
 * is forced through UID2_ENGINE_BACKEND, which the engine reads at create(); the env var is
 * restored afterwards.
 */
export async function poolContender(
  options: EngineOptions,
  threads: number,
  backend: string | undefined,
  variant: { batchWindowUs?: number; tokenCache?: boolean } = {},
): Promise<Contender> {
  const batchWindowUs = variant.batchWindowUs ?? 0;
  const engine = await withBackend(backend, () =>
    DecryptionEngine.create({ ...options, threads, dispatch: 'workers', batchWindowUs, tokenCache: variant.tokenCache ?? false }),
  );
  // Warm the workers (module load, JIT) before anything is measured.
  await engine.decryptBatch(Array.from({ length: 64 }, () => 'AAAA'));
  return {
    // Variants are rows of their own: `pool-w250µs[native, 1t]`, `pool-cache[native, 1t]`.
    name: batchWindowUs > 0 ? `pool-w${batchWindowUs}µs` : variant.tokenCache ? 'pool-cache' : 'pool',
    /** The engine's token cache counters (pool-cache rows), for the report's hit ratio. */
    cacheStats: () => engine.stats().tokenCache,
    backend: engine.stats().backend,
    threads,
    decryptAsync: (t) => engine.decrypt(t.token, t.domain),
    decryptMany: (tokens) => engine.decryptBatch(tokens.map((t) => t.token), { domains: tokens.map((t) => t.domain) }),
    close: () => engine.close(),
  };
}

/**
 * The engine as a bidder gets it (`engine`: default options, hybrid dispatch), or with every token
 * decrypted on the calling thread (`engine-in-process`: dispatch 'in-process'), both through
 * decrypt()'s promise like the pool.
 */
export async function engineContender(options: EngineOptions, threads: number, backend: string, dispatch: 'auto' | 'in-process'): Promise<Contender> {
  const engine = await withBackend(backend, () => DecryptionEngine.create({ ...options, threads, ...(dispatch === 'auto' ? {} : { dispatch }) }));
  await engine.decryptBatch(Array.from({ length: 64 }, () => 'AAAA'));
  return {
    name: dispatch === 'auto' ? 'engine' : 'engine-in-process',
    backend: engine.stats().backend,
    threads: dispatch === 'auto' ? threads : 0,
    decryptAsync: (t) => engine.decrypt(t.token, t.domain),
    decryptMany: (tokens) => engine.decryptBatch(tokens.map((t) => t.token), { domains: tokens.map((t) => t.domain) }),
    close: () => engine.close(),
  };
}

/**
 * The floor: a contender that answers at once, doing no work. Its latency is the load generator's
 * and the machine's own (timer wake-ups, scheduling stalls, GC): no contender can do better.
 */
export function floorContender(): Contender {
  const done = Promise.resolve(null);
  return { name: 'floor', backend: '-', threads: 0, decryptAsync: () => done, close: async () => {} };
}
