/**
 * The native backend's in-process decoder, one token per call: what the in-process decryptor
 * (in-process/decryptor.ts) runs per token with this backend. One addon call does strict base64
 * and rules 2-6 (the C++ code that fills the engine's batch records), writing the decoded fields
 * into a reused scratch array; rules 1 and 7-9 run here, from token/rules.ts, in the order of
 * decryptToken().
 *
 * The addon reads keys from the KeySet's own snapshot (keys/snapshot.ts via snapshotOf(): already
 * there for a key set refreshed on the refresh worker, else encoded on its first use), numbered
 * here in a WeakMap, so the snapshot lives exactly as long as its key set; the addon keeps
 * prepared cipher contexts for the few snapshots used most recently and frees them once their
 * snapshot is collected (native/src/inline.h).
 */
import { NativeUnavailableError } from '../errors.js';
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { KeySet, snapshotOf as keySetSnapshot } from '../keys/key-set.js';
import { decryptToken, findToken } from '../token/decrypt.js';
import { PRIVACY_BIT_CLIENT_SIDE_GENERATED } from '../token/layout.js';
import {
  STATUS_BY_CODE,
  checkedResult,
  failure,
  identityTypeOf,
  type FindingDecryptor,
  type TokenDecoder,
  type TokenDecryptor,
} from '../token/result.js';
import { applyPolicyRules, hasTokenShape, keysRule, type PolicyFields } from '../token/rules.js';
import { type AdvertisingTokenVersion, type ClientType, type DecryptionResult, DecryptionStatus } from '../types.js';
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
  // Snapshots are made from KeySets; anything else (no keys included) goes through the TypeScript
  // decoder, which gives the same answer.
  if (!(keys instanceof KeySet)) return undefined;
  // Rule 1: keys.
  const keysStatus = keysRule(keys, nowMs);
  if (keysStatus !== undefined) return failure(keysStatus);
  // Rule 2: shape (the addon checks the length again, and the version).
  if (!hasTokenShape(token)) return failure(DecryptionStatus.InvalidPayload);
  // Rules 2-6 in the addon.
  const snapshot = snapshotOf(keys);
  const uid = addon!.decodeOne(token, snapshot.sab, snapshot.version, scratch);
  return typeof uid === 'number' ? failure(STATUS_BY_CODE[uid]!) : uid;
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
    identityTypeOf(scratch[INLINE_IDENTITY_TYPE]!),
    policy.isClientSideGenerated,
    policy.siteId,
    scratch[INLINE_ESTABLISHED]!,
    policy.expiresMs,
    uid,
  );
}

const decryptNative: TokenDecryptor = (token, keys, clientType, domainOrAppName, nowMs) => {
  const decoded = decodeNative(token, keys, nowMs);
  if (decoded === undefined) return decryptToken(token, keys, clientType, domainOrAppName, nowMs);
  if (typeof decoded !== 'string') return decoded;
  return resultFromScratch(decoded, keys!, clientType, domainOrAppName, nowMs);
};

/** decryptNative() reporting its findings too, for the token cache. */
const findNative: FindingDecryptor = (token, keys, clientType, domainOrAppName, nowMs) => {
  const decoded = decodeNative(token, keys, nowMs);
  if (decoded === undefined) return findToken(token, keys, clientType, domainOrAppName, nowMs);
  if (typeof decoded !== 'string') return { result: decoded, found: undefined };
  const result = resultFromScratch(decoded, keys!, clientType, domainOrAppName, nowMs);
  const version = scratch[INLINE_VERSION] as AdvertisingTokenVersion;
  return {
    result,
    found: {
      version,
      identityType: identityTypeOf(scratch[INLINE_IDENTITY_TYPE]!),
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
 * The native decoder: decryptToken()'s signature, statuses and fields, rules 2-6 in the addon.
 * @throws NativeUnavailableError when the addon does not load
 */
export function nativeDecoder(): TokenDecoder {
  addon ??= loadNative();
  if (!addon) throw new NativeUnavailableError(`the native addon is unavailable: ${nativeUnavailableReason()}`);
  return NATIVE;
}

const NATIVE: TokenDecoder = Object.freeze({ decrypt: decryptNative, find: findNative });
