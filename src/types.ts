/**
 * Public value types shared by the token codec, the clients and (later) the engine.
 * Statuses are string enums so that they print, log and serialise as their names.
 */

/** Outcome of decrypting an advertising token. Mirrors the official UID2 SDKs. */
export enum DecryptionStatus {
  Success = 'Success',
  NotAuthorizedForMasterKey = 'NotAuthorizedForMasterKey',
  NotAuthorizedForKey = 'NotAuthorizedForKey',
  NotInitialized = 'NotInitialized',
  InvalidPayload = 'InvalidPayload',
  ExpiredToken = 'ExpiredToken',
  KeysNotSynced = 'KeysNotSynced',
  VersionNotSupported = 'VersionNotSupported',
  InvalidIdentityScope = 'InvalidIdentityScope',
  InvalidTokenLifetime = 'InvalidTokenLifetime',
  DomainOrAppNameCheckFailed = 'DomainOrAppNameCheckFailed',
}

/** Outcome of encrypting a raw UID into a sharing token. */
export enum EncryptionStatus {
  Success = 'Success',
  NotAuthorizedForMasterKey = 'NotAuthorizedForMasterKey',
  NotAuthorizedForKey = 'NotAuthorizedForKey',
  NotInitialized = 'NotInitialized',
  KeysNotSynced = 'KeysNotSynced',
  EncryptionFailure = 'EncryptionFailure',
}

/** UID2 (global) or EUID (Europe). Encoded as bit 4 of a v3/v4 token's first byte. */
export type IdentityScope = 'UID2' | 'EUID';

/** Email or phone identity: bits 2-3 of a v3/v4 token's first byte, 0 Email, any other value Phone. */
export type IdentityType = 'Email' | 'Phone';

/** Advertising token format version. */
export type AdvertisingTokenVersion = 2 | 3 | 4;

/**
 * Which rule set a decryption follows:
 * - `bidstream`: CSTG tokens need an allowed domain or app name; bidstream lifetime limit.
 * - `sharing`: sharing lifetime limit; no domain check.
 * - `legacy`: no lifetime checks; CSTG domain check as bidstream.
 */
export type ClientType = 'bidstream' | 'sharing' | 'legacy';

/** A point in time: a Date, or Unix milliseconds. */
export type TimeInput = Date | number;

/**
 * Result of decrypting one advertising token.
 *
 * `uid` is present only on `Success`. The token's metadata (site id, times, version, ...) is also
 * present on the statuses reached after both layers decrypted (`ExpiredToken`,
 * `DomainOrAppNameCheckFailed`, `InvalidTokenLifetime`), to help diagnose them; it is absent for
 * every earlier failure.
 */
export interface DecryptionResult {
  status: DecryptionStatus;
  /** The raw UID: base64 of the raw UID bytes (v3/v4) or the identity string (v2). */
  uid?: string;
  established?: Date;
  siteId?: number;
  /**
   * The site of the key that decrypted the token's inner (site) layer: that key's `site_id` in the
   * key JSON. Keys of the legacy key list carry one; bidstream and sharing keys belong to keysets
   * and carry none, which reads 0, as the Java SDK's `getSiteKeySiteId()` answers (Python's
   * `site_key_site_id` gives -1 there). Present whenever `siteId` is.
   */
  siteKeySiteId?: number;
  /** Absent for v2 tokens, which do not carry the identity type. */
  identityType?: IdentityType;
  advertisingTokenVersion?: AdvertisingTokenVersion;
  isClientSideGenerated?: boolean;
  expiry?: Date;
  /**
   * Set only when an opt-out store is configured (undefined otherwise): true when the raw UID
   * opted out (its `uid` is then withheld unless the caller asked to keep it), else false.
   */
  optedOut?: boolean;
}

/** Result of encrypting a raw UID. `encryptedData` (the v4 token) is present only on `Success`. */
export interface EncryptionResult {
  status: EncryptionStatus;
  encryptedData?: string;
}
