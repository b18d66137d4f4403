/**
 * A bounded cache of what decrypting an advertising token found, keyed by the token text, so a
 * repeat token costs a hash lookup instead of two AES decryptions.
 *
 * It caches findings, never answers: on every hit the rules that depend on the call run again,
 * in the order `decryptToken()` runs them (token/decrypt.ts), against the call's time, domain or
 * app name, client type and key set:
 *   rule 1     no keys / every key expired          -> NotInitialized / KeysNotSynced
 *   rule 3     v3/v4 identity scope vs the key set  -> InvalidIdentityScope
 *   rules 4-5  master key, then site key: absent    -> NotAuthorizedForMasterKey / ...ForKey
 *              present with another secret          -> not answered: the caller decrypts afresh
 *   rules 7-9  applyPolicyRules() itself: expiry, CSTG domain/app, lifetime and clock skew
 * so a hit returns exactly the DecryptionResult a fresh decryption would. Failures are never
 * stored, and an entry is dropped once a call finds its token expired or its keys replaced.
 *
 * Eviction is SIEVE (Zhang et al., NSDI '24): a FIFO queue with one "visited" bit per entry, a
 * hand that walks from the oldest entry clearing bits and evicts the first unvisited one. A hit
 * sets one bit (LRU would relink a list node); on the bench's Zipf corpora it keeps more hits than
 * LRU at every size measured (bench/token-cache-policies.ts, docs/token-cache.md).
 *
 * Entries live in parallel typed arrays indexed by slot: no object, no boxed number per entry,
 * which keeps the memory per entry small and measurable. The index is a chained hash table of
 * its own, not a Map: a Map would hash the whole token text on every call (V8 hashes a fresh
 * string character by character, the largest cost of a hit and a tax on every miss), while the
 * token's tail is ciphertext and GCM tag, as random as a hash already. The table hashes eight
 * characters near the end, and a slot matches only when the whole text is equal, so a crafted
 * token that shares those characters is a miss, never another token's answer.
 */
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { MAX_TOKEN_LENGTH } from '../token/layout.js';
import { checkedResult, failure, identityCodeOf, identityTypeOf, rawUidText, type TokenFindings } from '../token/result.js';
import { applyPolicyRules, keysRule, type PolicyFields } from '../token/rules.js';
import { type AdvertisingTokenVersion, type ClientType, type DecryptionResult, DecryptionStatus } from '../types.js';
import { KEY_ABSENT, KEY_SAME, KeySlots } from './key-slots.js';
import { resolveTokenCacheOptions, type ResolvedTokenCacheOptions, type TokenCacheOptions } from './options.js';

/** Counters of one cache. `hits + misses` counts `lookup()` calls. */
export interface TokenCacheStats {
  entries: number;
  /** The cache's own accounting of the memory its entries hold (docs/token-cache.md). */
  bytes: number;
  /** Lookups answered from an entry. */
  hits: number;
  /** Lookups the caller had to decrypt: no entry, or one whose keys were replaced. */
  misses: number;
  /** Entries dropped to make room (not counting expired or key-replaced entries). */
  evictions: number;
}

/**
 * Bytes charged per entry besides its two strings: two array slots (16), the typed-array tables
 * (about 60: times 24, ints 12, links 8, hash table 12 to 16, flags and free list 5), and what
 * V8 adds around them. Calibrated with bench/token-cache-memory.ts at 100k and 1M entries
 * (docs/token-cache.md).
 */
export const TOKEN_CACHE_ENTRY_OVERHEAD = 80;

/** A V8 sequential string: 16 bytes of header, then the characters, in 8-byte units. */
function stringBytes(length: number, twoByte: boolean): number {
  return (16 + (twoByte ? 2 * length : length) + 7) & ~7;
}

/** Room for any text the cache copies or checks: at most MAX_TOKEN_LENGTH one-byte characters. */
const scratch = Buffer.allocUnsafeSlow(MAX_TOKEN_LENGTH);

