/**
 * Prometheus metrics for a DecryptionEngine, through prom-client, an optional peer dependency:
 * it is loaded only when `engine.metrics()` is called, so the library itself depends on
 * nothing but piscina.
 *
 * Counters and gauges are read from `engine.stats()` when the registry is scraped (the hot path
 * keeps its plain counters and pays nothing per token); the two histograms are fed once per
 * completed batch.
 */
import type * as PromClient from 'prom-client';
import { ConfigError, InvalidArgumentError } from '../errors.js';
import { DecryptionStatus } from '../types.js';

/**
 * The part of a prom-client `Registry` the engine needs; any prom-client 14 or 15 registry fits.
 * Typed structurally so the library's declarations do not require prom-client's types.
 */
export interface MetricsRegistry {
  registerMetric(metric: unknown): void;
  getSingleMetric(name: string): unknown;
}

/** Options of `engine.metrics()`. */
export interface EngineMetricsOptions {
  /**
   * Prefix of every metric name, e.g. to register two engines on one registry. Default
   * `'uid2_engine_'`.
   */
  prefix?: string;
}

/**
 * The figures of `engine.stats()` (engine/stats.ts EngineStats) the metrics read, declared here
 * so that observability/ and engine/ do not import each other.
 */
interface EngineMetricsStats {
  statusCounts: Record<DecryptionStatus, number>;
  batches: number;
  batchRetries: number;
  failedBatches: number;
  overloadRejections: number;
  optedOutResults: number;
  keyRefreshSuccesses: number;
  keyRefreshFailures: number;
  queueDepth: number;
  inFlightTokens: number;
  liveWorkers: number;
  keySetAgeMs: number | null;
  /** A dual-scope engine's per-scope figures (engine/stats.ts ScopeStats), else null. */
  scopes: Record<'UID2' | 'EUID', {
    statusCounts: Record<DecryptionStatus, number>;
    keyRefreshSuccesses: number;
    keyRefreshFailures: number;
    keySetAgeMs: number | null;
  }> | null;
}

/** What the metrics read from an engine. */
interface EngineMetricsSource {
  stats(): EngineMetricsStats;
  /** Adds an observer called once per completed batch. */
  onBatch(observer: (tokens: number, durationMs: number) => void): void;
}

const DEFAULT_METRICS_PREFIX = 'uid2_engine_';

/** Token counts per batch: powers of two around the default batch size (256). */
const BATCH_SIZE_BUCKETS = [1, 4, 16, 64, 128, 256, 512, 1024, 4096, 16_384, 65_536];
/** Batch latency in seconds: 50 µs to 1 s, dense where a healthy engine lives (sub-millisecond). */
const BATCH_SECONDS_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

type PromModule = typeof PromClient;

/**
 * Loads prom-client. `specifier` exists for the test of the missing-package path. Typed
 * `unknown` on purpose: prom-client's types must not reach the library's declarations, which
 * compile for users who never install it.
 * @throws ConfigError (`UID2_ERR_CONFIG`) saying to install prom-client when it cannot be loaded
 */
export async function loadPromClient(specifier = 'prom-client'): Promise<unknown> {
  try {
    const mod = (await import(specifier)) as PromModule & { default?: PromModule };
    // prom-client is CommonJS: its exports may come as named exports or only as `default`.
    return typeof mod.Counter === 'function' ? mod : mod.default!;
  } catch (err) {
    throw new ConfigError(`engine.metrics() needs the optional peer dependency prom-client: npm install prom-client (${(err as Error)?.message ?? err})`);
  }
}

/** prom-client, the registry to register on and the name prefix, validated once for every family. */
interface OpenedRegistry {
  prom: PromModule;
  registry: PromClient.Registry;
  prefix: string;
}

/**
 * Validates `options.prefix`, loads prom-client and checks `register` (default: the global
 * registry), refusing one where `probe` (a metric name after the prefix) is already registered.
 * @throws InvalidArgumentError for a bad prefix, a non-registry, or names already registered;
 *   ConfigError when prom-client is not installed
 */
