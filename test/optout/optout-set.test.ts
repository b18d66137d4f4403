/** The shared-memory opt-out set: lookups by bytes and base64 agree, growth loses nothing, views read it from other threads. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPTOUT_SLOT_BYTES, OptOutSet, OptOutSetView } from '../../src/optout/set.js';
import { parseRawUid } from '../../src/optout/raw-uid.js';
import { halfSipHash12 } from '../../src/util/half-siphash.js';

function uids(count: number, length = 32): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(length));
}

/** Longest run of buckets whose 4 slots are all taken (wrapping around the end). */
function longestFullRun(buffer: SharedArrayBuffer): number {
  const words = new Int32Array(buffer);
  const buckets = words[1]!;
  let longest = 0;
  let run = 0;
  for (let i = 0; i < 2 * buckets; i++) {
    const w = 16 + (i % buckets) * 16;
    const full = words[w + 3] !== 0 && words[w + 7] !== 0 && words[w + 11] !== 0 && words[w + 15] !== 0;
    run = full ? run + 1 : 0;
    longest = Math.max(longest, Math.min(run, buckets));
  }
  return longest;
}

describe('OptOutSet', () => {
  it('finds what was added, by bytes and by base64 (padded and unpadded), with its time, and nothing else', () => {
    const set = new OptOutSet();
    const added = [...uids(500, 32), ...uids(500, 33)];
    added.forEach((uid, i) => expect(set.add(uid, 1_700_000_000 + i)).toBe('added'));
    expect(set.size).toBe(1000);
    added.forEach((uid, i) => {
      expect(set.secondsForBytes(uid)).toBe(1_700_000_000 + i);
      expect(set.view.secondsForBase64(uid.toString('base64'))).toBe(1_700_000_000 + i);
    });
    expect(set.view.secondsForBase64(added[0]!.toString('base64').replace(/=+$/, ''))).toBe(1_700_000_000);
    for (const other of [...uids(2000, 32), ...uids(2000, 33)]) {
      expect(set.secondsForBytes(other)).toBe(0);
      expect(set.view.secondsForBase64(other.toString('base64'))).toBe(0);
    }
  });

  it('tells a 33-byte raw UID from the 32-byte one with the same hash bytes, and 33-byte ones by their first byte', () => {
    const set = new OptOutSet();
    const hash = randomBytes(32);
    set.add(Buffer.concat([Buffer.of(0x10), hash]), 100);
    expect(set.secondsForBytes(hash)).toBe(0);
    expect(set.secondsForBytes(Buffer.concat([Buffer.of(0x11), hash]))).toBe(0);
    expect(set.secondsForBytes(Buffer.concat([Buffer.of(0x10), hash]))).toBe(100);
  });

  it('keeps the earliest time: a repeat changes nothing, an earlier time replaces a later one', () => {
    const set = new OptOutSet();
    const uid = randomBytes(32);
    expect(set.add(uid, 2000)).toBe('added');
    expect(set.add(uid, 2000)).toBe('unchanged');
    expect(set.add(uid, 3000)).toBe('unchanged');
    expect(set.add(uid, 1500)).toBe('earlier');
    expect(set.secondsForBytes(uid)).toBe(1500);
    expect(set.size).toBe(1);
  });

  it('never matches text that is not a raw UID', () => {
    const set = new OptOutSet();
    const uid = randomBytes(32);
    set.add(uid, 5);
    const text = uid.toString('base64');
    for (const bad of ['', 'abc', `${text}A`, `!${text.slice(1)}`, `${text.slice(0, 42)}==`, 'é'.repeat(44), text.slice(0, 40)]) {
      expect(set.view.secondsForBase64(bad)).toBe(0);
    }
    expect(set.view.secondsForBytes(uid.subarray(0, 31))).toBe(0);
  });

  it('grows in slices while lookups go on, loses nothing, supersedes the old buffer and keeps <= 24 bytes an entry', async () => {
    const published: SharedArrayBuffer[] = [];
    const set = new OptOutSet(0, (b) => published.push(b));
    const first = set.view;
    const all = uids(60_000);
    let sawGrowing = false;
    for (let i = 0; i < all.length; i++) {
      set.add(all[i]!, i + 1);
      if (set.growing) {
        sawGrowing = true;
        // While the next table is built, every entry so far is visible in the current one.
        if (i % 997 === 0) for (let j = 0; j <= i; j += 101) expect(set.secondsForBytes(all[j]!)).toBe(j + 1);
      }
      if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    set.finishGrowth();
    expect(sawGrowing).toBe(true);
    expect(published.length).toBeGreaterThan(3);
    expect(first.superseded).toBe(true);
    expect(set.view.superseded).toBe(false);
    expect(published.at(-1)).toBe(set.buffer);
    all.forEach((uid, i) => expect(set.secondsForBytes(uid)).toBe(i + 1));
    expect(set.size).toBe(60_000);
    expect(set.byteLength / set.size).toBeLessThanOrEqual(24);
    expect(OPTOUT_SLOT_BYTES).toBe(16);
  });

  it('presized for a count, holds it at <= 24 bytes an entry without growing', () => {
    const set = new OptOutSet(100_000);
    const before = set.buffer;
    for (const uid of uids(100_000)) set.add(uid, 7);
    expect(set.buffer).toBe(before);
    expect(set.byteLength / set.size).toBeLessThanOrEqual(24);
  });

  it('holds for any set of raw UIDs (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 33 }), { minLength: 1, maxLength: 300, selector: (u) => Buffer.from(u).toString('hex') }), (list) => {
        const set = new OptOutSet();
        list.forEach((u, i) => set.add(u, i + 1));
        set.finishGrowth();
        return list.every((u, i) => set.secondsForBytes(u) === i + 1 && set.view.secondsForBase64(Buffer.from(u).toString('base64')) === i + 1);
      }),
      { numRuns: 50 },
    );
  });

  it('is read in place by a worker thread, which sees adds made after it wrapped the buffer', async () => {
    const set = new OptOutSet(1000);
    const early = randomBytes(32);
    const late = randomBytes(33);
    set.add(early, 11);
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       parentPort.on('message', async (uids) => {
         const { OptOutSetView } = await import(workerData.module);
         const view = new OptOutSetView(workerData.buffer);
         parentPort.postMessage(uids.map((u) => view.secondsForBase64(u)));
       });`,
      { eval: true, workerData: { buffer: set.buffer, module: new URL('../../dist/optout/set.js', import.meta.url).href } },
    );
    try {
      set.add(late, 22);
      worker.postMessage([early.toString('base64'), late.toString('base64'), randomBytes(32).toString('base64')]);
      const [answer] = (await once(worker, 'message')) as [number[]];
      expect(answer).toEqual([11, 22, 0]);
    } finally {
      await worker.terminate();
    }
  });

  it('spreads raw UIDs a sender crafted to collide (differing only in bytes 0-3) over the table, and finds each', () => {
    // The flood: 20,000 raw UIDs equal but for their first 4 bytes. An unkeyed bucket
    // choice from bytes 4-11 sends them all to one bucket, so the table holds one run of full
    // buckets 5,000 long that every insert and every lookup landing in it walks.
    const crafted = Array.from({ length: 20_000 }, (_, i) => {
      const uid = Buffer.alloc(32, 0x5a);
      uid.writeUInt32LE(i, 0);
      return uid;
    });
    const set = new OptOutSet();
    crafted.forEach((uid, i) => expect(set.add(uid, i + 1)).toBe('added'));
    set.finishGrowth();
    expect(set.size).toBe(20_000);
    crafted.forEach((uid, i) => expect(set.view.secondsForBase64(uid.toString('base64'))).toBe(i + 1));
    const absent = Buffer.alloc(32, 0x5a);
    absent.writeUInt32LE(20_000, 0);
    expect(set.secondsForBytes(absent)).toBe(0);
    // Worst probe: the longest run of full buckets (what a lookup walks before an empty slot),
    // read from the layout set.ts documents (64-byte header, buckets of 4 slots of 4 words,
    // the time in a slot's last word, 0 when empty). At <= 85% load a random table's longest
    // run is a handful of buckets; 64 is far above chance and far below the 5,000 of one cluster.
    expect(longestFullRun(set.buffer)).toBeLessThan(64);
  });

  it('keys each table with its own random key, carried in the buffer for every thread', () => {
    const a = new OptOutSet();
    const b = new OptOutSet();
    // Header words 3 and 5 (set.ts).
    const keyOf = (buffer: SharedArrayBuffer): string => {
      const words = new Int32Array(buffer, 0, 16);
      return `${words[3]}:${words[5]}`;
    };
    expect(keyOf(a.buffer)).not.toBe(keyOf(b.buffer));
    const uid = randomBytes(32);
    a.add(uid, 9);
    b.add(uid, 9);
    // A view built from the buffer alone (as a worker builds one) finds the entry with either key.
    expect(new OptOutSetView(a.buffer).secondsForBytes(uid)).toBe(9);
    expect(new OptOutSetView(b.buffer).secondsForBase64(uid.toString('base64'))).toBe(9);
  });

  it('rejects a buffer that is not an opt-out set', () => {
    expect(() => new OptOutSetView(new SharedArrayBuffer(64))).toThrow(RangeError);
  });
});

describe('halfSipHash12 (the bucket hash)', () => {
  it('matches the HalfSipHash-1-3 test vector for a 12-byte message (Linux lib/siphash_kunit.c, 32-bit hsiphash)', () => {
    // Key 00 01 .. 07, message 00 01 .. 0b: test_vectors_hsiphash[12] of the 32-bit build.
    const word = (i: number): number => Buffer.from([i, i + 1, i + 2, i + 3]).readInt32LE(0);
    expect(halfSipHash12(word(0), word(4), word(0), word(4), word(8))).toBe(0x6b28096c);
  });
});

describe('parseRawUid', () => {
  it('accepts standard base64 of 32 or 33 bytes (a space read as +) and nothing else', () => {
    const uid = Buffer.alloc(32, 0xfb);
    const text = uid.toString('base64');
    expect(text).toContain('+');
    expect(parseRawUid(text)).toEqual(uid);
    expect(parseRawUid(text.replaceAll('+', ' '))).toEqual(uid);
    expect(parseRawUid(text.replace(/=$/, ''))).toEqual(uid);
    expect(parseRawUid(randomBytes(33).toString('base64'))?.length).toBe(33);
    for (const bad of [undefined, 5, '', randomBytes(31).toString('base64'), randomBytes(34).toString('base64'), uid.toString('base64url'), `${text.slice(0, 43)}!`]) {
      expect(parseRawUid(bad)).toBeNull();
    }
  });
});
