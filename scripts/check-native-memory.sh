#!/usr/bin/env bash
# Runs the native addon under valgrind memcheck on the shared decryption vectors and a large random
# corpus (minted v2/v3/v4 tokens, then bit flips, truncations, extensions, re-encodings, non-ASCII
# and junk), through both the batch function and the in-process decodeOne(), with key-set swaps
# between batches (a new KeySet each for the in-process path) and a worker thread that loads the
# addon, fills its in-process context table and unloads it. Fails when memcheck reports an invalid read/write, a use of uninitialised memory or a
# definite leak whose stack goes through uid2_native (Node's own startup noise is not ours to fix).
#
#   npm run build && node scripts/build-native.mjs --force && scripts/check-native-memory.sh [TOKENS]
#
# It checks the local build (unstripped, so memcheck's stacks name our functions), not the stripped
# prebuild the loader would pick first: UID2_ENGINE_NATIVE_ADDON points the loader at it.
#
# TOKENS defaults to 30000 (about three minutes under valgrind on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS="${1:-30000}"
ADDON=native/build/Release/uid2_native.node
[[ -f "$ADDON" ]] || { echo "check-native-memory: $ADDON missing (node scripts/build-native.mjs --force)"; exit 1; }
export UID2_ENGINE_NATIVE_ADDON="$PWD/$ADDON"
[[ -f dist/engine/worker/entry.js ]] || { echo "check-native-memory: dist/ missing (npm run build)"; exit 1; }
command -v valgrind >/dev/null || { echo "check-native-memory: valgrind not installed"; exit 1; }

DRIVER="$(mktemp --suffix=.mjs -p "$PWD")"
LOG="${MEMCHECK_LOG:-$(mktemp)}"  # MEMCHECK_LOG=path keeps valgrind's full report
trap 'rm -f "$DRIVER"; [[ -n "${MEMCHECK_LOG:-}" ]] || rm -f "$LOG"' EXIT
cat >"$DRIVER" <<'JS'
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { encodeAdvertisingToken, parseKeys } from './dist/index.js';
import { decodeBatch, openSnapshot } from './dist/engine/worker/decode.js';
import { RECORD_BYTES, packBatch } from './dist/engine/wire/slot.js';
import { encodeSnapshot } from './dist/keys/snapshot.js';
import { decoderOf } from './dist/native/backend.js';
import { nativeAddonPath } from './dist/native/load.js';

const TOKENS = Number(process.argv[2]);
const NOW_MS = 1_780_000_000_000;
let version = 0;
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const int = (n) => Math.floor(rnd() * n);
const statuses = new Map();
const inlineStatuses = new Map();
const decryptInProcess = decoderOf('native').decrypt;

// keySet: a new KeySet per call, so the in-process path opens a new snapshot in its table each time.
function run(keySet, clientType, inputs) {
  for (const t of inputs) {
    const status = decryptInProcess(t.token, keySet, clientType, t.domain ?? null, t.nowMs ?? NOW_MS).status;
    inlineStatuses.set(status, (inlineStatuses.get(status) ?? 0) + 1);
  }
  // A fresh buffer and a new version each run: the addon's prepared contexts swap.
  const snapshot = keySet ? openSnapshot(encodeSnapshot(keySet), ++version) : null;
  for (let start = 0; start < inputs.length; start += 512) {
    const entries = inputs.slice(start, start + 512).map((t) => ({ token: t.token, domain: t.domain ?? null, nowMs: t.nowMs ?? NOW_MS }));
    const slot = packBatch(entries);
    decodeBatch(slot, entries.length, snapshot, clientType, 'native');
    for (let i = 0; i < entries.length; i++) statuses.set(slot.recordBytes[i * RECORD_BYTES], (statuses.get(slot.recordBytes[i * RECORD_BYTES]) ?? 0) + 1);
  }
}

// 1. Every shared vector, in its key set and client type.
const vectors = JSON.parse(readFileSync('test/vectors/decrypt-vectors.json', 'utf8'));
for (const c of vectors.decrypt) {
  const keys = c.keySet === null ? null : parseKeys(vectors.keySets[c.keySet].response);
  run(keys, c.clientType, [{ token: c.token, domain: c.domainOrAppName, nowMs: c.nowMs }]);
}

