/**
 * The mailbox: one small SharedArrayBuffer per worker lane through which the coordinator hands
 * batches to a long-lived worker loop without a message per batch (the layout both sides read).
 *
 *   coordinator                                   worker loop (worker/entry.ts)
 *   write descriptor ring[req % RING]             wait on REQ while DONE == REQ (Atomics.wait)
 *   Atomics.store(REQ, req + 1)  ---------------> decode ring[done % RING] in its slot
 *   notify REQ only if STATE == SLEEPING          Atomics.store(DONE, done + 1); notify DONE
 *   Atomics.waitAsync(DONE, seen) <------------'
 *
 * Shared buffers (slots, key snapshots, decryptColumns() targets) cannot travel through an
 * Int32Array: each new one is
 * posted once on the lane's MessagePort before the first descriptor naming it, and the worker
 * drains the port with receiveMessageOnPort (its event loop is blocked in the loop) until it has
 * what the descriptor names. Messages and descriptors are both in order, so what a descriptor
 * needs is always already on the port.
 *
 * STATE lets a lane park: a worker that stays idle for `idleParkMs` returns from its loop (its
 * Piscina task ends, so an idle engine keeps no thread busy and no process alive), and the
 * coordinator starts a new loop when it next writes a descriptor. Both sides move STATE only
 * with compareExchange, so exactly one of them decides whether a new loop is needed.
 */

/** Int32 indexes into the control block. */
export const REQ = 0; // descriptors written (coordinator)
export const DONE = 1; // descriptors finished (worker)
export const STATE = 2; // STATE_* below
export const STOP = 3; // 1: the loop returns as soon as it sees it

export const STATE_RUNNING = 0;
export const STATE_SLEEPING = 1; // in Atomics.wait on REQ: a new descriptor needs a notify
export const STATE_PARKED = 2; // the loop has returned or is returning
export const STATE_STARTING = 3; // the coordinator has asked for a new loop

/** Descriptor ring: fixed-size entries after the header. */
const HEADER_INTS = 4;
const RING_SIZE = 8;
const DESC_INTS = 8;
export const D_SLOT = 0; // slot id
export const D_COUNT = 1; // tokens in the batch
export const D_SNAPSHOT = 2; // snapshot version (0: no keys)
export const D_CLIENT_TYPE = 3; // CLIENT_TYPE_CODES index
export const D_FLAGS = 4; // DESC_* bits
export const D_USED_SNAPSHOT = 5; // written by the worker: the snapshot version it decrypted with
export const D_COLUMNS = 6; // columns target id (0: none; the batch's results stay records)
export const D_COLUMNS_ROW = 7; // the target row of the batch's first token

export const DESC_NATIVE = 0b01;

export const CLIENT_TYPE_CODES = ['bidstream', 'sharing', 'legacy'] as const;

export function createMailbox(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (HEADER_INTS + RING_SIZE * DESC_INTS)));
}

/** Int32 index of field `field` of the descriptor for sequence number `seq`. */
export function descriptorIndex(seq: number, field: number): number {
  return HEADER_INTS + (seq % RING_SIZE) * DESC_INTS + field;
}
