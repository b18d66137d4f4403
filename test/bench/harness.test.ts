/** The benchmark harness's logic, without timing: schedules, percentiles, search, report schema. */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/args.js';
import { drawZipf, zipfCdf } from '../../bench/corpus.js';
import { newHistogram, percentileCurve, recordUs, summarize } from '../../bench/latency.js';
import { addFloorNet, type LoadRun } from '../../bench/load.js';
import { machineInfo } from '../../bench/machine.js';
import { LOAD_KEYS, MICRO_KEYS, REPORT_KEYS, SATURATION_KEYS, buildReport, markdown, writeReport } from '../../bench/report.js';
import { coarseSaturation, searchSaturation } from '../../bench/saturation.js';
import { arrivalTimesUs, dueUntil, seededRandom } from '../../bench/schedule.js';
import { lineChart, ninesAxis } from '../../bench/svg.js';

describe('arrival schedules', () => {
  it('uniform: exactly rate x duration arrivals, evenly spaced', () => {
    const a = arrivalTimesUs(10_000, 2, 'uniform');
    expect(a.length).toBe(20_000);
    expect(a[0]).toBe(0);
    expect(a[1]).toBeCloseTo(100, 9);
    expect(a[19_999]).toBeCloseTo(1_999_900, 6);
  });

  it('poisson: deterministic per seed, increasing, inside the horizon, mean gap near 1/rate', () => {
    const a = arrivalTimesUs(50_000, 2, 'poisson', 7);
    const b = arrivalTimesUs(50_000, 2, 'poisson', 7);
    const c = arrivalTimesUs(50_000, 2, 'poisson', 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    let increasing = true;
    for (let i = 1; i < a.length; i++) if (!(a[i]! > a[i - 1]!)) increasing = false;
    expect(increasing).toBe(true);
    expect(a[a.length - 1]!).toBeLessThan(2e6);
    // 100,000 expected arrivals: the count's standard deviation is ~316, so 5 sigma is 1,600.
    expect(Math.abs(a.length - 100_000)).toBeLessThan(1600);
  });

  it('rejects non-positive rates and durations', () => {
    expect(() => arrivalTimesUs(0, 1, 'uniform')).toThrow(RangeError);
    expect(() => arrivalTimesUs(10, 0, 'poisson')).toThrow(RangeError);
  });

  it('dueUntil finds the arrivals due by a time', () => {
    const a = Float64Array.from([0, 10, 20, 30, 40]);
    expect(dueUntil(a, 0, -1)).toBe(0);
    expect(dueUntil(a, 0, 0)).toBe(1);
    expect(dueUntil(a, 0, 25)).toBe(3);
    expect(dueUntil(a, 3, 25)).toBe(3);
    expect(dueUntil(a, 0, 1000)).toBe(5);
  });

  it('seededRandom is uniform-ish on [0, 1) and repeatable', () => {
    const r = seededRandom(3);
    const xs = Array.from({ length: 10_000 }, () => r());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(seededRandom(3)()).toBe(xs[0]);
  });
});

describe('latency bookkeeping', () => {
  it('summarizes recorded microseconds into percentiles', () => {
    const h = newHistogram();
    for (let i = 1; i <= 1000; i++) recordUs(h, i);
    const s = summarize(h);
    expect(s.count).toBe(1000);
    expect(s.p50Us).toBeGreaterThanOrEqual(499);
    expect(s.p50Us).toBeLessThanOrEqual(501);
    expect(s.p99Us).toBeGreaterThanOrEqual(989);
    expect(s.p99Us).toBeLessThanOrEqual(991);
    expect(s.maxUs).toBeGreaterThanOrEqual(1000);
    expect(s.maxUs).toBeLessThanOrEqual(1001);
  });

  it('rounds sub-microsecond latencies up to 1 µs and keeps large ones', () => {
    const h = newHistogram();
    recordUs(h, 0.2);
    recordUs(h, 5_000_000);
    expect(summarize(h).p50Us).toBe(1);
    expect(summarize(h).maxUs).toBeGreaterThanOrEqual(4_995_000);
    expect(percentileCurve(h).map((p) => p[0])).toEqual([0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99]);
  });
});

describe('corpus distribution', () => {
  it('Zipf CDF is increasing, ends at 1, and favours the first users', () => {
    const cdf = zipfCdf(1000, 1.1);
    for (let i = 1; i < cdf.length; i++) expect(cdf[i]!).toBeGreaterThan(cdf[i - 1]!);
    expect(cdf[999]).toBeCloseTo(1, 12);
    const r = seededRandom(1);
    const draws = Array.from({ length: 20_000 }, () => drawZipf(cdf, r()));
    const first = draws.filter((d) => d === 0).length;
    const last = draws.filter((d) => d === 999).length;
    expect(first).toBeGreaterThan(50 * Math.max(1, last));
    expect(Math.max(...draws)).toBeLessThanOrEqual(999);
  });
});

function fakeRun(contender: string, backend: string, rate: number, p99: number, sustained: boolean): LoadRun {
  const h = newHistogram();
  recordUs(h, p99 / 2);
  recordUs(h, p99);
  return {
    contender, backend, threads: contender === 'pool' ? 1 : 0, offeredPerSec: rate, achievedPerSec: rate, arrivals: rate,
    issued: rate, completed: rate, errors: 0, ...summarize(h), mainThreadUsPerToken: 3, mainThreadCpuUsPerToken: 2, eventLoopDelayP99Us: 1000, keptUp: true, sustained, histogram: h,
  };
}

describe('saturation', () => {
  it('coarse: highest sustained tested rate per contender', () => {
    const rows = coarseSaturation([
      fakeRun('inline', 'node-crypto', 5000, 100, true),
      fakeRun('inline', 'node-crypto', 20_000, 900, true),
      fakeRun('inline', 'node-crypto', 50_000, 90_000, false),
      fakeRun('pool', 'native', 50_000, 300, true),
    ]);
    expect(rows).toEqual([
      { contender: 'inline', backend: 'node-crypto', threads: 0, maxSustainedPerSec: 20_000, maxThroughputPerSec: 50_000, p99AtMaxThroughputUs: expect.any(Number) },
      { contender: 'pool', backend: 'native', threads: 1, maxSustainedPerSec: 50_000, maxThroughputPerSec: 50_000, p99AtMaxThroughputUs: expect.any(Number) },
    ]);
    expect(rows[0]!.p99AtMaxThroughputUs).toBeGreaterThanOrEqual(89_000);
  });

  it('search: doubles then bisects to within 1/16 of the true limit', async () => {
    const probes: number[] = [];
    const found = await searchSaturation(async (rate) => (probes.push(rate), rate <= 37_000));
    expect(found).toBeLessThanOrEqual(37_000);
    expect(found).toBeGreaterThan(37_000 - 40_000 / 16);
    expect(probes.slice(0, 5)).toEqual([2500, 5000, 10_000, 20_000, 40_000]);
  });

  it('search: a contender that never holds reports at most the lowest bisected rate', async () => {
    expect(await searchSaturation(async () => false)).toBe(0);
  });
});

describe('main-thread cost net of the floor', () => {
  it('subtracts the floor row of the same offered rate, never below zero', () => {
    const runs = [fakeRun('floor', '-', 5000, 50, true), fakeRun('pool', 'native', 5000, 300, true), fakeRun('floor', '-', 20_000, 50, true), fakeRun('inline', 'native', 20_000, 100, true)];
    runs[0]!.mainThreadUsPerToken = 1.25;
    runs[1]!.mainThreadUsPerToken = 2;
    runs[2]!.mainThreadUsPerToken = 4;
    addFloorNet(runs);
    expect(runs.map((r) => r.mainThreadNetUsPerToken)).toEqual([0, 0.75, 0, 0]);
  });
});

describe('report', () => {
  const runs = [fakeRun('floor', '-', 5000, 50, true), fakeRun('inline', 'node-crypto', 5000, 120, true), fakeRun('pool', 'native', 5000, 300, true), fakeRun('floor', '-', 20_000, 50, true), fakeRun('inline', 'node-crypto', 20_000, 2000, false), fakeRun('pool', 'native', 20_000, 400, true)];
  addFloorNet(runs);
  const report = buildReport({
    machine: machineInfo(),
    settings: { quick: true },
    corpus: { size: 10 },
    micro: [{ contender: 'inline', backend: 'node-crypto', tokenVersion: 4, usPerToken: 10, tokensPerSec: 100_000, rme: 1, samples: 10 }],
    runs,
    saturation: coarseSaturation(runs),
    saturationMethod: 'coarse',
    keyPath: [{ keys: 100, threads: 1, parseMs: 1, encodeMs: 0.1, setKeysMs: 1.1, swapToWorkersMs: 0.5, snapshotBytes: 4000 }],
    handoff: [{ backend: 'native', api: 'decryptBatch', batch: 4096, workerFunctionPerSec: 1e6, enginePerSec: 9e5, ratio: 0.9, mainThreadUsPerToken: 0.3, mainThreadCpuUsPerToken: 0.25 }],
    refreshBlock: [
      { keys: 10_000, path: 'main-thread', defaultUsesWorker: true, mainThreadBlockMs: 19.5, medianBlockMs: 26, longestCallbackMs: 22, idleBlockMs: 1.1, idleMedianBlockMs: 1.2, refreshMs: 42, responseBytes: 1_993_912 },
      { keys: 10_000, path: 'worker', defaultUsesWorker: true, mainThreadBlockMs: 1.8, medianBlockMs: 3.1, longestCallbackMs: 0.15, idleBlockMs: 1.1, idleMedianBlockMs: 1.2, refreshMs: 40, responseBytes: 1_993_912 },
    ],
    notes: ['a note'],
  });

  it('has the documented report.json schema', () => {
    for (const key of REPORT_KEYS) expect(report).toHaveProperty(key);
    for (const key of ['cpuModel', 'cores', 'node', 'openssl']) expect(report.machine).toHaveProperty(key);
    for (const row of report.load) for (const key of LOAD_KEYS) expect(row).toHaveProperty(key);
    for (const row of report.micro) for (const key of MICRO_KEYS) expect(row).toHaveProperty(key);
    for (const row of report.saturation) for (const key of SATURATION_KEYS) expect(row).toHaveProperty(key);
    expect(JSON.stringify(report)).not.toContain('histogram');
  });

  it('writes json, md, html with inline SVG charts, and one .hgrm per run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uid2-bench-'));
    writeReport(dir, report, runs);
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f.endsWith('.hgrm'))).toHaveLength(runs.length);
    expect(files).toEqual(expect.arrayContaining(['report.json', 'report.md', 'report.html']));
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(3); // one percentile chart per rate + p99 vs rate
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(readFileSync(join(dir, files.find((f) => f.endsWith('.hgrm'))!), 'utf8')).toContain('Percentile');
    const md = markdown(report);
    expect(md).toContain('| pool[native, 1t] | 5,000 |');
    expect(md).toContain('## Highest sustained rate');
    expect(md).toContain('| 10000 | worker | 1993912 | worker | 1.8 | 3.1 | 0.15 | 1.1 / 1.2 | 40 |');
  });

  it('charts map percentiles to the nines axis and escape labels', () => {
    expect(ninesAxis(0)).toBe(0);
    expect(ninesAxis(99)).toBeCloseTo(2, 12);
    expect(ninesAxis(99.9)).toBeCloseTo(3, 12);
    const svg = lineChart({ title: 'a<b', xLabel: 'x', yLabel: 'y', series: [{ name: 'n&m', points: [[0, 10], [1, 100]] }], xTicks: [[0, '0'], [1, '1']], yLog: true });
    expect(svg).toContain('a&#60;b');
    expect(svg).toContain('n&#38;m');
  });
});

describe('flags', () => {
  it('defaults: quick demo rates and durations', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({ quick: true, scope: 'all', rates: [5000, 20_000, 50_000], durationSec: 2, search: false, process: 'poisson' });
    expect(parseBenchArgs([])).toMatchObject({ quick: false, durationSec: 5, search: true, out: 'bench-results/latest' });
  });
  it('parses rates, scope, threads, json', () => {
    expect(parseBenchArgs(['--rates', '50000, 10000,10000', '--scope', 'load', '--threads', '2', '--json', '--duration', '1.5'])).toMatchObject({
      rates: [10_000, 50_000], scope: 'load', threads: 2, json: true, durationSec: 1.5,
    });
  });
  it.each([
    [['--scope', 'x'], '--scope must be micro, load, keys, handoff, optout, optout-hash, cache, fleet, identity, map, bulk, lines, dual, dual-client or all'],
    [['--rates', '10,abc'], '--rates must be positive numbers separated by commas'],
    [['--threads', '0'], '--threads must be a positive integer'],
    [['--duration=-1'], '--duration must be a positive number of seconds'],
    [['--process', 'bursty'], '--process must be poisson or uniform'],
  ])('%j -> %s', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});
