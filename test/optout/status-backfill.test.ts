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
import { AbortedError, BidstreamClient, InvalidArgumentError, OptOutResponseError, ServiceHttpError, ServiceTimeoutError } from '../../src/index.js';
import { openRequest, sealResponse, startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { CLI_PATH, runCli } from '../helpers/cli.js';
import { writeLongLineFile } from '../../bench/long-line-file.js';
import { runWithPeakRss } from '../../bench/peak-rss.js';

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
    const { optedOut: found, skipped } = await client().optOutStatus(list);
    expect(skipped).toEqual([]);
    const calls = op.requests.slice(before);
    expect(calls.map((r) => [r.path, r.status])).toEqual([
      ['/v2/optout/status', 200],
      ['/v2/optout/status', 200],
      ['/v2/optout/status', 200],
    ]);
    expect(found.length).toBe(opted.size);
    for (const f of found) expect(opted.get(f.advertisingId)).toBe(f.optedOutSinceMs);
    expect(await client().optOutStatus([])).toEqual({ optedOut: [], skipped: [] });
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

    it('uid2-engine optout backfill: a bad record is named on stderr (line, reason, never the raw UID) and skipped, the run goes on, exit 3 at the end', async () => {
      const list = Array.from({ length: 5003 }, uid);
      answer = (a) => ({
        status: 'success',
        // The first batch (lines 1-4096) has a bad record for line 2; the second only a good one.
        body: {
          opted_out:
            a[0] === list[0]
              ? [{ advertising_id: a[0], opted_out_since: 1_710_000_000_000 }, { advertising_id: a[1], opted_out_since: 8.64e15 }, { advertising_id: a[2], opted_out_since: 1_710_000_000_000 }]
              : [{ advertising_id: a[0], opted_out_since: 1_720_000_000_000 }],
        },
      });
      const input = join(dir, 'hostile.txt');
      writeFileSync(input, `${list.join('\n')}\n`);
      const storePath = join(dir, 'hostile.log');
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const run = await runCli(['optout', 'backfill', '--input', input, '--store', storePath, '--base-url', base, '--api-key', 'key', '--secret-key', secret.toString('base64')]);
      expect(run.code).toBe(3);
      // Every batch was asked (the one after the bad record too) and every good record is stored.
      expect(JSON.parse(run.stdout)).toEqual({ checked: 5003, optedOut: 3, recorded: 3, skipped: 1, storeSize: 3 });
      expect(run.stderr).toContain('uid2-engine: skipped a record of the opt-out status answer for line 2 of');
      expect(run.stderr).toContain('opted_out_since of the answer for rawUids[0..4095] must be Unix milliseconds');
      expect(run.stderr).toContain('uid2-engine: 1 record of the opt-out status answers was skipped');
      for (const u of list) expect(run.stderr).not.toContain(u);
      const store = await FileOptOutStore.open(storePath, { readOnly: true });
      expect([store.has(list[0]!), store.has(list[1]!), store.has(list[2]!), store.has(list[4096]!)]).toEqual([true, false, true, true]);
      await store.close();
    });

    it('skips and reports a bad record (time out of range or not an integer, a raw UID not asked about), keeping the others', async () => {
      const MAX_MS = 4_294_967_295_000;
      answer = (a) => ({
        status: 'success',
        body: {
          opted_out: a.length === 2 ? [{ advertising_id: a[0], opted_out_since: 1_700_000_000_000 }, { advertising_id: a[1], opted_out_since: -5 }] : [
            { advertising_id: a[0], opted_out_since: 1_700_000_000_000 },
            { advertising_id: a[1], opted_out_since: 1e16 },
            { advertising_id: a[2], opted_out_since: '1' },
            { advertising_id: uid(), opted_out_since: 1 },
            'not an object',
            { advertising_id: a[3], opted_out_since: MAX_MS },
            { advertising_id: a[4], opted_out_since: -1 },
          ],
        },
      });
      const asked = Array.from({ length: 5002 }, uid);
      const result = await hostile().optOutStatus(asked);
      // Two batches (5,000 + 2): seven entries for the first, two for the second.
      expect(result.optedOut).toEqual([
        { advertisingId: asked[0], optedOutSinceMs: 1_700_000_000_000 },
        { advertisingId: asked[3], optedOutSinceMs: MAX_MS },
        { advertisingId: asked[5000], optedOutSinceMs: 1_700_000_000_000 },
      ]);
      const reasons = result.skipped.map((s) => s.reason);
      expect(reasons.slice(0, 5)).toEqual([
        `body.opted_out[1].opted_out_since of the answer for rawUids[0..4999] must be Unix milliseconds, an integer from 0 to ${MAX_MS}`,
        'body.opted_out[2].opted_out_since of the answer for rawUids[0..4999] must be Unix milliseconds, an integer from 0 to 4294967295000',
        'body.opted_out[3].advertising_id of the answer for rawUids[0..4999] is not one of the raw UIDs asked about',
        'body.opted_out[4] of the answer for rawUids[0..4999] is not an object',
        'body.opted_out[6].opted_out_since of the answer for rawUids[0..4999] must be Unix milliseconds, an integer from 0 to 4294967295000',
      ]);
      expect(result.skipped.map((s) => s.advertisingId).slice(0, 5)).toEqual([asked[1], asked[2], null, null, asked[4]]);
      expect(result.skipped.slice(5)).toEqual([
        { advertisingId: asked[5001], reason: 'body.opted_out[1].opted_out_since of the answer for rawUids[5000..5001] must be Unix milliseconds, an integer from 0 to 4294967295000' },
      ]);
      for (const text of reasons) for (const u of asked) expect(text).not.toContain(u);
    });

    it.each([
      ['a status other than success', () => ({ status: 'error', message: 'nope' }), 'status is "error", not "success": nope'],
      ['no opted_out array', () => ({ status: 'success', body: {} }), 'has no body.opted_out array'],
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
    expect(JSON.parse(run.stdout)).toEqual({ checked: 9000, optedOut: 900, recorded: 900, skipped: 0, storeSize: 900 });
    const again = await runCli(args);
    expect(JSON.parse(again.stdout)).toEqual({ checked: 9000, optedOut: 900, recorded: 0, skipped: 0, storeSize: 900 });
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

  it('stops at a line over 1 MiB (exit 2, line named, content not echoed) without holding it: a 50 MB line in flat memory', async () => {
    const creds = ['--base-url', op.url, '--api-key', op.apiKey, '--secret-key', op.secretKey];
    const small = join(dir, 'small.txt');
    writeFileSync(small, `${uid()}\n`);
    const baseline = await runWithPeakRss(CLI_PATH, ['optout', 'backfill', '--input', small, '--store', join(dir, 'small.log'), ...creds]);
    expect(baseline.code).toBe(0);
    const input = join(dir, 'long.txt');
    await writeLongLineFile(input, `${uid()}\n\n`, 50 * 1024 * 1024, `\n${uid()}\n`);
    const storePath = join(dir, 'long.log');
    const run = await runWithPeakRss(CLI_PATH, ['optout', 'backfill', '--input', input, '--store', storePath, ...creds]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`uid2-engine: line 3 of ${input} is longer than 1,048,576 bytes: not a raw UID\n`);
    expect(run.stderr).not.toContain('AAAA');
    expect(run.peakRssKb - baseline.peakRssKb).toBeLessThan(64 * 1024);
    rmSync(input);
  }, 60_000);
});
