/**
 * The dispatcher: worker lanes, batch slots, hand-off and retries. Piscina starts, replaces and
 * closes the worker threads; each lane runs one long Piscina task (a loop over its mailbox, see
 * wire/mailbox.ts and worker/entry.ts), so a batch costs the main thread a few Atomics operations
 * instead of a Piscina task. Completions come back through one pending Atomics.waitAsync per busy lane, and
 * are also picked up on every turn that dispatches.
 *
 * Batching policy: a batch goes to an idle lane at once, with whatever has queued (up to
 * maxBatchSize); while every lane is busy, calls accumulate and the next lane to free up takes
 * them all. A lane that is busy takes another batch only when a full one is waiting, so its
 * worker never waits for the coordinator between batches under load. With batchWindowUs > 0 an
 * idle lane's partial batch waits up to that long for more tokens (fewer, larger batches: less
 * main-thread time per token at moderate rates, at the price of that much latency).
 *
 * A worker that dies (or throws) mid-batch fails its lane's loop task: the batch it was running
 * is re-run once on a fresh loop with the same slot and snapshot, then its calls are rejected with
 * UID2_ERR_WORKER_FAILED; batches queued behind it on that lane are re-run without counting.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ClientType } from '../../types.js';
import { workerScript } from '../../util/worker-script.js';
import type { CryptoBackend } from '../../native/backend.js';
import type { BatchParts, Batcher } from './batcher.js';
import type { Call } from './calls.js';
import type { KeySet } from '../../keys/key-set.js';
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
  STATE_SLEEPING,
  STATE_STARTING,
  STOP,
  createMailbox,
  descriptorIndex,
} from '../wire/mailbox.js';
import {
  SNAPSHOT_CACHE_SIZE,
  type ColumnsMessage,
  type LaneEnd,
  type LaneStart,
  type ReleaseMessage,
  type SlotMessage,
  type SnapshotMessage,
  type SnapshotRef,
  snapshotRef,
} from '../wire/messages.js';
import type { ColumnViews } from '../wire/columns.js';
import { createBatchSlot, type Slot } from '../wire/slot.js';

/**
 * Piscina loads a worker's entry with require() first, and on a Node that can require() an ES
 * module (20.19 and later, `process.features.require_module`) that loads it synchronously. Node 20
 * aborts the whole process (FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated
 * module) when such a thread is terminated in the middle of that load, as the pool does when it is
 * closed or replaces a worker while one is starting. So the engine's threads run without
 * require(esm): Piscina's require() then fails at once and it falls back to import(), whose load a
 * termination merely cuts short. Elsewhere the workers inherit the process's flags as usual.
 */
const WORKER_EXEC_ARGV = (process.features as { require_module?: boolean }).require_module === true
  ? [...process.execArgv, '--no-experimental-require-module']
  : undefined;

/** A key snapshot as published to workers (engine/engine-keys.ts publishes them). */
export interface PublishedSnapshot extends SnapshotRef {
  /**
   * The key set `sab` was made from (what results decrypted with it vouch against): single scope,
   * the engine's; dual scope, UID2's (undefined while it has none).
   */
  readonly keySet: KeySet | undefined;
  /** Dual scope: EUID's key set, that of `euidSab`. */
  readonly euidKeySet?: KeySet | undefined;
}

/** The message that brings `snapshot` to a lane (its buffers only, never the key sets). */
function snapshotMessage(snapshot: PublishedSnapshot): SnapshotMessage {
  return { kind: 'snapshot', ...snapshotRef(snapshot) };
}

/** One batch: its slot (tokens written once), the calls it serves and the snapshot it uses. */
export interface Batch {
  readonly slot: Slot;
  readonly count: number;
  readonly parts: BatchParts;
  /** The columns target its worker writes into (a decryptColumns() call's batch), else null. */
  readonly columns: ColumnViews | null;
  readonly snapshot: PublishedSnapshot | null;
  /** Attempts that failed (a worker died or threw while running it). */
  failures: number;
  /** Snapshot version the worker reports it decrypted with (0: none). */
  usedSnapshot: number;
  /** performance.now() at dispatch. */
  readonly startedAt: number;
}

