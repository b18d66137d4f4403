/**
 * Prometheus metrics of a token cache (`uid2_engine_token_cache_*`), read from its `stats()` when
 * the registry is scraped, as the engine's own metrics are (observability/metrics.ts): the hit
 * path pays nothing for them. Usable for a client's cache (`client.tokenCacheStats()`) and by the
 * engine's `metrics()` for its own.
 */
import type { TokenCacheStats } from '../cache/token-cache.js';
import { loadPromClient, openRegistry, scrapedMetrics, type EngineMetricsOptions, type MetricsRegistry } from './metrics.js';

/**
 * Registers `<prefix>token_cache_{entries,bytes}` (gauges) and
 * `<prefix>token_cache_{hits,misses,evictions}_total` (counters) on `register` (default:
 * prom-client's global registry), following `read()`; while `read()` returns `undefined` (no
 * cache) they stay at zero.
 * @throws InvalidArgumentError for a bad prefix or names already registered there
 */
export async function registerTokenCacheMetrics(
  read: () => TokenCacheStats | undefined,
  register?: MetricsRegistry,
  options: EngineMetricsOptions = {},
  load: () => Promise<unknown> = () => loadPromClient(),
): Promise<void> {
  const opened = await openRegistry(register, options, load, 'token_cache_hits_total', 'token_cache_*');
  const none: TokenCacheStats = { entries: 0, bytes: 0, hits: 0, misses: 0, evictions: 0 };
  const metrics = scrapedMetrics(opened, (): TokenCacheStats => read() ?? none);
  const gauge = (name: string, help: string, pick: (s: TokenCacheStats) => number): void => metrics.gauge(`token_cache_${name}`, help, pick);
  const counter = (name: string, help: string, pick: (s: TokenCacheStats) => number): void =>
    metrics.counter(`token_cache_${name}_total`, help, pick);
  gauge('entries', 'Tokens held by the decrypted-token cache', (s) => s.entries);
  gauge('bytes', 'Bytes held by the decrypted-token cache, by its own accounting', (s) => s.bytes);
  counter('hits', 'Lookups answered from the token cache', (s) => s.hits);
  counter('misses', 'Lookups that had to decrypt (no entry, or its keys were replaced)', (s) => s.misses);
  counter('evictions', 'Token cache entries dropped to make room', (s) => s.evictions);
}
