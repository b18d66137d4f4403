/** Where a CLI command gets its keys: a key file (`--keys`). */
import type { KeySet } from '../keys/key-set.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { loadKeysFile } from './options.js';

export interface KeySourceValues {
  keys?: string;
}

export async function resolveKeySet(values: KeySourceValues, _endpoint: 'bidstream' | 'sharing'): Promise<KeySet> {
  if (values.keys !== undefined) return loadKeysFile(values.keys);
  throw new CliError(EXIT_USAGE, 'no keys: pass --keys FILE');
}
