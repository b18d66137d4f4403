/**
 * Damage is never taken for a torn write (issue 23, finding 1): a flipped bit anywhere in an opt-out
 * log makes a writer refuse the file with UID2_ERR_OPTOUT_CORRUPT naming the offset (the receiver
 * does not start), a reader loads every intact record around it and says what it skipped, and
 * `uid2-engine optout repair FILE` keeps every intact record, moves the damaged bytes aside and
 * says so. A torn last write is still cut; a version-1 file still opens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/seeded-random.js';
import { OptOutCorruptError } from '../../src/errors.js';
import { crc32Range } from '../../src/optout/file/crc32.js';
import { LOG_HEADER_BYTES, LOG_RECORD_BYTES, encodeRecord } from '../../src/optout/file/format.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { startLocalOperator } from '../../src/testing.js';
import { jsonLines, runCli } from '../helpers/cli.js';

const T = 1_700_000_000_000;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'uid2-log-recovery-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const uid = (): string => randomBytes(32).toString('base64');
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function flipBit(path: string, bit: number): void {
  const fd = openSync(path, 'r+');
  const byte = Buffer.alloc(1);
  const at = Math.floor(bit / 8);
  const read = Buffer.from(readFileSync(path).subarray(at, at + 1));
  byte[0] = read[0]! ^ (1 << bit % 8);
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
}

/** The slot (or the header) holding byte `at`: where a writer must say the damage is. */
const slotOf = (at: number): number => (at < LOG_HEADER_BYTES ? 0 : LOG_HEADER_BYTES + Math.floor((at - LOG_HEADER_BYTES) / LOG_RECORD_BYTES) * LOG_RECORD_BYTES);

/** A log of `count` opt-outs written in groups of random sizes (1..max), as a receiver writes them. */
async function writeLog(path: string, count: number, maxGroup: number, seed: number): Promise<string[]> {
  const random = seededRandom(seed);
  const store = await FileOptOutStore.open(path);
  const list = Array.from({ length: count }, uid);
  for (let i = 0; i < count; ) {
    const n = Math.min(count - i, 1 + Math.floor(random() * maxGroup));
    // A first add goes out alone; those queued behind its fdatasync form the next group.
    await Promise.all(list.slice(i, i + n).map((u, k) => store.add(u, T + (i + k) * 1000)));
    i += n;
  }
  await store.close();
  return list;
}

