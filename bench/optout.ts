/**
 * `npm run bench -- --scope optout [--quick]`: the opt-out store's figures, each measured
 * directly (no estimate), each printed with what it measured:
 *
 * - lookup ns: `OptOutSetView.secondsForBase64` on a presized 1M-entry set, for UIDs not in it
 *   (the usual case in bidding) and UIDs in it; a loop over precomputed base64 strings;
 * - bytes per entry: the set's SharedArrayBuffer bytes / entries, at 1M and at the loaded size;
 * - load: `FileOptOutStore.open` of a file of 10M records (1M with --quick), written beforehand
 *   with the store's own record encoder; wall time and bytes per entry;
 * - webhook acknowledged opt-outs/s: `uid2-engine optout serve` in its own process, 64 keep-alive
 *   connections each sending one GET after another with a new raw UID; only 200s are counted,
 *   and afterwards the file is reopened to check it holds exactly that many opt-outs;
 * - decrypt throughput with a 1M-entry store vs without: BidstreamClient in-process, the same
 *   v4 tokens (1% of them opted out), rounds alternated A/B/A/B, median of each, and the ratio;
 * - hash flooding (also alone: `--scope optout-hash`): 20,000 raw UIDs a sender crafted to share
 *   everything but bytes 0-3, against 20,000 random ones: inserts into a fresh set, and lookups
 *   of absent and present UIDs, crafted and random rounds alternated, median of each, and the
 *   ratio crafted / random (target: within 2x).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BidstreamClient, FileOptOutStore } from '../dist/index.js';
import { startLocalOperator } from '../dist/testing.js';
import { OptOutSet } from '../dist/optout/set.js';
import { LOG_HEADER_BYTES, LOG_RECORD_BYTES, encodeCommit, encodeRecord } from '../dist/optout/file/format.js';

export interface OptOutBenchRow {
  figure: string;
  value: string;
  target: string;
  how: string;
}

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** Writes `count` random opt-out records to a fresh log file (header from a real store), in groups of 65,536 each closed by its commit. */
async function writeLogFile(path: string, count: number, extra: readonly Buffer[] = []): Promise<void> {
  const store = await FileOptOutStore.open(path);
  await store.close();
  const fd = openSync(path, 'r+');
  const perChunk = 65_536;
  const buf = Buffer.alloc((perChunk + 1) * LOG_RECORD_BYTES);
  let position = LOG_HEADER_BYTES;
  const ms = Date.now();
  for (let done = 0; done < count; done += perChunk) {
    const n = Math.min(perChunk, count - done);
    const uids = randomBytes(n * 32);
    for (let i = 0; i < n; i++) {
      const uid = done + i < extra.length ? extra[done + i]! : uids.subarray(i * 32, i * 32 + 32);
      encodeRecord(buf, i * LOG_RECORD_BYTES, uid, ms);
    }
    encodeCommit(buf, n * LOG_RECORD_BYTES, position, n);
    writeSync(fd, buf, 0, (n + 1) * LOG_RECORD_BYTES, position);
    position += (n + 1) * LOG_RECORD_BYTES;
  }
  closeSync(fd);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function lookupNs(): { missNs: number; hitNs: number; mapNs: number; bytesPerEntry: number } {
  const entries = 1_000_000;
  const set = new OptOutSet(entries);
  const present: string[] = [];
  const all = randomBytes(entries * 32);
  for (let i = 0; i < entries; i++) {
    const uid = all.subarray(i * 32, i * 32 + 32);
    set.add(uid, 1_700_000_000);
    if (i < 65_536) present.push(uid.toString('base64'));
  }
  const absent = Array.from({ length: 65_536 }, () => randomBytes(32).toString('base64'));
  const view = set.view;
  const time = (list: string[]): number => {
    const rounds = 40;
    let sink = 0;
    for (let i = 0; i < list.length; i++) sink += view.secondsForBase64(list[i]!); // warm-up
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) for (let i = 0; i < list.length; i++) sink += view.secondsForBase64(list[i]!);
    const ns = Number(process.hrtime.bigint() - t0) / (rounds * list.length);
    if (sink === -1) process.stdout.write(''); // keeps the loop's result alive
    return ns;
  };
  const missNs = median([time(absent), time(absent), time(absent)]);
  const hitNs = median([time(present), time(present), time(present)]);
  // Reference for this machine's speed: a Map of 1M strings probed with the same absent strings.
  const map = new Map<string, number>();
  for (let i = 0; i < entries; i++) map.set(all.subarray(i * 32, i * 32 + 32).toString('base64'), 1);
  const mapTime = (): number => {
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < 40; r++) for (let i = 0; i < absent.length; i++) sink += map.get(absent[i]!) ?? 0;
    if (sink === -1) process.stdout.write('');
    return Number(process.hrtime.bigint() - t0) / (40 * absent.length);
  };
  const mapNs = median([mapTime(), mapTime(), mapTime()]);
  return { missNs, hitNs, mapNs, bytesPerEntry: set.byteLength / set.size };
}

