/**
 * Prometheus metrics for a fleet opt-out store (`redisStore.metrics()`), through prom-client,
 * the optional peer dependency the engine's metrics use: every value is read from the store's
 * `stats()` when the registry is scraped, so following Redis costs nothing per entry.
 */
import { loadPromClient, openRegistry, scrapedMetrics, type MetricsRegistry } from './metrics.js';

/** What the metrics read (a RedisOptOutStore's stats; declared here so the two modules do not import each other). */
export interface OptOutSyncStats {
  connected: boolean;
  size: number;
  lagMs: number;
  lastSyncMs: number | null;
  applied: number;
  reloads: number;
  writes: number;
  writeErrors: number;
  errors: number;
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
  stats: () => OptOutSyncStats,
  register?: MetricsRegistry,
  options: OptOutStoreMetricsOptions = {},
  load: () => Promise<unknown> = () => loadPromClient(),
): Promise<void> {
  const opened = await openRegistry(register, { prefix: options.prefix ?? DEFAULT_OPTOUT_METRICS_PREFIX }, load, 'size', '*');
  const { gauge, counter } = scrapedMetrics(opened, stats);
  gauge('size', 'Opted-out raw UIDs in the local set', (s) => s.size);
  gauge('connected', '1 while the follower reads from Redis, else 0', (s) => (s.connected ? 1 : 0));
  gauge('lag_seconds', 'How far the local set may be behind Redis (0 when caught up)', (s) => s.lagMs / 1000);
  gauge('last_sync_timestamp_seconds', 'Unix time of the last successful read from Redis (0 before the first)', (s) => (s.lastSyncMs ?? 0) / 1000);
  counter('applied_total', 'Opt-outs applied to the local set from Redis (hash loads and stream entries)', (s) => s.applied);
  counter('reloads_total', 'Full reloads of the hash after the start (stream trimmed past the position)', (s) => s.reloads);
  counter('writes_total', 'Opt-outs Redis acknowledged', (s) => s.writes);
  counter('write_errors_total', 'Opt-outs Redis did not take (answered 503 by the webhook)', (s) => s.writeErrors);
  counter('errors_total', 'Connection and command errors', (s) => s.errors);
}
