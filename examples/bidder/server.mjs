/**
 * An example bidder: a real node:http server that decrypts the UID2/EUID tokens of OpenRTB bid
 * requests with uid2-engine and bids only on users it can identify.
 *
 *   POST /bid      OpenRTB 2.5/2.6 JSON → 200 + a bid when a token decrypted to Success (and its
 *                  user did not opt out, with OPTOUT_STORE), else 204
 *   GET  /metrics  Prometheus text (prom-client): uid2_engine_* and bidder_* metrics
 *   GET  /healthz  200 while serving, 503 while shutting down
 *
 * Bid requests arriving in the same event-loop turn are decrypted together with one
 * engine.decryptBidRequests() call (one engine batch), which is what keeps latency flat under
 * load. On SIGTERM (or SIGINT) it stops accepting connections, finishes the requests in flight,
 * closes the engine and exits 0.
 *
 * Environment: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY (e.g. from `uid2-engine operator`),
 * PORT (default 8081; 0 picks a free port), HOST (default 127.0.0.1), THREADS (engine worker
 * threads; default cores - 1), LOG_LEVEL (debug, info, warn, error, silent; default info),
 * OPTOUT_STORE (an opt-out store file, or redis://HOST:PORT/DB for a fleet; default none).
 * Logs are JSON lines on stderr, pino-style; in production pass `logger: pino()` instead.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DecryptionEngine, FileOptOutStore, RedisOptOutStore } from '../../dist/index.js';

const MAX_BODY_BYTES = 1024 * 1024;
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** A pino-compatible JSON-lines logger on stderr, so the example has no logging dependency. */
function jsonLogger(level, bindings = {}) {
  const levels = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };
  const min = levels[level] ?? levels.info;
  const make = (bound) => {
    const at = (name) =>
      levels[name] < min
        ? () => {}
        : (obj, msg) => process.stderr.write(JSON.stringify({ level: name, time: Date.now(), ...bound, ...obj, msg }) + '\n');
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bound, ...more }) };
  };
  return make(bindings);
}

const log = jsonLogger(process.env.LOG_LEVEL ?? 'info', { app: 'example-bidder' });

// Opt-outs (optional): OPTOUT_STORE is a store file (read as of start) or redis://HOST:PORT/DB
// (the fleet store: followed live). A user who opted out is never bid on.
let optOut = null;
if (process.env.OPTOUT_STORE) {
  const where = process.env.OPTOUT_STORE;
  try {
    optOut = /^rediss?:\/\//i.test(where) ? await RedisOptOutStore.open(where) : await FileOptOutStore.open(where, { readOnly: true });
  } catch (err) {
    log.error({ event: 'startup-failed', code: err.code, err: err.message }, 'cannot open the opt-out store');
    process.exit(1);
  }
}

let engine;
try {
  engine = await DecryptionEngine.create({
    // Credentials: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY. The engine refreshes keys now
    // (create() rejects if that fails) and then hourly, keeping the last good keys on failures.
    baseUrl: process.env.UID2_BASE_URL,
    apiKey: process.env.UID2_API_KEY,
    secretKey: process.env.UID2_SECRET_KEY,
    threads: process.env.THREADS === undefined ? undefined : Number(process.env.THREADS),
    // Fail fast instead of queueing past any latency budget: ~50k tokens/s × 100 ms.
    maxQueuedTokens: 5_000,
    logger: log,
    // The engine marks each result optedOut and withholds its uid (the UID2 bidding rule).
    optOut,
  });
} catch (err) {
  log.error({ event: 'startup-failed', code: err.code, err: err.message }, 'cannot start: no UID2 keys');
  process.exit(1);
}

const registry = new Registry();
collectDefaultMetrics({ register: registry });
await engine.metrics(registry);
const requestsTotal = new Counter({
  name: 'bidder_requests_total',
  help: 'Bid requests by outcome',
  labelNames: ['outcome'],
  registers: [registry],
});
const requestSeconds = new Histogram({
  name: 'bidder_request_duration_seconds',
  help: 'Time from the end of the request body to the answer',
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
  registers: [registry],
});

