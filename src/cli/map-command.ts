/**
 * `uid2-engine map`: maps a file of identities (one per line: emails, phone numbers or their
 * hashes) to raw UIDs through IdentityMapV3Client, one record per input line, in input order,
 * as JSON lines or CSV (map-records.ts). `--remap-due PREVIOUS` reads an earlier output instead
 * and maps again only its failed records and the mapped ones whose refresh-from time has passed,
 * copying the others, so the new file replaces the old one.
 *
 *   lines ─► chunks of 5,000 (one request each) ─► client (hash, batch, retry) ─► records, in order
 *
 * Memory stays flat whatever the size: a few chunks are in flight (io.ts `pipeChunks`), and
 * the client sends at most `--concurrency` requests at a time. A request that fails for good
 * (after the client's retries) stops the mapping: that chunk and every later line are written
 * as `failed` with the error code, so nothing is lost and `--remap-due` picks them up; the run
 * then exits with code 3. Identities never appear on stderr: the progress bar, the summary and
 * every error name counts, lines and codes only.
 */
import { resolve } from 'node:path';
import { InternalError, Uid2Error } from '../errors.js';
import { IdentityMapV3Client } from '../identity-map/client.js';
import type { InputKey } from '../identity-map/batches.js';
import { DEFAULT_IDENTITY_MAP_OPTIONS, MAX_IDENTITIES_PER_REQUEST } from '../identity-map/options.js';
import { CliError, EXIT_REFRESH_FAILED, EXIT_USAGE } from './cli-error.js';
import { openInput, openOutput, pipeChunks, writeText, type ChunkOutput } from './io.js';
import { overlongMessage, readLineChunks, type LineChunk } from './line-reader.js';
import { CSV_HEADER, formatRecord, isDue, outcomeRecord, parseRecord, type MapFormat, type MapRecord } from './map-records.js';
import { ProgressBar, renderSummary } from './progress.js';
import { resolveServiceCredentials, type KeySourceValues } from './key-source.js';

export interface MapCommandValues extends KeySourceValues {
  input?: string;
  type?: string;
  output?: string;
  format?: string;
  'remap-due'?: string;
  concurrency?: string;
  binary?: boolean;
}

/** `--type` to the client's input list. */
const TYPES: Readonly<Record<string, InputKey>> = Object.freeze({ email: 'emails', phone: 'phones', email_hash: 'emailHashes', phone_hash: 'phoneHashes' });

function positive(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new CliError(EXIT_USAGE, `--${flag} must be an integer from 1 to ${max}, got "${value.slice(0, 20)}"`);
  return n;
}

function makeClient(values: MapCommandValues): { client: IdentityMapV3Client; concurrency: number } {
  const { baseUrl, apiKey, secretKey, timeoutMs } = resolveServiceCredentials(values, 'no service credentials: pass');
  const maxConcurrentRequests = positive(values.concurrency, 'concurrency', 64);
  try {
    const client = new IdentityMapV3Client(baseUrl, apiKey, secretKey, {
      ...(timeoutMs !== undefined && { timeoutMs }),
      ...(maxConcurrentRequests !== undefined && { maxConcurrentRequests }),
      binary: values.binary ?? false,
    });
    return { client, concurrency: maxConcurrentRequests ?? DEFAULT_IDENTITY_MAP_OPTIONS.maxConcurrentRequests };
  } catch (err) {
    throw new CliError(EXIT_USAGE, err instanceof Uid2Error ? `${err.message} (${err.code})` : String(err));
  }
}

