/**
 * The key path: how long it takes to parse a key response, encode its snapshot, and have every
 * worker decrypt with it, for key sets of the sizes the service sends.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DecryptionEngine, parseKeys } from '../dist/index.js';
import { encodeSnapshot } from '../dist/keys/snapshot.js';

export interface KeyPathRow {
  keys: number;
  threads: number;
  /** JSON text -> KeySet (main thread), median ms. */
  parseMs: number;
  /** KeySet -> snapshot SharedArrayBuffer (main thread), median ms. */
  encodeMs: number;
  /** setKeys(): parse + encode + publish, the main thread's whole cost, median ms. */
  setKeysMs: number;
  /**
   * From setKeys() until one batch per worker has been decrypted with the new snapshot, minus the
   * same batches' time without a swap: the cost of broadcast + worker open, median ms.
   */
  swapToWorkersMs: number;
  snapshotBytes: number;
}

function keyJson(count: number, round: number): string {
  const now = Math.floor(Date.now() / 1000);
  const keys = Array.from({ length: count }, (_, i) => ({
    id: round * 1_000_000 + i + 1,
    keyset_id: (i % 20) + 1,
    created: now - 3600,
    activates: now - 3600,
    expires: now + 86_400,
    secret: createHash('sha256').update(`${round}/${i}`).digest('base64'),
  }));
  return JSON.stringify({ status: 'success', body: { identity_scope: 'UID2', keys, site_data: [] } });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runKeyPath(sizes: readonly number[], threads: number, rounds: number): Promise<KeyPathRow[]> {
  const rows: KeyPathRow[] = [];
  const engine = await DecryptionEngine.create({ threads, keys: keyJson(10, 0) });
  try {
    // One small batch per worker, several in flight so every worker takes one.
    const probe = (): Promise<unknown> =>
      Promise.all(Array.from({ length: threads * 2 }, () => engine.decryptBatch(['AAAAAAAA'])));
    for (const size of sizes) {
      const parse: number[] = [];
      const encode: number[] = [];
      const setKeys: number[] = [];
      const swap: number[] = [];
      let snapshotBytes = 0;
      for (let round = 1; round <= rounds; round++) {
        const json = keyJson(size, round);
        let t = performance.now();
        const keySet = parseKeys(json);
        parse.push(performance.now() - t);
        t = performance.now();
        snapshotBytes = encodeSnapshot(keySet).byteLength;
        encode.push(performance.now() - t);

        await probe();
        t = performance.now();
        await probe();
        const baseline = performance.now() - t;
        t = performance.now();
        engine.setKeys(json);
        const afterSet = performance.now();
        setKeys.push(afterSet - t);
        await probe();
        swap.push(Math.max(0, performance.now() - afterSet - baseline));
      }
      rows.push({
        keys: size,
        threads,
        parseMs: median(parse),
        encodeMs: median(encode),
        setKeysMs: median(setKeys),
        swapToWorkersMs: median(swap),
        snapshotBytes,
      });
    }
  } finally {
    await engine.close();
  }
  return rows;
}
