/**
 * An immutable, validated set of decryption keys plus the policy fields that came with them.
 * Built only by `parseKeys()` (keys/parse.ts), so a KeySet is always complete and consistent.
 */
import { inspect } from 'node:util';
import type { IdentityScope } from '../types.js';

/** One AES-256 key. Times are Unix seconds, as in the service's JSON. */
export interface Key {
  readonly id: number;
  /** Keyset the key belongs to (bidstream/sharing responses); absent in the legacy form. */
  readonly keysetId: number | undefined;
  /** Site the key belongs to (legacy key-list form only). */
  readonly siteId: number | undefined;
  readonly created: number;
  readonly activates: number;
  readonly expires: number;
  /** The 32 key bytes. Not an own property, so it never shows in JSON.stringify or console output. */
  readonly secret: Buffer;
}

/**
 * The Key implementation: one class (one hidden shape, cheap to build by the thousand) with the
 * secret in a private field behind a prototype getter.
 */
export class KeyRecord implements Key {
  readonly #secret: Buffer;
  constructor(
    readonly id: number,
    readonly keysetId: number | undefined,
    readonly siteId: number | undefined,
    readonly created: number,
    readonly activates: number,
    readonly expires: number,
    secret: Buffer,
  ) {
    this.#secret = secret;
    Object.freeze(this);
  }

  get secret(): Buffer {
    return this.#secret;
  }

  /** Redacted in every inspect mode (showHidden and getters included). */
  [inspect.custom](): string {
    const { id, keysetId, siteId, created, activates, expires } = this;
    return `Key ${JSON.stringify({ id, keysetId, siteId, created, activates, expires })} [secret redacted]`;
  }
}

/** The fields of a key response that are not keys. */
export interface KeySetPolicy {
  identityScope: IdentityScope;
  allowClockSkewSeconds: number;
  /** `Infinity` when the service sets no limit. */
  maxBidstreamLifetimeSeconds: number;
  maxSharingLifetimeSeconds: number;
  callerSiteId: number | undefined;
  masterKeysetId: number | undefined;
  defaultKeysetId: number | undefined;
  tokenExpirySeconds: number;
}

export const DEFAULT_ALLOW_CLOCK_SKEW_SECONDS = 1800;
export const DEFAULT_TOKEN_EXPIRY_SECONDS = 30 * 24 * 60 * 60;

export class KeySet implements KeySetPolicy {
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

  readonly #byId: Map<number, Key>;
  readonly #keys: readonly Key[];
  /** Per keyset, its keys sorted by activation time (for active-key binary search). */
  readonly #byKeyset: Map<number, readonly Key[]>;
  /** Per site, its allowed domain and app names, lower-cased. */
  readonly #domainsBySite: Map<number, ReadonlySet<string>>;
  readonly #siteData: ReadonlyMap<number, readonly string[]>;

  /** @internal Use `parseKeys()`. */
  constructor(keys: readonly Key[], policy: KeySetPolicy, siteData: ReadonlyMap<number, readonly string[]>) {
    this.identityScope = policy.identityScope;
    this.allowClockSkewSeconds = policy.allowClockSkewSeconds;
    this.maxBidstreamLifetimeSeconds = policy.maxBidstreamLifetimeSeconds;
    this.maxSharingLifetimeSeconds = policy.maxSharingLifetimeSeconds;
    this.callerSiteId = policy.callerSiteId;
    this.masterKeysetId = policy.masterKeysetId;
    this.defaultKeysetId = policy.defaultKeysetId;
    this.tokenExpirySeconds = policy.tokenExpirySeconds;

    this.#keys = Object.freeze([...keys]);
    this.#byId = new Map();
    const byKeyset = new Map<number, Key[]>();
    let latest = -Infinity;
    for (const key of keys) {
      this.#byId.set(key.id, key);
      if (key.keysetId !== undefined) {
        let list = byKeyset.get(key.keysetId);
        if (!list) byKeyset.set(key.keysetId, (list = []));
        list.push(key);
      }
      if (key.expires * 1000 > latest) latest = key.expires * 1000;
    }
    for (const list of byKeyset.values()) list.sort((a, b) => a.activates - b.activates);
    this.#byKeyset = byKeyset;
    this.latestKeyExpiryMs = latest;

    this.#siteData = siteData;
    this.#domainsBySite = new Map();
    for (const [siteId, names] of siteData) {
      this.#domainsBySite.set(siteId, new Set(names.map((n) => n.toLowerCase())));
    }
    Object.freeze(this);
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.length;
  }

  /** All keys, in the order the service sent them. */
  keys(): readonly Key[] {
    return this.#keys;
  }

  /** The key with this id, whether or not it is active or expired. O(1). */
  getKey(id: number): Key | undefined {
    return this.#byId.get(id);
  }

  /** Keyset ids present in the key set. */
  keysetIds(): number[] {
    return [...this.#byKeyset.keys()];
  }

  /**
   * The active key of a keyset at `nowMs`: activates <= now < expires; among those, the latest
   * activation wins. Binary search on the activation-sorted list.
   */
  getActiveKey(keysetId: number, nowMs: number): Key | undefined {
    const list = this.#byKeyset.get(keysetId);
    if (!list) return undefined;
    // First index whose activation is after now.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.activates * 1000 > nowMs) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const key = list[i]!;
      if (nowMs < key.expires * 1000) return key;
    }
    return undefined;
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
    return this.#siteData.get(siteId);
  }

  /** Site ids that have site data. */
  siteIds(): number[] {
    return [...this.#siteData.keys()];
  }

  /** Case-insensitive check of a domain or app name against the site's list. */
  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | null | undefined): boolean {
    if (typeof domainOrAppName !== 'string') return false;
    const names = this.#domainsBySite.get(siteId);
    return names !== undefined && names.has(domainOrAppName.toLowerCase());
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
      keysets: this.#byKeyset.size,
      sites: this.#siteData.size,
      latestKeyExpiry: Number.isFinite(this.latestKeyExpiryMs) ? new Date(this.latestKeyExpiryMs).toISOString() : null,
    };
  }

  [inspect.custom](): string {
    return `KeySet ${JSON.stringify(this.toJSON())}`;
  }
}
