/**
 * The in-memory set of opted-out raw UIDs: an open-addressing hash table in one
 * SharedArrayBuffer that any thread reads in place, with no copy and no message per lookup.
 *
 * Why a fingerprint, not the UID. A raw UID is 32 or 33 bytes; with its opt-out time it would
 * need at least 36 bytes a slot, over the budget of 24 bytes an entry once the table's free
 * slots are counted. So a slot holds a 96-bit fingerprint and the time, 16 bytes:
 *
 *   slot   := fp0:i32 | fp1:i32 | fp2:i32 | seconds:u32     (seconds = 0 marks an empty slot)
 *   fp     := the first 12 of the 32 identity-hash bytes (the last 32 bytes of the raw UID);
 *             for a 33-byte UID, fp0 also mixes in its metadata byte and the length
 *
 * The 32 hash bytes of a real raw UID are SHA-256 output, uniform, so 12 of them are as good a
 * fingerprint as any hash of all 32 and cost nothing to compute. False positives: a lookup of a
 * UID that is not in the set compares its fingerprint with at most a few slots (one bucket of 4
 * at the usual loads), each equal with probability 2^-96; at a million lookups a second for ten
 * years (3.2e14 lookups, ~8 slots each) the expected number of false positives is ~3e-14. A false
 * positive would withhold one UID that did not opt out (the safe direction); two opted-out UIDs
 * sharing a fingerprint (probability n^2 / 2^97, ~1e-15 for 10M entries) simply share a slot.
 *
 * Why a keyed bucket choice. Raw UIDs arrive from outside (the webhook, a backfill), so nothing
 * makes their bytes uniform: a sender can send 20,000 raw UIDs that differ only in bytes 0-3.
 * The home bucket is therefore HalfSipHash-1-3 (util/half-siphash.ts: SipHash, the keyed
 * function made against hash flooding) of all three fingerprint words, under a random 64-bit
 * key drawn for each table and kept in its header, so every thread that wraps the buffer hashes
 * alike and no sender can aim entries at one bucket. Crafting UIDs with one fingerprint (the
 * same 12 bytes) costs nothing either: they share one slot. Such a UID withholds another only
 * from a sender who already knows that other raw UID's hash bytes, and could opt it out directly.
 *
 * Layout: a 64-byte header (16 x i32: magic, bucket count, entry count, key word 0, superseded
 * flag, key word 1, the rest zero), then buckets of 4 slots = 64 bytes, one cache line each.
 * Probing is linear over buckets; a lookup stops at the first bucket with an empty slot. The
 * bucket count is not a power of two (multiply-shift range reduction), so the table
 * can be sized to keep every entry within 24 bytes: it grows at 85% load to 68% (16 / 0.68 =
 * 23.5 bytes an entry; at 85%, 18.8). Entries are never removed: opt-outs are kept forever.
 *
 * Concurrency: one writer (the thread that owns the OptOutSet), any number of readers. A slot
 * is written fingerprint first and time last (Atomics.store), and only its time ever changes
 * later (to an earlier time), so a reader sees an empty slot or a complete entry. Growth builds
 * the next table in slices on the event loop while readers keep using the current one (adds go
 * into both), then publishes it and marks the old one superseded; a reader holding an old view
 * sees `superseded` and asks its owner for the current buffer, as workers do for key snapshots.
 */
import { randomBytes } from 'node:crypto';
import { halfSipHash12 } from '../util/half-siphash.js';

const MAGIC = 0x4f505432; // "OPT2": keyed buckets
const HEADER_WORDS = 16;
const H_MAGIC = 0;
const H_BUCKETS = 1;
const H_COUNT = 2;
const H_KEY0 = 3;
const H_SUPERSEDED = 4;
const H_KEY1 = 5;
const SLOTS_PER_BUCKET = 4;
const WORDS_PER_SLOT = 4;
const WORDS_PER_BUCKET = SLOTS_PER_BUCKET * WORDS_PER_SLOT;
/** Bytes of one slot in memory. */
export const OPTOUT_SLOT_BYTES = WORDS_PER_SLOT * 4;