/** `count` 32-byte raw UIDs equal but for bytes 0-3: what an unkeyed table sends to one bucket. */
function craftedUids(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const uid = Buffer.alloc(32, 0x5a);
    uid.writeUInt32LE(i, 0);
    return uid;
  });
}

interface FloodFigures {
  count: number;
  insertMs: { crafted: number; random: number };
  absentNs: { crafted: number; random: number };
  presentNs: { crafted: number; random: number };
}

/**
 * Crafted vs random raw UIDs, `count` of each: ms to add them all to a fresh OptOutSet (growth
 * included, as a receiver starts empty), ns per `secondsForBase64` of 65,536 absent random UIDs
 * and of the present ones. Rounds alternate crafted / random; medians.
 */
function hashFlood(count: number, rounds: number): FloodFigures {
  const lists = { crafted: craftedUids(count), random: Array.from({ length: count }, () => randomBytes(32)) };
  const absent = Array.from({ length: 65_536 }, () => randomBytes(32).toString('base64'));
  const insert = (list: Buffer[]): { ms: number; set: OptOutSet } => {
    const t0 = process.hrtime.bigint();
    const set = new OptOutSet();
    for (let i = 0; i < list.length; i++) set.add(list[i]!, 1_700_000_000);
    set.finishGrowth();
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, set };
  };
  const probe = (set: OptOutSet, texts: readonly string[], expectFound: boolean): number => {
    const view = set.view;
    let found = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < texts.length; i++) if (view.secondsForBase64(texts[i]!) !== 0) found++;
    const ns = Number(process.hrtime.bigint() - t0) / texts.length;
    if (found !== (expectFound ? texts.length : 0)) throw new Error(`hash flood: ${found} of ${texts.length} lookups found, expected ${expectFound ? 'all' : 'none'}`);
    return ns;
  };
  const samples = { insert: { crafted: [] as number[], random: [] as number[] }, absent: { crafted: [] as number[], random: [] as number[] }, present: { crafted: [] as number[], random: [] as number[] } };
  const present = { crafted: lists.crafted.map((u) => u.toString('base64')), random: lists.random.map((u) => u.toString('base64')) };
  // Round 0 warms the JIT up for both kinds and is not counted.
  for (let r = 0; r <= rounds; r++) {
    for (const kind of ['crafted', 'random'] as const) {
      const { ms, set } = insert(lists[kind]);
      if (set.size !== count) throw new Error(`hash flood: ${set.size} of ${count} ${kind} raw UIDs in the set`);
      const absentNs = probe(set, absent, false);
      const presentNs = probe(set, present[kind], true);
      if (r === 0) continue;
      samples.insert[kind].push(ms);
      samples.absent[kind].push(absentNs);
      samples.present[kind].push(presentNs);
    }
  }
  const pair = (s: { crafted: number[]; random: number[] }): { crafted: number; random: number } => ({ crafted: median(s.crafted), random: median(s.random) });
  return { count, insertMs: pair(samples.insert), absentNs: pair(samples.absent), presentNs: pair(samples.present) };
}

