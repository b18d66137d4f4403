/**
 * The addon's decodeBatch() contract on its own: argument checks, refusal of corrupt snapshots
 * and slots, per-token bounds, and fresh cipher contexts whenever the snapshot object or version
 * changes (so no key of an old key set is ever used for a new one).
 */
import { describe, expect, it } from 'vitest';
import { RECORD_BYTES, RECORD_DECODED, packBatch, type Slot } from '../../src/engine/wire/slot.js';
import { encodeSnapshot } from '../../src/keys/snapshot.js';
import { parseKeys } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { NOW_MS, keyResponse } from '../engine/mixed-corpus.js';
import { NATIVE_EXPECTED, requireNative } from './harness.js';

function slotWith(tokens: unknown[]): Slot {
  return packBatch(tokens.map((token) => ({ token, nowMs: NOW_MS })));
}

function v4(k: ReturnType<typeof keyResponse>): string {
  return encodeAdvertisingToken({
    version: 4,
    masterKey: k.master,
    siteKey: k.site,
    rawUid: Buffer.alloc(32, 7),
    siteId: 10,
    expiresMs: NOW_MS + 60_000,
    generatedMs: NOW_MS,
    establishedMs: NOW_MS,
  });
}

const status = (slot: Slot, i: number): number => slot.recordBytes[i * RECORD_BYTES]!;
const flags = (slot: Slot, i: number): number => slot.recordBytes[i * RECORD_BYTES + 3]!;

