/**
 * The opt-out log's on-disk layout, its one home (docs/optout.md draws it): the header, the
 * opt-out record and the commit record that closes each write group, their encoders and checks,
 * and how a slot that is neither is classified. Everything that reads or writes the file (the
 * writer in log.ts, the scanner in scan.ts, repair.ts, the benchmark) goes through here.
 *
 *   file   := header:64 | slot:48 ...
 *   header := magic "UID2OPT\n" | version:u32be (2; 1 = before commit records) | slotBytes:u32be (48)
 *             | createdMs:i64be | 36 zero bytes | crc32:u32be (of bytes 0..59)
 *   record := type:u8 (1) | uidLength:u8 (32|33) | optedOutMs:i64be | uid:33 (zero-padded)
 *             | 0:u8 | crc32:u32be (of bytes 0..43)
 *   commit := type:u8 (2) | "commit\n" | records:u32be | groupStart:u64be
 *             | "uid2-engine group commit" | crc32:u32be (of bytes 0..43)
 *
 * A commit record ends every write group, in the same write: it says that the `records` slots
 * before it, from byte `groupStart`, were one group. Damage before a commit is therefore never
 * a torn write (a later group was written, so this one's fdatasync had returned).
 *
 * Why "unwritten" is recognisable: slots start at 64 + 48k, so every 512-byte (or larger) sector
 * boundary falls on a 16-byte boundary inside a slot. A write torn by a power loss leaves whole
 * sectors unwritten, which read as zeros (or the file ends early), so a torn slot has an all-zero
 * third. No third of a real slot is all zeros or one bit away from it: a record's first third holds
 * its type and length, the other two raw UID bytes (SHA-256 output) and the CRC; a commit's hold
 * its type, tag and fixed text. So one flipped bit never makes a slot look unwritten: it is
 * garbage, which is damage.
 */
import { crc32Range } from './crc32.js';

export const LOG_MAGIC = Buffer.from('UID2OPT\n', 'latin1');
/** The version this code writes; it also reads LEGACY_LOG_VERSION. */
export const LOG_VERSION = 2;
/** Files written before commit records: read as one uncommitted group, rewritten as version 2 by a writer. */
export const LEGACY_LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 64;
/** Bytes of every slot (record or commit). */
export const LOG_RECORD_BYTES = 48;

const RECORD_TYPE_OPTOUT = 1;
const RECORD_TYPE_COMMIT = 2;
const CRC_AT = 44;
const HEADER_CRC_AT = 60;
const COMMIT_TAG = Buffer.from('commit\n', 'latin1');
const COMMIT_TEXT = Buffer.from('uid2-engine group commit', 'latin1');
const COMMIT_RECORDS_AT = 8;
const COMMIT_START_AT = 12;
const COMMIT_TEXT_AT = 20;
/** Where a slot's raw UID starts. */
export const RECORD_UID_AT = 10;

/** What a 48-byte slot holds. */
export const enum Slot {
  /** A complete, intact opt-out record. */
  Record,
  /** A complete, intact commit record. */
  Commit,
  /** Invalid, with an all-zero third: part of a write that never reached the disk. */
  Unwritten,
  /** Invalid and not explainable as unwritten: damage. */
  Garbage,
}

/** Encodes one opt-out record into `out` at `offset`. */
export function encodeRecord(out: Buffer, offset: number, uid: Uint8Array, optedOutMs: number): void {
  out.fill(0, offset, offset + LOG_RECORD_BYTES);
  out[offset] = RECORD_TYPE_OPTOUT;
  out[offset + 1] = uid.length;
  out.writeBigInt64BE(BigInt(optedOutMs), offset + 2);
  out.set(uid, offset + RECORD_UID_AT);
  out.writeUInt32BE(crc32Range(out, offset, offset + CRC_AT), offset + CRC_AT);
}