// 2. Minted tokens under real keys, then mutated.
const secret = (n) => Buffer.alloc(32, n);
const master = { id: 11, secret: secret(1) };
const site = { id: 12, secret: secret(2) };
const json = { status: 'success', body: { keys: [master, site].map((k) => ({ id: k.id, keyset_id: 1, created: 0, activates: 0, expires: NOW_MS / 1000 + 1e6, secret: k.secret.toString('base64') })) } };
const keySet = parseKeys(json);
const minted = Array.from({ length: 600 }, (_, i) => {
  const version = [2, 3, 4, 4][i % 4];
  return encodeAdvertisingToken({
    version, masterKey: master, siteKey: site, siteId: 10, expiresMs: NOW_MS + 1e6, generatedMs: NOW_MS, establishedMs: NOW_MS,
    rawUid: version === 2 ? 'x'.repeat(i % 50) : Buffer.alloc(i % 300, i), identityType: i % 3 ? 'Email' : 'Phone',
    encoding: i % 8 === 3 ? 'base64' : 'base64url',
  });
});
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=';
function mutate(token) {
  const raw = Buffer.from(token, 'base64');
  const url = /[-_]/.test(token);
  const enc = (b) => b.toString(url ? 'base64url' : 'base64');
  switch (int(8)) {
    case 0: { const b = Buffer.from(raw); for (let k = 0; k <= int(3); k++) b[int(b.length)] ^= 1 << int(8); return enc(b); }
    case 1: return token.slice(0, int(token.length + 1));
    case 2: return enc(raw.subarray(0, int(raw.length + 1)));
    case 3: return enc(Buffer.concat([raw, Buffer.alloc(1 + int(40), int(256))]));
    case 4: { const at = int(token.length); return token.slice(0, at) + ['\u00e9', '\u20ac', ' ', '=', '\u0000', alphabet[int(alphabet.length)]][int(6)] + token.slice(at + 1); }
    case 5: return raw.toString(['base64', 'base64url'][int(2)]).replace(/=+$/, int(2) ? '' : '===');
    case 6: return Array.from({ length: int(2100) }, () => alphabet[int(alphabet.length)]).join('');
    default: return token;
  }
}
for (let done = 0; done < TOKENS; done += 3000) {
  const inputs = Array.from({ length: Math.min(3000, TOKENS - done) }, () => ({ token: mutate(minted[int(minted.length)]) }));
  run(parseKeys(json), ['bidstream', 'sharing', 'legacy'][int(3)], inputs);
}

// 3. A worker thread that decodes with the addon and exits: its instance data (with a filled
// in-process context table) must be freed.
await new Promise((resolve, reject) => {
  const addon = `require(${JSON.stringify(nativeAddonPath())})`;
  const w = new Worker(
    `const { workerData: d } = require('node:worker_threads'); ${addon}.benchGcmFloor(100); ${addon}.gcmDecrypt(Buffer.alloc(32), [Buffer.alloc(40)]);` +
      ` for (const t of d.tokens) ${addon}.decodeOne(t, d.snapshot, 1, new Float64Array(7));`,
    { eval: true, workerData: { snapshot: encodeSnapshot(keySet), tokens: minted.slice(0, 8) } },
  );
  w.on('exit', resolve);
  w.on('error', reject);
});
console.log(`memcheck driver: ${vectors.decrypt.length} vectors + ${TOKENS} tokens, statuses by code ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, in process ${JSON.stringify(Object.fromEntries([...inlineStatuses].sort()))}`);
JS

echo "check-native-memory: valgrind memcheck on $TOKENS tokens (slow)..."
status=0
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --track-origins=yes --num-callers=30 --error-exitcode=0 \
  node "$DRIVER" "$TOKENS" >"$LOG" 2>&1 || status=$?
grep -E "^memcheck driver:" "$LOG" || { cat "$LOG"; echo "check-native-memory: the driver failed (exit $status)"; exit 1; }

# memcheck prints each error as a block of '==pid==' lines ending in a blank '==pid==' line;
# keep the blocks whose stack mentions the addon.
ours="$(awk '/^==[0-9]+== *$/ { if (block ~ /uid2_native|uid2::/) print block; block=""; next } { block = block "\n" $0 }' "$LOG")"
grep -E "ERROR SUMMARY|definitely lost" "$LOG" | sed 's/^==[0-9]*== /valgrind: /'
others="$(awk '/^==[0-9]+== *$/ { if (block ~ /(Invalid|uninitialised|lost in loss record)/ && block !~ /uid2_native|uid2::/) n++; block=""; next } { block = block "\n" $0 } END { print n+0 }' "$LOG")"
echo "check-native-memory: $others error context(s) outside the addon, not ours (e.g. V8's conservative stack scan reading uninitialised stack slots)"
if [[ -n "$ours" ]]; then
  echo "$ours"
  echo "check-native-memory: FAILED: memcheck reports errors or leaks in uid2_native"
  exit 1
fi
echo "check-native-memory: OK (no memcheck error or definite leak in uid2_native)"