/** Growth starts above this load... */
const GROW_AT_LOAD = 0.85;
/** ...and sizes the next table for this one. */
const TARGET_LOAD = 0.68;
/** While the next table is built, the current one still takes adds up to this load. */
const HARD_LOAD = 0.95;
/** Buckets moved per event-loop turn while growing (~1 ms of work). */
const GROW_SLICE_BUCKETS = 8192;
const MIN_BUCKETS = 16;
/** Range reduction multiplies a 26-bit hash by the bucket count: both must keep the product exact. */
const MAX_BUCKETS = 2 ** 27;
/** Largest time a slot holds (u32 seconds: until 2106). */
export const MAX_OPTOUT_SECONDS = 0xffffffff;

/** A fingerprint: three words, reused across lookups to avoid allocation. */
type Fingerprint = Int32Array;

function bucketsFor(count: number): number {
  const buckets = Math.max(MIN_BUCKETS, Math.ceil(count / (SLOTS_PER_BUCKET * TARGET_LOAD)));
  if (buckets > MAX_BUCKETS) throw new RangeError(`an opt-out set holds at most ${MAX_BUCKETS * SLOTS_PER_BUCKET * HARD_LOAD} entries`);
  return buckets;
}

function homeBucket(table: Int32Array, fp: Fingerprint, buckets: number): number {
  const h = halfSipHash12(table[H_KEY0]!, table[H_KEY1]!, fp[0]!, fp[1]!, fp[2]!);
  // (h >>> 6) < 2^26 and buckets <= 2^27: the product is below 2^53, so exact.
  return Math.floor(((h >>> 6) * buckets) / 67_108_864);
}

/** Writes the fingerprint of the raw UID (32 or 33 bytes) at `bytes[offset .. offset + length)` into `out`. */
function fingerprintBytes(bytes: Uint8Array, out: Fingerprint, offset = 0, length = bytes.length): void {
  const s = offset + length - 32;
  out[0] = (bytes[s]! | (bytes[s + 1]! << 8) | (bytes[s + 2]! << 16) | (bytes[s + 3]! << 24)) ^ (length === 33 ? Math.imul(0x100 | bytes[offset]!, 0x27d4eb2d) : 0);
  out[1] = bytes[s + 4]! | (bytes[s + 5]! << 8) | (bytes[s + 6]! << 16) | (bytes[s + 7]! << 24);
  out[2] = bytes[s + 8]! | (bytes[s + 9]! << 8) | (bytes[s + 10]! << 16) | (bytes[s + 11]! << 24);
}

const B64 = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
const SCRATCH = new Uint8Array(15);

/** The 6-bit value of a standard base64 character code, 255 for anything else. */
function sextet(code: number): number {
  return code < 128 ? B64[code]! : 255;
}

/**
 * Writes the fingerprint of a raw UID given as standard base64 (what decryption returns) into
 * `out`, decoding only the 20 characters the fingerprint needs. Returns false when the text
 * cannot be a raw UID (wrong length, a bad character among those read); such text is never in
 * the set. Characters past the 20th are not read: they are not part of the fingerprint.
 */
function fingerprintBase64(text: string, out: Fingerprint): boolean {
  const n = text.length;
  let length: number;
  if (n === 44) length = text.charCodeAt(43) === 61 ? (text.charCodeAt(42) === 61 ? 0 : 32) : 33;
  else if (n === 43) length = 32;
  else return false;
  if (length === 0) return false;
  for (let i = 0, o = 0; i < 20; i += 4, o += 3) {
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    const c = sextet(text.charCodeAt(i + 2));
    const d = sextet(text.charCodeAt(i + 3));
    if ((a | b | c | d) === 255) return false;
    SCRATCH[o] = (a << 2) | (b >> 4);
    SCRATCH[o + 1] = ((b & 15) << 4) | (c >> 2);
    SCRATCH[o + 2] = ((c & 3) << 6) | d;
  }
  const s = length - 32;
  const p = SCRATCH;
  out[0] = (p[s]! | (p[s + 1]! << 8) | (p[s + 2]! << 16) | (p[s + 3]! << 24)) ^ (s === 1 ? Math.imul(0x100 | p[0]!, 0x27d4eb2d) : 0);
  out[1] = p[s + 4]! | (p[s + 5]! << 8) | (p[s + 6]! << 16) | (p[s + 7]! << 24);
  out[2] = p[s + 8]! | (p[s + 9]! << 8) | (p[s + 10]! << 16) | (p[s + 11]! << 24);
  return true;
}

