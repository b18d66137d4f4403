/**
 * `npm run bench -- --scope dual-client`: DualScopeBidstreamClient against BidstreamClient, one
 * thread, in process. The baseline is a single-scope client decrypting UID2 tokens; the dual
 * client decrypts the same tokens, then a 50/50 UID2/EUID corpus of the same size, sites and
 * token versions, with the token cache off (every call decrypts) and on (every timed call is a
 * hit, where routing and the shared cache's per-scope key states cost the most, relatively).
 * The two operators use the same key ids with other secrets, as two real services may. Passes of
 * the three contenders alternate and each reports its median, so a load spike hits all alike.
 */
import { BidstreamClient, DualScopeBidstreamClient } from '../dist/index.js';
import { startLocalOperator, type LocalOperator } from '../dist/testing.js';

export interface DualClientRow {
  tokenCache: boolean;
  contender: string;
  corpus: string;
  nsPerToken: number;
  /** Throughput relative to the single-scope client in the same run (higher is better). */
  ratio: number;
}

interface Decrypting {
  decryptTokenIntoRawUid(token: string): { status: string };
}

function pass(client: Decrypting, tokens: readonly string[], rounds: number): number {
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const token of tokens) client.decryptTokenIntoRawUid(token);
  return Number(process.hrtime.bigint() - start) / (rounds * tokens.length);
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1]!;
}

export async function runDualScopeClientBench(quick: boolean, progress: (line: string) => void): Promise<DualClientRow[]> {
  const siteCount = quick ? 50 : 200;
  const count = quick ? 2000 : 8000;
  const sites = Array.from({ length: siteCount }, (_, i) => ({ id: 1001 + i, domainNames: [`site${i}.example`] }));
  progress(`starting a UID2 and an EUID local operator (${siteCount} sites each)`);
  const ops: Record<'UID2' | 'EUID', LocalOperator> = {
    UID2: await startLocalOperator({ identityScope: 'UID2', sites }),
    EUID: await startLocalOperator({ identityScope: 'EUID', sites }),
  };
  try {
    const credentials = (scope: 'UID2' | 'EUID') => ({ baseUrl: ops[scope].url, apiKey: ops[scope].apiKey, secretKey: ops[scope].secretKey });
    const mint = (scope: 'UID2' | 'EUID', i: number) => ops[scope].mintToken({ version: i % 3 === 0 ? 3 : 4, siteId: 1001 + (i % siteCount) });
    progress(`minting ${count.toLocaleString('en-US')} UID2 tokens and a 50/50 corpus of as many`);
    const uid2 = Array.from({ length: count }, (_, i) => mint('UID2', i));
    const mixed = Array.from({ length: count }, (_, i) => mint(i % 2 === 0 ? 'UID2' : 'EUID', i));
    const rows: DualClientRow[] = [];
    for (const tokenCache of [false, true]) {
      const single = new BidstreamClient(ops.UID2.url, ops.UID2.apiKey, ops.UID2.secretKey, { tokenCache });
      const dual = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, { tokenCache });
      for (const refreshed of [await single.refresh(), ...Object.values(await dual.refresh())]) if (!refreshed!.success) throw refreshed!.error;
      const contenders: [string, string, Decrypting, string[]][] = [
        ['BidstreamClient (UID2)', 'UID2 only', single, uid2],
        ['DualScopeBidstreamClient', 'UID2 only', dual, uid2],
        ['DualScopeBidstreamClient', '50/50 UID2/EUID', dual, mixed],
      ];
      // Every token must decrypt: a benchmark of failures would measure something else. This
      // pass also fills the caches, so that with the cache on every timed call is a hit.
      for (const [name, corpus, client, tokens] of contenders) {
        const failed = tokens.filter((t) => client.decryptTokenIntoRawUid(t).status !== 'Success').length;
        if (failed > 0) throw new Error(`${name} on ${corpus}: ${failed} tokens did not decrypt`);
      }
      progress(`timing, token cache ${tokenCache ? 'on' : 'off'}`);
      const rounds = tokenCache ? 5 : 1;
      const times: number[][] = contenders.map(() => []);
      for (let i = 0; i < (quick ? 5 : 9); i++) contenders.forEach(([, , client, tokens], c) => times[c]!.push(pass(client, tokens, rounds)));
      const baseline = median(times[0]!);
      contenders.forEach(([contender, corpus], c) => {
        const nsPerToken = median(times[c]!);
        rows.push({ tokenCache, contender, corpus, nsPerToken: Math.round(nsPerToken), ratio: Number((baseline / nsPerToken).toFixed(2)) });
      });
      single.close();
      dual.close();
    }
    return rows;
  } finally {
    await ops.UID2.close();
    await ops.EUID.close();
  }
}

export function dualClientMarkdown(rows: readonly DualClientRow[]): string {
  const lines = ['| token cache | contender | corpus | ns/token (median) | throughput vs BidstreamClient |', '|---|---|---|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.tokenCache ? 'on' : 'off'} | ${r.contender} | ${r.corpus} | ${r.nsPerToken} | ${r.ratio.toFixed(2)}x |`);
  return lines.join('\n');
}
