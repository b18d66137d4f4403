/**
 * The CLI's key sources per identity scope (resolveScopedKeySets), in-process against a real UID2
 * and a real EUID local operator and key files of both: where each scope's keys come from, that a
 * key set of the other scope is refused, and the usage and refresh messages.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/cli-error.js';
import { euidKeySourceGiven, resolveScopedKeySets, type ScopedKeySourceValues } from '../../src/cli/key-source.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

const VARIABLES = ['UID2_BASE_URL', 'UID2_API_KEY', 'UID2_SECRET_KEY', 'EUID_BASE_URL', 'EUID_API_KEY', 'EUID_SECRET_KEY'];
const savedEnv = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

let uid2: LocalOperator;
let euid: LocalOperator;
let dir: string;
let uid2File: string;
let euidFile: string;

beforeAll(async () => {
  [uid2, euid] = await Promise.all([startLocalOperator(), startLocalOperator({ identityScope: 'EUID' })]);
  dir = mkdtempSync(join(tmpdir(), 'uid2-key-source-test-'));
  uid2File = join(dir, 'uid2.json');
  euidFile = join(dir, 'euid.json');
  writeFileSync(uid2File, JSON.stringify(uid2.keyResponse('bidstream')));
  writeFileSync(euidFile, JSON.stringify(euid.keyResponse('bidstream')));
});
afterAll(async () => {
  await Promise.all([uid2.close(), euid.close()]);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const name of VARIABLES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  uid2.setFault(null);
  euid.setFault(null);
});

/** A clean environment: no UID2_* or EUID_* variable unless the test sets it. */
function setEnv(vars: Record<string, string> = {}): void {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, vars);
}

function uid2Flags(op: LocalOperator = uid2): ScopedKeySourceValues {
  return { 'base-url': op.url, 'api-key': op.apiKey, 'secret-key': op.secretKey };
}

function euidFlags(op: LocalOperator = euid): ScopedKeySourceValues {
  return { 'euid-base-url': op.url, 'euid-api-key': op.apiKey, 'euid-secret-key': op.secretKey };
}

