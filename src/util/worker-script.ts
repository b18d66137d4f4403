/**
 * Where a worker thread's entry script is. Worker threads run JavaScript, so from the compiled
 * package the entry sits in the same dist/ tree as this module; from the TypeScript sources (the
 * test suite) it is the compiled copy under dist/, which exists once `npm run build` has run.
 * Paths are resolved from this file, so callers in any folder name the entry the same way.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/**
 * @param entry the entry's compiled path under the package's source root, e.g.
 *   `engine/worker/entry.js`
 * @throws ConfigError when neither file exists
 */
export function workerScript(entry: string): URL {
  const packaged = new URL(`../${entry}`, import.meta.url);
  if (existsSync(fileURLToPath(packaged))) return packaged;
  const built = new URL(`../../dist/${entry}`, import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new ConfigError(`the worker script ${entry} is missing: run "npm run build"`);
}
