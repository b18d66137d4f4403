/**
 * Where a CLI command gets its keys: a key file (`--keys`), or a refresh from the UID2 service
 * with `--base-url`, `--api-key`, `--secret-key` (each defaulting to `UID2_BASE_URL`,
 * `UID2_API_KEY`, `UID2_SECRET_KEY`). A refresh failure exits with code 3 and one line naming
 * the cause; the credentials themselves are never printed.
 *
 * `decrypt` may hold a key set per identity scope: the EUID one from `--euid-keys`, or from
 * `--euid-base-url`, `--euid-api-key`, `--euid-secret-key` (defaulting to `EUID_BASE_URL`,
 * `EUID_API_KEY`, `EUID_SECRET_KEY`), validated the same way; each key set must be of the scope
 * its flags name, as a key file handed to the other scope's flag is a mistake.
 */
import { BidstreamClient } from '../client/bidstream-client.js';
import { SharingClient } from '../client/sharing-client.js';
import type { KeySet } from '../keys/key-set.js';
import type { KeyEndpoint } from '../service/key-request.js';
import { CREDENTIAL_VARIABLES, resolveCredentials } from '../service/credentials.js';
import type { IdentityScope } from '../types.js';
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

/** A command's values with the EUID key source beside the UID2 one (`decrypt`). */
export interface ScopedKeySourceValues extends KeySourceValues {
  'euid-keys'?: string;
  'euid-base-url'?: string;
  'euid-api-key'?: string;
  'euid-secret-key'?: string;
}

