/**
 * The Redis store's local copy of the opt-out set: what `has()` reads, so the decrypt path never
 * waits on the network, and what `snapshot()` hands to other threads. The shared in-memory set,
 * filled from Redis (and, at start, from the warm-start cache file when there is one: cache.ts);
 * it never depends on a file once running. Applying an opt-out is idempotent, keeping the
 * earliest time.
 */
import { OptOutSet, type OptOutSetChange } from '../set.js';
import type { RawUidInput } from '../store.js';
import { toOptOutSeconds } from '../time.js';

export class LocalOptOutSet {
  readonly #set: OptOutSet;

  constructor(set: OptOutSet) {
    this.#set = set;
  }

  get size(): number {
    return this.#set.size;
  }

  #seconds(rawUid: RawUidInput): number {
    const view = this.#set.view;
    return typeof rawUid === 'string' ? view.secondsForBase64(rawUid) : rawUid instanceof Uint8Array ? view.secondsForBytes(rawUid) : 0;
  }

  has(rawUid: RawUidInput): boolean {
    return this.#seconds(rawUid) !== 0;
  }

  optedOutSince(rawUid: RawUidInput): number | undefined {
    const seconds = this.#seconds(rawUid);
    return seconds === 0 ? undefined : seconds * 1000;
  }

  snapshot(): SharedArrayBuffer {
    return this.#set.buffer;
  }

  /** Records a raw UID (32 or 33 bytes) learnt from Redis. */
  apply(uid: Uint8Array, optedOutMs: number): OptOutSetChange {
    return this.#set.add(uid, toOptOutSeconds(optedOutMs));
  }

  close(): void {
    this.#set.close();
  }
}
