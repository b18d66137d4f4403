/** Option values shared by the CLI commands, validated up front with one-line messages. */
import { readFileSync } from 'node:fs';
import { Uid2Error } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';
import { jsonSyntaxSummary } from '../util/json-error.js';
import type { ClientType } from '../types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

export function parseNow(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^-?\d+$/.test(value.trim()) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(EXIT_USAGE, `--now must be an ISO 8601 time or Unix milliseconds, got "${value}"`);
  return ms;
}

/** `--port N`: 0 to 65535; absent means 0 (any free port). */
export function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port > 65_535) throw new CliError(EXIT_USAGE, `--port must be an integer from 0 to 65535, got "${value}"`);
  return port;
}

/**
 * An integer flag in [min, max]; absent means `fallback`.
 * @throws CliError (usage) `<flag> must be an integer from <min> to <max>, got "<value>"`
 */
export function parseIntegerFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(EXIT_USAGE, `${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

export function parseClientType(value: string | undefined): ClientType {
  const type = value ?? 'bidstream';
  if (type !== 'bidstream' && type !== 'sharing' && type !== 'legacy') {
    throw new CliError(EXIT_USAGE, `--client must be bidstream, sharing or legacy, got "${type}"`);
  }
  return type;
}

/**
 * Reads a key file: a decrypted key response (whole document or body). A test-vector key-set
 * entry (`{"endpoint", "response"}`) is accepted too, so vector files can be used directly.
 */
export function loadKeysFile(path: string): KeySet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(EXIT_USAGE, `cannot read keys file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    let doc: unknown = JSON.parse(text);
    if (typeof doc === 'object' && doc !== null && 'endpoint' in doc && 'response' in doc) {
      doc = (doc as { response: unknown }).response;
    }
    return parseKeys(doc as object);
  } catch (err) {
    const reason = err instanceof Uid2Error ? err.message : `not JSON (${jsonSyntaxSummary(err)})`;
    throw new CliError(EXIT_USAGE, `keys file ${path} is invalid: ${reason}`);
  }
}