/** The CliError a call rejects with (its exit code and message), or a failure when it resolves. */
async function cliError(values: ScopedKeySourceValues): Promise<{ exitCode: number; message: string }> {
  const err: unknown = await resolveScopedKeySets(values, 'bidstream').then(
    () => expect.fail('resolved'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  const { exitCode, message } = err as CliError;
  for (const secret of [uid2.apiKey, uid2.secretKey, euid.apiKey, euid.secretKey]) expect(message).not.toContain(secret);
  return { exitCode, message };
}

describe('resolveScopedKeySets: each scope from its own source', () => {
  it('two key files: --keys UID2, --euid-keys EUID', async () => {
    setEnv();
    const sets = await resolveScopedKeySets({ keys: uid2File, 'euid-keys': euidFile }, 'bidstream');
    expect(sets.UID2?.identityScope).toBe('UID2');
    expect(sets.EUID?.identityScope).toBe('EUID');
    expect(sets.UID2?.size).toBe(uid2.keyResponse('bidstream').body.keys.length);
    expect(sets.EUID?.size).toBe(euid.keyResponse('bidstream').body.keys.length);
  });

  it('UID2 credentials from UID2_* variables and EUID ones from --euid-* flags: one refresh from each operator', async () => {
    setEnv({ UID2_BASE_URL: uid2.url, UID2_API_KEY: uid2.apiKey, UID2_SECRET_KEY: uid2.secretKey });
    const before = [uid2.requests.length, euid.requests.length];
    const sets = await resolveScopedKeySets(euidFlags(), 'sharing');
    expect(sets.UID2?.identityScope).toBe('UID2');
    expect(sets.EUID?.identityScope).toBe('EUID');
    expect(uid2.requests.slice(before[0]).map((r) => r.path)).toEqual(['/v2/key/sharing']);
    expect(euid.requests.slice(before[1]).map((r) => r.path)).toEqual(['/v2/key/sharing']);
  });

  it('an EUID-only run from EUID_* variables has no UID2 key set', async () => {
    setEnv({ EUID_BASE_URL: euid.url, EUID_API_KEY: euid.apiKey, EUID_SECRET_KEY: euid.secretKey });
    const sets = await resolveScopedKeySets({}, 'bidstream');
    expect(Object.keys(sets)).toEqual(['EUID']);
    expect(sets.EUID?.identityScope).toBe('EUID');
  });

  it('a UID2 key file and EUID credentials mixed', async () => {
    setEnv();
    const sets = await resolveScopedKeySets({ keys: uid2File, ...euidFlags() }, 'bidstream');
    expect([sets.UID2?.identityScope, sets.EUID?.identityScope]).toEqual(['UID2', 'EUID']);
  });

  it('--euid-keys wins over EUID_* variables, as --keys does over UID2_*', async () => {
    setEnv({ EUID_BASE_URL: 'http://127.0.0.1:9', EUID_API_KEY: 'x', EUID_SECRET_KEY: 'y' });
    const before = euid.requests.length;
    const sets = await resolveScopedKeySets({ 'euid-keys': euidFile }, 'bidstream');
    expect(sets.EUID?.identityScope).toBe('EUID');
    expect(euid.requests.length).toBe(before);
  });
});

describe('resolveScopedKeySets: a key set of the other scope is a usage error', () => {
  const cases: [string, () => ScopedKeySourceValues, () => string][] = [
    ['a UID2 key file to --euid-keys', () => ({ 'euid-keys': uid2File }), () => `--euid-keys ${uid2File} holds UID2 keys, not EUID keys (UID2 keys go to --keys)`],
    ['an EUID key file to --keys', () => ({ keys: euidFile, 'euid-keys': euidFile }), () => `--keys ${euidFile} holds EUID keys, not UID2 keys (EUID keys go to --euid-keys)`],
    [
      'EUID credentials of a UID2 operator',
      () => euidFlags(uid2),
      () => 'the EUID credentials (--euid-base-url or EUID_BASE_URL) reach a service that answers UID2 keys, not EUID keys',
    ],
    [
      'UID2 credentials of an EUID operator',
      () => ({ ...uid2Flags(euid), 'euid-keys': euidFile }),
      () => 'the UID2 credentials (--base-url or UID2_BASE_URL) reach a service that answers EUID keys, not UID2 keys',
    ],
  ];
  it.each(cases)('%s', async (_name, values, message) => {
    setEnv();
    expect(await cliError(values())).toEqual({ exitCode: 2, message: message() });
  });
});

describe('resolveScopedKeySets: usage errors (exit 2), one message each', () => {
  it('no key source for either scope names both', async () => {
    setEnv();
    expect(await cliError({})).toEqual({
      exitCode: 2,
      message:
        'no keys: pass --keys FILE, or --base-url, --api-key and --secret-key (or set UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY); ' +
        'for EUID tokens --euid-keys FILE, or --euid-base-url, --euid-api-key and --euid-secret-key (or set EUID_BASE_URL, EUID_API_KEY, EUID_SECRET_KEY)',
    });
  });

  it('--euid-keys with an EUID credential flag', async () => {
    setEnv();
    expect(await cliError({ 'euid-keys': euidFile, 'euid-api-key': 'x' })).toEqual({
      exitCode: 2,
      message: '--euid-keys cannot be combined with --euid-base-url, --euid-api-key or --euid-secret-key',
    });
  });

  it('--keys with a UID2 credential flag, beside EUID keys', async () => {
    setEnv();
    expect((await cliError({ keys: uid2File, 'base-url': uid2.url, 'euid-keys': euidFile })).message).toBe('--keys cannot be combined with --base-url, --api-key or --secret-key');
  });

  it('EUID credentials with some missing name every missing one, flag and variable', async () => {
    setEnv({ EUID_BASE_URL: euid.url });
    expect(await cliError({ keys: uid2File })).toEqual({
      exitCode: 2,
      message: 'missing --euid-api-key (or EUID_API_KEY), --euid-secret-key (or EUID_SECRET_KEY)',
    });
  });

  it('an empty EUID_* variable counts as unset', async () => {
    setEnv({ EUID_BASE_URL: '', EUID_API_KEY: '', EUID_SECRET_KEY: '' });
    expect(euidKeySourceGiven({ keys: uid2File })).toBe(false);
    expect(Object.keys(await resolveScopedKeySets({ keys: uid2File }, 'bidstream'))).toEqual(['UID2']);
  });

  it('a bad key file stops the run before any request', async () => {
    setEnv();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"body": ');
    const before = uid2.requests.length;
    const { exitCode, message } = await cliError({ ...uid2Flags(), 'euid-keys': bad });
    expect(exitCode).toBe(2);
    expect(message).toMatch(new RegExp(`^keys file ${bad} is invalid: not JSON`));
    expect(uid2.requests.length).toBe(before);
  });
});

describe('resolveScopedKeySets: a refresh failure exits 3 naming its scope', () => {
  it('the EUID service failing', async () => {
    setEnv();
    euid.setFault({ kind: 'http-error', status: 500 });
    const { exitCode, message } = await cliError({ keys: uid2File, ...euidFlags() });
    expect(exitCode).toBe(3);
    expect(message).toMatch(/^EUID key refresh failed: .*\(UID2_ERR_SERVICE_HTTP\)$/);
  });

  it('both failing: the UID2 one is named', async () => {
    setEnv();
    uid2.setFault({ kind: 'http-error', status: 500 });
    euid.setFault({ kind: 'garbage-body' });
    const { exitCode, message } = await cliError({ ...uid2Flags(), ...euidFlags() });
    expect(exitCode).toBe(3);
    expect(message).toMatch(/^UID2 key refresh failed: .*\(UID2_ERR_SERVICE_HTTP\)$/);
  });
});

describe('euidKeySourceGiven: what makes decrypt dual-scope', () => {
  it.each([
    [{}, {}, false],
    [{ keys: 'k.json' }, { UID2_BASE_URL: 'http://x' }, false],
    [{ 'euid-keys': 'e.json' }, {}, true],
    [{ 'euid-secret-key': 's' }, {}, true],
    [{}, { EUID_API_KEY: 'k' }, true],
  ] as const)('%j with %j: %s', (values, env, given) => {
    setEnv(env);
    expect(euidKeySourceGiven(values)).toBe(given);
  });
});