export async function openRegistry(
  register: MetricsRegistry | undefined,
  options: EngineMetricsOptions,
  load: () => Promise<unknown>,
  probe: string,
  family: string,
): Promise<OpenedRegistry> {
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidArgumentError('options.prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  }
  const prom = (await load()) as PromModule;
  const registry = (register ?? prom.register) as PromClient.Registry;
  if (typeof registry?.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw new InvalidArgumentError('register must be a prom-client Registry');
  }
  if (registry.getSingleMetric(`${prefix}${probe}`)) {
    throw new InvalidArgumentError(`metrics named ${prefix}${family} are already registered on this registry: pass another options.prefix`);
  }
  return { prom, registry, prefix };
}

/** Gauges and counters whose values are read from a stats() snapshot when the registry is scraped. */
interface ScrapedMetrics<S> {
  gauge(name: string, help: string, read: (s: S) => number): void;
  /** A counter that follows a monotonic number (incremented by the difference at each scrape). */
  counter(name: string, help: string, read: (s: S) => number): void;
}

/** Builders for `opened`'s registry; `name` is appended to its prefix. */
export function scrapedMetrics<S>(opened: OpenedRegistry, stats: () => S): ScrapedMetrics<S> {
  const { prom, registry, prefix } = opened;
  const registers = [registry];
  return {
    gauge(name, help, read) {
      new prom.Gauge({
        name: prefix + name,
        help,
        registers,
        collect() {
          this.set(read(stats()));
        },
      });
    },
    counter(name, help, read) {
      let last = 0;
      new prom.Counter({
        name: prefix + name,
        help,
        registers,
        collect() {
          const value = read(stats());
          if (value > last) this.inc(value - last);
          last = value;
        },
      });
    },
  };
}

/**
 * Registers the engine's metrics on `register` (default: prom-client's global registry).
 * @throws InvalidArgumentError for a bad prefix or names already registered there
 */
export async function registerEngineMetrics(
  source: EngineMetricsSource,
  register?: MetricsRegistry,
  options: EngineMetricsOptions = {},
  load: () => Promise<unknown> = () => loadPromClient(),
): Promise<void> {
  const opened = await openRegistry(register, options, load, 'tokens_total', '*');
  const { prom, registry, prefix } = opened;
  const registers = [registry];
  const stats = (): EngineMetricsStats => source.stats();
  const { counter: followCounter, gauge } = scrapedMetrics(opened, stats);

  const statuses = Object.values(DecryptionStatus);
  labelledCounter(prom, registers, `${prefix}tokens_total`, 'Tokens decrypted, by decryption status', ['status'], () => {
    const counts = stats().statusCounts;
    return statuses.map((status) => [{ status }, counts[status] ?? 0]);
  });

  followCounter('batches_total', 'Worker batches completed', (s) => s.batches);
  followCounter('batch_retries_total', 'Batches re-run after their worker died', (s) => s.batchRetries);
  followCounter('failed_batches_total', 'Batches rejected after failing twice', (s) => s.failedBatches);
  followCounter('overload_rejections_total', 'Calls rejected because maxQueuedTokens was reached', (s) => s.overloadRejections);
  followCounter('opted_out_total', 'Results whose raw UID is in the opt-out store (uid withheld unless returnOptedOutUid)', (s) => s.optedOutResults);

  labelledCounter(prom, registers, `${prefix}key_refreshes_total`, 'Key refreshes of the followed client, by outcome', ['outcome'], () => {
    const s = stats();
    return [
      [{ outcome: 'success' }, s.keyRefreshSuccesses],
      [{ outcome: 'failure' }, s.keyRefreshFailures],
    ];
  });

  gauge('queue_depth', 'Tokens queued, not yet dispatched to a worker', (s) => s.queueDepth);
  gauge('in_flight_tokens', 'Tokens in batches running on workers', (s) => s.inFlightTokens);
  gauge('live_workers', 'Worker threads alive', (s) => s.liveWorkers);
  // NaN before any keys: "no key set" must not read as "a fresh key set".
  gauge('key_set_age_seconds', 'Seconds since the key set in force was published (NaN before any keys)', (s) =>
    s.keySetAgeMs === null ? Number.NaN : s.keySetAgeMs / 1000,
  );

  const batchSize = new prom.Histogram({
    name: `${prefix}batch_size`,
    help: 'Tokens per completed batch',
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const batchSeconds = new prom.Histogram({
    name: `${prefix}batch_duration_seconds`,
    help: 'Time from dispatch to results of a completed batch',
    buckets: BATCH_SECONDS_BUCKETS,
    registers,
  });
  source.onBatch((count, durationMs) => {
    batchSize.observe(count);
    batchSeconds.observe(durationMs / 1000);
  });
  if (stats().scopes !== null) registerScopeMetrics(prom, registers, prefix, stats);
}

/**
 * A counter whose series follow monotonic numbers: at each scrape every series `read` lists grows
 * by what its number grew since the last scrape. Every series shows (at 0) from the first scrape,
 * so rate() queries never start from a missing series.
 */
function labelledCounter(
  prom: PromModule,
  registers: PromClient.Registry[],
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  const last = new Map<string, number>();
  const counter = new prom.Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (last.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        last.set(key, value);
      }
    },
  });
  for (const [labels] of read()) counter.inc(labels, 0);
}

/**
 * A dual-scope engine's per-scope series (the totals above stay both scopes' together): tokens by
 * scope and status, key refreshes by scope and outcome, and each scope's key-set age.
 */
function registerScopeMetrics(prom: PromModule, registers: PromClient.Registry[], prefix: string, stats: () => EngineMetricsStats): void {
  const scopes = ['UID2', 'EUID'] as const;
  const statuses = Object.values(DecryptionStatus);
  labelledCounter(prom, registers, `${prefix}scope_tokens_total`, 'Tokens decrypted, by the identity scope whose key set judged them and decryption status', ['scope', 'status'], () => {
    const all = stats().scopes!;
    return scopes.flatMap((scope) => statuses.map((status): [Record<string, string>, number] => [{ scope, status }, all[scope].statusCounts[status] ?? 0]));
  });
  labelledCounter(prom, registers, `${prefix}scope_key_refreshes_total`, 'Key refreshes of each identity scope, by outcome', ['scope', 'outcome'], () => {
    const all = stats().scopes!;
    return scopes.flatMap((scope): [Record<string, string>, number][] => [
      [{ scope, outcome: 'success' }, all[scope].keyRefreshSuccesses],
      [{ scope, outcome: 'failure' }, all[scope].keyRefreshFailures],
    ]);
  });
  new prom.Gauge({
    name: `${prefix}scope_key_set_age_seconds`,
    help: "Seconds since each identity scope's key set in force was published (NaN before any keys)",
    labelNames: ['scope'],
    registers,
    collect() {
      const all = stats().scopes!;
      for (const scope of scopes) this.set({ scope }, all[scope].keySetAgeMs === null ? Number.NaN : all[scope].keySetAgeMs! / 1000);
    },
  });
}
