/**
 * Advertising-token encoder for every version. Sharing encryption uses it for v4; the local
 * operator, the tests and the benchmark corpus use it to mint realistic v2/v3/v4 traffic.
 */
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict, encodeBase64, encodeBase64Url } from '../codec/base64.js';
import { CBC_IV_LENGTH, cbcEncrypt, gcmEncrypt } from '../crypto/aes.js';
import type { AdvertisingTokenVersion, IdentityScope, IdentityType } from '../types.js';
import {
  PRIVACY_BIT_CLIENT_SIDE_GENERATED,
  V2_VERSION_BYTE,
  V3_MASTER_HEADER,
  V3_SITE_HEADER,
  V3_VERSION_BYTE,
  V4_VERSION_BYTE,
} from './layout.js';

/** A key as the encoder needs it. */
export interface EncodingKey {
  id: number;
  secret: Uint8Array;
}

export interface TokenFields {
  version: AdvertisingTokenVersion;
  masterKey: EncodingKey;
  siteKey: EncodingKey;
  /** v3/v4: the raw UID as its base64 text or its bytes. v2: the identity string. */
  rawUid: string | Uint8Array;
  siteId: number;
  expiresMs: number;
  /** v3/v4 only. */
  generatedMs?: number;
  establishedMs: number;
  /** v3/v4 only; defaults to generatedMs. */
  refreshedMs?: number;
  identityScope?: IdentityScope;
  identityType?: IdentityType;
  /** Sets privacy bit 1 (client-side generated). */
  clientSideGenerated?: boolean;
  /** Full privacy bits; overrides `clientSideGenerated`. */
  privacyBits?: number;
  operatorSiteId?: number;
  operatorType?: number;
  operatorVersion?: number;
  operatorKeyId?: number;
  publisherId?: number;
  clientKeyId?: number;
  /** v3/v4: write the legacy first byte 0 instead of the scope/type prefix. */
  legacyPrefix?: boolean;
  /** v4 text encoding; v2 and v3 are always standard base64. Default 'base64url'. */
  encoding?: 'base64url' | 'base64';
}

/** Raw UID bytes from its base64 text (strict), or `null` if the text is not base64. */
export function rawUidBytes(rawUid: string | Uint8Array): Uint8Array | null {
  return typeof rawUid === 'string' ? decodeBase64Strict(rawUid, 'standard') : rawUid;
}

/** The v3/v4 prefix byte: scope in bit 4, identity type in bits 2-3, low bits 3. */
function tokenPrefix(scope: IdentityScope, type: IdentityType): number {
  return ((scope === 'EUID' ? 1 : 0) << 4) | ((type === 'Phone' ? 1 : 0) << 2) | 0b11;
}

function privacyBitsOf(fields: TokenFields): number {
  return fields.privacyBits ?? (fields.clientSideGenerated ? PRIVACY_BIT_CLIENT_SIDE_GENERATED : 0);
}

function encodeV2(fields: TokenFields): string {
  const id = typeof fields.rawUid === 'string' ? Buffer.from(fields.rawUid, 'utf8') : Buffer.from(fields.rawUid);
  const identity = Buffer.alloc(4 + 4 + id.length + 4 + 8);
  identity.writeInt32BE(fields.siteId, 0);
  identity.writeInt32BE(id.length, 4);
  id.copy(identity, 8);
  identity.writeInt32BE(privacyBitsOf(fields), 8 + id.length);
  identity.writeBigInt64BE(BigInt(fields.establishedMs), 12 + id.length);

  const identityIv = randomBytes(CBC_IV_LENGTH);
  const masterHeader = Buffer.alloc(12);
  masterHeader.writeBigInt64BE(BigInt(fields.expiresMs), 0);
  masterHeader.writeInt32BE(fields.siteKey.id, 8);
  const master = Buffer.concat([masterHeader, identityIv, cbcEncrypt(fields.siteKey.secret, identityIv, identity)]);

  const masterIv = randomBytes(CBC_IV_LENGTH);
  const rootHeader = Buffer.alloc(5);
  rootHeader[0] = V2_VERSION_BYTE;
  rootHeader.writeInt32BE(fields.masterKey.id, 1);
  return encodeBase64(Buffer.concat([rootHeader, masterIv, cbcEncrypt(fields.masterKey.secret, masterIv, master)]));
}

function encodeV3(fields: TokenFields, uid: Uint8Array): string {
  const generatedMs = fields.generatedMs ?? Date.now();
  const site = Buffer.alloc(V3_SITE_HEADER + uid.length);
  site.writeInt32BE(fields.siteId, 0);
  site.writeBigInt64BE(BigInt(fields.publisherId ?? 0), 4);
  site.writeInt32BE(fields.clientKeyId ?? 0, 12);
  site.writeInt32BE(privacyBitsOf(fields), 16);
  site.writeBigInt64BE(BigInt(fields.establishedMs), 20);
  site.writeBigInt64BE(BigInt(fields.refreshedMs ?? generatedMs), 28);
  site.set(uid, V3_SITE_HEADER);

  const masterHeader = Buffer.alloc(V3_MASTER_HEADER);
  masterHeader.writeBigInt64BE(BigInt(fields.expiresMs), 0);
  masterHeader.writeBigInt64BE(BigInt(generatedMs), 8);
  masterHeader.writeInt32BE(fields.operatorSiteId ?? 0, 16);
  masterHeader.writeUInt8(fields.operatorType ?? 1, 20);
  masterHeader.writeInt32BE(fields.operatorVersion ?? 0, 21);
  masterHeader.writeInt32BE(fields.operatorKeyId ?? 0, 25);
  masterHeader.writeInt32BE(fields.siteKey.id, 29);
  const master = Buffer.concat([masterHeader, gcmEncrypt(fields.siteKey.secret, site)]);

  const root = Buffer.alloc(6);
  root[0] = fields.legacyPrefix ? 0 : tokenPrefix(fields.identityScope ?? 'UID2', fields.identityType ?? 'Email');
  root[1] = fields.version === 3 ? V3_VERSION_BYTE : V4_VERSION_BYTE;
  root.writeInt32BE(fields.masterKey.id, 2);
  const bytes = Buffer.concat([root, gcmEncrypt(fields.masterKey.secret, master)]);
  return fields.version === 4 && (fields.encoding ?? 'base64url') === 'base64url'
    ? encodeBase64Url(bytes)
    : encodeBase64(bytes);
}

/**
 * Builds an advertising token with fresh random IVs.
 * @throws TypeError when `rawUid` is not valid base64 for a v3/v4 token.
 */
export function encodeAdvertisingToken(fields: TokenFields): string {
  if (fields.version === 2) return encodeV2(fields);
  const uid = rawUidBytes(fields.rawUid);
  if (!uid) throw new TypeError('rawUid must be standard base64 for v3/v4 tokens');
  return encodeV3(fields, uid);
}
