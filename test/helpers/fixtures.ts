/**
 * Test fixtures: freshly generated AES-256 keys, key JSON in every shape the service sends, and
 * advertising tokens minted with the project's own encoder (`encodeAdvertisingToken`). Nothing
 * here reuses the shared vector values, so the suites check behaviour, not one set of bytes.
 *
 * For malformed tokens the encoder cannot produce (short layers, bad padding, odd id_len), the
 * `raw*` builders assemble the layers byte by byte with the same primitives.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { gcmEncrypt } from '../../src/crypto/aes.js';
import { parseKeys } from '../../src/keys/parse.js';
import type { KeySet } from '../../src/keys/key-set.js';
import { encodeAdvertisingToken, type TokenFields } from '../../src/token/encode.js';
import type { IdentityScope, IdentityType } from '../../src/types.js';

/** A fixed "now" for every suite: 2030-01-01T00:00:00.250Z (not on a second boundary on purpose). */
export const NOW_MS = 1_893_456_000_250;
export const NOW_S = Math.floor(NOW_MS / 1000);
export const MINUTE_MS = 60_000;
export const HOUR_S = 3600;
export const HOUR_MS = HOUR_S * 1000;
export const DAY_S = 24 * HOUR_S;
export const DAY_MS = DAY_S * 1000;

/** Ids used by `makeWorld`; deliberately unlike the shared vectors' ids. */
export const MASTER_KEY_ID = 5101;
export const SITE_KEY_ID = 5201;
/** The master keyset id the real service writes in key JSON. */
export const MASTER_KEYSET_ID = 9_999_999;
export const SITE_KEYSET_ID = 77;
export const SITE_ID = 7301;
export const CALLER_SITE_ID = 7302;
export const SITE_DOMAINS = ['Publisher.TEST', 'news.publisher.test', 'com.publisher.app', '987654321'];

/** A key as the tests hold it: the fields of the key JSON plus the raw secret. */
export interface TestKey {
  id: number;
  keysetId?: number;
  siteId?: number;
  created: number;
  activates: number;
  expires: number;
  secret: Buffer;
}

export function randomSecret(): Buffer {
  return randomBytes(32);
}

/** A key that is active from a day before NOW to 30 days after it, unless told otherwise. */
export function makeKey(id: number, options: Partial<Omit<TestKey, 'id'>> = {}): TestKey {
  const activates = options.activates ?? NOW_S - DAY_S;
  const key: TestKey = {
    id,
    created: options.created ?? activates,
    activates,
    expires: options.expires ?? NOW_S + 30 * DAY_S,
    secret: options.secret ?? randomSecret(),
  };
  if (options.keysetId !== undefined) key.keysetId = options.keysetId;
  if (options.siteId !== undefined) key.siteId = options.siteId;
  return key;
}

/** One key as the service's JSON spells it (secret in standard base64). */
export function keyJson(key: TestKey): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: key.id,
    created: key.created,
    activates: key.activates,
    expires: key.expires,
    secret: key.secret.toString('base64'),
  };
  if (key.keysetId !== undefined) json['keyset_id'] = key.keysetId;
  if (key.siteId !== undefined) json['site_id'] = key.siteId;
  return json;
}

export interface SiteData {
  id: number;
  domain_names: string[];
}

export interface KeysBodyOptions {
  keys: TestKey[];
  identityScope?: IdentityScope;
  allowClockSkewSeconds?: number;
  maxBidstreamLifetimeSeconds?: number;
  maxSharingLifetimeSeconds?: number;
  siteData?: SiteData[];
  callerSiteId?: number;
  masterKeysetId?: number;
  defaultKeysetId?: number;
  tokenExpirySeconds?: number | string;
}

