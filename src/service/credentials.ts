/**
 * Credentials of the UID2 service (base URL, API key, secret key) as given or taken from the
 * environment, and the endpoint URLs built from them. Every request of the service layer uses them.
 */
import { ConfigError } from '../errors.js';
import type { IdentityScope } from '../types.js';

/** Environment variables that supply credentials the constructor was not given. */
export const ENV_BASE_URL = 'UID2_BASE_URL';
export const ENV_API_KEY = 'UID2_API_KEY';
export const ENV_SECRET_KEY = 'UID2_SECRET_KEY';
/** The same three for the EUID service, where a program holds credentials of both scopes. */
const ENV_EUID_BASE_URL = 'EUID_BASE_URL';
const ENV_EUID_API_KEY = 'EUID_API_KEY';
const ENV_EUID_SECRET_KEY = 'EUID_SECRET_KEY';

/** The names of one scope's three credential variables. */
export interface CredentialVariables {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly secretKey: string;
}

/** Each scope's credential variables: `UID2_*` (also what single-scope programs read) and `EUID_*`. */
export const CREDENTIAL_VARIABLES: Readonly<Record<IdentityScope, CredentialVariables>> = Object.freeze({
  UID2: Object.freeze({ baseUrl: ENV_BASE_URL, apiKey: ENV_API_KEY, secretKey: ENV_SECRET_KEY }),
  EUID: Object.freeze({ baseUrl: ENV_EUID_BASE_URL, apiKey: ENV_EUID_API_KEY, secretKey: ENV_EUID_SECRET_KEY }),
});

/** Credentials as given or taken from the environment; any may be missing until a refresh needs it. */
export interface Credentials {
  baseUrl: string | undefined;
  apiKey: string | undefined;
  secretKey: string | undefined;
}

/**
 * Fills each missing credential from `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY` (or
 * another scope's `variables`). An empty variable counts as unset, as shells make `VAR=` the
 * usual way to clear one.
 */
export function resolveCredentials(
  baseUrl: string | undefined,
  apiKey: string | undefined,
  secretKey: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  variables: CredentialVariables = CREDENTIAL_VARIABLES.UID2,
): Credentials {
  return {
    baseUrl: baseUrl ?? (env[variables.baseUrl] || undefined),
    apiKey: apiKey ?? (env[variables.apiKey] || undefined),
    secretKey: secretKey ?? (env[variables.secretKey] || undefined),
  };
}

/**
 * The endpoint URL for `path` under `baseUrl` (any path prefix kept, trailing slashes dropped).
 * The base URL is never repeated in the message: a caller who swapped arguments would otherwise
 * see their api key printed.
 * @throws ConfigError
 */
export function endpointUrl(baseUrl: string | undefined, path: string): URL {
  if (baseUrl === undefined || baseUrl.trim() === '') {
    throw new ConfigError(`no base URL: pass baseUrl or set ${ENV_BASE_URL}`);
  }
  let url: URL;
  try {
    url = new URL(baseUrl.trim().replace(/\/+$/, '') + path);
  } catch {
    throw new ConfigError('base URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('base URL must use http: or https:');
  if (url.username !== '' || url.password !== '') throw new ConfigError('base URL must not contain credentials');
  if (url.search !== '' || url.hash !== '') throw new ConfigError('base URL must not have a query or fragment');
  return url;
}

/** @throws ConfigError when the api key is missing or cannot be sent in a header */
export function checkApiKey(apiKey: string | undefined): string {
  if (apiKey === undefined || apiKey.trim() === '') throw new ConfigError(`no api key: pass apiKey or set ${ENV_API_KEY}`);
  // Header values must be visible ASCII; anything else would make fetch throw a message that
  // might echo the value.
  if (!/^[\x21-\x7e]+$/.test(apiKey.trim())) throw new ConfigError('api key must be printable ASCII without spaces');
  return apiKey.trim();
}
