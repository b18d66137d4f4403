/**
 * `uid2-engine decrypt`: tokens from arguments, or one per input line; one record per token on
 * stdout (or `--output`), in input order, as JSON lines (default) or `--format csv|tsv|msgpack`.
 * A line may be a JSON object {"token", "domainOrAppName"}.
 *
 * Lines go through the engine's bulk path (engine.decryptFile, docs/bulk.md): the input is read
 * in chunks into shared memory and worker threads split, decrypt and format them (`--threads 0`
 * runs the same code in-process), so any input size runs in flat memory and the main thread
 * only moves chunks. A path ending in `.gz` (--input or --output) is gunzipped / gzipped.
 * With `--input`, a progress bar (terminals only) and a closing per-status summary go to stderr,
 * and each line longer than the line limit (reported as an invalid token) is named there.
 * With `--optout-store FILE`, each record gains "optedOut" and an opted-out one has "uid": null
 * (unless `--optout-keep-uid`), checked in the workers against the store's shared set.
 * With an EUID key source (`--euid-keys`, `--euid-base-url` ..., or `EUID_*` variables), one
 * engine holds a key set per identity scope and judges each token by the one its header names
 * (the engine's `scopes` option, docs/dual-scope.md); without, one key set judges every token.
 */
import { open } from 'node:fs/promises';
import { DecryptionEngine } from '../engine/engine.js';
import type { EngineOptions } from '../engine/options.js';
import type { BulkSummary } from '../engine/bulk/coordinator.js';
import { RECORD_FORMATS, emptyFields, fieldsOfResult, formatPreamble, maxRecordBytes, recordWriter, type RecordFormat } from '../engine/wire/record-format.js';
import type { DecryptionResult } from '../types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { inputSize } from './io.js';
import { overlongNotes } from './line-reader.js';
import { parseClientType, parseNow } from './options.js';
import { ProgressBar, renderSummary } from './progress.js';
import { euidKeySourceGiven, resolveKeySet, resolveScopedKeySets, type ScopedKeySourceValues } from './key-source.js';
import { openStoreForCli } from './optout-store.js';

export interface DecryptCommandValues extends ScopedKeySourceValues {
  client?: string;
  domain?: string;
  now?: string;
  input?: string;
  output?: string;
  threads?: string;
  format?: string;
  'optout-store'?: string;
  'optout-keep-uid'?: boolean;
}

/** `--threads N`: worker threads, 0 for in-process; absent means the engine's default. */
export function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const threads = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(threads) || threads > 1024) {
    throw new CliError(EXIT_USAGE, `--threads must be an integer from 0 to 1024, got "${value}"`);
  }
  return threads;
}

/** `--format jsonl|csv|tsv|msgpack`, default jsonl. */
export function parseFormat(value: string | undefined): RecordFormat {
  if (value === undefined) return 'jsonl';
  if (!(RECORD_FORMATS as readonly string[]).includes(value)) throw new CliError(EXIT_USAGE, `--format must be ${RECORD_FORMATS.join(', ')}, got "${value}"`);
  return value as RecordFormat;
}

