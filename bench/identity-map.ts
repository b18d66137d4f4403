/**
 * `npm run bench -- --scope map [--quick]`: Identity Map v3 through `uid2-engine map` against
 * the local operator over loopback. The operator runs in this process; the client runs the
 * CLI's own code (runMap) in a child process (map-child.ts), so the CPU time that process
 * reports is the client's alone: reading lines, normalizing, hashing, sealing, HTTP, opening
 * and checking answers, writing records. Figures:
 *
 * - client-side cost: the child's process CPU (all threads) and main-thread CPU per identity,
 *   mapping N emails with no throttling;
 * - a per-stage split of that cost, measured in this process on one 5,000-email batch with the
 *   library's own functions (main-thread CPU time, many rounds);
 * - end to end: N emails (1M in full mode) with the operator answering 5% of requests HTTP 429,
 *   wall time, requests and retries, peak RSS of the child next to the smaller run's (flat
 *   memory means it does not grow with N), and the output checked line by line against the
 *   input (record k must carry input line k: none lost, none duplicated, no failed record),
 *   and the raw UIDs of 1,000 random lines mapped again in this process and compared.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IdentityMapV3Client } from '../dist/index.js';
import { startLocalOperator, type LocalOperator } from '../dist/testing.js';
import { readLineChunks } from '../dist/cli/line-reader.js';
import { formatRecord, outcomeRecord, parseRecord } from '../dist/cli/map-records.js';
import { encodeBase64 } from '../dist/codec/base64.js';
import { normalizeAndHashEmail } from '../dist/identity/email.js';
import { identityMapPayload } from '../dist/identity-map/request.js';
import { readIdentityMapResponse } from '../dist/identity-map/response.js';
import type { IdentityMapOutcome } from '../dist/identity-map/outcome.js';
import { decodeSecretKey, openResponse, sealRequest, sealResponse } from '../dist/service/envelope.js';
import type { MapChildReport } from './map-child.js';
import { seededRandom } from './seeded-random.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface MapBenchRow {
  figure: string;
  value: string;
  target: string;
  how: string;
}

const CHILD = fileURLToPath(new URL('./map-child.js', import.meta.url));
/** The opted-out test identity, written once into every input: it must come back unmapped. */
const OPTOUT_EMAIL = 'optout@example.com';

/** N distinct email lines: mostly plain mixed-case addresses, 1% gmail with dots and +tags, 1% invalid. */
async function writeEmails(path: string, count: number, seed: number): Promise<{ invalid: number }> {
  const random = seededRandom(seed);
  const out = createWriteStream(path);
  let invalid = 0;
  let text = '';
  for (let i = 0; i < count; i++) {
    const r = random();
    let line: string;
    if (i === Math.floor(count / 2)) line = OPTOUT_EMAIL;
    else if (r < 0.01) {
      line = `not-an-email-${i}`;
      invalid++;
    } else if (r < 0.02) line = `First.Last${i}+news@gmail.com`;
    else line = `User${i}.${Math.floor(r * 1e6)}@Example${i % 97}.com`;
    text += line + '\n';
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end(text);
  await once(out, 'close');
  return { invalid };
}

async function runChild(values: Record<string, unknown>): Promise<{ report: MapChildReport; summary: string }> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(values)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  const last = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`map child exited with ${code}: ${stderr.slice(-500)}`);
  const report = JSON.parse(last) as MapChildReport;
  if (report.error) throw new Error(`uid2-engine map failed: ${report.error}`);
  return { report, summary: stderr.trim().split('\n').pop() ?? '' };
}

interface Verification {
  records: number;
  lost: number;
  duplicated: number;
  failed: number;
  counts: Map<string, number>;
  /** Line number -> input and raw UID, for the spot check. */
  sample: Map<number, { input: string; uid: string | null }>;
}

/** Reads input and output in lockstep: record k must carry input line k. */
async function verifyOutput(inputPath: string, outputPath: string, sampleLines: ReadonlySet<number>): Promise<Verification> {
  const inputs = readLineChunks(createReadStream(inputPath), 5000)[Symbol.asyncIterator]();
  let pending: string[] = [];
  let k = 0;
  let matched = 0;
  let inputLines = 0;
  const counts = new Map<string, number>();
  const sample = new Map<number, { input: string; uid: string | null }>();
  let records = 0;
  for await (const chunk of readLineChunks(createReadStream(outputPath), 5000)) {
    for (const line of chunk.lines) {
      if (k >= pending.length) {
        const next = await inputs.next();
        pending = next.done ? [] : next.value.lines;
        inputLines += pending.length;
        k = 0;
      }
      const expected = pending[k++];
      const record = parseRecord(line, 'jsonl');
      records++;
      if (!record) continue;
      const status = record.status === 'unmapped' ? record.reason : record.status;
      counts.set(status, (counts.get(status) ?? 0) + 1);
      if (record.input === expected) matched++;
      if (sampleLines.has(records - 1)) sample.set(records - 1, { input: record.input, uid: record.status === 'mapped' ? record.uid : null });
    }
  }
  for (let next = await inputs.next(); !next.done; next = await inputs.next()) inputLines += next.value.lines.length;
  return { records, lost: inputLines - matched, duplicated: records - matched, failed: counts.get('failed') ?? 0, counts, sample };
}