/** Encodes the commit record closing a group of `records` slots that starts at byte `groupStart`. */
export function encodeCommit(out: Buffer, offset: number, groupStart: number, records: number): void {
  out[offset] = RECORD_TYPE_COMMIT;
  COMMIT_TAG.copy(out, offset + 1);
  out.writeUInt32BE(records, offset + COMMIT_RECORDS_AT);
  out.writeBigUInt64BE(BigInt(groupStart), offset + COMMIT_START_AT);
  COMMIT_TEXT.copy(out, offset + COMMIT_TEXT_AT);
  out.writeUInt32BE(crc32Range(out, offset, offset + CRC_AT), offset + CRC_AT);
}

export function encodeHeader(createdMs: number): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  LOG_MAGIC.copy(header, 0);
  header.writeUInt32BE(LOG_VERSION, 8);
  header.writeUInt32BE(LOG_RECORD_BYTES, 12);
  header.writeBigInt64BE(BigInt(createdMs), 16);
  header.writeUInt32BE(crc32Range(header, 0, HEADER_CRC_AT), HEADER_CRC_AT);
  return header;
}

/** The version of a valid header (LOG_VERSION or LEGACY_LOG_VERSION), or 0 when it is not one. */
export function headerVersion(header: Buffer): number {
  if (header.length < LOG_HEADER_BYTES || !header.subarray(0, 8).equals(LOG_MAGIC)) return 0;
  const version = header.readUInt32BE(8);
  const valid =
    (version === LOG_VERSION || version === LEGACY_LOG_VERSION) &&
    header.readUInt32BE(12) === LOG_RECORD_BYTES &&
    header.readUInt32BE(HEADER_CRC_AT) === crc32Range(header, 0, HEADER_CRC_AT);
  return valid ? version : 0;
}

/** The creation time of a valid header, Unix ms. */
export function headerCreatedMs(header: Buffer): number {
  return Number(header.readBigInt64BE(16));
}

function zeroThird(buf: Buffer, offset: number): boolean {
  for (let third = offset; third < offset + LOG_RECORD_BYTES; third += 16) {
    let any = 0;
    for (let i = third; i < third + 16; i++) any |= buf[i]!;
    if (any === 0) return true;
  }
  return false;
}

/** Classifies the 48 bytes at `offset`; `commits` false for a legacy file, where a commit is garbage. */
export function classifySlot(buf: Buffer, offset: number, commits: boolean): Slot {
  const type = buf[offset];
  if (type === RECORD_TYPE_OPTOUT) {
    const length = buf[offset + 1];
    if ((length === 32 || length === 33) && buf.readUInt32BE(offset + CRC_AT) === crc32Range(buf, offset, offset + CRC_AT)) return Slot.Record;
  } else if (type === RECORD_TYPE_COMMIT && commits) {
    if (
      buf.readUInt32BE(offset + CRC_AT) === crc32Range(buf, offset, offset + CRC_AT) &&
      buf.compare(COMMIT_TAG, 0, COMMIT_TAG.length, offset + 1, offset + 1 + COMMIT_TAG.length) === 0 &&
      buf.compare(COMMIT_TEXT, 0, COMMIT_TEXT.length, offset + COMMIT_TEXT_AT, offset + CRC_AT) === 0
    ) {
      return Slot.Commit;
    }
  }
  return zeroThird(buf, offset) ? Slot.Unwritten : Slot.Garbage;
}

/** The raw UID length of the record at `offset` (32 or 33). */
export function recordUidLength(buf: Buffer, offset: number): number {
  return buf[offset + 1]!;
}

/** The opt-out time of the record at `offset`, Unix ms: written non-negative and below 2^53, so two u32 reads. */
export function recordMs(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset + 2) * 4_294_967_296 + buf.readUInt32BE(offset + 6);
}

/** The group a commit at `offset` closes: its first byte and its record count. */
export function commitGroup(buf: Buffer, offset: number): { start: number; records: number } {
  return { start: Number(buf.readBigUInt64BE(offset + COMMIT_START_AT)), records: buf.readUInt32BE(offset + COMMIT_RECORDS_AT) };
}
