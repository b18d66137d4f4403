/**
 * Helpers of the bulk tests: the old CLI's decrypt path as the byte-for-byte reference, and a
 * bulk run from a stream into memory.
 */
import { Readable, Writable } from 'node:stream';
import { readLineChunks } from '../../src/cli/line-reader.js';
import type { DecryptionEngine, DecryptionResult } from '../../src/index.js';
import { parseTokenLine } from '../../src/engine/worker/bulk-lines.js';

/** The old CLI record (cli/format.ts before the bulk path), the reference for byte equality. */
function oldRecord(result: DecryptionResult): Record<string, unknown> {
  const iso = (d: Date | undefined): string | null => (d !== undefined && Number.isFinite(d.getTime()) ? d.toISOString() : null);
  const record: Record<string, unknown> = {
    status: result.status,
    uid: result.uid ?? null,
    siteId: result.siteId ?? null,
    identityType: result.identityType ?? null,
    advertisingTokenVersion: result.advertisingTokenVersion ?? null,
    isClientSideGenerated: result.isClientSideGenerated ?? null,
    established: iso(result.established),
    expiry: iso(result.expiry),
  };
  if (result.optedOut !== undefined) record['optedOut'] = result.optedOut;
  return record;
}

/** The old path: lines as the old reader split them, each a token or a JSON line, decryptBatch(), JSON lines. */
export async function oldPathJsonl(engine: DecryptionEngine, input: Buffer, nowMs: number, domain?: string): Promise<string> {
  let text = '';
  for await (const { lines } of readLineChunks(Readable.from([input]))) {
    const parsed = lines.map((line) => parseTokenLine(line, domain));
    const results = await engine.decryptBatch(parsed.map((p) => p.token) as string[], { domains: parsed.map((p) => p.domainOrAppName), now: nowMs });
    for (const r of results) text += JSON.stringify(oldRecord(r)) + '\n';
  }
  return text;
}

/** What decryptFile() writes for `input`, from a stream into a collecting Writable. */
export async function bulkOutput(engine: DecryptionEngine, input: Buffer, options: Parameters<DecryptionEngine['decryptFile']>[2]): Promise<Buffer> {
  const parts: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  // Pieces of odd sizes, so chunk cuts fall everywhere.
  const pieces: Buffer[] = [];
  for (let at = 0, k = 0; at < input.length; k++) {
    const size = [65_536, 7, 100_003, 1, 4096][k % 5]!;
    pieces.push(input.subarray(at, at + size));
    at += size;
  }
  await engine.decryptFile(Readable.from(pieces), out, options);
  return Buffer.concat(parts);
}

