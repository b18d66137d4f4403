/**
 * Key snapshots: a key set encoded into one SharedArrayBuffer that workers, the native addon and
 * the main thread all read in place.
 *
 * The buffer is its own lookup structure (open-addressing hash tables for key ids and site ids,
 * keys grouped per keyset in activation order), so opening one only wraps typed-array views
 * around it: no decoding, no per-key allocation, O(1) whatever the key count. That is what lets a
 * key response be parsed and encoded off the main thread and still become a KeySet there at no
 * cost (keys/key-set.ts `keySetFromSnapshot`). A snapshot is written completely before anyone
 * references it and is never written again, so no reader can see half a key set.
 *
 * A snapshot carries no version: each engine numbers what it publishes and passes the number with
 * every batch (the native addon keys its prepared contexts on buffer identity plus that number),
 * so one snapshot can serve any number of engines.
 *
 * Layout (byte offsets; all numbers little-endian, as typed arrays lay them out). The first seven
 * regions are the ones native/src/snapshot.h reads and must not move:
 *
 *   0    header      Float64 x 16   (H_* indexes below; NaN = an absent optional field)
 *   128  keyIds      Int32   x keyCount
 *        keyHash     Int32   x keyHashCapacity   (key index + 1; 0 = empty; int32 ids only)
 *        siteIds     Int32   x siteCount
 *        siteHash    Int32   x siteHashCapacity  (site index + 1; 0 = empty; int32 ids only)
 *        siteNames   Uint32  x siteCount * 2     (offset, length of the site's names in `names`)
 *        secrets     Uint8   x keyCount * 32
 *        names       Uint8   x ...               (per site: JSON array of its names as sent, UTF-8)
 *        (padding to 8)
 *        keyFields   Float64 x keyCount * 6      (id, keysetId, siteId, created, activates, expires)
 *        siteFields  Float64 x siteCount         (exact site id)
 *        keysets     Float64 x keysetCount * 3   (keyset id, start, count in keysetOrder)
 *        keysetOrder Int32   x keyCount          (key indexes per keyset, by activation time)
 */
import type { IdentityScope } from '../types.js';
import type { DecryptionKeys } from './decryption-keys.js';
import { KeyRecord, activePosition, groupByKeyset, type Key, type KeyIndex, type KeySetPolicy } from './key.js';

const MAGIC = 0x55494432; // "UID2"
const HEADER_SLOTS = 16;
const H_MAGIC = 0;
const H_KEYSET_COUNT = 1;
const H_KEY_COUNT = 2;
const H_KEY_HASH_CAPACITY = 3;
const H_SCOPE = 4;
const H_CLOCK_SKEW = 5;
const H_MAX_BIDSTREAM = 6;
const H_MAX_SHARING = 7;
const H_LATEST_EXPIRY_MS = 8;
const H_SITE_COUNT = 9;
const H_SITE_HASH_CAPACITY = 10;
const H_NAMES_BYTES = 11;
const H_CALLER_SITE_ID = 12;
const H_MASTER_KEYSET_ID = 13;
const H_DEFAULT_KEYSET_ID = 14;
const H_TOKEN_EXPIRY = 15;
const SECRET_BYTES = 32;
const KEY_FIELDS = 6;
const F_ID = 0;
const F_KEYSET_ID = 1;
const F_SITE_ID = 2;
const F_CREATED = 3;
const F_ACTIVATES = 4;
const F_EXPIRES = 5;

/** What a snapshot is encoded from: a KeySet fits it as it is. */
interface SnapshotSource extends KeySetPolicy {
  readonly latestKeyExpiryMs: number;
  keys(): readonly Key[];
  siteIds(): number[];
  getDomainNames(siteId: number): readonly string[] | undefined;
}

const isInt32 = (id: number): boolean => (id | 0) === id;
const optional = (value: number): number | undefined => (Number.isNaN(value) ? undefined : value);

function hashCapacity(count: number): number {
  let capacity = 8;
  while (capacity < count * 2) capacity *= 2;
  return capacity;
}

function slotOf(id: number, capacity: number): number {
  return Math.imul(id, 0x9e3779b1) >>> 0 & (capacity - 1);
}

function insert(table: Int32Array, id: number, index: number, ids: Int32Array): void {
  // Ids outside int32 can never match a token's (4-byte) key or site id; hashing them would
  // alias them with an id that can.
  if (!isInt32(id)) return;
  const capacity = table.length;
  let slot = slotOf(id, capacity);
  while (table[slot] !== 0) {
    if (ids[table[slot]! - 1] === id) return; // first wins, as in KeySet (ids are unique anyway)
    slot = (slot + 1) & (capacity - 1);
  }
  table[slot] = index + 1;
}