/** A worker entry script and the `workerData` its threads start with. */
export interface WorkerEntry {
  readonly filename: string;
  readonly workerData?: unknown;
}

interface DispatcherOptions {
  /** The shipped entry (worker/entry.ts) unless a test brings its own (test-hooks.ts). */
  readonly workerEntry?: WorkerEntry | undefined;
  readonly threads: number;
  readonly maxBatchSize: number;
  readonly batchesPerWorker: number;
  readonly idleParkMs: number;
  readonly batchWindowUs: number;
  readonly clientType: ClientType;
  readonly backend: CryptoBackend;
}

interface DispatcherHost {
  readonly batcher: Batcher;
  /** The snapshot a new batch uses. */
  snapshot(): PublishedSnapshot | null;
  complete(batch: Batch): void;
  /**
   * Decrypts one token on this thread, with the same rules, and settles it: a token that fits no
   * slot, or one of those `keepHere` kept.
   */
  decryptHere(call: Call, index: number): void;
  /** Hybrid dispatch: true when `n` queued tokens cost this thread less here than in a hand-off. */
  keepHere(n: number): boolean;
  /** A batch failed its last attempt; `retried` says whether this failure will be re-run. */
  failed(batch: Batch, error: unknown, retried: boolean): void;
}

/** Below this many tokens a batch is not split further across idle lanes. */
const MIN_SPLIT = 32;

class Lane {
  ctrl: Int32Array = createMailbox();
  port: MessagePort | null = null;
  /** Batches written to the ring and not yet completed, in sequence order. */
  readonly inFlight: Batch[] = [];
  /** Next sequence number to write; sequence number of the next completion. */
  req = 0;
  seen = 0;
  waiting = false;
  /** Slot ids this lane's loop has (posted or given at start). */
  readonly slots = new Set<number>();
  /** Mirror of the loop's snapshot cache: versions in arrival order (wire/messages.ts). */
  readonly snapshots: number[] = [];
  /** Ids of the columns targets this lane's loop holds (posted, not yet released). */
  readonly columns = new Set<number>();
  /** Increments with each loop start; a loop's outcome for an older one is ignored. */
  loop = 0;

  constructor() {
    Atomics.store(this.ctrl, STATE, STATE_PARKED);
  }
}

