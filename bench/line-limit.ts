/**
 * `npm run bench -- --scope lines [--quick] [--baseline-cli PATH]`: the CLI's line reader
 * (src/cli/line-reader.ts) under a hostile input, and its speed on ordinary lines.
 *
 * - CLI rows: a file that is one long line with no line break through each line command
 *   (`encrypt`, `map`, `optout backfill`, with the local operator of this process, and
 *   `decrypt`, whose engine path had the limit first) as a child process, at two sizes (100 and
 *   300 MB; 30 and 100 MB with --quick), with peak RSS and wall time over the same command's
 *   one-line run (its start-up): flat memory does not grow with the size.
 * - reader rows, in this process (no start-up to hide behind): readLineChunks over the long-line
 *   files (linear time: about the size ratio) and over 1,000,000 raw-UID lines (200,000 with
 *   --quick), best of three, lines and MB/s.
 * - With --baseline-cli PATH (another build's dist/cli/main.js, e.g. main before the bounded
 *   reader), its CLI runs on the smaller long-line file, and its dist/cli/io.js readLineChunks
 *   on the raw-UID lines: the old reader held an unfinished line as a growing string and
 *   re-split it on every read.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startLocalOperator } from '../dist/testing.js';
import { readLineChunks } from '../dist/cli/line-reader.js';
import { writeLongLineFile } from './long-line-file.js';
import { runWithPeakRss, type MeasuredRun } from './peak-rss.js';

export interface LineLimitRow {
  cli: 'this' | 'baseline';
  command: string;
  mb: number;
  code: number | null;
  wallSec: number;
  peakRssMb: number;
  /** Peak RSS over the same command's one-line run. */
  growthMb: number;
  /** Wall time over the same command's one-line run. */
  netSec: number;
}

export interface ReaderRow {
  reader: 'this' | 'baseline';
  input: string;
  mb: number;
  lines: number;
  /** Best of three. */
  ms: number;
}

type LineReader = (stream: Readable) => AsyncIterable<{ lines: string[] }>;

const MB = 1024 * 1024;

/** Best of three reads of `path` by `read`: its lines and milliseconds. */
async function timeReader(read: LineReader, path: string): Promise<{ lines: number; ms: number }> {
  let best = Infinity;
  let lines = 0;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    lines = 0;
    for await (const chunk of read(createReadStream(path, { highWaterMark: 256 * 1024 }))) lines += chunk.lines.length;
    best = Math.min(best, performance.now() - started);
  }
  return { lines, ms: best };
}

