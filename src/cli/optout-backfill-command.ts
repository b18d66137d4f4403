/**
 * `uid2-engine optout backfill`: checks a list of raw UIDs (one per line) against the UID2
 * service's `/v2/optout/status` and records the opted-out ones in the store, e.g. to seed a new
 * store or to catch up after the receiver was down longer than the service retries. Requests
 * go one after another (4,096 raw UIDs each, under the 5,000 limit); the store's group commit
 * makes each batch's adds durable together. A malformed line, or one longer than the line limit
 * (line-reader.ts: never read into memory), stops the run before its batch is sent (exit 2,
 * naming the line, never its content); a service failure stops it with exit 3,
 * after everything recorded so far was made durable. A bad record in an answer (a time out of
 * range, a raw UID not asked about) is named on stderr by its line and reason and skipped; the
 * run goes on, and exits 3 at the end, after the summary, so a script sees that something was
 * left out.
 */
import { BidstreamClient } from '../client/bidstream-client.js';
import { parseRawUid } from '../optout/raw-uid.js';
import { CliError, EXIT_REFRESH_FAILED, EXIT_USAGE } from './cli-error.js';
import { openInput } from './io.js';
import { overlongMessage, readLineChunks } from './line-reader.js';
import { openStoreForCli } from './optout-store.js';
import { resolveServiceCredentials, type KeySourceValues } from './key-source.js';

export interface OptOutBackfillValues extends KeySourceValues {
  input?: string;
  store?: string;
}

export async function runOptOutBackfill(values: OptOutBackfillValues): Promise<void> {
  if (values.input === undefined) throw new CliError(EXIT_USAGE, 'missing --input FILE (one raw UID per line; - for stdin)');
  const { baseUrl, apiKey, secretKey, timeoutMs } = resolveServiceCredentials(values, 'no service credentials: pass');
  const input = openInput(values.input);
  const store = await openStoreForCli(values.store, false);
  const client = new BidstreamClient(baseUrl, apiKey, secretKey, timeoutMs === undefined ? undefined : { timeoutMs });
  let checked = 0;
  let optedOut = 0;
  let added = 0;
  let skipped = 0;
  try {
    for await (const chunk of readLineChunks(input.stream)) {
      const batch: string[] = [];
      // The line of each raw UID of the batch, to name a skipped record by its line.
      const lineOf = new Map<string, number>();
      for (let i = 0; i < chunk.lines.length; i++) {
        const line = chunk.firstLine + i;
        // The first overlong line stops the run, so only the chunk's first one can be met.
        if (i === chunk.overlong[0]) throw new CliError(EXIT_USAGE, overlongMessage(line, values.input, 'a raw UID'));
        const uid = chunk.lines[i]!.trim();
        if (uid === '') continue;
        if (!parseRawUid(uid)) throw new CliError(EXIT_USAGE, `line ${line} of ${values.input} is not a raw UID (standard base64 of 32 or 33 bytes)`);
        batch.push(uid);
        if (!lineOf.has(uid)) lineOf.set(uid, line);
      }
      if (batch.length === 0) continue;
      let found;
      try {
        found = await client.optOutStatus(batch);
      } catch (err) {
        const e = err as { message?: string; code?: string };
        throw new CliError(EXIT_REFRESH_FAILED, `opt-out status request failed after ${checked} raw UIDs: ${e.message} (${e.code ?? 'unknown'})`);
      }
      checked += batch.length;
      optedOut += found.optedOut.length;
      for (const s of found.skipped) {
        const where = s.advertisingId === null ? '' : ` for line ${lineOf.get(s.advertisingId)} of ${values.input}`;
        process.stderr.write(`uid2-engine: skipped a record of the opt-out status answer${where}: ${s.reason}\n`);
      }
      skipped += found.skipped.length;
      const changes = await Promise.all(found.optedOut.map((f) => store.add(f.advertisingId, Math.max(1000, f.optedOutSinceMs))));
      added += changes.filter((c) => c !== 'unchanged').length;
    }
  } finally {
    client.close();
    await store.close();
  }
  process.stdout.write(`${JSON.stringify({ checked, optedOut, recorded: added, skipped, storeSize: store.size })}\n`);
  if (skipped > 0) {
    throw new CliError(EXIT_REFRESH_FAILED, `${skipped} record${skipped === 1 ? '' : 's'} of the opt-out status answers ${skipped === 1 ? 'was' : 'were'} skipped (named above); the rest is recorded`);
  }
}
