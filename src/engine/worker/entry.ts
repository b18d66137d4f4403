/**
 * Worker-thread entry (run by Piscina as one long task per lane loop). The loop sleeps in
 * Atomics.wait on the lane's mailbox, decodes each batch descriptor in its shared slot with the
 * backend the descriptor names (and, for a decryptColumns() batch, writes the rows into the
 * call's columns target), publishes completion with Atomics.store + notify, and returns (parks)
 * after `idleParkMs` with nothing to do, or at once when stopped. New slots, key snapshots and
 * columns targets (and the releases of answered calls' targets) arrive on the lane's port and are
 * drained synchronously (this thread's event loop is blocked while the loop runs): see
 * wire/mailbox.ts for the protocol.
 *
 * The loop is built over a batch decoder (laneLoop), so that a test's own entry can wrap
 * decodeBatch (to kill the thread mid-batch, say) without any test branch in this file.
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import { decodeBatch, openSnapshot, type OpenSnapshot } from './decode.js';
import {
  CLIENT_TYPE_CODES,
  DESC_NATIVE,
  DONE,
  D_CLIENT_TYPE,
  D_COLUMNS,
  D_COLUMNS_ROW,
  D_COUNT,
  D_FLAGS,
  D_SLOT,
  D_SNAPSHOT,
  D_USED_SNAPSHOT,
  REQ,
  STATE,
  STATE_PARKED,
  STATE_RUNNING,
  STATE_SLEEPING,
  STOP,
  descriptorIndex,
} from '../wire/mailbox.js';
import { SNAPSHOT_CACHE_SIZE, type LaneEnd, type LaneMessage, type LaneStart } from '../wire/messages.js';
import { columnViews, type ColumnViews } from '../wire/columns.js';
import { slotViews, writeColumns, type Slot } from '../wire/slot.js';

/** Slot views by id, kept across loops of this thread (a slot's buffer never changes). */
const slots = new Map<number, Slot>();

/** decodeBatch()'s signature: what a lane runs per descriptor. */
type BatchDecoder = typeof decodeBatch;

class Lane {
  readonly ctrl: Int32Array;
  readonly #start: LaneStart;
  readonly #decode: BatchDecoder;
  /** Open snapshots in arrival order, at most SNAPSHOT_CACHE_SIZE (mirrored by the coordinator). */
  readonly #snapshots: OpenSnapshot[] = [];
  /** Columns targets of unanswered decryptColumns() calls, by id, until released. */
  readonly #columns = new Map<number, ColumnViews>();

  constructor(start: LaneStart, decode: BatchDecoder) {
    this.#start = start;
    this.#decode = decode;
    this.ctrl = new Int32Array(start.mailbox);
    for (const m of start.slots) this.#accept(m);
    for (const m of start.snapshots) this.#accept(m);
    for (const m of start.columns) this.#accept(m);
  }

  #accept(m: LaneMessage): void {
    switch (m.kind) {
      case 'slot':
        if (!slots.has(m.id) || slots.get(m.id)!.sab !== m.sab) slots.set(m.id, slotViews(m.sab, m.capacity, m.bytesCapacity, m.id));
        return;
      case 'snapshot':
        this.#snapshots.push(openSnapshot(m.sab, m.version, m.euidSab));
        if (this.#snapshots.length > SNAPSHOT_CACHE_SIZE) this.#snapshots.shift();
        return;
      case 'columns':
        this.#columns.set(m.id, columnViews(m.sab, m.rows));
        return;
      case 'release':
        this.#columns.delete(m.id);
    }
  }

  /** Takes whatever the port holds (releases of answered calls' columns, so none is kept alive). */
  #drainAll(): void {
    for (let received = receiveMessageOnPort(this.#start.port); received; received = receiveMessageOnPort(this.#start.port)) {
      this.#accept(received.message as LaneMessage);
    }
  }