/** The `body` of a /v2/key/bidstream or /v2/key/sharing response; absent options are omitted. */
export function keysBody(options: KeysBodyOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { keys: options.keys.map(keyJson) };
  const optional: [string, unknown][] = [
    ['identity_scope', options.identityScope],
    ['allow_clock_skew_seconds', options.allowClockSkewSeconds],
    ['max_bidstream_lifetime_seconds', options.maxBidstreamLifetimeSeconds],
    ['max_sharing_lifetime_seconds', options.maxSharingLifetimeSeconds],
    ['site_data', options.siteData],
    ['caller_site_id', options.callerSiteId],
    ['master_keyset_id', options.masterKeysetId],
    ['default_keyset_id', options.defaultKeysetId],
    ['token_expiry_seconds', options.tokenExpirySeconds],
  ];
  for (const [name, value] of optional) if (value !== undefined) body[name] = value;
  return body;
}

/** A whole decrypted service response: `{"status":"success","body":{...}}`. */
export function keysResponse(options: KeysBodyOptions): { status: string; body: Record<string, unknown> } {
  return { status: 'success', body: keysBody(options) };
}

/** The legacy key-list response: `body` is an array of keys. */
export function legacyKeysResponse(keys: TestKey[]): { status: string; body: Record<string, unknown>[] } {
  return { status: 'success', body: keys.map(keyJson) };
}

/**
 * 32 random raw UID bytes whose base64 form starts like the given identity type: phone raw UIDs
 * begin with 'B' or 'F' (top six bits 1 or 5), email raw UIDs with anything else.
 */
export function randomRawUidBytes(type: IdentityType = 'Email'): Buffer {
  const bytes = randomBytes(32);
  const top = bytes[0]! >> 2;
  if (type === 'Phone') {
    bytes[0] = ((bytes[0]! & 1 ? 5 : 1) << 2) | (bytes[0]! & 3);
  } else if (top === 1 || top === 5) {
    bytes[0] = bytes[0]! ^ 0x80;
  }
  return bytes;
}

export function randomRawUid(type: IdentityType = 'Email'): string {
  return randomRawUidBytes(type).toString('base64');
}

/** The key-body options minus the keys (sharing fields: `makeSharingWorld` fills them in). */
export interface WorldOptions extends Omit<KeysBodyOptions, 'keys'> {
  /** Extra keys appended after the master and site keys. */
  extraKeys?: TestKey[];
  masterKey?: Partial<Omit<TestKey, 'id'>>;
  siteKey?: Partial<Omit<TestKey, 'id'>>;
}

/** A key set (master + site key, one site with domains) and a token factory bound to it. */
export interface World {
  master: TestKey;
  site: TestKey;
  identityScope: IdentityScope;
  /** The decrypted service response, as an object. */
  response: { status: string; body: Record<string, unknown> };
  keySet: KeySet;
  /** Token fields: a valid v4 email token for SITE_ID at NOW_MS, plus `overrides`. */
  fields(overrides?: Partial<TokenFields>): TokenFields;
  token(overrides?: Partial<TokenFields>): string;
}

