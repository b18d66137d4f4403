/** Sharing: encrypting a raw UID into a v4 advertising token with the caller's sharing keys. */
import type { KeySet } from '../keys/key-set.js';
import { EncryptionStatus, type EncryptionResult, type IdentityScope, type IdentityType } from '../types.js';
import { encodeAdvertisingToken, rawUidBytes } from './encode.js';

/** Raw UIDs are 32 bytes (44 base64 characters); anything far longer is not a raw UID. */
const MAX_RAW_UID_LENGTH = 1024;

/** Phone raw UIDs begin with 'F' or 'B' in their base64 form. */
function identityTypeOfRawUid(rawUid: string): IdentityType {
  const first = rawUid.charAt(0);
  return first === 'F' || first === 'B' ? 'Phone' : 'Email';
}

/**
 * Encrypts `rawUid` (base64 text) into a v4 token (base64url, no padding) at `nowMs`.
 * @param identityScope defaults to the key set's scope
 */
export function encryptRawUid(
  rawUid: unknown,
  keys: KeySet | null | undefined,
  nowMs: number,
  identityScope?: IdentityScope,
): EncryptionResult {
  if (!keys) return { status: EncryptionStatus.NotInitialized };
  if (!keys.isValid(nowMs)) return { status: EncryptionStatus.KeysNotSynced };
  const masterKey = keys.getMasterKey(nowMs);
  if (!masterKey) return { status: EncryptionStatus.NotAuthorizedForMasterKey };
  const siteKey = keys.getDefaultKey(nowMs);
  if (!siteKey) return { status: EncryptionStatus.NotAuthorizedForKey };

  if (typeof rawUid !== 'string' || rawUid.length === 0 || rawUid.length > MAX_RAW_UID_LENGTH) {
    return { status: EncryptionStatus.EncryptionFailure };
  }
  const uid = rawUidBytes(rawUid);
  if (!uid || uid.length === 0) return { status: EncryptionStatus.EncryptionFailure };
  try {
    const encryptedData = encodeAdvertisingToken({
      version: 4,
      masterKey,
      siteKey,
      rawUid: uid,
      siteId: keys.callerSiteId ?? 0,
      expiresMs: nowMs + keys.tokenExpirySeconds * 1000,
      generatedMs: nowMs,
      establishedMs: nowMs,
      refreshedMs: nowMs,
      identityScope: identityScope ?? keys.identityScope,
      identityType: identityTypeOfRawUid(rawUid),
      operatorType: 1,
    });
    return { status: EncryptionStatus.Success, encryptedData };
  } catch {
    return { status: EncryptionStatus.EncryptionFailure };
  }
}
