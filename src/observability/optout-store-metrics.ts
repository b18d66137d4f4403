/**
 * Prometheus metrics for an opt-out store (`store.metrics()`: the file store, and the fleet store
 * with its follower's figures), through prom-client, the optional peer dependency the engine's
 * metrics use: every value is read from the store's `stats()` when the registry is scraped, so
 * writing and following cost nothing per opt-out.
 */
import { loadPromClient, openRegistry, scrapedMetrics, type MetricsRegistry } from './metrics.js';

/** What every opt-out store's metrics read (declared here so the stores and this module do not import each other). */
export interface OptOutStoreMetricStats {
  size: number;
  /** The store can make opt-outs durable now (see OptOutStore.health). */
  healthy: boolean;
  /** Opt-outs acknowledged. */
  writes: number;
  /** Opt-outs that could not be made durable (rejected: the webhook answers 503). */
  writeErrors: number;
}

/** What a follower (a RedisOptOutStore's stats) adds. */
export interface OptOutSyncStats extends OptOutStoreMetricStats {
  connected: boolean;
  lagMs: number;
  lastSyncMs: number | null;
  applied: number;
  reloads: number;
  errors: number;
  cache: { errors: number };
}

/** Options of `store.metrics()`. */
export interface OptOutStoreMetricsOptions {
  /** Prefix of every metric name. Default `'uid2_optout_'`. */
  prefix?: string;
}

export const DEFAULT_OPTOUT_METRICS_PREFIX = 'uid2_optout_';

/**
 * Registers the store's metrics on `register` (default: prom-client's global registry).
 * @throws InvalidArgumentError for a bad prefix, a registry that is not one, or names already registered
 * @throws ConfigError when prom-client is not installed
 */
export async function registerOptOutStoreMetrics(
  stats: () => OptOutStoreMetricStats | OptOutSyncStats,
  register?: MetricsRegistry,
  options: OptOutStoreMetricsOptions = {},
  load: () => Promise<unknown> = () => loadPromClient(),
): Promise<void> {
  const opened = await openRegistry(register, { prefix: options.prefix ?? DEFAULT_OPTOUT_METRICS_PREFIX }, load, 'size', '*');
  const { gauge, counter } = scrapedMetrics(opened, stats);
  gauge('size', 'Opted-out raw UIDs in the local set', (s) => s.size);
  gauge('healthy', '1 while the store can make opt-outs durable (its last write did not fail), else 0', (s) => (s.healthy ? 1 : 0));
  counter('writes_total', 'Opt-outs acknowledged (durable)', (s) => s.writes);
  counter('write_errors_total', 'Opt-outs that could not be made durable (answered 503 by the webhook)', (s) => s.writeErrors);
  if (!('connected' in stats())) return;
  const { gauge: syncGauge, counter: syncCounter } = scrapedMetrics(opened, stats as () => OptOutSyncStats);
  syncGauge('connected', '1 while the follower reads from Redis, else 0', (s) => (s.connected ? 1 : 0));
  syncGauge('lag_seconds', 'How far the local set may be behind Redis (0 when caught up)', (s) => s.lagMs / 1000);
  syncGauge('last_sync_timestamp_seconds', 'Unix time of the last successful read from Redis (0 before the first)', (s) => (s.lastSyncMs ?? 0) / 1000);
  syncCounter('applied_total', 'Opt-outs applied to the local set from Redis (hash loads and stream entries)', (s) => s.applied);
  syncCounter('reloads_total', 'Full reloads of the hash after the start (stream trimmed past the position)', (s) => s.reloads);
  syncCounter('errors_total', 'Connection and command errors', (s) => s.errors);
  syncCounter('cache_errors_total', 'Warm-start cache file failures (open, write, position save); the local set follows Redis regardless', (s) => s.cache.errors);
}
