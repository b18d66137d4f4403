/**
 * What a decryption found and the public result built from it: the one home of the status and
 * identity-type codes (the numbers the native addon, the engine's shared-memory records and the
 * token cache store), of "what decryption found" (the fields the token cache keeps), and of
 * DecryptionResult building, so that every path answers with identical objects, field for field.
 */
import { type AdvertisingTokenVersion, type ClientType, type DecryptionResult, DecryptionStatus, type IdentityType } from '../types.js';
import type { DecryptionKeys } from '../keys/decryption-keys.js';

/**
 * Status codes: the index into this list, the DecryptionStatus declaration order. The native
 * addon (native/src/batch.h) and the engine's result records (engine/wire/slot.ts) use them.
 */
export const STATUS_BY_CODE: readonly DecryptionStatus[] = Object.freeze(Object.values(DecryptionStatus));
export const CODE_BY_STATUS: ReadonlyMap<DecryptionStatus, number> = new Map(STATUS_BY_CODE.map((s, i) => [s, i]));
export const SUCCESS_CODE = CODE_BY_STATUS.get(DecryptionStatus.Success)!;

/** Identity-type codes: none (v2 carries no type), Email, Phone. */
const IDENTITY_NONE = 0;
const IDENTITY_EMAIL = 1;
const IDENTITY_PHONE = 2;

export function identityTypeOf(code: number): IdentityType | undefined {
  return code === IDENTITY_NONE ? undefined : code === IDENTITY_PHONE ? 'Phone' : 'Email';
}

export function identityCodeOf(type: IdentityType | undefined): number {
  return type === undefined ? IDENTITY_NONE : type === 'Phone' ? IDENTITY_PHONE : IDENTITY_EMAIL;
}

/** What decrypting a token found once both layers decrypted, in plain fields (what the token cache keeps). */
export interface TokenFindings {
  version: AdvertisingTokenVersion;
  /** `undefined` for v2. */
  identityType: IdentityType | undefined;
  isClientSideGenerated: boolean;
  siteId: number;
  establishedMs: number;
  expiresMs: number;
  /** `undefined` for v2, which carries no generation time. */
  generatedMs: number | undefined;
  /**
   * The raw UID: its bytes (v3/v4 raw bytes, v2 UTF-8 identity) or its text as `DecryptionResult`
   * shows it (base64 for v3/v4, the identity for v2). Text must be a string made from the
   * decrypted bytes, not a slice of a larger string (which a cache would keep alive).
   */
  uid: string | Uint8Array;
  /** Ids of the master and site keys that decrypted the two layers. */
  masterKeyId: number;
  siteKeyId: number;
}

/** A decryption's result and, when both layers decrypted, its findings. */
interface Finding {
  result: DecryptionResult;
  found: TokenFindings | undefined;
}

/** decryptToken()'s signature: every in-process decryption path is one of these. */
export type TokenDecryptor = (
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
) => DecryptionResult;

/** decryptToken()'s signature, returning the findings too (for the token cache's misses). */
export type FindingDecryptor = (...args: Parameters<TokenDecryptor>) => Finding;

/** One backend's in-process decoder (native/backend.ts decoderOf): the same decryption, with or without findings. */
export interface TokenDecoder {
  readonly decrypt: TokenDecryptor;
  readonly find: FindingDecryptor;
}

const FAILURES = new Map<DecryptionStatus, DecryptionResult>(STATUS_BY_CODE.map((status) => [status, Object.freeze({ status })]));

/** A frozen, shared `{ status }` result: failures before decryption carry nothing else. */
export function failure(status: DecryptionStatus): DecryptionResult {
  return FAILURES.get(status)!;
}

/** The text form of a raw UID: v2 carries it as UTF-8 text, v3/v4 as bytes shown in base64. */
export function rawUidText(version: AdvertisingTokenVersion, uidBytes: Uint8Array): string {
  const buf = Buffer.from(uidBytes.buffer, uidBytes.byteOffset, uidBytes.byteLength);
  return version === 2 ? buf.toString('utf8') : buf.toString('base64');
}

/**
 * The public result for a fully decrypted token, whichever path decrypted it (decoder, native
 * addon, engine record, token cache): one builder keeps them identical, field for field.
 */
export function checkedResult(
  status: DecryptionStatus,
  version: AdvertisingTokenVersion,
  identityType: IdentityType | undefined,
  isClientSideGenerated: boolean,
  siteId: number,
  establishedMs: number,
  expiresMs: number,
  uid: string | undefined,
): DecryptionResult {
  return {
    status,
    uid: status === DecryptionStatus.Success ? uid : undefined,
    established: new Date(establishedMs),
    siteId,
    identityType,
    advertisingTokenVersion: version,
    isClientSideGenerated,
    expiry: new Date(expiresMs),
    // Set by the opt-out check when a store is configured; declared here so that setting it
    // keeps the object's shape (an added property would cost an allocation per result).
    optedOut: undefined,
  };
}