/**
 * A private, flat copy of `text` (at most MAX_TOKEN_LENGTH characters) in one byte per character,
 * or `undefined` when some character does not fit in one byte. Keeping the caller's string could
 * keep alive the whole string it was sliced from (a V8 sliced string references its parent),
 * which no byte budget would see. Through one scratch buffer: no allocation besides the copy.
 */
function oneByteCopy(text: string): string | undefined {
  const copy = scratch.toString('latin1', 0, scratch.write(text, 0, 'latin1'));
  return copy === text ? copy : undefined;
}


// Flag bits of an entry.
const VERSION_MASK = 0b11; // version - 2
const TYPE_SHIFT = 2; // token/result.ts identity-type code
const TYPE_MASK = 0b11 << TYPE_SHIFT;
const CSTG = 1 << 4;
const EUID = 1 << 5;
const UID_TWO_BYTE = 1 << 6;
const VISITED = 1 << 7;

/** Shortest token text kept: any token that decrypts is far longer. */
const MIN_TOKEN_LENGTH = 16;

/**
 * A 32-bit hash of eight characters near the end of `token` (skipping up to two padding '='),
 * and its length. Cheap and fixed-cost; equality is always checked on the whole text.
 */
function tailHash(token: string): number {
  const end = token.length - 2;
  let h = Math.imul(token.length, 0x9e3779b1);
  for (let i = end - 8; i < end; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
  return h ^ (h >>> 15);
}

const NONE = -1;

export class TokenCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly admission: 'always' | 'repeat';

  #entries = 0;
  #capacity = 0;
  /** Hash table: the first slot of each bucket; per slot, the next slot of its bucket and its hash. */
  #buckets = new Int32Array(1).fill(-1);
  #bucketMask = 0;
  #nextInBucket = new Int32Array(0);
  #hashes = new Int32Array(0);
  #tokens: (string | undefined)[] = [];
  #uids: (string | undefined)[] = [];
  /** Per slot: expires, generated (NaN for v2), established. */
  #times = new Float64Array(0);
  /** Per slot: site id, master key slot, site key slot. */
  #ints = new Int32Array(0);
  /** Per slot: the next newer and next older entry of the SIEVE queue. */
  #newer = new Int32Array(0);
  #older = new Int32Array(0);
  #flags = new Uint8Array(0);
  #freeSlots = new Int32Array(0);
  #freeCount = 0;
  #used = 0;
  #newest = NONE;
  #oldest = NONE;
  #hand = NONE;
  #keySlots = new KeySlots();

  /** The 'repeat' doorkeeper: a bit set per token seen (by hash), and how many were set. */
  #seen: Uint32Array | undefined;
  #seenShift = 0;
  #seenCount = 0;

  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  /** Reused for every hit: applyPolicyRules() only reads it. */
  #policy: PolicyFields = { expiresMs: 0, generatedMs: undefined, siteId: 0, isClientSideGenerated: false };

  /** @throws InvalidArgumentError for bad options (`options.maxEntries must be ...`) */
  constructor(options: TokenCacheOptions = {}) {
    const resolved: ResolvedTokenCacheOptions = resolveTokenCacheOptions(options, 'options')!;
    this.maxEntries = resolved.maxEntries;
    this.maxBytes = resolved.maxBytes;
    this.admission = resolved.admission;
    if (this.admission === 'repeat') {
      // Eight bits per entry: by the time it starts over, at most 1 in 8 new tokens finds its bit
      // set by another (and is stored on first sight, as with 'always').
      let bits = 32;
      while (bits < 8 * this.maxEntries) bits *= 2;
      this.#seen = new Uint32Array(bits / 32);
      this.#seenShift = 32 - Math.log2(bits);
    }
  }

  /** Entries held. */
  get size(): number {
    return this.#entries;
  }

  stats(): TokenCacheStats {
    return { entries: this.#entries, bytes: this.#bytes, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /**
   * The result `decryptToken(token, keys, clientType, domainOrAppName, nowMs)` would return, from
   * the entry for `token`; `undefined` when there is none the cache can vouch for (the caller
   * then decrypts, and may `store()` what it found).
   */
  lookup(
    token: unknown,
    domainOrAppName: string | null | undefined,
    nowMs: number,
    keys: DecryptionKeys | null | undefined,
    clientType: ClientType,
  ): DecryptionResult | undefined {
    const slot = typeof token === 'string' && token.length >= MIN_TOKEN_LENGTH ? this.#find(token, tailHash(token)) : NONE;
    if (slot === NONE) {
      this.#misses++;
      return undefined;
    }
    // Rule 1, before anything the token says.
    const keysStatus = keysRule(keys, nowMs);
    if (keysStatus !== undefined) return this.#hit(slot, failure(keysStatus));
    const inForce = keys!;
    const flags = this.#flags[slot]!;
    const version = ((flags & VERSION_MASK) + 2) as AdvertisingTokenVersion;
    // Rule 3 (v3/v4 only; v2 has no scope bit).
    if (version !== 2 && ((flags & EUID) !== 0) !== (inForce.identityScope === 'EUID')) {
      return this.#hit(slot, failure(DecryptionStatus.InvalidIdentityScope));
    }
    // Rules 4-5: the keys that decrypted the layers, as the key set in force holds them.
    this.#keySlots.follow(inForce);
    const ints = slot * 3;
    const master = this.#keySlots.state(this.#ints[ints + 1]!);
    if (master !== KEY_SAME) {
      if (master === KEY_ABSENT) return this.#hit(slot, failure(DecryptionStatus.NotAuthorizedForMasterKey));
      return this.#replaced(slot);
    }
    const siteSlot = this.#ints[ints + 2]!;
    const site = this.#keySlots.state(siteSlot);
    if (site !== KEY_SAME) {
      if (site === KEY_ABSENT) return this.#hit(slot, failure(DecryptionStatus.NotAuthorizedForKey));
      return this.#replaced(slot);
    }
    // Rules 7-9, the very code decryptToken() runs.
    const times = slot * 3;
    const expiresMs = this.#times[times]!;
    const siteId = this.#ints[ints]!;
    const isClientSideGenerated = (flags & CSTG) !== 0;
    const policy = this.#policy;
    policy.expiresMs = expiresMs;
    policy.generatedMs = version === 2 ? undefined : this.#times[times + 1]!;
    policy.siteId = siteId;
    policy.isClientSideGenerated = isClientSideGenerated;
    const status = applyPolicyRules(inForce, clientType, domainOrAppName, nowMs, policy);
    const result = checkedResult(
      status,
      version,
      identityTypeOf((flags & TYPE_MASK) >> TYPE_SHIFT),
      isClientSideGenerated,
      siteId,
      this.#keySlots.siteKeySiteId(siteSlot),
      this.#times[times + 2]!,
      expiresMs,
      this.#uids[slot],
    );
    this.#hits++;
    if (status === DecryptionStatus.ExpiredToken) this.#remove(slot);
    else this.#flags[slot] = flags | VISITED;
    return result;
  }

  /**
   * Records what decrypting `token` with `keys` found. `keys` must be the key set that decrypted
   * it (not merely the one in force now): the entry vouches for the secrets of its two key ids
   * in that set. Skipped (returns false) when `nowMs` is given and the token has expired by then,
   * when `keys` lacks either key, or when the entry alone exceeds `maxBytes`.
   */
  store(token: string, found: TokenFindings, keys: DecryptionKeys, nowMs?: number): boolean {
    if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) return false;
    const { version } = found;
    if (version !== 2 && version !== 3 && version !== 4) return false;
    if (nowMs !== undefined && nowMs > found.expiresMs) return false;
    const hash = tailHash(token);
    if (this.#seen !== undefined && this.#firstSighting(hash)) return false;
    // Tokens that decrypt are base64 text: one byte per character. Anything else is not kept.
    const tokenCopy = oneByteCopy(token);
    if (tokenCopy === undefined) return false;
    // The raw UID text is kept as given: both callers make it fresh from decrypted bytes (never a
    // slice of a larger string). Only its width is checked, for the accounting.
    const uidText = typeof found.uid === 'string' ? found.uid : rawUidText(version, found.uid);
    if (uidText.length > MAX_TOKEN_LENGTH) return false;
    const uidTwoByte = version === 2 && oneByteCopy(uidText) === undefined;
    const bytes = TOKEN_CACHE_ENTRY_OVERHEAD + stringBytes(token.length, false) + stringBytes(uidText.length, uidTwoByte);
    if (bytes > this.maxBytes) return false;

    const masterSlot = this.#keySlots.acquire(keys, found.masterKeyId);
    if (masterSlot < 0) return false;
    const siteSlot = this.#keySlots.acquire(keys, found.siteKeyId);
    if (siteSlot < 0) {
      this.#keySlots.release(masterSlot);
      return false;
    }
    const existing = this.#find(token, hash);
    if (existing !== NONE) this.#remove(existing);
    while (this.#entries >= this.maxEntries || this.#bytes + bytes > this.maxBytes) this.#evict();

    const slot = this.#allocate();
    this.#tokens[slot] = tokenCopy;
    this.#uids[slot] = uidText;
    const t = slot * 3;
    this.#times[t] = found.expiresMs;
    this.#times[t + 1] = found.generatedMs ?? Number.NaN;
    this.#times[t + 2] = found.establishedMs;
    this.#ints[t] = found.siteId;
    this.#ints[t + 1] = masterSlot;
    this.#ints[t + 2] = siteSlot;
    this.#flags[slot] =
      (version - 2) |
      (version === 2 ? 0 : identityCodeOf(found.identityType) << TYPE_SHIFT) |
      (found.isClientSideGenerated ? CSTG : 0) |
      // A v3/v4 token decrypts only when its scope bit matches the key set's scope (rule 3).
      (keys.identityScope === 'EUID' ? EUID : 0) |
      (uidTwoByte ? UID_TWO_BYTE : 0);
    // Insert as the newest entry of the queue.
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest !== NONE) this.#newer[this.#newest] = slot;
    this.#newest = slot;
    if (this.#oldest === NONE) this.#oldest = slot;
    this.#hashes[slot] = hash;
    const bucket = hash & this.#bucketMask;
    this.#nextInBucket[slot] = this.#buckets[bucket]!;
    this.#buckets[bucket] = slot;
    this.#entries++;
    this.#bytes += bytes;
    return true;
  }

  /** Drops every entry (the counters stay). */
  clear(): void {
    this.#entries = 0;
    this.#keySlots.clear();
    this.#capacity = 0;
    this.#buckets = new Int32Array(1).fill(NONE);
    this.#bucketMask = 0;
    this.#nextInBucket = new Int32Array(0);
    this.#hashes = new Int32Array(0);
    this.#tokens = [];
    this.#uids = [];
    this.#times = new Float64Array(0);
    this.#ints = new Int32Array(0);
    this.#newer = new Int32Array(0);
    this.#older = new Int32Array(0);
    this.#flags = new Uint8Array(0);
    this.#freeSlots = new Int32Array(0);
    this.#freeCount = 0;
    this.#used = 0;
    this.#newest = this.#oldest = this.#hand = NONE;
    this.#bytes = 0;
  }

  /** Sets the doorkeeper bit of `hash`; true when it was clear (the token was not seen lately). */
  #firstSighting(hash: number): boolean {
    const seen = this.#seen!;
    const bit = Math.imul(hash, 0x9e3779b1) >>> this.#seenShift;
    const mask = 1 << (bit & 31);
    if ((seen[bit >>> 5]! & mask) !== 0) return false;
    // Aging: after maxEntries first sightings, start over, so "seen" means "seen lately".
    if (++this.#seenCount > this.maxEntries) {
      seen.fill(0);
      this.#seenCount = 1;
    }
    seen[bit >>> 5]! |= mask;
    return true;
  }

  /** The slot holding exactly `token`, or NONE. */
  #find(token: string, hash: number): number {
    let slot = this.#buckets[hash & this.#bucketMask]!;
    while (slot !== NONE && (this.#hashes[slot] !== hash || this.#tokens[slot] !== token)) slot = this.#nextInBucket[slot]!;
    return slot;
  }

  #hit(slot: number, result: DecryptionResult): DecryptionResult {
    this.#hits++;
    this.#flags[slot]! |= VISITED;
    return result;
  }

  /** A key id now names another secret: only a fresh decryption knows the answer. */
  #replaced(slot: number): undefined {
    this.#remove(slot);
    this.#misses++;
    return undefined;
  }

  #allocate(): number {
    if (this.#freeCount > 0) return this.#freeSlots[--this.#freeCount]!;
    if (this.#used === this.#capacity) this.#grow();
    return this.#used++;
  }

  /** Doubles the slot tables, up to maxEntries: a small cache never pays for a large bound. */
  #grow(): void {
    const capacity = Math.min(this.maxEntries, Math.max(1024, this.#capacity * 2));
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T, width: number): T => {
      const next = make(capacity * width);
      next.set(old);
      return next;
    };
    this.#times = grow(this.#times, (n) => new Float64Array(n), 3);
    this.#ints = grow(this.#ints, (n) => new Int32Array(n), 3);
    this.#newer = grow(this.#newer, (n) => new Int32Array(n), 1);
    this.#older = grow(this.#older, (n) => new Int32Array(n), 1);
    this.#flags = grow(this.#flags, (n) => new Uint8Array(n), 1);
    this.#freeSlots = grow(this.#freeSlots, (n) => new Int32Array(n), 1);
    this.#nextInBucket = grow(this.#nextInBucket, (n) => new Int32Array(n), 1);
    this.#hashes = grow(this.#hashes, (n) => new Int32Array(n), 1);
    this.#capacity = capacity;
    // One bucket per slot (rounded up to a power of two): chains stay about one entry long.
    let buckets = 1;
    while (buckets < capacity) buckets *= 2;
    this.#buckets = new Int32Array(buckets).fill(NONE);
    this.#bucketMask = buckets - 1;
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#tokens[slot] === undefined) continue;
      const bucket = this.#hashes[slot]! & this.#bucketMask;
      this.#nextInBucket[slot] = this.#buckets[bucket]!;
      this.#buckets[bucket] = slot;
    }
  }

  /** SIEVE: from the hand toward newer entries, clear visited bits; evict the first unvisited. */
  #evict(): void {
    let slot = this.#hand === NONE ? this.#oldest : this.#hand;
    while (this.#flags[slot]! & VISITED) {
      this.#flags[slot]! &= ~VISITED;
      slot = this.#newer[slot]!;
      if (slot === NONE) slot = this.#oldest;
    }
    this.#evictions++;
    this.#hand = slot;
    this.#remove(slot);
  }

  #remove(slot: number): void {
    const token = this.#tokens[slot]!;
    const uid = this.#uids[slot]!;
    const flags = this.#flags[slot]!;
    this.#bytes -= TOKEN_CACHE_ENTRY_OVERHEAD + stringBytes(token.length, false) + stringBytes(uid.length, (flags & UID_TWO_BYTE) !== 0);
    const bucket = this.#hashes[slot]! & this.#bucketMask;
    if (this.#buckets[bucket] === slot) this.#buckets[bucket] = this.#nextInBucket[slot]!;
    else {
      let previous = this.#buckets[bucket]!;
      while (this.#nextInBucket[previous] !== slot) previous = this.#nextInBucket[previous]!;
      this.#nextInBucket[previous] = this.#nextInBucket[slot]!;
    }
    this.#entries--;
    this.#tokens[slot] = undefined;
    this.#uids[slot] = undefined;
    this.#keySlots.release(this.#ints[slot * 3 + 1]!);
    this.#keySlots.release(this.#ints[slot * 3 + 2]!);
    const newer = this.#newer[slot]!;
    const older = this.#older[slot]!;
    if (newer !== NONE) this.#older[newer] = older;
    else this.#newest = older;
    if (older !== NONE) this.#newer[older] = newer;
    else this.#oldest = newer;
    // The hand moves on to the next newer entry, as SIEVE's does after an eviction.
    if (this.#hand === slot) this.#hand = newer;
    this.#flags[slot] = 0;
    this.#freeSlots[this.#freeCount++] = slot;
  }
}
