/**
 * Prometheus metrics for the opt-out webhook receiver (`handler.metrics()`), through prom-client
 * like the engine's and the stores': read from the handler's counters and its store's health at
 * each scrape, so a delivery costs nothing extra.
 */
import type * as PromClient from 'prom-client';
import { loadPromClient, openRegistry, scrapedMetrics, type MetricsRegistry } from './metrics.js';

/** What the metrics read (the handler's stats and health; declared here so the two modules do not import each other). */
export interface OptOutWebhookMetricStats {
  recorded: number;
  duplicates: number;
  rejected: number;
  failed: number;
  aborted: number;
  healthy: boolean;
}

/** Options of `handler.metrics()`. */
export interface OptOutWebhookMetricsOptions {
  /** Prefix of every metric name. Default `'uid2_optout_webhook_'`. */
  prefix?: string;
}

export const DEFAULT_OPTOUT_WEBHOOK_METRICS_PREFIX = 'uid2_optout_webhook_';

const OUTCOMES = ['recorded', 'duplicate', 'rejected', 'failed', 'aborted'] as const;

/**
 * Registers `<prefix>deliveries_total{outcome}` and `<prefix>healthy` on `register` (default:
 * prom-client's global registry).
 * @throws InvalidArgumentError for a bad prefix, a registry that is not one, or names already registered
 * @throws ConfigError when prom-client is not installed
 */
export async function registerOptOutWebhookMetrics(
  stats: () => OptOutWebhookMetricStats,
  register?: MetricsRegistry,
  options: OptOutWebhookMetricsOptions = {},
  load: () => Promise<unknown> = () => loadPromClient(),
): Promise<void> {
  const opened = await openRegistry(register, { prefix: options.prefix ?? DEFAULT_OPTOUT_WEBHOOK_METRICS_PREFIX }, load, 'deliveries_total', '*');
  const { prom, registry, prefix } = opened as { prom: typeof PromClient; registry: PromClient.Registry; prefix: string };
  const last = new Map<string, number>();
  const read = (s: OptOutWebhookMetricStats): Record<(typeof OUTCOMES)[number], number> => ({
    recorded: s.recorded,
    duplicate: s.duplicates,
    rejected: s.rejected,
    failed: s.failed,
    aborted: s.aborted,
  });
  const deliveries = new prom.Counter({
    name: `${prefix}deliveries_total`,
    help: 'Opt-out deliveries by outcome: recorded (200), duplicate (200, already held), rejected (4xx), failed (503: not durable, retried by the sender), aborted (the sender closed the request before its body arrived)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const now = read(stats());
      for (const outcome of OUTCOMES) {
        const delta = now[outcome] - (last.get(outcome) ?? 0);
        if (delta > 0) this.inc({ outcome }, delta);
        last.set(outcome, now[outcome]);
      }
    },
  });
  for (const outcome of OUTCOMES) deliveries.inc({ outcome }, 0);
  scrapedMetrics(opened, stats).gauge('healthy', '1 while the store can make opt-outs durable (what /healthz answers), else 0', (s) => (s.healthy ? 1 : 0));
}