describe('a damaged opt-out log', () => {
  it('1,000 opt-outs written one by one, one bit flipped in record 10: the writer refuses naming the offset, drops nothing; a reader loads the other 999', async () => {
    const path = join(dir, 'one-by-one.log');
    const store = await FileOptOutStore.open(path);
    const list = Array.from({ length: 1000 }, uid);
    for (const u of list) await store.add(u, T);
    await store.close();
    // Each add is its own group: record k and its commit are slots 2k and 2k + 1.
    const record10 = LOG_HEADER_BYTES + 20 * LOG_RECORD_BYTES;
    flipBit(path, (record10 + 17) * 8 + 3);
    const before = sha(path);

    const error = await FileOptOutStore.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptOutCorruptError);
    expect(error).toMatchObject({ code: 'UID2_ERR_OPTOUT_CORRUPT', offset: record10 });
    expect((error as Error).message).toContain(`damaged at byte ${record10}`);
    expect(sha(path)).toBe(before);

    const serve = await runCli(['optout', 'serve', '--port', '0', '--store', path, '--allow-unauthenticated']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain(`damaged at byte ${record10}`);
    expect(serve.stderr).toContain(`uid2-engine optout repair ${path}`);
    expect(sha(path)).toBe(before);

    const reader = await FileOptOutStore.open(path, { readOnly: true });
    expect(reader.loadReport).toEqual({ records: 999, tornTailBytes: 0, damagedBytes: LOG_RECORD_BYTES, damagedRanges: 1, damaged: [{ offset: record10, bytes: LOG_RECORD_BYTES }] });
    expect(list.filter((u) => !reader.has(u))).toEqual([list[10]]);
    await reader.close();
  });

  it('a bit flipped at random in a 10,000-record log: open refuses naming the slot, a reader skips only it, repair keeps the 9,999 or 10,000 intact records', async () => {
    const pristine = join(dir, 'pristine.log');
    const list = await writeLog(pristine, 10_000, 400, 23);
    const size = statSync(pristine).size;
    const seed = Number(process.env['UID2_FLIP_SEED'] ?? Date.now() % 1_000_000);
    const random = seededRandom(seed);
    // Random bits, plus the places a torn-write rule is most tempted to forgive: the last record,
    // the last commit, the header.
    const bits = [...Array.from({ length: 6 }, () => Math.floor(random() * size * 8)), (size - 2 * LOG_RECORD_BYTES + 20) * 8, (size - 3) * 8 + 5, 9 * 8 + 1];
    for (const bit of bits) {
      const path = join(dir, `flip-${bit}.log`);
      copyFileSync(pristine, path);
      flipBit(path, bit);
      const at = slotOf(Math.floor(bit / 8));
      const context = { seed, bit, at };

      const error = await FileOptOutStore.open(path).catch((e: unknown) => e);
      expect({ ...context, code: (error as OptOutCorruptError).code, offset: (error as OptOutCorruptError).offset }).toEqual({ ...context, code: 'UID2_ERR_OPTOUT_CORRUPT', offset: at });

      const reader = await FileOptOutStore.open(path, { readOnly: true });
      const slotBytes = at === 0 ? LOG_HEADER_BYTES : LOG_RECORD_BYTES;
      expect({ ...context, damaged: reader.loadReport.damaged }).toEqual({ ...context, damaged: [{ offset: at, bytes: slotBytes }] });
      const missing = list.filter((u) => !reader.has(u)).length;
      expect(missing).toBeLessThanOrEqual(1);
      await reader.close();

      const damagedSlot = readFileSync(path).subarray(at, at + slotBytes);
      const run = await runCli(['optout', 'repair', path]);
      expect({ ...context, code: run.code }).toEqual({ ...context, code: 0 });
      const summary = jsonLines(run.stdout)[0]!;
      expect(summary).toMatchObject({ repaired: true, records: 10_000 - missing, damagedBytes: slotBytes, damagedRanges: 1, damaged: [{ offset: at, bytes: slotBytes }] });
      expect(summary['records']).toBeGreaterThanOrEqual(9_999);
      expect(run.stderr).toContain(`repaired ${path}: kept ${(10_000 - missing).toLocaleString('en-US')} intact records`);
      // The damaged bytes, with their offset, are in the file the report names.
      const aside = readFileSync(summary['aside'] as string);
      expect(aside.subarray(0, 16).toString('latin1')).toBe('UID2OPT damaged\n');
      expect(Number(aside.readBigUInt64BE(16))).toBe(at);
      expect(aside.readUInt32BE(24)).toBe(slotBytes);
      expect(aside.subarray(28)).toEqual(damagedSlot);

      const repaired = await FileOptOutStore.open(path);
      expect(repaired.loadReport).toMatchObject({ records: 10_000 - missing, tornTailBytes: 0 });
      expect(list.filter((u) => !repaired.has(u)).length).toBe(missing);
      await repaired.close();
      rmSync(path);
      rmSync(summary['aside'] as string);
    }
  }, 120_000);

  it('repair: bytes inserted mid-file lose nothing; zeros over acknowledged groups are damage, not a torn write; a clean file is left alone', async () => {
    const path = join(dir, 'shifted.log');
    const list = await writeLog(path, 2000, 50, 7);
    const bytes = readFileSync(path);
    const cut = LOG_HEADER_BYTES + 700 * LOG_RECORD_BYTES;
    writeFileSync(path, Buffer.concat([bytes.subarray(0, cut), Buffer.from('hostile'), bytes.subarray(cut)]));
    await expect(FileOptOutStore.open(path)).rejects.toMatchObject({ code: 'UID2_ERR_OPTOUT_CORRUPT', offset: cut });
    let run = await runCli(['optout', 'repair', path]);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)[0]).toMatchObject({ records: 2000, damagedBytes: 7, damaged: [{ offset: cut, bytes: 7 }] });
    let store = await FileOptOutStore.open(path);
    expect(list.every((u) => store.has(u))).toBe(true);
    await store.close();

    // Zeros look like a write that never reached the disk, but groups were written after them.
    const zeroAt = LOG_HEADER_BYTES + 30 * LOG_RECORD_BYTES;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4 * LOG_RECORD_BYTES), 0, 4 * LOG_RECORD_BYTES, zeroAt);
    closeSync(fd);
    await expect(FileOptOutStore.open(path)).rejects.toMatchObject({ code: 'UID2_ERR_OPTOUT_CORRUPT', offset: zeroAt });
    run = await runCli(['optout', 'repair', path]);
    expect(jsonLines(run.stdout)[0]).toMatchObject({ damagedBytes: 4 * LOG_RECORD_BYTES });
    store = await FileOptOutStore.open(path);
    expect(list.filter((u) => !store.has(u)).length).toBeLessThanOrEqual(4);
    await store.close();

    const before = sha(path);
    run = await runCli(['optout', 'repair', path]);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)[0]).toMatchObject({ repaired: false, damagedBytes: 0, aside: null });
    expect(run.stderr).toContain('has no damage');
    expect(sha(path)).toBe(before);
  });

  it('repair never writes over an earlier aside file: a name already taken in the same second gets -1', async () => {
    const path = join(dir, 'twice.log');
    const list = await writeLog(path, 300, 50, 11);
    const bytes = readFileSync(path);
    const cut = LOG_HEADER_BYTES + 100 * LOG_RECORD_BYTES;
    writeFileSync(path, Buffer.concat([bytes.subarray(0, cut), Buffer.from('hostile'), bytes.subarray(cut)]));
    // Earlier repairs' files for this second and the next ten: the repair below runs within them.
    const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const now = Date.now();
    const earlier = Array.from({ length: 11 }, (_, i) => `${path}.damaged-${stamp(now + i * 1000)}`);
    for (const file of earlier) writeFileSync(file, 'an earlier repair');
    const run = await runCli(['optout', 'repair', path]);
    expect(run.stderr).not.toContain('EEXIST');
    expect(run.code).toBe(0);
    const summary = jsonLines(run.stdout)[0]!;
    expect(summary).toMatchObject({ records: 300, damagedBytes: 7 });
    expect(String(summary['aside'])).toMatch(/\.damaged-\d{8}T\d{6}Z-1$/);
    for (const file of earlier) expect(readFileSync(file, 'utf8')).toBe('an earlier repair');
    const store = await FileOptOutStore.open(path);
    expect(list.every((u) => store.has(u))).toBe(true);
    await store.close();
  });

  it('repair refuses while a writer holds the file, a file that is not an opt-out log, and a missing one (exit 2)', async () => {
    const path = join(dir, 'held.log');
    const store = await FileOptOutStore.open(path);
    await store.add(uid(), T);
    const held = await runCli(['optout', 'repair', path]);
    expect(held.code).toBe(2);
    expect(held.stderr).toContain('is open for writing elsewhere');
    await store.close();
    const foreign = join(dir, 'foreign.txt');
    writeFileSync(foreign, 'not an opt-out log, just some text that is long enough to be scanned for records\n'.repeat(20));
    const notLog = await runCli(['optout', 'repair', foreign]);
    expect(notLog.code).toBe(2);
    expect(notLog.stderr).toContain('is not an opt-out file');
    expect(readdirSync(dir).filter((f) => f.startsWith('foreign.txt.'))).toEqual([]);
    const missing = await runCli(['optout', 'repair', join(dir, 'nope.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    expect(existsSync(join(dir, 'nope.log'))).toBe(false);
    expect((await runCli(['optout', 'repair'])).stderr).toContain('optout repair needs the FILE to repair');
  });

  it('decrypt --optout-store on a damaged file: every intact opt-out still applies, and stderr says what was skipped', async () => {
    const op = await startLocalOperator();
    try {
      const path = join(dir, 'decrypt.log');
      const store = await FileOptOutStore.open(path);
      const uids = Array.from({ length: 30 }, () => op.randomRawUid());
      for (const u of uids) await store.add(u, T);
      await store.close();
      const damagedAt = LOG_HEADER_BYTES + 10 * LOG_RECORD_BYTES;
      flipBit(path, (damagedAt + 30) * 8);
      const keysFile = join(dir, 'keys.json');
      writeFileSync(keysFile, JSON.stringify(op.keyResponse('bidstream')));
      // uids[25] comes after the damage: a reader that stopped there would let it through.
      const run = await runCli(['decrypt', '--keys', keysFile, '--optout-store', path, op.mintToken({ version: 4, rawUid: uids[25]! })]);
      expect(run.code).toBe(0);
      expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'Success', optedOut: true, uid: null });
      expect(run.stderr).toContain(`opt-out file ${path} is damaged: skipped 48 bytes in 1 range(s), the first at byte ${damagedAt}`);
      expect(run.stderr).toContain('loaded the 29 intact records');
      expect(run.stderr).not.toContain(uids[25]!);
    } finally {
      await op.close();
    }
  });
});