/** Main-thread CPU µs per identity of `fn` over `rounds` runs on `n` identities. */
function cpuUsPerIdentity(rounds: number, n: number, fn: () => void): number {
  fn();
  const t0 = mainThreadCpuMs() ?? performance.now();
  for (let r = 0; r < rounds; r++) fn();
  const t1 = mainThreadCpuMs() ?? performance.now();
  return ((t1 - t0) * 1000) / (rounds * n);
}

/** The per-stage split on one batch of 5,000 emails, with the library's own functions. */
function stageSplit(rounds: number): MapBenchRow[] {
  const n = 5000;
  const random = seededRandom(7);
  const emails = Array.from({ length: n }, (_, i) => `User${i}.${Math.floor(random() * 1e6)}@Example${i % 97}.com`);
  const secret = decodeSecretKey(Buffer.alloc(32, 7).toString('base64'));
  let hashes: string[] = [];
  const hash = cpuUsPerIdentity(rounds, n, () => {
    hashes = emails.map((e) => normalizeAndHashEmail(e)!);
  });
  let nonce: Buffer = Buffer.alloc(8);
  const envelope = cpuUsPerIdentity(rounds, n, () => {
    const sealed = sealRequest(secret, Buffer.from(identityMapPayload({ emailHashes: hashes, phoneHashes: [] }), 'utf8'));
    nonce = sealed.nonce;
    encodeBase64(sealed.bytes);
  });
  // An answer as the operator writes it: a current raw UID, a previous one for a third, seconds.
  const uid = (): string => Buffer.from(Array.from({ length: 32 }, () => Math.floor(random() * 256))).toString('base64');
  const r = Math.floor(Date.now() / 1000) + 86_400;
  const answer = JSON.stringify({ status: 'success', body: { email: [], phone: [], phone_hash: [], email_hash: hashes.map((_, i) => ({ u: uid(), p: i % 3 === 0 ? uid() : null, r })) } });
  const body = sealResponse(secret, nonce, Buffer.from(answer, 'utf8')).toString('base64');
  const targets = hashes.map((_, i) => i);
  const outcomes = new Array<IdentityMapOutcome>(n);
  const parse = cpuUsPerIdentity(rounds, n, () => {
    readIdentityMapResponse(openResponse(secret, body, nonce).payload, [{ field: 'email_hash', targets }], outcomes);
  });
  const output = cpuUsPerIdentity(rounds, n, () => {
    let text = '';
    for (let i = 0; i < n; i++) text += formatRecord(outcomeRecord(emails[i]!, outcomes[i]!), 'jsonl');
    if (text.length === 0) throw new Error('no output');
  });
  // A reference for reading the figures on another machine: the plainest per-email work there is.
  const reference = cpuUsPerIdentity(rounds, n, () => {
    for (const email of emails) createHash('sha256').update(email).digest('base64');
  });
  const how = `main-thread CPU over ${rounds} rounds of one 5,000-email batch, in-process`;
  return [
    { figure: 'machine reference: createHash(sha256) of one email, base64', value: `${reference.toFixed(2)} µs/identity`, target: '', how: `${how}; to scale the figures to another machine` },
    { figure: 'stage: normalize + hash (normalizeAndHashEmail)', value: `${hash.toFixed(2)} µs/identity`, target: '', how },
    { figure: 'stage: envelope (payload JSON, GCM seal, base64)', value: `${envelope.toFixed(2)} µs/identity`, target: '', how },
    { figure: 'stage: parse (base64, GCM open, JSON.parse, validate)', value: `${parse.toFixed(2)} µs/identity`, target: '', how },
    { figure: 'stage: output (record, JSON line)', value: `${output.toFixed(2)} µs/identity`, target: '', how },
    { figure: 'stages summed', value: `${(hash + envelope + parse + output).toFixed(2)} µs/identity`, target: '≤ 3 µs', how: 'the four rows above; HTTP and file I/O are in the process figure' },
  ];
}

function credentials(operator: LocalOperator): Record<string, string> {
  return { 'base-url': operator.url, 'api-key': operator.apiKey, 'secret-key': operator.secretKey };
}

