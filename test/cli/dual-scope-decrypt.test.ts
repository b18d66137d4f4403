/**
 * `decrypt` with a key set per identity scope, through the built CLI (dist/, `npm run build`
 * first): a corpus mixing UID2 and EUID tokens (both scopes' edge cases) gives, token by token,
 * the record the single-scope `decrypt` gives with the keys of the scope the token's header names
 * (identityScopeOf; v2 and unreadable tokens go to UID2). Both the bulk path (`--input`, worker
 * threads) and TOKEN arguments (in-process); key files, and `operator --scope both` with the
 * EUID_* variables beside the UID2_* ones.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityScopeOf } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { CLI_PATH, jsonLines, runCli, type CliRun } from '../helpers/cli.js';

const HOUR_MS = 3_600_000;
const VARIABLES = ['UID2_BASE_URL', 'UID2_API_KEY', 'UID2_SECRET_KEY', 'EUID_BASE_URL', 'EUID_API_KEY', 'EUID_SECRET_KEY'];

/** The test runner's environment without UID2_* or EUID_* credentials, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of VARIABLES) delete env[name];
  return { ...env, ...extra };
}

function run(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, undefined, cleanEnv(env));
}

let uid2: LocalOperator;
let euid: LocalOperator;
let dir: string;
let uid2Keys: string;
let euidKeys: string;
let nowMs: number;
let corpus: string[];
let corpusFile: string;

/** Both scopes' edge cases, interleaved, plus lines no header can route. */
function mixedCorpus(): string[] {
  const tokens: string[] = [];
  for (const op of [uid2, euid]) {
    const rawUid = op.rawUidFor(`dual-${op.identityScope}@example.com`);
    tokens.push(
      op.mintToken({ version: 4, rawUid }),
      op.mintToken({ version: 3, rawUid, identityType: 'Phone' }),
      op.mintToken({ version: 4, rawUid, encoding: 'base64' }),
      op.mintToken({ version: 4, rawUid, siteId: 1002 }),
      op.mintToken({ version: 4, rawUid, clientSideGenerated: true }),
      op.mintToken({ version: 4, rawUid, expiresMs: nowMs - 1 }),
      // Over the bidstream lifetime limit.
      op.mintToken({ version: 4, rawUid, generatedMs: nowMs, expiresMs: nowMs + 10 * 24 * HOUR_MS }),
      // v2 tokens carry no scope: UID2's keys judge them, whichever operator minted them.
      op.mintToken({ version: 2, rawUid }),
    );
  }
  // Interleave the scopes so routing, not position, decides.
  const half = tokens.length / 2;
  const mixed = tokens.slice(0, half).flatMap((t, i) => [t, tokens[half + i]!]);
  return [...mixed, 'not-a-token', 'AAAA', ''.padEnd(40, 'x')];
}

