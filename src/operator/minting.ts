/**
 * Advertising tokens minted from the local operator's current keys, so tests and benchmarks
 * decrypt realistic traffic: the same layouts, keys and policy fields a real operator produces.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { encodeAdvertisingToken, rawUidBytes } from '../token/encode.js';
import type { AdvertisingTokenVersion, IdentityType } from '../types.js';
import { MASTER_KEYSET_ID, type KeyStore } from './key-store.js';
import type { ResolvedOperatorOptions } from './options.js';

/** What `mintToken()` puts into a token; everything but `version` has a realistic default. */
export interface MintTokenOptions {
  version: AdvertisingTokenVersion;
  /** Default `'Email'`. v2 tokens do not carry it. */
  identityType?: IdentityType;
  /** Client-side generated (CSTG): bidstream decryption then checks the domain or app name. */
  clientSideGenerated?: boolean;
  /** The publisher site; must be one of the operator's sites or its caller site. Default: the first site. */
  siteId?: number;
  /** The raw UID (base64 of its bytes). Default: a random one. */
  rawUid?: string;
  /** Default: `generatedMs` + `tokenLifetimeSeconds`. */
  expiresMs?: number;
  /** Default: now. */
  generatedMs?: number;
  /** Default: `generatedMs`. */
  establishedMs?: number;
  /** v4 text encoding. Default `'base64url'`. */
  encoding?: 'base64url' | 'base64';
}

/** Raw UIDs are 32 bytes, shown as 44 base64 characters. */
const RAW_UID_BYTES = 32;

/** A random raw UID. */
export function randomRawUid(): string {
  return randomBytes(RAW_UID_BYTES).toString('base64');
}

/** The raw UID for `seed`: the same seed always gives the same raw UID (SHA-256 of the seed). */
export function rawUidFor(seed: string): string {
  return createHash('sha256').update('uid2-engine local operator\0').update(seed, 'utf8').digest('base64');
}

function optionalTime(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new InvalidArgumentError(`options.${name} must be Unix milliseconds (an integer)`);
  return value;
}

/**
 * Mints an advertising token with the keys active now.
 * @throws InvalidArgumentError for a bad option or a site the operator does not know
 */
export function mintToken(store: KeyStore, config: ResolvedOperatorOptions, options: MintTokenOptions, nowMs: number): string {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const { version } = options;
  if (version !== 2 && version !== 3 && version !== 4) throw new InvalidArgumentError('options.version must be 2, 3 or 4');
  const identityType = options.identityType ?? 'Email';
  if (identityType !== 'Email' && identityType !== 'Phone') throw new InvalidArgumentError('options.identityType must be "Email" or "Phone"');
  const encoding = options.encoding ?? 'base64url';
  if (encoding !== 'base64url' && encoding !== 'base64') throw new InvalidArgumentError('options.encoding must be "base64url" or "base64"');
  const siteId = options.siteId ?? config.sites[0]!.id;
  const keysetId = store.keysetOf(siteId);
  if (keysetId === undefined) throw new InvalidArgumentError(`options.siteId ${siteId} is not a site of this operator`);
  const rawUid = options.rawUid ?? randomRawUid();
  if (typeof rawUid !== 'string' || rawUid === '') throw new InvalidArgumentError('options.rawUid must be a non-empty string');
  if (version !== 2 && !rawUidBytes(rawUid)) throw new InvalidArgumentError('options.rawUid must be standard base64 for v3 and v4 tokens');

  const generatedMs = optionalTime(options.generatedMs, 'generatedMs') ?? nowMs;
  const expiresMs = optionalTime(options.expiresMs, 'expiresMs') ?? generatedMs + config.tokenLifetimeSeconds * 1000;
  const establishedMs = optionalTime(options.establishedMs, 'establishedMs') ?? generatedMs;
  // The schedule guarantees an active key in every keyset at any time.
  const masterKey = store.activeKey(MASTER_KEYSET_ID, nowMs)!;
  const siteKey = store.activeKey(keysetId, nowMs)!;
  return encodeAdvertisingToken({
    version,
    masterKey,
    siteKey,
    rawUid,
    siteId,
    expiresMs,
    generatedMs,
    establishedMs,
    identityScope: config.identityScope,
    identityType,
    clientSideGenerated: options.clientSideGenerated ?? false,
    encoding,
  });
}
