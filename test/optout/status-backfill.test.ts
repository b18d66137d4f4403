/**
 * Opt-out status backfill: `client.optOutStatus()` against the real local operator over
 * loopback (batches of 5,000, one after another, typed errors), against a hostile server for
 * malformed answers, and `uid2-engine optout backfill` end to end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  BidstreamClient,
  InvalidArgumentError,
  OptOutResponseError,
  ServiceHttpError,
  ServiceTimeoutError,
  openRequest,
  sealResponse,
  startLocalOperator,
  type LocalOperator,
} from '../../src/index.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { runCli } from '../helpers/cli.js';

let op: LocalOperator;
let dir: string;
beforeAll(async () => {
  op = await startLocalOperator();
  dir = mkdtempSync(join(tmpdir(), 'uid2-backfill-'));
});
afterAll(async () => {
  await op.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => op.setFault(null));

const uid = (): string => randomBytes(32).toString('base64');
const client = (): BidstreamClient => new BidstreamClient(op.url, op.apiKey, op.secretKey, { timeoutMs: 5000 });

describe('client.optOutStatus', () => {
  it('asks in batches of 5,000, one after another, and returns exactly the opted-out raw UIDs with their times', async () => {
    const list = Array.from({ length: 12_000 }, uid);
    const opted = new Map<string, number>();
    list.forEach((u, i) => {
      if (i % 7 === 0) {
        op.optOut(u, 1_700_000_000_000 + i);
        opted.set(u, 1_700_000_000_000 + i);
      }
    });
    const before = op.requests.length;
    const found = await client().optOutStatus(list);
    const calls = op.requests.slice(before);
    expect(calls.map((r) => [r.path, r.status])).toEqual([
      ['/v2/optout/status', 200],
      ['/v2/optout/status', 200],
      ['/v2/optout/status', 200],
    ]);
    expect(found.length).toBe(opted.size);
    for (const f of found) expect(opted.get(f.advertisingId)).toBe(f.optedOutSinceMs);
    expect(await client().optOutStatus([])).toEqual([]);
  });

  it('rejects with typed errors: malformed input (nothing sent), HTTP errors, wrong credentials, timeouts, close', async () => {
    const before = op.requests.length;
    await expect(client().optOutStatus([uid(), 'not-a-uid'])).rejects.toThrow(new InvalidArgumentError('rawUids[1] is not standard base64 of a 32- or 33-byte raw UID'));
    await expect(client().optOutStatus('x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(op.requests.length).toBe(before);

    op.setFault({ kind: 'http-error', status: 503 });
    await expect(client().optOutStatus([uid()])).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 503 });
    op.setFault(null);
    const wrong = new BidstreamClient(op.url, 'wrong-key', op.secretKey);
    const err = await wrong.optOutStatus([uid()]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceHttpError);
    expect((err as ServiceHttpError).statusCode).toBe(401);
    op.setFault({ kind: 'delay', ms: 2000 });
    await expect(client().optOutStatus([uid()], { timeoutMs: 100 })).rejects.toBeInstanceOf(ServiceTimeoutError);
    op.setFault(null);
    const closed = client();
    closed.close();
    await expect(closed.optOutStatus([uid()])).rejects.toBeInstanceOf(AbortedError);
  });

  describe('against a hostile service', () => {
    let server: Server;
    let answer: (asked: string[]) => unknown;
    let concurrent = 0;
    let maxConcurrent = 0;
    const secret = randomBytes(32);
    beforeAll(async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          concurrent++;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          const opened = openRequest(secret, Buffer.from(Buffer.concat(chunks).toString('latin1'), 'base64'));
          const asked = (JSON.parse(opened.payload.toString('utf8')) as { advertising_ids: string[] }).advertising_ids;
          setTimeout(() => {
            concurrent--;
            const json = Buffer.from(JSON.stringify(answer(asked)), 'utf8');
            res.end(sealResponse(secret, opened.nonce, json).toString('base64'));
          }, 5);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const hostile = (): BidstreamClient => new BidstreamClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'key', secret.toString('base64'));

    it('never sends two batches at once', async () => {
      answer = () => ({ status: 'success', body: { opted_out: [] } });
      await hostile().optOutStatus(Array.from({ length: 20_001 }, uid));
      expect(maxConcurrent).toBe(1);
    });

    it.each([
      ['a status other than success', () => ({ status: 'error', message: 'nope' }), 'status is "error", not "success": nope'],
      ['no opted_out array', () => ({ status: 'success', body: {} }), 'has no body.opted_out array'],
      ['a raw UID not asked about', () => ({ status: 'success', body: { opted_out: [{ advertising_id: uid(), opted_out_since: 1 }] } }), 'is not one of the raw UIDs asked about'],
      ['a time that is not an integer', (a: string[]) => ({ status: 'success', body: { opted_out: [{ advertising_id: a[0], opted_out_since: '1' }] } }), 'must be Unix milliseconds'],
      ['more entries than asked', (a: string[]) => ({ status: 'success', body: { opted_out: [{ advertising_id: a[0], opted_out_since: 1 }, { advertising_id: a[0], opted_out_since: 1 }] } }), 'lists 2 raw UIDs for 1 asked'],
      ['not an object', () => [1, 2], 'is not a JSON object'],
    ])('refuses %s with OptOutResponseError', async (_name, make, message) => {
      answer = make as (asked: string[]) => unknown;
      const asked = uid();
      const err = await hostile().optOutStatus([asked]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OptOutResponseError);
      expect((err as Error).message).toContain(message);
      expect((err as Error).message).not.toContain(asked);
    });
  });
});

describe('uid2-engine optout backfill', () => {
  it('records the opted-out raw UIDs of a list in the store and prints a summary', async () => {
    const list = Array.from({ length: 9000 }, uid);
    const opted = list.filter((_, i) => i % 10 === 3);
    for (const u of opted) op.optOut(u, 1_710_000_000_000);
    const input = join(dir, 'uids.txt');
    writeFileSync(input, `${list.join('\n')}\n\n`);
    const storePath = join(dir, 'backfill.log');
    const args = ['optout', 'backfill', '--input', input, '--store', storePath, '--base-url', op.url, '--api-key', op.apiKey, '--secret-key', op.secretKey];
    const run = await runCli(args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ checked: 9000, optedOut: 900, recorded: 900, storeSize: 900 });
    const again = await runCli(args);
    expect(JSON.parse(again.stdout)).toEqual({ checked: 9000, optedOut: 900, recorded: 0, storeSize: 900 });
    const store = await FileOptOutStore.open(storePath, { readOnly: true });
    expect(opted.every((u) => store.optedOutSince(u) === 1_710_000_000_000)).toBe(true);
    expect(list.filter((u) => store.has(u)).length).toBe(900);
    await store.close();
  });

  it('stops at a malformed line (exit 2, line named, content not echoed) and on a service failure (exit 3)', async () => {
    const input = join(dir, 'bad.txt');
    writeFileSync(input, `${uid()}\nuser@example.com\n`);
    const storePath = join(dir, 'bad.log');
    const creds = ['--base-url', op.url, '--api-key', op.apiKey, '--secret-key', op.secretKey];
    const bad = await runCli(['optout', 'backfill', '--input', input, '--store', storePath, ...creds]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('line 2 of');
    expect(bad.stderr).not.toContain('user@example.com');
    writeFileSync(input, `${uid()}\n`);
    const failing = await runCli(['optout', 'backfill', '--input', input, '--store', storePath, '--base-url', op.url, '--api-key', 'wrong', '--secret-key', op.secretKey]);
    expect(failing.code).toBe(3);
    expect(failing.stderr).toContain('UID2_ERR_SERVICE_HTTP');
    expect(failing.stderr).not.toContain(op.secretKey);
    const noInput = await runCli(['optout', 'backfill', '--store', storePath, ...creds]);
    expect(noInput.code).toBe(2);
  });
});
