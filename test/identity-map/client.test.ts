/**
 * IdentityMapV3Client against the real local operator over loopback: mapping every input kind,
 * order and duplicates, invalid identities answered without a request, batching at 5,000,
 * bounded concurrency (seen by a counting proxy in front of the operator), both envelope forms,
 * salt rotation (previous raw UIDs), and every failure: 429 and 5xx retried until the deadline,
 * timeouts, dropped connections, bad envelopes, wrong credentials, the caller's abort.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, EnvelopeError, IdentityMapV3Client, InvalidArgumentError, NonceMismatchError, RetryDeadlineError, ServiceHttpError, ServiceNetworkError, ServiceTimeoutError, type IdentityMapOptions, type MappedIdentity } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { normalizeAndHashEmail } from '../../src/identity/email.js';
import { normalizeAndHashPhone } from '../../src/identity/phone.js';
import { TEST_IDENTITIES } from '../../src/operator/identities.js';

let op: LocalOperator;
beforeAll(async () => {
  op = await startLocalOperator();
});
afterAll(async () => {
  await op.close();
});

const FAST: IdentityMapOptions = { initialBackoffMs: 5, maxBackoffMs: 20, retryDeadlineMs: 300, timeoutMs: 2000 };

function client(options: IdentityMapOptions = {}, on: LocalOperator = op): IdentityMapV3Client {
  return new IdentityMapV3Client(on.url, on.apiKey, on.secretKey, options);
}

/** Identity map requests in the operator's log (it keeps the last 100). */
function mapRequests(on: LocalOperator): number {
  return on.requests.filter((r) => r.path === '/v3/identity/map').length;
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown; attempts?: number; statusCode?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

const hex = (base64: string): string => Buffer.from(base64, 'base64').toString('hex');

describe('mapping', () => {
  it('maps every input kind, in the caller order, with duplicates, keyed by input', async () => {
    const emails = ['Jane.Doe@Example.com', 'not an email', 'jane.doe@example.com', TEST_IDENTITIES.optOutEmail, 'Jane.Doe@Example.com'];
    const phones = ['+15555550100', '555-0100', TEST_IDENTITIES.optOutPhone];
    const emailHashes = [normalizeAndHashEmail('jane.doe@example.com')!, hex(normalizeAndHashEmail('jane.doe@example.com')!), 'short'];
    const phoneHashes = [hex(normalizeAndHashPhone('+15555550100')!).toUpperCase()];
    const result = await client().generateIdentityMap({ emails, phones, emailHashes, phoneHashes });

    expect(result.emails.map((o) => o.status)).toEqual(['mapped', 'unmapped', 'mapped', 'unmapped', 'mapped']);
    expect(result.emails[1]).toEqual({ status: 'unmapped', reason: 'invalid identifier', rawReason: 'invalid identifier' });
    expect(result.emails[3]).toEqual({ status: 'unmapped', reason: 'optout', rawReason: 'optout' });
    const jane = result.emails[0] as MappedIdentity;
    expect(jane.currentRawUid).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(jane.previousRawUid).toBeNull();
    expect(jane.refreshFrom.getTime()).toBeGreaterThan(Date.now());
    // The same person through every form of input gets the same raw UID.
    for (const same of [result.emails[2], result.emails[4], result.emailHashes[0], result.emailHashes[1]]) expect(same).toEqual(jane);
    expect(result.emailHashes[2]).toMatchObject({ reason: 'invalid identifier' });

    expect(result.phones.map((o) => o.status)).toEqual(['mapped', 'unmapped', 'unmapped']);
    expect(result.phones[1]).toMatchObject({ reason: 'invalid identifier' });
    expect(result.phones[2]).toMatchObject({ reason: 'optout' });
    expect(result.phoneHashes[0]).toEqual(result.phones[0]);
    expect((result.phones[0] as MappedIdentity).currentRawUid).not.toBe(jane.currentRawUid);

    expect([...result.mapped.keys()]).toEqual(['Jane.Doe@Example.com', 'jane.doe@example.com', '+15555550100', emailHashes[0], emailHashes[1], phoneHashes[0]]);
    expect([...result.unmapped.keys()]).toEqual(['not an email', TEST_IDENTITIES.optOutEmail, '555-0100', TEST_IDENTITIES.optOutPhone, 'short']);
    // A repeated input is one key: its last outcome, as the official SDKs' maps keep it.
    expect(result.mapped.get('Jane.Doe@Example.com')).toBe(result.emails[4]);
  });

  it('answers invalid identities without a request, and an empty input without one either', async () => {
    const c = client();
    const result = await c.generateIdentityMap({ emails: ['@', 'a@'], phones: ['+1'], emailHashes: ['zz'], phoneHashes: [] });
    expect([...result.emails, ...result.phones, ...result.emailHashes].every((o) => o.status === 'unmapped' && o.reason === 'invalid identifier')).toBe(true);
    expect((await c.generateIdentityMap({})).emails).toEqual([]);
    expect(c.stats.requests).toBe(0);
  });

  it('splits at 5,000 identities a request and keeps the order across requests', async () => {
    const emails = Array.from({ length: 12_001 }, (_, i) => `user${i}@example.com`);
    const c = client();
    const result = await c.generateIdentityMap({ emails });
    expect(c.stats.requests).toBe(3);
    // Order: each answer is the one this email gets alone.
    for (const i of [0, 4999, 5000, 12_000]) {
      const alone = await client().generateIdentityMap({ emails: [emails[i]!] });
      expect(result.emails[i]).toEqual(alone.emails[0]);
    }
    expect(new Set(result.emails.map((o) => (o as MappedIdentity).currentRawUid)).size).toBe(12_001);
  });

  it('honours a smaller maxIdentitiesPerRequest, counting only valid identities', async () => {
    const c = client({ maxIdentitiesPerRequest: 2 });
    await c.generateIdentityMap({ emails: ['a@x.com', 'bad', 'b@x.com', 'c@x.com'], phones: ['+15555550123'] });
    expect(c.stats.requests).toBe(2);
  });

  it('sends the binary envelope with binary: true and gets the same answers', async () => {
    const emails = ['a@example.com', 'b@example.com'];
    const text = await client().generateIdentityMap({ emails });
    const binary = await client({ binary: true }).generateIdentityMap({ emails });
    expect(binary.emails).toEqual(text.emails);
    const last = op.requests.filter((r) => r.path === '/v3/identity/map').slice(-2);
    expect(last.map((r) => r.contentType)).toEqual(['text/plain', 'application/octet-stream']);
    expect(last.every((r) => r.status === 200 && r.clientVersion?.startsWith('uid2-engine-'))).toBe(true);
  });

  it('reports the previous raw UID after a salt rotation', async () => {
    const emails = ['rotate-me@example.com'];
    const before = (await client().generateIdentityMap({ emails })).emails[0] as MappedIdentity;
    op.rotateSalts(1);
    const after = (await client().generateIdentityMap({ emails })).emails[0] as MappedIdentity;
    expect(after.currentRawUid).not.toBe(before.currentRawUid);
    expect(after.previousRawUid).toBe(before.currentRawUid);
    expect(after.refreshFrom.getTime()).toBeGreaterThan(Date.now());
  });

  it('reports a raw UID opted out at the operator as optout', async () => {
    const emails = ['leaving@example.com'];
    const mapped = (await client().generateIdentityMap({ emails })).emails[0] as MappedIdentity;
    op.optOut(mapped.currentRawUid);
    expect((await client().generateIdentityMap({ emails })).emails[0]).toMatchObject({ status: 'unmapped', reason: 'optout' });
  });
});

describe('concurrency', () => {
  /**
   * A loopback proxy in front of the operator that records the most requests it held at once.
   * It holds each request until `hold` are waiting (or 500 ms pass, for the last batches), so
   * a client that allows `hold` requests at once is seen with exactly that many, deterministically,
   * and one that allows more is seen with more.
   */
  async function countingProxy(target: string, hold: number): Promise<{ url: string; maxInFlight: () => number; close: () => Promise<void> }> {
    let inFlight = 0;
    let max = 0;
    let waiting: (() => void)[] = [];
    const releaseAll = (): void => {
      const go = waiting;
      waiting = [];
      for (const release of go) release();
    };
    const server: Server = createServer((req, res) => {
      inFlight++;
      max = Math.max(max, inFlight);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const forward = async (): Promise<void> => {
          const headers: Record<string, string> = {};
          for (const name of ['authorization', 'content-type', 'x-uid2-client-version']) {
            const value = req.headers[name];
            if (typeof value === 'string') headers[name] = value;
          }
          const answer = await fetch(`${target}${req.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) });
          const body = Buffer.from(await answer.arrayBuffer());
          inFlight--;
          res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'text/plain' });
          res.end(body);
        };
        waiting.push(() => void forward());
        if (waiting.length >= hold) releaseAll();
        else setTimeout(releaseAll, 500);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      maxInFlight: () => max,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  it.each([1, 3])('never has more than maxConcurrentRequests = %i requests in flight, across calls', async (limit) => {
    const proxy = await countingProxy(op.url, limit);
    try {
      const c = new IdentityMapV3Client(proxy.url, op.apiKey, op.secretKey, { maxConcurrentRequests: limit, maxIdentitiesPerRequest: 50 });
      const emails = Array.from({ length: 600 }, (_, i) => `c${i}@example.com`);
      const results = await Promise.all([c.generateIdentityMap({ emails }), c.generateIdentityMap({ emails: emails.slice(0, 200) })]);
      expect(results[1].emails).toEqual(results[0].emails.slice(0, 200));
      expect(proxy.maxInFlight()).toBe(limit);
    } finally {
      await proxy.close();
    }
  });
});

describe('retries', () => {
  it('retries 429s (no body) until the deadline, then fails with RetryDeadlineError holding the last 429', async () => {
    const throttled = await startLocalOperator({ throttleFraction: 1 });
    try {
      // A deadline long enough for several attempts however slow the machine is, with backoffs
      // long enough that they stay within the operator's request log (its last 100).
      const c = client({ ...FAST, initialBackoffMs: 50, maxBackoffMs: 200, retryDeadlineMs: 1_500 }, throttled);
      const err = await failure(c.generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toBeInstanceOf(RetryDeadlineError);
      expect(err.code).toBe('UID2_ERR_RETRY_DEADLINE');
      expect(err.attempts).toBeGreaterThan(1);
      expect(err.cause).toBeInstanceOf(ServiceHttpError);
      expect((err.cause as ServiceHttpError).statusCode).toBe(429);
      expect(err.message).not.toContain('a@example.com');
      expect(mapRequests(throttled)).toBe(err.attempts);
      expect(c.stats).toEqual({ requests: err.attempts, retries: err.attempts! - 1, throttled: err.attempts! - 1 });
      expect(throttled.requests.every((r) => r.status === 429)).toBe(true);
    } finally {
      await throttled.close();
    }
  });

  it('gets every answer through when half the requests are answered 429', async () => {
    const throttled = await startLocalOperator({ throttleFraction: 0.5 });
    try {
      const c = client({ ...FAST, retryDeadlineMs: 30_000, maxIdentitiesPerRequest: 100 }, throttled);
      const emails = Array.from({ length: 3000 }, (_, i) => `t${i}@example.com`);
      const result = await c.generateIdentityMap({ emails });
      expect(result.emails.every((o) => o.status === 'mapped')).toBe(true);
      expect(new Set(result.emails.map((o) => (o as MappedIdentity).currentRawUid)).size).toBe(3000);
      // 30 batches at 1/2 each: no 429 at all would be a 1 in 10^9 chance.
      expect(c.stats.throttled).toBeGreaterThan(0);
      expect(c.stats.requests).toBe(30 + c.stats.retries);
    } finally {
      await throttled.close();
    }
  });

  it.each([500, 502, 503])('retries HTTP %i until the deadline', async (status) => {
    op.setFault({ kind: 'http-error', status });
    try {
      const err = await failure(client(FAST).generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toBeInstanceOf(RetryDeadlineError);
      expect((err.cause as ServiceHttpError).statusCode).toBe(status);
    } finally {
      op.setFault(null);
    }
  });

  it.each([400, 401, 403, 404, 413])('does not retry HTTP %i', async (status) => {
    op.setFault({ kind: 'http-error', status });
    try {
      const c = client(FAST);
      const err = await failure(c.generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toBeInstanceOf(ServiceHttpError);
      expect(err.statusCode).toBe(status);
      expect(c.stats.requests).toBe(1);
    } finally {
      op.setFault(null);
    }
  });

  it('retries timeouts, then fails with the last one as the cause', async () => {
    op.setFault({ kind: 'delay', ms: 1000 });
    try {
      const err = await failure(client({ ...FAST, timeoutMs: 50 }).generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toBeInstanceOf(RetryDeadlineError);
      expect(err.cause).toBeInstanceOf(ServiceTimeoutError);
    } finally {
      op.setFault(null);
    }
  });

  it('retries dropped connections', async () => {
    op.setFault({ kind: 'drop-connection' });
    try {
      const err = await failure(client(FAST).generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toBeInstanceOf(RetryDeadlineError);
      expect(err.cause).toBeInstanceOf(ServiceNetworkError);
    } finally {
      op.setFault(null);
    }
  });

  it('sends once and gives up at once with retryDeadlineMs: 0', async () => {
    op.setFault({ kind: 'http-error', status: 503 });
    try {
      const c = client({ ...FAST, retryDeadlineMs: 0 });
      const err = await failure(c.generateIdentityMap({ emails: ['a@example.com'] }));
      expect(err).toMatchObject({ code: 'UID2_ERR_RETRY_DEADLINE', attempts: 1 });
      expect(c.stats.requests).toBe(1);
    } finally {
      op.setFault(null);
    }
  });
});

describe('failures that are not retried', () => {
  it.each([
    ['garbage-body', EnvelopeError],
    ['truncated-body', EnvelopeError],
    ['wrong-nonce', NonceMismatchError],
  ] as const)('%s', async (kind, cls) => {
    op.setFault({ kind });
    try {
      for (const binary of [false, true]) {
        const c = client({ ...FAST, binary });
        const err = await failure(c.generateIdentityMap({ emails: ['a@example.com'] }));
        expect(err).toBeInstanceOf(cls);
        expect(c.stats.requests).toBe(1);
      }
    } finally {
      op.setFault(null);
    }
  });

  it('a wrong api key (401) or secret key (the operator cannot open the envelope: 400)', async () => {
    expect(await failure(new IdentityMapV3Client(op.url, `${op.apiKey}x`, op.secretKey, FAST).generateIdentityMap({ emails: ['a@example.com'] }))).toMatchObject({
      code: 'UID2_ERR_SERVICE_HTTP',
      statusCode: 401,
    });
    const otherSecret = Buffer.alloc(32, 1).toString('base64');
    const err = await failure(new IdentityMapV3Client(op.url, op.apiKey, otherSecret, FAST).generateIdentityMap({ emails: ['a@example.com'] }));
    expect(err).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    expect(err.message).not.toContain(op.apiKey);
  });

  it('the caller aborting, before and during the call', async () => {
    const aborted = AbortSignal.abort();
    expect(await failure(client().generateIdentityMap({ emails: ['a@example.com'] }, { signal: aborted }))).toBeInstanceOf(AbortedError);
    op.setFault({ kind: 'delay', ms: 5000 });
    try {
      const controller = new AbortController();
      const call = client().generateIdentityMap({ emails: ['a@example.com'] }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      expect(await failure(call)).toBeInstanceOf(AbortedError);
    } finally {
      op.setFault(null);
    }
  });

  it('an unreachable operator', async () => {
    const closed = await startLocalOperator();
    await closed.close();
    const err = await failure(client(FAST, closed).generateIdentityMap({ emails: ['a@example.com'] }));
    expect(err).toBeInstanceOf(RetryDeadlineError);
    expect(err.cause).toBeInstanceOf(ServiceNetworkError);
  });
});

describe('arguments', () => {
  it.each([
    [null, 'input must be an object with emails, phones, emailHashes and/or phoneHashes'],
    [{ email: ['a@b.c'] }, 'input.email is not one of emails, phones, emailHashes, phoneHashes'],
    [{ emails: 'a@b.c' }, 'input.emails must be an array of strings'],
    [{ phones: ['+15555550100', 5] }, 'input.phones[1] is not a string'],
  ])('input %j', async (input, message) => {
    const err = await failure(client().generateIdentityMap(input as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe(message);
  });

  it.each([
    [{ maxIdentitiesPerRequest: 5001 }, 'options.maxIdentitiesPerRequest must be a positive integer no larger than 5000'],
    [{ maxConcurrentRequests: 0 }, 'options.maxConcurrentRequests must be a positive integer no larger than 64'],
    [{ timeoutMs: 1.5 }, 'options.timeoutMs must be a positive integer no larger than 2147483647'],
    [{ retryDeadlineMs: -1 }, 'options.retryDeadlineMs must be a non-negative integer no larger than 2147483647'],
    [{ initialBackoffMs: 100, maxBackoffMs: 50 }, 'options.maxBackoffMs must be at least options.initialBackoffMs'],
    [{ binary: 'yes' }, 'options.binary must be a boolean'],
    [{ maxResponseBytes: 0 }, 'options.maxResponseBytes must be a positive integer'],
  ])('options %j', (options, message) => {
    expect(() => client(options as IdentityMapOptions)).toThrow(new InvalidArgumentError(message));
  });

  it('credentials are checked at construction', () => {
    expect(() => new IdentityMapV3Client('ftp://x', 'k', Buffer.alloc(32).toString('base64'))).toThrow(expect.objectContaining({ code: 'UID2_ERR_CONFIG' }));
    expect(() => new IdentityMapV3Client(op.url, op.apiKey, 'short')).toThrow(expect.objectContaining({ code: 'UID2_ERR_SECRET_KEY' }));
  });
});
