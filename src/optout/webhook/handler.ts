/**
 * The opt-out webhook receiver: a plain `(req, res)` handler for node:http (and Express,
 * Fastify's raw mode, ...) that the UID2 service calls once per opt-out, e.g.
 * `GET /optout?identity=<raw UID, base64, URL-encoded>&timestamp=<Unix seconds>`.
 *
 *   request ─► target > maxUrlBytes (414) ─► GET healthPath: 200 | 503 ─► GET metricsPath
 *           ─► path (404) ─► GET|POST (405) ─► bearer (401)
 *           ─► POST body > maxBodyBytes (413) ─► identity, time (400) ─► store.add ─► 200
 *                                                                       └ not durable ─► 503
 *
 * 200 means durable: it is sent only after the store's fdatasync covering this opt-out returned.
 * Anything the store cannot record is 503 (with Retry-After), which the UID2 service retries;
 * a malformed request is 4xx, which it does not. A repeated delivery is 200 and writes nothing.
 * A store failure is transient until the store says otherwise: every delivery tries again, the
 * health path answers 503 until one succeeds, and the log gets one line per interval, not one per
 * delivery. Nothing logged or answered ever holds the raw UID or the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as PromClient from 'prom-client';
import { InvalidArgumentError } from '../../errors.js';
import { loadPromClient, type MetricsRegistry } from '../../observability/metrics.js';
import { registerOptOutWebhookMetrics, type OptOutWebhookMetricsOptions } from '../../observability/optout-webhook-metrics.js';
import { ThrottledLog } from '../../observability/throttled-log.js';
import { failureCode } from '../../util/failure-code.js';
import type { OptOutStore, OptOutStoreHealth } from '../store.js';
import { parseRawUid } from '../raw-uid.js';
import { MAX_OPTOUT_MS } from '../time.js';
import { resolveOptOutHandlerOptions, type OptOutHandlerOptions, type ResolvedOptOutHandlerOptions } from './options.js';

/** Counts of what the handler answered since it was created. */
export interface OptOutHandlerStats {
  /** 200: recorded now (added, or an earlier time). */
  recorded: number;
  /** 200: already recorded at this time or earlier; nothing written. */
  duplicates: number;
  /** 4xx answers. */
  rejected: number;
  /** 503 answers: the store could not make the opt-out durable. */
  failed: number;
  /** Requests the sender closed before its body arrived: nothing answered, nothing stored, not a failure. */
  aborted: number;
}

/** A node:http request handler with its counters. */
export interface OptOutHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  readonly stats: Readonly<OptOutHandlerStats>;
  /**
   * What the health path answers: the store's `health()`, or for a store without one, whether
   * the last delivery the store took failed.
   */
  health(): OptOutStoreHealth;
  /**
   * Registers Prometheus metrics (`uid2_optout_webhook_deliveries_total{outcome}`, `_healthy`)
   * on `register` (default: prom-client's global registry). Needs prom-client.
   */
  metrics(register?: MetricsRegistry, options?: OptOutWebhookMetricsOptions): Promise<void>;
}

/** A store that can register its own metrics (the file and Redis stores can). */
interface WithMetrics {
  metrics(register?: MetricsRegistry): Promise<void>;
}

class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/** The sender closed the connection before the whole body arrived (its own retry will come). */
class SenderAborted extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.reject(new Refusal(413, `request body is larger than ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        req.resume();
        reject(new Refusal(413, `request body is larger than ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', (err) => reject(req.complete ? err : new SenderAborted('the sender closed the request before its body arrived')));
    req.on('close', () => {
      if (!req.complete) reject(new SenderAborted('the sender closed the request before its body arrived'));
    });
  });
}

/** The one value of `name`, undefined when absent; two values are a malformed request. */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new Refusal(400, `parameter ${name} is given more than once`);
  return values[0];
}

/** Parameters from a POST body: form-encoded (the usual webhook body) or a JSON object. */
function bodyParams(body: Buffer, contentType: string | undefined): URLSearchParams {
  if (body.length === 0) return new URLSearchParams();
  if (/^\s*application\/json\s*(;|$)/i.test(contentType ?? '')) {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Refusal(400, 'request body is not valid JSON');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Refusal(400, 'request body must be a JSON object');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(doc)) if (typeof v === 'string' || typeof v === 'number') params.append(k, String(v));
    return params;
  }
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * Creates the webhook handler for `store`.
 * @throws InvalidArgumentError for a bad option or a missing store
 */
