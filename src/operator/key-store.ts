/**
 * The local operator's keys: a master keyset and one keyset per site (publisher sites and the
 * caller's site), each on a rotation schedule. At any time every keyset has an active key and
 * the next key already published, so a client that refreshes sees a new key before it activates
 * and keeps old keys until they expire, as with the production service.
 *
 * Keys are generated lazily by `schedule(nowMs)`, so a long-running operator keeps rotating
 * without timers. Times in keys are Unix seconds, as in the key JSON.
 *
 * The key JSON has the shape the real operator (uid2-operator `UIDOperatorVerticle`) writes:
 * bidstream keys carry no `keyset_id` (a bidder only decrypts, by key id); sharing keys carry it
 * only for the caller's keyset and the master keyset, the keys a sharer may encrypt with; the
 * lifetime limits are the configured ones plus 10 s of tolerance.
 */
import { randomBytes } from 'node:crypto';
import type { KeyEndpoint } from '../service/key-request.js';
import type { ResolvedOperatorOptions } from './options.js';

/**
 * Keyset id of the master keys in key JSON (`master_keyset_id`, and the master keys' `keyset_id`
 * in sharing responses): the real service writes 9999999 whatever its master keyset is numbered
 * internally, so the local operator numbers its master keyset so too.
 */
export const MASTER_KEYSET_ID = 9_999_999;
/** The real service adds this to the configured `max_*_lifetime_seconds` limits, s. */
const TOKEN_LIFETIME_TOLERANCE_SECONDS = 10;
/** Site keysets are numbered from here, in the order of the caller's site then `options.sites`. */
export const FIRST_SITE_KEYSET_ID = 100;
/** The first key of each keyset activated this long before the operator started, s. */
const BACKDATE_SECONDS = 3600;

export interface OperatorKey {
  readonly id: number;
  readonly keysetId: number;
  readonly created: number;
  readonly activates: number;
  readonly expires: number;
  readonly secret: Buffer;
}

/** One key as the service sends it in the key JSON. */
export interface KeyJson {
  id: number;
  created: number;
  activates: number;
  expires: number;
  secret: string;
  /** Sharing only, and only on the caller's and the master keyset's keys. */
  keyset_id?: number;
}

/** A decrypted key response: `{"status": "success", "body": {...}}`. */
export interface KeyResponseJson {
  status: 'success';
  body: Record<string, unknown> & { keys: KeyJson[] };
}

export class KeyStore {
  readonly #options: ResolvedOperatorOptions;
  /** Per keyset, its keys in activation order. */
  readonly #keysets = new Map<number, OperatorKey[]>();
  readonly #keysetBySite = new Map<number, number>();
  #nextKeyId = 1;