function find(table: Int32Array, ids: Int32Array, id: number): number {
  const capacity = table.length;
  let slot = slotOf(id, capacity);
  for (;;) {
    const entry = table[slot]!;
    if (entry === 0) return -1;
    if (ids[entry - 1] === id) return entry - 1;
    slot = (slot + 1) & (capacity - 1);
  }
}

interface Counts {
  keys: number;
  keyCap: number;
  sites: number;
  siteCap: number;
  namesBytes: number;
  keysets: number;
}

interface Regions {
  header: Float64Array;
  keyIds: Int32Array;
  keyHash: Int32Array;
  siteIds: Int32Array;
  siteHash: Int32Array;
  siteNames: Uint32Array;
  secrets: Uint8Array;
  names: Uint8Array;
  keyFields: Float64Array;
  siteFields: Float64Array;
  keysets: Float64Array;
  keysetOrder: Int32Array;
}

/** Lays the regions out over `sab` (or only sizes them, without one); returns the total bytes. */
function layout(c: Counts, sab?: SharedArrayBuffer): { bytes: number; regions?: Regions } {
  let offset = HEADER_SLOTS * 8;
  const views: unknown[] = [];
  const take = <T>(View: new (b: SharedArrayBuffer, o: number, n: number) => T, size: number, count: number): void => {
    if (size === 8) offset = (offset + 7) & ~7;
    if (sab) views.push(new View(sab, offset, count));
    offset += size * count;
  };
  take(Int32Array, 4, c.keys);
  take(Int32Array, 4, c.keyCap);
  take(Int32Array, 4, c.sites);
  take(Int32Array, 4, c.siteCap);
  take(Uint32Array, 4, c.sites * 2);
  take(Uint8Array, 1, c.keys * SECRET_BYTES);
  take(Uint8Array, 1, c.namesBytes);
  take(Float64Array, 8, c.keys * KEY_FIELDS);
  take(Float64Array, 8, c.sites);
  take(Float64Array, 8, c.keysets * 3);
  take(Int32Array, 4, c.keys);
  if (!sab) return { bytes: offset };
  const [keyIds, keyHash, siteIds, siteHash, siteNames, secrets, names, keyFields, siteFields, keysets, keysetOrder] = views as [
    Int32Array, Int32Array, Int32Array, Int32Array, Uint32Array, Uint8Array, Uint8Array, Float64Array, Float64Array, Float64Array, Int32Array,
  ];
  const header = new Float64Array(sab, 0, HEADER_SLOTS);
  return { bytes: offset, regions: { header, keyIds, keyHash, siteIds, siteHash, siteNames, secrets, names, keyFields, siteFields, keysets, keysetOrder } };
}