  /** Drains the port until `found()` holds; what a descriptor names was posted before it. */
  #drainUntil(found: () => boolean, what: string): void {
    while (!found()) {
      const received = receiveMessageOnPort(this.#start.port);
      if (!received) throw new Error(`engine worker: ${what} was never posted`);
      this.#accept(received.message as LaneMessage);
    }
  }

  #slot(id: number): Slot {
    if (!slots.has(id)) this.#drainUntil(() => slots.has(id), `slot ${id}`);
    return slots.get(id)!;
  }

  #snapshot(version: number): OpenSnapshot | null {
    if (version === 0) return null;
    const find = (): OpenSnapshot | undefined => this.#snapshots.find((s) => s.version === version);
    if (!find()) this.#drainUntil(() => find() !== undefined, `snapshot ${version}`);
    return find()!;
  }

  #target(id: number): ColumnViews {
    if (!this.#columns.has(id)) this.#drainUntil(() => this.#columns.has(id), `columns ${id}`);
    return this.#columns.get(id)!;
  }

  run(seq: number): void {
    const ctrl = this.ctrl;
    if (this.#columns.size > 0) this.#drainAll();
    const slot = this.#slot(ctrl[descriptorIndex(seq, D_SLOT)]!);
    const count = ctrl[descriptorIndex(seq, D_COUNT)]!;
    const snapshot = this.#snapshot(ctrl[descriptorIndex(seq, D_SNAPSHOT)]!);
    const flags = ctrl[descriptorIndex(seq, D_FLAGS)]!;
    const clientType = CLIENT_TYPE_CODES[ctrl[descriptorIndex(seq, D_CLIENT_TYPE)]!]!;
    this.#decode(slot, count, snapshot, clientType, flags & DESC_NATIVE ? 'native' : 'node-crypto');
    const columns = ctrl[descriptorIndex(seq, D_COLUMNS)]!;
    if (columns !== 0) writeColumns(slot, count, this.#target(columns), ctrl[descriptorIndex(seq, D_COLUMNS_ROW)]!);
    ctrl[descriptorIndex(seq, D_USED_SNAPSHOT)] = snapshot?.version ?? 0;
  }
}

/** The lane loop (Piscina's task function) over `decode`. */
export function laneLoop(decode: BatchDecoder): (start: LaneStart) => LaneEnd {
  return (start) => runLane(new Lane(start, decode), start.idleParkMs);
}

export default laneLoop(decodeBatch);

function runLane(lane: Lane, idleParkMs: number): LaneEnd {
  const ctrl = lane.ctrl;
  Atomics.store(ctrl, STATE, STATE_RUNNING);
  let done = Atomics.load(ctrl, DONE);
  for (;;) {
    if (Atomics.load(ctrl, STOP) !== 0) return 'stopped';
    if (done !== Atomics.load(ctrl, REQ)) {
      lane.run(done);
      Atomics.store(ctrl, DONE, ++done);
      Atomics.notify(ctrl, DONE);
      continue;
    }
    // Nothing to do: announce the sleep, then re-check, so a descriptor written in between is
    // either seen here or followed by a notify (the coordinator notifies only sleepers).
    Atomics.store(ctrl, STATE, STATE_SLEEPING);
    if (done === Atomics.load(ctrl, REQ) && Atomics.load(ctrl, STOP) === 0) {
      const woke = Atomics.wait(ctrl, REQ, done, idleParkMs);
      if (woke === 'timed-out' && Atomics.compareExchange(ctrl, STATE, STATE_SLEEPING, STATE_PARKED) === STATE_SLEEPING) {
        if (done === Atomics.load(ctrl, REQ)) return 'parked';
        // A descriptor arrived while parking: take the loop back unless the coordinator has
        // already asked for a new one (then that loop runs it).
        if (Atomics.compareExchange(ctrl, STATE, STATE_PARKED, STATE_RUNNING) !== STATE_PARKED) return 'parked';
        continue;
      }
    }
    Atomics.store(ctrl, STATE, STATE_RUNNING);
  }
}
