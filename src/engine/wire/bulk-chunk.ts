/**
 * The bulk chunk: the shared-memory format between the bulk coordinator (engine/bulk/) and the
 * worker function that splits, decrypts and formats a chunk (engine/worker/bulk-chunk.ts).
 *
 * A chunk is one batch slot (wire/slot.ts) whose text region is laid out as
 *
 *   bytes:  [ input: raw input bytes, read here by the coordinator | scratch ]
 *   uids:   [ raw UIDs, each at its token's offset (the slot's rule)        ]
 *
 * plus an output buffer the worker fills with finished records. Plain token lines are decrypted
 * where they were read (the slot table points into the input region: no copy); a line that needs
 * rewriting first (a JSON line, a line with non-ASCII bytes) is written into the scratch region
 * with the slot's writeToken(). The input region is only ever written by the coordinator and
 * only read by the worker, so a chunk can be re-run as it is after its worker died.
 *
 * Per chunk one message goes each way (ChunkTask, ChunkResult); per token, none.
 */
import type { ClientType } from '../../types.js';
import type { CryptoBackend } from '../../native/backend.js';
import { createSlot, slotViews, type Slot } from './slot.js';
import type { RecordFormat } from './record-format.js';
import type { SnapshotRef } from './messages.js';

/** Lines decoded per decoder call: the slot's record capacity. */
export const CHUNK_BATCH_LINES = 4096;
/** Longest line read as a line; a longer one becomes one InvalidPayload-style record. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
/** Room beyond the longest line, so a chunk always reads some new input after a carried tail. */
const INPUT_SLACK_BYTES = 64 * 1024;
/**
 * Scratch for one rewritten line beyond the longest: a token is first written as UTF-8 (up to
 * 3 bytes a character) before it is rewritten one byte a character (slot.ts writeToken).
 */
const SCRATCH_SLACK_BYTES = 3 * 2048 + 1024;
/** Output buffer per chunk; a chunk whose records do not fit is finished in further passes. */
export const CHUNK_OUTPUT_BYTES = 4 * 1024 * 1024;

/** One chunk's shared buffers and the coordinator's views of them. */
export interface Chunk {
  readonly slot: Slot;
  /** Input bytes the coordinator may read into: `slot.bytes[0, inputCapacity)`. */
  readonly inputCapacity: number;
  readonly input: Buffer;
  readonly output: SharedArrayBuffer;
}

/** Input capacity for a longest line of `maxLineBytes`. */
export function chunkInputCapacity(maxLineBytes: number): number {
  return maxLineBytes + INPUT_SLACK_BYTES;
}

export function createChunk(maxLineBytes: number, outputBytes = CHUNK_OUTPUT_BYTES): Chunk {
  const inputCapacity = chunkInputCapacity(maxLineBytes);
  const slot = createSlot(CHUNK_BATCH_LINES, inputCapacity + maxLineBytes + SCRATCH_SLACK_BYTES);
  return { slot, inputCapacity, input: slot.bytes.subarray(0, inputCapacity), output: new SharedArrayBuffer(outputBytes) };
}

/** The worker's views of a chunk's slot (its text region holds input and scratch). */
export function chunkSlot(task: ChunkTask): Slot {
  return slotViews(task.slot, task.capacity, task.bytesCapacity);
}

/** What a worker is asked to do with a chunk: one message per chunk (or per pass of it). */
export interface ChunkTask {
  readonly slot: SharedArrayBuffer;
  readonly capacity: number;
  readonly bytesCapacity: number;
  readonly inputCapacity: number;
  readonly output: SharedArrayBuffer;
  /**
   * Input byte range to read lines from: `start` at the start of a line, `end` just after a line
   * break, or at the end of the input (whose last line may have none).
   */
  readonly start: number;
  readonly end: number;
  /** Lines longer than this are invalid tokens, never decoded. */
  readonly maxLineBytes: number;
  /** The chunk stands for one line longer than the limit: one record for an invalid token. */
  readonly overlong: boolean;
  /** Decryption time of every token in the chunk, Unix ms. */
  readonly nowMs: number;
  /** Key snapshot in force when the chunk was cut (null: no keys yet). */
  readonly snapshot: SnapshotRef | null;
  readonly clientType: ClientType;
  readonly backend: CryptoBackend;
  readonly format: RecordFormat;
  /** Domain or app name of lines that name none (plain token lines). */
  readonly domainOrAppName: string | null;
  /** The opt-out set (an OptOutSetView buffer), or null for no opt-out check. */
  readonly optOut: SharedArrayBuffer | null;
  /** Keep the raw UID of an opted-out record (audits). */
  readonly keepOptedOutUid: boolean;
}

/** What a worker reports for a chunk task. */
export interface ChunkResult {
  /** Input consumed: `end` when done, less when the output buffer filled (run again from there). */
  readonly consumed: number;
  /** Records written (one per line consumed). */
  readonly lines: number;
  readonly outputBytes: number;
  /** Records per status code (wire/slot.ts STATUS_BY_CODE order). */
  readonly statusCounts: readonly number[];
  /** The status codes that occurred, in the order they first did. */
  readonly statusOrder: readonly number[];
  readonly optedOut: number;
  /** Lines over maxLineBytes: how many, and the first few as indexes among this task's lines. */
  readonly overlongLines: number;
  readonly firstOverlong: readonly number[];
}
