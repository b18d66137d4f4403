/**
 * `uid2-engine token generate` and `uid2-engine token refresh`: PublisherClient from the command
 * line. Each prints one JSON line on stdout: `{"status": "success", "identity": {...}}` (the
 * identity in the service's JSON shape) or `{"status": "optout"}`. `refresh` reads such a line
 * (or a bare identity) from `--identity FILE` or stdin, so the two pipe into each other:
 *
 *   uid2-engine token generate --email - <<< "$EMAIL" | uid2-engine token refresh
 *
 * A value of `-` reads the email, phone or hash from the first line of stdin instead of the
 * command line, where `ps` would show it. Raw emails and phone numbers never appear in an error:
 * they are named by their flag.
 */
import { readFileSync } from 'node:fs';
import type { Uid2Error } from '../errors.js';
import { PublisherClient } from '../publisher/publisher-client.js';
import type { TokenGenerateInput } from '../publisher/generate-input.js';
import type { TokenGenerateResult, TokenRefreshResult } from '../publisher/token-response.js';
import { CliError, EXIT_REFRESH_FAILED, EXIT_USAGE } from './cli-error.js';
import { KEY_SOURCE_OPTIONS, resolveServiceCredentials, type KeySourceValues } from './key-source.js';

export interface TokenCommandValues extends KeySourceValues {
  email?: string;
  phone?: string;
  'email-hash'?: string;
  'phone-hash'?: string;
  'tcf-consent'?: string;
  identity?: string;
}

const { keys: _keys, ...SERVICE_OPTIONS } = KEY_SOURCE_OPTIONS;

export const TOKEN_OPTIONS = {
  ...SERVICE_OPTIONS,
  email: { type: 'string' },
  phone: { type: 'string' },
  'email-hash': { type: 'string' },
  'phone-hash': { type: 'string' },
  'tcf-consent': { type: 'string' },
  identity: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const INPUT_FLAGS = [
  ['email', 'email'],
  ['phone', 'phone'],
  ['email-hash', 'emailHash'],
  ['phone-hash', 'phoneHash'],
] as const;

const USAGE_CODES: ReadonlySet<string> = new Set(['UID2_ERR_INVALID_IDENTITY', 'UID2_ERR_INVALID_ARGUMENT', 'UID2_ERR_IDENTITY_TOKENS', 'UID2_ERR_CONFIG', 'UID2_ERR_SECRET_KEY']);

/** Input, whole, from stdin (an identity is ~1.5 KB; refuse what is far larger). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new CliError(EXIT_USAGE, 'stdin is larger than 1 MiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function failure(what: string, err: unknown): CliError {
  const e = err as Uid2Error;
  if (typeof e?.code !== 'string') throw err;
  // Bad input is the caller's to fix (exit 2); anything from the service is a failed call (exit 3).
  const usage = USAGE_CODES.has(e.code);
  return new CliError(usage ? EXIT_USAGE : EXIT_REFRESH_FAILED, `${what}: ${e.message} (${e.code})`);
}

function print(result: TokenGenerateResult | TokenRefreshResult): void {
  process.stdout.write(JSON.stringify(result.identity ? { status: result.status, identity: result.identity } : { status: result.status }) + '\n');
}

function client(values: TokenCommandValues): PublisherClient {
  const { baseUrl, apiKey, secretKey, timeoutMs } = resolveServiceCredentials(values, 'no service credentials: pass');
  try {
    return new PublisherClient(baseUrl, apiKey, secretKey, timeoutMs === undefined ? undefined : { timeoutMs });
  } catch (err) {
    throw failure('bad credentials', err);
  }
}

async function generate(values: TokenCommandValues): Promise<void> {
  const given = INPUT_FLAGS.filter(([flag]) => values[flag] !== undefined);
  if (given.length !== 1) throw new CliError(EXIT_USAGE, 'token generate needs exactly one of --email, --phone, --email-hash, --phone-hash');
  if (values.identity !== undefined) throw new CliError(EXIT_USAGE, '--identity is for token refresh');
  const [flag, field] = given[0]!;
  let value = values[flag]!;
  if (value === '-') value = (await readStdin()).split(/\r?\n/)[0]!;
  const input = { [field]: value, ...(values['tcf-consent'] !== undefined ? { tcfConsentString: values['tcf-consent'] } : {}) } as TokenGenerateInput;
  const c = client(values);
  try {
    print(await c.generateToken(input));
  } catch (err) {
    throw failure(`token generate failed (--${flag})`, err);
  }
}

async function refresh(values: TokenCommandValues): Promise<void> {
  const stray = [...INPUT_FLAGS.map(([flag]) => flag), 'tcf-consent' as const].find((flag) => values[flag] !== undefined);
  if (stray) throw new CliError(EXIT_USAGE, `--${stray} is for token generate`);
  let text: string;
  try {
    text = values.identity === undefined || values.identity === '-' ? await readStdin() : readFileSync(values.identity, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT_USAGE, `cannot read --identity ${values.identity}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError(EXIT_USAGE, 'the identity is not JSON: give the output of token generate or the identity JSON');
  }
  // The output of `token generate` or `token refresh`, or the identity itself.
  const identity = (doc as { identity?: unknown } | null)?.identity ?? doc;
  if ((doc as { status?: unknown } | null)?.status === 'optout') throw new CliError(EXIT_USAGE, 'the user opted out: there is no identity to refresh');
  const c = client(values);
  try {
    print(await c.refreshToken(JSON.stringify(identity)));
  } catch (err) {
    throw failure('token refresh failed', err);
  }
}

/** @throws CliError: exit 2 for bad usage or input, exit 3 when the service call fails */
export async function runToken(values: TokenCommandValues, positionals: string[]): Promise<void> {
  const [sub, ...extra] = positionals;
  if (extra.length > 0) throw new CliError(EXIT_USAGE, `token ${sub} takes no further arguments, got "${extra[0]}"`);
  if (sub === 'generate') await generate(values);
  else if (sub === 'refresh') await refresh(values);
  else throw new CliError(EXIT_USAGE, sub === undefined ? 'token needs a subcommand: generate or refresh' : `unknown token subcommand "${sub}" (generate, refresh)`);
}
