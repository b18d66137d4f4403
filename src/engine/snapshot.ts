/**
 * Key snapshots: a KeySet encoded into one SharedArrayBuffer that workers read in place.
 *
 * The buffer is its own lookup structure (open-addressing hash tables for key ids and site ids),
 * so a worker that meets a new snapshot version only wraps typed-array views around it: no
 * decoding, no per-key allocation, O(1) whatever the key count. A snapshot is written completely
 * before any batch references it and is never written again, so no reader can see half a key set.
 *
 * Layout (byte offsets; all numbers little-endian, as typed arrays lay them out):
 *
 *   0    header    Float64 x 16   (HEADER_* indexes below)
 *   128  keyIds    Int32   x keyCount
 *        keyHash   Int32   x keyHashCapacity   (key index + 1; 0 = empty)
 *        siteIds   Int32   x siteCount
 *        siteHash  Int32   x siteHashCapacity  (site index + 1; 0 = empty)
 *        siteNames Uint32  x siteCount * 2     (offset, length of the site's names in `names`)
 *        secrets   Uint8   x keyCount * 32
 *        names     Uint8   x ...               (per site: JSON array of lower-cased names, UTF-8)
 */
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import type { KeySet } from '../keys/key-set.js';
import type { IdentityScope } from '../types.js';

const MAGIC = 0x55494432; // "UID2"
const HEADER_SLOTS = 16;
const H_MAGIC = 0;
const H_VERSION = 1;
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
const SECRET_BYTES = 32;

function hashCapacity(count: number): number {
  let capacity = 8;
  while (capacity < count * 2) capacity *= 2;
  return capacity;
}

function slotOf(id: number, capacity: number): number {
  return Math.imul(id, 0x9e3779b1) >>> 0 & (capacity - 1);
}

