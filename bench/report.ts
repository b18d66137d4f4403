/** Writes report.json, report.md, report.html and one .hgrm file per load run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { label } from './contenders.js';
import type { HandoffRow } from './handoff.js';
import type { KeyPathRow } from './keys.js';
import type { RefreshBlockRow } from './refresh-block.js';
import { hgrm, percentileCurve } from './latency.js';
import { type LoadRun, loadRow } from './load.js';
import type { MachineInfo } from './machine.js';
import type { MicroRow } from './micro.js';
import { lineChart, ninesAxis } from './svg.js';

export interface SaturationRow {
  contender: string;
  backend: string;
  threads: number;
  /** Highest rate with achieved >= 99% of offered AND p99 <= 1 ms. */
  maxSustainedPerSec: number;
  /** Highest tested rate with achieved >= 99% of offered, whatever the latency, and its p99. */
  maxThroughputPerSec?: number;
  p99AtMaxThroughputUs?: number | null;
}

export interface BenchReport {
  machine: MachineInfo;
  settings: Record<string, unknown>;
  corpus: Record<string, unknown>;
  micro: MicroRow[];
  load: Record<string, number | string | boolean | null>[];
  saturation: SaturationRow[];
  saturationMethod: string;
  keyPath: KeyPathRow[];
  handoff: HandoffRow[];
  /** `mainThreadBlockMs` of a client refresh into an engine, per key count and path. */
  refreshBlock: RefreshBlockRow[];
  notes: string[];
}

export const REPORT_KEYS = ['machine', 'corpus', 'micro', 'load', 'saturation'] as const;
export const LOAD_KEYS = [
  'contender', 'backend', 'threads', 'offeredPerSec', 'achievedPerSec', 'p50Us', 'p90Us', 'p99Us', 'p999Us', 'maxUs',
  'mainThreadUsPerToken', 'mainThreadNetUsPerToken', 'eventLoopDelayP99Us',
] as const;
export const MICRO_KEYS = ['contender', 'backend', 'tokenVersion', 'usPerToken', 'tokensPerSec'] as const;
export const SATURATION_KEYS = ['contender', 'backend', 'threads', 'maxSustainedPerSec'] as const;

export function buildReport(parts: Omit<BenchReport, 'load'> & { runs: LoadRun[] }): BenchReport {
  const { runs, ...rest } = parts;
  return { ...rest, load: runs.map(loadRow) };
}

const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 }) : String(n);

interface Section {
  title: string;
  text?: string;
  header?: string[];
  rows?: (string | number)[][];
}

