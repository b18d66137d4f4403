/** Everything that crosses the thread boundary between the coordinator and a worker. */
import type { ClientType } from '../types.js';

/** Given once to every worker through Piscina's workerData. */
export interface WorkerData {
  /** Reserved for process-wide settings; workers take all per-batch state from the task. */
  readonly kind: 'uid2-engine-worker';
}

/** One batch: handles to shared memory plus a few numbers. Nothing per token is cloned. */
export interface BatchTask {
  readonly slot: SharedArrayBuffer;
  readonly capacity: number;
  readonly bytesCapacity: number;
  readonly count: number;
  readonly clientType: ClientType;
  /** The key snapshot in force when the batch was dispatched; `null` before any keys. */
  readonly snapshot: SharedArrayBuffer | null;
  readonly snapshotVersion: number;
  /** Crypto backend the coordinator resolved at create() (engine/backend.ts); absent = node-crypto. */
  readonly backend?: 'native' | 'node-crypto';
  /** Test hook: the worker exits after decrypting half the batch, as a crash would. */
  readonly crash?: boolean;
}

export interface BatchReply {
  /** The snapshot version the whole batch was decrypted with. */
  readonly snapshotVersion: number;
  /** Whether the worker had to open a new snapshot for this batch. */
  readonly openedSnapshot: boolean;
}
