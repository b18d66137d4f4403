/**
 * Where a worker thread's entry script is. Worker threads run JavaScript, so from the compiled
 * package the entry is a sibling file; from the TypeScript sources (the test suite) it is the
 * compiled copy under dist/, which exists once `npm run build` has run.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/**
 * @param from `import.meta.url` of the module that starts the worker
 * @param srcDir that module's folder under src/, e.g. `service`
 * @param file the entry's compiled name, e.g. `refresh-worker.js`
 * @throws ConfigError when neither file exists
 */
export function workerScript(from: string, srcDir: string, file: string): URL {
  const sibling = new URL(`./${file}`, from);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  const built = new URL(`../../dist/${srcDir}/${file}`, from);
  if (existsSync(fileURLToPath(built))) return built;
  throw new ConfigError(`the worker script ${srcDir}/${file} is missing: run "npm run build"`);
}
