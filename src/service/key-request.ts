/**
 * Fetches a key set from `/v2/key/bidstream` or `/v2/key/sharing`: seal a request envelope, POST
 * it, open the answer, check its nonce, parse and validate the key JSON (key-response.ts), on the
 * calling thread or, for a client whose key set is large, on the refresh worker
 * (refresh-thread.ts). Any problem throws a typed Uid2Error and nothing is returned, so a caller
 * can only ever apply a complete key set.
 */
import { encodeBase64 } from '../codec/base64.js';
import { ConfigError } from '../errors.js';
import { decodeSecretKey, sealRequest } from './envelope.js';
import { abortReason } from './http.js';
import { type FetchedKeySet, fetchKeySet, type SealedKeyRequest } from './key-response.js';
import { checkApiKey, ENV_SECRET_KEY, endpointUrl, type Credentials } from './credentials.js';
import { fetchKeySetOffThread, useRefreshThread } from './refresh-thread.js';
import { clientVersionHeader } from './version.js';

/** The two key endpoints: bidstream (DSPs) and sharing (sharing participants). */
export type KeyEndpoint = 'bidstream' | 'sharing';

export const KEY_ENDPOINT_PATHS: Readonly<Record<KeyEndpoint, string>> = Object.freeze({
  bidstream: '/v2/key/bidstream',
  sharing: '/v2/key/sharing',
});

export interface KeyRequest extends Credentials {
  endpoint: KeyEndpoint;
  timeoutMs: number;
  maxResponseBytes: number;
  signals: readonly AbortSignal[];
  /** Body size of this client's previous answer (0: none yet): a large one sends this request from the refresh worker. */
  previousResponseBytes: number;
}

/** What a request needs, checked before anything is sent. */
export interface CheckedCredentials {
  url: URL;
  apiKey: string;
  secret: Buffer;
  /** The credentials as given, to redact from anything the service echoes. */
  redact: readonly string[];
}

/**
 * Checks the credentials for `endpoint` without sending anything.
 * @throws ConfigError (missing or unusable base URL or api key, missing secret), SecretKeyError
 */
export function checkCredentials(credentials: Credentials, endpoint: KeyEndpoint): CheckedCredentials {
  return checkCredentialsForPath(credentials, KEY_ENDPOINT_PATHS[endpoint]);
}

/**
 * Checks the credentials for the service endpoint at `path` (the key endpoints,
 * `/v2/optout/status`) without sending anything.
 * @throws ConfigError (missing or unusable base URL or api key, missing secret), SecretKeyError
 */
export function checkCredentialsForPath(credentials: Credentials, path: string): CheckedCredentials {
  const url = endpointUrl(credentials.baseUrl, path);
  const apiKey = checkApiKey(credentials.apiKey);
  const secretKey = credentials.secretKey?.trim();
  if (!secretKey) throw new ConfigError(`no secret key: pass secretKey or set ${ENV_SECRET_KEY}`);
  return { url, apiKey, secret: decodeSecretKey(secretKey), redact: [apiKey, secretKey] };
}

/**
 * Calls the key endpoint and returns the validated key set and the size of its answer.
 * @throws ConfigError, SecretKeyError, AbortedError, ServiceTimeoutError, ServiceNetworkError,
 *   ServiceHttpError, EnvelopeError, NonceMismatchError, KeysJsonError, StaleKeysError,
 *   WorkerFailedError (the refresh worker died during the refresh)
 */
export async function requestKeySet(request: KeyRequest): Promise<FetchedKeySet> {
  const path = KEY_ENDPOINT_PATHS[request.endpoint];
  const { url, apiKey, secret, redact } = checkCredentials(request, request.endpoint);

  const envelope = sealRequest(secret);
  const sealed: SealedKeyRequest = {
    url: url.href,
    path,
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'X-UID2-Client-Version': clientVersionHeader(),
      'Content-Type': 'text/plain',
    },
    body: encodeBase64(envelope.bytes),
    timeoutMs: request.timeoutMs,
    maxResponseBytes: request.maxResponseBytes,
    secret,
    nonce: envelope.nonce,
    redact,
  };
  const offThread = useRefreshThread(request.previousResponseBytes) ? fetchKeySetOffThread(sealed, request.signals) : null;
  if (!offThread) return fetchKeySet(sealed, request.signals);
  const fetched = await offThread;
  // The answer came from another thread: a refresh aborted meanwhile (close() included) must not apply it.
  const aborted = request.signals.find((s) => s.aborted);
  if (aborted) throw abortReason(aborted.reason);
  return fetched;
}
