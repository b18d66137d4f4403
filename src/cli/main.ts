#!/usr/bin/env node
/** The `uid2-engine` command line. Each command lives in its own module; this file dispatches. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { runDecrypt, type DecryptCommandValues } from './decrypt-command.js';
import { runEncrypt, type EncryptCommandValues } from './encrypt-command.js';

const USAGE = `Usage: uid2-engine <command> [options]

Commands:
  decrypt  Decrypt advertising tokens into raw UIDs (JSON line per token)
           --keys FILE [--client bidstream|sharing|legacy] [--domain NAME]
           [--now ISO|MS] [--input FILE|-] [TOKEN...]
           Without TOKEN arguments, reads one token per line (or a JSON object
           {"token": ..., "domainOrAppName": ...}) from --input or stdin.
  encrypt  Encrypt raw UIDs into v4 sharing tokens (JSON line per raw UID)
           --keys FILE [--now ISO|MS] [--input FILE|-] [RAWUID...]

Options:
  -h, --help     Show this help
  -v, --version  Show the version

Exit codes: 0 done, 1 unexpected error, 2 bad usage or key file, 3 key refresh failed.`;

const KEY_OPTIONS = {
  keys: { type: 'string' },
  now: { type: 'string' },
  input: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const COMMAND_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  decrypt: { ...KEY_OPTIONS, client: { type: 'string' }, domain: { type: 'string' } },
  encrypt: { ...KEY_OPTIONS },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(version() + '\n');
    return;
  }
  const options = COMMAND_OPTIONS[command];
  if (!options) throw new CliError(EXIT_USAGE, `unknown command "${command}" (see uid2-engine --help)`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(EXIT_USAGE, (err as Error).message);
  }
  const values = parsed.values as { help?: boolean } & Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (command === 'decrypt') await runDecrypt(values as DecryptCommandValues, parsed.positionals);
  else await runEncrypt(values as EncryptCommandValues, parsed.positionals);
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // A closed pipe (`| head`) is a normal way for a reader to stop.
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`uid2-engine: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`uid2-engine: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
