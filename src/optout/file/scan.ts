/**
 * Reading an opt-out log back (format.ts): the one place that decides what a file's bytes mean.
 *
 *   load ─► slots in order until the first invalid one, X (records applied, commits checked
 *           against their group) ─► none: clean
 *        ─► X after the last commit, every invalid slot from X on unwritten (or a short last
 *           slot), no commit after X: the last write, torn, never acknowledged ─► cut at X
 *        ─► anything else: damage at X (a writer refuses; a reader and repair salvage)
 *   salvage ─► from X to the end, every intact record wherever it lies (a byte-by-byte search
 *              past damage, so inserted or missing bytes lose only the slots they touch), and
 *              the damaged ranges
 *
 * Groups are written one at a time, each ending in its commit (format.ts), and a group starts
 * only after the previous one's fdatasync returned; so only the last group can be torn, and any
 * fault before a commit is damage to acknowledged opt-outs, which is never dropped silently. A
 * cut never reaches into a group that has its commit: a power loss that wrote a group's commit
 * but not all of its records is refused like damage (repair then loses only that unacknowledged
 * group's missing records), the price of never cutting an acknowledged one.
 */
import type { FileHandle } from 'node:fs/promises';
import { LOG_RECORD_BYTES, RECORD_UID_AT, Slot, classifySlot, commitGroup, recordMs, recordUidLength } from './format.js';

/** Read this much of the file at a time. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024 - ((4 * 1024 * 1024) % LOG_RECORD_BYTES);
/** Damaged ranges listed in a report (their total is always counted). */
export const MAX_LISTED_RANGES = 100;

/** Called for each intact record, with the raw UID at `buf[offset .. offset + length)` (a reused buffer). */
export type OnRecord = (buf: Buffer, offset: number, length: number, optedOutMs: number) => void;
/** The same for a salvage, which waits for a returned promise before it reads on. */
export type OnSalvagedRecord = (buf: Buffer, offset: number, length: number, optedOutMs: number) => Promise<void> | void;

/** A run of bytes that is not intact slots. */
export interface ByteRange {
  offset: number;
  bytes: number;
}

/** Where a strict scan stopped. */
export interface ScanResult {
  /** Records passed to `onRecord`. */
  records: number;
  /** End of the last slot read before the first invalid one (the file size when there is none). */
  end: number;
  /** End of the last commit (the start of the group still open at `end`). */
  committedEnd: number;
  /** What follows `end`: nothing, an unfinished last write, or damage. */
  tail: 'none' | 'torn' | 'damaged';
}

/** What a salvage found from its start to the end of the file. */
export interface SalvageResult {
  records: number;
  damagedBytes: number;
  /** The first MAX_LISTED_RANGES damaged ranges. */
  damaged: ByteRange[];
  /** Damaged ranges in all. */
  damagedRanges: number;
}

async function readAt(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * Reads slots from `from` (a slot boundary, `committedEnd` the start of its group) until the first
 * invalid one, applying records, then judges what follows (see the top of this file).
 * @param commits false for a legacy (version 1) file: no commits, the whole file is one group
 */
export async function scanLog(fh: FileHandle, from: number, size: number, committedEnd: number, commits: boolean, onRecord: OnRecord | null): Promise<ScanResult> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let position = from;
  let records = 0;
  let groupStart = committedEnd;
  let stopped = false;
  while (!stopped && position + LOG_RECORD_BYTES <= size) {
    const want = Math.min(chunk.length, Math.floor((size - position) / LOG_RECORD_BYTES) * LOG_RECORD_BYTES);
    const got = await readAt(fh, chunk, want, position);
    if (got < LOG_RECORD_BYTES) {
      size = position + got; // shrank while read (a read-only open beside a writer)
      break;
    }
    let o = 0;
    for (; o + LOG_RECORD_BYTES <= got; o += LOG_RECORD_BYTES) {
      const kind = classifySlot(chunk, o, commits);
      if (kind === Slot.Record) {
        onRecord?.(chunk, o + RECORD_UID_AT, recordUidLength(chunk, o), recordMs(chunk, o));
        records++;
        continue;
      }
      if (kind === Slot.Commit) {
        const group = commitGroup(chunk, o);
        const at = position + o;
        if (group.start === groupStart && group.records * LOG_RECORD_BYTES === at - groupStart) {
          groupStart = at + LOG_RECORD_BYTES;
          continue;
        }
      }
      stopped = true;
      break;
    }
    position += o;
  }
  if (position === size) return { records, end: position, committedEnd: groupStart, tail: 'none' };
  const torn = await isTornTail(fh, position, size, commits, chunk);
  return { records, end: position, committedEnd: groupStart, tail: torn ? 'torn' : 'damaged' };
}