export function machineLine(m: MachineInfo): string {
  const stalls = m.stalls
    ? `; scheduling stalls: ${m.stalls.gapsOver200us} gaps > 0.2 ms in ${m.stalls.durationMs / 1000} s of a busy loop, largest ${m.stalls.largestGapsMs.join(', ')} ms`
    : '';
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, OpenSSL ${m.openssl}, ${m.platform}${stalls}`;
}

type RowLabel = { contender: string; backend: string; threads: number };

/** The report as titled sections, rendered to Markdown and to HTML from the same data. */
function sections(r: BenchReport): Section[] {
  const out: Section[] = [];
  if (r.micro.length > 0) {
    out.push({
      title: 'Micro (single thread, tinybench)',
      header: ['contender', 'backend', 'token', 'µs/token', 'tokens/s', '±%'],
      rows: r.micro.map((m) => [m.contender, m.backend, `v${m.tokenVersion}`, fmt(m.usPerToken, 2), fmt(m.tokensPerSec, 0), fmt(m.rme, 1)]),
    });
  }
  if (r.load.length > 0) {
    out.push({
      title: 'Load (open loop, latency from intended arrival)',
      header: ['contender', 'offered/s', 'achieved/s', 'p50 µs', 'p90 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'main-thread µs/token', 'net of floor', 'CPU net of floor', 'event-loop delay p99 µs'],
      rows: r.load.map((l) => [
        label(l as unknown as RowLabel), fmt(l['offeredPerSec'] as number, 0), fmt(l['achievedPerSec'] as number, 0),
        fmt(l['p50Us'] as number, 0), fmt(l['p90Us'] as number, 0), fmt(l['p99Us'] as number, 0), fmt(l['p999Us'] as number, 0),
        fmt(l['maxUs'] as number, 0), fmt(l['mainThreadUsPerToken'] as number, 2),
        l['mainThreadNetUsPerToken'] === undefined ? '-' : fmt(l['mainThreadNetUsPerToken'] as number, 2),
        l['mainThreadCpuNetUsPerToken'] === undefined ? '-' : fmt(l['mainThreadCpuNetUsPerToken'] as number, 2),
        fmt(l['eventLoopDelayP99Us'] as number, 0),
      ]),
    });
  }
  if (r.saturation.length > 0) {
    out.push({
      title: 'Highest sustained rate (achieved >= 99% of offered and p99 <= 1 ms)',
      text: r.saturationMethod,
      header: ['contender', 'max sustained tokens/s (p99 <= 1 ms)', 'max tested rate kept up with', 'p99 µs there'],
      rows: r.saturation.map((x) => [label(x), fmt(x.maxSustainedPerSec, 0), x.maxThroughputPerSec === undefined ? '-' : fmt(x.maxThroughputPerSec, 0), x.p99AtMaxThroughputUs == null ? '-' : fmt(x.p99AtMaxThroughputUs, 0)]),
    });
  }
  if (r.keyPath.length > 0) {
    out.push({
      title: 'Key path (median)',
      header: ['keys', 'threads', 'parse ms', 'encode ms', 'setKeys ms', 'swap to workers ms', 'snapshot bytes'],
      rows: r.keyPath.map((k) => [k.keys, k.threads, fmt(k.parseMs, 2), fmt(k.encodeMs, 2), fmt(k.setKeysMs, 2), fmt(k.swapToWorkersMs, 2), k.snapshotBytes]),
    });
  }
  if (r.handoff.length > 0) {
    out.push({
      title: `Hand-off: ${r.handoff[0]!.batch.toLocaleString('en-US')} v4 tokens per call, one worker (median)`,
      text: 'The worker function is the batch code a worker runs, called in this thread; the ratio is what the engine keeps of it end to end. decryptColumns(Buffer): the tokens as one newline-separated Buffer.',
      header: ['backend', 'engine call', 'worker function tokens/s', 'engine tokens/s', 'engine / function', 'main-thread CPU µs/token', 'main-thread busy (ELU) µs/token'],
      rows: r.handoff.map((h) => [
        h.backend, h.api, fmt(h.workerFunctionPerSec, 0), fmt(h.enginePerSec, 0), fmt(h.ratio, 2),
        h.mainThreadCpuUsPerToken === null ? '-' : fmt(h.mainThreadCpuUsPerToken, 3), fmt(h.mainThreadUsPerToken, 3),
      ]),
    });
  }
  if (r.refreshBlock.length > 0) {
    out.push({
      title: 'Key refresh: main-thread block (client refresh of N keys into an engine)',
      text: 'main-thread: the response opened, parsed and encoded on the event loop (every refresh before the refresh worker); worker: on the refresh worker (refresh-thread.ts). Idle: the same probe with nothing running.',
      header: ['keys', 'path', 'answer bytes', 'default path', 'mainThreadBlockMs (least)', 'median ms', 'longest callback ms', 'idle least / median ms', 'refresh ms'],
      rows: r.refreshBlock.map((b) => [
        b.keys,
        b.path,
        b.responseBytes,
        b.defaultUsesWorker ? 'worker' : 'main-thread',
        fmt(b.mainThreadBlockMs, 2),
        fmt(b.medianBlockMs, 2),
        fmt(b.longestCallbackMs, 2),
        `${fmt(b.idleBlockMs, 2)} / ${fmt(b.idleMedianBlockMs, 2)}`,
        fmt(b.refreshMs, 1),
      ]),
    });
  }
  if (r.notes.length > 0) out.push({ title: 'Notes', text: r.notes.map((n) => `- ${n}`).join('\n') });
  return out;
}

function mdTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function markdown(r: BenchReport): string {
  const out: string[] = [];
  out.push(`# uid2-engine benchmark`, '', `Machine: ${machineLine(r.machine)}  `, `Run: ${r.machine.date}  `);
  out.push(`Settings: \`${JSON.stringify(r.settings)}\``, '');
  out.push(`Corpus: \`${JSON.stringify({ ...r.corpus, configured: undefined })}\``, '');
  for (const s of sections(r)) {
    out.push(`## ${s.title}`, '');
    if (s.text) out.push(s.text, '');
    if (s.header && s.rows) out.push(mdTable(s.header, s.rows), '');
  }
  return out.join('\n');
}

