#!/usr/bin/env node
/**
 * RSS stability of the native backend over millions of decrypts with repeated key-set swaps.
 *
 *   npm run build && node --expose-gc bench/native-rss.mjs [--tokens 5000000] [--swap-every 5120] [--max-growth-mb 8] [--inline]
 *
 * Eight key sets of 200 keys each (tokens spread over 20 master/site key pairs, so every swap
 * makes ~40 fresh cipher contexts) take turns; every swap publishes a NEW snapshot buffer with a
 * new version, exactly as DecryptionEngine does, and the addon must free the previous contexts.
 * Every token must decrypt (Success), which also proves no stale context survives a swap.
 * RSS is printed after warm-up (start), every million tokens, and at the end; the exit code is 1
 * when a token failed or RSS grew by more than --max-growth-mb (leaking the GCM contexts of each
 * swap shows here as about +6 MB per million tokens).
 *
 * --inline: the in-process path instead (inline-decrypt.ts, one decodeOne() per token): every swap
 * parses the key set's JSON into a NEW KeySet, as every client refresh does, so each swap means a
 * new snapshot and fresh contexts in the addon's table, whose old entries must be freed.
 */
import { performance } from 'node:perf_hooks';
import { parseKeys } from '../dist/index.js';
import { encodeAdvertisingToken } from '../dist/testing.js';
import { decodeBatch, openSnapshot } from '../dist/engine/worker/decode.js';
import { RECORD_BYTES, packBatch } from '../dist/engine/wire/slot.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';
import { decoderOf } from '../dist/native/backend.js';
import { loadNative, nativeUnavailableReason } from '../dist/native/load.js';

const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TOTAL = argValue('--tokens', 5_000_000);
const SWAP_EVERY = argValue('--swap-every', 5_120);
const MAX_GROWTH_MB = argValue('--max-growth-mb', 8);
const INLINE = process.argv.includes('--inline');
const BATCH = 256;
const KEY_SETS = 8;
const KEYS_PER_SET = 200;
const PAIRS = 20;
const NOW_MS = 1_780_000_000_000;
const DAY = 86_400_000;

const addon = loadNative();
if (!addon) {
  console.error(`native addon unavailable: ${nativeUnavailableReason()}`);
  process.exit(1);
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
function memory(label) {
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(`${label.padEnd(22)} rss ${mb(m.rss).padStart(7)} MB  heapUsed ${mb(m.heapUsed).padStart(6)} MB  external ${mb(m.external).padStart(6)} MB`);
  return m.rss;
}

// One key set per index: ids shared across sets (so a stale context would be found by id and fail
// the tag), secrets differ.
function keySetJson(set) {
  const keys = Array.from({ length: KEYS_PER_SET }, (_, i) => ({
    id: 1000 + i,
    keyset_id: i % 2 === 0 ? 1 : 10,
    created: (NOW_MS - 10 * DAY) / 1000,
    activates: (NOW_MS - 9 * DAY) / 1000,
    expires: (NOW_MS + 300 * DAY) / 1000,
    secret: Buffer.alloc(32, set * 31 + i).toString('base64'),
  }));
  return { status: 'success', body: { identity_scope: 'UID2', keys } };
}

const sets = Array.from({ length: KEY_SETS }, (_, set) => {
  const json = keySetJson(set);
  const secretOf = (i) => Buffer.from(json.body.keys[i].secret, 'base64');
  const slots = [];
  const tokens = [];
  for (let b = 0; b < SWAP_EVERY / BATCH; b++) {
    const entries = Array.from({ length: BATCH }, (_, index) => {
      const pair = (b * BATCH + index) % PAIRS;
      const token = encodeAdvertisingToken({
        version: index % 5 === 0 ? 2 : 4,
        masterKey: { id: 1000 + 2 * pair, secret: secretOf(2 * pair) },
        siteKey: { id: 1001 + 2 * pair, secret: secretOf(2 * pair + 1) },
        rawUid: index % 5 === 0 ? `user${index}@example.com` : Buffer.alloc(32, index),
        siteId: 10,
        expiresMs: NOW_MS + DAY,
        generatedMs: NOW_MS - 1000,
        establishedMs: NOW_MS - DAY,
      });
      return { token, nowMs: NOW_MS };
    });
    slots.push(packBatch(entries));
    for (const e of entries) tokens.push(e.token);
  }
  return { json, keySet: parseKeys(json), slots, tokens };
});
const decryptInProcess = INLINE ? decoderOf('native').decrypt : undefined;

let version = 0;
let decrypted = 0;
let failures = 0;
function swapAndRun() {
  const set = sets[version % KEY_SETS];
  version++;
  if (decryptInProcess) {
    const keySet = parseKeys(set.json); // a new KeySet per swap, as every refresh makes
    for (const token of set.tokens) if (decryptInProcess(token, keySet, 'bidstream', null, NOW_MS).status !== 'Success') failures++;
    decrypted += set.tokens.length;
    return;
  }
  const snapshot = openSnapshot(encodeSnapshot(set.keySet), version); // a fresh buffer per swap, numbered by the caller as the engine does
  for (const slot of set.slots) {
    decodeBatch(slot, BATCH, snapshot, 'bidstream', 'native');
    for (let i = 0; i < BATCH; i++) if (slot.recordBytes[i * RECORD_BYTES] !== 0) failures++;
    decrypted += BATCH;
  }
}

console.log(`native RSS check${INLINE ? ' (in process)' : ''}: ${TOTAL.toLocaleString('en-US')} decrypts, key-set swap every ${SWAP_EVERY} tokens, Node ${process.version}${globalThis.gc ? '' : ' (run with --expose-gc for steadier numbers)'}`);
memory('before warm-up');
for (let i = 0; i < 2 * KEY_SETS; i++) swapAndRun();
const start = memory('start (after warm-up)');
decrypted = 0;
const t0 = performance.now();
let nextReport = 1_000_000;
while (decrypted < TOTAL) {
  swapAndRun();
  if (decrypted >= nextReport) {
    memory(`${(decrypted / 1e6).toFixed(0)}M decrypts`);
    nextReport += 1_000_000;
  }
}
const seconds = (performance.now() - t0) / 1000;
const end = memory('end');
const table = INLINE ? `, addon context table at the end: ${JSON.stringify(addon.inlineStats())}` : '';
console.log(`${decrypted.toLocaleString('en-US')} decrypts, ${version} key-set versions, ${failures} failures, ${seconds.toFixed(1)} s, RSS change ${mb(end - start)} MB${table}`);
const grewMb = (end - start) / 1024 / 1024;
if (grewMb > MAX_GROWTH_MB) console.log(`RSS grew ${grewMb.toFixed(1)} MB, more than --max-growth-mb ${MAX_GROWTH_MB}`);
process.exit(failures === 0 && grewMb <= MAX_GROWTH_MB ? 0 : 1);