/** Checks that `--output FILE` can be created, as one usage line when it cannot. */
async function checkOutput(path: string): Promise<void> {
  try {
    await (await open(path, 'w')).close();
  } catch (err) {
    throw new CliError(EXIT_USAGE, `cannot write output ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Records of decryptBatch() results (TOKEN arguments), in `format`, through the bulk path's writers. */
function formatResults(results: readonly DecryptionResult[], format: RecordFormat, withOptOut: boolean): Buffer {
  const f = emptyFields();
  const write = recordWriter(format);
  const preamble = formatPreamble(format, withOptOut);
  let size = preamble.length;
  for (const result of results) size += maxRecordBytes(fieldsOfResult(result, f));
  const out = Buffer.alloc(size);
  let pos = out.write(preamble, 0, 'latin1');
  for (const result of results) pos = write(out, out, pos, fieldsOfResult(result, f));
  return out.subarray(0, pos);
}

export async function runDecrypt(values: DecryptCommandValues, tokens: string[]): Promise<void> {
  const clientType = parseClientType(values.client);
  const fixedNow = parseNow(values.now);
  const threads = parseThreads(values.threads);
  const format = parseFormat(values.format);
  if (tokens.length > 0 && values.input !== undefined) throw new CliError(EXIT_USAGE, '--input cannot be combined with TOKEN arguments');
  const inputPath = tokens.length > 0 || values.input === undefined || values.input === '-' ? undefined : values.input;
  const size = inputPath === undefined ? undefined : inputSize(inputPath);
  if (values['optout-keep-uid'] && values['optout-store'] === undefined) throw new CliError(EXIT_USAGE, '--optout-keep-uid needs --optout-store FILE');
  const endpoint = clientType === 'sharing' ? 'sharing' : 'bidstream';
  let keySource: Pick<EngineOptions, 'keys' | 'scopes'>;
  if (euidKeySourceGiven(values)) {
    // A scope without a source (an EUID-only run) gets none: its tokens answer NotInitialized.
    const { UID2, EUID } = await resolveScopedKeySets(values, endpoint);
    keySource = { scopes: { ...(UID2 && { UID2: { keys: UID2 } }), ...(EUID && { EUID: { keys: EUID } }) } };
  } else {
    keySource = { keys: await resolveKeySet(values, endpoint) };
  }
  // Read-only: a running `optout serve` may hold the file; this run checks the opt-outs as of now.
  const optOut = values['optout-store'] === undefined ? undefined : await openStoreForCli(values['optout-store'], true);
  const outputPath = values.output === undefined || values.output === '-' ? undefined : values.output;
  if (outputPath !== undefined) await checkOutput(outputPath);
  // A handful of TOKEN arguments is decrypted in-process unless --threads asks otherwise: starting
  // worker threads would cost more than it saves. Streams default to the engine's thread count.
  const engineThreads = threads ?? (tokens.length > 0 ? 0 : undefined);
  const engine = await DecryptionEngine.create({
    clientType,
    ...keySource,
    ...(engineThreads === undefined ? {} : { threads: engineThreads }),
    ...(optOut ? { optOut, returnOptedOutUid: values['optout-keep-uid'] ?? false } : {}),
  });
  try {
    if (tokens.length > 0) {
      const results = await engine.decryptBatch(tokens, { domains: tokens.map(() => values.domain), now: fixedNow ?? Date.now() });
      const text = formatResults(results, format, optOut !== undefined);
      if (outputPath === undefined) await new Promise<void>((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
      else {
        const file = await open(outputPath, 'w');
        await file.writeFile(text);
        await file.close();
      }
      return;
    }
    const startedAt = performance.now();
    // A .gz file's size is compressed bytes while progress counts what was read out of it.
    const progress = new ProgressBar(values.input !== undefined && process.stderr.isTTY ? process.stderr : undefined, inputPath?.endsWith('.gz') ? undefined : size, 'tokens', startedAt);
    const summary: BulkSummary = await engine.decryptFile(inputPath ?? process.stdin, outputPath ?? process.stdout, {
      format,
      ...(values.domain === undefined ? {} : { domainOrAppName: values.domain }),
      ...(fixedNow === undefined ? {} : { now: fixedNow }),
      onProgress: ({ records, bytesRead }) => progress.update(records, bytesRead),
    });
    progress.clear();
    // The summary belongs to bulk runs (--input); plain stdin filters stay silent on stderr.
    if (values.input !== undefined) {
      process.stderr.write(overlongNotes(summary.firstOverlongLines, summary.overlongLines, 'an invalid token'));
      process.stderr.write(renderSummary(summary.records, 'tokens', performance.now() - startedAt, new Map(Object.entries(summary.statusCounts))) + '\n');
    }
  } finally {
    await engine.close();
    await optOut?.close();
  }
}
