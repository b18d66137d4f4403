/**
 * The local operator's identities: how an email or phone hash becomes a raw UID, and which
 * identities are opted out. Token generation, token refresh and identity map all ask here, so
 * they agree on every raw UID.
 *
 * The derivation follows the UID2 operator (uid2-operator `TokenUtils`, `UIDOperatorService`):
 *
 *   identity hash    = SHA-256(normalized email or phone)                    (32 bytes)
 *   first-level hash = SHA-256(base64(identity hash) + first-level salt)      (kept in refresh tokens)
 *   raw UID          = SHA-256(base64(first-level hash) + salt of its bucket) (32 bytes, base64)
 *
 * Each first-level hash falls into one of `bucketCount` salt buckets. A bucket's salt rotates
 * when its refresh-from time passes (checked lazily, like the key schedule) or on demand with
 * `rotateSalts()`: the raw UIDs of that bucket change, the old salt is kept so the previous raw
 * UID can be reported for 90 days, and the next refresh-from time moves a rotation period ahead.
 * Initial refresh-from times are spread evenly over one period, so buckets come due one by one.
 *
 * Opt-out, as the operator decides it: the documented test identities (`TEST_IDENTITIES`) always
 * (or on refresh only, or never) opt out; any other identity opts out when its current or
 * previous raw UID is in the operator's opt-out registry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { normalizeAndHashEmail } from '../identity/email.js';
import { normalizeAndHashPhone } from '../identity/phone.js';
import { sha256Base64 } from '../identity/sha256.js';
import type { IdentityType } from '../types.js';

/**
 * The UID2 service's test identities (uid2-operator `IdentityConst`, the "test identities" of
 * the POST /token/generate documentation), the same for UID2 and EUID.
 */
export const TEST_IDENTITIES = Object.freeze({
  /** Always opted out: token generation answers `optout`, identity map reports it unmapped. */
  optOutEmail: 'optout@example.com',
  optOutPhone: '+00000000000',
  /** Tokens are generated, and their first refresh answers `optout`. */
  refreshOptOutEmail: 'refresh-optout@example.com',
  refreshOptOutPhone: '+00000000002',
  /** Never opted out, whatever the registry says. */
  validateEmail: 'validate@example.com',
  validatePhone: '+12345678901',
});

/** The question an opt-out check answers: the refresh-optout identities opt out only on refresh. */
export type IdentityPurpose = 'generate' | 'refresh' | 'map';

/** An identity's raw UIDs as the operator reports them at one time. */
export interface MappedIdentity {
  optedOut: false;
  /** Raw UID from the bucket's current salt (base64 of 32 bytes). */
  rawUid: string;
  /** Raw UID from the bucket's previous salt, for 90 days after a rotation; otherwise null. */
  previousRawUid: string | null;
  /** When the bucket's salt is next due to rotate, Unix ms: map again from then on. */
  refreshFromMs: number;
}

export type IdentityLookup = MappedIdentity | { optedOut: true };

export interface OperatorIdentitiesOptions {
  /** Salt buckets. Default 1024. */
  bucketCount?: number;
  /** How long a salt lives before its bucket is due to rotate, ms. Default 365 days. */
  rotationPeriodMs?: number;
  /** Whether a raw UID is in the opt-out registry. Default: none is. */
  isRawUidOptedOut?: (rawUid: string) => boolean;
}

const DAY_MS = 86_400_000;
/** The previous raw UID is reported this long after its bucket rotated (uid2-operator: 90 days). */
const PREVIOUS_RAW_UID_MS = 90 * DAY_MS;
export const DEFAULT_SALT_BUCKET_COUNT = 1024;
export const DEFAULT_SALT_ROTATION_PERIOD_MS = 365 * DAY_MS;

interface SaltBucket {
  salt: string;
  previousSalt: string | null;
  /** When `salt` became current, Unix ms. */
  rotatedMs: number;
  refreshFromMs: number;
}

function newSalt(): string {
  return randomBytes(32).toString('base64');
}

/** The identity hash of a test identity, as bytes. */
function identityHashOf(type: IdentityType, text: string): Buffer {
  return Buffer.from((type === 'Email' ? normalizeAndHashEmail(text) : normalizeAndHashPhone(text))!, 'base64');
}

export class OperatorIdentities {
  readonly #firstLevelSalt = newSalt();
  readonly #buckets: SaltBucket[];
  readonly #rotationPeriodMs: number;
  readonly #isRawUidOptedOut: (rawUid: string) => boolean;
  /** Earliest refresh-from time of any bucket: nothing rotates by schedule before it. */
  #nextDueMs: number;
  /** First-level hashes (base64) of the test identities, per type and behaviour. */
  readonly #alwaysOptOut: ReadonlySet<string>;
  readonly #refreshOptOut: ReadonlySet<string>;
  readonly #neverOptOut: ReadonlySet<string>;

