/** Bulk decryption options (decryptFile / decryptStream), their defaults and validation. */
import { InvalidArgumentError } from '../../errors.js';
import type { TimeInput } from '../../types.js';
import { toUnixMs } from '../../util/time.js';
import { DEFAULT_MAX_LINE_BYTES } from '../wire/bulk-chunk.js';
import { RECORD_FORMATS, type RecordFormat } from '../wire/record-format.js';

export interface BulkProgress {
  /** Records written so far. */
  readonly records: number;
  /** Input bytes read up to the last chunk written (compressed bytes for a .gz file). */
  readonly bytesRead: number;
}

export interface BulkOptions {
  /** Output format: 'jsonl' (default), 'csv', 'tsv' or 'msgpack' (see docs/bulk.md). */
  format?: RecordFormat;
  /** Domain or app name of lines that name none (plain token lines); default none. */
  domainOrAppName?: string;
  /** Decryption time of every token; default the time each chunk is cut. */
  now?: TimeInput;
  /**
   * Longest input line, in bytes, read as a line (default 1 MiB): a longer line is reported as an
   * invalid token (a record with a status, as any other line) without being read into memory.
   */
  maxLineBytes?: number;
  /** Called after each chunk of output is written. */
  onProgress?: (progress: BulkProgress) => void;
}

export interface ResolvedBulkOptions {
  readonly format: RecordFormat;
  readonly domainOrAppName: string | null;
  readonly nowMs: number | null;
  readonly maxLineBytes: number;
  readonly onProgress: ((progress: BulkProgress) => void) | null;
}

export const DEFAULT_BULK_OPTIONS = Object.freeze({ format: 'jsonl', maxLineBytes: DEFAULT_MAX_LINE_BYTES } as const);

/** Lines up to 64 MiB: the chunk buffers grow with the limit (about 4 bytes per byte of it). */
const MAX_LINE_LIMIT = 64 * 1024 * 1024;

export function resolveBulkOptions(options: BulkOptions = {}): ResolvedBulkOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const format = options.format ?? DEFAULT_BULK_OPTIONS.format;
  if (!RECORD_FORMATS.includes(format)) throw new InvalidArgumentError(`options.format must be one of ${RECORD_FORMATS.join(', ')}`);
  const domain = options.domainOrAppName;
  if (domain !== undefined && typeof domain !== 'string') throw new InvalidArgumentError('options.domainOrAppName must be a string');
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_BULK_OPTIONS.maxLineBytes;
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 2048 || maxLineBytes > MAX_LINE_LIMIT) {
    throw new InvalidArgumentError(`options.maxLineBytes must be an integer from 2048 to ${MAX_LINE_LIMIT}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidArgumentError('options.onProgress must be a function');
  return {
    format,
    domainOrAppName: domain ?? null,
    nowMs: options.now === undefined ? null : toUnixMs(options.now, 'options.now'),
    maxLineBytes,
    onProgress: options.onProgress ?? null,
  };
}