/** Encodes `source` into a new SharedArrayBuffer (a fresh one on every call). */
export function encodeSnapshot(source: SnapshotSource): SharedArrayBuffer {
  const keys = source.keys();
  const siteIdList = source.siteIds();
  const nameBlobs = siteIdList.map((id) => Buffer.from(JSON.stringify(source.getDomainNames(id) ?? []), 'utf8'));
  const groups = groupByKeyset(keys);
  const counts: Counts = {
    keys: keys.length,
    keyCap: hashCapacity(keys.length),
    sites: siteIdList.length,
    siteCap: hashCapacity(siteIdList.length),
    namesBytes: nameBlobs.reduce((sum, b) => sum + b.length, 0),
    keysets: groups.size,
  };
  const sab = new SharedArrayBuffer(layout(counts).bytes);
  const r = layout(counts, sab).regions!;

  keys.forEach((key, i) => {
    r.keyIds[i] = key.id;
    r.secrets.set(key.secret, i * SECRET_BYTES);
    const f = i * KEY_FIELDS;
    r.keyFields[f + F_ID] = key.id;
    r.keyFields[f + F_KEYSET_ID] = key.keysetId ?? NaN;
    r.keyFields[f + F_SITE_ID] = key.siteId ?? NaN;
    r.keyFields[f + F_CREATED] = key.created;
    r.keyFields[f + F_ACTIVATES] = key.activates;
    r.keyFields[f + F_EXPIRES] = key.expires;
  });
  keys.forEach((key, i) => insert(r.keyHash, key.id, i, r.keyIds));
  let nameOffset = 0;
  siteIdList.forEach((id, i) => {
    r.siteIds[i] = id;
    r.siteFields[i] = id;
    r.names.set(nameBlobs[i]!, nameOffset);
    r.siteNames[i * 2] = nameOffset;
    r.siteNames[i * 2 + 1] = nameBlobs[i]!.length;
    nameOffset += nameBlobs[i]!.length;
  });
  siteIdList.forEach((id, i) => insert(r.siteHash, id, i, r.siteIds));
  let start = 0;
  let g = 0;
  for (const [keysetId, indexes] of groups) {
    r.keysets.set([keysetId, start, indexes.length], g++ * 3);
    r.keysetOrder.set(indexes, start);
    start += indexes.length;
  }

  const h = r.header;
  h[H_KEYSET_COUNT] = counts.keysets;
  h[H_KEY_COUNT] = counts.keys;
  h[H_KEY_HASH_CAPACITY] = counts.keyCap;
  h[H_SCOPE] = source.identityScope === 'EUID' ? 1 : 0;
  h[H_CLOCK_SKEW] = source.allowClockSkewSeconds;
  h[H_MAX_BIDSTREAM] = source.maxBidstreamLifetimeSeconds;
  h[H_MAX_SHARING] = source.maxSharingLifetimeSeconds;
  h[H_LATEST_EXPIRY_MS] = source.latestKeyExpiryMs;
  h[H_SITE_COUNT] = counts.sites;
  h[H_SITE_HASH_CAPACITY] = counts.siteCap;
  h[H_NAMES_BYTES] = counts.namesBytes;
  h[H_CALLER_SITE_ID] = source.callerSiteId ?? NaN;
  h[H_MASTER_KEYSET_ID] = source.masterKeysetId ?? NaN;
  h[H_DEFAULT_KEYSET_ID] = source.defaultKeysetId ?? NaN;
  h[H_TOKEN_EXPIRY] = source.tokenExpirySeconds;
  h[H_MAGIC] = MAGIC; // written last: a snapshot with the magic set is complete
  return sab;
}

/**
 * A read-only view of a snapshot: the key set the shared decryption rules use in the workers,
 * and the key index of a KeySet built from a snapshot. Key objects are built on first lookup of
 * each key and kept; nothing is decoded up front.
 */
export class SnapshotKeys implements DecryptionKeys, KeyIndex {
  readonly identityScope: IdentityScope;
  readonly allowClockSkewSeconds: number;
  readonly maxBidstreamLifetimeSeconds: number;
  readonly maxSharingLifetimeSeconds: number;
  readonly latestKeyExpiryMs: number;
  readonly size: number;
  readonly keysetCount: number;
  readonly siteCount: number;
  readonly #r: Regions;
  readonly #keyCache: (Key | undefined)[];
  #allKeys: readonly Key[] | undefined;
  #keysetIndex: Map<number, number> | undefined;
  readonly #namesCache = new Map<number, readonly string[]>();
  readonly #domainCache = new Map<number, ReadonlySet<string>>();

  /** @throws Error when `sab` is not a complete snapshot */
  constructor(sab: SharedArrayBuffer) {
    const h = new Float64Array(sab, 0, HEADER_SLOTS);
    if (h[H_MAGIC] !== MAGIC) throw new Error('not a complete key snapshot');
    this.size = h[H_KEY_COUNT]!;
    this.keysetCount = h[H_KEYSET_COUNT]!;
    this.siteCount = h[H_SITE_COUNT]!;
    this.identityScope = h[H_SCOPE] === 1 ? 'EUID' : 'UID2';
    this.allowClockSkewSeconds = h[H_CLOCK_SKEW]!;
    this.maxBidstreamLifetimeSeconds = h[H_MAX_BIDSTREAM]!;
    this.maxSharingLifetimeSeconds = h[H_MAX_SHARING]!;
    this.latestKeyExpiryMs = h[H_LATEST_EXPIRY_MS]!;
    const counts: Counts = {
      keys: this.size,
      keyCap: h[H_KEY_HASH_CAPACITY]!,
      sites: this.siteCount,
      siteCap: h[H_SITE_HASH_CAPACITY]!,
      namesBytes: h[H_NAMES_BYTES]!,
      keysets: this.keysetCount,
    };
    if (layout(counts).bytes > sab.byteLength) throw new Error('not a complete key snapshot');
    this.#r = layout(counts, sab).regions!;
    this.#keyCache = new Array<Key | undefined>(this.size);
  }

