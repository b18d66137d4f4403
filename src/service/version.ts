/** The package version, read once from package.json (two levels up from both src/ and dist/). */
import { readFileSync } from 'node:fs';

let version: string | undefined;

/** This package's version, e.g. `0.1.0`. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}

/** The `X-UID2-Client-Version` header value: `uid2-engine-<version>`. */
export function clientVersionHeader(): string {
  return `uid2-engine-${packageVersion()}`;
}
