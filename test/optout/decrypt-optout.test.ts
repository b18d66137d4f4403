/**
 * Opt-outs checked at decrypt time: the clients' `optOut` option, `decrypt --optout-store`, and
 * the acceptance path end to end over loopback: the operator opts a raw UID out, delivers it to
 * the webhook, the receiver stores it, and the next decrypt of a token for it says optedOut.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionEngine, DecryptionStatus, SharingClient, createOptOutHandler } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { applyOptOut } from '../../src/optout/check.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

let dir: string;
let store: FileOptOutStore;
let receiver: Server;
let op: LocalOperator;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uid2-decrypt-optout-'));
  store = await FileOptOutStore.open(join(dir, 'optouts.log'));
  receiver = createServer(createOptOutHandler(store, { path: '/optout', token: 'hook-token' }));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  op = await startLocalOperator({
    optOutWebhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/optout`, headers: { Authorization: 'Bearer hook-token' } },
  });
});
afterAll(async () => {
  await op.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function bidstream(options: ConstructorParameters<typeof BidstreamClient>[3]): Promise<BidstreamClient> {
  const client = new BidstreamClient(op.url, op.apiKey, op.secretKey, options);
  expect((await client.refresh()).success).toBe(true);
  return client;
}

describe('decrypt-time opt-out check', () => {
  it('end to end: operator opt-out -> webhook -> store -> the next decrypt says optedOut (uid withheld), within 1 s', async () => {
    const client = await bidstream({ optOut: store });
    const rawUid = op.randomRawUid();
    const token = op.mintToken({ version: 4, rawUid });
    expect(client.decryptTokenIntoRawUid(token)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, optedOut: false });
    const res = await fetch(`${op.url}/local/optout`, { method: 'POST', headers: { Authorization: `Bearer ${op.apiKey}` }, body: JSON.stringify({ advertising_id: rawUid }) });
    expect(res.status).toBe(200);
    // A condition wait bounded at 1 s (40 x 25 ms): the acceptance bound, not a benchmark.
    const result = await until(() => client.decryptTokenIntoRawUid(token), (r) => r.optedOut === true, 'optedOut within 1 s', 40, 25);
    expect(result.status).toBe(DecryptionStatus.Success);
    expect(result.uid).toBeUndefined();
    await until(() => op.deliveredOptOuts(), (d) => d.includes(rawUid), 'the operator to see the 200');
  });

  it.each([false, true])('end to end through DecryptionEngine (token cache %s): optedOut within 1 s of the operator opt-out', async (tokenCache) => {
    const engine = await DecryptionEngine.create({ threads: 1, baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey, optOut: store, tokenCache });
    try {
      const rawUid = op.randomRawUid();
      const token = op.mintToken({ version: 4, rawUid });
      // Decrypted (and, with the cache, cached) before the opt-out exists.
      expect(await engine.decrypt(token)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, optedOut: false });
      expect(await engine.decrypt(token)).toMatchObject({ uid: rawUid, optedOut: false });
      const res = await fetch(`${op.url}/local/optout`, { method: 'POST', headers: { Authorization: `Bearer ${op.apiKey}` }, body: JSON.stringify({ advertising_id: rawUid }) });
      expect(res.status).toBe(200);
      const result = await until(() => engine.decrypt(token), (r) => r.optedOut === true, 'optedOut within 1 s', 40, 25);
      expect({ status: result.status, uid: result.uid }).toEqual({ status: DecryptionStatus.Success, uid: undefined });
      if (tokenCache) expect(engine.stats().tokenCache!.hits).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });

  it('keeps the uid for audits when asked, leaves statuses alone, and marks results without a uid optedOut: false', async () => {
    const rawUid = op.randomRawUid();
    await store.add(rawUid, Date.now());
    const audit = await bidstream({ optOut: store, returnOptedOutUid: true });
    const token = op.mintToken({ version: 3, rawUid });
    expect(audit.decryptTokenIntoRawUid(token)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, optedOut: true });
    const expired = op.mintToken({ version: 4, rawUid, expiresMs: Date.now() - 60_000, generatedMs: Date.now() - 120_000 });
    expect(audit.decryptTokenIntoRawUid(expired)).toMatchObject({ status: DecryptionStatus.ExpiredToken, optedOut: false });
    expect(audit.decryptTokenIntoRawUid('garbage')).toEqual({ status: DecryptionStatus.VersionNotSupported, optedOut: false });
    // v2 tokens carry an identity string, never a raw UID in base64: never opted out.
    expect(audit.decryptTokenIntoRawUid(op.mintToken({ version: 2, rawUid: 'someone@example.com' }))).toMatchObject({ optedOut: false });
    const plain = await bidstream(undefined);
    expect(plain.decryptTokenIntoRawUid(token).optedOut).toBeUndefined();

    const sharing = new SharingClient(op.url, op.apiKey, op.secretKey, { optOut: store });
    expect((await sharing.refresh()).success).toBe(true);
    const shared = sharing.encryptRawUidIntoToken(rawUid).encryptedData!;
    const r = sharing.decryptTokenIntoRawUid(shared);
    expect(r).toMatchObject({ status: DecryptionStatus.Success, optedOut: true });
    expect(r.uid).toBeUndefined();
  });

  it('validates the options', () => {
    expect(() => new BidstreamClient(undefined, undefined, undefined, { optOut: {} as never })).toThrow('options.optOut must be an OptOutStore (e.g. FileOptOutStore)');
    expect(() => new BidstreamClient(undefined, undefined, undefined, { returnOptedOutUid: 'yes' as never })).toThrow('options.returnOptedOutUid must be a boolean');
    const result = { status: DecryptionStatus.Success, uid: randomBytes(32).toString('base64') };
    expect(applyOptOut(result, { has: () => true })).toEqual({ status: DecryptionStatus.Success, optedOut: true });
  });

  it('decrypt --optout-store FILE: records gain optedOut, "uid": null when withheld, the uid with --optout-keep-uid', async () => {
    const opted = op.randomRawUid();
    const kept = op.randomRawUid();
    const path = join(dir, 'cli.log');
    const cliStore = await FileOptOutStore.open(path);
    await cliStore.add(opted, Date.now());
    await cliStore.close();
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify(op.keyResponse('bidstream')));
    const tokens = [op.mintToken({ version: 4, rawUid: opted }), op.mintToken({ version: 4, rawUid: kept }), 'garbage'];
    const run = await runCli(['decrypt', '--keys', keysFile, '--optout-store', path, ...tokens]);
    expect(run.stderr).toBe('');
    const records = jsonLines(run.stdout);
    expect(records.map((r) => [r['status'], r['uid'], r['optedOut']])).toEqual([
      ['Success', null, true],
      ['Success', kept, false],
      ['VersionNotSupported', null, false],
    ]);
    const audit = jsonLines((await runCli(['decrypt', '--keys', keysFile, '--optout-store', path, '--optout-keep-uid', tokens[0]!])).stdout);
    expect(audit[0]).toMatchObject({ uid: opted, optedOut: true });
    const streamed = jsonLines((await runCli(['decrypt', '--keys', keysFile, '--optout-store', path, '--threads', '1'], `${tokens.join('\n')}\n`)).stdout);
    expect(streamed.map((r) => r['optedOut'])).toEqual([true, false, false]);
    const none = jsonLines((await runCli(['decrypt', '--keys', keysFile, tokens[0]!])).stdout);
    expect(none[0]).not.toHaveProperty('optedOut');
    const missing = await runCli(['decrypt', '--keys', keysFile, '--optout-store', join(dir, 'nope.log'), tokens[0]!]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot open opt-out store');
  });
});