/** The hash-flood figures as table rows. */
export function hashFloodRows(quick: boolean): OptOutBenchRow[] {
  const f = hashFlood(20_000, quick ? 5 : 15);
  const how = `${f.count.toLocaleString('en-US')} raw UIDs equal but for bytes 0-3 vs ${f.count.toLocaleString('en-US')} random, rounds alternated, median`;
  const ratio = (p: { crafted: number; random: number }): string => `${(p.crafted / p.random).toFixed(2)}x`;
  return [
    { figure: 'hash flood: insert 20,000 crafted raw UIDs', value: `${f.insertMs.crafted.toFixed(2)} ms`, target: '', how: `into a fresh OptOutSet (growth included); ${how}` },
    { figure: 'hash flood: insert 20,000 random raw UIDs', value: `${f.insertMs.random.toFixed(2)} ms`, target: '', how: 'same' },
    { figure: 'hash flood: insert ratio, crafted / random', value: ratio(f.insertMs), target: '<= 2x', how: 'median / median, same run' },
    { figure: 'hash flood: lookup of an absent raw UID, crafted set', value: `${f.absentNs.crafted.toFixed(1)} ns`, target: '', how: 'OptOutSetView.secondsForBase64 of 65,536 random absent UIDs in the set of crafted ones' },
    { figure: 'hash flood: lookup of an absent raw UID, random set', value: `${f.absentNs.random.toFixed(1)} ns`, target: '', how: 'same UIDs, the set of random ones' },
    { figure: 'hash flood: absent lookup ratio, crafted / random', value: ratio(f.absentNs), target: '<= 2x', how: 'median / median, same run' },
    { figure: 'hash flood: lookup of a present raw UID, crafted / random', value: `${f.presentNs.crafted.toFixed(1)} / ${f.presentNs.random.toFixed(1)} ns = ${ratio(f.presentNs)}`, target: '<= 2x', how: 'every UID of each set, base64' },
  ];
}

async function webhookRate(dir: string, seconds: number, connections: number): Promise<{ perSec: number; acked: number; stored: number; other: number }> {
  const path = join(dir, 'webhook.log');
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'optout', 'serve', '--port', String(port), '--store', path, '--allow-unauthenticated'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const nowS = Math.floor(Date.now() / 1000);
  let acked = 0;
  let other = 0;
  const send = (): Promise<number> =>
    new Promise((resolve) => {
      const uid = encodeURIComponent(randomBytes(32).toString('base64'));
      const req = request({ host: '127.0.0.1', port, path: `/optout?identity=${uid}&timestamp=${nowS}`, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  // Warm-up, then the timed window.
  const loop = async (until: number, count: boolean): Promise<void> => {
    while (performance.now() < until) {
      const status = await send();
      if (!count) continue;
      if (status === 200) acked++;
      else other++;
    }
  };
  await Promise.all(Array.from({ length: connections }, () => loop(performance.now() + 1000, false)));
  const fileRecords = async (): Promise<number> => {
    const reader = await FileOptOutStore.open(path, { readOnly: true });
    await reader.close();
    return reader.fileRecords;
  };
  const warm = await fileRecords();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, () => loop(t0 + seconds * 1000, true)));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  child.kill('SIGTERM');
  await once(child, 'exit');
  const stored = (await fileRecords()) - warm;
  return { perSec: acked / elapsed, acked, stored, other };
}

async function decryptRatio(dir: string, rounds: number): Promise<{ without: number; withStore: number; ratio: number; optedOut: number }> {
  const operator = await startLocalOperator();
  try {
    const tokens: string[] = [];
    const opted: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const uid = randomBytes(32);
      if (i % 100 === 0) opted.push(uid);
      tokens.push(operator.mintToken({ version: 4, rawUid: uid.toString('base64') }));
    }
    const path = join(dir, 'decrypt.log');
    await writeLogFile(path, 1_000_000, opted);
    const store = await FileOptOutStore.open(path, { readOnly: true });
    const plain = new BidstreamClient(operator.url, operator.apiKey, operator.secretKey);
    const checked = new BidstreamClient(operator.url, operator.apiKey, operator.secretKey, { optOut: store });
    for (const c of [plain, checked]) if (!(await c.refresh()).success) throw new Error('refresh failed');
    let optedOut = 0;
    for (const t of tokens) if (checked.decryptTokenIntoRawUid(t).optedOut) optedOut++;
    const rate = (client: BidstreamClient): number => {
      const t0 = performance.now();
      for (const t of tokens) client.decryptTokenIntoRawUid(t);
      return tokens.length / ((performance.now() - t0) / 1000);
    };
    rate(plain);
    rate(checked);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(rate(plain));
      b.push(rate(checked));
    }
    await store.close();
    const without = median(a);
    const withStore = median(b);
    return { without, withStore, ratio: withStore / without, optedOut };
  } finally {
    await operator.close();
  }
}

