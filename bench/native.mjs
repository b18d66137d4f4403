#!/usr/bin/env node
/**
 * Native backend vs node-crypto backend vs the OpenSSL floor, single thread, same corpus.
 *
 *   npm run build && node bench/native.mjs [--quick] [--json] [--engine] [--inline] [--package DIR]
 *
 * - --package DIR: measure the uid2-engine installed in DIR/node_modules (e.g. from the packed
 *   tarball, with its prebuilt addon) instead of this checkout's dist/; the addon used is printed.
 * - backends: the worker's decryptBatch() called directly in this thread on pre-filled batch
 *   slots of 256 tokens (the engine's default batch), so both backends do exactly the work a
 *   worker does per batch (decode, decrypt, rule checks, records) and nothing else. Rounds
 *   alternate between the backends (and the floor) so machine noise hits all alike; medians count.
 * - floor: benchGcmFloor() inside the addon, timed in C++: the two AES-256-GCM decryptions of a
 *   v4 token (master layer 157 bytes, site layer 96 bytes for a 32-byte raw UID) with prepared
 *   contexts, IV re-init only: the least any backend using OpenSSL must spend per token.
 * - --engine: also a DecryptionEngine with threads: 1 per backend, end to end through
 *   decryptBatch() (coordinator + one worker; includes result objects and thread hand-off).
 * - --inline: the in-process path, one BidstreamClient per backend (UID2_ENGINE_BACKEND forced at
 *   construction) calling decryptTokenIntoRawUid() per token on this thread, result objects
 *   included; both clients are first checked to agree on every token, then rounds alternate.
 */
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const args = new Set(argv);
// Modules by file URL: an installed package's internals are outside its "exports" map.
const packageDir = args.has('--package') ? argv[argv.indexOf('--package') + 1] : undefined;
const dist = packageDir ? pathToFileURL(`${resolve(packageDir, 'node_modules/uid2-engine/dist')}/`) : new URL('../dist/', import.meta.url);
const load = (file) => import(new URL(file, dist).href);
const { BidstreamClient, DecryptionEngine, encodeAdvertisingToken, parseKeys } = await load('index.js');
const { decodeBatch, openSnapshot } = await load('engine/worker/decode.js');
const { packBatch } = await load('engine/wire/slot.js');
const { encodeSnapshot } = await load('keys/snapshot.js');
const { loadNative, nativeAddonPath, nativeUnavailableReason } = await load('native/load.js');
// seeded-random is a bench helper, not part of the package.
const { seededRandom } = await import('../dist-bench/seeded-random.js');

const QUICK = args.has('--quick');
const JSON_OUT = args.has('--json');
const BATCH = 256;
const TOKENS = QUICK ? 20_000 : 100_000;
const ROUNDS = QUICK ? 3 : 7;
const NOW_MS = 1_780_000_000_000;
const DAY = 86_400_000;

const addon = loadNative();
if (!addon) {
  console.error(`native addon unavailable: ${nativeUnavailableReason()}`);
  process.exit(1);
}

// --- corpus -----------------------------------------------------------------------------------
const secret = (n) => Buffer.alloc(32, n);
const master = { id: 101, secret: secret(1) };
const site = { id: 102, secret: secret(2) };
const keyJson = {
  status: 'success',
  body: {
    identity_scope: 'UID2',
    allow_clock_skew_seconds: 1800,
    max_bidstream_lifetime_seconds: 3 * 86_400,
    keys: [master, site].map((k, i) => ({
      id: k.id,
      keyset_id: i === 0 ? 1 : 10,
      created: (NOW_MS - 10 * DAY) / 1000,
      activates: (NOW_MS - 9 * DAY) / 1000,
      expires: (NOW_MS + 300 * DAY) / 1000,
      secret: k.secret.toString('base64'),
    })),
    site_data: [{ id: 77, domain_names: ['news.example'] }],
  },
};

