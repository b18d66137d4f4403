/**
 * Where a CLI command gets its keys: a key file (`--keys`), or a refresh from the UID2 service
 * with `--base-url`, `--api-key`, `--secret-key` (each defaulting to `UID2_BASE_URL`,
 * `UID2_API_KEY`, `UID2_SECRET_KEY`). A refresh failure exits with code 3 and one line naming
 * the cause; the credentials themselves are never printed.
 */
import { BidstreamClient } from '../client/bidstream-client.js';
import { SharingClient } from '../client/sharing-client.js';
import type { KeySet } from '../keys/key-set.js';
import type { KeyEndpoint } from '../service/key-request.js';
import { ENV_API_KEY, ENV_BASE_URL, ENV_SECRET_KEY, resolveCredentials } from '../service/credentials.js';
import { CliError, EXIT_REFRESH_FAILED, EXIT_USAGE } from './cli-error.js';
import { loadKeysFile } from './options.js';

export interface KeySourceValues {
  keys?: string;
  'base-url'?: string;
  'api-key'?: string;
  'secret-key'?: string;
  /** Refresh timeout, ms. */
  timeout?: string;
}

/** The option table entries every key-using command accepts. */
export const KEY_SOURCE_OPTIONS = {
  keys: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'secret-key': { type: 'string' },
  timeout: { type: 'string' },
} as const;

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 2_147_483_647) {
    throw new CliError(EXIT_USAGE, `--timeout must be a positive number of milliseconds, got "${value}"`);
  }
  return ms;
}

/** Whether a key source other than a file was given, by flag or environment. */
function credentialsGiven(values: KeySourceValues): boolean {
  return [values['base-url'], values['api-key'], values['secret-key']].some((v) => v !== undefined);
}

/** Credentials for a service call, each from its flag or environment variable, all present. */
export interface ServiceCredentials {
  baseUrl: string;
  apiKey: string;
  secretKey: string;
  timeoutMs: number | undefined;
}

/**
 * The service credentials and timeout of a command, with one message naming every missing one.
 * @param none how the message starts when none at all is given (e.g. `no keys: pass --keys FILE, or`)
 * @throws CliError (exit 2)
 */
export function resolveServiceCredentials(values: KeySourceValues, none: string): ServiceCredentials {
  const timeoutMs = parseTimeout(values.timeout);
  const { baseUrl, apiKey, secretKey } = resolveCredentials(values['base-url'], values['api-key'], values['secret-key']);
  if (baseUrl === undefined && apiKey === undefined && secretKey === undefined) {
    throw new CliError(EXIT_USAGE, `${none} --base-url, --api-key and --secret-key (or set ${ENV_BASE_URL}, ${ENV_API_KEY}, ${ENV_SECRET_KEY})`);
  }
  const missing = [
    baseUrl === undefined && `--base-url (or ${ENV_BASE_URL})`,
    apiKey === undefined && `--api-key (or ${ENV_API_KEY})`,
    secretKey === undefined && `--secret-key (or ${ENV_SECRET_KEY})`,
  ].filter(Boolean);
  if (baseUrl === undefined || apiKey === undefined || secretKey === undefined) throw new CliError(EXIT_USAGE, `missing ${missing.join(', ')}`);
  return { baseUrl, apiKey, secretKey, timeoutMs };
}

/**
 * Loads the key file, or refreshes `endpoint` from the service.
 * @throws CliError: exit 2 for missing or conflicting options, exit 3 when the refresh fails
 */
export async function resolveKeySet(values: KeySourceValues, endpoint: KeyEndpoint): Promise<KeySet> {
  if (values.keys !== undefined) {
    if (credentialsGiven(values)) throw new CliError(EXIT_USAGE, '--keys cannot be combined with --base-url, --api-key or --secret-key');
    return loadKeysFile(values.keys);
  }
  const { baseUrl, apiKey, secretKey, timeoutMs } = resolveServiceCredentials(values, 'no keys: pass --keys FILE, or');
  const options = timeoutMs === undefined ? undefined : { timeoutMs };
  const client =
    endpoint === 'sharing' ? new SharingClient(baseUrl, apiKey, secretKey, options) : new BidstreamClient(baseUrl, apiKey, secretKey, options);
  const result = await client.refresh();
  if (!result.success || !client.keySet) {
    const error = result.error;
    const cause = error ? `${error.message} (${error.code})` : 'unknown error';
    throw new CliError(EXIT_REFRESH_FAILED, `key refresh failed: ${cause}`);
  }
  return client.keySet;
}