  /** The policy fields of the key response. */
  policy(): KeySetPolicy {
    const h = this.#r.header;
    return {
      identityScope: this.identityScope,
      allowClockSkewSeconds: this.allowClockSkewSeconds,
      maxBidstreamLifetimeSeconds: this.maxBidstreamLifetimeSeconds,
      maxSharingLifetimeSeconds: this.maxSharingLifetimeSeconds,
      callerSiteId: optional(h[H_CALLER_SITE_ID]!),
      masterKeysetId: optional(h[H_MASTER_KEYSET_ID]!),
      defaultKeysetId: optional(h[H_DEFAULT_KEYSET_ID]!),
      tokenExpirySeconds: h[H_TOKEN_EXPIRY]!,
    };
  }

  isValid(nowMs: number): boolean {
    return nowMs < this.latestKeyExpiryMs;
  }

  getKey(id: number): Key | undefined {
    const index = isInt32(id) ? find(this.#r.keyHash, this.#r.keyIds, id) : this.#scan(this.#r.keyFields, KEY_FIELDS, id);
    return index < 0 ? undefined : this.#keyAt(index);
  }

  keys(): readonly Key[] {
    return (this.#allKeys ??= Object.freeze(Array.from({ length: this.size }, (_, i) => this.#keyAt(i))));
  }

  keysetIds(): number[] {
    return Array.from({ length: this.keysetCount }, (_, g) => this.#r.keysets[g * 3]!);
  }

  getActiveKey(keysetId: number, nowMs: number): Key | undefined {
    this.#keysetIndex ??= new Map(this.keysetIds().map((id, g) => [id, g]));
    const g = this.#keysetIndex.get(keysetId);
    if (g === undefined) return undefined;
    const start = this.#r.keysets[g * 3 + 1]!;
    const count = this.#r.keysets[g * 3 + 2]!;
    const { keyFields, keysetOrder } = this.#r;
    const field = (i: number, f: number): number => keyFields[keysetOrder[start + i]! * KEY_FIELDS + f]!;
    const at = activePosition(count, (i) => field(i, F_ACTIVATES), (i) => field(i, F_EXPIRES), nowMs);
    return at < 0 ? undefined : this.#keyAt(keysetOrder[start + at]!);
  }

  siteIds(): number[] {
    return Array.from(this.#r.siteFields);
  }

  getDomainNames(siteId: number): readonly string[] | undefined {
    const index = this.#siteIndex(siteId);
    if (index < 0) return undefined;
    let names = this.#namesCache.get(index);
    if (!names) {
      const { siteNames, names: blob } = this.#r;
      const text = Buffer.from(blob.buffer, blob.byteOffset + siteNames[index * 2]!, siteNames[index * 2 + 1]!).toString('utf8');
      names = Object.freeze(JSON.parse(text) as string[]);
      this.#namesCache.set(index, names);
    }
    return names;
  }

  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | null | undefined): boolean {
    if (typeof domainOrAppName !== 'string') return false;
    let allowed = this.#domainCache.get(siteId);
    if (!allowed) {
      const names = this.getDomainNames(siteId);
      if (!names) return false;
      allowed = new Set(names.map((n) => n.toLowerCase()));
      this.#domainCache.set(siteId, allowed);
    }
    return allowed.has(domainOrAppName.toLowerCase());
  }

  #siteIndex(siteId: number): number {
    return isInt32(siteId) ? find(this.#r.siteHash, this.#r.siteIds, siteId) : this.#scan(this.#r.siteFields, 1, siteId);
  }

  /** Ids outside int32 are not hashed (see insert); the few lookups of one scan the exact ids. */
  #scan(fields: Float64Array, stride: number, id: number): number {
    for (let i = 0; i < fields.length; i += stride) if (fields[i] === id) return i / stride;
    return -1;
  }

  #keyAt(index: number): Key {
    let key = this.#keyCache[index];
    if (!key) {
      const f = this.#r.keyFields;
      const o = index * KEY_FIELDS;
      const s = this.#r.secrets;
      key = new KeyRecord(
        f[o + F_ID]!,
        optional(f[o + F_KEYSET_ID]!),
        optional(f[o + F_SITE_ID]!),
        f[o + F_CREATED]!,
        f[o + F_ACTIVATES]!,
        f[o + F_EXPIRES]!,
        Buffer.from(s.buffer, s.byteOffset + index * SECRET_BYTES, SECRET_BYTES),
      );
      this.#keyCache[index] = key;
    }
    return key;
  }
}
