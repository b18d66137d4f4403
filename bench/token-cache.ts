/**
 * `npm run bench -- --scope cache`: the decrypted-token cache measured on the bench's corpora.
 *   policies  hit ratio of LRU, SIEVE and W-TinyLFU at several sizes (why the cache is SIEVE)
 *   hit path  CPU µs per TokenCache.lookup() and per cached client call (one thread), against
 *             a fresh decryption in the same run
 *   clients   BidstreamClient with and without the cache on Zipf corpora (s = 0.8, 1.1, 1.4)
 *             and a no-repeat corpus: hit ratio and throughput ratio
 *   memory    bytes per v4 entry, real (process.memoryUsage over N entries, own process) and
 *             as the cache accounts them
 * Every ratio compares contenders of the same run on the same tokens.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BidstreamClient, decryptToken } from '../dist/index.js';
import { type LocalOperator } from '../dist/testing.js';
import { TokenCache } from '../dist/cache/token-cache.js';
import { InProcessDecryptor } from '../dist/in-process/decryptor.js';
import { evaluateToken } from '../dist/token/decrypt.js';
import { DEFAULT_MIX, buildCorpus, type CorpusMix, type CorpusToken } from './corpus.js';
import { type Access, type PolicyRow, replayPolicies } from './token-cache-policies.js';

export interface CacheCorpusRow {
  corpus: string;
  tokens: number;
  distinct: number;
  passes: number;
  hitRatio: number;
  plainTokensPerSec: number;
  cachedTokensPerSec: number;
  throughputRatio: number;
  /** The same with `admission: 'repeat'`. */
  repeatHitRatio: number;
  repeatThroughputRatio: number;
}

export interface HitPathRow {
  measure: string;
  usPerCall: number;
}

export interface MemoryRow {
  entries: number;
  tokenLength: number;
  realBytesPerEntry: number;
  accountedBytesPerEntry: number;
  accountedOverReal: number;
  realBytesPerEntryBesidesTokenText: number;
}

export interface CacheBenchResult {
  corpora: Record<string, { size: number; distinct: number; cacheable: number }>;
  policies: PolicyRow[];
  hitPath: HitPathRow[];
  clients: CacheCorpusRow[];
  memory: MemoryRow[];
}

/** A copy V8 has not hashed yet, as a token freshly parsed from a bid request would be. */
function freshCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * CPU time of this process in µs. The machines these runs share are often oversubscribed; CPU
 * time counts what the code costs, not the time it waited for a core.
 */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Median over `rounds` of CPU µs per call of `run(i)` for i in [0, calls). */
function timePerCall(calls: number, rounds: number, run: (i: number) => unknown, warmUp = true): number {
  const samples: number[] = [];
  let sink = 0;
  if (warmUp) for (let i = 0; i < calls; i++) if (run(i) !== undefined) sink++; // let the JIT settle
  for (let r = 0; r < rounds; r++) {
    const started = cpuMicros();
    for (let i = 0; i < calls; i++) if (run(i) !== undefined) sink++;
    samples.push((cpuMicros() - started) / calls);
  }
  if (sink < 0) throw new Error('unreachable');
  return median(samples);
}