describe.skipIf(!NATIVE_EXPECTED)('decodeBatch contract', () => {
  const addon = requireNative();
  const k = keyResponse(7000, 'addon');
  const snapshot = encodeSnapshot(parseKeys(k.json));

  it('rejects arguments that do not describe a slot and a snapshot', () => {
    const slot = slotWith(['AAAA']);
    const call = (...args: unknown[]): void =>
      (addon().decodeBatch as (...a: unknown[]) => void)(...args);
    expect(() => call(new ArrayBuffer(8), 1, slot.bytesCapacity, 1, snapshot, 1)).toThrow(/slot must be a SharedArrayBuffer/);
    expect(() => call(slot.sab, 1, slot.bytesCapacity, 1, new Uint8Array(4), 1)).toThrow(/snapshot must be a SharedArrayBuffer/);
    expect(() => call(slot.sab, 1, slot.bytesCapacity, 2, snapshot, 1)).toThrow(RangeError);
    expect(() => call(slot.sab, 1, slot.bytesCapacity * 4, 1, snapshot, 1)).toThrow(RangeError);
    expect(() => call(slot.sab, -1, slot.bytesCapacity, 0, snapshot, 1)).toThrow(TypeError);
    expect(() => call(slot.sab, 1.5, slot.bytesCapacity, 0, snapshot, 1)).toThrow(TypeError);
    expect(() => call(slot.sab, 1, slot.bytesCapacity, 1, snapshot, Number.NaN)).toThrow(TypeError);
    expect(() => call(slot.sab, 1, slot.bytesCapacity, 1, snapshot)).toThrow(/6 arguments/);
  });

  it('refuses incomplete or inconsistent snapshots instead of reading past them', () => {
    const slot = slotWith([v4(k)]);
    const corrupt = (edit: (h: Float64Array) => void, bytes = snapshot.byteLength): SharedArrayBuffer => {
      const copy = new SharedArrayBuffer(bytes);
      new Uint8Array(copy).set(new Uint8Array(snapshot).subarray(0, bytes));
      if (bytes >= 128) edit(new Float64Array(copy, 0, 16));
      return copy;
    };
    // The addon reads the header, key ids, key hash, site tables, secrets and names; the regions
    // after those serve the TypeScript side only (keys/snapshot.ts).
    const h = new Float64Array(snapshot, 0, 16);
    const nativeEnd = 128 + 4 * (h[2]! + h[3]! + h[9]! + h[10]! + 2 * h[9]!) + 32 * h[2]! + h[11]!;
    const cases = [
      corrupt((h) => (h[0] = 0)), // no magic: not complete
      corrupt(() => {}, 100), // shorter than the header
      corrupt(() => {}, nativeEnd - 1), // truncated regions (those the addon reads)
      corrupt((h) => (h[2] = 1e6)), // key count beyond the buffer
      corrupt((h) => (h[2] = -1)),
      corrupt((h) => (h[2] = 1.5)),
      corrupt((h) => (h[3] = 12)), // hash capacity not a power of two
      corrupt((h) => (h[3] = 2)), // hash capacity not above the key count
      corrupt((h) => (h[9] = Number.POSITIVE_INFINITY)),
    ];
    for (const bad of cases) {
      expect(() => addon().decodeBatch(slot.sab, 1, slot.bytesCapacity, 1, bad, 99)).toThrow(/not a complete key snapshot/);
    }
  });

  it('survives a hash table whose entries point outside the key list', () => {
    const copy = new SharedArrayBuffer(snapshot.byteLength);
    new Uint8Array(copy).set(new Uint8Array(snapshot));
    const h = new Float64Array(copy, 0, 16);
    const table = new Int32Array(copy, 128 + 4 * h[2]!, h[3]!);
    table.fill(0x7fffffff); // every slot full of garbage: no key found, no endless probe
    const slot = slotWith([v4(k)]);
    addon().decodeBatch(slot.sab, 1, slot.bytesCapacity, 1, copy, 1234);
    expect(status(slot, 0)).toBe(1); // NotAuthorizedForMasterKey
  });

  it('treats out-of-range token offsets and INPUT_INVALID as InvalidPayload', () => {
    const slot = slotWith([v4(k), v4(k), 12345]);
    slot.table[4] = slot.bytesCapacity - 2; // token 1 runs past the text region
    addon().decodeBatch(slot.sab, slot.capacity, slot.bytesCapacity, 3, snapshot, 1);
    expect([status(slot, 0), flags(slot, 0)]).toEqual([0, RECORD_DECODED]);
    expect([status(slot, 1), flags(slot, 1)]).toEqual([4, 0]);
    expect([status(slot, 2), flags(slot, 2)]).toEqual([4, 0]);
    // The raw UID sits at its token's own offset in the uids region.
    const rec = new Uint32Array(slot.sab, slot.recordBytes.byteOffset, slot.capacity * 10);
    expect(rec[6]).toBe(slot.table[0]);
    expect(slot.uids.subarray(rec[6], rec[6]! + rec[7]!)).toEqual(Buffer.alloc(32, 7));
  });

  it('drops its contexts when the snapshot object or the version changes', () => {
    // Same key ids, other secrets: a stale context would fail the tag (InvalidPayload).
    const a = keyResponse(8000, 'addon-a');
    const b = keyResponse(8000, 'addon-b');
    const snapA = encodeSnapshot(parseKeys(a.json));
    const snapB = encodeSnapshot(parseKeys(b.json));
    const slotA = slotWith([v4(a)]);
    const slotB = slotWith([v4(b)]);
    const run = (slot: Slot, snap: SharedArrayBuffer, version: number): number => {
      slot.recordBytes.fill(0xee);
      addon().decodeBatch(slot.sab, 1, slot.bytesCapacity, 1, snap, version);
      return flags(slot, 0) === RECORD_DECODED ? status(slot, 0) : -status(slot, 0);
    };
    expect(run(slotA, snapA, 50)).toBe(0);
    expect(run(slotB, snapB, 50)).toBe(0); // same version number, other buffer
    expect(run(slotA, snapA, 50)).toBe(0);
    expect(run(slotA, snapA, 51)).toBe(0); // same buffer, new version
    expect(run(slotB, snapA, 51)).toBe(-4); // b's token under a's keys: tag fails
    expect(run(slotB, snapB, 52)).toBe(0);
  });

  it('decodes an empty batch without touching the slot', () => {
    const slot = slotWith(['AAAA']);
    slot.recordBytes.fill(0xee);
    addon().decodeBatch(slot.sab, 1, slot.bytesCapacity, 0, snapshot, 1);
    expect(slot.recordBytes.every((b) => b === 0xee)).toBe(true);
  });
});
