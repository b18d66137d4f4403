#!/usr/bin/env node
/** The `uid2-engine` command line. Each command lives in its own module; this file dispatches. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { packageVersion } from '../service/version.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { runDecrypt, type DecryptCommandValues } from './decrypt-command.js';
import { runEncrypt, type EncryptCommandValues } from './encrypt-command.js';
import { EUID_KEY_SOURCE_OPTIONS, KEY_SOURCE_OPTIONS } from './key-source.js';
import { runKeys, type KeysCommandValues } from './keys-command.js';
import { runMap, type MapCommandValues } from './map-command.js';
import { runOperator, type OperatorCommandValues } from './operator-command.js';
import { runOptOutBackfill, type OptOutBackfillValues } from './optout-backfill-command.js';
import { runOptOutRepair } from './optout-repair-command.js';
import { runOptOutServe, type OptOutServeValues } from './optout-serve-command.js';
import { runToken, TOKEN_OPTIONS, type TokenCommandValues } from './token-command.js';

const USAGE = `Usage: uid2-engine <command> [options]

Commands:
  decrypt   Decrypt advertising tokens into raw UIDs (one record per token)
            KEYS [EUID-KEYS] [--client bidstream|sharing|legacy] [--domain NAME]
            [--now ISO|MS] [--input FILE|-] [--output FILE] [--threads N]
            [--format jsonl|csv|tsv|msgpack (default jsonl)]
            [--optout-store FILE|redis://H:P/DB [--optout-keep-uid]] [TOKEN...]
            Without TOKEN arguments, reads one token per line (or a JSON object
            {"token": ..., "domainOrAppName": ...}) from --input or stdin,
            streamed in input order in flat memory through worker threads
            (--threads N, default cores - 1; 0 decrypts in-process). A FILE
            ending in .gz is read or written gzip-compressed. A line longer
            than 1 MiB is reported as an invalid token (and named on stderr).
            Keys come from /v2/key/sharing with --client sharing, else
            /v2/key/bidstream. With --optout-store, each record gains
            "optedOut" and an opted-out one has "uid": null (unless
            --optout-keep-uid). With EUID-KEYS too, each token is decrypted
            with the keys of the scope its header names (EUID tokens with the
            EUID keys; UID2, v2 and unreadable ones with KEYS); either may be
            left out, and that scope's tokens answer NotInitialized.
  encrypt   Encrypt raw UIDs into v4 sharing tokens (JSON line per raw UID)
            KEYS [--now ISO|MS] [--input FILE|-] [--output FILE] [RAWUID...]
            Keys come from /v2/key/sharing.

            With --input, both show a progress bar on stderr when it is a
            terminal (ETA for files), and end with a one-line summary on
            stderr: count, time, rate and count per status. stdout (or
            --output FILE) holds only the JSON lines.
  keys      Fetch a key set and print a JSON summary (scope, key count,
            keysets, sites, newest expiry; never a secret)
            KEYS [--sharing]
  map       Map identities to raw UIDs (POST /v3/identity/map), one record per
            input line, in input order, streamed in flat memory
            --input FILE|- --type email|phone|email_hash|phone_hash
            [--output FILE] [--format jsonl|csv] [--concurrency N (default 1)]
            [--binary] [--base-url URL --api-key KEY --secret-key SECRET]
            [--timeout MS]
            or --remap-due PREVIOUS --type ...: read an earlier output and map
            again only its failed records and those whose refreshFrom has
            passed, copying the others (write to a new file). Emails and phones
            are normalized and hashed here; only hashes are sent. 429 and 5xx
            are retried with back-off; a request that still fails stops the
            run (exit 3) and the rest is written as "failed". A progress bar
            (terminals) and a summary go to stderr.
  operator  Run a local UID2 operator on 127.0.0.1 for tests and demos; prints
            its URL, api key and secret key, runs until Ctrl+C / SIGTERM
            [--port N (default 0: any free port)] [--scope UID2|EUID|both]
            [--euid-port N]: --scope both runs a UID2 operator (--port) and an
            EUID one (--euid-port) and prints UID2_* and EUID_* lines
            [--throttle FRACTION]: answer HTTP 429 (no body) to that fraction
            of service requests, e.g. 0.05, so clients' back-off can be seen
            [--optout-webhook URL [--optout-method GET|POST]
             [--optout-header "Name: value"]... [--optout-identity-param P]
             [--optout-time-param P]]: deliver opt-outs (POST /local/optout
            with the api key as bearer) to a webhook, retrying 429/5xx
  optout serve
            Receive opt-outs from the UID2 service (webhook) into a durable
            store file, or Redis shared by a fleet; prints its URL once
            listening; SIGTERM finishes the requests in flight, then exits
            --store FILE|redis://HOST:PORT/DB [--port N] [--host H (default 127.0.0.1)]
            [--path /optout] --token T (or UID2_OPTOUT_TOKEN; required unless
            --allow-unauthenticated) [--identity-param P (default identity)]
            [--time-param P (default timestamp)] [--max-connections N (default 256)]
            [--headers-timeout MS (default 5000)] [--request-timeout MS (default
            10000)] [--log-level debug|info|warn|error (default warn; JSON lines
            on stderr)]
  token generate
            Generate a publisher's UID2 identity (POST /v2/token/generate);
            prints {"status":"success","identity":{...}} or {"status":"optout"}
            --email E | --phone P | --email-hash H | --phone-hash H
            (a value of - reads it from stdin, out of sight of ps; emails and
            phones are normalized and hashed here, only the hash is sent)
            [--tcf-consent TCF] [--base-url URL --api-key KEY --secret-key SECRET]
            [--timeout MS]
  token refresh
            Refresh an identity (POST /v2/token/refresh); prints the same
            --identity FILE|- (default stdin: the output of token generate or
            refresh, or the identity JSON) [--base-url ... as above]
  optout backfill
            Ask the UID2 service (/v2/optout/status) which raw UIDs of a list
            opted out and record those in the store; prints a JSON summary; a
            bad record of an answer is named on stderr and skipped (exit 3 at the end)
            --input FILE|- (one raw UID per line) --store FILE|redis://HOST:PORT/DB
            [--base-url URL --api-key KEY --secret-key SECRET] [--timeout MS]
  optout repair FILE
            Salvage a damaged opt-out file (one a receiver refuses): keep every
            intact record, move the damaged bytes to FILE.damaged-<time>, say
            what it did; a file with no damage is left alone. Stop the
            receiver first (it holds the file)

KEYS is either
  --keys FILE    a decrypted key response (JSON), or
  --base-url URL --api-key KEY --secret-key SECRET [--timeout MS]
                 refresh from the UID2 service first; each defaults to the
                 environment variable UID2_BASE_URL, UID2_API_KEY,
                 UID2_SECRET_KEY (prefer these: arguments show in ps)
EUID-KEYS (decrypt) is either
  --euid-keys FILE   an EUID key response (JSON), or
  --euid-base-url URL --euid-api-key KEY --euid-secret-key SECRET
                     refresh from the EUID service; each defaults to
                     EUID_BASE_URL, EUID_API_KEY, EUID_SECRET_KEY

Options:
  -h, --help     Show this help
  -v, --version  Show the version

Exit codes: 0 done, 1 unexpected error, 2 bad usage, key file or input,
3 key refresh or service call failed, or a backfill skipped a record.`;

const KEY_OPTIONS = {
  ...KEY_SOURCE_OPTIONS,
  now: { type: 'string' },
  input: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const COMMAND_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  decrypt: {
    ...KEY_OPTIONS,
    ...EUID_KEY_SOURCE_OPTIONS,
    client: { type: 'string' },
    domain: { type: 'string' },
    output: { type: 'string' },
    threads: { type: 'string' },
    format: { type: 'string' },
    'optout-store': { type: 'string' },
    'optout-keep-uid': { type: 'boolean' },
  },
  encrypt: { ...KEY_OPTIONS, output: { type: 'string' } },
  keys: { ...KEY_SOURCE_OPTIONS, sharing: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  map: {
    input: { type: 'string' },
    type: { type: 'string' },
    output: { type: 'string' },
    format: { type: 'string' },
    'remap-due': { type: 'string' },
    concurrency: { type: 'string' },
    binary: { type: 'boolean' },
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
    'secret-key': { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  operator: {
    port: { type: 'string' },
    'euid-port': { type: 'string' },
    throttle: { type: 'string' },
    scope: { type: 'string' },
    'optout-webhook': { type: 'string' },
    'optout-method': { type: 'string' },
    'optout-header': { type: 'string', multiple: true },
    'optout-identity-param': { type: 'string' },
    'optout-time-param': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  token: TOKEN_OPTIONS,
  optout: {
    port: { type: 'string' },
    host: { type: 'string' },
    store: { type: 'string' },
    path: { type: 'string' },
    token: { type: 'string' },
    'allow-unauthenticated': { type: 'boolean' },
    'max-connections': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'request-timeout': { type: 'string' },
    'log-level': { type: 'string' },
    'identity-param': { type: 'string' },
    'time-param': { type: 'string' },
    input: { type: 'string' },
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
    'secret-key': { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
};

async function runOptOut(values: Record<string, unknown>, positionals: string[]): Promise<void> {
  const [sub, ...extra] = positionals;
  if (sub === 'repair') return runOptOutRepair(extra);
  if (extra.length > 0) throw new CliError(EXIT_USAGE, `optout ${sub} takes no further arguments, got "${extra[0]}"`);
  if (sub === 'serve') await runOptOutServe(values as OptOutServeValues);
  else if (sub === 'backfill') await runOptOutBackfill(values as OptOutBackfillValues);
  else throw new CliError(EXIT_USAGE, sub === undefined ? 'optout needs a subcommand: serve, backfill or repair' : `unknown optout subcommand "${sub}" (serve, backfill, repair)`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(packageVersion() + '\n');
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
  const values = parsed.values as { help?: boolean } & Record<string, string | string[] | boolean | undefined>;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if ((command === 'keys' || command === 'operator' || command === 'map') && parsed.positionals.length > 0) {
    throw new CliError(EXIT_USAGE, `${command} takes no arguments, got "${parsed.positionals[0]}"`);
  }
  if (command === 'decrypt') await runDecrypt(values as DecryptCommandValues, parsed.positionals);
  else if (command === 'encrypt') await runEncrypt(values as EncryptCommandValues, parsed.positionals);
  else if (command === 'keys') await runKeys(values as KeysCommandValues);
  else if (command === 'optout') await runOptOut(values, parsed.positionals);
  else if (command === 'token') await runToken(values as TokenCommandValues, parsed.positionals);
  else if (command === 'map') await runMap(values as MapCommandValues);
  else await runOperator(values as OperatorCommandValues);
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