  constructor(nowMs: number, options: OperatorIdentitiesOptions = {}) {
    const count = options.bucketCount ?? DEFAULT_SALT_BUCKET_COUNT;
    this.#rotationPeriodMs = options.rotationPeriodMs ?? DEFAULT_SALT_ROTATION_PERIOD_MS;
    this.#isRawUidOptedOut = options.isRawUidOptedOut ?? (() => false);
    this.#buckets = Array.from({ length: count }, (_, i) => ({
      salt: newSalt(),
      previousSalt: null,
      rotatedMs: nowMs,
      refreshFromMs: nowMs + Math.floor(((i + 1) * this.#rotationPeriodMs) / count),
    }));
    this.#nextDueMs = this.#earliestRefreshFrom();
    const set = (email: string, phone: string): Set<string> =>
      new Set([this.#key('Email', this.firstLevelHash(identityHashOf('Email', email))), this.#key('Phone', this.firstLevelHash(identityHashOf('Phone', phone)))]);
    const t = TEST_IDENTITIES;
    this.#alwaysOptOut = set(t.optOutEmail, t.optOutPhone);
    this.#refreshOptOut = set(t.refreshOptOutEmail, t.refreshOptOutPhone);
    this.#neverOptOut = set(t.validateEmail, t.validatePhone);
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** The first-level hash of an identity hash (32 bytes: SHA-256 of a normalized email or phone). */
  firstLevelHash(identityHash: Uint8Array): Buffer {
    return createHash('sha256').update(Buffer.from(identityHash).toString('base64')).update(this.#firstLevelSalt).digest();
  }

  /**
   * The identity's raw UIDs at `nowMs`, or `{ optedOut: true }`.
   * @param firstLevelHash from `firstLevelHash()`, or as kept in a refresh token
   */
  lookup(type: IdentityType, firstLevelHash: Uint8Array, nowMs: number, purpose: IdentityPurpose): IdentityLookup {
    this.#rotateDue(nowMs);
    const flh = Buffer.from(firstLevelHash.buffer, firstLevelHash.byteOffset, firstLevelHash.byteLength);
    const flhText = flh.toString('base64');
    const bucket = this.#buckets[flh.readUInt32BE(0) % this.#buckets.length]!;
    const rawUid = sha256Base64(flhText + bucket.salt, false);
    const previousRawUid = bucket.previousSalt !== null && nowMs - bucket.rotatedMs < PREVIOUS_RAW_UID_MS ? sha256Base64(flhText + bucket.previousSalt, false) : null;
    const key = this.#key(type, flh);
    const optedOut = this.#neverOptOut.has(key)
      ? false
      : this.#alwaysOptOut.has(key) ||
        (purpose === 'refresh' && this.#refreshOptOut.has(key)) ||
        (!this.#refreshOptOut.has(key) && (this.#isRawUidOptedOut(rawUid) || (previousRawUid !== null && this.#isRawUidOptedOut(previousRawUid))));
    if (optedOut) return { optedOut: true };
    return { optedOut: false, rawUid, previousRawUid, refreshFromMs: bucket.refreshFromMs };
  }

  /**
   * Rotates the salts of `fraction` of the buckets (at least one; those due soonest first), as
   * if their refresh-from time had come: their raw UIDs change and the old ones become the
   * previous raw UIDs.
   * @returns how many buckets rotated
   */
  rotateSalts(fraction: number, nowMs: number): number {
    const count = Math.max(1, Math.ceil(Math.min(1, fraction) * this.#buckets.length));
    const order = this.#buckets.map((_, i) => i).sort((a, b) => this.#buckets[a]!.refreshFromMs - this.#buckets[b]!.refreshFromMs || a - b);
    for (const i of order.slice(0, count)) this.#rotate(this.#buckets[i]!, nowMs);
    this.#nextDueMs = this.#earliestRefreshFrom();
    return count;
  }

  #earliestRefreshFrom(): number {
    let earliest = Infinity;
    for (const bucket of this.#buckets) earliest = Math.min(earliest, bucket.refreshFromMs);
    return earliest;
  }

  #rotateDue(nowMs: number): void {
    if (nowMs < this.#nextDueMs) return;
    for (const bucket of this.#buckets) if (bucket.refreshFromMs <= nowMs) this.#rotate(bucket, nowMs);
    this.#nextDueMs = this.#earliestRefreshFrom();
  }

  #rotate(bucket: SaltBucket, nowMs: number): void {
    bucket.previousSalt = bucket.salt;
    bucket.salt = newSalt();
    bucket.rotatedMs = nowMs;
    bucket.refreshFromMs = nowMs + this.#rotationPeriodMs;
  }

  /** Test identities match on type and first-level hash, as the operator's `UserIdentity.matches`. */
  #key(type: IdentityType, firstLevelHash: Buffer): string {
    return `${type}:${firstLevelHash.toString('base64')}`;
  }
}
