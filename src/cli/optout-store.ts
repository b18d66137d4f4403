/** `--store FILE` / `--optout-store FILE`: opens an opt-out store for a CLI command, its failures as one line and exit code 2. */
import { Uid2Error } from '../errors.js';
import { FileOptOutStore } from '../optout/file-store.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

export async function openStoreForCli(path: string | undefined, readOnly: boolean): Promise<FileOptOutStore> {
  if (path === undefined || path === '') throw new CliError(EXIT_USAGE, 'missing --store FILE');
  try {
    return await FileOptOutStore.open(path, { readOnly });
  } catch (err) {
    const reason = err instanceof Uid2Error ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new CliError(EXIT_USAGE, `cannot open opt-out store ${path}: ${reason}`);
  }
}