export function makeWorld(options: WorldOptions = {}): World {
  const identityScope = options.identityScope ?? 'UID2';
  const master = makeKey(MASTER_KEY_ID, { keysetId: MASTER_KEYSET_ID, ...options.masterKey });
  const site = makeKey(SITE_KEY_ID, { keysetId: SITE_KEYSET_ID, ...options.siteKey });
  const bodyOptions: KeysBodyOptions = {
    keys: [master, site, ...(options.extraKeys ?? [])],
    identityScope,
    siteData: options.siteData ?? [{ id: SITE_ID, domain_names: SITE_DOMAINS }],
  };
  if (options.allowClockSkewSeconds !== undefined) bodyOptions.allowClockSkewSeconds = options.allowClockSkewSeconds;
  if (options.maxBidstreamLifetimeSeconds !== undefined) bodyOptions.maxBidstreamLifetimeSeconds = options.maxBidstreamLifetimeSeconds;
  if (options.maxSharingLifetimeSeconds !== undefined) bodyOptions.maxSharingLifetimeSeconds = options.maxSharingLifetimeSeconds;
  if (options.callerSiteId !== undefined) bodyOptions.callerSiteId = options.callerSiteId;
  if (options.masterKeysetId !== undefined) bodyOptions.masterKeysetId = options.masterKeysetId;
  if (options.defaultKeysetId !== undefined) bodyOptions.defaultKeysetId = options.defaultKeysetId;
  if (options.tokenExpirySeconds !== undefined) bodyOptions.tokenExpirySeconds = options.tokenExpirySeconds;
  const response = keysResponse(bodyOptions);
  const keySet = parseKeys(response);
  const fields = (overrides: Partial<TokenFields> = {}): TokenFields => ({
    version: 4,
    masterKey: master,
    siteKey: site,
    rawUid: randomRawUid(overrides.identityType ?? 'Email'),
    siteId: SITE_ID,
    expiresMs: NOW_MS + HOUR_MS,
    generatedMs: NOW_MS - MINUTE_MS,
    establishedMs: NOW_MS - 30 * DAY_MS,
    identityScope,
    identityType: 'Email',
    ...overrides,
  });
  return {
    master,
    site,
    identityScope,
    response,
    keySet,
    fields,
    token: (overrides = {}) => encodeAdvertisingToken(fields(overrides)),
  };
}

/** A /v2/key/sharing world: master keyset, default keyset, caller site and token expiry. */
export function makeSharingWorld(options: WorldOptions = {}): World {
  return makeWorld({
    callerSiteId: CALLER_SITE_ID,
    masterKeysetId: MASTER_KEYSET_ID,
    defaultKeysetId: SITE_KEYSET_ID,
    tokenExpirySeconds: String(30 * DAY_S),
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------
// Raw layer builders, for tokens the encoder will not produce.

function i32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function i64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(value));
  return b;
}

/** AES-256-CBC; with `pkcs7: false` the caller supplies whole blocks and any "padding" it likes. */
export function cbcEncryptRaw(key: Uint8Array, iv: Uint8Array, data: Uint8Array, pkcs7 = true): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(pkcs7);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

export interface V3SiteFields {
  siteId?: number;
  publisherId?: number;
  clientKeyId?: number;
  privacyBits?: number;
  establishedMs?: number;
  refreshedMs?: number;
}

/** site := site_id | publisher_id | client_key_id | privacy_bits | established | refreshed | raw_uid */
export function rawV3SitePlain(uid: Uint8Array, f: V3SiteFields = {}): Buffer {
  return Buffer.concat([
    i32(f.siteId ?? SITE_ID),
    i64(f.publisherId ?? 0),
    i32(f.clientKeyId ?? 0),
    i32(f.privacyBits ?? 0),
    i64(f.establishedMs ?? NOW_MS - DAY_MS),
    i64(f.refreshedMs ?? NOW_MS - MINUTE_MS),
    uid,
  ]);
}

export interface V3MasterFields {
  expiresMs?: number;
  generatedMs?: number;
  siteKeyId?: number;
}

/** master := expires | generated | op_site | op_type | op_version | op_key | site_key_id | siteLayer */
export function rawV3MasterPlain(siteLayer: Uint8Array, f: V3MasterFields = {}): Buffer {
  return Buffer.concat([
    i64(f.expiresMs ?? NOW_MS + HOUR_MS),
    i64(f.generatedMs ?? NOW_MS - MINUTE_MS),
    i32(0),
    Buffer.from([1]),
    i32(0),
    i32(0),
    i32(f.siteKeyId ?? SITE_KEY_ID),
    siteLayer,
  ]);
}

/** root := prefix | version | master_key_id | masterLayer, as bytes. */
export function rawV3Root(prefix: number, versionByte: number, masterKeyId: number, masterLayer: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([prefix, versionByte]), i32(masterKeyId), masterLayer]);
}

