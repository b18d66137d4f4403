/**
 * Runs batches through the worker's decryptBatch() with a chosen backend, in this thread, on real
 * slots and snapshots, and reads back both the raw records and the engine's results. Shared by
 * the native tests so every comparison goes through exactly the code the engine runs.
 */
import { beforeAll } from 'vitest';
import type { CryptoBackend } from '../../src/native/backend.js';
import { decodeBatch, openSnapshot } from '../../src/engine/worker/decode.js';
import {
  RECORD_BYTES,
  RECORD_DECODED,
  REC_F64_ESTABLISHED,
  REC_F64_EXPIRY,
  REC_F64_GENERATED,
  REC_F64_SITE_KEY_SITE_ID,
  REC_I32_SITE_ID,
  REC_U32_UID_LENGTH,
  REC_U32_UID_OFFSET,
  packBatch,
  readResult,
  type Slot,
} from '../../src/engine/wire/slot.js';
import { encodeSnapshot } from '../../src/keys/snapshot.js';
import { STATUS_BY_CODE } from '../../src/token/result.js';
import type { KeySet } from '../../src/keys/key-set.js';
import { loadNative, nativeUnavailableReason, type NativeAddon } from '../../src/native/load.js';
import type { ClientType, DecryptionResult } from '../../src/types.js';

/**
 * Native tests run unless UID2_ENGINE_BACKEND=node-crypto says this machine has no addon on
 * purpose. Otherwise a missing addon fails them: CI always builds it, so a skip would hide a
 * broken build.
 */
export const NATIVE_EXPECTED = process.env['UID2_ENGINE_BACKEND'] !== 'node-crypto';

/** Call inside a describe(): fails every test of it when the addon is expected but missing. */
export function requireNative(): () => NativeAddon {
  let addon: NativeAddon | null = null;
  beforeAll(() => {
    addon = loadNative();
    if (!addon) throw new Error(`native addon not built: ${nativeUnavailableReason()} (set UID2_ENGINE_BACKEND=node-crypto to skip)`);
  });
  return () => addon!;
}

export interface Input {
  token: unknown;
  domain?: string | null | undefined;
  nowMs: number;
}

/** A snapshot with a version no other test snapshot in this thread uses (workers cache by version). */
export interface TestSnapshot {
  sab: SharedArrayBuffer;
  version: number;
  keySet: KeySet;
}

let nextVersion = 1_000;
export function snapshotOf(keySet: KeySet): TestSnapshot {
  const version = nextVersion++;
  return { sab: encodeSnapshot(keySet), version, keySet };
}

export interface BatchOutput {
  /** One line per record with every field the record defines for its status (see recordLine). */
  records: string[];
  results: DecryptionResult[];
}

/**
 * The fields a record defines: status and flags always; the decoded fields when RECORD_DECODED;
 * the raw UID bytes only for a success (the only time the coordinator reads them).
 */
function recordLine(slot: Slot, i: number): string {
  const rec = i * RECORD_BYTES;
  const status = STATUS_BY_CODE[slot.recordBytes[rec]!];
  const flags = slot.recordBytes[rec + 3]!;
  if ((flags & RECORD_DECODED) === 0) return `${status} flags=${flags}`;
  const f64 = (k: number): string => String(slot.recordF64[(rec >> 3) + k]);
  let line =
    `${status} flags=${flags} v=${slot.recordBytes[rec + 1]} type=${slot.recordBytes[rec + 2]} ` +
    `site=${slot.recordI32[(rec >> 2) + REC_I32_SITE_ID]} est=${f64(REC_F64_ESTABLISHED)} ` +
    `exp=${f64(REC_F64_EXPIRY)} gen=${f64(REC_F64_GENERATED)} siteKeySite=${f64(REC_F64_SITE_KEY_SITE_ID)}`;
  if (status === 'Success') {
    const off = slot.recordU32[(rec >> 2) + REC_U32_UID_OFFSET]!;
    line += ` uid=${slot.uids.toString('hex', off, off + slot.recordU32[(rec >> 2) + REC_U32_UID_LENGTH]!)}`;
  }
  return line;
}

/**
 * Decrypts `inputs` in batches of up to `batchSize` with `backend`, as a worker would. With `euid`
 * (a snapshot, or null for none) the batches are a dual-scope engine's: `snapshot` (or null) is
 * UID2's.
 */
export function runBackend(
  backend: CryptoBackend,
  snapshot: TestSnapshot | null,
  clientType: ClientType,
  inputs: readonly Input[],
  batchSize = 2048,
  euid?: TestSnapshot | null,
): BatchOutput {
  const out: BatchOutput = { records: [], results: [] };
  const open =
    euid !== undefined ? openSnapshot(snapshot?.sab ?? null, nextVersion++, euid?.sab ?? null) : snapshot ? openSnapshot(snapshot.sab, snapshot.version) : null;
  for (let start = 0; start < inputs.length; start += batchSize) {
    const chunk = inputs.slice(start, start + batchSize);
    const slot = packBatch(chunk);
    decodeBatch(slot, chunk.length, open, clientType, backend);
    for (let i = 0; i < chunk.length; i++) {
      out.records.push(recordLine(slot, i));
      out.results.push(readResult(slot, i));
    }
  }
  return out;
}
