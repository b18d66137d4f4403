/**
 * With known credentials, runs the CLI, the engine and the tools through success and failure
 * paths, captures everything they print or report, and greps it all for the api key, the client
 * secret, every key secret and the raw UIDs involved. Decrypt's stdout is the one place a raw UID
 * belongs (it is the product); it is checked for credentials only.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/operator/local-operator.js';
import { runCli } from '../helpers/cli.js';

const API_KEY = 'UID2-C-L-4242-SecretApiKeyValue.shouldNeverPrint';
const SECRET_KEY = Buffer.alloc(32, 0x5a).toString('base64');

describe('no secret or raw UID in anything printed or reported', () => {
  let op: LocalOperator;
  let keySecrets: string[];
  let rawUid: string;
  let token: string;
  const captured: { where: string; text: string; mayHoldRawUid?: boolean }[] = [];

  beforeAll(async () => {
    op = await startLocalOperator({ apiKey: API_KEY, secretKey: SECRET_KEY });
    const body = (op.keyResponse('sharing') as { body: { keys: { secret: string }[] } }).body;
    keySecrets = body.keys.map((k) => k.secret);
    rawUid = op.rawUidFor('the-user-whose-uid-must-not-leak');
    token = op.mintToken({ version: 4, rawUid });
  });
  afterAll(() => op.close());

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: API_KEY, UID2_SECRET_KEY: SECRET_KEY });

  it('CLI: keys, decrypt, encrypt, refresh failures, bad key files', async () => {
    const runs: [string[], NodeJS.ProcessEnv?][] = [
      [['keys'], env()],
      [['keys', '--sharing'], env()],
      [['decrypt', token], env()],
      [['encrypt', rawUid], env()],
      [['keys', '--base-url', op.url, '--api-key', 'wrong', '--secret-key', SECRET_KEY]],
      [['decrypt', '--base-url', op.url, '--api-key', API_KEY, '--secret-key', Buffer.alloc(32, 1).toString('base64'), token]],
    ];
    for (const [args, e] of runs) {
      const run = await runCli(args, undefined, e);
      const stdoutHoldsProduct = args[0] === 'decrypt' || args[0] === 'encrypt';
      captured.push({ where: `cli ${args[0]} stderr`, text: run.stderr });
      captured.push({ where: `cli ${args[0]} stdout`, text: run.stdout, mayHoldRawUid: stdoutHoldsProduct });
    }
    for (const fault of [{ kind: 'http-error', status: 500 }, { kind: 'wrong-nonce' }, { kind: 'garbage-body' }, { kind: 'truncated-body' }] as const) {
      op.setFault(fault);
      const run = await runCli(['decrypt', token], undefined, env());
      expect(run.code).toBe(3);
      captured.push({ where: `cli refresh failure ${fault.kind}`, text: run.stderr + run.stdout });
    }
    op.setFault(null);
    const dir = mkdtempSync(join(tmpdir(), 'uid2-nosecret-'));
    const badKeys = join(dir, 'keys.json');
    const keyJson = JSON.stringify(op.keyResponse('bidstream'));
    writeFileSync(badKeys, keyJson.replace('"keys"', '"keyz"'));
    const bad = await runCli(['decrypt', '--keys', badKeys, token]);
    expect(bad.code).toBe(2);
    captured.push({ where: 'cli bad key file', text: bad.stderr });
    writeFileSync(badKeys, keyJson.slice(0, keyJson.length / 2));
    const truncated = await runCli(['decrypt', '--keys', badKeys, token]);
    expect(truncated.code).toBe(2);
    captured.push({ where: 'cli truncated key file', text: truncated.stderr });
  });

  it('engine: stats, inspect, errors', async () => {
    const engine = await DecryptionEngine.create({ baseUrl: op.url, apiKey: API_KEY, secretKey: SECRET_KEY, threads: 1 });
    const result = await engine.decrypt(token);
    expect(result.uid).toBe(rawUid);
    captured.push({ where: 'engine stats', text: JSON.stringify(engine.stats()) });
    captured.push({ where: 'engine inspect', text: inspect(engine, { showHidden: true, depth: 6, getters: true }) });
    captured.push({ where: 'engine keySet', text: JSON.stringify(engine.keySet) + inspect(engine.keySet, { showHidden: true, depth: 6 }) });
    await engine.close();
    const failures = await Promise.allSettled([
      DecryptionEngine.create({ baseUrl: op.url, apiKey: 'nope', secretKey: SECRET_KEY, threads: 1 }),
      DecryptionEngine.create({ baseUrl: op.url, apiKey: API_KEY, secretKey: Buffer.alloc(32, 2).toString('base64'), threads: 1 }),
      DecryptionEngine.create({ baseUrl: op.url, apiKey: API_KEY, secretKey: 'not base64!', threads: 1 }),
    ]);
    for (const f of failures) {
      expect(f.status).toBe('rejected');
      const err = (f as PromiseRejectedResult).reason as Error;
      captured.push({ where: 'engine create error', text: `${err.message} ${err.stack} ${inspect(err, { depth: 6 })}` });
    }
  });

  it('none of it contains a secret; only decrypt/encrypt stdout contains a raw UID', () => {
    expect(captured.length).toBeGreaterThan(15);
    const secrets = [API_KEY, SECRET_KEY, ...keySecrets];
    for (const c of captured) {
      for (const s of secrets) expect(c.text.includes(s), `${c.where} contains a secret`).toBe(false);
      if (!c.mayHoldRawUid) expect(c.text.includes(rawUid), `${c.where} contains a raw UID`).toBe(false);
    }
    // The scan would see them if they were there.
    expect(captured.some((c) => c.mayHoldRawUid && c.text.includes(rawUid))).toBe(true);
  });
});

describe('JSON syntax errors never quote the input', () => {
  it('parseKeys and the CLI report a position, not a snippet of a key secret', async () => {
    const { parseKeys } = await import('../../src/index.js');
    const secret = Buffer.alloc(32, 0x33).toString('base64');
    for (const text of [`[${secret}]`, `{"keys": ${secret}}`, `${secret}`, `{"keys":[{"secret":"${secret}" ${secret}}]}`]) {
      let message = '';
      try {
        parseKeys(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^key JSON does not parse: (syntax error|unexpected end of input)/);
      expect(message).not.toContain(secret.slice(0, 6));
      const dir = mkdtempSync(join(tmpdir(), 'uid2-json-'));
      writeFileSync(join(dir, 'k.json'), text);
      const run = await runCli(['decrypt', '--keys', join(dir, 'k.json'), 'AAAA']);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toContain(secret.slice(0, 6));
    }
  });
});