/** Runs every opt-out figure; `progress` reports each step on stderr. */
export async function runOptOutBench(quick: boolean, progress: (text: string) => void): Promise<OptOutBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'uid2-optout-bench-'));
  const rows: OptOutBenchRow[] = [];
  try {
    progress('opt-outs: lookup ns on a presized 1M-entry set');
    const lookup = lookupNs();
    rows.push({ figure: 'lookup, raw UID not opted out (base64)', value: `${lookup.missNs.toFixed(1)} ns`, target: '<= 100 ns', how: 'OptOutSetView.secondsForBase64, 1M entries, 65,536 absent UIDs x 40 rounds, median of 3' });
    rows.push({ figure: 'lookup, raw UID opted out (base64)', value: `${lookup.hitNs.toFixed(1)} ns`, target: '<= 100 ns', how: 'same, 65,536 present UIDs' });
    rows.push({ figure: 'reference: Map.get, 1M base64 keys, absent', value: `${lookup.mapNs.toFixed(1)} ns`, target: '', how: 'same strings, a JS Map of the 1M UIDs (not shared across threads; ~100 bytes an entry): this machine\'s speed' });
    rows.push({ figure: 'bytes per entry at 1M (presized)', value: lookup.bytesPerEntry.toFixed(1), target: '<= 24', how: 'SharedArrayBuffer bytes / entries' });

    progress('opt-outs: hash flooding, crafted vs random raw UIDs');
    rows.push(...hashFloodRows(quick));

    const count = quick ? 1_000_000 : 10_000_000;
    progress(`opt-outs: writing a ${count.toLocaleString('en-US')}-record log file`);
    const big = join(dir, 'big.log');
    await writeLogFile(big, count);
    progress('opt-outs: loading it');
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const store = await FileOptOutStore.open(big);
    const loadSec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const loadCpuSec = (cpu.user + cpu.system) / 1e6;
    if (store.size !== count) throw new Error(`loaded ${store.size} of ${count}`);
    rows.push({ figure: `load ${count.toLocaleString('en-US')} opt-outs from the file`, value: `${loadSec.toFixed(2)} s`, target: '<= 10 s for 10M', how: `FileOptOutStore.open, ${(statSync(big).size / 2 ** 20).toFixed(0)} MiB file, CRC of every record checked; ${loadCpuSec.toFixed(2)} s of process CPU (the wall time includes waiting for a core)` });
    rows.push({ figure: `bytes per entry at ${count.toLocaleString('en-US')}`, value: (store.memoryBytes / store.size).toFixed(1), target: '<= 24', how: 'the loaded set: SharedArrayBuffer bytes / entries' });
    await store.close();
    rmSync(big, { force: true });

    const seconds = quick ? 3 : 10;
    progress(`opt-outs: webhook receiver, 64 connections for ${seconds} s`);
    const hook = await webhookRate(dir, seconds, 64);
    if (hook.stored !== hook.acked) throw new Error(`webhook: ${hook.acked} acknowledged but ${hook.stored} stored`);
    rows.push({ figure: 'webhook: opt-outs acknowledged durably per second', value: `${Math.round(hook.perSec).toLocaleString('en-US')} /s`, target: '>= 5,000 /s', how: `optout serve in its own process, 64 keep-alive connections, GET per new raw UID, ${hook.acked} x 200 in ${seconds} s (all ${hook.stored} in the file after), ${hook.other} other answers` });

    progress('opt-outs: decrypt throughput with a 1M-entry store vs without');
    const dec = await decryptRatio(dir, quick ? 5 : 11);
    rows.push({ figure: 'decrypt, in-process client, no store', value: `${Math.round(dec.without).toLocaleString('en-US')} tokens/s`, target: '', how: '20,000 v4 tokens per round, median of the rounds' });
    rows.push({ figure: 'decrypt, in-process client, 1M-entry store', value: `${Math.round(dec.withStore).toLocaleString('en-US')} tokens/s`, target: '', how: `same tokens, ${dec.optedOut} of them opted out (uid withheld), rounds alternated with the line above` });
    rows.push({ figure: 'decrypt throughput ratio, store / no store', value: `${dec.ratio.toFixed(3)}x`, target: '>= 0.95x', how: 'median / median, same run' });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function optOutMarkdown(rows: readonly OptOutBenchRow[]): string {
  const lines = ['| figure | value | target | how |', '|---|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.figure} | ${r.value} | ${r.target} | ${r.how} |`);
  return lines.join('\n');
}
