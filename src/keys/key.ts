/**
 * The parts a key set is made of, shared by its two forms: the key list that `parseKeys()` builds
 * on the calling thread, and the shared-memory snapshot built off it (keys/snapshot.ts). Both
 * answer the same lookups (`KeyIndex`) with the same rules (`groupByKeyset`), so a KeySet behaves
 * the same whichever form holds its keys.
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

/** The lookups a KeySet answers, whichever form holds its keys. */
export interface KeyIndex {
  readonly size: number;
  /** Expiry of the longest-lived key, Unix ms (`-Infinity` with no keys). */
  readonly latestKeyExpiryMs: number;
  readonly keysetCount: number;
  readonly siteCount: number;
  keys(): readonly Key[];
  getKey(id: number): Key | undefined;
  keysetIds(): number[];
  getActiveKey(keysetId: number, nowMs: number): Key | undefined;
  siteIds(): number[];
  getDomainNames(siteId: number): readonly string[] | undefined;
  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string): boolean;
}

/**
 * Per keyset (in order of first appearance), the indexes of its keys sorted by activation time,
 * ties in service order: the order the active-key binary search relies on.
 */
export function groupByKeyset(keys: readonly Key[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  keys.forEach((key, index) => {
    if (key.keysetId === undefined) return;
    let list = groups.get(key.keysetId);
    if (!list) groups.set(key.keysetId, (list = []));
    list.push(index);
  });
  // Array.prototype.sort is stable, so equal activations keep the service's order.
  for (const list of groups.values()) list.sort((a, b) => keys[a]!.activates - keys[b]!.activates);
  return groups;
}

/**
 * The active key among `count` keys sorted by activation, read through `activatesAt`/`expiresAt`
 * (seconds): activates <= now < expires; among those, the latest activation wins.
 * @returns the position in the sorted order, or -1
 */
export function activePosition(count: number, activatesAt: (i: number) => number, expiresAt: (i: number) => number, nowMs: number): number {
  // First position whose activation is after now.
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (activatesAt(mid) * 1000 > nowMs) hi = mid;
    else lo = mid + 1;
  }
  for (let i = lo - 1; i >= 0; i--) {
    if (nowMs < expiresAt(i) * 1000) return i;
  }
  return -1;
}