beforeAll(async () => {
  [uid2, euid] = await Promise.all([startLocalOperator(), startLocalOperator({ identityScope: 'EUID' })]);
  dir = mkdtempSync(join(tmpdir(), 'uid2-dual-decrypt-test-'));
  uid2Keys = join(dir, 'uid2.json');
  euidKeys = join(dir, 'euid.json');
  writeFileSync(uid2Keys, JSON.stringify(uid2.keyResponse('bidstream')));
  writeFileSync(euidKeys, JSON.stringify(euid.keyResponse('bidstream')));
  nowMs = Date.now();
  corpus = mixedCorpus();
  corpusFile = join(dir, 'mixed.txt');
  writeFileSync(corpusFile, corpus.join('\n') + '\n');
});
afterAll(async () => {
  await Promise.all([uid2.close(), euid.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Records of a successful run, one per corpus token. */
function records(result: CliRun): Record<string, unknown>[] {
  expect(result.code, result.stderr).toBe(0);
  const lines = jsonLines(result.stdout);
  expect(lines).toHaveLength(corpus.length);
  return lines;
}

/** What each token gets from the single-scope decrypt with the keys of its routed scope. */
async function expectedRecords(extra: string[]): Promise<Record<string, unknown>[]> {
  const [byUid2, byEuid] = await Promise.all(
    [uid2Keys, euidKeys].map(async (keys) => records(await run(['decrypt', '--keys', keys, '--now', String(nowMs), ...extra]))),
  );
  return corpus.map((token, i) => (identityScopeOf(token) === 'EUID' ? byEuid : byUid2)[i]!);
}

describe('decrypt --keys UID2 --euid-keys EUID', () => {
  it('the corpus is mixed, and each single-scope run fails the other scope\'s tokens', async () => {
    expect(corpus.filter((t) => identityScopeOf(t) === 'EUID')).toHaveLength(7);
    const single = records(await run(['decrypt', '--keys', uid2Keys, '--now', String(nowMs), '--input', corpusFile, '--threads', '1']));
    const euidStatuses = corpus.flatMap((t, i) => (identityScopeOf(t) === 'EUID' ? [single[i]!['status']] : []));
    expect(new Set(euidStatuses)).toEqual(new Set(['InvalidIdentityScope']));
  });

  it('--input (worker threads): every record equals the single-scope one of its scope', async () => {
    const expected = await expectedRecords(['--input', corpusFile, '--threads', '1']);
    const dual = await run(['decrypt', '--keys', uid2Keys, '--euid-keys', euidKeys, '--now', String(nowMs), '--input', corpusFile, '--threads', '1']);
    expect(records(dual)).toEqual(expected);
    const statuses = expected.map((r) => r['status']);
    // Both scopes' valid tokens succeed, so the routing is not vacuous: UID2's v4, v3, base64,
    // site-1002 and v2 tokens, EUID's first four (its v2 token went to UID2's keys).
    expect(statuses.filter((s) => s === 'Success').length).toBe(9);
    expect(statuses).toContain('ExpiredToken');
    expect(statuses).toContain('InvalidTokenLifetime');
    expect(statuses).toContain('DomainOrAppNameCheckFailed');
    expect(dual.stderr).toMatch(/^uid2-engine: 19 tokens in .*Success 9/);
    // The bulk path in-process (--threads 0) routes the same way.
    const inProcess = await run(['decrypt', '--keys', uid2Keys, '--euid-keys', euidKeys, '--now', String(nowMs), '--input', corpusFile, '--threads', '0']);
    expect(records(inProcess)).toEqual(expected);
  });

  it('TOKEN arguments (in-process): the same records', async () => {
    const tokens = corpus.filter((t) => t.length > 0);
    const expected = await expectedRecords(tokens);
    const dual = records(await run(['decrypt', '--keys', uid2Keys, '--euid-keys', euidKeys, '--now', String(nowMs), ...tokens]));
    expect(dual).toEqual(expected);
  });

  it('an EUID-only run: EUID tokens decrypt, the others answer NotInitialized', async () => {
    const result = records(await run(['decrypt', '--euid-keys', euidKeys, '--now', String(nowMs), '--input', corpusFile, '--threads', '1']));
    const expected = await expectedRecords(['--input', corpusFile, '--threads', '1']);
    for (const [i, token] of corpus.entries()) {
      if (identityScopeOf(token) === 'EUID') expect(result[i]).toEqual(expected[i]);
      else expect(result[i]!['status']).toBe('NotInitialized');
    }
  });

  it('a UID2 key file passed to --euid-keys is a usage error (exit 2)', async () => {
    const result = await run(['decrypt', '--keys', uid2Keys, '--euid-keys', uid2Keys, corpus[0]!]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`uid2-engine: --euid-keys ${uid2Keys} holds UID2 keys, not EUID keys (UID2 keys go to --keys)\n`);
  });
});

describe('decrypt with EUID_* beside UID2_* from operator --scope both', () => {
  it('refreshes both scopes and decrypts each scope\'s sharing tokens from encrypt', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'operator', '--scope', 'both'], { env: cleanEnv() });
    try {
      let stdout = '';
      child.stdout.setEncoding('utf8');
      while ((stdout.match(/\n/g) ?? []).length < 6) stdout += ((await once(child.stdout, 'data')) as [string])[0];
      const env = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
      const rawUid = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
      // encrypt reads one scope's credentials: the EUID ones given as its flags.
      const uid2Token = jsonLines((await run(['encrypt', rawUid], env)).stdout)[0]!['token'] as string;
      const euidArgs = ['--base-url', env['EUID_BASE_URL']!, '--api-key', env['EUID_API_KEY']!, '--secret-key', env['EUID_SECRET_KEY']!];
      const euidToken = jsonLines((await run(['encrypt', ...euidArgs, rawUid])).stdout)[0]!['token'] as string;
      expect([identityScopeOf(uid2Token), identityScopeOf(euidToken)]).toEqual(['UID2', 'EUID']);

      const dual = await run(['decrypt', '--client', 'sharing', uid2Token, euidToken], env);
      expect(dual.code, dual.stderr).toBe(0);
      expect(jsonLines(dual.stdout).map((r) => [r['status'], r['uid']])).toEqual([
        ['Success', rawUid],
        ['Success', rawUid],
      ]);
      for (const secret of [env['UID2_API_KEY']!, env['UID2_SECRET_KEY']!, env['EUID_API_KEY']!, env['EUID_SECRET_KEY']!]) {
        expect(dual.stdout + dual.stderr).not.toContain(secret);
      }
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
