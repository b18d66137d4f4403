/**
 * In-process decryption: what the clients, the free functions and DecryptionEngine with
 * `threads: 0` call for each token. With the native backend, one addon call per token does
 * strict base64 and rules 2-6 (the C++ code that fills the engine's batch records), writing the
 * decoded fields into a reused scratch array; rules 1 and 7-9 run here in TypeScript, the same
 * applyPolicyRules() every backend ends in, in the order of decryptToken(). With node-crypto it is
 * decryptToken() itself.
 *
 * The addon reads keys from the KeySet's own snapshot (keys/snapshot.ts via snapshotOf(): already
 * there for a key set refreshed on the refresh worker, else encoded on its first use), numbered
 * here in a WeakMap, so the snapshot lives exactly as long as its key set; the addon keeps
 * prepared cipher contexts for the few snapshots used most recently and frees them once their
 * snapshot is collected (native/src/inline.h).
 */
import { findWithTypeScript, type FindingDecryptor } from '../cache/cached-decrypt.js';
import { NativeUnavailableError } from '../errors.js';
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { KeySet, snapshotOf as keySetSnapshot } from '../keys/key-set.js';
import { type TokenDecryptor, applyPolicyRules, checkedResult, decryptToken, failure, type PolicyFields } from '../token/decrypt.js';
import { MAX_TOKEN_LENGTH, PRIVACY_BIT_CLIENT_SIDE_GENERATED } from '../token/layout.js';
import { type AdvertisingTokenVersion, type ClientType, type DecryptionResult, DecryptionStatus, type IdentityType } from '../types.js';
import type { CryptoBackend } from './backend.js';
import { loadNative, nativeUnavailableReason, type NativeAddon } from './load.js';

// Where decodeOne() writes a decoded token's fields (native/src/addon.cc, enum Scratch).
const INLINE_VERSION = 0;
const INLINE_IDENTITY_TYPE = 1;
const INLINE_SITE_ID = 2;
const INLINE_PRIVACY_BITS = 3;
const INLINE_ESTABLISHED = 4;
const INLINE_EXPIRES = 5;
const INLINE_GENERATED = 6;
// The master and site key ids (what the token cache vouches with).
const INLINE_MASTER_KEY_ID = 7;
const INLINE_SITE_KEY_ID = 8;
const INLINE_SLOTS = 9;

/** Status codes of the addon: the DecryptionStatus declaration order (native/src/batch.h). */
const STATUS_BY_CODE: readonly DecryptionStatus[] = Object.values(DecryptionStatus);

const scratch = new Float64Array(INLINE_SLOTS);
/** Reused for every token: applyPolicyRules() only reads it. */
const policy: PolicyFields = { expiresMs: 0, generatedMs: undefined, siteId: 0, isClientSideGenerated: false };

interface Snapshot {
  readonly sab: SharedArrayBuffer;
  readonly version: number;
}
const snapshots = new WeakMap<KeySet, Snapshot>();
let nextVersion = 1;

function snapshotOf(keySet: KeySet): Snapshot {
  let snapshot = snapshots.get(keySet);
  if (!snapshot) {
    const version = nextVersion++;
    snapshot = { sab: keySetSnapshot(keySet), version };
    snapshots.set(keySet, snapshot);
  }
  return snapshot;
}

let addon: NativeAddon | null = null;

/**
 * Rules 1-6 with the addon: a failure result, or the raw UID text with `scratch` holding the
 * decoded fields; `undefined` for keys that are not a KeySet (the caller then uses TypeScript).
 */
function decodeNative(token: unknown, keys: DecryptionKeys | null | undefined, nowMs: number): DecryptionResult | string | undefined {
  // Rule 1: keys.
  if (!keys) return failure(DecryptionStatus.NotInitialized);
  // Snapshots are made from KeySets; any other DecryptionKeys goes through the TypeScript decoder.
  if (!(keys instanceof KeySet)) return undefined;
  if (!keys.isValid(nowMs)) return failure(DecryptionStatus.KeysNotSynced);
  // Rule 2: shape (the addon checks the length again, and the version).
  if (typeof token !== 'string' || token.length < 4 || token.length > MAX_TOKEN_LENGTH) {
    return failure(DecryptionStatus.InvalidPayload);
  }
  // Rules 2-6 in the addon.
  const snapshot = snapshotOf(keys);
  const uid = addon!.decodeOne(token, snapshot.sab, snapshot.version, scratch);
  return typeof uid === 'number' ? failure(STATUS_BY_CODE[uid]!) : uid;
}

