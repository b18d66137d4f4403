/**
 * The opt-out store contract: what the webhook receiver, the backfill, the clients and the
 * engine need, and what every backend (the local file store here; a Redis-backed fleet store
 * later) provides. Reads are synchronous and in memory; an add resolves once durable.
 */
import type { OptOutSetChange } from './set.js';

/** A raw UID as the store takes it: standard base64 text, or its 32 or 33 bytes. */
export type RawUidInput = string | Uint8Array;

/** Whether a store can make opt-outs durable now (what the webhook receiver's /healthz answers). */
export interface OptOutStoreHealth {
  ok: boolean;
  /**
   * Why not, for an operator: an errno code (`ENOSPC`, `EIO`), a `UID2_ERR_*` code, `closed` or
   * `disconnected`; null when ok. Never a path, a credential or a raw UID.
   */
  reason: string | null;
}

export interface OptOutStore {
  /**
   * Records that `rawUid` opted out at `optedOutMs` (Unix ms); resolves once the opt-out is
   * durable, never before. An opt-out already recorded at the same or an earlier time changes
   * nothing ('unchanged', no write); an earlier time replaces a later one ('earlier').
   * @throws InvalidArgumentError for a malformed raw UID or time; OptOutWriteError when it
   *   could not be made durable; OptOutClosedError after close (all as rejections)
   */
  add(rawUid: RawUidInput, optedOutMs: number): Promise<OptOutSetChange>;
  /** True when `rawUid` opted out. Text that is not a raw UID is never opted out. */
  has(rawUid: RawUidInput): boolean;
  /** When `rawUid` opted out, Unix ms (whole seconds), or undefined. */
  optedOutSince(rawUid: RawUidInput): number | undefined;
  /** Opted-out raw UIDs held. */
  readonly size: number;
  /**
   * The current in-memory set as a SharedArrayBuffer, for readers in other threads (wrap it in
   * an OptOutSetView). When the set grows, a new buffer replaces it and the old view reports
   * `superseded`: fetch `snapshot()` again then.
   */
  snapshot(): SharedArrayBuffer;
  /**
   * Whether the store can make opt-outs durable now: false after its last write failed (until
   * one succeeds), while its backend is unreachable, or once closed. Optional: a store without
   * it counts as healthy.
   */
  health?(): OptOutStoreHealth;
  /** Finishes pending writes, then releases the store. Idempotent. */
  close(): Promise<void>;
}
