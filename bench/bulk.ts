/**
 * `--scope bulk`: bulk decryption, all in one run on one generated file of v4 tokens with mixed
 * statuses (bulk-input.ts), so every figure is a ratio against a baseline of the same run.
 *
 * - worker function: the native (or node-crypto) batch decoder a worker runs (worker/decode.ts)
 *   on a pre-filled slot of 4,096 tokens of the file, in this thread: what one worker can reach.
 * - chunk function: the bulk worker function (split + decode + format) on a 1 MiB chunk of the
 *   file, in this thread, per format: what one bulk worker can reach, and the formats' costs
 *   compared where the machine's load cannot tell them apart.
 * - CLI rows: `uid2-engine decrypt --keys K --input F --output O` as a child process, per
 *   --threads and --format, .gz in and out; tokens/s from wall time, peak RSS from
 *   /usr/bin/time (or /proc polling). With --baseline-cli PATH, the same command with another
 *   build of the CLI (e.g. main before the bulk path) runs on the same file in the same run.
 * - zlib alone: gunzip of the .gz input and gzip of the JSON-lines output with node:zlib streams,
 *   what the .gz rows cannot do faster than.
 * - coordinator: main-thread CPU µs per token of engine.decryptFile() with one worker (this
 *   process), and the tokens/s that main thread could feed at that cost.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import { DecryptionEngine, parseKeys } from '../dist/index.js';
import { type LocalOperator } from '../dist/testing.js';
import { createChunk, DEFAULT_MAX_LINE_BYTES } from '../dist/engine/wire/bulk-chunk.js';
import { packBatch } from '../dist/engine/wire/slot.js';
import { decodeBatch, openSnapshot } from '../dist/engine/worker/decode.js';
import { SnapshotCache, runChunk } from '../dist/engine/worker/bulk-chunk.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';
import { writeBulkInput } from './bulk-input.js';
import { mainThreadCpuMs } from './thread-cpu.js';
import { runWithPeakRss } from './peak-rss.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../dist/cli/main.js');

export interface BulkRow {
  name: string;
  tokensPerSec: number;
  /** tokensPerSec / the worker function's (native when built). */
  vsWorkerFunction: number;
  wallSec: number | null;
  peakRssMb: number | null;
  note: string;
}

export interface BulkBenchResult {
  tokens: number;
  inputBytes: number;
  rows: BulkRow[];
  coordinator: { mainThreadCpuUsPerToken: number; couldFeedPerSec: number };
  zlib: { gunzipSec: number; gzipSec: number };
  notes: string[];
}

