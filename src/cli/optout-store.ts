/**
 * `--store FILE|redis://HOST:PORT/DB` / `--optout-store ...`: opens an opt-out store for a CLI
 * command (a local file, or the fleet store in Redis), its failures as one line and exit code 2,
 * and what an operator must know about what it opened as one line each on stderr: damage a
 * read-only open skipped, an unfinished last write it skipped, a Redis that would lose
 * acknowledged opt-outs.
 */
import { Uid2Error } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { FileOptOutStore } from '../optout/file/store.js';
import { isRedisUrl } from '../optout/redis/options.js';
import { describeRedisPersistence } from '../optout/redis/persistence.js';
import { RedisOptOutStore } from '../optout/redis/store.js';
import type { OptOutStore } from '../optout/store.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

/**
 * @param logger for a Redis store: its persistence check and warm-start cache failures (the
 *   receiver passes its own; default silent, the warnings below are printed either way)
 */
export async function openStoreForCli(path: string | undefined, readOnly: boolean, logger?: Logger): Promise<FileOptOutStore | RedisOptOutStore> {
  if (path === undefined || path === '') throw new CliError(EXIT_USAGE, 'missing --store FILE|redis://HOST:PORT/DB');
  const redis = isRedisUrl(path);
  let store: FileOptOutStore | RedisOptOutStore;
  try {
    // A Redis store is shared by design: a reader and the receiver use it at once, no lock.
    store = redis ? await RedisOptOutStore.open(path, { logger }) : await FileOptOutStore.open(path, { readOnly });
  } catch (err) {
    const reason = err instanceof Uid2Error ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    // A URL may carry a password: name only host:port/db.
    const shown = redis ? 'in Redis' : path;
    throw new CliError(EXIT_USAGE, `cannot open opt-out store ${shown}: ${reason}`);
  }
  for (const line of storeWarnings(store, readOnly, logger !== undefined)) process.stderr.write(`uid2-engine: warning: ${line}\n`);
  return store;
}

/** What the user should know about an opened store; a Redis store with a logger has said its own. */
function storeWarnings(store: FileOptOutStore | RedisOptOutStore, readOnly: boolean, storeLogs: boolean): string[] {
  if (store instanceof RedisOptOutStore) {
    if (storeLogs) return [];
    const problem = store.persistence && describeRedisPersistence(store.persistence);
    return problem ? [`${problem} (Redis at ${store.target})`] : [];
  }
  const r = store.loadReport;
  const lines: string[] = [];
  if (r.damagedBytes > 0) {
    const first = r.damaged[0]!;
    lines.push(
      `opt-out file ${store.path} is damaged: skipped ${r.damagedBytes} bytes in ${r.damagedRanges} range(s), the first at byte ${first.offset}; ` +
        `loaded the ${r.records} intact records around them; "uid2-engine optout repair ${store.path}" salvages the file (a receiver refuses it until then)`,
    );
  }
  if (readOnly && r.tornTailBytes > 0) {
    lines.push(`opt-out file ${store.path} ends in an unfinished write of ${r.tornTailBytes} bytes, skipped (its receiver cuts it when it starts)`);
  }
  return lines;
}

/** Where the store's opt-outs came from, for the receiver's start line (no credentials). */
export function describeStore(store: OptOutStore): string {
  if (store instanceof RedisOptOutStore) return `Redis at ${store.target}`;
  const file = store as FileOptOutStore;
  const torn = file.loadReport.tornTailBytes;
  return file.path + (torn > 0 ? ` (cut a torn tail of ${torn} bytes)` : '');
}
