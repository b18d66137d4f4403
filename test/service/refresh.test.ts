/**
 * The real clients against the real local operator over loopback: success on both endpoints,
 * every fault mode, rotation, overlapping refreshes, abort and timeout, configuration errors.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BidstreamClient, DecryptionStatus, KeySet, SharingClient, type RefreshResult, type Uid2Error } from '../../src/index.js';
import { decodeSecretKey, openRequest, startLocalOperator, type LocalOperator, type OperatorFault } from '../../src/testing.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let op: LocalOperator;
beforeAll(async () => {
  op = await startLocalOperator();
});
afterAll(async () => {
  await op.close();
});
afterEach(() => {
  op.setFault(null);
  vi.unstubAllEnvs();
});

function bidstream(options?: ConstructorParameters<typeof BidstreamClient>[3]): BidstreamClient {
  return new BidstreamClient(op.url, op.apiKey, op.secretKey, options);
}

function failure(result: RefreshResult): Uid2Error {
  expect(result.success).toBe(false);
  expect(result.error).toBeDefined();
  return result.error!;
}

describe('refresh succeeds', () => {
  it('loads /v2/key/bidstream with the operator keys, sites and scope', async () => {
    const client = bidstream();
    const keysEvents: KeySet[] = [];
    const refreshEvents: KeySet[] = [];
    client.on('keys', (k: KeySet) => keysEvents.push(k));
    client.on('refresh', (k: KeySet) => refreshEvents.push(k));
    expect(client.keySet).toBeUndefined();
    expect(client.lastSuccessAt).toBeUndefined();

    expect(await client.refresh()).toEqual({ success: true });
    const keySet = client.keySet!;
    const expected = op.keyResponse('bidstream').body;
    expect(keySet.keys().map((k) => k.id).sort()).toEqual(expected.keys.map((k) => k.id).sort());
    expect(keySet.identityScope).toBe('UID2');
    expect(keySet.siteIds().sort()).toEqual(op.sites.map((s) => s.id).sort());
    expect(keySet.getDomainNames(1001)).toEqual(['example.com', 'com.example.app']);
    expect(keySet.maxBidstreamLifetimeSeconds).toBe(259_200 + 10);
    expect(keysEvents).toEqual([keySet]);
    expect(refreshEvents).toEqual([keySet]);
    expect(client.lastSuccessAt).toBeInstanceOf(Date);
    expect(client.lastError).toBeUndefined();
  });

  it('loads /v2/key/sharing with caller site, keysets and token expiry', async () => {
    const client = new SharingClient(op.url, op.apiKey, op.secretKey);
    expect(await client.refresh()).toEqual({ success: true });
    const keySet = client.keySet!;
    expect(keySet.callerSiteId).toBe(op.callerSiteId);
    expect(keySet.masterKeysetId).toBe(9_999_999);
    expect(keySet.tokenExpirySeconds).toBe(2_592_000);
    expect(keySet.getMasterKey(Date.now())).toBeDefined();
    expect(keySet.getDefaultKey(Date.now())).toBeDefined();
    const token = client.encryptRawUidIntoToken(op.rawUidFor('alice@example.com'));
    expect(token.status).toBe('Success');
    expect(client.decryptTokenIntoRawUid(token.encryptedData!)).toMatchObject({
      status: DecryptionStatus.Success,
      uid: op.rawUidFor('alice@example.com'),
      siteId: op.callerSiteId,
    });
  });

  it('sends Authorization: Bearer, X-UID2-Client-Version and a base64 body to the right path', async () => {
    await bidstream().refresh();
    await new SharingClient(op.url, op.apiKey, op.secretKey).refresh();
    const [a, b] = op.requests.slice(-2);
    expect(a).toMatchObject({ method: 'POST', path: '/v2/key/bidstream', status: 200, authorized: true, contentType: 'text/plain' });
    expect(b).toMatchObject({ method: 'POST', path: '/v2/key/sharing', status: 200, authorized: true });
    expect(a!.clientVersion).toBe(`uid2-engine-${VERSION}`);
  });

  it('sends exactly these headers and an envelope the secret opens (seen by a plain server)', async () => {
    let seen: { url?: string; headers?: IncomingHttpHeaders; body?: string } = {};
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('latin1').on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen = { url: req.url, headers: req.headers, body };
        res.writeHead(503).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/path`;
      const result = await new SharingClient(url, op.apiKey, op.secretKey).refresh();
      expect(result.error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 503 });
      expect(seen.url).toBe('/base/path/v2/key/sharing');
      expect(seen.headers!['authorization']).toBe(`Bearer ${op.apiKey}`);
      expect(seen.headers!['x-uid2-client-version']).toBe(`uid2-engine-${VERSION}`);
      const opened = openRequest(decodeSecretKey(op.secretKey), Buffer.from(seen.body!, 'base64'));
      expect(opened.payload).toHaveLength(0);
      expect(Math.abs(opened.timestampMs - Date.now())).toBeLessThan(60_000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('accepts a base URL with a trailing slash', async () => {
    const client = new BidstreamClient(`${op.url}/`, op.apiKey, op.secretKey);
    expect(await client.refresh()).toEqual({ success: true });
  });

  it('takes credentials from UID2_BASE_URL, UID2_API_KEY and UID2_SECRET_KEY', async () => {
    vi.stubEnv('UID2_BASE_URL', op.url);
    vi.stubEnv('UID2_API_KEY', op.apiKey);
    vi.stubEnv('UID2_SECRET_KEY', op.secretKey);
    const client = new BidstreamClient();
    expect(client.baseUrl).toBe(op.url);
    expect(await client.refresh()).toEqual({ success: true });
    // Arguments win over the environment.
    expect(await new BidstreamClient(op.url, 'wrong-key').refresh()).toMatchObject({ success: false });
  });
});

describe('each fault keeps the previous keys and reports a typed error', () => {
  const cases: [string, OperatorFault, string, RegExp][] = [
    ['HTTP 500', { kind: 'http-error', status: 500 }, 'UID2_ERR_SERVICE_HTTP', /^UID2 service answered HTTP 500 to \/v2\/key\/bidstream: .*injected fault/],
    ['HTTP 401', { kind: 'http-error', status: 401 }, 'UID2_ERR_SERVICE_HTTP', /^UID2 service answered HTTP 401 to \/v2\/key\/bidstream/],
    ['dropped connection', { kind: 'drop-connection' }, 'UID2_ERR_SERVICE_NETWORK', /^request to \/v2\/key\/bidstream failed: /],
    ['truncated body', { kind: 'truncated-body' }, 'UID2_ERR_ENVELOPE', /does not decrypt/],
    ['wrong nonce', { kind: 'wrong-nonce' }, 'UID2_ERR_NONCE_MISMATCH', /nonce does not match/],
    ['garbage body', { kind: 'garbage-body' }, 'UID2_ERR_ENVELOPE', /not valid base64/],
    ['stale key set', { kind: 'stale-keys' }, 'UID2_ERR_KEYS_STALE', /no unexpired key/],
    ['response timestamp 0', { kind: 'response-timestamp', timestampMs: 0 }, 'UID2_ERR_RESPONSE_TIMESTAMP', /^response envelope timestamp 0 \(Unix ms\) is \d+ s behind this machine's clock/],
    ['response timestamp 8.64e15', { kind: 'response-timestamp', timestampMs: 8.64e15 }, 'UID2_ERR_RESPONSE_TIMESTAMP', /^response envelope timestamp 8640000000000000 \(Unix ms\) is \d+ s ahead of/],
  ];

  it.each(cases)('%s', async (_name, fault, code, message) => {
    const client = bidstream();
    expect(await client.refresh()).toEqual({ success: true });
    const before = client.keySet;
    const token = op.mintToken({ version: 4 });
    const errors: Uid2Error[] = [];
    client.on('refreshError', (e: Uid2Error) => errors.push(e));

    op.setFault(fault);
    const error = failure(await client.refresh());
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(client.keySet).toBe(before);
    expect(client.lastError).toBe(error);
    expect(errors).toEqual([error]);
    expect(client.decryptTokenIntoRawUid(token).status).toBe(DecryptionStatus.Success);
    if (fault.kind === 'http-error') expect((error as Uid2Error & { statusCode: number }).statusCode).toBe(fault.status);

    // The next good answer clears the error.
    op.setFault(null);
    expect(await client.refresh()).toEqual({ success: true });
    expect(client.lastError).toBeUndefined();
  });

  it('delay longer than the timeout', async () => {
    const client = bidstream({ timeoutMs: 40 });
    op.setFault({ kind: 'delay', ms: 2000 });
    const error = failure(await client.refresh());
    expect(error.code).toBe('UID2_ERR_SERVICE_TIMEOUT');
    expect(error.message).toBe('no complete answer from /v2/key/bidstream within 40 ms');
    expect(client.keySet).toBeUndefined();
  });

  it('a short delay is only a slow success', async () => {
    op.setFault({ kind: 'delay', ms: 30 });
    expect(await bidstream().refresh()).toEqual({ success: true });
  });

  it('a body larger than maxResponseBytes', async () => {
    const error = failure(await bidstream({ maxResponseBytes: 100 }).refresh());
    expect(error.code).toBe('UID2_ERR_ENVELOPE');
    expect(error.message).toBe('response body is larger than 100 bytes');
  });

  it('an unreachable service', async () => {
    const closed = await startLocalOperator();
    const url = closed.url;
    await closed.close();
    const error = failure(await new BidstreamClient(url, op.apiKey, op.secretKey).refresh());
    expect(error.code).toBe('UID2_ERR_SERVICE_NETWORK');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});

describe('the operator rejects bad credentials', () => {
  it('wrong api key: HTTP 401, previous keys kept', async () => {
    const client = new BidstreamClient(op.url, 'UID2-C-L-999-wrongwrongwrong', op.secretKey);
    const error = failure(await client.refresh());
    expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 401 });
    expect(error.message).toMatch(/HTTP 401/);
    expect(op.requests.at(-1)).toMatchObject({ status: 401, authorized: false });
  });

  it('wrong secret key: the operator cannot open the envelope (HTTP 400)', async () => {
    const client = new BidstreamClient(op.url, op.apiKey, Buffer.alloc(32, 1).toString('base64'));
    const error = failure(await client.refresh());
    expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    expect(error.message).toMatch(/does not decrypt/);
  });
});

describe('key rotation', () => {
  it('is picked up by the next refresh, old keys kept until they expire', async () => {
    const bid = bidstream();
    const share = new SharingClient(op.url, op.apiKey, op.secretKey);
    await bid.refresh();
    await share.refresh();
    const oldIds = bid.keySet!.keys().map((k) => k.id);
    const oldToken = op.mintToken({ version: 3 });

    const newIds = op.rotateKeys();
    // One per keyset: master, caller site, each publisher site.
    expect(newIds).toHaveLength(2 + op.sites.length);
    expect(bid.keySet!.keys().some((k) => newIds.includes(k.id))).toBe(false);

    expect(await bid.refresh()).toEqual({ success: true });
    expect(await share.refresh()).toEqual({ success: true });
    const ids = bid.keySet!.keys().map((k) => k.id);
    expect(ids).toEqual(expect.arrayContaining([...oldIds, ...newIds]));
    expect(newIds).toContain(share.keySet!.getDefaultKey(Date.now())!.id);
    expect(newIds).toContain(share.keySet!.getMasterKey(Date.now())!.id);

    const newToken = op.mintToken({ version: 3 });
    expect(bid.decryptTokenIntoRawUid(newToken).status).toBe(DecryptionStatus.Success);
    expect(bid.decryptTokenIntoRawUid(oldToken).status).toBe(DecryptionStatus.Success);
  });
});

describe('overlapping refreshes', () => {
  it('a slow older answer does not replace a newer key set', async () => {
    const client = bidstream();
    op.setFault({ kind: 'delay', ms: 150 });
    const slow = client.refresh();
    await vi.waitFor(() => expect(op.requests.at(-1)?.fault).toBe('delay'));
    op.setFault(null);
    expect(await client.refresh()).toEqual({ success: true });
    const newer = client.keySet;
    expect(await slow).toEqual({ success: true });
    expect(client.keySet).toBe(newer);
  });
});

describe('abort and timeout', () => {
  it('an AbortSignal aborts a refresh in flight', async () => {
    const client = bidstream();
    op.setFault({ kind: 'delay', ms: 5000 });
    const controller = new AbortController();
    const errors: unknown[] = [];
    client.on('refreshError', (e) => errors.push(e));
    const pending = client.refresh({ signal: controller.signal });
    await vi.waitFor(() => expect(op.requests.at(-1)?.fault).toBe('delay'));
    controller.abort();
    const error = failure(await pending);
    expect(error.code).toBe('UID2_ERR_ABORTED');
    expect(error.message).toBe('the refresh was aborted');
    // An abort is the caller's decision, not a service failure.
    expect(errors).toEqual([]);
    expect(client.lastError).toBeUndefined();
  });

  it('an already aborted signal sends nothing', async () => {
    const count = op.requests.length;
    const error = failure(await bidstream().refresh({ signal: AbortSignal.abort() }));
    expect(error.code).toBe('UID2_ERR_ABORTED');
    expect(op.requests.length).toBe(count);
  });

  it('a per-call timeout overrides the client timeout', async () => {
    op.setFault({ kind: 'delay', ms: 5000 });
    const error = failure(await bidstream({ timeoutMs: 60_000 }).refresh({ timeoutMs: 30 }));
    expect(error.code).toBe('UID2_ERR_SERVICE_TIMEOUT');
    expect(error.message).toMatch(/within 30 ms/);
  });

  it('close() aborts refreshes in flight and refuses new ones, keeping the keys usable', async () => {
    const client = bidstream();
    await client.refresh();
    const keySet = client.keySet;
    op.setFault({ kind: 'delay', ms: 5000 });
    const pending = client.refresh();
    await vi.waitFor(() => expect(op.requests.at(-1)?.fault).toBe('delay'));
    client.close();
    expect(failure(await pending)).toMatchObject({ code: 'UID2_ERR_ABORTED', message: 'the client is closed' });
    expect(failure(await client.refresh())).toMatchObject({ code: 'UID2_ERR_ABORTED' });
    expect(client.keySet).toBe(keySet);
    expect(client.decryptTokenIntoRawUid(op.mintToken({ version: 2 })).status).toBe(DecryptionStatus.Success);
  });
});

describe('configuration errors are results, not exceptions', () => {
  const secret = Buffer.alloc(32, 3).toString('base64');
  it.each([
    ['no base URL', [undefined, 'k', secret], 'UID2_ERR_CONFIG', 'no base URL: pass baseUrl or set UID2_BASE_URL'],
    ['bad base URL', ['not a url', 'k', secret], 'UID2_ERR_CONFIG', 'base URL is not a valid URL'],
    ['ftp base URL', ['ftp://example.com', 'k', secret], 'UID2_ERR_CONFIG', 'base URL must use http: or https:'],
    ['credentials in URL', ['https://u:p@example.com', 'k', secret], 'UID2_ERR_CONFIG', 'base URL must not contain credentials'],
    ['no api key', ['https://example.com', undefined, secret], 'UID2_ERR_CONFIG', 'no api key: pass apiKey or set UID2_API_KEY'],
    ['api key with a newline', ['https://example.com', 'a\nb', secret], 'UID2_ERR_CONFIG', 'api key must be printable ASCII without spaces'],
    ['no secret key', ['https://example.com', 'k', undefined], 'UID2_ERR_CONFIG', 'no secret key: pass secretKey or set UID2_SECRET_KEY'],
    ['secret key not 32 bytes', ['https://example.com', 'k', 'c2hvcnQ='], 'UID2_ERR_SECRET_KEY', 'secret key must be base64 of 32 bytes'],
  ] as const)('%s', async (_name, args, code, message) => {
    vi.stubEnv('UID2_BASE_URL', undefined);
    vi.stubEnv('UID2_API_KEY', undefined);
    vi.stubEnv('UID2_SECRET_KEY', undefined);
    const client = new BidstreamClient(...(args as unknown as [string, string, string]));
    const error = failure(await client.refresh());
    expect({ code: error.code, message: error.message }).toEqual({ code, message });
  });
});