/** Allocates an empty table with room for `count` entries at the target load. */
function allocateTable(count: number): Int32Array {
  const buckets = bucketsFor(count);
  const table = new Int32Array(new SharedArrayBuffer((HEADER_WORDS + buckets * WORDS_PER_BUCKET) * 4));
  table[H_BUCKETS] = buckets;
  const key = randomBytes(8);
  table[H_KEY0] = key.readInt32LE(0);
  table[H_KEY1] = key.readInt32LE(4);
  table[H_MAGIC] = MAGIC;
  return table;
}

/**
 * Word index of the slot holding `fp`; when absent, -(word index of the first empty slot) - 1
 * (never -1: slots start after the header), or -1 for a full table.
 */
function locate(table: Int32Array, fp: Fingerprint): number {
  const buckets = table[H_BUCKETS]!;
  let bucket = homeBucket(table, fp, buckets);
  const f0 = fp[0]!;
  const f1 = fp[1]!;
  const f2 = fp[2]!;
  for (let probed = 0; probed < buckets; probed++) {
    let w = HEADER_WORDS + bucket * WORDS_PER_BUCKET;
    for (let s = 0; s < SLOTS_PER_BUCKET; s++, w += WORDS_PER_SLOT) {
      const seconds = Atomics.load(table, w + 3);
      if (seconds === 0) return -w - 1;
      if (table[w] === f0 && table[w + 1] === f1 && table[w + 2] === f2) return w;
    }
    bucket = bucket + 1 === buckets ? 0 : bucket + 1;
  }
  return -1; // full table: cannot happen below HARD_LOAD
}

/** Opt-out time of `fp` in `table`, Unix seconds, or 0 when absent. The hot path of every check. */
function lookup(table: Int32Array, fp: Fingerprint): number {
  const w = locate(table, fp);
  return w >= 0 ? table[w + 3]! >>> 0 : 0;
}

/** What `add` did. */
export type OptOutSetChange = 'added' | 'earlier' | 'unchanged';

function insert(table: Int32Array, fp: Fingerprint, seconds: number): OptOutSetChange {
  const w = locate(table, fp);
  if (w >= 0) {
    if ((table[w + 3]! >>> 0) <= seconds) return 'unchanged';
    Atomics.store(table, w + 3, seconds | 0);
    return 'earlier';
  }
  if (w === -1) throw new RangeError('opt-out table is full');
  const slot = -w - 1;
  table[slot] = fp[0]!;
  table[slot + 1] = fp[1]!;
  table[slot + 2] = fp[2]!;
  Atomics.store(table, slot + 3, seconds | 0); // last: the slot is now visible
  Atomics.store(table, H_COUNT, table[H_COUNT]! + 1);
  return 'added';
}

function capacityOf(table: Int32Array): number {
  return table[H_BUCKETS]! * SLOTS_PER_BUCKET;
}

/**
 * A read-only view of a published table, for any thread: wrap the SharedArrayBuffer from
 * `OptOutSet.buffer` (or a store's `snapshot()`); lookups read it in place.
 */
export class OptOutSetView {
  readonly #table: Int32Array;
  readonly #fp = new Int32Array(3);

  constructor(buffer: SharedArrayBuffer) {
    const table = new Int32Array(buffer);
    if (table.length < HEADER_WORDS || table[H_MAGIC] !== MAGIC) throw new RangeError('not an opt-out set buffer');
    this.#table = table;
  }

