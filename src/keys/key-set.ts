/**
 * An immutable, validated set of decryption keys plus the policy fields that came with them.
 * Built by `parseKeys()` (keys/parse.ts, over a KeyList) on the calling thread, or over a
 * snapshot that the refresh worker encoded off the main thread (service/refresh-thread.ts);
 * either way it is complete and consistent, and it behaves the same.
 *
 * Its shared-memory form (`snapshotOf()`, keys/snapshot.ts) is what the engine hands its
 * workers: encoded once per KeySet (lazily for a parsed one; a snapshot-built one already is
 * its snapshot), whatever the number of engines that publish it.
 */
import { inspect } from 'node:util';
import type { IdentityScope } from '../types.js';
import type { DecryptionKeys } from './decryption-keys.js';
import type { Key, KeyIndex, KeySetPolicy } from './key.js';
import { SnapshotKeys, encodeSnapshot } from './snapshot.js';

export const DEFAULT_ALLOW_CLOCK_SKEW_SECONDS = 1800;
export const DEFAULT_TOKEN_EXPIRY_SECONDS = 30 * 24 * 60 * 60;

let snapshotOfKeySet: (keySet: KeySet) => SharedArrayBuffer;

export class KeySet implements KeySetPolicy, DecryptionKeys {
  readonly identityScope: IdentityScope;
  readonly allowClockSkewSeconds: number;
  readonly maxBidstreamLifetimeSeconds: number;
  readonly maxSharingLifetimeSeconds: number;
  readonly callerSiteId: number | undefined;
  readonly masterKeysetId: number | undefined;
  readonly defaultKeysetId: number | undefined;
  readonly tokenExpirySeconds: number;
  /** Expiry of the longest-lived key, Unix ms (`-Infinity` with no keys). */
  readonly latestKeyExpiryMs: number;

  readonly #index: KeyIndex;
  /** The shared-memory form; encoded on first demand for a parsed key set. */
  #snapshot: SharedArrayBuffer | undefined;

  static {
    snapshotOfKeySet = (keySet) => (keySet.#snapshot ??= encodeSnapshot(keySet));
  }

  /** @internal Use `parseKeys()`. `index`: a KeyList (parsed keys) or SnapshotKeys (a snapshot). */
  constructor(policy: KeySetPolicy, index: KeyIndex, snapshot?: SharedArrayBuffer) {
    this.identityScope = policy.identityScope;
    this.allowClockSkewSeconds = policy.allowClockSkewSeconds;
    this.maxBidstreamLifetimeSeconds = policy.maxBidstreamLifetimeSeconds;
    this.maxSharingLifetimeSeconds = policy.maxSharingLifetimeSeconds;
    this.callerSiteId = policy.callerSiteId;
    this.masterKeysetId = policy.masterKeysetId;
    this.defaultKeysetId = policy.defaultKeysetId;
    this.tokenExpirySeconds = policy.tokenExpirySeconds;
    this.latestKeyExpiryMs = index.latestKeyExpiryMs;
    this.#index = index;
    this.#snapshot = snapshot;
    Object.freeze(this);
  }

  /** Number of keys. */
  get size(): number {
    return this.#index.size;
  }

  /** All keys, in the order the service sent them. */
  keys(): readonly Key[] {
    return this.#index.keys();
  }

  /** The key with this id, whether or not it is active or expired. O(1). */
  getKey(id: number): Key | undefined {
    return this.#index.getKey(id);
  }

  /** Keyset ids present in the key set, in order of first appearance. */
  keysetIds(): number[] {
    return this.#index.keysetIds();
  }

  /**
   * The active key of a keyset at `nowMs`: activates <= now < expires; among those, the latest
   * activation wins. Binary search on the activation-sorted list.
   */
  getActiveKey(keysetId: number, nowMs: number): Key | undefined {
    return this.#index.getActiveKey(keysetId, nowMs);
  }

  /** Active key of `master_keyset_id` (sharing key sets only). */
  getMasterKey(nowMs: number): Key | undefined {
    return this.masterKeysetId === undefined ? undefined : this.getActiveKey(this.masterKeysetId, nowMs);
  }

  /** Active key of `default_keyset_id` (sharing key sets only). */
  getDefaultKey(nowMs: number): Key | undefined {
    return this.defaultKeysetId === undefined ? undefined : this.getActiveKey(this.defaultKeysetId, nowMs);
  }

  /** Domain and app names the site may use client-side generated tokens on, as sent. */
  getDomainNames(siteId: number): readonly string[] | undefined {
    return this.#index.getDomainNames(siteId);
  }

  /** Site ids that have site data. */
  siteIds(): number[] {
    return this.#index.siteIds();
  }

  /** Case-insensitive check of a domain or app name against the site's list. */
  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | null | undefined): boolean {
    return typeof domainOrAppName === 'string' && this.#index.isDomainOrAppNameAllowed(siteId, domainOrAppName);
  }

  /** False once every key has expired: decryption then reports `KeysNotSynced`. */
  isValid(nowMs: number): boolean {
    return nowMs < this.latestKeyExpiryMs;
  }

  /** A summary without any secret, for logs and `console.log`. */
  toJSON(): Record<string, unknown> {
    return {
      identityScope: this.identityScope,
      keys: this.size,
      keysets: this.#index.keysetCount,
      sites: this.#index.siteCount,
      latestKeyExpiry: Number.isFinite(this.latestKeyExpiryMs) ? new Date(this.latestKeyExpiryMs).toISOString() : null,
    };
  }

  [inspect.custom](): string {
    return `KeySet ${JSON.stringify(this.toJSON())}`;
  }
}

/**
 * A key set over a complete snapshot, in O(1): lookups read the shared memory in place and build
 * a Key object only for a key actually asked for.
 * @throws Error when `snapshot` is not a complete key snapshot
 */
export function keySetFromSnapshot(snapshot: SharedArrayBuffer): KeySet {
  const keys = new SnapshotKeys(snapshot);
  return new KeySet(keys.policy(), keys, snapshot);
}

/**
 * The key set's shared-memory form, for the engine's workers and the native addon: the same
 * buffer on every call (encoded on the first for a parsed key set), never written again. The
 * snapshot carries no version: whoever publishes it numbers its own publications.
 */
export function snapshotOf(keySet: KeySet): SharedArrayBuffer {
  return snapshotOfKeySet(keySet);
}
