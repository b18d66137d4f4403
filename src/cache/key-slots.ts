/**
 * Key material the token cache vouches with. A cached entry was decrypted with one master key
 * and one site key; a later key set may drop those ids, keep them, or reuse an id with another
 * secret (a fresh decryption would then fail its tag check, or for v2 CBC produce anything).
 * Each distinct (key id, secret) pair the cache relies on gets a slot; entries hold slot
 * numbers, not keys. When the key set in force changes, every live slot is compared once with
 * the new set (constant-time on the secrets), so the hit path reads one byte per key instead of
 * touching secrets. The same pass notes each slot key's site id under that set, which a hit
 * reports as `siteKeySiteId`, as a fresh decryption with the set would.
 *
 * One cache may serve two key sets in force at once, UID2's and EUID's (DualScopeBidstreamClient
 * routes each token to the key set of its scope). Each identity scope keeps its own view of the
 * slots, so tokens of the two scopes interleaved never re-derive the states on every call; only a
 * new key set of a scope re-derives that scope's view.
 */
import { timingSafeEqual } from 'node:crypto';
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { siteKeySiteIdOf } from '../token/result.js';
import type { IdentityScope } from '../types.js';

/** State of a slot's key under the key set in force. */
export const KEY_SAME = 0;
/** The key set has no key with this id: a fresh decryption stops at NotAuthorizedFor(Master)Key. */
export const KEY_ABSENT = 1;
/** The id is there with another secret: only a fresh decryption can say what happens. */
const KEY_CHANGED = 2;

function sameSecret(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The slots' states under one key set in force: the last one passed to `follow()` for its scope. */
class KeySetView {
  /** The key set the states describe; none until one of its scope is followed. */
  keys: DecryptionKeys | undefined;
  state = new Uint8Array(16);
  /** Per slot: its key's siteKeySiteId in `keys` (meaningful where the state is KEY_SAME). */
  siteKeySiteIds = new Float64Array(16);
  /** Slot of each key id of `keys` interned so far, so a store costs no secret compare. */
  current = new Map<number, number>();

  /** Sets `slot`'s state for a key with `id` and `secret`, under `keys`. */
  derive(slot: number, id: number, secret: Uint8Array): number {
    const key = this.keys!.getKey(id);
    let state = KEY_ABSENT;
    if (key !== undefined) state = sameSecret(key.secret, secret) ? KEY_SAME : KEY_CHANGED;
    this.state[slot] = state;
    this.siteKeySiteIds[slot] = key === undefined ? 0 : siteKeySiteIdOf(key);
    return state;
  }

  /** Room for `slot`. */
  ensure(slot: number): void {
    if (slot < this.state.length) return;
    const state = new Uint8Array(Math.max(slot + 1, this.state.length * 2));
    state.set(this.state);
    this.state = state;
    const siteIds = new Float64Array(state.length);
    siteIds.set(this.siteKeySiteIds);
    this.siteKeySiteIds = siteIds;
  }

  reset(): void {
    this.keys = undefined;
    this.current.clear();
  }
}

export class KeySlots {
  #ids: number[] = [];
  /** Private copies: a worker snapshot's key views may be reused after the snapshot is gone. */
  #secrets: (Buffer | undefined)[] = [];
  #refs: number[] = [];
  #free: number[] = [];
  #slotsById = new Map<number, number[]>();
  readonly #views: Record<IdentityScope, KeySetView> = { UID2: new KeySetView(), EUID: new KeySetView() };
  /** The view of the key set last passed to `follow()`, which `state()` and `siteKeySiteId()` read. */
  #view: KeySetView = this.#views.UID2;

  /** State of `slot` under the key set last passed to `follow()`. */
  state(slot: number): number {
    return this.#view.state[slot]!;
  }

  /** The result's `siteKeySiteId` for a site key in `slot`, under the key set last passed to `follow()`. */
  siteKeySiteId(slot: number): number {
    return this.#view.siteKeySiteIds[slot]!;
  }

  /** Number of live slots. */
  get size(): number {
    return this.#ids.length - this.#free.length;
  }

  /** Selects the view of `keys`' scope; re-derives its slots' states when `keys` is not the key set it last saw. */
  follow(keys: DecryptionKeys): void {
    const view = this.#views[keys.identityScope];
    this.#view = view;
    if (keys === view.keys) return;
    view.keys = keys;
    view.current.clear();
    for (let slot = 0; slot < this.#ids.length; slot++) {
      const secret = this.#secrets[slot];
      if (secret === undefined) continue;
      const id = this.#ids[slot]!;
      if (view.derive(slot, id, secret) === KEY_SAME) view.current.set(id, slot);
    }
  }

  /**
   * The slot of key `id` as `keys` (the key set a decryption used) holds it, with one more
   * reference; -1 when `keys` has no such key.
   */
  acquire(keys: DecryptionKeys, id: number): number {
    const view = this.#views[keys.identityScope];
    let slot = keys === view.keys ? view.current.get(id) : undefined;
    if (slot === undefined) {
      const key = keys.getKey(id);
      if (key === undefined) return -1;
      slot = this.#find(id, key.secret) ?? this.#create(id, key.secret);
      if (keys === view.keys) view.current.set(id, slot);
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
    for (const view of [this.#views.UID2, this.#views.EUID]) if (view.current.get(id) === slot) view.current.delete(id);
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
    this.#views.UID2.reset();
    this.#views.EUID.reset();
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
    // Its state under each scope's key set in force, which need not be the set that decrypted the
    // token; a view with no key set yet derives every slot when its first set is followed.
    for (const view of [this.#views.UID2, this.#views.EUID]) {
      view.ensure(slot);
      if (view.keys !== undefined) view.derive(slot, id, secret);
    }
    let list = this.#slotsById.get(id);
    if (!list) this.#slotsById.set(id, (list = []));
    list.push(slot);
    return slot;
  }
}