export async function runMap(values: MapCommandValues): Promise<void> {
  const key = values.type === undefined ? undefined : TYPES[values.type];
  if (!key) throw new CliError(EXIT_USAGE, `--type must be email, phone, email_hash or phone_hash${values.type === undefined ? '' : `, got "${values.type.slice(0, 20)}"`}`);
  const format = (values.format ?? 'jsonl') as MapFormat;
  if (format !== 'jsonl' && format !== 'csv') throw new CliError(EXIT_USAGE, `--format must be jsonl or csv, got "${String(values.format).slice(0, 20)}"`);
  const previous = values['remap-due'];
  if ((values.input === undefined) === (previous === undefined)) {
    throw new CliError(EXIT_USAGE, 'give either --input FILE (identities, one per line) or --remap-due PREVIOUS (an earlier output)');
  }
  if (previous !== undefined && values.output !== undefined && values.output !== '-' && resolve(values.output) === resolve(previous)) {
    throw new CliError(EXIT_USAGE, '--output must not be the --remap-due file: it would be overwritten while it is read');
  }
  const { client, concurrency } = makeClient(values);
  const input = openInput(previous ?? values.input);
  const output = await openOutput(values.output);
  const counts = new Map<string, number>();
  const count = (status: string): void => void counts.set(status, (counts.get(status) ?? 0) + 1);
  /** The error that stopped the mapping; later lines are written as failed with its code. */
  let stopped: Uid2Error | undefined;
  let written = 0;

  /** Records for `identities`, mapped in one call (or failed together). */
  const mapIdentities = async (identities: string[]): Promise<MapRecord[]> => {
    if (!stopped) {
      try {
        const outcomes = (await client.generateIdentityMap({ [key]: identities }))[key];
        return identities.map((identity, i) => outcomeRecord(identity, outcomes[i]!));
      } catch (err) {
        stopped ??= err instanceof Uid2Error ? err : new InternalError('unexpected failure while mapping', { cause: err });
      }
    }
    const error = stopped.code;
    return identities.map((identity) => ({ input: identity, status: 'failed', error }));
  };

  /** The previous output's format, from its first line (the CSV header, or a JSON record). */
  let previousFormat: MapFormat | undefined;
  /** Re-maps the due records of a chunk of the previous output; `kept[i]` marks a copied one. */
  const remapLines = async ({ lines, firstLine }: LineChunk): Promise<{ records: MapRecord[]; kept: boolean[] }> => {
    if (previousFormat === undefined) {
      previousFormat = lines[0] === CSV_HEADER ? 'csv' : 'jsonl';
      if (previousFormat === 'csv') {
        lines = lines.slice(1);
        firstLine++;
      }
    }
    const nowMs = Date.now();
    const records = lines.map((text, i) => {
      const record = parseRecord(text, previousFormat!);
      if (!record) throw new CliError(EXIT_USAGE, `line ${firstLine + i} of ${previous} is not a record written by uid2-engine map`);
      return record;
    });
    const kept = records.map((r) => !isDue(r, nowMs));
    const due = records.filter((_, i) => !kept[i]);
    const remapped = due.length === 0 ? [] : await mapIdentities(due.map((r) => r.input));
    let k = 0;
    for (let i = 0; i < records.length; i++) if (!kept[i]) records[i] = remapped[k++]!;
    return { records, kept };
  };

  const work = async (chunk: LineChunk): Promise<ChunkOutput> => {
    // An overlong line is neither an identity nor a record: it stops the run before its chunk is
    // sent, as a malformed record of a --remap-due file does.
    if (chunk.overlong.length > 0) {
      const what = previous === undefined ? 'an identity' : 'a record written by uid2-engine map';
      throw new CliError(EXIT_USAGE, overlongMessage(chunk.firstLine + chunk.overlong[0]!, (previous ?? values.input)!, what));
    }
    const { records, kept } = previous === undefined ? { records: await mapIdentities(chunk.lines), kept: undefined } : await remapLines(chunk);
    let text = '';
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      text += formatRecord(record, format);
      // A copied record counts as kept; the summary's other counts are what this run mapped.
      if (kept?.[i]) count('kept');
      else if (record.status !== 'unmapped') count(record.status);
      else count(record.reason === 'optout' || record.reason === 'invalid identifier' ? record.reason : 'unknown reason');
    }
    return { text, count: records.length };
  };

  const startedAt = performance.now();
  const progress = new ProgressBar(process.stderr.isTTY ? process.stderr : undefined, input.size, 'identities', startedAt);
  try {
    if (format === 'csv') await writeText(output.stream, CSV_HEADER + '\n');
    // One chunk more than requests in flight: the next one is read and hashed while they are
    // answered; more would only hold memory (and push it into the old generation).
    await pipeChunks(readLineChunks(input.stream, MAX_IDENTITIES_PER_REQUEST), work, output.stream, (n, bytesRead) => progress.update((written += n), bytesRead), concurrency + 1);
  } finally {
    progress.clear();
    await output.close();
  }
  const { requests, retries, throttled } = client.stats;
  process.stderr.write(`${renderSummary(written, 'identities', performance.now() - startedAt, counts)} (${requests} requests, ${retries} retried, ${throttled} of them after HTTP 429)\n`);
  if (stopped) {
    throw new CliError(
      EXIT_REFRESH_FAILED,
      `mapping stopped: ${stopped.message} (${stopped.code}); ${counts.get('failed') ?? 0} identities are written as "failed": map them with --remap-due ${values.output === undefined || values.output === '-' ? 'OUTPUT' : values.output}`,
    );
  }
}