export async function runIdentityMapBench(quick: boolean, progress: (text: string) => void): Promise<MapBenchRow[]> {
  const costCount = quick ? 50_000 : 200_000;
  const endToEndCount = quick ? 100_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'uid2-map-bench-'));
  const rows: MapBenchRow[] = [];
  try {
    progress('identity map: per-stage split on one batch');
    rows.push(...stageSplit(quick ? 20 : 100));

    progress(`identity map: writing ${costCount.toLocaleString('en-US')} and ${endToEndCount.toLocaleString('en-US')} emails`);
    const costInput = join(dir, 'cost.txt');
    const endInput = join(dir, 'end-to-end.txt');
    await writeEmails(costInput, costCount, 1);
    const { invalid } = await writeEmails(endInput, endToEndCount, 2);

    const plain = await startLocalOperator();
    let cost;
    try {
      progress(`identity map: client-side cost, ${costCount.toLocaleString('en-US')} emails, no throttling`);
      cost = await runChild({ ...credentials(plain), input: costInput, type: 'email', output: join(dir, 'cost.jsonl') });
    } finally {
      await plain.close();
    }
    const perIdentity = (ms: number | null, n: number): string => (ms === null ? 'n/a' : `${((ms * 1000) / n).toFixed(2)} µs/identity`);
    rows.push(
      { figure: 'client-side cost: process CPU (all threads)', value: perIdentity(cost.report.processCpuMs, costCount), target: '≤ 3 µs', how: `uid2-engine map in its own process, ${costCount.toLocaleString('en-US')} emails, file in, JSON lines out; process.cpuUsage()` },
      { figure: 'client-side cost: main-thread CPU', value: perIdentity(cost.report.mainThreadCpuMs, costCount), target: '', how: 'the same run, /proc/self/task/<pid>/schedstat' },
      { figure: `peak RSS, ${costCount.toLocaleString('en-US')} emails`, value: `${cost.report.maxRssMiB.toFixed(0)} MiB`, target: '', how: 'the same run, resourceUsage().maxRSS' },
    );

    const throttled = await startLocalOperator({ throttleFraction: 0.05 });
    try {
      progress(`identity map: end to end, ${endToEndCount.toLocaleString('en-US')} emails, 5% of requests answered 429`);
      const endOutput = join(dir, 'end-to-end.jsonl');
      const run = await runChild({ ...credentials(throttled), input: endInput, type: 'email', output: endOutput });
      progress('identity map: checking the output against the input, line by line');
      const random = seededRandom(3);
      const sampleLines = new Set(Array.from({ length: 1000 }, () => Math.floor(random() * endToEndCount)));
      const check = await verifyOutput(endInput, endOutput, sampleLines);
      const sampled = [...check.sample.values()].filter((s) => s.uid !== null);
      const again = await new IdentityMapV3Client(throttled.url, throttled.apiKey, throttled.secretKey).generateIdentityMap({ emails: sampled.map((s) => s.input) });
      const agree = sampled.filter((s, i) => again.emails[i]!.status === 'mapped' && (again.emails[i] as { currentRawUid: string }).currentRawUid === s.uid).length;
      const statusText = [...check.counts.entries()].map(([s, n]) => `${s} ${n.toLocaleString('en-US')}`).join(', ');
      rows.push(
        { figure: `end to end: ${endToEndCount.toLocaleString('en-US')} emails, 5% 429s`, value: `${(run.report.wallMs / 1000).toFixed(1)} s (${Math.round((endToEndCount * 1000) / run.report.wallMs).toLocaleString('en-US')}/s)`, target: '', how: run.summary.replace(/^uid2-engine: /, '') },
        { figure: 'end to end: client-side cost, process CPU', value: perIdentity(run.report.processCpuMs, endToEndCount), target: '≤ 3 µs', how: 'the same run, retries included' },
        { figure: `end to end: peak RSS (${costCount.toLocaleString('en-US')}-email run: ${cost.report.maxRssMiB.toFixed(0)} MiB)`, value: `${run.report.maxRssMiB.toFixed(0)} MiB`, target: 'flat', how: 'resourceUsage().maxRSS of the map process' },
        { figure: 'end to end: records lost / duplicated / failed', value: `${check.lost} / ${check.duplicated} / ${check.failed}`, target: '0 / 0 / 0', how: `record k carries input line k, checked for all ${check.records.toLocaleString('en-US')} records; statuses: ${statusText}; ${invalid} invalid lines and 1 opt-out test identity written in` },
        { figure: 'end to end: raw UIDs re-checked', value: `${agree} of ${sampled.length} agree`, target: 'all', how: '1,000 random lines mapped again in this process with IdentityMapV3Client' },
      );
    } finally {
      await throttled.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function mapBenchMarkdown(rows: readonly MapBenchRow[]): string {
  const lines = ['| figure | value | target | how |', '|---|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.figure} | ${r.value} | ${r.target} | ${r.how} |`);
  return lines.join('\n');
}