describe('a torn last write and older files', () => {
  it('a writer killed mid-group: the records that reached the file are kept and committed, a short last slot cut', async () => {
    const path = join(dir, 'killed.log');
    const list = await writeLog(path, 100, 10, 3);
    const extra = [randomBytes(32), randomBytes(32)];
    const tail = Buffer.alloc(3 * LOG_RECORD_BYTES);
    extra.forEach((u, i) => encodeRecord(tail, i * LOG_RECORD_BYTES, u, T));
    randomBytes(20).copy(tail, 2 * LOG_RECORD_BYTES);
    const clean = statSync(path).size;
    writeFileSync(path, Buffer.concat([readFileSync(path), tail.subarray(0, 2 * LOG_RECORD_BYTES + 20)]));
    const store = await FileOptOutStore.open(path);
    expect(store.loadReport).toMatchObject({ records: 102, tornTailBytes: 20 });
    expect(list.every((u) => store.has(u)) && extra.every((u) => store.has(u))).toBe(true);
    await store.close();
    // Kept and committed: 2 records and a commit after the old end, and a clean reopen.
    expect(statSync(path).size).toBe(clean + 3 * LOG_RECORD_BYTES);
    const again = await FileOptOutStore.open(path);
    expect(again.loadReport).toMatchObject({ records: 102, tornTailBytes: 0 });
    await again.close();
  });

  it('opens a version-1 file (no commit records), rewriting it as version 2; damage in one is refused too', async () => {
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    Buffer.from('UID2OPT\n', 'latin1').copy(header);
    header.writeUInt32BE(1, 8);
    header.writeUInt32BE(48, 12);
    header.writeBigInt64BE(BigInt(T), 16);
    header.writeUInt32BE(crc32Range(header, 0, 60), 60);
    const uids = Array.from({ length: 50 }, () => randomBytes(32));
    const body = Buffer.alloc(50 * LOG_RECORD_BYTES);
    uids.forEach((u, i) => encodeRecord(body, i * LOG_RECORD_BYTES, u, T + i));
    const path = join(dir, 'v1.log');
    writeFileSync(path, Buffer.concat([header, body]));
    const store = await FileOptOutStore.open(path);
    expect(uids.every((u) => store.optedOutSince(u) === T)).toBe(true);
    await store.add(uid(), T);
    await store.close();
    expect(readFileSync(path).readUInt32BE(8)).toBe(2);
    const reader = await FileOptOutStore.open(path, { readOnly: true });
    expect(reader.size).toBe(51);
    await reader.close();

    const damaged = join(dir, 'v1-damaged.log');
    const flipped = Buffer.from(body);
    flipped[20 * LOG_RECORD_BYTES + 15]! ^= 0x10;
    writeFileSync(damaged, Buffer.concat([header, flipped]));
    await expect(FileOptOutStore.open(damaged)).rejects.toMatchObject({ code: 'UID2_ERR_OPTOUT_CORRUPT', offset: LOG_HEADER_BYTES + 20 * LOG_RECORD_BYTES });
  });
});
