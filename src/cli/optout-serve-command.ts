/**
 * `uid2-engine optout serve`: the opt-out webhook receiver as a process. It opens the store
 * (a file, recovering a torn tail, or Redis for a fleet: `--store redis://HOST:PORT/DB`), listens, prints its URL on stdout once listening, and on SIGTERM or
 * SIGINT stops accepting, finishes the requests in flight (each waits for its fsync), closes
 * the store and exits 0. The token may come from `UID2_OPTOUT_TOKEN` (arguments show in ps).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOptOutHandler } from '../optout/webhook/handler.js';
import { validateOptOutHandlerOptions } from '../optout/webhook/options.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { parsePort } from './options.js';
import { describeStore, openStoreForCli } from './optout-store.js';

/** Environment variable holding the webhook's bearer token. */
const ENV_OPTOUT_TOKEN = 'UID2_OPTOUT_TOKEN';

export interface OptOutServeValues {
  port?: string;
  host?: string;
  store?: string;
  path?: string;
  token?: string;
  'identity-param'?: string;
  'time-param'?: string;
}

export async function runOptOutServe(values: OptOutServeValues): Promise<void> {
  const port = parsePort(values.port);
  const host = values.host ?? '127.0.0.1';
  const path = values.path ?? '/optout';
  const token = values.token ?? (process.env[ENV_OPTOUT_TOKEN] || null);
  const handlerOptions = { path, token, identityParam: values['identity-param'], timeParam: values['time-param'] };
  try {
    // Checked before the store file is touched.
    validateOptOutHandlerOptions(handlerOptions);
  } catch (err) {
    const flag = (name: string): string => `--${name.replace(/Param$/, '-param').toLowerCase()}`;
    throw new CliError(EXIT_USAGE, (err as Error).message.replace(/options\.(\w+)/g, (_, name: string) => flag(name)));
  }
  const store = await openStoreForCli(values.store, false);
  const handler = createOptOutHandler(store, handlerOptions);
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, handler);
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
  await store.close();
  const stats = handler.stats;
  process.stderr.write(`uid2-engine: opt-out receiver stopped: ${stats.recorded} recorded, ${stats.duplicates} repeated, ${stats.rejected} refused, ${stats.failed} failed\n`);
}