export async function runLineLimitBench(quick: boolean, baselineCli: string | undefined, progress: (text: string) => void): Promise<{ cli: LineLimitRow[]; reader: ReaderRow[] }> {
  const sizes = quick ? [30, 100] : [100, 300];
  const cli = resolve(fileURLToPath(import.meta.url), '../../dist/cli/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'uid2-line-limit-'));
  const op = await startLocalOperator();
  const rows: LineLimitRow[] = [];
  const readerRows: ReaderRow[] = [];
  try {
    const keys = join(dir, 'sharing.json');
    writeFileSync(keys, JSON.stringify(op.keyResponse('sharing')));
    const creds = ['--base-url', op.url, '--api-key', op.apiKey, '--secret-key', op.secretKey];
    const rawUid = op.rawUidFor('line-limit');
    const commands: { name: string; line: string; args: (input: string, n: number) => string[] }[] = [
      { name: 'encrypt', line: rawUid, args: (input, n) => ['encrypt', '--keys', keys, '--input', input, '--output', join(dir, `enc-${n}.out`)] },
      { name: 'map --input', line: 'jane.doe@example.com', args: (input, n) => ['map', '--input', input, '--type', 'email', '--output', join(dir, `map-${n}.out`), ...creds] },
      { name: 'optout backfill', line: rawUid, args: (input, n) => ['optout', 'backfill', '--input', input, '--store', join(dir, `store-${n}.log`), ...creds] },
      { name: 'decrypt', line: op.mintToken({ version: 4 }), args: (input, n) => ['decrypt', '--keys', keys, '--client', 'sharing', '--threads', '1', '--input', input, '--output', join(dir, `dec-${n}.out`)] },
    ];
    let run = 0;
    const small: Record<string, Partial<Record<'this' | 'baseline', MeasuredRun>>> = {};
    for (const c of commands) {
      const input = join(dir, `one-${c.name.replace(/\W+/g, '-')}.txt`);
      writeFileSync(input, `${c.line}\n`);
      small[c.name] = { this: await runWithPeakRss(cli, c.args(input, run++)) };
      if (baselineCli) small[c.name]!.baseline = await runWithPeakRss(baselineCli, c.args(input, run++));
    }
    for (const mb of sizes) {
      const input = join(dir, `long-${mb}.txt`);
      await writeLongLineFile(input, '', mb * MB);
      for (const c of commands) {
        for (const which of baselineCli && mb === sizes[0] ? (['this', 'baseline'] as const) : (['this'] as const)) {
          progress(`lines: ${which} ${c.name}, one ${mb} MB line`);
          const r = await runWithPeakRss(which === 'this' ? cli : baselineCli!, c.args(input, run++));
          const base = small[c.name]![which]!;
          rows.push({ cli: which, command: c.name, mb, code: r.code, wallSec: r.wallSec, peakRssMb: r.peakRssKb / 1024, growthMb: (r.peakRssKb - base.peakRssKb) / 1024, netSec: r.wallSec - base.wallSec });
        }
      }
      progress(`lines: reader, one ${mb} MB line`);
      readerRows.push({ reader: 'this', input: 'one long line', mb, ...(await timeReader(readLineChunks, input)) });
      rmSync(input);
    }
    const count = quick ? 200_000 : 1_000_000;
    const input = join(dir, 'raw-uids.txt');
    writeFileSync(input, Array.from({ length: count }, (_, i) => op.rawUidFor(`r${i % 1000}`)).join('\n') + '\n');
    const mb = (count * (rawUid.length + 1)) / MB;
    const readers: [ReaderRow['reader'], LineReader][] = [['this', readLineChunks]];
    if (baselineCli) {
      const old = (await import(pathToFileURL(resolve(baselineCli, '../io.js')).href)) as { readLineChunks: LineReader };
      readers.push(['baseline', old.readLineChunks]);
    }
    // Alternating, so a change in the machine's load falls on both.
    for (let round = 0; round < 2; round++) {
      for (const [reader, read] of readers) {
        progress(`lines: ${reader} reader, ${count} raw-UID lines`);
        const r = await timeReader(read, input);
        const row = readerRows.find((o) => o.reader === reader && o.input === 'raw-UID lines');
        if (!row) readerRows.push({ reader, input: 'raw-UID lines', mb, ...r });
        else row.ms = Math.min(row.ms, r.ms);
      }
    }
  } finally {
    await op.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { cli: rows, reader: readerRows };
}

export function lineLimitMarkdown({ cli: rows, reader }: { cli: readonly LineLimitRow[]; reader: readonly ReaderRow[] }): string {
  const lines = ['| CLI | command | one line of | exit | wall s | over a one-line run s | peak RSS MB | over a one-line run MB | time over a one-line run / smaller size |', '|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const smaller = rows.find((o) => o.cli === r.cli && o.command === r.command && o.mb < r.mb);
    // Below 0.1 s over start-up the difference is the machine's noise, not the reading: the reader rows show the scaling.
    const ratio = !smaller ? '' : smaller.netSec < 0.1 ? 'within start-up noise' : `${(r.netSec / smaller.netSec).toFixed(2)}x for ${(r.mb / smaller.mb).toFixed(1)}x the bytes`;
    lines.push(`| ${r.cli} | ${r.command} | ${r.mb} MB | ${r.code} | ${r.wallSec.toFixed(2)} | ${r.netSec.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${r.growthMb.toFixed(1)} | ${ratio} |`);
  }
  lines.push('', '| reader (in process) | input | MB | lines | ms (best of 3) | MB/s |', '|---|---|---:|---:|---:|---:|');
  for (const r of reader) lines.push(`| ${r.reader} | ${r.input} | ${r.mb.toFixed(0)} | ${r.lines.toLocaleString('en-US')} | ${r.ms.toFixed(0)} | ${((r.mb * 1000) / r.ms).toFixed(0)} |`);
  return lines.join('\n');
}
