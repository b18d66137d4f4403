/**
 * Parses a decrypted key response into a KeySet, validating every field first: a malformed
 * response is rejected whole with a KeysJsonError, never half-applied.
 *
 * Accepted shapes (whole document or body alone):
 *   {"status":"success","body":{"keys":[...], ...}}   /v2/key/bidstream and /v2/key/sharing
 *   {"keys":[...], ...}
 *   {"status":"success","body":[{... "site_id"...}]}  legacy key list
 *   [{...}]
 */
import { decodeBase64Strict } from '../codec/base64.js';
import { KeysJsonError } from '../errors.js';
import type { IdentityScope } from '../types.js';
import { KeyRecord, type Key, type KeySetPolicy } from './key.js';
import { KeyList } from './key-list.js';
import { DEFAULT_ALLOW_CLOCK_SKEW_SECONDS, DEFAULT_TOKEN_EXPIRY_SECONDS, KeySet } from './key-set.js';
import { jsonSyntaxSummary } from '../util/json-error.js';

/** Guards against absurd responses (the service sends thousands of keys, not millions). */
const MAX_KEYS_JSON_BYTES = 64 * 1024 * 1024;
const MAX_KEYS = 1_000_000;
const KEY_SECRET_BYTES = 32;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function requireInteger(obj: Json, field: string, path: string): number {
  const value = obj[field];
  if (value === undefined) throw new KeysJsonError(`${path}.${field} is missing`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new KeysJsonError(`${path}.${field} must be an integer, got ${typeName(value)}`);
  }
  return value;
}

function optionalInteger(obj: Json, field: string, path: string): number | undefined {
  return obj[field] === undefined || obj[field] === null ? undefined : requireInteger(obj, field, path);
}

function optionalSeconds(obj: Json, field: string, path: string, fallback: number, acceptString = false): number {
  let value = obj[field];
  if (value === undefined || value === null) return fallback;
  if (acceptString && typeof value === 'string' && /^\s*\d+\s*$/.test(value)) value = Number(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new KeysJsonError(`${path}.${field} must be a non-negative number, got ${JSON.stringify(obj[field])}`);
  }
  return value;
}

function parseKey(item: unknown, index: number, legacy: boolean): Key {
  const path = legacy ? `body[${index}]` : `keys[${index}]`;
  if (!isObject(item)) throw new KeysJsonError(`${path} must be an object, got ${typeName(item)}`);
  const id = requireInteger(item, 'id', path);
  const secretText = item['secret'];
  if (secretText === undefined) throw new KeysJsonError(`${path}.secret is missing`);
  if (typeof secretText !== 'string') throw new KeysJsonError(`${path}.secret must be a string, got ${typeName(secretText)}`);
  const secret = decodeBase64Strict(secretText, 'standard');
  if (!secret || secret.length !== KEY_SECRET_BYTES) {
    throw new KeysJsonError(`${path}.secret must be base64 of ${KEY_SECRET_BYTES} bytes`);
  }
  const activates = requireInteger(item, 'activates', path);
  const expires = requireInteger(item, 'expires', path);
  const created = optionalInteger(item, 'created', path) ?? activates;
  return new KeyRecord(
    id,
    optionalInteger(item, 'keyset_id', path),
    optionalInteger(item, 'site_id', path),
    created,
    activates,
    expires,
    secret,
  );
}

function parseKeyList(list: unknown[], legacy: boolean): Key[] {
  if (list.length > MAX_KEYS) throw new KeysJsonError(`too many keys: ${list.length} (at most ${MAX_KEYS})`);
  const seen = new Set<number>();
  return list.map((item, index) => {
    const key = parseKey(item, index, legacy);
    if (seen.has(key.id)) throw new KeysJsonError(`duplicate key id ${key.id}`);
    seen.add(key.id);
    return key;
  });
}