const esc = (text: string | number): string => String(text).replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

function charts(runs: LoadRun[]): string[] {
  const svgs: string[] = [];
  const rates = [...new Set(runs.map((x) => x.offeredPerSec))].sort((a, b) => a - b);
  const ticks: [number, string][] = [[0, '0%'], [1, '90%'], [2, '99%'], [3, '99.9%'], [4, '99.99%']];
  for (const rate of rates) {
    const series = runs.filter((x) => x.offeredPerSec === rate).map((x) => ({
      name: label(x),
      points: percentileCurve(x.histogram).map(([p, us]) => [ninesAxis(p), us] as [number, number]),
    }));
    svgs.push(lineChart({ title: `Latency by percentile at ${rate.toLocaleString('en-US')} tokens/s offered`, xLabel: 'percentile', yLabel: 'latency (log)', series, xTicks: ticks, yLog: true, reference: [1000, '1 ms'] }));
  }
  const names = [...new Set(runs.map((x) => label(x)))];
  if (rates.length > 1) {
    const series = names.map((n) => ({
      name: n,
      points: runs.filter((x) => label(x) === n).sort((a, b) => a.offeredPerSec - b.offeredPerSec).map((x) => [x.offeredPerSec, x.p99Us] as [number, number]),
    }));
    svgs.push(lineChart({ title: 'p99 latency against offered rate', xLabel: 'offered tokens/s', yLabel: 'p99 (log)', series, xTicks: rates.map((x) => [x, x >= 1000 ? `${x / 1000}k` : String(x)]), yLog: true, reference: [1000, '1 ms'] }));
  }
  return svgs;
}

export function html(r: BenchReport, runs: LoadRun[]): string {
  const body = sections(r)
    .map((sec) => {
      const text = sec.text ? sec.text.split('\n').map((t) => `<p>${esc(t)}</p>`).join('') : '';
      const table =
        sec.header && sec.rows
          ? `<table><thead><tr>${sec.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${sec.rows
              .map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
              .join('')}</tbody></table>`
          : '';
      return `<h2>${esc(sec.title)}</h2>${text}${table}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>uid2-engine benchmark</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}code{font-size:12px}
svg{display:block;margin:12px 0;border:1px solid #ddd}</style>
</head><body>
<h1>uid2-engine benchmark</h1>
<p><b>Machine:</b> ${esc(machineLine(r.machine))}<br><b>Run:</b> ${esc(r.machine.date)}<br>
<b>Settings:</b> <code>${esc(JSON.stringify(r.settings))}</code><br>
<b>Corpus:</b> <code>${esc(JSON.stringify({ ...r.corpus, configured: undefined }))}</code></p>
${charts(runs).join('\n')}
${body}
</body></html>
`;
}

export function writeReport(dir: string, report: BenchReport, runs: LoadRun[]): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    files.push(join(dir, name));
  };
  write('report.json', JSON.stringify(report, null, 2) + '\n');
  write('report.md', markdown(report));
  write('report.html', html(report, runs));
  for (const run of runs) {
    const name = `${run.contender}-${run.backend}-${run.threads}t-${run.offeredPerSec}.hgrm`.replace(/[^\w.-]/g, '_');
    write(name, hgrm(run.histogram));
  }
  return files;
}