export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #host: DispatcherHost;
  readonly #pool: Piscina<LaneStart, LaneEnd>;
  readonly #lanes: Lane[];
  /** Batches to run again after a lane failed, before any new batch. */
  readonly #retries: Batch[] = [];
  /** Every slot ever created, by id, and the free ones. */
  readonly #slots: Slot[] = [];
  readonly #freeSlots: Slot[] = [];
  readonly #loops = new Set<Promise<unknown>>();
  #inFlightTokens = 0;
  #inFlightBatches = 0;
  #stopping = false;
  #windowTimer: NodeJS.Timeout | null = null;
  /** Ids of the columns targets of unanswered calls that were sent to lanes. */
  readonly #columnIds = new Map<ColumnViews, number>();
  #nextColumnsId = 1;
  /** What every descriptor says of the engine's fixed settings. */
  readonly #clientTypeCode: number;
  readonly #backendFlag: number;

  constructor(options: DispatcherOptions, host: DispatcherHost) {
    this.#options = options;
    this.#host = host;
    this.#clientTypeCode = CLIENT_TYPE_CODES.indexOf(options.clientType);
    this.#backendFlag = options.backend === 'native' ? DESC_NATIVE : 0;
    this.#pool = new Piscina<LaneStart, LaneEnd>({
      filename: options.workerEntry?.filename ?? workerScript('engine/worker/entry.js').href,
      workerData: options.workerEntry?.workerData,
      ...(WORKER_EXEC_ARGV === undefined ? {} : { execArgv: WORKER_EXEC_ARGV }),
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: 2 ** 31 - 1,
      // The engine never reads Piscina's per-task timing histograms: skip their cost.
      recordTiming: false,
    });
    this.#lanes = Array.from({ length: options.threads }, () => new Lane());
  }

  get inFlightTokens(): number {
    return this.#inFlightTokens + this.#retries.reduce((n, b) => n + b.count, 0);
  }

  get inFlightBatches(): number {
    return this.#inFlightBatches;
  }

  get liveWorkers(): number {
    return this.#pool.threads.length;
  }

  get slotsAllocated(): number {
    return this.#slots.length;
  }

  /** Picks up completions, then hands out what is queued. */
  pump(): void {
    this.#pollAll();
    const batcher = this.#host.batcher;
    const max = this.#options.maxBatchSize;
    while (this.#retries.length > 0) {
      const lane = this.#laneWithRoom(true);
      if (!lane) return;
      this.#send(lane, this.#retries.shift()!);
    }
    while (batcher.queued > 0) {
      let lane = this.#idleLane();
      let n: number;
      if (lane) {
        // The window: a partial batch for an idle lane waits for company up to batchWindowUs.
        const windowUs = this.#options.batchWindowUs;
        if (windowUs > 0 && batcher.queued < max) {
          const leftMs = batcher.oldestQueuedAt + windowUs / 1000 - performance.now();
          if (leftMs > 0) {
            this.#armWindow(leftMs);
            return;
          }
        }
        // Hybrid dispatch: what queued may cost less here than waking a worker for it.
        if (batcher.headColumns === null && this.#host.keepHere(batcher.queued)) {
          while (batcher.queued > 0 && batcher.headColumns === null) {
            const { call, index } = batcher.takeOversized();
            this.#host.decryptHere(call, index);
          }
          continue;
        }
        // Spread what is waiting over the idle lanes, in batches of at least MIN_SPLIT.
        const idle = this.#idleLanes();
        n = Math.min(max, batcher.queued, Math.max(MIN_SPLIT, Math.ceil(batcher.queued / idle)));
      } else {
        if (batcher.queued < max) return;
        lane = this.#laneWithRoom(false);
        if (!lane) return;
        n = max;
      }
      const slot = this.#acquireSlot();
      const parts = batcher.fill(slot, n);
      if (parts.count === 0) {
        this.#freeSlots.push(slot);
        const { call, index } = batcher.takeOversized();
        this.#host.decryptHere(call, index);
        continue;
      }
      this.#send(lane, {
        slot,
        count: parts.count,
        parts,
        columns: parts.calls[0]!.columns,
        snapshot: this.#host.snapshot(),
        failures: 0,
        usedSnapshot: 0,
        startedAt: performance.now(),
      });
    }
  }

  /**
   * Runs one task of another worker entry (bulk chunks, worker/bulk-entry.ts) on the pool's
   * threads: one Piscina message each way, beside the lanes' loops (a busy lane holds its thread
   * until it parks).
   */
  runTask<T, R>(entry: URL, task: T): Promise<R> {
    return this.#pool.run(task as never, { filename: entry.href }) as Promise<R>;
  }

  /**
   * The call of `columns` is answered (or failed): lanes holding its target let go of it, so no
   * worker keeps the caller's arrays alive. Idempotent.
   */
  release(columns: ColumnViews): void {
    const id = this.#columnIds.get(columns);
    if (id === undefined) return;
    this.#columnIds.delete(columns);
    for (const lane of this.#lanes) {
      if (!lane.columns.delete(id)) continue;
      lane.port?.postMessage({ kind: 'release', id } satisfies ReleaseMessage);
    }
  }

  /** Stops every loop once nothing is in flight (the engine drains first), then the threads. */
  async close(): Promise<void> {
    this.#stopping = true;
    if (this.#windowTimer) clearTimeout(this.#windowTimer);
    for (const lane of this.#lanes) {
      Atomics.store(lane.ctrl, STOP, 1);
      Atomics.notify(lane.ctrl, REQ);
    }
    await Promise.allSettled([...this.#loops]);
    for (const lane of this.#lanes) lane.port?.close();
    await this.#pool.destroy();
  }

  /** Pumps again when the oldest queued token's window closes (setTimeout: 1 ms resolution). */
  #armWindow(leftMs: number): void {
    if (this.#windowTimer) return;
    this.#windowTimer = setTimeout(() => {
      this.#windowTimer = null;
      this.pump();
    }, Math.max(1, Math.ceil(leftMs)));
  }

  #idleLane(): Lane | undefined {
    for (const lane of this.#lanes) if (lane.inFlight.length === 0) return lane;
    return undefined;
  }

  #idleLanes(): number {
    let idle = 0;
    for (const lane of this.#lanes) if (lane.inFlight.length === 0) idle++;
    return idle;
  }

  /** The least loaded lane with ring room; `any` also takes a lane that is already busy. */
  #laneWithRoom(any: boolean): Lane | undefined {
    let best: Lane | undefined;
    for (const lane of this.#lanes) {
      if (lane.inFlight.length >= this.#options.batchesPerWorker) continue;
      if (!any && lane.inFlight.length === 0) return lane;
      if (!best || lane.inFlight.length < best.inFlight.length) best = lane;
    }
    return best;
  }

  /** A free slot, or a new one for maxBatchSize tokens (wire/slot.ts createBatchSlot). */
  #acquireSlot(): Slot {
    const free = this.#freeSlots.pop();
    if (free) return free;
    const slot = createBatchSlot(this.#options.maxBatchSize, this.#slots.length);
    this.#slots.push(slot);
    return slot;
  }

  #send(lane: Lane, batch: Batch): void {
    const ctrl = lane.ctrl;
    const { slot } = batch;
    if (lane.port && !lane.slots.has(slot.id)) {
      lane.port.postMessage(slotMessage(slot));
      lane.slots.add(slot.id);
    }
    const version = batch.snapshot?.version ?? 0;
    if (lane.port && batch.snapshot && !lane.snapshots.includes(version)) {
      lane.port.postMessage(snapshotMessage(batch.snapshot));
      lane.snapshots.push(version);
      if (lane.snapshots.length > SNAPSHOT_CACHE_SIZE) lane.snapshots.shift();
    }
    let columnsId = 0;
    if (batch.columns) {
      columnsId = this.#columnsId(batch.columns);
      if (lane.port && !lane.columns.has(columnsId)) {
        lane.port.postMessage(columnsMessage(columnsId, batch.columns));
        lane.columns.add(columnsId);
      }
    }
    const seq = lane.req;
    ctrl[descriptorIndex(seq, D_SLOT)] = slot.id;
    ctrl[descriptorIndex(seq, D_COUNT)] = batch.count;
    ctrl[descriptorIndex(seq, D_SNAPSHOT)] = version;
    ctrl[descriptorIndex(seq, D_CLIENT_TYPE)] = this.#clientTypeCode;
    ctrl[descriptorIndex(seq, D_FLAGS)] = this.#backendFlag;
    ctrl[descriptorIndex(seq, D_COLUMNS)] = columnsId;
    ctrl[descriptorIndex(seq, D_COLUMNS_ROW)] = columnsId === 0 ? 0 : batch.parts.starts[0]!;
    lane.inFlight.push(batch);
    this.#inFlightTokens += batch.count;
    this.#inFlightBatches++;
    lane.req = seq + 1;
    Atomics.store(ctrl, REQ, lane.req);
    const state = Atomics.load(ctrl, STATE);
    if (state === STATE_SLEEPING) Atomics.notify(ctrl, REQ);
    else if (state === STATE_PARKED && Atomics.compareExchange(ctrl, STATE, STATE_PARKED, STATE_STARTING) === STATE_PARKED) {
      this.#startLoop(lane);
    }
    this.#arm(lane);
  }

  /** Starts a loop for `lane` with every buffer its pending descriptors may name. */
  #startLoop(lane: Lane): void {
    lane.port?.close();
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    lane.port = port1;
    lane.slots.clear();
    for (const slot of this.#slots) lane.slots.add(slot.id);
    lane.snapshots.length = 0;
    const snapshots: SnapshotMessage[] = [];
    lane.columns.clear();
    const columns: ColumnsMessage[] = [];
    for (const batch of lane.inFlight) {
      if (batch.snapshot && !lane.snapshots.includes(batch.snapshot.version)) {
        lane.snapshots.push(batch.snapshot.version);
        snapshots.push(snapshotMessage(batch.snapshot));
      }
      if (batch.columns) {
        const id = this.#columnsId(batch.columns);
        if (!lane.columns.has(id)) {
          lane.columns.add(id);
          columns.push(columnsMessage(id, batch.columns));
        }
      }
    }
    const loop = ++lane.loop;
    const ctrl = lane.ctrl;
    const start: LaneStart = {
      mailbox: ctrl.buffer as SharedArrayBuffer,
      port: port2,
      slots: this.#slots.map(slotMessage),
      snapshots,
      columns,
      idleParkMs: this.#options.idleParkMs,
    };
    const run = this.#pool.run(start, { transferList: [port2] as never });
    this.#loops.add(run);
    run.then(
      () => this.#loops.delete(run),
      (err: unknown) => {
        this.#loops.delete(run);
        if (lane.loop === loop && lane.ctrl === ctrl) this.#laneFailed(lane, err);
      },
    );
  }

  /** One pending waitAsync per busy lane: its resolution brings completions back. */
  #arm(lane: Lane): void {
    if (lane.waiting || lane.inFlight.length === 0) return;
    const ctrl = lane.ctrl;
    const wait = Atomics.waitAsync(ctrl, DONE, lane.seen);
    lane.waiting = true;
    const wake = (): void => {
      if (lane.ctrl !== ctrl) return;
      lane.waiting = false;
      this.pump();
      this.#arm(lane);
    };
    if (wait.async) void wait.value.then(wake);
    else queueMicrotask(wake);
  }

  #columnsId(columns: ColumnViews): number {
    let id = this.#columnIds.get(columns);
    if (id === undefined) {
      id = this.#nextColumnsId++;
      this.#columnIds.set(columns, id);
    }
    return id;
  }

  #pollAll(): void {
    for (const lane of this.#lanes) this.#poll(lane);
  }

  #poll(lane: Lane): void {
    const ctrl = lane.ctrl;
    const done = Atomics.load(ctrl, DONE);
    while (lane.seen < done) {
      const batch = lane.inFlight.shift()!;
      batch.usedSnapshot = ctrl[descriptorIndex(lane.seen, D_USED_SNAPSHOT)]!;
      lane.seen++;
      this.#retire(batch);
      this.#host.complete(batch);
      this.#freeSlots.push(batch.slot);
    }
  }

  #retire(batch: Batch): void {
    this.#inFlightTokens -= batch.count;
    this.#inFlightBatches--;
  }

  /** The lane's loop task failed: settle what it finished, re-run the rest on a fresh mailbox. */
  #laneFailed(lane: Lane, err: unknown): void {
    this.#poll(lane);
    const pending = lane.inFlight.splice(0);
    for (const batch of pending) this.#retire(batch);
    const old = lane.ctrl;
    lane.ctrl = createMailbox();
    Atomics.store(lane.ctrl, STATE, STATE_PARKED);
    lane.port?.close();
    lane.port = null;
    lane.req = 0;
    lane.seen = 0;
    lane.waiting = false;
    // Resolve the dead mailbox's pending waitAsync, so it holds nothing.
    Atomics.notify(old, DONE);
    const [running, ...queued] = pending;
    if (running) {
      running.failures++;
      const retried = running.failures < 2 && !this.#stopping;
      this.#host.failed(running, err, retried);
      if (retried) this.#retries.push(running);
      else this.#freeSlots.push(running.slot);
    }
    this.#retries.push(...queued);
    this.pump();
  }
}

function columnsMessage(id: number, columns: ColumnViews): ColumnsMessage {
  return { kind: 'columns', id, sab: columns.sab, rows: columns.rows };
}

function slotMessage(slot: Slot): SlotMessage {
  return { kind: 'slot', id: slot.id, sab: slot.sab, capacity: slot.capacity, bytesCapacity: slot.bytesCapacity };
}
