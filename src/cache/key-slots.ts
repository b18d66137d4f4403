/**
 * Key material the token cache vouches with. A cached entry was decrypted with one master key
 * and one site key; a later key set may drop those ids, keep them, or reuse an id with another
 * secret (a fresh decryption would then fail its tag check, or for v2 CBC produce anything).
 * Each distinct (key id, secret) pair the cache relies on gets a slot; entries hold slot
 * numbers, not keys. When the key set in force changes, every live slot is compared once with
 * the new set (constant-time on the secrets), so the hit path reads one byte per key instead of
 * touching secrets.
 */
import { timingSafeEqual } from 'node:crypto';
import type { DecryptionKeys } from '../keys/decryption-keys.js';

/** State of a slot's key under the key set in force. */
export const KEY_SAME = 0;
/** The key set has no key with this id: a fresh decryption stops at NotAuthorizedFor(Master)Key. */
export const KEY_ABSENT = 1;
/** The id is there with another secret: only a fresh decryption can say what happens. */
const KEY_CHANGED = 2;

function sameSecret(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class KeySlots {
  #ids: number[] = [];
  /** Private copies: a worker snapshot's key views may be reused after the snapshot is gone. */
  #secrets: (Buffer | undefined)[] = [];
  #refs: number[] = [];
  #state = new Uint8Array(16);
  #free: number[] = [];
  #slotsById = new Map<number, number[]>();
  /** The key set the states describe. */
  #keys: DecryptionKeys | undefined;
  /** Slot of each key id of `#keys` interned so far, so a store costs no secret compare. */
  #current = new Map<number, number>();

  /** State of `slot` under the key set last passed to `follow()`. */
  state(slot: number): number {
    return this.#state[slot]!;
  }

  /** Number of live slots. */
  get size(): number {
    return this.#ids.length - this.#free.length;
  }

  /** Re-derives every slot's state when `keys` is not the key set last seen. */
  follow(keys: DecryptionKeys): void {
    if (keys === this.#keys) return;
    this.#keys = keys;
    this.#current.clear();
    for (let slot = 0; slot < this.#ids.length; slot++) {
      const secret = this.#secrets[slot];
      if (secret === undefined) continue;
      const id = this.#ids[slot]!;
      const key = keys.getKey(id);
      let state = KEY_ABSENT;
      if (key !== undefined) state = sameSecret(key.secret, secret) ? KEY_SAME : KEY_CHANGED;
      this.#state[slot] = state;
      if (state === KEY_SAME) this.#current.set(id, slot);
    }
  }

  /**
   * The slot of key `id` as `keys` (the key set a decryption used) holds it, with one more
   * reference; -1 when `keys` has no such key.
   */
  acquire(keys: DecryptionKeys, id: number): number {
    if (this.#keys === undefined) this.follow(keys);
    let slot = keys === this.#keys ? this.#current.get(id) : undefined;
    if (slot === undefined) {
      const key = keys.getKey(id);
      if (key === undefined) return -1;
      slot = this.#find(id, key.secret) ?? this.#create(id, key.secret);
      if (keys === this.#keys) this.#current.set(id, slot);
    }
    this.#refs[slot]!++;
    return slot;
  }

  /** Drops one reference; the slot is freed (and its secret copy wiped) at zero. */
  release(slot: number): void {
    if (--this.#refs[slot]! > 0) return;
    const id = this.#ids[slot]!;
    const list = this.#slotsById.get(id)!;
    list.splice(list.indexOf(slot), 1);
    if (list.length === 0) this.#slotsById.delete(id);
    if (this.#current.get(id) === slot) this.#current.delete(id);
    this.#secrets[slot]!.fill(0);
    this.#secrets[slot] = undefined;
    this.#free.push(slot);
  }

  /** Frees every slot. */
  clear(): void {
    for (const secret of this.#secrets) secret?.fill(0);
    this.#ids = [];
    this.#secrets = [];
    this.#refs = [];
    this.#free = [];
    this.#slotsById.clear();
    this.#current.clear();
    this.#keys = undefined;
  }

  #find(id: number, secret: Uint8Array): number | undefined {
    for (const slot of this.#slotsById.get(id) ?? []) if (sameSecret(this.#secrets[slot]!, secret)) return slot;
    return undefined;
  }

  #create(id: number, secret: Uint8Array): number {
    const slot = this.#free.pop() ?? this.#ids.length;
    this.#ids[slot] = id;
    this.#secrets[slot] = Buffer.from(secret);
    this.#refs[slot] = 0;
    if (slot >= this.#state.length) {
      const grown = new Uint8Array(this.#state.length * 2);
      grown.set(this.#state);
      this.#state = grown;
    }
    // Its state under the key set in force, which need not be the set that decrypted the token.
    const current = this.#keys!.getKey(id);
    this.#state[slot] = current === undefined ? KEY_ABSENT : sameSecret(current.secret, secret) ? KEY_SAME : KEY_CHANGED;
    let list = this.#slotsById.get(id);
    if (!list) this.#slotsById.set(id, (list = []));
    list.push(slot);
    return slot;
  }
}
