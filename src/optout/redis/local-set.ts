/**
 * The Redis store's local copy of the opt-out set: what `has()` reads, so the decrypt path never
 * waits on the network. Either the in-memory shared set alone (a process that loads everything
 * from Redis on start) or a file store used as a warm-start cache (the same set, backed by the
 * local file, so a restart reads only the stream's tail). Both apply an opt-out idempotently,
 * keeping the earliest time.
 */
import type { FileOptOutStore } from '../file/store.js';
import { OptOutSet, type OptOutSetChange } from '../set.js';
import type { OptOutStore, RawUidInput } from '../store.js';
import { toOptOutSeconds } from '../time.js';

export interface LocalOptOutSet extends Pick<OptOutStore, 'has' | 'optedOutSince' | 'snapshot' | 'close'> {
  readonly size: number;
  /** Records a raw UID (32 or 33 bytes) learnt from Redis; resolves once it is in the set (and, for a cache, on disk). */
  apply(uid: Uint8Array, optedOutMs: number): Promise<OptOutSetChange> | OptOutSetChange;
}

/** The shared in-memory set only (nothing on disk). */
export class MemoryOptOutSet implements LocalOptOutSet {
  readonly #set: OptOutSet;

  constructor(expected: number) {
    this.#set = new OptOutSet(expected);
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

  apply(uid: Uint8Array, optedOutMs: number): OptOutSetChange {
    return this.#set.add(uid, toOptOutSeconds(optedOutMs));
  }

  async close(): Promise<void> {
    this.#set.close();
  }
}

/** A file store as the local set: every opt-out learnt from Redis is also appended to the file. */
export class CachedOptOutSet implements LocalOptOutSet {
  readonly #file: FileOptOutStore;

  constructor(file: FileOptOutStore) {
    this.#file = file;
  }

  get size(): number {
    return this.#file.size;
  }

  has(rawUid: RawUidInput): boolean {
    return this.#file.has(rawUid);
  }

  optedOutSince(rawUid: RawUidInput): number | undefined {
    return this.#file.optedOutSince(rawUid);
  }

  snapshot(): SharedArrayBuffer {
    return this.#file.snapshot();
  }

  apply(uid: Uint8Array, optedOutMs: number): Promise<OptOutSetChange> {
    return this.#file.add(uid, optedOutMs);
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}