// Requests whose bodies complete in the same event-loop turn share one decryptBidRequests() call.
let waiting = [];
function decryptSoon(bidRequest) {
  return new Promise((resolve, reject) => {
    waiting.push({ bidRequest, resolve, reject });
    if (waiting.length === 1) setImmediate(flush);
  });
}
async function flush() {
  const batch = waiting;
  waiting = [];
  try {
    const results = await engine.decryptBidRequests(batch.map((w) => w.bidRequest));
    batch.forEach((w, i) => w.resolve(results[i]));
  } catch (err) {
    for (const w of batch) w.reject(err);
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, contentType = 'application/json') {
  // Once shutting down, close each connection after its answer so server.close() can finish.
  if (shuttingDown) res.setHeader('Connection', 'close');
  if (body === undefined) {
    res.writeHead(status).end();
  } else {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }).end(body);
  }
}

/** The bid: one per request on the first impression. Never carries a token or a raw UID. */
function bidResponse(bidRequest, identified) {
  const imp = Array.isArray(bidRequest.imp) && bidRequest.imp[0] && typeof bidRequest.imp[0].id === 'string' ? bidRequest.imp[0].id : '1';
  return JSON.stringify({
    id: typeof bidRequest.id === 'string' ? bidRequest.id : randomUUID(),
    bidid: randomUUID(),
    cur: 'USD',
    seatbid: [{ seat: 'uid2-example', bid: [{ id: randomUUID(), impid: imp, price: 0.5, ext: { identifiedUsers: identified } }] }],
  });
}

async function handleBid(req, res) {
  const text = await readBody(req);
  const started = performance.now();
  let bidRequest;
  try {
    bidRequest = JSON.parse(text);
  } catch {
    requestsTotal.inc({ outcome: 'bad-request' });
    return send(res, 400, JSON.stringify({ error: 'body is not JSON' }));
  }
  let result;
  try {
    result = await decryptSoon(bidRequest);
  } catch (err) {
    // Overloaded or closing: no bid is the honest answer, and fast.
    requestsTotal.inc({ outcome: 'error' });
    log.warn({ event: 'decrypt-failed', code: err.code }, 'cannot decrypt this request');
    return send(res, 503, JSON.stringify({ error: err.code ?? 'error' }));
  }
  if (result.problems.length > 0) log.debug({ event: 'malformed-request', problems: result.problems }, 'skipped malformed parts');
  const decrypted = result.tokens.filter((t) => t.result.status === 'Success');
  // The UID2 bidding rule: an opted-out raw UID is not used.
  const identified = decrypted.filter((t) => t.result.optedOut !== true).length;
  requestSeconds.observe((performance.now() - started) / 1000);
  if (identified === 0) {
    requestsTotal.inc({ outcome: 'no-bid' });
    return send(res, 204);
  }
  requestsTotal.inc({ outcome: 'bid' });
  send(res, 200, bidResponse(bidRequest, identified));
}

let shuttingDown = false;
let inFlight = 0;

const server = createServer((req, res) => {
  inFlight++;
  res.on('close', () => inFlight--);
  const path = (req.url ?? '/').split('?')[0];
  const route =
    req.method === 'POST' && path === '/bid'
      ? handleBid(req, res)
      : req.method === 'GET' && path === '/metrics'
        ? registry.metrics().then((text) => send(res, 200, text, registry.contentType))
        : req.method === 'GET' && path === '/healthz'
          ? Promise.resolve(send(res, shuttingDown ? 503 : 200, JSON.stringify({ ok: !shuttingDown })))
          : Promise.resolve(send(res, 404, JSON.stringify({ error: 'not found' })));
  route.catch((err) => {
    log.error({ event: 'request-failed', err: err.message }, 'request failed');
    if (!res.headersSent) send(res, err.status ?? 500, JSON.stringify({ error: err.message }));
  });
});

async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  // close() stops accepting at once and calls back when the last connection has ended. It
  // comes before the log line, so whoever reads "shutting-down" knows the port is closed.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  log.info({ event: 'shutting-down', signal, inFlight }, 'shutting down: no new connections, finishing requests in flight');
  const force = setTimeout(() => {
    log.error({ event: 'shutdown-timeout', inFlight }, 'requests still in flight after the shutdown timeout');
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  force.unref();
  await closed;
  await engine.close();
  await optOut?.close();
  log.info({ event: 'stopped', stats: { tokens: engine.stats().tokens, batches: engine.stats().batches } }, 'stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

server.keepAliveTimeout = 65_000; // longer than typical exchange/load-balancer idle timeouts
server.listen(Number(process.env.PORT ?? 8081), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  log.info({ event: 'listening', url: `http://${address}:${port}`, threads: engine.stats().threads }, 'bidder listening');
});
