/** The file opt-out store: durable adds, reload, torn-tail recovery, damage refused, compaction, locking (more in log-recovery, write-failures and writer-lock tests). */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, OptOutClosedError, OptOutCorruptError, OptOutLockedError, OptOutWriteError } from '../../src/errors.js';
import { DEFAULT_FILE_OPTOUT_STORE_OPTIONS, FileOptOutStore } from '../../src/optout/file/store.js';
import { LOG_HEADER_BYTES, LOG_RECORD_BYTES } from '../../src/optout/file/format.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uid2-optout-'));
  path = join(dir, 'optouts.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T = 1_700_000_000_000;
const uid = (): string => randomBytes(32).toString('base64');

async function filled(count: number): Promise<string[]> {
  const store = await FileOptOutStore.open(path);
  const list = Array.from({ length: count }, uid);
  await Promise.all(list.map((u, i) => store.add(u, T + i * 1000)));
  await store.close();
  return list;
}

describe('FileOptOutStore', () => {
  it('records opt-outs durably and finds them all after reopening, with their times', async () => {
    const list = await filled(1000);
    const store = await FileOptOutStore.open(path);
    expect(store.size).toBe(1000);
    expect(store.loadReport).toEqual({ records: 1000, tornTailBytes: 0, damagedBytes: 0, damagedRanges: 0, damaged: [] });
    list.forEach((u, i) => {
      expect(store.has(u)).toBe(true);
      expect(store.optedOutSince(u)).toBe(T + i * 1000);
      expect(store.has(Buffer.from(u, 'base64'))).toBe(true);
    });
    expect(store.has(uid())).toBe(false);
    expect(store.optedOutSince(uid())).toBeUndefined();
    await store.close();
  });

  it('answers add only once the opt-out is readable, and a repeated delivery writes nothing', async () => {
    const store = await FileOptOutStore.open(path);
    const u = uid();
    const pending = store.add(u, T);
    expect(store.has(u)).toBe(false);
    expect(await pending).toBe('added');
    expect(store.has(u)).toBe(true);
    const size = statSync(path).size;
    expect(await store.add(u, T)).toBe('unchanged');
    expect(await store.add(u, T + 5000)).toBe('unchanged');
    expect(statSync(path).size).toBe(size);
    expect(await store.add(u, T - 5000)).toBe('earlier');
    expect(store.optedOutSince(u)).toBe(T - 5000);
    expect(store.fileRecords).toBe(2);
    await store.close();
  });

  it('rejects malformed raw UIDs and times without writing', async () => {
    const store = await FileOptOutStore.open(path);
    for (const bad of ['nope', randomBytes(31).toString('base64'), randomBytes(34), 'A'.repeat(44) + '=']) {
      await expect(store.add(bad as string, T)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    for (const ms of [0, -1, 1.5, NaN, 2 ** 53, 5_000_000_000_000]) await expect(store.add(uid(), ms)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(statSync(path).size).toBe(LOG_HEADER_BYTES);
    await store.close();
    await expect(store.add(uid(), T)).rejects.toBeInstanceOf(OptOutClosedError);
  });

  it('cuts a torn tail (a partial record, a half-written last group) and keeps every complete record before it', async () => {
    const list = await filled(100);
    const clean = statSync(path).size;
    appendFileSync(path, randomBytes(30)); // a partial record
    let store = await FileOptOutStore.open(path);
    expect(store.loadReport).toEqual({ records: 100, tornTailBytes: 30, damagedBytes: 0, damagedRanges: 0, damaged: [] });
    expect(list.every((u) => store.has(u))).toBe(true);
    await store.close();
    expect(statSync(path).size).toBe(clean);

    // The last group (5 records and its commit, one write): from its third record on, nothing
    // reached the disk (zeros), as a power loss can leave it.
    const good = await FileOptOutStore.open(path);
    const later = Array.from({ length: 5 }, uid);
    // The first add is written alone; the five queued behind its fdatasync go out as one group.
    const first = uid();
    await Promise.all([good.add(first, T), ...later.map((u) => good.add(u, T))]);
    await good.close();
    const groupAt = clean + 2 * LOG_RECORD_BYTES;
    expect(statSync(path).size).toBe(groupAt + 6 * LOG_RECORD_BYTES);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4 * LOG_RECORD_BYTES), 0, 4 * LOG_RECORD_BYTES, groupAt + 2 * LOG_RECORD_BYTES);
    closeSync(fd);
    store = await FileOptOutStore.open(path);
    expect(store.loadReport).toEqual({ records: 103, tornTailBytes: 4 * LOG_RECORD_BYTES, damagedBytes: 0, damagedRanges: 0, damaged: [] });
    expect(store.has(first)).toBe(true);
    expect(list.every((u) => store.has(u))).toBe(true);
    expect(later.map((u) => store.has(u))).toEqual([true, true, false, false, false]);
    // The file takes new opt-outs right after the cut (the two kept records committed first).
    const next = uid();
    await store.add(next, T);
    await store.close();
    store = await FileOptOutStore.open(path);
    expect(store.has(next)).toBe(true);
    expect(store.loadReport.tornTailBytes).toBe(0);
    expect(later.slice(0, 2).every((u) => store.has(u))).toBe(true);
    await store.close();
  });

  it('refuses zeros inside a group that has its commit, even the last one: never cuts a complete group', async () => {
    const store = await FileOptOutStore.open(path);
    await store.add(uid(), T);
    const groupAt = statSync(path).size;
    const group = Array.from({ length: 5 }, uid);
    await Promise.all([store.add(uid(), T), ...group.map((u) => store.add(u, T))]);
    await store.close();
    const zeroAt = groupAt + 4 * LOG_RECORD_BYTES;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(LOG_RECORD_BYTES), 0, LOG_RECORD_BYTES, zeroAt);
    closeSync(fd);
    await expect(FileOptOutStore.open(path)).rejects.toMatchObject({ code: 'UID2_ERR_OPTOUT_CORRUPT', offset: zeroAt });
  });

  it('refuses a file damaged before its last write group instead of dropping opt-outs', async () => {
    await filled(200);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.of(0xff), 0, 1, LOG_HEADER_BYTES + 10 * LOG_RECORD_BYTES + 20); // flips a UID byte: bad checksum
    closeSync(fd);
    const size = statSync(path).size;
    const error = await FileOptOutStore.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptOutCorruptError);
    expect((error as OptOutCorruptError).offset).toBe(LOG_HEADER_BYTES + 10 * LOG_RECORD_BYTES);
    expect((error as OptOutCorruptError).message).toContain('uid2-engine optout repair');
    expect(statSync(path).size).toBe(size);
  });

  it('refuses a file that is not an opt-out file, and recovers one whose header write was torn', async () => {
    writeFileSync(path, 'this is not an opt-out file at all, it is a text file with enough bytes in it to matter\n');
    await expect(FileOptOutStore.open(path)).rejects.toBeInstanceOf(OptOutCorruptError);
    writeFileSync(path, Buffer.from('UID2OP'));
    const store = await FileOptOutStore.open(path);
    expect(store.size).toBe(0);
    await store.close();
    expect(statSync(path).size).toBe(LOG_HEADER_BYTES);
  });

  it('compacts superseded records away and keeps each raw UID at its earliest time', async () => {
    const store = await FileOptOutStore.open(path);
    const list = Array.from({ length: 50 }, uid);
    for (const u of list) await store.add(u, T + 10_000);
    for (const u of list.slice(0, 20)) await store.add(u, T);
    expect(store.fileRecords).toBe(70);
    expect(await store.compact()).toEqual({ before: 70, after: 50 });
    const after = uid();
    await store.add(after, T);
    await store.close();
    // 50 records and the compaction's commit, then the add and its commit.
    expect(statSync(path).size).toBe(LOG_HEADER_BYTES + 53 * LOG_RECORD_BYTES);
    const reopened = await FileOptOutStore.open(path);
    list.forEach((u, i) => expect(reopened.optedOutSince(u)).toBe(i < 20 ? T : T + 10_000));
    expect(reopened.has(after)).toBe(true);
    await reopened.close();
  });

  it('compacts on open when the file holds many superseded records', async () => {
    const store = await FileOptOutStore.open(path);
    const u = uid();
    for (let i = 10; i > 0; i--) await store.add(u, T + i * 1000);
    await store.close();
    const reopened = await FileOptOutStore.open(path, { compactAboveRedundant: 5 });
    expect(reopened.fileRecords).toBe(1);
    expect(reopened.optedOutSince(u)).toBe(T + 1000);
    await reopened.close();
  });

  it('lets one writer in (a second open is refused) and readers beside it; an old-style .lock file means nothing', async () => {
    const store = await FileOptOutStore.open(path);
    await expect(FileOptOutStore.open(path)).rejects.toBeInstanceOf(OptOutLockedError);
    const u = uid();
    await store.add(u, T);
    const reader = await FileOptOutStore.open(path, { readOnly: true });
    expect(reader.has(u)).toBe(true);
    await expect(reader.add(uid(), T)).rejects.toBeInstanceOf(OptOutWriteError);
    await expect(reader.compact()).rejects.toBeInstanceOf(OptOutWriteError);
    await reader.close();
    await store.close();

    // Earlier versions locked with <file>.lock holding a pid; this one's live pid is ignored now.
    writeFileSync(`${path}.lock`, `${process.pid}\n`);
    const again = await FileOptOutStore.open(path);
    expect(again.has(u)).toBe(true);
    expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
    await again.close();
  });

  it('validates its options', async () => {
    await expect(FileOptOutStore.open('')).rejects.toThrow('path must be a non-empty string');
    await expect(FileOptOutStore.open(path, { maxGroupRecords: 0 })).rejects.toThrow('options.maxGroupRecords must be a positive integer');
    await expect(FileOptOutStore.open(path, { readOnly: 'yes' as unknown as boolean })).rejects.toThrow('options.readOnly must be a boolean');
    await expect(FileOptOutStore.open(path, [] as never)).rejects.toThrow('options must be an object');
    expect(DEFAULT_FILE_OPTOUT_STORE_OPTIONS.maxGroupRecords).toBe(4096);
  });

  it('groups concurrent adds into few writes: 5,000 at once all land, once each', async () => {
    const store = await FileOptOutStore.open(path);
    const list = Array.from({ length: 5000 }, uid);
    const results = await Promise.all(list.map((u) => store.add(u, T)));
    expect(results.every((r) => r === 'added')).toBe(true);
    expect(store.fileRecords).toBe(5000);
    await store.close();
  });
});

describe('crc32Range', () => {
  it('equals zlib.crc32 on any range (property)', async () => {
    const { crc32 } = await import('node:zlib');
    const { crc32Range } = await import('../../src/optout/file/crc32.js');
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = bytes.length === 0 ? 0 : a % bytes.length;
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
        return crc32Range(buf, start, end) === crc32(buf.subarray(start, end));
      }),
    );
  });
});