export function createOptOutHandler(store: OptOutStore, options?: OptOutHandlerOptions): OptOutHandler {
  if (typeof store !== 'object' || store === null || typeof store.add !== 'function') throw new InvalidArgumentError('store must be an OptOutStore');
  const o: ResolvedOptOutHandlerOptions = resolveOptOutHandlerOptions(options);
  const expected = o.token === null ? undefined : digest(`Bearer ${o.token}`);
  const stats: OptOutHandlerStats = { recorded: 0, duplicates: 0, rejected: 0, failed: 0, aborted: 0 };
  const failures = new ThrottledLog(o.logger, o.failureLogIntervalMs, 'error');
  const refusals = new ThrottledLog(o.logger, o.failureLogIntervalMs, 'info');
  /** For a store without health(): the code of the last failed add, or null. */
  let lastFailure: string | null = null;
  let registry: Promise<PromClient.Registry> | undefined;

  function health(): OptOutStoreHealth {
    const h = typeof store.health === 'function' ? store.health() : null;
    return h ?? (lastFailure === null ? { ok: true, reason: null } : { ok: false, reason: lastFailure });
  }

  async function serveMetrics(res: ServerResponse): Promise<void> {
    registry ??= (async () => {
      const prom = (await loadPromClient()) as typeof PromClient;
      const r = new prom.Registry();
      await handler.metrics(r);
      const withMetrics = store as Partial<WithMetrics>;
      if (typeof withMetrics.metrics === 'function') await withMetrics.metrics(r);
      return r;
    })();
    let r: PromClient.Registry;
    try {
      r = await registry;
    } catch {
      registry = undefined;
      reply(res, 501, { status: 'error', message: 'metrics need the optional peer dependency prom-client' });
      return;
    }
    const text = await r.metrics();
    if (res.headersSent || res.destroyed) return;
    res.writeHead(200, { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '';
    if (Buffer.byteLength(target) > o.maxUrlBytes) throw new Refusal(414, `request target is longer than ${o.maxUrlBytes} bytes`);
    let url: URL;
    try {
      url = new URL(target, 'http://receiver.invalid');
    } catch {
      throw new Refusal(400, 'request target is not a valid URL');
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (o.healthPath !== null && url.pathname === o.healthPath) {
        const h = health();
        reply(res, h.ok ? 200 : 503, h.ok ? { status: 'ok' } : { status: 'failing', reason: h.reason });
        return;
      }
      if (o.metricsPath !== null && url.pathname === o.metricsPath) return serveMetrics(res);
    }
    if (o.path !== null && url.pathname !== o.path) throw new Refusal(404, 'no such path');
    if (req.method !== 'GET' && req.method !== 'POST') throw new Refusal(405, 'method not allowed (GET or POST)');
    // Hashing both sides gives equal-length inputs, so the compare is constant-time whatever was sent.
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) throw new Refusal(401, 'missing or wrong bearer token');

    const params = url.searchParams;
    if (req.method === 'POST') {
      const body = await readBody(req, o.maxBodyBytes);
      for (const [k, v] of bodyParams(body, req.headers['content-type'])) params.append(k, v);
    }
    const identity = single(params, o.identityParam);
    const time = single(params, o.timeParam);
    if (identity === undefined) throw new Refusal(400, `parameter ${o.identityParam} is missing`);
    if (time === undefined) throw new Refusal(400, `parameter ${o.timeParam} is missing`);
    const rawUid = parseRawUid(identity);
    if (!rawUid) throw new Refusal(400, `parameter ${o.identityParam} is not standard base64 of a 32- or 33-byte raw UID`);
    const seconds = /^\d{1,10}$/.test(time) ? Number(time) : NaN;
    const latest = Math.min(MAX_OPTOUT_MS / 1000, Math.floor(Date.now() / 1000) + o.maxFutureSeconds);
    if (!(seconds >= 1 && seconds <= latest)) throw new Refusal(400, `parameter ${o.timeParam} must be Unix seconds, not later than ${latest}`);

    let change;
    try {
      change = await store.add(rawUid, seconds * 1000);
    } catch (err) {
      stats.failed++;
      const code = (err as { code?: string }).code ?? 'UNKNOWN';
      lastFailure = failureCode(err);
      failures.failure({ event: 'uid2.optout.webhook', status: 503, code, cause: lastFailure }, 'opt-outs not recorded (503); the UID2 service retries them');
      reply(res, 503, { status: 'error', message: 'the opt-out could not be stored; retry later' }, { 'Retry-After': '1' });
      return;
    }
    lastFailure = null;
    failures.success({ event: 'uid2.optout.webhook', status: 200 }, 'opt-outs recorded again after failures');
    if (change === 'unchanged') stats.duplicates++;
    else stats.recorded++;
    reply(res, 200, { status: 'ok' });
  }

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof Refusal) {
        stats.rejected++;
        refusals.failure({ event: 'uid2.optout.webhook', status: err.status, reason: err.message }, 'opt-out deliveries refused');
        const headers: Record<string, string> = err.status === 405 ? { Allow: 'GET, POST' } : {};
        // An oversized body is not read to its end: close the connection instead.
        if (err.status === 413) headers['Connection'] = 'close';
        reply(res, err.status, { status: 'error', message: err.message }, headers);
        return;
      }
      if (err instanceof SenderAborted) {
        // The sender gave up (its timeout, a restart): no one is left to answer, and the UID2
        // service retries what it did not see acknowledged. Counted apart, logged at debug.
        stats.aborted++;
        o.logger.debug({ event: 'uid2.optout.webhook', outcome: 'aborted' }, 'opt-out request aborted by the sender');
        return;
      }
      stats.failed++;
      failures.failure({ event: 'uid2.optout.webhook', status: 503, err: (err as Error)?.message }, 'opt-out request failed');
      reply(res, 503, { status: 'error', message: 'internal error; retry later' }, { 'Retry-After': '1' });
    });
  }) as OptOutHandler;
  Object.defineProperty(handler, 'stats', { get: () => ({ ...stats }), enumerable: true });
  handler.health = health;
  handler.metrics = (register, options) => registerOptOutWebhookMetrics(() => ({ ...stats, healthy: health().ok }), register, options);
  return handler;
}
