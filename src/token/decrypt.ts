/**
 * Advertising-token decryption in TypeScript: the decoder (rules 2-6: base64, version, scope,
 * both decryption layers) and decryptToken(), which runs every rule in the official SDKs' order
 * (rules 1 and 7-9 from rules.ts), because callers and tests compare statuses, not just success.
 * Nothing here throws: every malformed input ends as a status.
 */
import { decodeBase64Strict, decodeHeader } from '../codec/base64.js';
import { CBC_IV_LENGTH, cbcDecrypt, gcmDecrypt } from '../crypto/aes.js';
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import {
  type AdvertisingTokenVersion,
  type ClientType,
  type DecryptionResult,
  DecryptionStatus,
  type IdentityType,
} from '../types.js';
import {
  PRIVACY_BIT_CLIENT_SIDE_GENERATED,
  V2_IDENTITY_FIXED,
  V2_MASTER_HEADER,
  V2_ROOT_HEADER,
  V2_VERSION_BYTE,
  V3_MASTER_HEADER,
  V3_MASTER_SITE_KEY_ID,
  V3_ROOT_HEADER,
  V3_SITE_HEADER,
  V3_VERSION_BYTE,
  V4_VERSION_BYTE,
  prefixIdentityTypeBits,
  prefixScopeIsEuid,
} from './layout.js';
import { checkedResult, failure, rawUidText, siteKeySiteIdOf, type FindingDecryptor } from './result.js';
import { applyPolicyRules, hasTokenShape, keysRule } from './rules.js';

/** Token fields the rule checks need, whatever the version. */
interface DecodedToken {
  version: AdvertisingTokenVersion;
  expiresMs: number;
  /** Generation time (v3/v4); v2 tokens have none and use "now" instead. */
  generatedMs: number | undefined;
  siteId: number;
  privacyBits: number;
  establishedMs: number;
  identityType: IdentityType | undefined;
  /** The raw UID's bytes, a view into the decrypted payload: UTF-8 text (v2) or raw bytes (v3/v4). */
  uidBytes: Buffer;
  /** Ids of the keys that decrypted the master and site layers (what the token cache vouches with). */
  masterKeyId: number;
  siteKeyId: number;
  /** The site key's site id (siteKeySiteIdOf). */
  siteKeySiteId: number;
}

/** A token that decrypted fully, with the status the remaining rules gave it. */
export interface CheckedToken extends DecodedToken {
  status: DecryptionStatus;
  isClientSideGenerated: boolean;
}

function readI64(buf: Buffer, offset: number): number {
  return Number(buf.readBigInt64BE(offset));
}

function decodeV2(bytes: Buffer, keys: DecryptionKeys): DecodedToken | DecryptionStatus {
  if (bytes.length < V2_ROOT_HEADER) return DecryptionStatus.InvalidPayload;
  const masterKeyId = bytes.readInt32BE(1);
  const masterKey = keys.getKey(masterKeyId);
  if (!masterKey) return DecryptionStatus.NotAuthorizedForMasterKey;
  const master = cbcDecrypt(masterKey.secret, bytes.subarray(5, V2_ROOT_HEADER), bytes.subarray(V2_ROOT_HEADER));
  if (!master || master.length < V2_MASTER_HEADER) return DecryptionStatus.InvalidPayload;

  const expiresMs = readI64(master, 0);
  const siteKeyId = master.readInt32BE(8);
  const siteKey = keys.getKey(siteKeyId);
  if (!siteKey) return DecryptionStatus.NotAuthorizedForKey;
  const identity = cbcDecrypt(siteKey.secret, master.subarray(12, 12 + CBC_IV_LENGTH), master.subarray(V2_MASTER_HEADER));
  if (!identity || identity.length < V2_IDENTITY_FIXED) return DecryptionStatus.InvalidPayload;

  const idLength = identity.readInt32BE(4);
  if (idLength < 0 || idLength > identity.length - V2_IDENTITY_FIXED) return DecryptionStatus.InvalidPayload;
  const idEnd = 8 + idLength;
  return {
    version: 2,
    expiresMs,
    generatedMs: undefined,
    siteId: identity.readInt32BE(0),
    privacyBits: identity.readInt32BE(idEnd),
    establishedMs: readI64(identity, idEnd + 4),
    identityType: undefined,
    uidBytes: identity.subarray(8, idEnd),
    masterKeyId,
    siteKeyId,
    siteKeySiteId: siteKeySiteIdOf(siteKey),
  };
}

