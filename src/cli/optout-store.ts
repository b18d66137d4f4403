/**
 * `--store FILE|redis://HOST:PORT/DB` / `--optout-store ...`: opens an opt-out store for a CLI
 * command (a local file, or the fleet store in Redis), its failures as one line and exit code 2.
 */
import { Uid2Error } from '../errors.js';
import { FileOptOutStore } from '../optout/file/store.js';
import { isRedisUrl } from '../optout/redis/options.js';
import { RedisOptOutStore } from '../optout/redis/store.js';
import type { OptOutStore } from '../optout/store.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

export async function openStoreForCli(path: string | undefined, readOnly: boolean): Promise<FileOptOutStore | RedisOptOutStore> {
  if (path === undefined || path === '') throw new CliError(EXIT_USAGE, 'missing --store FILE|redis://HOST:PORT/DB');
  const redis = isRedisUrl(path);
  try {
    // A Redis store is shared by design: a reader and the receiver use it at once, no lock.
    return redis ? await RedisOptOutStore.open(path) : await FileOptOutStore.open(path, { readOnly });
  } catch (err) {
    const reason = err instanceof Uid2Error ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    // A URL may carry a password: name only host:port/db.
    const shown = redis ? 'in Redis' : path;
    throw new CliError(EXIT_USAGE, `cannot open opt-out store ${shown}: ${reason}`);
  }
}

/** Where the store's opt-outs came from, for the receiver's start line (no credentials). */
export function describeStore(store: OptOutStore): string {
  if (store instanceof RedisOptOutStore) return `Redis at ${store.target}`;
  const file = store as FileOptOutStore;
  const torn = file.loadReport.tornTailBytes;
  return file.path + (torn > 0 ? ` (cut a torn tail of ${torn} bytes)` : '');
}
