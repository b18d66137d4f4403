/**
 * `npm run bench -- --scope identity [--quick]`: email normalization + hashing on one thread,
 * against `crypto.createHash('sha256')` per email (hashing alone, no normalization) as the
 * baseline, in the same process and run:
 *
 * - corpus: 200,000 generated emails (50,000 with --quick), seeded: 70% already normalized,
 *   15% with capitals, 10% gmail.com with dots and +tags, 5% with surrounding spaces;
 * - before timing, every email's `normalizeAndHashEmail` is checked against createHash of
 *   `normalizeEmail`, so both rows produce the same digests for the same work;
 * - rounds alternate the contenders (A/B/C, A/B/C, ...), each round one pass over the corpus; the
 *   median round of each gives emails/s. Each round is timed twice: by the main thread's CPU time
 *   (/proc schedstat: what one thread can do, unaffected by other processes taking the CPU on a
 *   shared machine; the figure compared with the target) and by the wall clock; the load average
 *   is printed with the result.
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { normalizeAndHashEmail, normalizeEmail } from '../dist/index.js';
import { seededRandom } from './seeded-random.js';
import { mainThreadCpuMs } from './thread-cpu.js';

export interface IdentityBenchRow {
  contender: string;
  what: string;
  /** Per second of the thread's CPU time (wall time where /proc is not available). */
  emailsPerSecond: number;
  nsPerEmail: number;
  /** Per second of wall time. */
  wallEmailsPerSecond: number;
}

export interface IdentityBenchResult {
  emails: number;
  rounds: number;
  rows: IdentityBenchRow[];
  /** normalizeAndHashEmail emails/s over the createHash baseline's. */
  ratio: number;
  target: string;
  met: boolean;
  load: string;
}

const TARGET_PER_SECOND = 1_000_000;

function corpus(count: number): string[] {
  const random = seededRandom(7);
  const word = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
  const domains = ['example.com', 'mail.example.org', 'yahoo.com', 'outlook.com', 'company.co.uk'];
  return Array.from({ length: count }, () => {
    const r = random();
    const local = `${word(4 + Math.floor(random() * 6))}.${word(3 + Math.floor(random() * 6))}${Math.floor(random() * 1000)}`;
    if (r < 0.7) return `${local}@${domains[Math.floor(random() * domains.length)]}`;
    if (r < 0.85) return `${local.charAt(0).toUpperCase()}${local.slice(1)}@${domains[Math.floor(random() * domains.length)]!.toUpperCase()}`;
    if (r < 0.95) return `${local}+${word(5)}@gmail.com`;
    return `  ${local}@${domains[Math.floor(random() * domains.length)]} `;
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function runIdentityBench(quick: boolean, progress: (text: string) => void): IdentityBenchResult {
  const emails = corpus(quick ? 50_000 : 200_000);
  progress(`identity: checking normalizeAndHashEmail against createHash(normalizeEmail) on ${emails.length.toLocaleString('en-US')} emails`);
  for (const e of emails) {
    const expected = createHash('sha256').update(normalizeEmail(e)!).digest('base64');
    if (normalizeAndHashEmail(e) !== expected) throw new Error('normalizeAndHashEmail disagrees with createHash of normalizeEmail');
  }
  // Each contender returns a digest (or the normalized text); summing lengths keeps the work live.
  const contenders: { name: string; what: string; run: (e: string) => string | null }[] = [
    { name: 'normalizeAndHashEmail', what: 'normalize + SHA-256 + base64', run: normalizeAndHashEmail },
    { name: 'createHash per email (baseline)', what: 'SHA-256 + base64 only', run: (e) => createHash('sha256').update(e).digest('base64') },
    { name: 'normalizeEmail', what: 'normalize only', run: normalizeEmail },
  ];
  const rounds = quick ? 5 : 9;
  const cpuSeconds = contenders.map(() => [] as number[]);
  const wallSeconds = contenders.map(() => [] as number[]);
  let sink = 0;
  for (let round = 0; round < rounds + 1; round++) {
    contenders.forEach((c, i) => {
      const cpu0 = mainThreadCpuMs();
      const t0 = performance.now();
      for (let k = 0; k < emails.length; k++) sink += c.run(emails[k]!)!.length;
      const wall = (performance.now() - t0) / 1000;
      const cpu1 = mainThreadCpuMs();
      // Round 0 warms the JIT and is not counted.
      if (round === 0) return;
      wallSeconds[i]!.push(wall);
      cpuSeconds[i]!.push(cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / 1000 : wall);
    });
  }
  if (sink === 0) throw new Error('no work done');
  const rows = contenders.map((c, i) => {
    const s = median(cpuSeconds[i]!);
    return { contender: c.name, what: c.what, emailsPerSecond: emails.length / s, nsPerEmail: (s * 1e9) / emails.length, wallEmailsPerSecond: emails.length / median(wallSeconds[i]!) };
  });
  const ours = rows[0]!.emailsPerSecond;
  return {
    emails: emails.length,
    rounds,
    rows,
    ratio: ours / rows[1]!.emailsPerSecond,
    target: `>= ${TARGET_PER_SECOND.toLocaleString('en-US')} emails/s on one thread`,
    met: ours >= TARGET_PER_SECOND,
    load: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

export function identityMarkdown(r: IdentityBenchResult): string {
  const lines = ['| contender | work per email | emails per CPU-second | CPU ns/email | emails per wall second |', '|---|---|---:|---:|---:|'];
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  for (const row of r.rows) lines.push(`| ${row.contender} | ${row.what} | ${n(row.emailsPerSecond)} | ${row.nsPerEmail.toFixed(0)} | ${n(row.wallEmailsPerSecond)} |`);
  lines.push('');
  lines.push(`normalizeAndHashEmail is ${r.ratio.toFixed(2)}x the createHash-per-email baseline (median of ${r.rounds} alternated rounds of ${r.emails.toLocaleString('en-US')} emails, one thread); target ${r.target}: ${r.met ? 'met' : 'NOT met'}; load average ${r.load}.`);
  return lines.join('\n');
}
