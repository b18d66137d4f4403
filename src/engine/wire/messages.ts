/**
 * Everything that crosses the thread boundary between the coordinator and a worker, declared
 * once. Per batch nothing is posted at all (the mailbox carries it, see mailbox.ts); these are
 * the start of a lane's loop and the rare registrations of new shared buffers.
 */
import type { MessagePort } from 'node:worker_threads';

/** A batch slot, posted once per lane before the first descriptor naming it. */
export interface SlotMessage {
  readonly kind: 'slot';
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  readonly bytesCapacity: number;
}

/**
 * A key snapshot as it crosses to a worker. Single scope: `sab` is the engine's key set. Dual
 * scope (`euidSab` present): `sab` is UID2's key set and `euidSab` EUID's, either null while that
 * scope has no keys.
 */
export interface SnapshotRef {
  readonly version: number;
  readonly sab: SharedArrayBuffer | null;
  readonly euidSab?: SharedArrayBuffer | null;
}

/** Only the fields of `snapshot` that cross to a worker (never, say, the key sets it was made from). */
export function snapshotRef(snapshot: SnapshotRef): SnapshotRef {
  const { version, sab, euidSab } = snapshot;
  return euidSab === undefined ? { version, sab } : { version, sab, euidSab };
}

/** A key snapshot, posted before the first descriptor of a lane that names its version. */
export interface SnapshotMessage extends SnapshotRef {
  readonly kind: 'snapshot';
}

/** A decryptColumns() call's columns target (columns.ts), posted before the first descriptor naming it. */
export interface ColumnsMessage {
  readonly kind: 'columns';
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  readonly rows: number;
}

/** The call of columns target `id` is answered: the lane lets go of it (drained before its next batch). */
export interface ReleaseMessage {
  readonly kind: 'release';
  readonly id: number;
}

export type LaneMessage = SlotMessage | SnapshotMessage | ColumnsMessage | ReleaseMessage;

/**
 * The one Piscina task a lane runs: the worker loops over the mailbox until it parks or is
 * stopped. It brings every buffer the lane's pending descriptors may name, so a loop started on
 * any thread needs nothing that was posted to an earlier loop.
 */
export interface LaneStart {
  readonly mailbox: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly slots: readonly SlotMessage[];
  /** In the order the coordinator's mirror of the worker's snapshot cache holds them. */
  readonly snapshots: readonly SnapshotMessage[];
  /** The columns targets its pending descriptors name. */
  readonly columns: readonly ColumnsMessage[];
  /** The loop parks after this long with nothing to do. */
  readonly idleParkMs: number;
}

/** How a lane's loop ended (the task's result). */
export type LaneEnd = 'parked' | 'stopped';

/** Snapshots a worker keeps open per lane loop; the coordinator mirrors this cache exactly. */
export const SNAPSHOT_CACHE_SIZE = 4;
