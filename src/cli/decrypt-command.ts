/**
 * `uid2-engine decrypt`: tokens from arguments, or one per input line; one JSON object per token
 * on stdout (or `--output`), in input order. A line may be a JSON object {"token", "domainOrAppName"}.
 *
 * Tokens go through a DecryptionEngine (worker threads; `--threads 0` decrypts in-process) in
 * chunks of 4,096 lines with a few chunks in flight, so any input size runs in flat memory.
 * With `--input`, a progress bar (terminals only) and a closing per-status summary go to stderr.
 * With `--optout-store FILE`, each record gains "optedOut" and an opted-out one has "uid": null
 * (unless `--optout-keep-uid`), checked on the main thread against the store's in-memory set.
 */
import { DecryptionEngine } from '../engine/engine.js';
import { applyOptOut } from '../optout/check.js';
import type { DecryptionResult } from '../types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { decryptionRecord } from './format.js';
import { openInput, openOutput, pipeChunks, readLineChunks, writeText, type ChunkOutput } from './io.js';
import { parseClientType, parseNow } from './options.js';
import { ProgressBar, renderSummary } from './progress.js';
import { resolveKeySet, type KeySourceValues } from './key-source.js';
import { openStoreForCli } from './optout-store.js';

export interface DecryptCommandValues extends KeySourceValues {
  client?: string;
  domain?: string;
  now?: string;
  input?: string;
  output?: string;
  threads?: string;
  'optout-store'?: string;
  'optout-keep-uid'?: boolean;
}

interface TokenInput {
  token: unknown;
  domainOrAppName: string | undefined;
}

/** A line is a token, or a JSON object naming the token and its domain or app name. */
export function parseTokenLine(line: string, defaultDomain: string | undefined): TokenInput {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      const domain = obj['domainOrAppName'];
      return { token: obj['token'], domainOrAppName: typeof domain === 'string' ? domain : defaultDomain };
    } catch {
      // Not JSON: decrypt the line as it is; it will be reported as InvalidPayload.
    }
  }
  return { token: line, domainOrAppName: defaultDomain };
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

export async function runDecrypt(values: DecryptCommandValues, tokens: string[]): Promise<void> {
  const clientType = parseClientType(values.client);
  const fixedNow = parseNow(values.now);
  const threads = parseThreads(values.threads);
  if (tokens.length > 0 && values.input !== undefined) throw new CliError(EXIT_USAGE, '--input cannot be combined with TOKEN arguments');
  const input = tokens.length > 0 ? undefined : openInput(values.input);
  if (values['optout-keep-uid'] && values['optout-store'] === undefined) throw new CliError(EXIT_USAGE, '--optout-keep-uid needs --optout-store FILE');
  const keys = await resolveKeySet(values, clientType === 'sharing' ? 'sharing' : 'bidstream');
  // Read-only: a running `optout serve` may hold the file; this run checks the opt-outs as of now.
  const optOut = values['optout-store'] === undefined ? undefined : await openStoreForCli(values['optout-store'], true);
  const keepUid = values['optout-keep-uid'] ?? false;
  const output = await openOutput(values.output);
  // A handful of TOKEN arguments is decrypted in-process unless --threads asks otherwise: starting
  // worker threads would cost more than it saves. Streams default to the engine's thread count.
  const engineThreads = threads ?? (input ? undefined : 0);
  const engine = await DecryptionEngine.create(engineThreads === undefined ? { clientType } : { clientType, threads: engineThreads });
  const statusCounts = new Map<string, number>();
  try {
    engine.setKeys(keys);
    const decryptLines = async (inputs: TokenInput[]): Promise<ChunkOutput> => {
      // Non-string tokens (a JSON line's "token": 5) go through as they are: the engine reports
      // them InvalidPayload, exactly as the in-process rules do.
      const results = await engine.decryptBatch(inputs.map((i) => i.token) as string[], {
        domains: inputs.map((i) => i.domainOrAppName),
        now: fixedNow ?? Date.now(),
      });
      if (optOut) for (let i = 0; i < results.length; i++) results[i] = applyOptOut(results[i]!, optOut, keepUid);
      return { text: formatResults(results, statusCounts), count: results.length };
    };

    if (!input) {
      const { text } = await decryptLines(tokens.map((token) => ({ token, domainOrAppName: values.domain })));
      await writeText(output.stream, text);
      return;
    }
    const startedAt = performance.now();
    const progress = new ProgressBar(values.input !== undefined && process.stderr.isTTY ? process.stderr : undefined, input.size, 'tokens', startedAt);
    let written = 0;
    await pipeChunks(
      readLineChunks(input.stream),
      (lines) => decryptLines(lines.map((line) => parseTokenLine(line, values.domain))),
      output.stream,
      (count, bytesRead) => progress.update((written += count), bytesRead),
    );
    progress.clear();
    // The summary belongs to bulk runs (--input); plain stdin filters stay silent on stderr.
    if (values.input !== undefined) {
      process.stderr.write(renderSummary(written, 'tokens', performance.now() - startedAt, statusCounts) + '\n');
    }
  } finally {
    await engine.close();
    await output.close();
    await optOut?.close();
  }
}

function formatResults(results: readonly DecryptionResult[], statusCounts: Map<string, number>): string {
  let text = '';
  for (const result of results) {
    statusCounts.set(result.status, (statusCounts.get(result.status) ?? 0) + 1);
    text += JSON.stringify(decryptionRecord(result)) + '\n';
  }
  return text;
}
