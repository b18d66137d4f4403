/**
 * Fetches a key set from `/v2/key/bidstream` or `/v2/key/sharing`: seal a request envelope, POST
 * it, open the answer, check its nonce, parse and validate the key JSON. Any problem throws a
 * typed Uid2Error and nothing is returned, so a caller can only ever apply a complete key set.
 */
import { encodeBase64 } from '../codec/base64.js';
import { ConfigError, KeysJsonError, StaleKeysError, Uid2Error } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { decodeSecretKey, openResponse, sealRequest } from './envelope.js';
import { postToService } from './http.js';
import { checkApiKey, ENV_SECRET_KEY, endpointUrl, type Credentials } from './options.js';
import { safeExcerpt } from './sanitize.js';
import { clientVersionHeader } from './version.js';
import { isoTime } from '../util/time.js';

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
 * Calls the key endpoint and returns the validated key set.
 * @throws ConfigError, SecretKeyError, AbortedError, ServiceTimeoutError, ServiceNetworkError,
 *   ServiceHttpError, EnvelopeError, NonceMismatchError, KeysJsonError, StaleKeysError
 */
export async function requestKeySet(request: KeyRequest): Promise<KeySet> {
  const path = KEY_ENDPOINT_PATHS[request.endpoint];
  const { url, apiKey, secret, redact } = checkCredentials(request, request.endpoint);

  const envelope = sealRequest(secret);
  const response = await postToService({
    url,
    path,
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'X-UID2-Client-Version': clientVersionHeader(),
      'Content-Type': 'text/plain',
    },
    body: encodeBase64(envelope.bytes),
    timeoutMs: request.timeoutMs,
    maxResponseBytes: request.maxResponseBytes,
    signals: request.signals,
    redact,
  });
  const opened = openResponse(secret, response.binary ? response.body : response.body.toString('latin1'), envelope.nonce);
  return parseKeyResponse(opened.payload, redact);
}

/** Validates decrypted key JSON; exported for the tests of hostile payloads. */
export function parseKeyResponse(payload: Uint8Array, redact: readonly string[] = []): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    // JSON.parse's message quotes the input, which holds key secrets: say only that it failed.
    throw new KeysJsonError('key response is not valid JSON');
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const { status, message } = doc as Record<string, unknown>;
    if (status !== undefined && status !== 'success') {
      const said = typeof message === 'string' ? `: ${safeExcerpt(message, redact)}` : '';
      throw new KeysJsonError(`key response status is ${safeExcerpt(JSON.stringify(status) ?? 'null', redact, 40)}, not "success"${said}`);
    }
  }
  let keySet: KeySet;
  try {
    keySet = parseKeys(doc as object);
  } catch (err) {
    // parseKeys may quote a hostile field value; keep the message short and printable.
    if (err instanceof Uid2Error) throw new KeysJsonError(safeExcerpt(err.message, redact, 300));
    throw err;
  }
  if (!keySet.isValid(Date.now())) {
    const newest = isoTime(keySet.latestKeyExpiryMs);
    throw new StaleKeysError(`key response has no unexpired key (${keySet.size} keys, newest expiry ${newest}); keeping the previous keys`);
  }
  return keySet;
}
