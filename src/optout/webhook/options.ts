/**
 * Options of the opt-out webhook receiver, their defaults and their validation. The parameter
 * names are the DSP's choice when it registers the webhook with UID2; the defaults are the
 * names this library documents (`identity`, `timestamp`).
 */
import { InvalidArgumentError } from '../../errors.js';
import { resolveLogger, type Logger } from '../../observability/logger.js';
import { integerOption } from '../../util/integer-option.js';

export interface OptOutHandlerOptions {
  /** Only this path is served (404 otherwise); null serves every path (a router chose it). Default null. */
  path?: string | null;
  /** Query (or form) parameter holding the raw UID. Default `identity`. */
  identityParam?: string;
  /** Query (or form) parameter holding the opt-out time, Unix seconds. Default `timestamp`. */
  timeParam?: string;
  /** When set, requests must carry `Authorization: Bearer <token>` (401 otherwise). Default none. */
  token?: string | null;
  /** Longest request target (path and query) accepted, bytes; 414 above. Default 4096. */
  maxUrlBytes?: number;
  /** Longest POST body accepted, bytes; 413 above. Default 4096. */
  maxBodyBytes?: number;
  /** Times further than this in the future are refused (400), s: a clock slip, not ms by mistake. Default 86 400. */
  maxFutureSeconds?: number;
  /**
   * A pino-compatible logger for refused and failed deliveries, each kind at most one line per
   * `failureLogIntervalMs` (with counts), and the first success after failures; never a raw UID or
   * the token. Default: silent.
   */
  logger?: Logger;
  /** Shortest time between two log lines about failed (or refused) deliveries, ms. Default 10 000. */
  failureLogIntervalMs?: number;
  /**
   * Answers GET here with 200 `{"status":"ok"}` while the store can make opt-outs durable, else
   * 503 `{"status":"failing","reason":"ENOSPC"}` (no token needed; nothing but the status and a
   * code). null: no health path. Default `/healthz`.
   */
  healthPath?: string | null;
  /**
   * Answers GET here with Prometheus metrics (the handler's and the store's, `handler.metrics()`
   * and `store.metrics()`; needs the optional peer dependency prom-client, 501 without it; no token
   * needed). null: no metrics path. Default null.
   */
  metricsPath?: string | null;
}

export type ResolvedOptOutHandlerOptions = Required<Omit<OptOutHandlerOptions, 'logger'>> & { logger: Logger };

export const DEFAULT_OPTOUT_HANDLER_OPTIONS: Readonly<Required<Omit<OptOutHandlerOptions, 'logger'>>> = Object.freeze({
  path: null,
  healthPath: '/healthz',
  metricsPath: null,
  failureLogIntervalMs: 10_000,
  identityParam: 'identity',
  timeParam: 'timestamp',
  token: null,
  maxUrlBytes: 4096,
  maxBodyBytes: 4096,
  maxFutureSeconds: 86_400,
});

const PARAM_NAME = /^[A-Za-z0-9._~-]{1,64}$/;

/** @throws InvalidArgumentError naming the first bad option */
export function resolveOptOutHandlerOptions(options: unknown): ResolvedOptOutHandlerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidArgumentError('options must be an object');
  }
  const o = (options ?? {}) as Record<string, unknown>;
  const d = DEFAULT_OPTOUT_HANDLER_OPTIONS;
  const path = o['path'] ?? d.path;
  const healthPath = o['healthPath'] === undefined ? d.healthPath : o['healthPath'];
  const metricsPath = o['metricsPath'] === undefined ? d.metricsPath : o['metricsPath'];
  for (const [name, value] of [['path', path], ['healthPath', healthPath], ['metricsPath', metricsPath]] as const) {
    if (value !== null && (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value))) {
      throw new InvalidArgumentError(`options.${name} must be a path starting with "/" (no query), or null`);
    }
  }
  if ((healthPath !== null && (healthPath === path || healthPath === metricsPath)) || (metricsPath !== null && metricsPath === path)) {
    throw new InvalidArgumentError('options.path, options.healthPath and options.metricsPath must differ');
  }
  const identityParam = o['identityParam'] ?? d.identityParam;
  const timeParam = o['timeParam'] ?? d.timeParam;
  for (const [name, value] of [['identityParam', identityParam], ['timeParam', timeParam]] as const) {
    if (typeof value !== 'string' || !PARAM_NAME.test(value)) {
      throw new InvalidArgumentError(`options.${name} must be 1 to 64 URL-safe characters (letters, digits, . _ ~ -)`);
    }
  }
  if (identityParam === timeParam) throw new InvalidArgumentError('options.identityParam and options.timeParam must differ');
  const token = o['token'] ?? d.token;
  if (token !== null && (typeof token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(token))) {
    throw new InvalidArgumentError('options.token must be printable ASCII without spaces, or null');
  }
  return {
    path: path as string | null,
    healthPath: healthPath as string | null,
    metricsPath: metricsPath as string | null,
    failureLogIntervalMs: integerOption(o['failureLogIntervalMs'], 'options.failureLogIntervalMs', d.failureLogIntervalMs, 86_400_000, 0),
    identityParam: identityParam as string,
    timeParam: timeParam as string,
    token: token as string | null,
    maxUrlBytes: integerOption(o['maxUrlBytes'], 'options.maxUrlBytes', d.maxUrlBytes, 1_048_576),
    maxBodyBytes: integerOption(o['maxBodyBytes'], 'options.maxBodyBytes', d.maxBodyBytes, 1_048_576),
    maxFutureSeconds: integerOption(o['maxFutureSeconds'], 'options.maxFutureSeconds', d.maxFutureSeconds, 10 * 365 * 86_400, 0),
    logger: resolveLogger(o['logger'], 'options.logger', 'uid2-optout-webhook'),
  };
}
