/**
 * The bulk worker function: one chunk task in, finished output bytes out. Per batch of up to
 * CHUNK_BATCH_LINES lines it splits them into the chunk's slot (bulk-lines.ts), decodes them
 * with the backend the task names (decode.ts, the same decoders as every batch), checks opt-outs
 * in the shared opt-out set, and writes each record in the task's format (wire/record-format.ts)
 * into the chunk's output buffer. When the next record might not fit, it stops at that line
 * and reports how far it got: the coordinator writes the output and runs the rest again.
 *
 * It runs in a worker (bulk-entry.ts) or, with `threads: 0`, on the calling thread: same code.
 */
import { OptOutSetView } from '../../optout/set.js';
import type { CryptoBackend } from '../../native/backend.js';
import { chunkSlot, type ChunkResult, type ChunkTask } from '../wire/bulk-chunk.js';
import {
  OPTED_OUT_ABSENT,
  OPTED_OUT_NO,
  OPTED_OUT_YES,
  UID_BYTES,
  UID_NONE,
  UID_TEXT,
  emptyFields,
  maxRecordBytes,
  recordWriter,
} from '../wire/record-format.js';
import { STATUS_BY_CODE, SUCCESS_CODE } from '../../token/result.js';
import { placeInput, readRecordView } from '../wire/slot.js';
import { decodeBatch, openSnapshot, type OpenSnapshot } from './decode.js';
import { LineSplitter } from './bulk-lines.js';

/** Line numbers of over-long lines a task reports (the rest are only counted). */
const OVERLONG_REPORTED = 10;
const NONE: readonly number[] = [];
const ONLY_FIRST: readonly number[] = [0];
/** Snapshots kept open per thread, by version (the native decoder keeps its contexts per snapshot). */
const SNAPSHOTS_KEPT = 4;

/**
 * Open key snapshots by version. The addon keeps its cipher contexts while it sees the same
 * buffer object and version, so a snapshot that arrives again in a later task is answered with
 * the object opened first.
 */
export class SnapshotCache {
  readonly #open: OpenSnapshot[] = [];

  get(snapshot: ChunkTask['snapshot']): OpenSnapshot | null {
    if (snapshot === null) return null;
    let open = this.#open.find((s) => s.version === snapshot.version);
    if (!open) {
      open = openSnapshot(snapshot.sab, snapshot.version, snapshot.euidSab);
      this.#open.push(open);
      if (this.#open.length > SNAPSHOTS_KEPT) this.#open.shift();
    }
    return open;
  }
}

export function runChunk(task: ChunkTask, snapshots: SnapshotCache): ChunkResult {
  const slot = chunkSlot(task);
  const snapshot = snapshots.get(task.snapshot);
  const optOut = task.optOut === null ? null : new OptOutSetView(task.optOut);
  const keepUid = task.keepOptedOutUid;
  const backend: CryptoBackend = task.backend;
  const out = new Uint8Array(task.output);
  const text = Buffer.from(task.output);
  const write = recordWriter(task.format);
  const statusCounts = new Array<number>(STATUS_BY_CODE.length).fill(0);
  const firstOverlong: number[] = [];
  const statusOrder: number[] = [];
  const f = emptyFields();
  f.optedOut = optOut === null ? OPTED_OUT_ABSENT : OPTED_OUT_NO;
  const uids = slot.uids;
  let outPos = 0;
  let lines = 0;
  let optedOut = 0;
  let overlongLines = 0;
  let overlong: readonly number[] = NONE;

  const splitter = task.overlong ? null : new LineSplitter(slot, task, task.maxLineBytes);
  for (;;) {
    let n: number;
    if (splitter) {
      n = splitter.fill();
      if (n === 0) break;
      overlong = splitter.overlong;
    } else {
      // One line that never fit a chunk: an invalid token, through the rules like any other.
      if (lines > 0) break;
      n = 1;
      overlong = ONLY_FIRST;
      placeInput(slot, 0, 0, -1, 0, -1, task.nowMs);
    }
    let nextOverlong = 0;
    decodeBatch(slot, n, snapshot, task.clientType, backend);
    for (let i = 0; i < n; i++) {
      readRecordView(slot, i, f);
      const code = f.code;
      f.uidKind = UID_NONE;
      if (code === SUCCESS_CODE) {
        if (f.version === 2) {
          f.uidKind = UID_TEXT;
          f.uidText = uids.toString('utf8', f.uidOffset, f.uidOffset + f.uidLength);
        } else {
          f.uidKind = UID_BYTES;
          f.uidBytes = uids;
        }
        if (optOut !== null) {
          // What the store's has() answers for the result's uid string (v2 text, v3/v4 base64).
          const seconds =
            f.uidKind === UID_TEXT ? optOut.secondsForBase64(f.uidText) : optOut.secondsForBytes(uids.subarray(f.uidOffset, f.uidOffset + f.uidLength));
          if (seconds !== 0) {
            f.optedOut = OPTED_OUT_YES;
            if (!keepUid) f.uidKind = UID_NONE;
          }
        }
      }
      if (outPos + maxRecordBytes(f) > out.length) {
        return { consumed: splitter!.lineStarts[i]!, lines, outputBytes: outPos, statusCounts, statusOrder, optedOut, overlongLines, firstOverlong };
      }
      // Counted only once written: a record that did not fit is counted when its line runs again.
      outPos = write(out, text, outPos, f);
      if (f.optedOut === OPTED_OUT_YES) {
        optedOut++;
        f.optedOut = OPTED_OUT_NO;
      }
      if (overlong[nextOverlong] === i) {
        nextOverlong++;
        if (overlongLines++ < OVERLONG_REPORTED) firstOverlong.push(lines);
      }
      if (statusCounts[code]!++ === 0) statusOrder.push(code);
      lines++;
    }
  }
  return { consumed: task.end, lines, outputBytes: outPos, statusCounts, statusOrder, optedOut, overlongLines, firstOverlong };
}
