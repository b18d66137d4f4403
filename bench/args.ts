/** Benchmark flags. One runner, flags instead of a pile of scripts. */
import { parseArgs } from 'node:util';
import type { ArrivalProcess } from './schedule.js';

export type Scope = 'micro' | 'load' | 'keys' | 'handoff' | 'optout' | 'optout-hash' | 'cache' | 'fleet' | 'identity' | 'map' | 'bulk' | 'lines' | 'dual' | 'dual-client' | 'all';

export interface BenchArgs {
  quick: boolean;
  scope: Scope;
  rates: number[];
  durationSec: number;
  threads: number | undefined;
  out: string;
  json: boolean;
  process: ArrivalProcess;
  seed: number;
  /** Full mode only: search each contender's highest sustained rate. */
  search: boolean;
  /** batchWindowUs of an extra native pool row in the load runs (0: no such row). */
  windowUs: number;
  /** --scope bulk: lines in the generated file (default 1,000,000; 200,000 with --quick). */
  bulkTokens: number;
  /** --scope bulk and lines: another build's CLI (dist/cli/main.js) to run on the same file as a baseline. */
  baselineCli: string | undefined;
}

export const USAGE = `Usage: npm run bench -- [--quick] [--scope micro|load|keys|handoff|optout|optout-hash|cache|fleet|identity|map|bulk|lines|dual|dual-client|all] [--rates 10000,50000,...]
                       [--duration S] [--threads N] [--out DIR] [--json]
                       [--process poisson|uniform] [--seed N] [--no-search] [--window US]
                       [--bulk-tokens N] [--baseline-cli PATH]`;

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scope: { type: 'string', default: 'all' },
      rates: { type: 'string' },
      duration: { type: 'string' },
      threads: { type: 'string' },
      out: { type: 'string', default: 'bench-results/latest' },
      json: { type: 'boolean', default: false },
      process: { type: 'string', default: 'poisson' },
      seed: { type: 'string', default: '42' },
      'no-search': { type: 'boolean', default: false },
      window: { type: 'string', default: '250' },
      'bulk-tokens': { type: 'string' },
      'baseline-cli': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new RangeError(USAGE);
  const scope = values.scope as Scope;
  if (!['micro', 'load', 'keys', 'handoff', 'optout', 'optout-hash', 'cache', 'fleet', 'identity', 'map', 'bulk', 'lines', 'dual', 'dual-client', 'all'].includes(scope)) throw new RangeError(`--scope must be micro, load, keys, handoff, optout, optout-hash, cache, fleet, identity, map, bulk, lines, dual, dual-client or all`);
  const process = values.process as ArrivalProcess;
  if (process !== 'poisson' && process !== 'uniform') throw new RangeError('--process must be poisson or uniform');
  const quick = values.quick ?? false;
  const rates = (values.rates ?? (quick ? '5000,20000,50000' : '5000,10000,25000,50000,100000'))
    .split(',')
    .map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new RangeError('--rates must be positive numbers separated by commas');
  const durationSec = values.duration !== undefined ? Number(values.duration) : quick ? 2 : 5;
  if (!(durationSec > 0)) throw new RangeError('--duration must be a positive number of seconds');
  const threads = values.threads !== undefined ? Number(values.threads) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new RangeError('--threads must be a positive integer');
  const windowUs = Number(values.window);
  if (!Number.isInteger(windowUs) || windowUs < 0 || windowUs > 1_000_000) throw new RangeError('--window must be an integer number of µs from 0 to 1000000');
  const bulkTokens = values['bulk-tokens'] !== undefined ? Number(values['bulk-tokens']) : quick ? 200_000 : 1_000_000;
  if (!Number.isSafeInteger(bulkTokens) || bulkTokens < 1) throw new RangeError('--bulk-tokens must be a positive integer');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new RangeError('--seed must be an integer');
  return {
    quick,
    scope,
    rates: [...new Set(rates)].sort((a, b) => a - b),
    durationSec,
    threads,
    out: values.out!,
    json: values.json ?? false,
    process,
    seed,
    search: !quick && !(values['no-search'] ?? false),
    windowUs,
    bulkTokens,
    baselineCli: values['baseline-cli'],
  };
}
