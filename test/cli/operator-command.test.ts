/**
 * The built CLI (dist/, `npm run build` first) end to end against real operators: the
 * `operator` command in its own process, and `startLocalOperator` in this one for `decrypt`,
 * `encrypt` and `keys` with service credentials. Exit code 3 on every refresh failure.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { SharingClient } from '../../src/index.js';
import { startLocalOperator, type LocalOperator, type OperatorFault } from '../../src/testing.js';
import { CLI_PATH, jsonLines, runCli, type CliRun } from '../helpers/cli.js';

/** The test runner's environment without any UID2_* or EUID_* credentials. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const scope of ['UID2', 'EUID']) {
    for (const name of ['BASE_URL', 'API_KEY', 'SECRET_KEY']) delete env[`${scope}_${name}`];
  }
  return { ...env, ...extra };
}

function run(args: string[], input?: string, env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, input, cleanEnv(env));
}

let op: LocalOperator;
let creds: string[];
/** Every CLI output of this file, checked at the end for the credentials. */
const outputs: string[] = [];
beforeAll(async () => {
  op = await startLocalOperator();
  creds = ['--base-url', op.url, '--api-key', op.apiKey, '--secret-key', op.secretKey];
});
afterAll(async () => {
  await op.close();
});
afterEach(() => {
  op.setFault(null);
});

async function captured(args: string[], input?: string, env?: Record<string, string>): Promise<CliRun> {
  const result = await run(args, input, env);
  outputs.push(result.stdout, result.stderr);
  return result;
}

describe('decrypt with service credentials', () => {
  it('refreshes /v2/key/bidstream, then decrypts v2, v3, v4 and CSTG tokens', async () => {
    const rawUid = op.rawUidFor('cli@example.com');
    const lines = [
      { token: op.mintToken({ version: 2, rawUid }) },
      { token: op.mintToken({ version: 3, rawUid, identityType: 'Phone' }) },
      { token: op.mintToken({ version: 4, rawUid }) },
      { token: op.mintToken({ version: 4, rawUid, clientSideGenerated: true }), domainOrAppName: 'example.com' },
      { token: op.mintToken({ version: 4, rawUid, clientSideGenerated: true }), domainOrAppName: 'evil.example' },
    ];
    const before = op.requests.length;
    const result = await captured(['decrypt', ...creds], lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const records = jsonLines(result.stdout);
    expect(records.map((r) => r['status'])).toEqual(['Success', 'Success', 'Success', 'Success', 'DomainOrAppNameCheckFailed']);
    expect(records.slice(0, 4).map((r) => r['uid'])).toEqual([rawUid, rawUid, rawUid, rawUid]);
    expect(records.map((r) => r['advertisingTokenVersion'])).toEqual([2, 3, 4, 4, 4]);
    expect(records[1]!['identityType']).toBe('Phone');
    expect(records[3]!['isClientSideGenerated']).toBe(true);
    expect(op.requests.slice(before).map((r) => r.path)).toEqual(['/v2/key/bidstream']);
  });

  it('uses /v2/key/sharing with --client sharing', async () => {
    const before = op.requests.length;
    const token = op.mintToken({ version: 4, clientSideGenerated: true });
    const result = await captured(['decrypt', ...creds, '--client', 'sharing', token]);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)[0]!['status']).toBe('Success');
    expect(op.requests.slice(before).map((r) => r.path)).toEqual(['/v2/key/sharing']);
  });

  it('takes the credentials from UID2_* environment variables', async () => {
    const env = { UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey };
    const result = await captured(['decrypt', op.mintToken({ version: 3 })], undefined, env);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)[0]!['status']).toBe('Success');
  });
});

describe('encrypt with service credentials', () => {
  it('refreshes /v2/key/sharing and its tokens decrypt with the sharing keys', async () => {
    const before = op.requests.length;
    const rawUid = op.rawUidFor('share@example.com');
    const result = await captured(['encrypt', ...creds, rawUid]);
    expect(result.code).toBe(0);
    const [record] = jsonLines(result.stdout);
    expect(record!['status']).toBe('Success');
    expect(op.requests.slice(before).map((r) => r.path)).toEqual(['/v2/key/sharing']);
    const client = new SharingClient(op.url, op.apiKey, op.secretKey);
    await client.refresh();
    expect(client.decryptTokenIntoRawUid(record!['token'] as string)).toMatchObject({ status: 'Success', uid: rawUid, siteId: op.callerSiteId });
  });
});

