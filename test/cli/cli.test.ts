/**
 * The `uid2-engine` CLI, run as a user would: the built dist/cli/main.js in a child process
 * (build first with `npx tsc -p tsconfig.build.json`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli, type CliRun } from '../helpers/cli.js';
import {
  CALLER_SITE_ID,
  DAY_MS,
  HOUR_MS,
  NOW_MS,
  SITE_ID,
  makeSharingWorld,
  makeWorld,
  randomRawUid,
} from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'uid2-cli-test-'));
const NOW_ISO = new Date(NOW_MS).toISOString();

function writeKeys(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

// Bidstream keys with a short bidstream limit; sharing keys with the sharing fields.
const bid = makeWorld({ maxBidstreamLifetimeSeconds: 2 * 3600, maxSharingLifetimeSeconds: 30 * 24 * 3600 });
const bidKeys = writeKeys('bidstream.json', bid.response);
const share = makeSharingWorld();
const shareKeys = writeKeys('sharing.json', share.response);

/** A usage failure: exit 2, nothing on stdout, exactly one line on stderr and no stack trace. */
function expectUsageError(run: CliRun, pattern: RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.endsWith('\n')).toBe(true);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(/^uid2-engine: /);
  expect(run.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
  expect(run.stderr).toMatch(pattern);
}

const NULL_RECORD = {
  uid: null,
  siteId: null,
  identityType: null,
  advertisingTokenVersion: null,
  isClientSideGenerated: null,
  established: null,
  expiry: null,
};