/**
 * True when the bytes from `at` (the first invalid slot, after the last commit) to the end can
 * only be the last write, unfinished: every invalid slot unwritten (or a short final slot) and no
 * commit at all. A group that has its commit is complete, so a cut never reaches into one, even
 * when a power loss could explain its damage: a writer refuses, and repair decides.
 */
async function isTornTail(fh: FileHandle, at: number, size: number, commits: boolean, chunk: Buffer): Promise<boolean> {
  let position = at;
  while (position + LOG_RECORD_BYTES <= size) {
    const want = Math.min(chunk.length, Math.floor((size - position) / LOG_RECORD_BYTES) * LOG_RECORD_BYTES);
    const got = await readAt(fh, chunk, want, position);
    if (got < LOG_RECORD_BYTES) return true; // the rest vanished: a reader beside a writer's cut
    for (let o = 0; o + LOG_RECORD_BYTES <= got; o += LOG_RECORD_BYTES) {
      const kind = classifySlot(chunk, o, commits);
      // Garbage is damage; a commit means a complete group (and a later write) follows.
      if (kind === Slot.Garbage || kind === Slot.Commit) return false;
      // A legacy file has no group bounds: only unwritten slots up to the end count as torn there.
      if (kind === Slot.Record && !commits) return false;
    }
    position += got - (got % LOG_RECORD_BYTES);
  }
  return true;
}

/**
 * Every intact record from `from` to `size`, wherever it lies: after an invalid slot the next
 * intact one is searched byte by byte (a record or commit must check out: type, length, CRC), so
 * bytes inserted or lost shift what follows without losing it. Commits are skipped, not checked
 * against groups: a salvage keeps records, and a repaired file gets commits of its own.
 * @param onDamage called with each damaged range, in order (its bytes are not re-read: read them from the file)
 */
export async function salvageLog(fh: FileHandle, from: number, size: number, commits: boolean, onRecord: OnSalvagedRecord | null, onDamage?: (range: ByteRange) => void | Promise<void>): Promise<SalvageResult> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  const result: SalvageResult = { records: 0, damagedBytes: 0, damaged: [], damagedRanges: 0 };
  let damageStart = -1;
  const closeDamage = async (end: number): Promise<void> => {
    if (damageStart < 0) return;
    const range = { offset: damageStart, bytes: end - damageStart };
    damageStart = -1;
    result.damagedBytes += range.bytes;
    result.damagedRanges++;
    if (result.damaged.length < MAX_LISTED_RANGES) result.damaged.push(range);
    await onDamage?.(range);
  };
  let position = from;
  while (position + LOG_RECORD_BYTES <= size) {
    const got = await readAt(fh, chunk, Math.min(chunk.length, size - position), position);
    if (got < LOG_RECORD_BYTES) {
      size = position + got;
      break;
    }
    let o = 0;
    while (o + LOG_RECORD_BYTES <= got) {
      const kind = classifySlot(chunk, o, commits);
      if (kind === Slot.Record || kind === Slot.Commit) {
        await closeDamage(position + o);
        if (kind === Slot.Record) {
          const busy = onRecord?.(chunk, o + RECORD_UID_AT, recordUidLength(chunk, o), recordMs(chunk, o));
          if (busy) await busy;
          result.records++;
        }
        o += LOG_RECORD_BYTES;
      } else {
        if (damageStart < 0) damageStart = position + o;
        o++;
      }
    }
    position += o;
  }
  if (damageStart < 0 && position < size) damageStart = position;
  await closeDamage(size);
  return result;
}