/**
 * A v3/v4 token assembled layer by layer from plaintexts: `sitePlain` sealed with the site key,
 * then the master plaintext sealed with the master key. `transformSiteLayer` and
 * `transformMasterLayer` may alter a sealed layer (e.g. cut its tag) before it is embedded.
 */
export function rawV3Token(
  world: Pick<World, 'master' | 'site'>,
  options: {
    sitePlain?: Uint8Array;
    masterPlain?: (siteLayer: Buffer) => Uint8Array;
    transformSiteLayer?: (layer: Buffer) => Buffer;
    transformMasterLayer?: (layer: Buffer) => Buffer;
    prefix?: number;
    version?: 3 | 4;
  } = {},
): string {
  const sitePlain = options.sitePlain ?? rawV3SitePlain(randomRawUidBytes());
  const siteLayer = (options.transformSiteLayer ?? ((x) => x))(gcmEncrypt(world.site.secret, sitePlain));
  const masterPlain = (options.masterPlain ?? ((layer) => rawV3MasterPlain(layer)))(siteLayer);
  const masterLayer = (options.transformMasterLayer ?? ((x) => x))(gcmEncrypt(world.master.secret, masterPlain));
  const version = options.version ?? 4;
  const bytes = rawV3Root(options.prefix ?? 0b11, version === 3 ? 112 : 128, world.master.id, masterLayer);
  return version === 4 ? bytes.toString('base64url') : bytes.toString('base64');
}

export interface V2IdentityFields {
  siteId?: number;
  idLength?: number;
  privacyBits?: number;
  establishedMs?: number;
}

/** identity := site_id | id_len | id | privacy_bits | established; `idLength` may lie. */
export function rawV2IdentityPlain(id: string, f: V2IdentityFields = {}): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  return Buffer.concat([
    i32(f.siteId ?? SITE_ID),
    i32(f.idLength ?? idBytes.length),
    idBytes,
    i32(f.privacyBits ?? 0),
    i64(f.establishedMs ?? NOW_MS - DAY_MS),
  ]);
}

/**
 * A v2 token assembled layer by layer. Each layer's CBC ciphertext comes from `encryptIdentity` /
 * `encryptMaster` (default: PKCS#7 CBC), so a test can supply bad padding or odd lengths.
 */
export function rawV2Token(
  world: Pick<World, 'master' | 'site'>,
  options: {
    identityPlain?: Uint8Array;
    expiresMs?: number;
    siteKeyId?: number;
    masterKeyId?: number;
    encryptIdentity?: (key: Buffer, iv: Buffer, plain: Uint8Array) => Buffer;
    encryptMaster?: (key: Buffer, iv: Buffer, plain: Uint8Array) => Buffer;
    /** Replaces the master plaintext entirely. */
    masterPlain?: Uint8Array;
  } = {},
): string {
  const identityPlain = options.identityPlain ?? rawV2IdentityPlain('v2-identity@example.test');
  const encryptIdentity = options.encryptIdentity ?? ((k, iv, p) => cbcEncryptRaw(k, iv, p));
  const encryptMaster = options.encryptMaster ?? ((k, iv, p) => cbcEncryptRaw(k, iv, p));
  const identityIv = randomBytes(16);
  const masterPlain =
    options.masterPlain ??
    Buffer.concat([
      i64(options.expiresMs ?? NOW_MS + HOUR_MS),
      i32(options.siteKeyId ?? world.site.id),
      identityIv,
      encryptIdentity(world.site.secret, identityIv, identityPlain),
    ]);
  const masterIv = randomBytes(16);
  return Buffer.concat([
    Buffer.from([2]),
    i32(options.masterKeyId ?? world.master.id),
    masterIv,
    encryptMaster(world.master.secret, masterIv, masterPlain),
  ]).toString('base64');
}

/** Decodes a token's text (either base64 alphabet) to bytes. */
export function tokenBytes(token: string): Buffer {
  return Buffer.from(token, 'base64');
}