function parseSiteData(value: unknown): Map<number, readonly string[]> {
  const sites = new Map<number, readonly string[]>();
  if (value === undefined || value === null) return sites;
  if (!Array.isArray(value)) throw new KeysJsonError(`site_data must be an array, got ${typeName(value)}`);
  value.forEach((site, index) => {
    const path = `site_data[${index}]`;
    if (!isObject(site)) throw new KeysJsonError(`${path} must be an object, got ${typeName(site)}`);
    const id = requireInteger(site, 'id', path);
    const names = site['domain_names'] ?? [];
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw new KeysJsonError(`${path}.domain_names must be an array of strings`);
    }
    sites.set(id, Object.freeze([...(sites.get(id) ?? []), ...(names as string[])]));
  });
  return sites;
}

function parseScope(value: unknown): IdentityScope {
  if (value === undefined || value === null) return 'UID2';
  if (value === 'UID2' || value === 'EUID') return value;
  throw new KeysJsonError(`identity_scope must be "UID2" or "EUID", got ${JSON.stringify(value)}`);
}

const LEGACY_POLICY: KeySetPolicy = {
  identityScope: 'UID2',
  allowClockSkewSeconds: DEFAULT_ALLOW_CLOCK_SKEW_SECONDS,
  maxBidstreamLifetimeSeconds: Infinity,
  maxSharingLifetimeSeconds: Infinity,
  callerSiteId: undefined,
  masterKeysetId: undefined,
  defaultKeysetId: undefined,
  tokenExpirySeconds: DEFAULT_TOKEN_EXPIRY_SECONDS,
};

function parseBody(body: Json): KeySet {
  const keys = body['keys'];
  if (!Array.isArray(keys)) throw new KeysJsonError(`body.keys must be an array, got ${typeName(keys)}`);
  const policy: KeySetPolicy = {
    identityScope: parseScope(body['identity_scope']),
    allowClockSkewSeconds: optionalSeconds(body, 'allow_clock_skew_seconds', 'body', DEFAULT_ALLOW_CLOCK_SKEW_SECONDS),
    maxBidstreamLifetimeSeconds: optionalSeconds(body, 'max_bidstream_lifetime_seconds', 'body', Infinity),
    maxSharingLifetimeSeconds: optionalSeconds(body, 'max_sharing_lifetime_seconds', 'body', Infinity),
    callerSiteId: optionalInteger(body, 'caller_site_id', 'body'),
    masterKeysetId: optionalInteger(body, 'master_keyset_id', 'body'),
    defaultKeysetId: optionalInteger(body, 'default_keyset_id', 'body'),
    tokenExpirySeconds: optionalSeconds(body, 'token_expiry_seconds', 'body', DEFAULT_TOKEN_EXPIRY_SECONDS, true),
  };
  return new KeySet(policy, new KeyList(parseKeyList(keys, false), parseSiteData(body['site_data'])));
}

/**
 * Parses key JSON (text, bytes or an already-parsed value) into an immutable KeySet.
 * @throws KeysJsonError (`UID2_ERR_KEYS_JSON`) naming the first problem found.
 */
export function parseKeys(json: string | Uint8Array | object): KeySet {
  let doc: unknown = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    if (json.length > MAX_KEYS_JSON_BYTES) throw new KeysJsonError(`key JSON is larger than ${MAX_KEYS_JSON_BYTES} bytes`);
    const text = typeof json === 'string' ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8');
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new KeysJsonError(`key JSON does not parse: ${jsonSyntaxSummary(err)}`);
    }
  }
  if (Array.isArray(doc)) return new KeySet(LEGACY_POLICY, new KeyList(parseKeyList(doc, true), new Map()));
  if (!isObject(doc)) throw new KeysJsonError(`key JSON must be an object, got ${typeName(doc)}`);

  if ('body' in doc || 'status' in doc) {
    const status = doc['status'];
    if (status !== undefined && status !== 'success') {
      throw new KeysJsonError(`key response status is ${JSON.stringify(status)}, not "success"`);
    }
    const body = doc['body'];
    if (Array.isArray(body)) return new KeySet(LEGACY_POLICY, new KeyList(parseKeyList(body, true), new Map()));
    if (!isObject(body)) throw new KeysJsonError(`body must be an object or an array of keys, got ${typeName(body)}`);
    return parseBody(body);
  }
  return parseBody(doc);
}
