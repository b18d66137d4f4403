/**
 * `npm run soak -- --minutes N --rate R`: drives the engine at a steady open-loop rate against the
 * local operator, with key rotation every few seconds, operator faults sprinkled in and workers
 * killed now and then. Prints RSS, heap, p99 and counters every interval and a verdict at the end:
 * no result lost, no rejected call, every status the one its token's kind must give, and memory
 * growth under a bound. Exits 1 when the verdict fails.
 */
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { DecryptionEngine, startLocalOperator, type LocalOperator } from '../dist/index.js';
import { withWorkerEntry } from '../dist/engine/test-hooks.js';
import { WorkerCrashes } from '../test/helpers/crashing-worker.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '5000' },
    threads: { type: 'string' },
    'rotate-every': { type: 'string', default: '3' },
    'fault-every': { type: 'string', default: '7' },
    'kill-every': { type: 'string', default: '11' },
    interval: { type: 'string', default: '10' },
    'max-growth-mb': { type: 'string', default: '64' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const rotateEvery = Number(values['rotate-every']);
const faultEvery = Number(values['fault-every']);
const killEvery = Number(values['kill-every']);
const intervalSec = Number(values.interval);
const maxGrowthMb = Number(values['max-growth-mb']);
const threads = values.threads === undefined ? undefined : Number(values.threads);
if (![minutes, rate, rotateEvery, faultEvery, killEvery, intervalSec, maxGrowthMb].every((n) => Number.isFinite(n) && n >= 0) || minutes <= 0 || rate <= 0) {
  process.stderr.write('usage: npm run soak -- --minutes N --rate R [--threads T] [--rotate-every S] [--fault-every S] [--kill-every S] [--interval S] [--max-growth-mb M]\n');
  process.exit(2);
}

type Kind = 'v4' | 'v3' | 'v2' | 'expired' | 'tampered' | 'cstg-ok' | 'cstg-bad';
const EXPECTED: Record<Kind, string> = {
  v4: 'Success', v3: 'Success', v2: 'Success', expired: 'ExpiredToken', tampered: 'InvalidPayload',
  'cstg-ok': 'Success', 'cstg-bad': 'DomainOrAppNameCheckFailed',
};
interface PoolToken { token: string; domain: string | null; kind: Kind }

function mint(op: LocalOperator, n: number): PoolToken[] {
  const site = op.sites[0]!;
  const now = Date.now();
  const out: PoolToken[] = [];
  for (let i = 0; i < n; i++) {
    const rawUid = op.randomRawUid();
    const k = i % 20;
    if (k < 10) out.push({ token: op.mintToken({ version: 4, rawUid, siteId: site.id }), domain: null, kind: 'v4' });
    else if (k < 12) out.push({ token: op.mintToken({ version: 3, rawUid, siteId: site.id }), domain: null, kind: 'v3' });
    else if (k < 13) out.push({ token: op.mintToken({ version: 2, rawUid, siteId: site.id }), domain: null, kind: 'v2' });
    else if (k < 15) out.push({ token: op.mintToken({ version: 4, rawUid, generatedMs: now - 7_200_000, expiresMs: now - 3_600_000 }), domain: null, kind: 'expired' });
    else if (k < 17) {
      const t = op.mintToken({ version: 4, rawUid });
      // Flip a character inside the GCM ciphertext (after the 8-char header, before the tag).
      const at = 40 + (i % 100);
      out.push({ token: t.slice(0, at) + (t[at] === 'A' ? 'B' : 'A') + t.slice(at + 1), domain: null, kind: 'tampered' });
    } else if (k < 19) out.push({ token: op.mintToken({ version: 4, rawUid, clientSideGenerated: true, siteId: site.id }), domain: site.domainNames[0]!, kind: 'cstg-ok' });
    else out.push({ token: op.mintToken({ version: 4, rawUid, clientSideGenerated: true, siteId: site.id }), domain: 'not-registered.example', kind: 'cstg-bad' });
  }
  return out;
}

const FAULTS = [
  { kind: 'http-error', status: 500 }, { kind: 'http-error', status: 401 }, { kind: 'drop-connection' }, { kind: 'truncated-body' },
  { kind: 'wrong-nonce' }, { kind: 'garbage-body' }, { kind: 'stale-keys' }, { kind: 'delay', ms: 1500 },
] as const;

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const op = await startLocalOperator();
  // Workers start from the crash tests' entry, so that the killer below can end one mid-batch.
  const crashes = new WorkerCrashes();
  const engine = await DecryptionEngine.create(withWorkerEntry({
    baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey, ...(threads ? { threads } : {}),
    clientOptions: { timeoutMs: 1000 },
    autoRefresh: { intervalMs: Math.max(200, (rotateEvery * 1000) / 2), retryIntervalMs: 200, jitter: 0.1 },
    // With the token cache on: repeats are answered from it across key rotations, and every
    // answer is still checked like any other.
    tokenCache: { maxEntries: 20_000 },
  }, crashes.entry));
  let pool = mint(op, 2000);
  const started = Date.now();
  const endAt = started + minutes * 60_000;
  let issued = 0, settled = 0, rejected = 0, mismatches = 0, faults = 0, rotations = 0, kills = 0;
  const firstMismatch: string[] = [];
  let interval = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  let intervalSettled = 0;
  let baselineRss = 0;
  // Ids of the keys the last rotation created; tokens are minted with them only once the engine
  // holds them (rotateKeys() keys activate at once, unlike the service's schedule, which
  // publishes keys before they activate).
  let unseenKeyIds: number[] | null = null;
  const startRss = process.memoryUsage().rss;

  process.stdout.write(`soak: ${minutes} min at ${rate} tokens/s, ${engine.stats().threads} worker(s), backend ${engine.stats().backend}; rotation every ${rotateEvery}s, a fault every ${faultEvery}s, a worker kill every ${killEvery}s\n`);
  process.stdout.write('p99: from each token\'s intended arrival; the generator ticks every 5 ms, so it includes up to 5 ms of generator granularity (npm run bench measures latency precisely)\n');
  process.stdout.write('   t(s)  held/s   p99(µs)   RSS(MB)  heap(MB)  faults  refresh ok/fail  snapshot  kills  mismatches  rejected\n');

  // Open loop: arrivals are due at fixed times from the start (rate x elapsed), whatever the
  // timer's drift; each token's latency counts from its own intended arrival.
  const t0 = performance.now();
  const generator = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    const n = due - issued;
    for (let i = 0; i < n; i++) {
      const intended = t0 + ((issued + i + 1) / rate) * 1000;
      const t = pool[(issued + i) % pool.length]!;
      engine.decrypt(t.token, t.domain).then(
        (r) => {
          settled++;
          intervalSettled++;
          interval.recordValue(Math.max(1, Math.ceil((performance.now() - intended) * 1000)));
          if (r.status !== EXPECTED[t.kind]) {
            mismatches++;
            if (firstMismatch.length < 5) firstMismatch.push(`${t.kind}: ${r.status}`);
          }
        },
        (err: { code?: string }) => {
          settled++;
          rejected++;
          if (firstMismatch.length < 5) firstMismatch.push(`rejected: ${err.code}`);
        },
      );
    }
    issued += n;
  }, 5);

  const rotator = rotateEvery > 0 ? setInterval(() => {
    unseenKeyIds = op.rotateKeys();
    rotations++;
  }, rotateEvery * 1000) : undefined;
  // Fresh tokens with the newest keys, once the engine has fetched them (never before), a few at
  // a time so minting never blocks the main thread for long.
  let toMint = 0;
  const minter = setInterval(() => {
    if (unseenKeyIds && unseenKeyIds.every((id) => engine.keySet?.getKey(id) !== undefined)) {
      unseenKeyIds = null;
      toMint = 500;
    }
    if (unseenKeyIds === null && toMint > 0) {
      pool = [...mint(op, 20), ...pool.slice(0, pool.length - 20)];
      toMint -= 20;
    }
  }, 50);
  let faultTimer: NodeJS.Timeout | undefined;
  const faulter = faultEvery > 0 ? setInterval(() => {
    op.setFault(FAULTS[faults % FAULTS.length] as never);
    faults++;
    faultTimer = setTimeout(() => op.setFault(null), 1000 + (faults % 3) * 700);
  }, faultEvery * 1000) : undefined;
  const killer = killEvery > 0 ? setInterval(() => {
    crashes.crashNextBatches = 1;
    kills++;
  }, killEvery * 1000) : undefined;

  await new Promise<void>((resolve) => {
    const reporter = setInterval(() => {
      const s = engine.stats();
      const mem = process.memoryUsage();
      if (baselineRss === 0) baselineRss = mem.rss;
      const t = ((Date.now() - started) / 1000).toFixed(0).padStart(6);
      process.stdout.write(
        `${t} ${String(Math.round(intervalSettled / intervalSec)).padStart(7)} ${String(interval.getValueAtPercentile(99)).padStart(9)} ${mb(mem.rss).padStart(9)} ${mb(mem.heapUsed).padStart(9)} ${String(faults).padStart(7)} ${`${s.keyRefreshSuccesses}/${s.keyRefreshFailures}`.padStart(16)} ${String(s.snapshotVersion).padStart(9)} ${String(kills).padStart(6)} ${String(mismatches).padStart(11)} ${String(rejected).padStart(9)}\n`,
      );
      interval = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
      intervalSettled = 0;
      if (Date.now() >= endAt) {
        clearInterval(reporter);
        resolve();
      }
    }, intervalSec * 1000);
  });
  clearInterval(generator);
  for (const timer of [rotator, minter, faulter, killer]) if (timer) clearInterval(timer);
  if (faultTimer) clearTimeout(faultTimer);
  op.setFault(null);
  await engine.close(); // settles everything in flight
  await op.close();

  const endRss = process.memoryUsage().rss;
  const growthMb = (endRss - baselineRss) / 2 ** 20;
  const lost = issued - settled;
  const s = engine.stats();
  const ok = lost === 0 && rejected === 0 && mismatches === 0 && growthMb <= maxGrowthMb && issued > 0;
  process.stdout.write(
    `\nsoak verdict: ${ok ? 'PASS' : 'FAIL'}\n` +
      `  tokens issued ${issued.toLocaleString('en-US')}, settled ${settled.toLocaleString('en-US')}, lost ${lost}, rejected ${rejected}, status mismatches ${mismatches}${firstMismatch.length ? ` (${firstMismatch.join('; ')})` : ''}\n` +
      `  rate held ${Math.round(settled / (minutes * 60)).toLocaleString('en-US')}/s of ${rate.toLocaleString('en-US')}/s offered\n` +
      `  key rotations ${rotations}, operator faults injected ${faults}, refreshes ok ${s.keyRefreshSuccesses} / failed ${s.keyRefreshFailures}, worker kills ${kills} (batches re-run ${s.batchRetries}, failed ${s.failedBatches})\n` +
      `  token cache: ${s.tokenCache!.hits.toLocaleString('en-US')} hits, ${s.tokenCache!.misses.toLocaleString('en-US')} misses, ${s.tokenCache!.entries.toLocaleString('en-US')} entries\n` +
      `  RSS at start ${mb(startRss)} MB, after the first interval ${mb(baselineRss)} MB, at the end ${mb(endRss)} MB: growth ${growthMb.toFixed(1)} MB (bound ${maxGrowthMb} MB)\n`,
  );
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak crashed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