function decodeV3(bytes: Buffer, keys: DecryptionKeys, version: 3 | 4): DecodedToken | DecryptionStatus {
  const prefix = bytes[0]!;
  if (prefixScopeIsEuid(prefix) !== (keys.identityScope === 'EUID')) return DecryptionStatus.InvalidIdentityScope;
  if (bytes.length < V3_ROOT_HEADER) return DecryptionStatus.InvalidPayload;
  const masterKeyId = bytes.readInt32BE(2);
  const masterKey = keys.getKey(masterKeyId);
  if (!masterKey) return DecryptionStatus.NotAuthorizedForMasterKey;
  const master = gcmDecrypt(masterKey.secret, bytes, V3_ROOT_HEADER);
  if (!master || master.length < V3_MASTER_HEADER) return DecryptionStatus.InvalidPayload;

  const siteKeyId = master.readInt32BE(V3_MASTER_SITE_KEY_ID);
  const siteKey = keys.getKey(siteKeyId);
  if (!siteKey) return DecryptionStatus.NotAuthorizedForKey;
  const site = gcmDecrypt(siteKey.secret, master, V3_MASTER_HEADER);
  if (!site || site.length < V3_SITE_HEADER) return DecryptionStatus.InvalidPayload;

  return {
    version,
    expiresMs: readI64(master, 0),
    generatedMs: readI64(master, 8),
    siteId: site.readInt32BE(0),
    privacyBits: site.readInt32BE(16),
    establishedMs: readI64(site, 20),
    // As the official SDKs read it: 0 is Email, any other value of the two bits is Phone. The prefix
    // is not authenticated, so a flipped bit there must not turn a good token into a failure.
    identityType: prefixIdentityTypeBits(prefix) === 0 ? 'Email' : 'Phone',
    uidBytes: site.subarray(V3_SITE_HEADER),
    masterKeyId,
    siteKeyId,
    siteKeySiteId: siteKeySiteIdOf(siteKey),
  };
}

/** Decodes the token text into bytes and routes it by version (rule 2). */
function decode(token: string, keys: DecryptionKeys): DecodedToken | DecryptionStatus {
  const header = decodeHeader(token);
  if (header < 0) return DecryptionStatus.InvalidPayload;
  const version = (header >>> 8) & 0xff;

  if (header >>> 16 === V2_VERSION_BYTE) {
    const bytes = decodeBase64Strict(token, 'standard');
    return bytes ? decodeV2(bytes, keys) : DecryptionStatus.InvalidPayload;
  }
  if (version === V3_VERSION_BYTE) {
    const bytes = decodeBase64Strict(token, 'standard');
    return bytes ? decodeV3(bytes, keys, 3) : DecryptionStatus.InvalidPayload;
  }
  if (version === V4_VERSION_BYTE) {
    // v4 is specified as base64url, but standard base64 (padded or not) is accepted too.
    const bytes = decodeBase64Strict(token, 'either');
    return bytes ? decodeV3(bytes, keys, 4) : DecryptionStatus.InvalidPayload;
  }
  return DecryptionStatus.VersionNotSupported;
}

/**
 * Runs every decryption rule on `token`. Returns the failing status when the token did not
 * decrypt fully, else the decoded token with the status rules 7-9 gave it.
 */
export function evaluateToken(
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
): DecryptionStatus | CheckedToken {
  // Rule 1: keys.
  const keysStatus = keysRule(keys, nowMs);
  if (keysStatus !== undefined) return keysStatus;
  // Rule 2: shape (here), then base64 and version (decode).
  if (!hasTokenShape(token)) return DecryptionStatus.InvalidPayload;
  // Rules 3-6: scope, master key, site key, both layers.
  const decoded = decode(token, keys!);
  if (typeof decoded === 'string') return decoded;

  const checked = decoded as CheckedToken;
  checked.isClientSideGenerated = (decoded.privacyBits & PRIVACY_BIT_CLIENT_SIDE_GENERATED) !== 0;
  checked.status = applyPolicyRules(keys!, clientType, domainOrAppName, nowMs, checked);
  return checked;
}

/**
 * Decrypts an advertising token under the rules of `clientType`. Never throws.
 *
 * @param token advertising token text; any other value is `InvalidPayload`
 * @param keys the key set in force, or `undefined`/`null` when none was ever loaded
 * @param domainOrAppName where the token was seen, checked for client-side generated tokens
 * @param nowMs the current time, Unix milliseconds
 */
export function decryptToken(
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
): DecryptionResult {
  return decryptionResult(evaluateToken(token, keys, clientType, domainOrAppName, nowMs));
}

/** The public result of an `evaluateToken()` outcome. */
function decryptionResult(outcome: DecryptionStatus | CheckedToken): DecryptionResult {
  if (typeof outcome === 'string') return failure(outcome);
  return checkedResult(
    outcome.status,
    outcome.version,
    outcome.identityType,
    outcome.isClientSideGenerated,
    outcome.siteId,
    outcome.siteKeySiteId,
    outcome.establishedMs,
    outcome.expiresMs,
    outcome.status === DecryptionStatus.Success ? rawUidText(outcome.version, outcome.uidBytes) : undefined,
  );
}

/** decryptToken() reporting its findings too (for the token cache's misses). */
export const findToken: FindingDecryptor = (token, keys, clientType, domainOrAppName, nowMs) => {
  const outcome = evaluateToken(token, keys, clientType, domainOrAppName, nowMs);
  const result = decryptionResult(outcome);
  if (typeof outcome === 'string') return { result, found: undefined };
  return {
    result,
    found: {
      version: outcome.version,
      identityType: outcome.identityType,
      isClientSideGenerated: outcome.isClientSideGenerated,
      siteId: outcome.siteId,
      establishedMs: outcome.establishedMs,
      expiresMs: outcome.expiresMs,
      generatedMs: outcome.generatedMs,
      uid: result.uid ?? outcome.uidBytes,
      masterKeyId: outcome.masterKeyId,
      siteKeyId: outcome.siteKeyId,
    },
  };
};