describe('decrypt', () => {
  it('tokens as arguments: one record per token, in order, all fields', async () => {
    const rawUid = randomRawUid();
    const v4 = bid.token({ rawUid, expiresMs: NOW_MS + HOUR_MS, establishedMs: NOW_MS - DAY_MS });
    const v2 = bid.token({ version: 2, rawUid: 'v2-identity', expiresMs: NOW_MS + HOUR_MS, establishedMs: NOW_MS - DAY_MS });
    const run = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, v4, 'not a token', v2]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)).toEqual([
      {
        status: 'Success',
        uid: rawUid,
        siteId: SITE_ID,
        identityType: 'Email',
        advertisingTokenVersion: 4,
        isClientSideGenerated: false,
        established: new Date(NOW_MS - DAY_MS).toISOString(),
        expiry: new Date(NOW_MS + HOUR_MS).toISOString(),
      },
      // Absent fields are null, not missing.
      { status: 'InvalidPayload', ...NULL_RECORD },
      {
        status: 'Success',
        uid: 'v2-identity',
        siteId: SITE_ID,
        identityType: null,
        advertisingTokenVersion: 2,
        isClientSideGenerated: false,
        established: new Date(NOW_MS - DAY_MS).toISOString(),
        expiry: new Date(NOW_MS + HOUR_MS).toISOString(),
      },
    ]);
  });

  it('an expired token reports its metadata but a null uid', async () => {
    const token = bid.token({ expiresMs: NOW_MS - 1 });
    const [record] = jsonLines((await runCli(['decrypt', '--keys', bidKeys, '--now', String(NOW_MS), token])).stdout);
    expect(record).toMatchObject({ status: 'ExpiredToken', uid: null, siteId: SITE_ID, expiry: new Date(NOW_MS - 1).toISOString() });
  });

  it('tokens on stdin, plain lines and JSON lines with domainOrAppName, output in input order', async () => {
    const tokens: { line: string; status: string; uid: string | null }[] = [];
    for (let i = 0; i < 30; i++) {
      const rawUid = randomRawUid(i % 2 === 0 ? 'Email' : 'Phone');
      switch (i % 5) {
        case 0:
          tokens.push({ line: bid.token({ rawUid }), status: 'Success', uid: rawUid });
          break;
        case 1: {
          const token = bid.token({ rawUid, clientSideGenerated: true });
          tokens.push({ line: JSON.stringify({ token, domainOrAppName: 'NEWS.publisher.test' }), status: 'Success', uid: rawUid });
          break;
        }
        case 2: {
          const token = bid.token({ rawUid, clientSideGenerated: true });
          tokens.push({ line: JSON.stringify({ token, domainOrAppName: 'evil.test' }), status: 'DomainOrAppNameCheckFailed', uid: null });
          break;
        }
        case 3:
          tokens.push({ line: JSON.stringify({ token: bid.token({ rawUid }) }), status: 'Success', uid: rawUid });
          break;
        default:
          tokens.push({ line: bid.token({ rawUid, expiresMs: NOW_MS - 1000 }), status: 'ExpiredToken', uid: null });
      }
    }
    const input = tokens.map((t) => t.line).join('\n') + '\n';
    const run = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO], input);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const records = jsonLines(run.stdout);
    expect(records.map((r) => [r['status'], r['uid']])).toEqual(tokens.map((t) => [t.status, t.uid]));
  });

  it('a CSTG token without a name fails; --domain supplies one for arguments and plain lines', async () => {
    const token = bid.token({ clientSideGenerated: true });
    const without = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, token]);
    expect(jsonLines(without.stdout)[0]!['status']).toBe('DomainOrAppNameCheckFailed');
    const withDomain = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, '--domain', 'publisher.test', token]);
    expect(jsonLines(withDomain.stdout)[0]).toMatchObject({ status: 'Success', isClientSideGenerated: true });
    const stdin = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, '--domain', 'publisher.test'], `${token}\n`);
    expect(jsonLines(stdin.stdout)[0]!['status']).toBe('Success');
  });

  it('CRLF line endings, a last line without newline, and malformed JSON lines', async () => {
    const a = bid.token();
    const b = bid.token();
    const input = `${a}\r\n{"token": 5}\r\n{not json\r\n${b}`;
    const run = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO], input);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((r) => r['status'])).toEqual(['Success', 'InvalidPayload', 'InvalidPayload', 'Success']);
  });

  it('--input FILE reads tokens from a file', async () => {
    const tokens = [bid.token(), bid.token({ expiresMs: NOW_MS - 1 })];
    const path = join(dir, 'tokens.txt');
    writeFileSync(path, tokens.join('\n') + '\n');
    const run = await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, '--input', path]);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((r) => r['status'])).toEqual(['Success', 'ExpiredToken']);
  });

  it('--now as ISO 8601 and as Unix ms mean the same instant', async () => {
    const token = bid.token({ expiresMs: NOW_MS + 1000 });
    const valid = [NOW_ISO, String(NOW_MS), String(NOW_MS + 1000), new Date(NOW_MS + 1000).toISOString()];
    const expired = [String(NOW_MS + 1001), new Date(NOW_MS + 1001).toISOString()];
    for (const now of valid) {
      expect(jsonLines((await runCli(['decrypt', '--keys', bidKeys, '--now', now, token])).stdout)[0]!['status']).toBe('Success');
    }
    for (const now of expired) {
      expect(jsonLines((await runCli(['decrypt', '--keys', bidKeys, '--now', now, token])).stdout)[0]!['status']).toBe(
        'ExpiredToken',
      );
    }
  });

  it('--client sharing and legacy apply their own rules', async () => {
    // 5 hours of lifetime: over the 2-hour bidstream limit, within the sharing limit.
    const long = bid.token({ generatedMs: NOW_MS, expiresMs: NOW_MS + 5 * HOUR_MS });
    const cstg = bid.token({ clientSideGenerated: true });
    const statuses = async (client: string[]): Promise<unknown[]> =>
      jsonLines((await runCli(['decrypt', '--keys', bidKeys, '--now', NOW_ISO, ...client, long, cstg])).stdout).map((r) => r['status']);
    expect(await statuses([])).toEqual(['InvalidTokenLifetime', 'DomainOrAppNameCheckFailed']);
    expect(await statuses(['--client', 'bidstream'])).toEqual(['InvalidTokenLifetime', 'DomainOrAppNameCheckFailed']);
    expect(await statuses(['--client', 'sharing'])).toEqual(['Success', 'Success']);
    expect(await statuses(['--client', 'legacy'])).toEqual(['Success', 'DomainOrAppNameCheckFailed']);
  });

  it('a test-vector key-set entry ({endpoint, response}) is accepted as a key file', async () => {
    const path = writeKeys('vector-entry.json', { endpoint: '/v2/key/bidstream', response: bid.response });
    const run = await runCli(['decrypt', '--keys', path, '--now', NOW_ISO, bid.token()]);
    expect(jsonLines(run.stdout)[0]!['status']).toBe('Success');
  });
});

describe('encrypt', () => {
  it('encrypt then decrypt round-trips raw UIDs (arguments and stdin)', async () => {
    const rawUids = [randomRawUid('Email'), randomRawUid('Phone'), randomRawUid()];
    const enc = await runCli(['encrypt', '--keys', shareKeys, '--now', String(NOW_MS), ...rawUids.slice(0, 2)]);
    const encStdin = await runCli(['encrypt', '--keys', shareKeys, '--now', NOW_ISO], `${rawUids[2]}\nnot base64!\n`);
    expect(enc.stderr).toBe('');
    expect(enc.code).toBe(0);
    const records = [...jsonLines(enc.stdout), ...jsonLines(encStdin.stdout)];
    expect(records.map((r) => r['status'])).toEqual(['Success', 'Success', 'Success', 'EncryptionFailure']);
    expect(records[3]!['token']).toBeNull();
    const tokens = records.slice(0, 3).map((r) => r['token'] as string);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]+$/);

    const dec = await runCli(['decrypt', '--keys', shareKeys, '--client', 'sharing', '--now', NOW_ISO, ...tokens]);
    expect(dec.code).toBe(0);
    expect(jsonLines(dec.stdout)).toEqual(
      rawUids.map((uid, i) => ({
        status: 'Success',
        uid,
        siteId: CALLER_SITE_ID,
        identityType: i === 1 ? 'Phone' : 'Email',
        advertisingTokenVersion: 4,
        isClientSideGenerated: false,
        established: NOW_ISO,
        expiry: new Date(NOW_MS + 30 * DAY_MS).toISOString(),
      })),
    );
  });

  it('bidstream keys cannot encrypt: NotAuthorizedForMasterKey per raw UID', async () => {
    const run = await runCli(['encrypt', '--keys', bidKeys, '--now', NOW_ISO, randomRawUid()]);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)).toEqual([{ status: 'NotAuthorizedForMasterKey', token: null }]);
  });
});

