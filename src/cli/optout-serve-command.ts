/**
 * `uid2-engine optout serve`: the opt-out webhook receiver as a process. It opens the store
 * (a file, recovering a torn tail, or Redis for a fleet: `--store redis://HOST:PORT/DB`), listens, prints its URL on stdout once listening, and on SIGTERM or
 * SIGINT stops accepting, finishes the requests in flight (each waits for its fsync), closes
 * the store and exits 0. The token may come from `UID2_OPTOUT_TOKEN` (arguments show in ps).
 *
 * Safe by default, since every opt-out it accepts is kept forever: no token is a usage error
 * unless `--allow-unauthenticated` says otherwise (and then a warning line says so); the
 * connection count is capped and a connection whose headers or body trickle in is closed once
 * its timeout passes (Node checks every `connectionsCheckingInterval`, 30 s unless told); the
 * handler's failures go to stderr as pino JSON lines.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createJsonLinesLogger, isLogLevelName, type LogLevelName } from '../observability/json-lines-logger.js';
import { createOptOutHandler } from '../optout/webhook/handler.js';
import { resolveOptOutHandlerOptions } from '../optout/webhook/options.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { parseIntegerFlag, parsePort } from './options.js';
import { describeStore, openStoreForCli } from './optout-store.js';

/** Environment variable holding the webhook's bearer token. */
const ENV_OPTOUT_TOKEN = 'UID2_OPTOUT_TOKEN';

export interface OptOutServeValues {
  port?: string;
  host?: string;
  store?: string;
  path?: string;
  token?: string;
  'allow-unauthenticated'?: boolean;
  'identity-param'?: string;
  'time-param'?: string;
  'max-connections'?: string;
  'headers-timeout'?: string;
  'request-timeout'?: string;
  'log-level'?: string;
}

/** The receiver's connection limits and the level of its stderr log. */
interface OptOutServeLimits {
  /** Connections held at once (keep-alive ones included); more are closed on accept. */
  maxConnections: number;
  /** ms to receive a request's complete headers (Node's `server.headersTimeout`), else 408 and close. */
  headersTimeoutMs: number;
  /** ms to receive a whole request, body included (`server.requestTimeout`), else 408 and close. */
  requestTimeoutMs: number;
  logLevel: LogLevelName;
}

/**
 * The UID2 service sends one small request per opt-out over a few connections: 256 connections
 * and a few seconds per request are far above what it needs and bound what anyone else can hold.
 */
const DEFAULT_OPTOUT_SERVE_LIMITS: Readonly<OptOutServeLimits> = Object.freeze({
  maxConnections: 256,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  logLevel: 'warn',
});

/** Longest timeout a flag accepts: an hour. */
const MAX_TIMEOUT_MS = 3_600_000;
/** A refused connection is logged at once, then at most once per this many ms (a count). */
const DROP_LOG_INTERVAL_MS = 10_000;

function parseLimits(values: OptOutServeValues): OptOutServeLimits {
  const d = DEFAULT_OPTOUT_SERVE_LIMITS;
  const limits = {
    maxConnections: parseIntegerFlag(values['max-connections'], '--max-connections', d.maxConnections, 1, 1_000_000),
    headersTimeoutMs: parseIntegerFlag(values['headers-timeout'], '--headers-timeout', d.headersTimeoutMs, 1, MAX_TIMEOUT_MS),
    requestTimeoutMs: parseIntegerFlag(values['request-timeout'], '--request-timeout', d.requestTimeoutMs, 1, MAX_TIMEOUT_MS),
    logLevel: values['log-level'] ?? d.logLevel,
  };
  if (!isLogLevelName(limits.logLevel)) throw new CliError(EXIT_USAGE, `--log-level must be debug, info, warn or error, got "${limits.logLevel}"`);
  // Node refuses the pair otherwise; said here in the flags' words.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new CliError(EXIT_USAGE, `--headers-timeout (${limits.headersTimeoutMs}) must not exceed --request-timeout (${limits.requestTimeoutMs})`);
  }
  return limits as OptOutServeLimits;
}

export async function runOptOutServe(values: OptOutServeValues): Promise<void> {
  const port = parsePort(values.port);
  const host = values.host ?? '127.0.0.1';
  const path = values.path ?? '/optout';
  const token = values.token ?? (process.env[ENV_OPTOUT_TOKEN] || null);
  const limits = parseLimits(values);
  const logger = createJsonLinesLogger((line) => process.stderr.write(line), limits.logLevel);
  const handlerOptions = { path, token, identityParam: values['identity-param'], timeParam: values['time-param'], logger };
  try {
    // Checked before the store file is touched.
    resolveOptOutHandlerOptions(handlerOptions);
  } catch (err) {
    const flag = (name: string): string => `--${name.replace(/Param$/, '-param').toLowerCase()}`;
    throw new CliError(EXIT_USAGE, (err as Error).message.replace(/options\.(\w+)/g, (_, name: string) => flag(name)));
  }
  if (token === null && !values['allow-unauthenticated']) {
    throw new CliError(
      EXIT_USAGE,
      `optout serve needs a bearer token: --token T or ${ENV_OPTOUT_TOKEN} (the UID2 service sends it as Authorization: Bearer T); --allow-unauthenticated accepts opt-outs from anyone who can reach the port`,
    );
  }
  const store = await openStoreForCli(values.store, false, logger);
  const handler = createOptOutHandler(store, handlerOptions);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks both timeouts only this often: a connection lives up to timeout + interval.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
      maxHeaderSize: 16 * 1024,
    },
    handler,
  );
  server.maxConnections = limits.maxConnections;
  let refused = 0;
  let refusedSinceLog = 0;
  let dropLogTimer: NodeJS.Timeout | undefined;
  const logRefused = (): void => {
    logger.warn(
      { event: 'uid2.optout.serve', refused: refusedSinceLog, maxConnections: limits.maxConnections },
      `connection refused: ${limits.maxConnections} connections open, the --max-connections cap`,
    );
    refusedSinceLog = 0;
  };
  server.on('drop', () => {
    refused++;
    refusedSinceLog++;
    if (dropLogTimer) return;
    logRefused();
    dropLogTimer = setTimeout(() => {
      dropLogTimer = undefined;
      if (refusedSinceLog > 0) logRefused();
    }, DROP_LOG_INTERVAL_MS).unref();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    throw new CliError(1, `cannot listen on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(`http://${shownHost}:${address.port}${path}\n`);
  if (token === null) {
    process.stderr.write(`uid2-engine: warning: no token (--allow-unauthenticated): anyone who can reach ${shownHost}:${address.port} can record opt-outs\n`);
  }
  process.stderr.write(`uid2-engine: opt-out receiver listening; ${store.size} opt-outs loaded from ${describeStore(store)}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // close() stops accepting and waits for requests in flight; idle keep-alive sockets go now.
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearTimeout(dropLogTimer);
  await store.close();
  const stats = handler.stats;
  process.stderr.write(
    `uid2-engine: opt-out receiver stopped: ${stats.recorded} recorded, ${stats.duplicates} repeated, ${stats.rejected} refused, ${stats.failed} failed; ${refused} connection${refused === 1 ? '' : 's'} refused at the cap\n`,
  );
}