  /** Entries in the table (at the moment of the call). */
  get size(): number {
    return Atomics.load(this.#table, H_COUNT);
  }

  /** True once a newer table replaced this one: adds after that are only in the newer one. */
  get superseded(): boolean {
    return Atomics.load(this.#table, H_SUPERSEDED) === 1;
  }

  /** Opt-out time of a raw UID given as base64 text, Unix seconds; 0 when not opted out. */
  secondsForBase64(uid: string): number {
    return fingerprintBase64(uid, this.#fp) ? lookup(this.#table, this.#fp) : 0;
  }

  /** Opt-out time of raw UID bytes (32 or 33), Unix seconds; 0 when not opted out. */
  secondsForBytes(uid: Uint8Array): number {
    if (uid.length !== 32 && uid.length !== 33) return 0;
    fingerprintBytes(uid, this.#fp);
    return lookup(this.#table, this.#fp);
  }
}

/**
 * The writer's side: owns the current table, inserts, grows, publishes. `onPublish` runs
 * after each new table takes over, with its buffer (the hook a worker engine forwards).
 */
export class OptOutSet {
  #table: Int32Array;
  #view: OptOutSetView;
  #next: Int32Array | undefined;
  #scanned = 0;
  #growTimer: NodeJS.Immediate | undefined;
  readonly #fp = new Int32Array(3);
  readonly #onPublish: ((buffer: SharedArrayBuffer) => void) | undefined;

  /** @param expected entries to size the first table for (e.g. the count in a log about to load) */
  constructor(expected = 0, onPublish?: (buffer: SharedArrayBuffer) => void) {
    this.#table = allocateTable(expected);
    this.#view = new OptOutSetView(this.#table.buffer as SharedArrayBuffer);
    this.#onPublish = onPublish;
  }

  /** The current table's buffer: what readers in other threads wrap in an OptOutSetView. */
  get buffer(): SharedArrayBuffer {
    return this.#table.buffer as SharedArrayBuffer;
  }

  /** A view of the current table (replaced when the table grows). */
  get view(): OptOutSetView {
    return this.#view;
  }

  get size(): number {
    return this.#table[H_COUNT]!;
  }

  /** Bytes of the current table (header included): divide by `size` for bytes per entry. */
  get byteLength(): number {
    return this.#table.byteLength;
  }

  /** True while a larger table is being built. */
  get growing(): boolean {
    return this.#next !== undefined;
  }

  /**
   * Records raw UID bytes (32 or 33) opted out at `seconds` (Unix, 1 .. 2^32 - 1). An entry
   * already present keeps the earlier of its time and this one.
   */
  add(uid: Uint8Array, seconds: number): OptOutSetChange {
    return this.addAt(uid, 0, uid.length, seconds);
  }

  /** `add` for the raw UID at `bytes[offset .. offset + length)` (a log record in a read buffer: no copy). */
  addAt(bytes: Uint8Array, offset: number, length: number, seconds: number): OptOutSetChange {
    fingerprintBytes(bytes, this.#fp, offset, length);
    const change = insert(this.#table, this.#fp, seconds);
    if (this.#next) {
      insert(this.#next, this.#fp, seconds);
      if (this.size >= capacityOf(this.#table) * HARD_LOAD) this.finishGrowth();
    } else if (change === 'added' && this.size > capacityOf(this.#table) * GROW_AT_LOAD) {
      this.#startGrowth();
    }
    return change;
  }

  /** Opt-out time of raw UID bytes, Unix seconds; 0 when absent. */
  secondsForBytes(uid: Uint8Array): number {
    return this.#view.secondsForBytes(uid);
  }

  /** Completes a growth in progress now (used before close and when the table runs full). */
  finishGrowth(): void {
    while (this.#next) this.#growSlice(Number.MAX_SAFE_INTEGER);
  }

  /** Stops background work (a growth in progress is completed first). */
  close(): void {
    this.finishGrowth();
  }

  #startGrowth(): void {
    this.#next = allocateTable(this.size);
    this.#scanned = 0;
    this.#scheduleSlice();
  }

  #scheduleSlice(): void {
    this.#growTimer = setImmediate(() => {
      this.#growTimer = undefined;
      this.#growSlice(GROW_SLICE_BUCKETS);
      if (this.#next) this.#scheduleSlice();
    });
    // Growth never keeps a process alive; close() completes it synchronously.
    this.#growTimer.unref();
  }

  #growSlice(maxBuckets: number): void {
    const old = this.#table;
    const next = this.#next!;
    const buckets = old[H_BUCKETS]!;
    const end = Math.min(buckets, this.#scanned + maxBuckets);
    const fp = this.#fp;
    for (let b = this.#scanned; b < end; b++) {
      for (let w = HEADER_WORDS + b * WORDS_PER_BUCKET, s = 0; s < SLOTS_PER_BUCKET; s++, w += WORDS_PER_SLOT) {
        const seconds = old[w + 3]! >>> 0;
        if (seconds === 0) continue;
        fp[0] = old[w]!;
        fp[1] = old[w + 1]!;
        fp[2] = old[w + 2]!;
        insert(next, fp, seconds);
      }
    }
    this.#scanned = end;
    if (end < buckets) return;
    if (this.#growTimer) clearImmediate(this.#growTimer);
    this.#growTimer = undefined;
    this.#next = undefined;
    this.#table = next;
    this.#view = new OptOutSetView(next.buffer as SharedArrayBuffer);
    Atomics.store(old, H_SUPERSEDED, 1);
    this.#onPublish?.(next.buffer as SharedArrayBuffer);
  }
}