/** The option table entries every key-using command accepts. */
export const KEY_SOURCE_OPTIONS = {
  keys: { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'secret-key': { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** The option table entries of the EUID key source, beside KEY_SOURCE_OPTIONS. */
export const EUID_KEY_SOURCE_OPTIONS = {
  'euid-keys': { type: 'string' },
  'euid-base-url': { type: 'string' },
  'euid-api-key': { type: 'string' },
  'euid-secret-key': { type: 'string' },
} as const;

/** Each scope's flag names: UID2's are the plain ones every command has. */
const SCOPE_FLAGS = {
  UID2: { keys: 'keys', baseUrl: 'base-url', apiKey: 'api-key', secretKey: 'secret-key' },
  EUID: { keys: 'euid-keys', baseUrl: 'euid-base-url', apiKey: 'euid-api-key', secretKey: 'euid-secret-key' },
} as const satisfies Record<IdentityScope, Record<string, keyof ScopedKeySourceValues>>;

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 2_147_483_647) {
    throw new CliError(EXIT_USAGE, `--timeout must be a positive number of milliseconds, got "${value}"`);
  }
  return ms;
}

/** Whether a key source other than a file was given by flag (an environment variable yields to a file). */
function credentialsGiven(values: ScopedKeySourceValues, scope: IdentityScope): boolean {
  const flags = SCOPE_FLAGS[scope];
  return [values[flags.baseUrl], values[flags.apiKey], values[flags.secretKey]].some((v) => v !== undefined);
}

/** Credentials for a service call, each from its flag or environment variable, all present. */
export interface ServiceCredentials {
  baseUrl: string;
  apiKey: string;
  secretKey: string;
  timeoutMs: number | undefined;
}

/**
 * A scope's credentials as its flags or environment variables give them, any of them missing.
 * @throws CliError (exit 2) for a bad --timeout
 */
function scopeCredentials(values: ScopedKeySourceValues, scope: IdentityScope): Partial<ServiceCredentials> {
  const flags = SCOPE_FLAGS[scope];
  const timeoutMs = parseTimeout(values.timeout);
  return { ...resolveCredentials(values[flags.baseUrl], values[flags.apiKey], values[flags.secretKey], process.env, CREDENTIAL_VARIABLES[scope]), timeoutMs };
}

/** The phrase naming a scope's three credential flags and variables, for "none given" messages. */
function credentialFlagsPhrase(scope: IdentityScope): string {
  const flags = SCOPE_FLAGS[scope];
  const names = CREDENTIAL_VARIABLES[scope];
  return `--${flags.baseUrl}, --${flags.apiKey} and --${flags.secretKey} (or set ${names.baseUrl}, ${names.apiKey}, ${names.secretKey})`;
}

/** @throws CliError (exit 2) naming every one of the scope's credentials that is missing */
function complete(credentials: Partial<ServiceCredentials>, scope: IdentityScope): ServiceCredentials {
  const { baseUrl, apiKey, secretKey, timeoutMs } = credentials;
  if (baseUrl !== undefined && apiKey !== undefined && secretKey !== undefined) return { baseUrl, apiKey, secretKey, timeoutMs };
  const flags = SCOPE_FLAGS[scope];
  const names = CREDENTIAL_VARIABLES[scope];
  const missing = [
    baseUrl === undefined && `--${flags.baseUrl} (or ${names.baseUrl})`,
    apiKey === undefined && `--${flags.apiKey} (or ${names.apiKey})`,
    secretKey === undefined && `--${flags.secretKey} (or ${names.secretKey})`,
  ].filter(Boolean);
  throw new CliError(EXIT_USAGE, `missing ${missing.join(', ')}`);
}

/**
 * The service credentials and timeout of a command, with one message naming every missing one.
 * @param none how the message starts when none at all is given (e.g. `no keys: pass --keys FILE, or`)
 * @throws CliError (exit 2)
 */
export function resolveServiceCredentials(values: KeySourceValues, none: string): ServiceCredentials {
  const credentials = scopeCredentials(values, 'UID2');
  if (credentials.baseUrl === undefined && credentials.apiKey === undefined && credentials.secretKey === undefined) {
    throw new CliError(EXIT_USAGE, `${none} ${credentialFlagsPhrase('UID2')}`);
  }
  return complete(credentials, 'UID2');
}

/**
 * Refreshes `endpoint` from the service with `credentials`.
 * @param label how the failure message starts (`key refresh failed`, or with the scope's name)
 * @throws CliError (exit 3) when the refresh fails
 */
async function refreshKeySet(credentials: ServiceCredentials, endpoint: KeyEndpoint, label: string): Promise<KeySet> {
  const { baseUrl, apiKey, secretKey, timeoutMs } = credentials;
  const options = timeoutMs === undefined ? undefined : { timeoutMs };
  const client =
    endpoint === 'sharing' ? new SharingClient(baseUrl, apiKey, secretKey, options) : new BidstreamClient(baseUrl, apiKey, secretKey, options);
  const result = await client.refresh();
  if (!result.success || !client.keySet) {
    const error = result.error;
    const cause = error ? `${error.message} (${error.code})` : 'unknown error';
    throw new CliError(EXIT_REFRESH_FAILED, `${label}: ${cause}`);
  }
  return client.keySet;
}

/**
 * Loads the key file, or refreshes `endpoint` from the service.
 * @throws CliError: exit 2 for missing or conflicting options, exit 3 when the refresh fails
 */
export async function resolveKeySet(values: KeySourceValues, endpoint: KeyEndpoint): Promise<KeySet> {
  if (values.keys !== undefined) {
    if (credentialsGiven(values, 'UID2')) throw new CliError(EXIT_USAGE, '--keys cannot be combined with --base-url, --api-key or --secret-key');
    return loadKeysFile(values.keys);
  }
  return refreshKeySet(resolveServiceCredentials(values, 'no keys: pass --keys FILE, or'), endpoint, 'key refresh failed');
}

/** Whether any EUID key source is given, by flag or environment: what makes `decrypt` dual-scope. */
export function euidKeySourceGiven(values: ScopedKeySourceValues): boolean {
  if (values['euid-keys'] !== undefined) return true;
  const { baseUrl, apiKey, secretKey } = scopeCredentials(values, 'EUID');
  return baseUrl !== undefined || apiKey !== undefined || secretKey !== undefined;
}

/** Where one scope's keys come from: its file, its service credentials, or nowhere. */
type ScopeSource = { file: string } | { credentials: ServiceCredentials } | null;

/** @throws CliError (exit 2) for a file combined with credential flags, or credentials with some missing */
function scopeSource(values: ScopedKeySourceValues, scope: IdentityScope): ScopeSource {
  const flags = SCOPE_FLAGS[scope];
  const file = values[flags.keys];
  if (file !== undefined) {
    if (credentialsGiven(values, scope)) throw new CliError(EXIT_USAGE, `--${flags.keys} cannot be combined with --${flags.baseUrl}, --${flags.apiKey} or --${flags.secretKey}`);
    return { file };
  }
  const credentials = scopeCredentials(values, scope);
  if (credentials.baseUrl === undefined && credentials.apiKey === undefined && credentials.secretKey === undefined) return null;
  return { credentials: complete(credentials, scope) };
}

/**
 * @throws CliError (exit 2) when a key set from `scope`'s flags (or variables) is of the other scope
 */
function checkScope(keySet: KeySet, scope: IdentityScope, file: string | undefined): KeySet {
  if (keySet.identityScope === scope) return keySet;
  const flags = SCOPE_FLAGS[scope];
  const other = SCOPE_FLAGS[keySet.identityScope];
  throw new CliError(
    EXIT_USAGE,
    file !== undefined
      ? `--${flags.keys} ${file} holds ${keySet.identityScope} keys, not ${scope} keys (${keySet.identityScope} keys go to --${other.keys})`
      : `the ${scope} credentials (--${flags.baseUrl} or ${CREDENTIAL_VARIABLES[scope].baseUrl}) reach a service that answers ${keySet.identityScope} keys, not ${scope} keys`,
  );
}

/**
 * A key set per identity scope (UID2's from `--keys` or the UID2 credentials, EUID's from
 * `--euid-keys` or the EUID credentials), at least one of them. Files are read first, so a bad
 * one stops the run before any request; both refreshes then run together.
 * @throws CliError: exit 2 for missing or conflicting options or a key set of the other scope,
 *   exit 3 when a refresh fails (the UID2 one named first when both do)
 */
export async function resolveScopedKeySets(values: ScopedKeySourceValues, endpoint: KeyEndpoint): Promise<{ UID2?: KeySet; EUID?: KeySet }> {
  const scopes = ['UID2', 'EUID'] as const;
  const sources = scopes.map((scope) => scopeSource(values, scope));
  if (sources.every((source) => source === null)) {
    throw new CliError(EXIT_USAGE, `no keys: pass --keys FILE, or ${credentialFlagsPhrase('UID2')}; for EUID tokens --euid-keys FILE, or ${credentialFlagsPhrase('EUID')}`);
  }
  const fromFiles = sources.map((source, i) => (source !== null && 'file' in source ? checkScope(loadKeysFile(source.file), scopes[i]!, source.file) : undefined));
  const refreshed = await Promise.allSettled(
    sources.map((source, i) => (source !== null && 'credentials' in source ? refreshKeySet(source.credentials, endpoint, `${scopes[i]} key refresh failed`) : undefined)),
  );
  const keySets: { UID2?: KeySet; EUID?: KeySet } = {};
  for (const [i, scope] of scopes.entries()) {
    const outcome = refreshed[i]!;
    if (outcome.status === 'rejected') throw outcome.reason;
    const keySet = fromFiles[i] ?? (outcome.value && checkScope(outcome.value, scope, undefined));
    if (keySet !== undefined) keySets[scope] = keySet;
  }
  return keySets;
}