export async function runTokenCacheBench(operator: LocalOperator, client: BidstreamClient, quick: boolean, seed: number, progress: (text: string) => void): Promise<CacheBenchResult> {
  const keys = client.keySet!;
  const mixes: [string, CorpusMix][] = [
    ['zipf-0.8', { ...DEFAULT_MIX, zipfExponent: 0.8 }],
    ['zipf-1.1', { ...DEFAULT_MIX }],
    ['zipf-1.4', { ...DEFAULT_MIX, zipfExponent: 1.4 }],
    // Uniform over far more users than entries: nearly every entry is a token seen once.
    ['no-repeat', { ...DEFAULT_MIX, users: 2_000_000, zipfExponent: 0 }],
  ];
  const corpora = new Map<string, CorpusToken[]>();
  const info: CacheBenchResult['corpora'] = {};
  const now = Date.now();
  for (const [name, mix] of mixes) {
    progress(`token cache: minting corpus ${name}`);
    const corpus = buildCorpus(operator, mix, seed);
    corpora.set(name, corpus);
    const cacheable = corpus.filter((t) => {
      const outcome = evaluateToken(t.token, keys, 'bidstream', t.domain, now);
      return typeof outcome !== 'string' && outcome.status !== 'ExpiredToken';
    }).length;
    info[name] = { size: corpus.length, distinct: new Set(corpus.map((t) => t.token)).size, cacheable };
  }

  // Policies: the corpus cycled three times, as the load generator cycles it.
  progress('token cache: replaying LRU, SIEVE and W-TinyLFU');
  const policies: PolicyRow[] = [];
  for (const name of ['zipf-0.8', 'zipf-1.1', 'zipf-1.4']) {
    const corpus = corpora.get(name)!;
    const cacheable = new Map<string, boolean>();
    for (const t of corpus) {
      const outcome = evaluateToken(t.token, keys, 'bidstream', t.domain, now);
      cacheable.set(t.token, typeof outcome !== 'string' && outcome.status !== 'ExpiredToken');
    }
    const stream: Access[] = [];
    for (let pass = 0; pass < 3; pass++) for (const t of corpus) stream.push({ token: t.token, cacheable: cacheable.get(t.token)! });
    const distinct = info[name]!.distinct;
    const capacities = [0.02, 0.05, 0.1, 0.25, 0.5].map((f) => Math.max(16, Math.round(distinct * f)));
    policies.push(...replayPolicies(name, stream, capacities));
  }

  // Hit path: every lookup a hit, each on a fresh (unhashed) copy of the token text.
  progress('token cache: hit path');
  const corpus = corpora.get('zipf-1.1')!;
  const cache = new TokenCache();
  const filler = new InProcessDecryptor('node-crypto', { tokenCache: cache });
  const hitTokens: CorpusToken[] = [];
  for (const t of corpus) {
    const r = filler.decrypt(t.token, keys, 'bidstream', t.domain, now);
    if (r.status === 'Success' && cache.lookup(t.token, t.domain, now, keys, 'bidstream') !== undefined) hitTokens.push(t);
  }
  const calls = quick ? 50_000 : 200_000;
  const rounds = quick ? 5 : 9;
  const fresh = Array.from({ length: rounds + 1 }, () => Array.from({ length: calls }, (_, i) => freshCopy(hitTokens[i % hitTokens.length]!.token)));
  // Each round on its own set of fresh copies (V8 hashes a string once, on its first use as a
  // Map key); the first set warms the JIT up, untimed.
  const freshRun = (fn: (token: string, t: CorpusToken) => unknown): number => {
    for (let i = 0; i < calls; i++) fn(fresh[0]![i]!, hitTokens[i % hitTokens.length]!);
    return median(fresh.slice(1).map((copies) => timePerCall(calls, 1, (i) => fn(copies[i]!, hitTokens[i % hitTokens.length]!), false)));
  };
  const hitPath: HitPathRow[] = [];
  hitPath.push({ measure: 'TokenCache.lookup(), hit, fresh token string', usPerCall: freshRun((token, t) => cache.lookup(token, t.domain, now, keys, 'bidstream')) });
  hitPath.push({
    measure: 'TokenCache.lookup(), hit, token string already hashed',
    usPerCall: timePerCall(calls, rounds, (i) => {
      const t = hitTokens[i % hitTokens.length]!;
      return cache.lookup(t.token, t.domain, now, keys, 'bidstream');
    }),
  });
  const probe = new Map<string, number>(hitTokens.map((t, i) => [t.token, i]));
  hitPath.push({ measure: 'for scale: Map.get() on a fresh token string (V8 hashes all of its text)', usPerCall: freshRun((token) => probe.get(token)) });
  const at = Date.now();
  hitPath.push({ measure: 'for scale: the two new Date() every DecryptionResult carries', usPerCall: timePerCall(calls, rounds, (i) => new Date(at + i).getTime() + new Date(at - i).getTime()) });
  const cachedClient = new BidstreamClient(undefined, undefined, undefined, { tokenCache: true });
  cachedClient.refreshJson(operator.keyResponse('bidstream'));
  for (const t of hitTokens) cachedClient.decryptTokenIntoRawUid(t.token, t.domain, now);
  hitPath.push({ measure: 'BidstreamClient.decryptTokenIntoRawUid() with tokenCache, hit', usPerCall: freshRun((token, t) => cachedClient.decryptTokenIntoRawUid(token, t.domain, now)) });
  const decryptCalls = quick ? 5_000 : 20_000;
  hitPath.push({
    measure: 'decryptToken() (the TypeScript decoder, no cache)',
    usPerCall: timePerCall(decryptCalls, rounds, (i) => {
      const t = hitTokens[i % hitTokens.length]!;
      return decryptToken(t.token, keys, 'bidstream', t.domain, now);
    }),
  });

  // Clients: with and without the cache, same tokens, same order, alternating, median of rounds.
  const clients: CacheCorpusRow[] = [];
  for (const [name] of mixes) {
    const tokens = corpora.get(name)!;
    for (const passes of [1, 3]) {
      progress(`token cache: clients on ${name}, ${passes} pass(es)`);
      const plainRates: number[] = [];
      const cachedRates: number[] = [];
      const repeatRates: number[] = [];
      let hitRatio = 0;
      let repeatHitRatio = 0;
      for (let r = 0; r < (quick ? 3 : 5); r++) {
        const plain = new BidstreamClient();
        plain.refreshJson(operator.keyResponse('bidstream'));
        const cached = new BidstreamClient(undefined, undefined, undefined, { tokenCache: true });
        cached.refreshJson(operator.keyResponse('bidstream'));
        const copies = Array.from({ length: passes }, () => tokens.map((t) => freshCopy(t.token)));
        const copies2 = Array.from({ length: passes }, () => tokens.map((t) => freshCopy(t.token)));
        const copies3 = Array.from({ length: passes }, () => tokens.map((t) => freshCopy(t.token)));
        const repeat = new BidstreamClient(undefined, undefined, undefined, { tokenCache: { admission: 'repeat' } });
        repeat.refreshJson(operator.keyResponse('bidstream'));
        const run = (c: BidstreamClient, texts: string[][]): number => {
          const started = cpuMicros();
          for (const pass of texts) for (let i = 0; i < pass.length; i++) c.decryptTokenIntoRawUid(pass[i]!, tokens[i]!.domain, now);
          return (passes * tokens.length) / ((cpuMicros() - started) / 1e6);
        };
        const order: [BidstreamClient, string[][], number[]][] = [
          [plain, copies, plainRates],
          [cached, copies2, cachedRates],
          [repeat, copies3, repeatRates],
        ];
        // A different order each round, so none always runs first (or after the same one).
        for (let k = 0; k < 3; k++) {
          const [c, texts, rates] = order[(k + r) % 3]!;
          rates.push(run(c, texts));
        }
        const s = cached.tokenCacheStats()!;
        hitRatio = s.hits / (s.hits + s.misses);
        const sr = repeat.tokenCacheStats()!;
        repeatHitRatio = sr.hits / (sr.hits + sr.misses);
      }
      const plainTokensPerSec = median(plainRates);
      const cachedTokensPerSec = median(cachedRates);
      clients.push({
        corpus: name,
        tokens: tokens.length * passes,
        distinct: info[name]!.distinct,
        passes,
        hitRatio,
        plainTokensPerSec,
        cachedTokensPerSec,
        throughputRatio: cachedTokensPerSec / plainTokensPerSec,
        repeatHitRatio,
        repeatThroughputRatio: median(repeatRates) / plainTokensPerSec,
      });
    }
  }

  // Memory: its own process, so nothing else of this run is on the heap.
  const memory: MemoryRow[] = [];
  const script = fileURLToPath(new URL('./token-cache-memory.js', import.meta.url));
  for (const entries of quick ? [100_000] : [100_000, 1_000_000]) {
    progress(`token cache: memory over ${entries.toLocaleString('en-US')} v4 entries (own process)`);
    memory.push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, String(entries)], { encoding: 'utf8', maxBuffer: 1 << 20 })) as MemoryRow);
  }
  return { corpora: info, policies, hitPath, clients, memory };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function cacheMarkdown(r: CacheBenchResult): string {
  const out: string[] = [];
  out.push('### Token cache: corpora', '', '| corpus | tokens | distinct | cacheable (decrypt fully, not expired) |', '| --- | ---: | ---: | ---: |');
  for (const [name, c] of Object.entries(r.corpora)) out.push(`| ${name} | ${c.size} | ${c.distinct} | ${c.cacheable} |`);
  out.push('', '### Token cache: eviction policies (hit ratio over the corpus cycled 3 times; model ns/access)', '', '| corpus | capacity | LRU | SIEVE | W-TinyLFU | unbounded |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  const corpora = [...new Set(r.policies.map((p) => p.corpus))];
  for (const corpus of corpora) {
    const rows = r.policies.filter((p) => p.corpus === corpus);
    const unbounded = rows.find((p) => p.policy === 'unbounded')!.hitRatio;
    for (const capacity of [...new Set(rows.filter((p) => p.policy !== 'unbounded').map((p) => p.capacity))]) {
      const cell = (policy: string) => {
        const p = rows.find((x) => x.capacity === capacity && x.policy === policy)!;
        return `${pct(p.hitRatio)} (${p.nsPerAccess.toFixed(0)} ns)`;
      };
      out.push(`| ${corpus} | ${capacity} | ${cell('LRU')} | ${cell('SIEVE')} | ${cell('W-TinyLFU')} | ${pct(unbounded)} |`);
    }
  }
  out.push('', '### Token cache: hit path (CPU µs per call, median of rounds)', '', '| measure | CPU µs per call |', '| --- | ---: |');
  for (const h of r.hitPath) out.push(`| ${h.measure} | ${h.usPerCall.toFixed(3)} |`);
  out.push('', '### Token cache: BidstreamClient with and without tokenCache (defaults: 100,000 entries, 64 MiB)', '', '| corpus | passes | tokens | without, tokens per CPU-second | admission always: hit ratio | with / without | admission repeat: hit ratio | with / without |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of r.clients) {
    out.push(`| ${c.corpus} | ${c.passes} | ${c.tokens} | ${Math.round(c.plainTokensPerSec).toLocaleString('en-US')} | ${pct(c.hitRatio)} | ${c.throughputRatio.toFixed(2)}x | ${pct(c.repeatHitRatio)} | ${c.repeatThroughputRatio.toFixed(2)}x |`);
  }
  out.push('', '### Token cache: memory per v4 entry', '', '| entries | token length | real bytes/entry | accounted bytes/entry | accounted / real | real besides the token text |', '| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of r.memory) {
    out.push(`| ${m.entries.toLocaleString('en-US')} | ${m.tokenLength} | ${m.realBytesPerEntry.toFixed(0)} | ${m.accountedBytesPerEntry.toFixed(0)} | ${m.accountedOverReal.toFixed(3)} | ${m.realBytesPerEntryBesidesTokenText.toFixed(0)} |`);
  }
  return out.join('\n') + '\n';
}
