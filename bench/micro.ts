/** Micro benchmark (tinybench): cost per token of each contender and token version, one thread. */
import { Bench } from 'tinybench';
import type { Contender } from './contenders.js';
import type { CorpusToken } from './corpus.js';

export interface MicroRow {
  contender: string;
  backend: string;
  tokenVersion: 2 | 3 | 4;
  usPerToken: number;
  tokensPerSec: number;
  /** Relative margin of error of the mean, percent. */
  rme: number;
  samples: number;
}

const POOL_BATCH = 256;

export async function runMicro(contenders: readonly Contender[], corpus: readonly CorpusToken[], timeMs: number): Promise<MicroRow[]> {
  const rows: MicroRow[] = [];
  for (const version of [4, 3, 2] as const) {
    const tokens = corpus.filter((t) => t.version === version && t.kind === 'valid');
    if (tokens.length === 0) continue;
    const bench = new Bench({ time: timeMs, warmupTime: Math.min(200, timeMs / 2), name: `v${version}` });
    const perIteration = new Map<string, number>();
    for (const c of contenders) {
      const name = `${c.name}|${c.backend}`;
      let i = 0;
      if (c.decryptSync) {
        perIteration.set(name, 1);
        bench.add(name, () => {
          c.decryptSync!(tokens[i++ % tokens.length]!);
        });
      } else if (c.decryptMany) {
        const batch = Array.from({ length: POOL_BATCH }, (_, k) => tokens[k % tokens.length]!);
        perIteration.set(name, POOL_BATCH);
        bench.add(name, async () => {
          await c.decryptMany!(batch);
        });
      }
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result as unknown as { state?: string; period?: number; latency?: { rme: number; samplesCount?: number }; throughput?: unknown };
      if (typeof result.period !== 'number') continue;
      const [contender, backend] = task.name.split('|') as [string, string];
      const usPerToken = (result.period * 1000) / perIteration.get(task.name)!;
      rows.push({
        contender,
        backend,
        tokenVersion: version,
        usPerToken,
        tokensPerSec: 1e6 / usPerToken,
        rme: result.latency?.rme ?? 0,
        samples: (task as unknown as { runs?: number }).runs ?? 0,
      });
    }
  }
  return rows;
}
