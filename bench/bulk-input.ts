/**
 * The bulk benchmark's input: a file of v4 advertising tokens with mixed statuses, one per line,
 * as a data team would feed `uid2-engine decrypt --input`. Deterministic for a seed (the order
 * and the mix); the tokens themselves are minted with the local operator's keys of this run.
 *
 * Mix (by line): ~91% Success, 4% ExpiredToken, 2% tampered (a character changed: mostly
 * InvalidPayload), 1% unknown master key (NotAuthorizedForMasterKey), 2% junk text
 * (InvalidPayload). A pool of distinct lines is drawn from in a seeded order: decryption has no
 * cache in the bulk path, so repeats cost the same as new tokens.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { LocalOperator } from '../dist/testing.js';
import { seededRandom } from './seeded-random.js';

/** Distinct lines minted per run; the file draws from them. */
const POOL = 20_000;

function poolLine(operator: LocalOperator, rnd: () => number, i: number, nowMs: number): string {
  const r = rnd();
  const rawUid = operator.rawUidFor(`bulk-${i}`);
  if (r < 0.04) return operator.mintToken({ version: 4, rawUid, generatedMs: nowMs - 120_000, expiresMs: nowMs - 60_000 });
  if (r < 0.06) {
    const token = operator.mintToken({ version: 4, rawUid, generatedMs: nowMs - 1000 });
    const at = 20 + Math.floor(rnd() * (token.length - 40));
    return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
  }
  if (r < 0.07) {
    // The master key id of a v4 token sits in bytes 2-5: overwrite it with one nobody has.
    const raw = Buffer.from(operator.mintToken({ version: 4, rawUid, generatedMs: nowMs - 1000 }), 'base64url');
    raw.writeInt32BE(999_999, 2);
    return raw.toString('base64url');
  }
  if (r < 0.09) return `not a token ${i}`;
  return operator.mintToken({ version: 4, rawUid, identityType: rnd() < 0.2 ? 'Phone' : 'Email', generatedMs: nowMs - 1000 });
}

/** Writes `count` lines to `path`; resolves with the bytes written. */
export async function writeBulkInput(operator: LocalOperator, path: string, count: number, seed: number, nowMs: number): Promise<number> {
  const rnd = seededRandom(seed);
  const pool = Array.from({ length: Math.min(POOL, count) }, (_, i) => poolLine(operator, rnd, i, nowMs));
  const out = createWriteStream(path);
  let bytes = 0;
  let block: string[] = [];
  for (let i = 0; i < count; i++) {
    block.push(pool[Math.floor(rnd() * pool.length)]!);
    if (block.length === 10_000 || i === count - 1) {
      const text = block.join('\n') + '\n';
      bytes += Buffer.byteLength(text);
      if (!out.write(text)) await once(out, 'drain');
      block = [];
    }
  }
  out.end();
  await once(out, 'close');
  return bytes;
}
