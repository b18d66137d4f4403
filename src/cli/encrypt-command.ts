/**
 * `uid2-engine encrypt`: raw UIDs from arguments or input lines; {"status","token"} per raw UID
 * on stdout (or `--output`), in input order. Encryption is cheap and runs in-process, streamed
 * in chunks like `decrypt`, with the same progress bar and summary for `--input` runs. A line
 * longer than the line limit (line-reader.ts) is never read into memory: its record is the one an
 * invalid raw UID gets (EncryptionFailure, once the keys can encrypt), so the output keeps one
 * record per input line, and an `--input` run names the line on stderr, as `decrypt` does.
 */
import type { KeySet } from '../keys/key-set.js';
import { encryptRawUid } from '../token/encrypt.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { encryptionRecord } from './format.js';
import { openInput, openOutput, pipeChunks, writeText, type ChunkOutput } from './io.js';
import { overlongNotes, readLineChunks } from './line-reader.js';
import { parseNow } from './options.js';
import { ProgressBar, renderSummary } from './progress.js';
import { resolveKeySet, type KeySourceValues } from './key-source.js';

export interface EncryptCommandValues extends KeySourceValues {
  now?: string;
  input?: string;
  output?: string;
}

function encryptLines(rawUids: readonly string[], keys: KeySet, fixedNow: number | undefined, statusCounts: Map<string, number>): ChunkOutput {
  let text = '';
  for (const rawUid of rawUids) {
    const result = encryptRawUid(rawUid, keys, fixedNow ?? Date.now());
    statusCounts.set(result.status, (statusCounts.get(result.status) ?? 0) + 1);
    text += JSON.stringify(encryptionRecord(result)) + '\n';
  }
  return { text, count: rawUids.length };
}

export async function runEncrypt(values: EncryptCommandValues, rawUids: string[]): Promise<void> {
  const fixedNow = parseNow(values.now);
  if (rawUids.length > 0 && values.input !== undefined) throw new CliError(EXIT_USAGE, '--input cannot be combined with RAWUID arguments');
  const input = rawUids.length > 0 ? undefined : openInput(values.input);
  const keys = await resolveKeySet(values, 'sharing');
  const output = await openOutput(values.output);
  const statusCounts = new Map<string, number>();
  try {
    if (!input) {
      await writeText(output.stream, encryptLines(rawUids, keys, fixedNow, statusCounts).text);
      return;
    }
    const startedAt = performance.now();
    const progress = new ProgressBar(values.input !== undefined && process.stderr.isTTY ? process.stderr : undefined, input.size, 'raw UIDs', startedAt);
    let written = 0;
    // One number per overlong line, so at most one per MiB of input.
    const overlongLines: number[] = [];
    await pipeChunks(
      readLineChunks(input.stream),
      // An overlong line's entry is '': encryptRawUid() answers it as any invalid raw UID.
      (chunk) => {
        for (const index of chunk.overlong) overlongLines.push(chunk.firstLine + index);
        return encryptLines(chunk.lines, keys, fixedNow, statusCounts);
      },
      output.stream,
      (count, bytesRead) => progress.update((written += count), bytesRead),
    );
    progress.clear();
    if (values.input !== undefined) {
      process.stderr.write(overlongNotes(overlongLines, overlongLines.length, 'an invalid raw UID'));
      process.stderr.write(renderSummary(written, 'raw UIDs', performance.now() - startedAt, statusCounts) + '\n');
    }
  } finally {
    await output.close();
  }
}