function insert(table: Int32Array, id: number, index: number, ids: Int32Array): void {
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

interface Regions {
  header: Float64Array;
  keyIds: Int32Array;
  keyHash: Int32Array;
  siteIds: Int32Array;
  siteHash: Int32Array;
  siteNames: Uint32Array;
  secrets: Uint8Array;
  names: Uint8Array;
}

function regions(sab: SharedArrayBuffer, keyCount: number, keyCap: number, siteCount: number, siteCap: number, namesBytes: number): Regions {
  let offset = HEADER_SLOTS * 8;
  const take = <T>(make: (o: number) => T, bytes: number): T => {
    const view = make(offset);
    offset += bytes;
    return view;
  };
  return {
    header: new Float64Array(sab, 0, HEADER_SLOTS),
    keyIds: take((o) => new Int32Array(sab, o, keyCount), keyCount * 4),
    keyHash: take((o) => new Int32Array(sab, o, keyCap), keyCap * 4),
    siteIds: take((o) => new Int32Array(sab, o, siteCount), siteCount * 4),
    siteHash: take((o) => new Int32Array(sab, o, siteCap), siteCap * 4),
    siteNames: take((o) => new Uint32Array(sab, o, siteCount * 2), siteCount * 8),
    secrets: take((o) => new Uint8Array(sab, o, keyCount * SECRET_BYTES), keyCount * SECRET_BYTES),
    names: take((o) => new Uint8Array(sab, o, namesBytes), namesBytes),
  };
}

function totalBytes(keyCount: number, keyCap: number, siteCount: number, siteCap: number, namesBytes: number): number {
  return HEADER_SLOTS * 8 + (keyCount + keyCap + siteCount + siteCap + siteCount * 2) * 4 + keyCount * SECRET_BYTES + namesBytes;
}

/** Encodes `keySet` as snapshot `version` into a new SharedArrayBuffer. */
export function encodeSnapshot(keySet: KeySet, version: number): SharedArrayBuffer {
  const keys = keySet.keys();
  const siteIdList = keySet.siteIds();
  const nameBlobs = siteIdList.map((id) =>
    Buffer.from(JSON.stringify((keySet.getDomainNames(id) ?? []).map((n) => n.toLowerCase())), 'utf8'),
  );
  const namesBytes = nameBlobs.reduce((sum, b) => sum + b.length, 0);
  const keyCap = hashCapacity(keys.length);
  const siteCap = hashCapacity(siteIdList.length);
  const sab = new SharedArrayBuffer(totalBytes(keys.length, keyCap, siteIdList.length, siteCap, namesBytes));
  const r = regions(sab, keys.length, keyCap, siteIdList.length, siteCap, namesBytes);

  keys.forEach((key, i) => {
    r.keyIds[i] = key.id;
    r.secrets.set(key.secret, i * SECRET_BYTES);
  });
  keys.forEach((key, i) => insert(r.keyHash, key.id, i, r.keyIds));
  let nameOffset = 0;
  siteIdList.forEach((id, i) => {
    r.siteIds[i] = id;
    r.names.set(nameBlobs[i]!, nameOffset);
    r.siteNames[i * 2] = nameOffset;
    r.siteNames[i * 2 + 1] = nameBlobs[i]!.length;
    nameOffset += nameBlobs[i]!.length;
  });
  siteIdList.forEach((id, i) => insert(r.siteHash, id, i, r.siteIds));

  const h = r.header;
  h[H_VERSION] = version;
  h[H_KEY_COUNT] = keys.length;
  h[H_KEY_HASH_CAPACITY] = keyCap;
  h[H_SCOPE] = keySet.identityScope === 'EUID' ? 1 : 0;
  h[H_CLOCK_SKEW] = keySet.allowClockSkewSeconds;
  h[H_MAX_BIDSTREAM] = keySet.maxBidstreamLifetimeSeconds;
  h[H_MAX_SHARING] = keySet.maxSharingLifetimeSeconds;
  h[H_LATEST_EXPIRY_MS] = keySet.latestKeyExpiryMs;
  h[H_SITE_COUNT] = siteIdList.length;
  h[H_SITE_HASH_CAPACITY] = siteCap;
  h[H_NAMES_BYTES] = namesBytes;
  h[H_MAGIC] = MAGIC; // written last: a snapshot with the magic set is complete
  return sab;
}

/** A read-only view of a snapshot that the shared decryption rules can use as their key set. */
export class SnapshotKeys implements DecryptionKeys {
  readonly version: number;
  readonly identityScope: IdentityScope;
  readonly allowClockSkewSeconds: number;
  readonly maxBidstreamLifetimeSeconds: number;
  readonly maxSharingLifetimeSeconds: number;
  readonly latestKeyExpiryMs: number;
  readonly keyCount: number;
  readonly #r: Regions;
  readonly #keyCache: ({ readonly secret: Buffer } | undefined)[];
  readonly #siteCache = new Map<number, ReadonlySet<string>>();

  constructor(sab: SharedArrayBuffer) {
    const h = new Float64Array(sab, 0, HEADER_SLOTS);
    if (h[H_MAGIC] !== MAGIC) throw new Error('not a complete key snapshot');
    this.version = h[H_VERSION]!;
    this.keyCount = h[H_KEY_COUNT]!;
    this.identityScope = h[H_SCOPE] === 1 ? 'EUID' : 'UID2';
    this.allowClockSkewSeconds = h[H_CLOCK_SKEW]!;
    this.maxBidstreamLifetimeSeconds = h[H_MAX_BIDSTREAM]!;
    this.maxSharingLifetimeSeconds = h[H_MAX_SHARING]!;
    this.latestKeyExpiryMs = h[H_LATEST_EXPIRY_MS]!;
    this.#r = regions(sab, this.keyCount, h[H_KEY_HASH_CAPACITY]!, h[H_SITE_COUNT]!, h[H_SITE_HASH_CAPACITY]!, h[H_NAMES_BYTES]!);
    this.#keyCache = new Array<{ readonly secret: Buffer } | undefined>(this.keyCount);
  }

  isValid(nowMs: number): boolean {
    return nowMs < this.latestKeyExpiryMs;
  }

  getKey(id: number): { readonly secret: Buffer } | undefined {
    const index = find(this.#r.keyHash, this.#r.keyIds, id);
    if (index < 0) return undefined;
    let key = this.#keyCache[index];
    if (!key) {
      const s = this.#r.secrets;
      key = { secret: Buffer.from(s.buffer, s.byteOffset + index * SECRET_BYTES, SECRET_BYTES) };
      this.#keyCache[index] = key;
    }
    return key;
  }

  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | null | undefined): boolean {
    if (typeof domainOrAppName !== 'string') return false;
    let names = this.#siteCache.get(siteId);
    if (!names) {
      const index = find(this.#r.siteHash, this.#r.siteIds, siteId);
      if (index < 0) return false;
      const off = this.#r.siteNames[index * 2]!;
      const len = this.#r.siteNames[index * 2 + 1]!;
      const text = Buffer.from(this.#r.names.buffer, this.#r.names.byteOffset + off, len).toString('utf8');
      names = new Set(JSON.parse(text) as string[]);
      this.#siteCache.set(siteId, names);
    }
    return names.has(domainOrAppName.toLowerCase());
  }
}