async function runCli(cli: string, args: string[]): Promise<{ wallSec: number; peakRssMb: number | null; stderr: string }> {
  const { code, stderr, wallSec, peakRssKb } = await runWithPeakRss(cli, args);
  if (code !== 0) throw new Error(`bulk bench: ${cli} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`);
  return { wallSec, peakRssMb: peakRssKb > 0 ? peakRssKb / 1024 : null, stderr };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runBulkBench(operator: LocalOperator, tokens: number, seed: number, baselineCli: string | undefined, progress: (s: string) => void): Promise<BulkBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'uid2-bench-bulk-'));
  const notes: string[] = [];
  try {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const keysJson = operator.keyResponse('bidstream');
    const keysPath = join(dir, 'keys.json');
    writeFileSync(keysPath, JSON.stringify(keysJson));
    const input = join(dir, 'tokens.txt');
    progress(`bulk: writing ${tokens.toLocaleString('en-US')} v4 tokens (mixed statuses)`);
    const inputBytes = await writeBulkInput(operator, input, tokens, seed, nowMs);
    await pipeline(createReadStream(input), createGzip(), createWriteStream(`${input}.gz`));

    // Worker function and chunk function, in this thread, alternating rounds.
    const head = Buffer.alloc(DEFAULT_MAX_LINE_BYTES);
    const fd = readFileSync(input).subarray(0, DEFAULT_MAX_LINE_BYTES);
    fd.copy(head);
    const cut = head.lastIndexOf(10, DEFAULT_MAX_LINE_BYTES - 1) + 1;
    const lines = head.toString('latin1', 0, cut).split('\n').slice(0, -1);
    const snapshotSab = encodeSnapshot(parseKeys(keysJson));
    const snapshot = openSnapshot(snapshotSab, 1);
    const slot = packBatch(lines.slice(0, 4096).map((token) => ({ token, nowMs })));
    const chunk = createChunk(DEFAULT_MAX_LINE_BYTES);
    head.copy(chunk.input, 0, 0, cut);
    const cache = new SnapshotCache();
    const fnRates: Record<string, number> = {};
    for (const backend of ['native', 'node-crypto'] as const) {
      const task = {
        slot: chunk.slot.sab,
        capacity: chunk.slot.capacity,
        bytesCapacity: chunk.slot.bytesCapacity,
        inputCapacity: chunk.inputCapacity,
        output: chunk.output,
        start: 0,
        end: cut,
        maxLineBytes: DEFAULT_MAX_LINE_BYTES,
        overlong: false,
        nowMs,
        snapshot: { sab: snapshotSab, version: 1 },
        clientType: 'bidstream' as const,
        backend,
        format: 'jsonl' as const,
        domainOrAppName: null,
        optOut: null,
        keepOptedOutUid: false,
      };
      try {
        decodeBatch(slot, 4096, snapshot, 'bidstream', backend);
      } catch (err) {
        notes.push(`${backend} worker function not measured: ${(err as Error).message}`);
        continue;
      }
      // Rounds alternate between the worker function and the chunk function in each format, so
      // the machine's load hits all alike; medians count.
      const formats = backend === 'native' ? (['jsonl', 'csv', 'tsv', 'msgpack'] as const) : (['jsonl'] as const);
      const fn: number[] = [];
      const ch = new Map<string, number[]>(formats.map((f) => [f, []]));
      for (let round = 0; round < 15; round++) {
        let t = performance.now();
        for (let k = 0; k < 5; k++) decodeBatch(slot, 4096, snapshot, 'bidstream', backend);
        fn.push((5 * 4096) / ((performance.now() - t) / 1000));
        for (const format of formats) {
          t = performance.now();
          const r = runChunk({ ...task, format }, cache);
          ch.get(format)!.push(r.lines / ((performance.now() - t) / 1000));
        }
      }
      fnRates[backend] = median(fn);
      for (const format of formats) fnRates[`chunk-${backend}-${format}`] = median(ch.get(format)!);
    }
    const base = fnRates['native'] ?? fnRates['node-crypto']!;
    const rows: BulkRow[] = [];
    const row = (name: string, tokensPerSec: number, wallSec: number | null, peakRssMb: number | null, note: string): void => {
      rows.push({ name, tokensPerSec, vsWorkerFunction: tokensPerSec / base, wallSec, peakRssMb, note });
    };
    for (const backend of ['native', 'node-crypto']) {
      if (fnRates[backend] !== undefined) row(`worker function [${backend}]`, fnRates[backend], null, null, 'decodeBatch of 4,096 tokens, this thread (baseline)');
      for (const format of ['jsonl', 'csv', 'tsv', 'msgpack']) {
        const rate = fnRates[`chunk-${backend}-${format}`];
        if (rate !== undefined) row(`chunk function [${backend}] ${format}`, rate, null, null, `split + decode + ${format} of a 1 MiB chunk, this thread`);
      }
    }

    const out = join(dir, 'out');
    const cliRow = async (name: string, cli: string, extra: string[], inFile = input, outFile = `${out}.jsonl`): Promise<number> => {
      progress(`bulk: ${name}`);
      const run = await runCli(cli, ['decrypt', '--keys', keysPath, '--now', now, '--input', inFile, '--output', outFile, ...extra]);
      row(name, tokens / run.wallSec, run.wallSec, run.peakRssMb, `uid2-engine decrypt ${extra.join(' ')}`.trim());
      return run.wallSec;
    };
    if (baselineCli) {
      await cliRow('baseline CLI --threads 1', baselineCli, ['--threads', '1']);
      await cliRow('baseline CLI --threads 0', baselineCli, ['--threads', '0']);
      notes.push(`baseline CLI: ${baselineCli} (another build of uid2-engine, same file, same run)`);
    }
    const plainSec = await cliRow('CLI --threads 1 jsonl', CLI, ['--threads', '1']);
    await cliRow('CLI --threads 0 jsonl', CLI, ['--threads', '0']);
    await cliRow('CLI --threads 2 jsonl', CLI, ['--threads', '2']);
    for (const format of ['csv', 'tsv', 'msgpack']) await cliRow(`CLI --threads 1 ${format}`, CLI, ['--threads', '1', '--format', format], input, `${out}.${format}`);
    const gzSec = await cliRow('CLI --threads 1 jsonl, .gz in and out', CLI, ['--threads', '1'], `${input}.gz`, `${out}.jsonl.gz`);

    progress('bulk: zlib alone (gunzip the input, gzip the output)');
    let t = performance.now();
    await pipeline(createReadStream(`${input}.gz`), createGunzip(), createWriteStream(join(dir, 'gunzipped')));
    const gunzipSec = (performance.now() - t) / 1000;
    t = performance.now();
    await pipeline(createReadStream(`${out}.jsonl`), createGzip(), createWriteStream(join(dir, 'zipped.gz')));
    const gzipSec = (performance.now() - t) / 1000;
    notes.push(
      `.gz: the CLI took ${(gzSec - plainSec).toFixed(2)} s more with .gz in and out than plain; zlib alone takes ${gunzipSec.toFixed(2)} s to gunzip the input and ${gzipSec.toFixed(2)} s to gzip the output (${(gunzipSec + gzipSec).toFixed(2)} s, on the thread pool while the CLI runs)`,
    );

    progress('bulk: coordinator main-thread cost (decryptFile, one worker, this process)');
    const engine = await DecryptionEngine.create({ keys: keysJson, threads: 1 });
    let cpuUs = 0;
    try {
      await engine.decryptFile(input, join(dir, 'warm.jsonl'), { now: nowMs });
      const cpu0 = mainThreadCpuMs();
      const summary = await engine.decryptFile(input, join(dir, 'coord.jsonl'), { now: nowMs });
      const cpu1 = mainThreadCpuMs();
      cpuUs = cpu0 === null || cpu1 === null ? Number.NaN : ((cpu1 - cpu0) * 1000) / summary.records;
    } finally {
      await engine.close();
    }
    const inputMb = statSync(input).size / 1e6;
    notes.push(`input: ${tokens.toLocaleString('en-US')} lines, ${inputMb.toFixed(0)} MB; output JSON lines ${(statSync(`${out}.jsonl`).size / 1e6).toFixed(0)} MB`);
    return { tokens, inputBytes, rows, coordinator: { mainThreadCpuUsPerToken: cpuUs, couldFeedPerSec: 1e6 / cpuUs }, zlib: { gunzipSec, gzipSec }, notes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function bulkMarkdown(r: BulkBenchResult): string {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const lines = [
    `Bulk decryption: ${r.tokens.toLocaleString('en-US')} v4 tokens (mixed statuses), one run`,
    '',
    '| row | tokens/s | x worker function | wall s | peak RSS MB | what |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...r.rows.map(
      (row) =>
        `| ${row.name} | ${fmt(row.tokensPerSec)} | ${row.vsWorkerFunction.toFixed(2)} | ${row.wallSec === null ? '' : row.wallSec.toFixed(2)} | ${row.peakRssMb === null ? '' : row.peakRssMb.toFixed(0)} | ${row.note} |`,
    ),
    '',
    `Coordinator (main thread of decryptFile, one worker): ${r.coordinator.mainThreadCpuUsPerToken.toFixed(3)} µs CPU per token, so it could feed ${fmt(r.coordinator.couldFeedPerSec)} tokens/s.`,
    ...r.notes.map((n) => `- ${n}`),
  ];
  return lines.join('\n');
}
