/**
 * The benchmark harness: `npm start` (quick demo, about a minute) and `npm run bench -- [flags]`.
 * Every contender runs in the same process, on the same corpus, in the same run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BidstreamClient, decryptToken } from '../dist/index.js';
import { startLocalOperator } from '../dist/testing.js';
import { type BenchArgs, parseBenchArgs } from './args.js';
import { type Contender, engineContender, floorContender, inlineContender, label, naiveContender, poolContender } from './contenders.js';
import { DEFAULT_MIX, buildCorpus, describeCorpus, type CorpusToken } from './corpus.js';
import { runHandoff, type HandoffRow } from './handoff.js';
import { mapBenchMarkdown, runIdentityMapBench } from './identity-map.js';
import { hybridNotes, hybridRatios } from './hybrid.js';
import { runKeyPath, type KeyPathRow } from './keys.js';
import { type LoadRun, addFloorNet, runLoad } from './load.js';
import { REFRESH_BLOCK_METHOD, runRefreshBlock, type RefreshBlockRow } from './refresh-block.js';
import { machineInfo, stallProbe } from './machine.js';
import { runMicro, type MicroRow } from './micro.js';
import { hashFloodRows, optOutMarkdown, runOptOutBench } from './optout.js';
import { runFleetBench } from './fleet.js';
import { identityMarkdown, runIdentityBench } from './identity.js';
import { dualScopeMarkdown, runDualScopeBench } from './dual-scope.js';
import { lineLimitMarkdown, runLineLimitBench } from './line-limit.js';
import { buildReport, machineLine, markdown, type SaturationRow, writeReport } from './report.js';
import { COARSE_METHOD, SEARCH_METHOD, coarseSaturation, searchSaturation } from './saturation.js';
import { cacheMarkdown, runTokenCacheBench } from './token-cache.js';
import { dualClientMarkdown, runDualScopeClientBench } from './dual-scope-client.js';
import { bulkMarkdown, runBulkBench } from './bulk.js';

const started = performance.now();
function progress(text: string): void {
  const secs = ((performance.now() - started) / 1000).toFixed(0).padStart(3);
  process.stderr.write(`[${secs}s] ${text}\n`);
}

/** Every inline backend returns decryptToken()'s status and raw UID on every corpus token. */
function checkInline(corpus: readonly CorpusToken[], contenders: readonly Contender[], client: BidstreamClient): string {
  const keys = client.keySet!;
  const inline = contenders.filter((c) => c.name === 'inline');
  const now = Date.now();
  for (const t of corpus) {
    const reference = decryptToken(t.token, keys, 'bidstream', t.domain, now);
    for (const c of inline) {
      const r = c.decryptSync!(t) as { status: string; uid?: string };
      if (r.status !== reference.status || r.uid !== reference.uid) {
        throw new Error(`${label(c)} disagrees with decryptToken() on a corpus token: ${r.status} vs ${reference.status}`);
      }
    }
  }
  return `agreement: ${inline.map((c) => label(c)).join(' and ')} return decryptToken()'s status and raw UID on all ${corpus.length.toLocaleString('en-US')} corpus tokens`;
}

/** inline[native] over inline[node-crypto], per token version, from the micro rows of this run. */
function inlineRatios(micro: readonly MicroRow[]): string | undefined {
  const parts: string[] = [];
  for (const version of [4, 3, 2] as const) {
    const native = micro.find((m) => m.contender === 'inline' && m.backend === 'native' && m.tokenVersion === version);
    const node = micro.find((m) => m.contender === 'inline' && m.backend === 'node-crypto' && m.tokenVersion === version);
    if (native && node) parts.push(`v${version} ${(node.usPerToken / native.usPerToken).toFixed(1)}x`);
  }
  return parts.length > 0 ? `micro: inline[native] is ${parts.join(', ')} the speed of inline[node-crypto] (one thread, same run)` : undefined;
}

/** Proves the contenders do the same work on this corpus before any of them is timed. */
function checkAgreement(corpus: readonly CorpusToken[], contenders: readonly Contender[], client: BidstreamClient): string {
  const keys = client.keySet!;
  const now = Date.now();
  let naiveDisagrees = 0;
  let successes = 0;
  const naive = contenders.find((c) => c.name === 'naive');
  for (const t of corpus.slice(0, 2000)) {
    const reference = decryptToken(t.token, keys, 'bidstream', t.domain, now);
    if (reference.status === 'Success') {
      successes++;
      const n = naive?.decryptSync?.(t) as { ok: boolean; uid?: string } | undefined;
      if (n && (!n.ok || n.uid !== reference.uid)) naiveDisagrees++;
    }
  }
  if (naiveDisagrees > 0) throw new Error(`naive contender disagrees with the SDK rules on ${naiveDisagrees} successful tokens`);
  return `agreement: naive and inline give the same raw UID on all ${successes} successful tokens of the first 2,000`;
}