/** 'v4': every token a valid v4 (email, 32-byte raw UID). 'mixed': the engine tests' mix. */
function corpus(kind, count, seed) {
  const rnd = seededRandom(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const mixed = kind === 'mixed';
    if (mixed && rnd() < 0.03) {
      out.push({ token: Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 120) }, () => Math.floor(rnd() * 256))).toString('base64'), domain: null });
      continue;
    }
    const version = !mixed || rnd() < 0.7 ? 4 : rnd() < 0.6 ? 3 : 2;
    const cstg = mixed && rnd() < 0.1;
    const uid = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rnd() * 256)));
    let token = encodeAdvertisingToken({
      version,
      masterKey: mixed && rnd() < 0.03 ? { id: 999, secret: master.secret } : master,
      siteKey: site,
      rawUid: version === 2 ? `user${i}@example.com` : uid,
      siteId: cstg ? 77 : 10,
      expiresMs: mixed && rnd() < 0.05 ? NOW_MS - 1000 : NOW_MS + DAY,
      generatedMs: NOW_MS - 1000,
      establishedMs: NOW_MS - 30 * DAY,
      identityType: mixed && rnd() < 0.2 ? 'Phone' : 'Email',
      clientSideGenerated: cstg,
    });
    if (mixed && rnd() < 0.05) {
      const at = 10 + Math.floor(rnd() * (token.length - 20));
      token = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    }
    out.push({ token, domain: cstg ? 'news.example' : null });
  }
  return out;
}

// --- worker-function runs ------------------------------------------------------------------------
const keySet = parseKeys(keyJson);
const snapshot = openSnapshot(encodeSnapshot(keySet), 1);

function slotsFor(tokens) {
  const slots = [];
  for (let start = 0; start < tokens.length; start += BATCH) {
    const inputs = tokens.slice(start, start + BATCH).map((t) => ({ ...t, nowMs: NOW_MS }));
    slots.push({ slot: packBatch(inputs), count: inputs.length });
  }
  return slots;
}

function round(backend, slots, total) {
  const start = performance.now();
  for (const { slot, count } of slots) {
    decodeBatch(slot, count, snapshot, 'bidstream', backend);
  }
  return total / ((performance.now() - start) / 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const floorSamples = [];
const FLOOR_ITERATIONS = QUICK ? 20_000 : 100_000;

function measure(kind) {
  const tokens = corpus(kind, TOKENS, 7);
  const slots = slotsFor(tokens);
  const rates = { native: [], 'node-crypto': [] };
  round('native', slots, tokens.length); // warm-up: JIT, contexts, caches
  round('node-crypto', slots, tokens.length);
  addon.benchGcmFloor(FLOOR_ITERATIONS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const backend of r % 2 ? ['node-crypto', 'native'] : ['native', 'node-crypto']) {
      rates[backend].push(round(backend, slots, tokens.length));
    }
    // The floor is sampled inside the same rounds, so load on the machine hits it alike.
    floorSamples.push(addon.benchGcmFloor(FLOOR_ITERATIONS));
  }
  return { corpus: kind, tokens: tokens.length, native: median(rates.native), nodeCrypto: median(rates['node-crypto']) };
}

async function measureEngine(kind) {
  const tokens = corpus(kind, TOKENS, 9).map((t) => t.token);
  const out = {};
  const saved = process.env.UID2_ENGINE_BACKEND;
  for (const backend of ['native', 'node-crypto']) {
    process.env.UID2_ENGINE_BACKEND = backend;
    const engine = await DecryptionEngine.create({ keys: keyJson, threads: 1 });
    await engine.decryptBatch(tokens.slice(0, 5000), { now: NOW_MS });
    const rates = [];
    for (let r = 0; r < ROUNDS; r++) {
      const start = performance.now();
      await engine.decryptBatch(tokens, { now: NOW_MS });
      rates.push(tokens.length / ((performance.now() - start) / 1000));
    }
    out[backend] = median(rates);
    await engine.close();
  }
  if (saved === undefined) delete process.env.UID2_ENGINE_BACKEND;
  else process.env.UID2_ENGINE_BACKEND = saved;
  return { corpus: kind, tokens: tokens.length, native: out.native, nodeCrypto: out['node-crypto'] };
}

function clientOn(backend) {
  const saved = process.env.UID2_ENGINE_BACKEND;
  process.env.UID2_ENGINE_BACKEND = backend;
  try {
    const client = new BidstreamClient();
    const loaded = client.refreshJson(keyJson);
    if (!loaded.success) throw loaded.error;
    return client;
  } finally {
    if (saved === undefined) delete process.env.UID2_ENGINE_BACKEND;
    else process.env.UID2_ENGINE_BACKEND = saved;
  }
}

function measureInline(kind) {
  const tokens = corpus(kind, TOKENS, 11);
  const clients = { native: clientOn('native'), 'node-crypto': clientOn('node-crypto') };
  for (const t of tokens) {
    const a = clients.native.decryptTokenIntoRawUid(t.token, t.domain, NOW_MS);
    const b = clients['node-crypto'].decryptTokenIntoRawUid(t.token, t.domain, NOW_MS);
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`in-process backends disagree on a ${kind} token: ${a.status} vs ${b.status}`);
  }
  const rates = { native: [], 'node-crypto': [] };
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const backend of r % 2 ? ['node-crypto', 'native'] : ['native', 'node-crypto']) {
      const client = clients[backend];
      const start = performance.now();
      for (const t of tokens) sink += client.decryptTokenIntoRawUid(t.token, t.domain, NOW_MS).siteId ?? 0;
      rates[backend].push(tokens.length / ((performance.now() - start) / 1000));
    }
  }
  if (sink === 0) throw new Error('no token decoded');
  return { corpus: kind, tokens: tokens.length, native: median(rates.native), nodeCrypto: median(rates['node-crypto']) };
}

