/**
 * Salvaging a damaged opt-out log (`uid2-engine optout repair FILE`): the explicit step a writer
 * asks for when it refuses a damaged file. Under the writer lock (no receiver may run), it keeps
 * every intact record, before and after the damage, in a fresh file (rewrite.ts) that replaces
 * the old one, and first copies every damaged byte, with its offset, to `<file>.damaged-<time>`:
 *
 *   aside := "UID2OPT damaged\n" | (offset:u64be | length:u32be | bytes)...
 *
 * so nothing of the old file is lost, only moved. A file with nothing damaged is left alone.
 */
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { OptOutCorruptError } from '../../errors.js';
import { LOG_HEADER_BYTES, LOG_MAGIC, headerCreatedMs, headerVersion } from './format.js';
import { openLocked } from './lock.js';
import { LogRewriter, fsyncDirectory } from './rewrite.js';
import { salvageLog, type ByteRange } from './scan.js';

const ASIDE_MAGIC = Buffer.from('UID2OPT damaged\n', 'latin1');
const COPY_CHUNK_BYTES = 1024 * 1024;

/** What a repair did. */
export interface RepairReport {
  /** True when the file was rewritten; false when nothing in it was damaged. */
  repaired: boolean;
  /** Intact records kept (duplicates included). */
  records: number;
  /** Damaged bytes set aside. */
  damagedBytes: number;
  /** Damaged ranges in all. */
  damagedRanges: number;
  /** The first 100 damaged ranges (offsets in the old file). */
  damaged: ByteRange[];
  /** Where the damaged bytes are now, or null. */
  aside: string | null;
  /** The header itself was damaged (and replaced). */
  headerReplaced: boolean;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Creates the file for the damaged bytes, never over an earlier one: two repairs within the same
 * second (the name's resolution) get `-1`, `-2`, ... after the time.
 */
async function createAside(base: string): Promise<{ path: string; fh: FileHandle }> {
  for (let n = 0; ; n++) {
    const path = n === 0 ? base : `${base}-${n}`;
    try {
      return { path, fh: await open(path, 'wx', 0o600) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 999) throw err;
    }
  }
}

/**
 * Repairs the opt-out log at `path`.
 * @throws OptOutLockedError while a writer holds it; OptOutCorruptError(0) for a file that is
 *   not an opt-out log at all (no header and no intact record); the file system's error (ENOENT)
 */
export async function repairOptOutLog(path: string): Promise<RepairReport> {
  const lock = await openLocked(path, false);
  let aside: FileHandle | undefined;
  let asidePath: string | null = null;
  let out: LogRewriter | undefined;
  try {
    const realPath = await realpath(path);
    const size = (await lock.stat()).size;
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    await lock.read(header, 0, Math.min(size, LOG_HEADER_BYTES), 0);
    const headerValid = headerVersion(header) !== 0;
    // Nothing is written (not even aside) for a file that holds no opt-out log at all.
    if (!headerValid && !header.subarray(0, 8).equals(LOG_MAGIC) && (await salvageLog(lock, 0, size, true, null)).records === 0) {
      throw new OptOutCorruptError(0, `${path} is not an opt-out file (no header, no intact record): nothing to repair`);
    }
    out = await LogRewriter.create(realPath, 'repair', headerValid ? headerCreatedMs(header) : Date.now());
    const writer = out;
    const copy = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    const onDamage = async (range: ByteRange): Promise<void> => {
      if (!aside) {
        ({ path: asidePath, fh: aside } = await createAside(`${realPath}.damaged-${timestamp()}`));
        await aside.write(ASIDE_MAGIC);
      }
      const entry = Buffer.alloc(12);
      entry.writeBigUInt64BE(BigInt(range.offset), 0);
      entry.writeUInt32BE(range.bytes, 8);
      await aside.write(entry);
      for (let done = 0; done < range.bytes; ) {
        const { bytesRead } = await lock.read(copy, 0, Math.min(copy.length, range.bytes - done), range.offset + done);
        if (bytesRead === 0) break;
        await aside.write(copy, 0, bytesRead);
        done += bytesRead;
      }
    };
    // Without a header, look for records from byte 0: bytes lost or added at the front shift them.
    const result = await salvageLog(lock, headerValid ? LOG_HEADER_BYTES : 0, size, true, (buf, offset, length, ms) => writer.add(buf.subarray(offset, offset + length), ms), onDamage);
    const report: RepairReport = {
      repaired: !headerValid || result.damagedBytes > 0,
      records: result.records,
      damagedBytes: result.damagedBytes,
      damagedRanges: result.damagedRanges,
      damaged: result.damaged,
      aside: asidePath,
      headerReplaced: !headerValid,
    };
    if (!report.repaired) {
      await out.abort();
      return report;
    }
    if (aside) {
      await (aside as FileHandle).sync();
      await fsyncDirectory(realPath);
    }
    const installed = await out.install();
    out = undefined;
    await installed.close();
    return report;
  } finally {
    await out?.abort();
    await (aside as FileHandle | undefined)?.close();
    await lock.close();
  }
}