async function verifyPool(corpus: readonly CorpusToken[], pool: Contender, client: BidstreamClient): Promise<void> {
  const sample = corpus.slice(0, 2000);
  const results = (await pool.decryptMany!(sample)) as { status: string; uid?: string }[];
  results.forEach((r, i) => {
    const expected = client.decryptTokenIntoRawUid(sample[i]!.token, sample[i]!.domain);
    if (r.status !== expected.status || r.uid !== expected.uid) {
      throw new Error(`${label(pool)} disagrees with inline on corpus token ${i}: ${r.status} vs ${expected.status}`);
    }
  });
}

async function main(args: BenchArgs): Promise<void> {
  const machine = machineInfo();
  machine.stalls = stallProbe(args.quick ? 1000 : 3000);
  if (!args.json) process.stdout.write(`uid2-engine benchmark on ${machineLine(machine)}\n`);
  const notes: string[] = [
    `Load: ${args.process} arrivals; latency from each token's intended arrival time to its result (open loop, no coordinated omission); HDR histograms, 3 significant digits.`,
    'Main-thread µs/token: event-loop utilisation (performance.eventLoopUtilization, main thread only) over the run divided by tokens completed. It includes the load generator\'s own wake-ups (at most one per 100 µs), the same for every contender.',
    `This machine has ${machine.cores} cores: the pool's default is cores - 1 = ${Math.max(1, machine.cores - 1)} worker(s), and the main thread, the generator thread and the workers share them.`,
  ];

  if (args.scope === 'map') {
    // Identity Map v3 through the CLI against the local operator: its own figures and table.
    const rows = await runIdentityMapBench(args.quick, progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, map: rows }, null, 2) + '\n');
    else process.stdout.write(`\n${mapBenchMarkdown(rows)}\n`);
    progress('done');
    return;
  }

  if (args.scope === 'lines') {
    // The CLI's line limit: one long line through each line command, peak RSS and time per size.
    const rows = await runLineLimitBench(args.quick, args.baselineCli, progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, lines: rows }, null, 2) + '\n');
    else process.stdout.write(`\n${lineLimitMarkdown(rows)}\n`);
    progress('done');
    return;
  }

  if (args.scope === 'optout' || args.scope === 'optout-hash' || args.scope === 'fleet') {
    // Its own figures and table: the opt-out stores are measured apart from the decryption contenders.
    const rows = args.scope === 'optout-hash' ? hashFloodRows(args.quick) : await (args.scope === 'fleet' ? runFleetBench : runOptOutBench)(args.quick, progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, optout: rows }, null, 2) + '\n');
    else process.stdout.write(`\n${optOutMarkdown(rows)}\n`);
    progress('done');
    return;
  }

  if (args.scope === 'dual') {
    // Two local operators (UID2 and EUID): the dual-scope engine against the single-scope one.
    const result = await runDualScopeBench(args.quick, args.threads ?? Math.max(1, machine.cores - 1), progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, dualScope: result }, null, 2) + '\n');
    else process.stdout.write(`\n${dualScopeMarkdown(result)}\n`);
    progress('done');
    return;
  }

  if (args.scope === 'dual-client') {
    // In process, one thread: DualScopeBidstreamClient against BidstreamClient on its own two operators.
    const rows = await runDualScopeClientBench(args.quick, progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, dualClient: rows }, null, 2) + '\n');
    else process.stdout.write(`\n${dualClientMarkdown(rows)}\n`);
    progress('done');
    return;
  }

  if (args.scope === 'identity') {
    // One thread, no operator: normalization and hashing against createHash per email.
    const result = runIdentityBench(args.quick, progress);
    if (args.json) process.stdout.write(JSON.stringify({ machine, identity: result }, null, 2) + '\n');
    else process.stdout.write(`\n${identityMarkdown(result)}\n`);
    progress('done');
    return;
  }

  progress('starting the local operator and refreshing keys over loopback HTTP');
  const operator = await startLocalOperator();
  const contenders: Contender[] = [];
  try {
    const client = new BidstreamClient(operator.url, operator.apiKey, operator.secretKey);
    const refreshed = await client.refresh();
    if (!refreshed.success) throw refreshed.error;
    const credentials = { baseUrl: operator.url, apiKey: operator.apiKey, secretKey: operator.secretKey };
    if (args.scope === 'bulk') {
      // Its own figures: one generated file through the worker function, the CLI and zlib (bench/bulk.ts).
      const result = await runBulkBench(operator, args.bulkTokens, args.seed, args.baselineCli, progress);
      mkdirSync(args.out, { recursive: true });
      writeFileSync(join(args.out, 'bulk.json'), JSON.stringify({ machine, result }, null, 2) + '\n');
      if (args.json) process.stdout.write(JSON.stringify({ machine, result }, null, 2) + '\n');
      else process.stdout.write(`\n${bulkMarkdown(result)}\nReport file: ${join(args.out, 'bulk.json')}\n`);
      return;
    }
    if (args.scope === 'cache') {
      // The token cache's own study (bench/token-cache.ts): its corpora, no pools.
      const result = await runTokenCacheBench(operator, client, args.quick, args.seed, progress);
      mkdirSync(args.out, { recursive: true });
      writeFileSync(join(args.out, 'token-cache.json'), JSON.stringify({ machine, result }, null, 2) + '\n');
      if (args.json) process.stdout.write(JSON.stringify({ machine, result }, null, 2) + '\n');
      else process.stdout.write(`\n${cacheMarkdown(result)}\nReport file: ${join(args.out, 'token-cache.json')}\n`);
      return;
    }

    progress(`minting a corpus of ${DEFAULT_MIX.size.toLocaleString('en-US')} tokens`);
    const corpus = buildCorpus(operator, DEFAULT_MIX, args.seed);
    const corpusInfo = describeCorpus(corpus, DEFAULT_MIX);

    contenders.push(naiveContender(client.keySet!));
    for (const backend of ['node-crypto', 'native']) {
      try {
        const inline = await inlineContender(credentials, backend);
        if (!contenders.some((c) => c.name === 'inline' && c.backend === inline.backend)) contenders.push(inline);
      } catch (err) {
        notes.push(`inline with backend ${backend} not measured: ${(err as Error).message}`);
      }
    }
    const seenBackends = new Set<string>();
    for (const backend of ['node-crypto', 'native']) {
      try {
        const pool = await poolContender(credentials, args.threads ?? Math.max(1, machine.cores - 1), backend);
        if (seenBackends.has(pool.backend)) {
          await pool.close();
          continue;
        }
        seenBackends.add(pool.backend);
        contenders.push(pool);
      } catch (err) {
        notes.push(`pool with backend ${backend} not measured: ${(err as Error).message}`);
      }
    }
    // The engine as shipped (hybrid dispatch) and forced to the calling thread, per backend.
    for (const backend of [...seenBackends]) {
      for (const dispatch of ['auto', 'in-process'] as const) {
        try {
          contenders.push(await engineContender(credentials, args.threads ?? Math.max(1, machine.cores - 1), backend, dispatch));
        } catch (err) {
          notes.push(`engine (${dispatch}) with backend ${backend} not measured: ${(err as Error).message}`);
        }
      }
    }
    notes.push('engine: the default engine (hybrid dispatch: each call on the side that costs the main thread less); engine-in-process: dispatch \'in-process\'; pool: dispatch \'workers\'. All three answer through decrypt()\'s promise.');
    if (args.windowUs > 0 && (args.scope === 'load' || args.scope === 'all')) {
      try {
        contenders.push(await poolContender(credentials, args.threads ?? Math.max(1, machine.cores - 1), 'native', { batchWindowUs: args.windowUs }));
        notes.push(`pool-w${args.windowUs}µs: the native pool with batchWindowUs ${args.windowUs} (partial batches wait up to that long for company): the latency vs main-thread-time trade, next to the default (0).`);
      } catch (err) {
        notes.push(`windowed pool not measured: ${(err as Error).message}`);
      }
    }
    try {
      contenders.push(await poolContender(credentials, args.threads ?? Math.max(1, machine.cores - 1), 'native', { tokenCache: true }));
      notes.push('pool-cache: the native pool with the token cache on (default size); its hit ratio over the whole run is in the cache note below.');
    } catch (err) {
      notes.push(`pool with the token cache not measured: ${(err as Error).message}`);
    }
    notes.push(checkAgreement(corpus, contenders, client));
    notes.push(checkInline(corpus, contenders, client));
    for (const pool of contenders.filter((c) => c.name.startsWith('pool') || c.name.startsWith('engine'))) await verifyPool(corpus, pool, client);
    notes.push(`agreement: every pool and engine contender returns exactly the inline client's status and raw UID on the first 2,000 tokens`);

    let micro: MicroRow[] = [];
    if (args.scope === 'micro' || args.scope === 'all') {
      progress('micro benchmark (tinybench, one thread per contender)');
      const microContenders: Contender[] = [...contenders.filter((c) => !c.name.startsWith('pool') && !c.name.startsWith('engine'))];
      for (const pool of contenders.filter((c) => c.name === 'pool' || c.name === 'pool-cache')) {
        microContenders.push(pool.threads === 1 ? pool : await poolContender(credentials, 1, pool.backend, { tokenCache: pool.name === 'pool-cache' }));
      }
      micro = await runMicro(microContenders, corpus, args.quick ? 250 : 1000);
      const ratios = inlineRatios(micro);
      if (ratios) notes.push(ratios);
      for (const c of microContenders) if (!contenders.includes(c)) await c.close();
    }

    const runs: LoadRun[] = [];
    let saturation: SaturationRow[] = [];
    let saturationMethod = COARSE_METHOD;
    if (args.scope === 'load' || args.scope === 'all') {
      const warmupSec = Math.min(0.5, args.durationSec / 4);
      const floor = floorContender();
      notes.push('floor: a contender that answers at once with no work; its latency is the generator\'s and the machine\'s own, below which no contender can go.');
      for (const rate of args.rates) {
        for (const c of [floor, ...contenders]) {
          progress(`load: ${label(c)} at ${rate.toLocaleString('en-US')} tokens/s for ${args.durationSec}s`);
          await runLoad(c, corpus, { ratePerSec: rate, durationSec: warmupSec, process: args.process, seed: args.seed + 1, minGapUs: 100 });
          runs.push(await runLoad(c, corpus, { ratePerSec: rate, durationSec: args.durationSec, process: args.process, seed: args.seed, minGapUs: 100 }));
        }
      }
      addFloorNet(runs);
      notes.push('main-thread net µs/token: the contender\'s main-thread µs/token minus the floor row\'s at the same offered rate (the generator\'s own share).');
      notes.push(...hybridNotes(hybridRatios(runs)));
      saturation = coarseSaturation(runs);
      if (args.search) {
        saturationMethod = SEARCH_METHOD;
        const searched: SaturationRow[] = [];
        for (const c of contenders) {
          const max = await searchSaturation(async (rate) => {
            progress(`saturation search: ${label(c)} at ${rate.toLocaleString('en-US')} tokens/s`);
            const run = await runLoad(c, corpus, { ratePerSec: rate, durationSec: args.durationSec, process: args.process, seed: args.seed, minGapUs: 100 });
            return run.sustained;
          });
          const coarse = saturation.find((row) => row.contender === c.name && row.backend === c.backend && row.threads === c.threads);
          searched.push({ ...coarse, contender: c.name, backend: c.backend, threads: c.threads, maxSustainedPerSec: max });
        }
        saturation = [...searched, ...saturation.filter((row) => row.contender === 'floor')];
      }
    }

    for (const c of contenders) {
      const s = c.cacheStats?.();
      if (s && s.hits + s.misses > 0) {
        notes.push(`cache: ${label(c)} answered ${((100 * s.hits) / (s.hits + s.misses)).toFixed(1)}% of ${(s.hits + s.misses).toLocaleString('en-US')} lookups from its token cache over this run (corpus: Zipf s = ${DEFAULT_MIX.zipfExponent}).`);
      }
    }

    let keyPath: KeyPathRow[] = [];
    let refreshBlock: RefreshBlockRow[] = [];
    if (args.scope === 'keys' || args.scope === 'all') {
      progress('key path: parse, snapshot encode, publish to workers (100, 1,000, 10,000 keys)');
      keyPath = await runKeyPath([100, 1000, 10_000], args.threads ?? Math.max(1, machine.cores - 1), args.quick ? 5 : 15);
      progress('key path: main-thread block of a client refresh into an engine, calling thread vs refresh worker (100, 1,000, 10,000 keys)');
      refreshBlock = await runRefreshBlock([100, 1000, 10_000], args.quick ? 5 : 15);
      notes.push(REFRESH_BLOCK_METHOD);
    }

    let handoff: HandoffRow[] = [];
    if (args.scope === 'handoff' || args.scope === 'all') {
      progress('hand-off: engine decryptBatch() and decryptColumns() of 4,096 v4 tokens with one worker vs the worker function alone');
      handoff = await runHandoff(operator, corpus, args.quick ? 10 : 40);
    }

    const report = buildReport({
      machine,
      settings: { quick: args.quick, scope: args.scope, rates: args.rates, durationSec: args.durationSec, process: args.process, seed: args.seed, threads: args.threads ?? Math.max(1, machine.cores - 1) },
      corpus: corpusInfo,
      micro,
      runs,
      saturation,
      saturationMethod,
      keyPath,
      handoff,
      refreshBlock,
      notes,
    });
    const files = writeReport(args.out, report, runs);
    if (args.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(`\n${markdown(report)}\nReport files: ${files.filter((f) => !f.endsWith('.hgrm')).join(', ')} (+${files.filter((f) => f.endsWith('.hgrm')).length} .hgrm)\n`);
    progress('done');
  } finally {
    for (const c of contenders) await c.close();
    await operator.close();
  }
}

let args: BenchArgs;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
main(args).catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