// --- run ------------------------------------------------------------------------------------------
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  openssl: addon.opensslVersion,
  addon: nativeAddonPath(),
  loadavg: loadavg().map((l) => l.toFixed(2)).join(' '),
};
const results = [measure('v4'), measure('mixed')];
const floorNs = median(floorSamples);
const floor = 1e9 / floorNs;
const engine = args.has('--engine') ? [await measureEngine('v4'), await measureEngine('mixed')] : [];
const inline = args.has('--inline') ? [measureInline('v4'), measureInline('mixed')] : [];

if (JSON_OUT) {
  console.log(JSON.stringify({ machine, batch: BATCH, rounds: ROUNDS, worker: results, floorTokensPerSec: floor, floorNsPerToken: floorNs, engine, inline }, null, 2));
} else {
  const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(11);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.openssl}, load ${machine.loadavg}`);
  console.log(`addon: ${machine.addon}`);
  console.log(`worker decryptBatch(), one thread, batches of ${BATCH}, ${TOKENS} tokens, median of ${ROUNDS} rounds (tokens/s)`);
  console.log('corpus   native       node-crypto  native/node  floor/native');
  for (const r of results) {
    console.log(`${r.corpus.padEnd(7)}${fmt(r.native)}  ${fmt(r.nodeCrypto)}  ${(r.native / r.nodeCrypto).toFixed(1).padStart(9)}x  ${(floor / r.native).toFixed(2).padStart(10)}x`);
  }
  console.log(`OpenSSL floor (2 x AES-256-GCM per v4 token, prepared contexts, timed in C++): ${fmt(floor).trim()} tokens/s (${floorNs.toFixed(0)} ns/token)`);
  for (const r of engine) {
    console.log(`engine threads: 1, ${r.corpus}: native ${fmt(r.native).trim()} tokens/s, node-crypto ${fmt(r.nodeCrypto).trim()} tokens/s (${(r.native / r.nodeCrypto).toFixed(1)}x)`);
  }
  for (const r of inline) {
    console.log(`in process (BidstreamClient), ${r.corpus}: native ${fmt(r.native).trim()} tokens/s, node-crypto ${fmt(r.nodeCrypto).trim()} tokens/s (${(r.native / r.nodeCrypto).toFixed(1)}x), median of ${ROUNDS} alternating rounds`);
  }
}