describe('keys', () => {
  it('prints a bidstream summary without any secret', async () => {
    const result = await captured(['keys', ...creds]);
    expect(result.code).toBe(0);
    const [summary] = jsonLines(result.stdout);
    const expected = op.keyResponse('bidstream').body;
    expect(summary).toEqual({
      source: '/v2/key/bidstream',
      identityScope: 'UID2',
      keys: expected.keys.length,
      // Bidstream keys carry no keyset_id, as from the real service.
      keysets: 0,
      sites: op.sites.length,
      newestExpiry: new Date(Math.max(...expected.keys.map((k) => k.expires)) * 1000).toISOString(),
    });
    for (const key of expected.keys) expect(result.stdout).not.toContain(key.secret);
  });

  it('prints the sharing fields with --sharing', async () => {
    const result = await captured(['keys', '--sharing', ...creds]);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)[0]).toMatchObject({
      source: '/v2/key/sharing',
      callerSiteId: op.callerSiteId,
      masterKeysetId: 9_999_999,
      tokenExpirySeconds: 2_592_000,
      // Only the master and the caller's keysets carry keyset_id in sharing key JSON.
      keysets: 2,
    });
  });
});

describe('exit code 3 when the refresh fails, with one line naming the cause', () => {
  const faults: [OperatorFault, string][] = [
    [{ kind: 'http-error', status: 500 }, 'UID2_ERR_SERVICE_HTTP'],
    [{ kind: 'http-error', status: 401 }, 'UID2_ERR_SERVICE_HTTP'],
    [{ kind: 'drop-connection' }, 'UID2_ERR_SERVICE_NETWORK'],
    [{ kind: 'truncated-body' }, 'UID2_ERR_ENVELOPE'],
    [{ kind: 'wrong-nonce' }, 'UID2_ERR_NONCE_MISMATCH'],
    [{ kind: 'garbage-body' }, 'UID2_ERR_ENVELOPE'],
    [{ kind: 'stale-keys' }, 'UID2_ERR_KEYS_STALE'],
    [{ kind: 'response-timestamp', timestampMs: 0 }, 'UID2_ERR_RESPONSE_TIMESTAMP'],
  ];
  it.each(faults)('%j', async (fault, code) => {
    op.setFault(fault);
    const commands = [['decrypt', ...creds, 'x'], ['encrypt', ...creds, 'AAAA'], ['keys', ...creds]];
    for (const result of await Promise.all(commands.map((args) => captured(args)))) {
      expect(result.code).toBe(3);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(new RegExp(`^uid2-engine: key refresh failed: .*\\(${code}\\)\\n$`));
    }
  });

  it.each([
    ['timeout', ['--timeout', '50'], { kind: 'delay', ms: 3000 } as OperatorFault, /within 50 ms \(UID2_ERR_SERVICE_TIMEOUT\)/],
    ['wrong api key', ['--api-key', 'UID2-C-L-1-wrong'], null, /HTTP 401 .*\(UID2_ERR_SERVICE_HTTP\)/],
    ['malformed secret key', ['--secret-key', 'c2hvcnQ='], null, /secret key must be base64 of 32 bytes \(UID2_ERR_SECRET_KEY\)/],
  ] as const)('%s', async (_name, override, fault, message) => {
    op.setFault(fault);
    const args = [...creds];
    for (let i = 0; i < override.length; i += 2) {
      const at = args.indexOf(override[i]!);
      if (at >= 0) args.splice(at, 2);
      args.push(override[i]!, override[i + 1]!);
    }
    const result = await captured(['keys', ...args]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unreachable service', async () => {
    const gone = await startLocalOperator();
    await gone.close();
    const result = await captured(['keys', '--base-url', gone.url, '--api-key', op.apiKey, '--secret-key', op.secretKey]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/ECONNREFUSED.*\(UID2_ERR_SERVICE_NETWORK\)/);
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['keys'], /no keys: pass --keys FILE, or --base-url, --api-key and --secret-key/],
    [['keys', '--base-url', 'http://127.0.0.1:9'], /missing --api-key \(or UID2_API_KEY\), --secret-key \(or UID2_SECRET_KEY\)/],
    [['decrypt', '--keys', 'k.json', '--api-key', 'x', 't'], /--keys cannot be combined/],
    [['keys', '--timeout', 'soon', '--base-url', 'http://x', '--api-key', 'a', '--secret-key', 'b'], /--timeout must be a positive number/],
    [['operator', '--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['operator', '--scope', 'MARS'], /--scope must be UID2, EUID or both/],
    [['operator', '--euid-port', '0'], /--euid-port needs --scope both/],
    [['operator', '--scope', 'EUID', '--euid-port', '0'], /--euid-port needs --scope both/],
    [['operator', '--scope', 'both', '--euid-port', '65536'], /--euid-port must be an integer from 0 to 65535/],
    [['keys', 'extra'], /keys takes no arguments/],
  ])('%j', async (args, message) => {
    const result = await captured(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('lists the new commands and options in --help', async () => {
    const result = await run(['--help']);
    for (const word of ['operator', 'keys', '--base-url', '--api-key', '--secret-key', '--sharing', '--port', '--scope', 'UID2_SECRET_KEY', '--euid-port', 'UID2|EUID|both', '--euid-keys', '--euid-base-url', 'EUID_SECRET_KEY']) {
      expect(result.stdout).toContain(word);
    }
  });
});

describe('uid2-engine operator', () => {
  /** Every operator process started here: one a failed assertion left running is killed after its test. */
  const children: ChildProcessWithoutNullStreams[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  async function startOperatorProcess(args: string[], lines = 3): Promise<{ child: ChildProcessWithoutNullStreams; env: Record<string, string> }> {
    const child = spawn(process.execPath, [CLI_PATH, 'operator', ...args], { env: cleanEnv() });
    children.push(child);
    let stdout = '';
    child.stdout.setEncoding('utf8');
    while ((stdout.match(/\n/g) ?? []).length < lines) {
      const [chunk] = (await once(child.stdout, 'data')) as [string];
      stdout += chunk;
    }
    const env = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    return { child, env };
  }

  it('prints its URL and credentials, serves keys, and stops on SIGTERM with code 0', async () => {
    const { child, env } = await startOperatorProcess(['--port', '0']);
    expect(Object.keys(env)).toEqual(['UID2_BASE_URL', 'UID2_API_KEY', 'UID2_SECRET_KEY']);
    expect(env['UID2_BASE_URL']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const keys = await run(['keys'], undefined, env);
    expect(keys.code).toBe(0);
    expect(jsonLines(keys.stdout)[0]).toMatchObject({ identityScope: 'UID2', sites: 2 });
    // A v4 token from encrypt (sharing keys) decrypts through decrypt --client sharing.
    const encrypted = await run(['encrypt', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='], undefined, env);
    const token = jsonLines(encrypted.stdout)[0]!['token'] as string;
    const decrypted = await run(['decrypt', '--client', 'sharing', token], undefined, env);
    expect(jsonLines(decrypted.stdout)[0]).toMatchObject({ status: 'Success', uid: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' });

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('serves EUID keys with --scope EUID and stops on SIGINT', async () => {
    const { child, env } = await startOperatorProcess(['--scope', 'EUID']);
    // One operator prints UID2_* lines whatever its scope: the single-scope commands read those.
    expect(Object.keys(env)).toEqual(['UID2_BASE_URL', 'UID2_API_KEY', 'UID2_SECRET_KEY']);
    const keys = await run(['keys', '--sharing'], undefined, env);
    expect(jsonLines(keys.stdout)[0]).toMatchObject({ identityScope: 'EUID' });
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('--scope both runs a UID2 and an EUID operator on two ports, prints both credential sets, and stops both', async () => {
    const euidPort = await freePort();
    const { child, env } = await startOperatorProcess(['--scope', 'both', '--euid-port', String(euidPort)], 6);
    expect(Object.keys(env)).toEqual(['UID2_BASE_URL', 'UID2_API_KEY', 'UID2_SECRET_KEY', 'EUID_BASE_URL', 'EUID_API_KEY', 'EUID_SECRET_KEY']);
    expect(env['EUID_BASE_URL']).toBe(`http://127.0.0.1:${euidPort}`);
    expect(env['UID2_BASE_URL']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env['UID2_BASE_URL']).not.toBe(env['EUID_BASE_URL']);
    expect(env['UID2_API_KEY']).not.toBe(env['EUID_API_KEY']);

    // Each credential set reaches its own scope's operator (the EUID_* lines as UID2_* for `keys`).
    const uid2 = await run(['keys'], undefined, { UID2_BASE_URL: env['UID2_BASE_URL']!, UID2_API_KEY: env['UID2_API_KEY']!, UID2_SECRET_KEY: env['UID2_SECRET_KEY']! });
    const euid = await run(['keys'], undefined, { UID2_BASE_URL: env['EUID_BASE_URL']!, UID2_API_KEY: env['EUID_API_KEY']!, UID2_SECRET_KEY: env['EUID_SECRET_KEY']! });
    expect(jsonLines(uid2.stdout)[0]).toMatchObject({ identityScope: 'UID2' });
    expect(jsonLines(euid.stdout)[0]).toMatchObject({ identityScope: 'EUID' });
    // One scope's api key is refused by the other's operator.
    const crossed = await run(['keys', '--base-url', env['EUID_BASE_URL']!, '--api-key', env['UID2_API_KEY']!, '--secret-key', env['UID2_SECRET_KEY']!]);
    expect(crossed.code).toBe(3);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    for (const url of [env['UID2_BASE_URL']!, env['EUID_BASE_URL']!]) await expect(fetch(url)).rejects.toThrow();
  });

  it('--scope both: when the EUID port is taken, the UID2 operator is closed too and the process exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const result = await run(['operator', '--scope', 'both', '--euid-port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`uid2-engine: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('no output names a credential', () => {
  it('holds for every run above', () => {
    expect(outputs.length).toBeGreaterThan(30);
    for (const text of outputs) {
      expect(text).not.toContain(op.apiKey);
      expect(text).not.toContain(op.secretKey);
    }
  });
});