  constructor(options: ResolvedOperatorOptions, nowMs: number) {
    this.#options = options;
    let keysetId = FIRST_SITE_KEYSET_ID;
    for (const siteId of [options.callerSiteId, ...options.sites.map((s) => s.id)]) {
      if (!this.#keysetBySite.has(siteId)) this.#keysetBySite.set(siteId, keysetId++);
    }
    const first = Math.floor(nowMs / 1000) - BACKDATE_SECONDS;
    for (const id of [MASTER_KEYSET_ID, ...this.#keysetBySite.values()]) this.#keysets.set(id, [this.#newKey(id, first)]);
    this.schedule(nowMs);
  }

  /** The keyset whose keys encrypt the site layer of `siteId`'s tokens. */
  keysetOf(siteId: number): number | undefined {
    return this.#keysetBySite.get(siteId);
  }

  /** Drops expired keys and publishes each keyset's next key ahead of its activation. */
  schedule(nowMs: number): void {
    const now = Math.floor(nowMs / 1000);
    for (const [keysetId, keys] of this.#keysets) {
      let latest = keys[keys.length - 1]!;
      while (latest.activates <= now) {
        latest = this.#newKey(keysetId, latest.activates + this.#options.rotationIntervalSeconds);
        keys.push(latest);
      }
      // Keep at least the active key; an expired key cannot encrypt and is no longer sent.
      while (keys.length > 1 && keys[0]!.expires <= now) keys.shift();
    }
  }

  /**
   * Adds to every keyset a key that activates now, so it becomes the active key at once (the
   * latest activation wins) while older keys stay until they expire.
   * @returns the ids of the new keys
   */
  rotate(nowMs: number): number[] {
    const now = Math.floor(nowMs / 1000);
    const added: number[] = [];
    for (const [keysetId, keys] of this.#keysets) {
      const key = this.#newKey(keysetId, now);
      // Before the already-published future key, keeping the list in activation order.
      const at = keys.findIndex((k) => k.activates > now);
      keys.splice(at < 0 ? keys.length : at, 0, key);
      added.push(key.id);
    }
    return added;
  }

  /** The active key of a keyset: activated, not expired, latest activation wins. */
  activeKey(keysetId: number, nowMs: number): OperatorKey | undefined {
    this.schedule(nowMs);
    const now = nowMs / 1000;
    let active: OperatorKey | undefined;
    for (const key of this.#keysets.get(keysetId) ?? []) {
      if (key.activates <= now && now < key.expires) active = key;
    }
    return active;
  }

  /** Every key currently published (active, not yet expired, and the next ones). */
  keys(nowMs: number): OperatorKey[] {
    this.schedule(nowMs);
    return [...this.#keysets.values()].flat();
  }

  /** The decrypted key response of `endpoint` at `nowMs`, exactly as the service would send it. */
  keyResponse(endpoint: KeyEndpoint, nowMs: number): KeyResponseJson {
    return this.#response(endpoint, this.keys(nowMs).map((key) => this.#toKeyJson(endpoint, key)));
  }

  /**
   * The same response with every key already expired: what a stuck operator serves. A client
   * applying it would report `KeysNotSynced` for every token.
   */
  staleKeyResponse(endpoint: KeyEndpoint, nowMs: number): KeyResponseJson {
    const expires = Math.floor(nowMs / 1000) - 60;
    const keys = this.keys(nowMs).map((key) => {
      const activates = Math.min(key.activates, expires - this.#options.rotationIntervalSeconds);
      return { ...this.#toKeyJson(endpoint, key), created: activates, activates, expires };
    });
    return this.#response(endpoint, keys);
  }

  /**
   * Only a sharer gets `keyset_id`, and only where it may encrypt: its own keyset and the master
   * keyset. Every other key is for decryption, found by key id.
   */
  #toKeyJson(endpoint: KeyEndpoint, key: OperatorKey): KeyJson {
    const json: KeyJson = {
      id: key.id,
      created: key.created,
      activates: key.activates,
      expires: key.expires,
      secret: key.secret.toString('base64'),
    };
    if (endpoint === 'sharing' && (key.keysetId === MASTER_KEYSET_ID || key.keysetId === this.#callerKeysetId())) json.keyset_id = key.keysetId;
    return json;
  }

  #callerKeysetId(): number {
    return this.#keysetBySite.get(this.#options.callerSiteId)!;
  }

  #response(endpoint: KeyEndpoint, keys: KeyJson[]): KeyResponseJson {
    const o = this.#options;
    const common = {
      identity_scope: o.identityScope,
      allow_clock_skew_seconds: o.allowClockSkewSeconds,
      keys,
      // As the service: sites in id order, only those with names to check against.
      site_data: o.sites
        .filter((s) => s.domainNames.length > 0)
        .sort((a, b) => a.id - b.id)
        .map((s) => ({ id: s.id, domain_names: [...s.domainNames] })),
    };
    if (endpoint === 'bidstream') {
      return {
        status: 'success',
        body: { max_bidstream_lifetime_seconds: o.maxBidstreamLifetimeSeconds + TOKEN_LIFETIME_TOLERANCE_SECONDS, ...common },
      };
    }
    return {
      status: 'success',
      body: {
        caller_site_id: o.callerSiteId,
        master_keyset_id: MASTER_KEYSET_ID,
        default_keyset_id: this.#callerKeysetId(),
        // A string, as the production service sends it.
        token_expiry_seconds: String(o.sharingTokenExpirySeconds),
        max_sharing_lifetime_seconds: o.maxSharingLifetimeSeconds + TOKEN_LIFETIME_TOLERANCE_SECONDS,
        ...common,
      },
    };
  }

  #newKey(keysetId: number, activates: number): OperatorKey {
    return Object.freeze({
      id: this.#nextKeyId++,
      keysetId,
      created: activates,
      activates,
      expires: activates + this.#options.keyLifetimeSeconds,
      secret: randomBytes(32),
    });
  }
}