function scratchIdentityType(): IdentityType | undefined {
  const code = scratch[INLINE_IDENTITY_TYPE];
  return code === 0 ? undefined : code === 2 ? 'Phone' : 'Email';
}

/** Rules 7-9 on the fields decodeNative() left in `scratch`. */
function resultFromScratch(uid: string, keys: DecryptionKeys, clientType: ClientType, domainOrAppName: string | null | undefined, nowMs: number): DecryptionResult {
  const version = scratch[INLINE_VERSION] as AdvertisingTokenVersion;
  policy.expiresMs = scratch[INLINE_EXPIRES]!;
  policy.generatedMs = version === 2 ? undefined : scratch[INLINE_GENERATED]!;
  policy.siteId = scratch[INLINE_SITE_ID]!;
  policy.isClientSideGenerated = (scratch[INLINE_PRIVACY_BITS]! & PRIVACY_BIT_CLIENT_SIDE_GENERATED) !== 0;
  return checkedResult(
    applyPolicyRules(keys, clientType, domainOrAppName, nowMs, policy),
    version,
    scratchIdentityType(),
    policy.isClientSideGenerated,
    policy.siteId,
    scratch[INLINE_ESTABLISHED]!,
    policy.expiresMs,
    uid,
  );
}

function decryptNative(
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
): DecryptionResult {
  const decoded = decodeNative(token, keys, nowMs);
  if (decoded === undefined) return decryptToken(token, keys, clientType, domainOrAppName, nowMs);
  if (typeof decoded !== 'string') return decoded;
  return resultFromScratch(decoded, keys!, clientType, domainOrAppName, nowMs);
}

/** decryptNative() reporting its findings too, for the token cache. */
const findNative: FindingDecryptor = (token, keys, clientType, domainOrAppName, nowMs) => {
  const decoded = decodeNative(token, keys, nowMs);
  if (decoded === undefined) return findWithTypeScript(token, keys, clientType, domainOrAppName, nowMs);
  if (typeof decoded !== 'string') return { result: decoded, found: undefined };
  const result = resultFromScratch(decoded, keys!, clientType, domainOrAppName, nowMs);
  const version = scratch[INLINE_VERSION] as AdvertisingTokenVersion;
  return {
    result,
    found: {
      version,
      identityType: scratchIdentityType(),
      isClientSideGenerated: policy.isClientSideGenerated,
      siteId: policy.siteId,
      establishedMs: scratch[INLINE_ESTABLISHED]!,
      expiresMs: policy.expiresMs,
      generatedMs: policy.generatedMs,
      uid: decoded,
      masterKeyId: scratch[INLINE_MASTER_KEY_ID]!,
      siteKeyId: scratch[INLINE_SITE_KEY_ID]!,
    },
  };
};

/**
 * The in-process decrypt function of `backend` (resolveBackend()): same signature, statuses and
 * fields as decryptToken(), which is what `node-crypto` returns.
 * @throws NativeUnavailableError when `backend` is `native` and the addon does not load
 */
export function inProcessDecryptor(backend: CryptoBackend): TokenDecryptor {
  if (backend === 'node-crypto') return decryptToken;
  addon ??= loadNative();
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable: ${nativeUnavailableReason()}`);
  return decryptNative;
}

/**
 * The same decryption as inProcessDecryptor(backend), reporting what it found (for the token
 * cache's misses).
 * @throws NativeUnavailableError when `backend` is `native` and the addon does not load
 */
export function inProcessFinder(backend: CryptoBackend): FindingDecryptor {
  if (backend === 'node-crypto') return findWithTypeScript;
  addon ??= loadNative();
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable: ${nativeUnavailableReason()}`);
  return findNative;
}
