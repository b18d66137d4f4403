/**
 * `uid2-engine token generate|refresh`, run as a user would (the built CLI in a child process)
 * against the local operator over loopback: output shapes, piping generate into refresh, values
 * read from stdin, exit codes, and no email or phone number in any error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { runCli, type CliRun } from '../helpers/cli.js';

let op: LocalOperator;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  op = await startLocalOperator();
  env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey };
});
afterAll(() => op.close());

function output(run: CliRun): { status: string; identity?: Record<string, unknown> } {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toBe('');
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as { status: string; identity?: Record<string, unknown> };
}

describe('uid2-engine token', () => {
  it('generate prints the identity; refresh takes it on stdin; the tokens decrypt to the same raw UID', async () => {
    const generated = output(await runCli(['token', 'generate', '--email', 'Jane.Doe@example.com'], '', env));
    expect(generated.status).toBe('success');
    expect(Object.keys(generated.identity!)).toEqual(['advertising_token', 'refresh_token', 'identity_expires', 'refresh_expires', 'refresh_from', 'refresh_response_key']);
    const refreshed = output(await runCli(['token', 'refresh'], JSON.stringify(generated), env));
    expect(refreshed.status).toBe('success');
    const bidder = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    await bidder.refresh();
    const a = bidder.decryptTokenIntoRawUid(generated.identity!['advertising_token'] as string);
    const b = bidder.decryptTokenIntoRawUid(refreshed.identity!['advertising_token'] as string);
    expect(a.status).toBe(DecryptionStatus.Success);
    expect(b.uid).toBe(a.uid);
  });

  it('reads the value from stdin with -, and an identity from --identity FILE', async () => {
    const fromStdin = output(await runCli(['token', 'generate', '--phone', '-'], '+12025550123\n', env));
    expect(fromStdin.status).toBe('success');
    const file = join(mkdtempSync(join(tmpdir(), 'uid2-token-')), 'identity.json');
    writeFileSync(file, JSON.stringify(fromStdin.identity));
    expect(output(await runCli(['token', 'refresh', '--identity', file], '', env)).status).toBe('success');
    const hash = output(await runCli(['token', 'generate', '--email-hash', 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs='], '', env));
    expect(hash.status).toBe('success');
  });

  it('prints optout for the opt-out test identities, and refuses to refresh that output', async () => {
    const run = await runCli(['token', 'generate', '--email', 'optout@example.com'], '', env);
    expect(output(run)).toEqual({ status: 'optout' });
    const refresh = await runCli(['token', 'refresh'], run.stdout, env);
    expect(refresh.code).toBe(2);
    expect(refresh.stderr).toMatch(/opted out/);
  });

  it.each([
    [['token', 'generate', '--email', 'secret.person@'], /token generate failed \(--email\): input.email is not a valid email address/],
    [['token', 'generate', '--phone', '+1 555 867 5309'], /input.phone is not a normalized phone number/],
    [['token', 'generate'], /exactly one of --email, --phone, --email-hash, --phone-hash/],
    [['token', 'generate', '--email', 'a@b.com', '--phone-hash', 'x'], /exactly one of/],
    [['token', 'refresh', '--email', 'secret.person@example.com'], /--email is for token generate/],
    [['token', 'refresh'], /the identity is not JSON/],
    [['token', 'refresh', '--identity', '/nonexistent/identity.json'], /cannot read --identity/],
    [['token'], /token needs a subcommand: generate or refresh/],
    [['token', 'mint'], /unknown token subcommand "mint"/],
  ])('%j exits 2 with one line, never the email or phone', async (args, pattern) => {
    const run = await runCli(args, '', env);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toMatch(/secret\.person|867 5309/);
  });

  it('a refresh of something that is not an identity exits 2', async () => {
    const run = await runCli(['token', 'refresh'], '{"advertising_token": "x"}', env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/UID2_ERR_IDENTITY_TOKENS/);
  });

  it('missing credentials exit 2; a service that cannot be reached exits 3', async () => {
    const bare = { ...process.env, UID2_BASE_URL: '', UID2_API_KEY: '', UID2_SECRET_KEY: '' };
    const none = await runCli(['token', 'generate', '--email', 'a@b.com'], '', bare);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no service credentials: pass --base-url, --api-key and --secret-key/);
    const some = await runCli(['token', 'generate', '--email', 'a@b.com', '--base-url', op.url], '', bare);
    expect(some.stderr).toMatch(/missing --api-key \(or UID2_API_KEY\), --secret-key/);
    const down = await runCli(['token', 'generate', '--email', 'secret.person@example.com', '--base-url', 'http://127.0.0.1:1', '--timeout', '2000'], '', env);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/UID2_ERR_SERVICE_NETWORK/);
    expect(down.stderr).not.toMatch(/secret\.person/);
    const wrongKey = await runCli(['token', 'generate', '--email', 'a@b.com', '--api-key', 'wrong'], '', env);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/HTTP 401/);
    expect(wrongKey.stderr).not.toContain(op.secretKey);
  });
});