describe('bad keys files exit 2 with one line on stderr', () => {
  it('a missing file', async () => {
    const missing = join(dir, 'does-not-exist.json');
    expectUsageError(await runCli(['decrypt', '--keys', missing, 'AAAA']), /cannot read keys file .*does-not-exist\.json: ENOENT/);
    expectUsageError(await runCli(['encrypt', '--keys', missing, randomRawUid()]), /cannot read keys file/);
  });

  it('a file that is not JSON', async () => {
    const path = writeKeys('not-json.json', 'this is { not json');
    expectUsageError(await runCli(['decrypt', '--keys', path, 'AAAA']), /keys file .*not-json\.json is invalid: not JSON/);
  });

  it('an empty file', async () => {
    expectUsageError(await runCli(['decrypt', '--keys', writeKeys('empty.json', ''), 'AAAA']), /is invalid/);
  });

  it.each([
    ['error status', { status: 'error' }, /status is "error"/],
    ['key without secret', { body: [{ id: 5 }] }, /body\[0\]\.secret is missing/],
    ['bad secret', { body: { keys: [{ id: 1, activates: 1, expires: 2, secret: 'short' }] } }, /secret must be base64 of 32 bytes/],
    ['array of numbers', [1, 2, 3], /body\[0\] must be an object/],
  ])('invalid keys: %s', async (name, content, pattern) => {
    const path = writeKeys(`invalid-${name.replace(/\W+/g, '-')}.json`, content);
    const run = await runCli(['decrypt', '--keys', path, 'AAAA']);
    expectUsageError(run, pattern);
    expect(run.stderr).toMatch(/is invalid: /);
  });

  it('no --keys at all', async () => {
    // Without UID2_* credentials in the environment, which could stand in for --keys.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UID2_')));
    expectUsageError(await runCli(['decrypt', 'AAAA'], '', env), /no keys: pass --keys FILE/);
  });

  it('the key secrets never appear in error output', async () => {
    const broken = { ...share.response, body: { ...share.response.body, identity_scope: ['MARS'] } };
    const run = await runCli(['decrypt', '--keys', writeKeys('secret-bearing.json', broken), 'AAAA']);
    expectUsageError(run, /identity_scope must be a string, got array/);
    expect(run.stderr).not.toContain(share.master.secret.toString('base64'));
  });
});

describe('usage errors exit 2 with one line on stderr', () => {
  it('an unknown option', async () => {
    expectUsageError(await runCli(['decrypt', '--keys', bidKeys, '--bogus', 'AAAA']), /--bogus/);
    expectUsageError(await runCli(['encrypt', '--keys', shareKeys, '--client', 'sharing', 'AAAA']), /--client/);
  });

  it('an option missing its value', async () => {
    expectUsageError(await runCli(['decrypt', '--keys']), /--keys/);
  });

  it('a bad --client', async () => {
    expectUsageError(await runCli(['decrypt', '--keys', bidKeys, '--client', 'dsp', 'AAAA']), /--client must be bidstream, sharing or legacy, got "dsp"/);
  });

  it.each(['yesterday', '', '12abc', '2030-13-45T00:00:00Z'])('a bad --now %j', async (now) => {
    expectUsageError(await runCli(['decrypt', '--keys', bidKeys, '--now', now, 'AAAA']), /--now must be an ISO 8601 time or Unix milliseconds/);
  });

  it('an unknown command', async () => {
    expectUsageError(await runCli(['decrypto', 'AAAA']), /unknown command "decrypto"/);
  });
});

describe('--help and --version', () => {
  it.each([[['--help']], [['-h']], [['help']], [[]], [['decrypt', '--help']], [['encrypt', '-h']]])('%j prints usage', async (args) => {
    const run = await runCli(args);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Usage: uid2-engine <command>/);
    expect(run.stdout).toContain('decrypt');
    expect(run.stdout).toContain('encrypt');
  });

  it.each([['--version'], ['-v']])('%s prints the package version', async (flag) => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await runCli([flag]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${pkg.version}\n`);
  });
});
