/**
 * The local operator on its own: what it refuses (over raw HTTP, so each rejection is seen as a
 * client would), both body encodings, minted tokens decrypting with the real clients, the key
 * rotation schedule and option validation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus, SharingClient } from '../../src/index.js';
import { DEFAULT_LOCAL_OPERATOR_OPTIONS, MASTER_KEYSET_ID, decodeSecretKey, openResponse, sealRequest, startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { KeyStore } from '../../src/operator/key-store.js';
import { resolveOperatorOptions } from '../../src/operator/options.js';

let op: LocalOperator;
let secret: Buffer;
beforeAll(async () => {
  op = await startLocalOperator();
  secret = decodeSecretKey(op.secretKey);
});
afterAll(async () => {
  await op.close();
});

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${op.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${op.apiKey}`, ...headers },
    body,
  });
}

describe('the operator refuses', () => {
  it.each([
    ['a timestamp 2 minutes old', () => sealRequest(secret, undefined, { nowMs: Date.now() - 120_000 }).bytes, 400, 'request timestamp is too far from the operator clock (2 minutes)'],
    ['envelope version 2', () => Buffer.concat([Buffer.of(2), sealRequest(secret).bytes.subarray(1)]), 400, 'request envelope version 2 is not supported (expected 1)'],
    ['another secret', () => sealRequest(Buffer.alloc(32, 9)).bytes, 400, 'request envelope does not decrypt: wrong secret key or altered data'],
    ['a short envelope', () => Buffer.of(1, 2, 3), 400, 'request envelope is too short (3 bytes)'],
  ])('%s', async (_name, build, status, message) => {
    const response = await post('/v2/key/bidstream', build().toString('base64'));
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ status: 'client_error', message });
  });

  it('a body that is not base64', async () => {
    const response = await post('/v2/key/sharing', 'not base64!');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe('request body is not base64');
  });

  it('a wrong or missing api key (401)', async () => {
    const body = sealRequest(secret).bytes.toString('base64');
    for (const auth of [`Bearer ${op.apiKey}x`, op.apiKey, '']) {
      const response = await post('/v2/key/bidstream', body, { Authorization: auth });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ status: 'unauthorized', message: 'invalid or missing api key' });
    }
  });

  it('unknown paths (404) and other methods (405)', async () => {
    expect((await post('/v2/token/validate', '')).status).toBe(404);
    expect((await fetch(`${op.url}/v2/key/bidstream`)).status).toBe(405);
  });

  it('an oversized body (413)', async () => {
    const response = await post('/v2/key/bidstream', 'A'.repeat(200_000));
    expect(response.status).toBe(413);
  });
});

describe('answers', () => {
  it('base64 text to a base64 request, with the request nonce and the key JSON', async () => {
    const env = sealRequest(secret);
    const response = await post('/v2/key/bidstream', env.bytes.toString('base64'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain');
    const opened = openResponse(secret, await response.text(), env.nonce);
    expect(Math.abs(opened.timestampMs - Date.now())).toBeLessThan(60_000);
    expect(JSON.parse(opened.payload.toString())).toEqual(op.keyResponse('bidstream'));
  });

  it('raw bytes to an application/octet-stream request', async () => {
    const env = sealRequest(secret);
    const response = await post('/v2/key/sharing', env.bytes, { 'Content-Type': 'application/octet-stream' });
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const opened = openResponse(secret, Buffer.from(await response.arrayBuffer()), env.nonce);
    const json = JSON.parse(opened.payload.toString());
    expect(json.body).toMatchObject({ caller_site_id: 9000, master_keyset_id: MASTER_KEYSET_ID, token_expiry_seconds: '2592000' });
  });

  it('records what it saw, without the credentials', async () => {
    await new BidstreamClient(op.url, op.apiKey, op.secretKey).refresh();
    const last = op.requests.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', path: '/v2/key/bidstream', status: 200, authorized: true });
    expect(JSON.stringify(op.requests)).not.toContain(op.apiKey);
  });

  it('close() cuts delayed answers short', async () => {
    const other = await startLocalOperator();
    other.setFault({ kind: 'delay', ms: 60_000 });
    const client = new BidstreamClient(other.url, other.apiKey, other.secretKey);
    const pending = client.refresh();
    while (other.requests.length === 0) await new Promise((r) => setImmediate(r));
    await other.close();
    expect((await pending).error?.code).toBe('UID2_ERR_SERVICE_NETWORK');
  });
});

describe('minted tokens decrypt with the clients', () => {
  let bidstream: BidstreamClient;
  let sharing: SharingClient;
  beforeAll(async () => {
    bidstream = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    sharing = new SharingClient(op.url, op.apiKey, op.secretKey);
    expect(await bidstream.refresh()).toEqual({ success: true });
    expect(await sharing.refresh()).toEqual({ success: true });
  });

  it.each([
    [2, {}],
    [3, {}],
    [3, { identityType: 'Phone' }],
    [4, {}],
    [4, { encoding: 'base64' }],
    [4, { identityType: 'Phone', siteId: 1002 }],
  ] as const)('v%s %j', (version, extra) => {
    const rawUid = op.rawUidFor(`user-${version}`);
    const generatedMs = Date.now() - 5000;
    const token = op.mintToken({ version, rawUid, generatedMs, establishedMs: generatedMs - 86_400_000, ...extra });
    const result = bidstream.decryptTokenIntoRawUid(token);
    expect(result).toMatchObject({
      status: DecryptionStatus.Success,
      uid: rawUid,
      siteId: 'siteId' in extra ? extra.siteId : 1001,
      advertisingTokenVersion: version,
      isClientSideGenerated: false,
      established: new Date(generatedMs - 86_400_000),
      expiry: new Date(generatedMs + 259_200_000),
    });
    if (version !== 2) expect(result.identityType).toBe('identityType' in extra ? extra.identityType : 'Email');
    if (version === 4 && !('encoding' in extra)) expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(sharing.decryptTokenIntoRawUid(token).status).toBe(DecryptionStatus.Success);
  });

  it('CSTG: allowed domain or app name succeeds, any other fails the bidstream check', () => {
    const token = op.mintToken({ version: 4, clientSideGenerated: true, siteId: 1001 });
    expect(bidstream.decryptTokenIntoRawUid(token, 'example.com')).toMatchObject({ status: 'Success', isClientSideGenerated: true });
    expect(bidstream.decryptTokenIntoRawUid(token, 'COM.EXAMPLE.APP').status).toBe('Success');
    expect(bidstream.decryptTokenIntoRawUid(token, 'news.example.org').status).toBe('DomainOrAppNameCheckFailed');
    expect(bidstream.decryptTokenIntoRawUid(token).status).toBe('DomainOrAppNameCheckFailed');
    // Sharing skips the domain check.
    expect(sharing.decryptTokenIntoRawUid(token).status).toBe('Success');
  });

  it('expired and over-long tokens are reported as such', () => {
    const expired = op.mintToken({ version: 3, generatedMs: Date.now() - 10_000, expiresMs: Date.now() - 1000 });
    expect(bidstream.decryptTokenIntoRawUid(expired).status).toBe('ExpiredToken');
    const tooLong = op.mintToken({ version: 4, expiresMs: Date.now() + 10 * 86_400_000 });
    expect(bidstream.decryptTokenIntoRawUid(tooLong).status).toBe('InvalidTokenLifetime');
  });

  it('an EUID operator mints EUID tokens that a UID2 key set refuses', async () => {
    const euid = await startLocalOperator({ identityScope: 'EUID' });
    try {
      const client = new BidstreamClient(euid.url, euid.apiKey, euid.secretKey);
      await client.refresh();
      expect(client.keySet!.identityScope).toBe('EUID');
      const token = euid.mintToken({ version: 4 });
      expect(client.decryptTokenIntoRawUid(token).status).toBe('Success');
      expect(bidstream.decryptTokenIntoRawUid(token).status).toBe('InvalidIdentityScope');
    } finally {
      await euid.close();
    }
  });

  it.each([
    [{ version: 5 }, 'options.version must be 2, 3 or 4'],
    [{ version: 4, siteId: 77 }, 'options.siteId 77 is not a site of this operator'],
    [{ version: 4, rawUid: 'not base64!' }, 'options.rawUid must be standard base64 for v3 and v4 tokens'],
    [{ version: 3, identityType: 'Fax' }, 'options.identityType must be "Email" or "Phone"'],
    [{ version: 4, expiresMs: 1.5 }, 'options.expiresMs must be Unix milliseconds (an integer)'],
    [{ version: 4, encoding: 'hex' }, 'options.encoding must be "base64url" or "base64"'],
  ])('mintToken(%j) throws', (options, message) => {
    expect(() => op.mintToken(options as never)).toThrow(message);
  });

  it('raw UIDs: deterministic per seed, random otherwise, 32 bytes each', () => {
    expect(op.rawUidFor('a')).toBe(op.rawUidFor('a'));
    expect(op.rawUidFor('a')).not.toBe(op.rawUidFor('b'));
    expect(op.randomRawUid()).not.toBe(op.randomRawUid());
    for (const uid of [op.rawUidFor('a'), op.randomRawUid()]) expect(Buffer.from(uid, 'base64')).toHaveLength(32);
  });
});

describe('key rotation schedule', () => {
  const DAY = 86_400;
  const t0 = Date.UTC(2026, 0, 1);
  const options = resolveOperatorOptions({ keyLifetimeSeconds: 3 * DAY, rotationIntervalSeconds: DAY });

  function byKeyset(store: KeyStore, nowMs: number): Map<number, { id: number; activates: number; expires: number }[]> {
    const map = new Map<number, { id: number; activates: number; expires: number }[]>();
    for (const k of store.keys(nowMs)) map.set(k.keysetId, [...(map.get(k.keysetId) ?? []), k]);
    return map;
  }

  it('always has an active key and the next one published; new keys activate before old ones expire', () => {
    const store = new KeyStore(options, t0);
    for (let day = 0; day < 10; day++) {
      const now = t0 + day * DAY * 1000 + 12 * 3600 * 1000;
      const keysets = byKeyset(store, now);
      expect([...keysets.keys()]).toEqual([MASTER_KEYSET_ID, 100, 101, 102]);
      for (const [keysetId, keys] of keysets) {
        expect(store.activeKey(keysetId, now)).toBeDefined();
        expect(keys.some((k) => k.activates * 1000 > now)).toBe(true);
        expect(keys.every((k) => k.expires * 1000 > now)).toBe(true);
        for (let i = 1; i < keys.length; i++) expect(keys[i]!.activates).toBeLessThan(keys[i - 1]!.expires);
      }
    }
  });

  it('moves the active key forward each interval and drops expired keys', () => {
    const store = new KeyStore(options, t0);
    const first = store.activeKey(MASTER_KEYSET_ID, t0)!;
    const later = store.activeKey(MASTER_KEYSET_ID, t0 + 5 * DAY * 1000)!;
    expect(later.id).not.toBe(first.id);
    expect(store.keys(t0 + 5 * DAY * 1000).some((k) => k.id === first.id)).toBe(false);
  });

  it('rotate() adds one key per keyset that is active at once', () => {
    const store = new KeyStore(options, t0);
    const added = store.rotate(t0 + 1000);
    expect(added).toHaveLength(4);
    expect(store.activeKey(MASTER_KEYSET_ID, t0 + 1000)!.id).toBe(added[0]);
    expect(store.activeKey(100, t0 + 1000)!.id).toBe(added[1]);
  });

  it('the stale response has the same keys, all expired', () => {
    const store = new KeyStore(options, t0);
    const stale = store.staleKeyResponse('bidstream', t0);
    expect(stale.body.keys.map((k) => k.id)).toEqual(store.keyResponse('bidstream', t0).body.keys.map((k) => k.id));
    for (const k of stale.body.keys) {
      expect(k.expires * 1000).toBeLessThan(t0);
      expect(k.activates).toBeLessThan(k.expires);
    }
  });

  it('the sharing response names the caller keyset as default, expiry as a string', () => {
    const body = new KeyStore(options, t0).keyResponse('sharing', t0).body;
    expect(body).toMatchObject({ caller_site_id: 9000, master_keyset_id: MASTER_KEYSET_ID, default_keyset_id: 100, token_expiry_seconds: '2592000' });
    expect(body['max_sharing_lifetime_seconds']).toBe(2_592_000 + 10);
  });
});

describe('options', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_LOCAL_OPERATOR_OPTIONS).toMatchObject({
      port: 0,
      identityScope: 'UID2',
      callerSiteId: 9000,
      keyLifetimeSeconds: 2_592_000,
      rotationIntervalSeconds: 86_400,
      tokenLifetimeSeconds: 259_200,
      sharingTokenExpirySeconds: 2_592_000,
      allowClockSkewSeconds: 1800,
    });
    expect(DEFAULT_LOCAL_OPERATOR_OPTIONS).not.toHaveProperty('maxBidstreamLifetimeSeconds');
    expect(resolveOperatorOptions({ tokenLifetimeSeconds: 600, sharingTokenExpirySeconds: 900 })).toMatchObject({
      maxBidstreamLifetimeSeconds: 600,
      maxSharingLifetimeSeconds: 900,
    });
  });

  it('generates fresh credentials per operator', () => {
    const a = resolveOperatorOptions();
    const b = resolveOperatorOptions();
    expect(a.apiKey).not.toBe(b.apiKey);
    expect(decodeSecretKey(a.secretKey)).toHaveLength(32);
  });

  it.each([
    [{ port: -1 }, 'options.port must be a non-negative integer'],
    [{ port: 65_536 }, 'options.port must be a non-negative integer no larger than 65535'],
    [{ identityScope: 'EU' }, 'options.identityScope must be "UID2" or "EUID"'],
    [{ apiKey: 'has space' }, 'options.apiKey must be printable ASCII without spaces'],
    [{ secretKey: 'short' }, 'secret key must be base64 of 32 bytes'],
    [{ sites: [] }, 'options.sites must be a non-empty array'],
    [{ sites: [{ id: 0, domainNames: [] }] }, 'options.sites[0].id must be a positive integer'],
    [{ sites: [{ id: 1, domainNames: [''] }] }, 'options.sites[0].domainNames must be an array of non-empty strings'],
    [{ sites: [{ id: 1, domainNames: [] }, { id: 1, domainNames: [] }] }, 'options.sites[1].id 1 is a duplicate'],
    [{ callerSiteId: 2 ** 31 }, 'options.callerSiteId must be a positive integer no larger than 2147483647'],
    [{ keyLifetimeSeconds: 10, rotationIntervalSeconds: 10 }, 'options.keyLifetimeSeconds must be greater than options.rotationIntervalSeconds'],
    [{ maxSharingLifetimeSeconds: 0 }, 'options.maxSharingLifetimeSeconds must be a positive integer'],
    [{ tokenLifetimeSeconds: 600, maxBidstreamLifetimeSeconds: 599 }, 'options.maxBidstreamLifetimeSeconds must be at least options.tokenLifetimeSeconds'],
  ])('%j throws "%s"', async (options, message) => {
    await expect(startLocalOperator(options as never)).rejects.toThrow(message);
  });

  it.each([
    [{ kind: 'explode' }, 'fault.kind must be one of delay, http-error, drop-connection, truncated-body, wrong-nonce, garbage-body, stale-keys'],
    [{ kind: 'delay' }, 'fault.ms must be a non-negative integer'],
    [{ kind: 'http-error', status: 200 }, 'fault.status must be an HTTP status from 300 to 599'],
    ['http-error', 'fault.kind must be one of'],
  ])('setFault(%j) throws', (fault, message) => {
    expect(() => op.setFault(fault as never)).toThrow(message);
    expect(op.fault).toBeNull();
  });

  it('setFault defaults an HTTP error to 500 and null clears it', () => {
    op.setFault({ kind: 'http-error' });
    expect(op.fault).toEqual({ kind: 'http-error', status: 500 });
    op.setFault(null);
    expect(op.fault).toBeNull();
  });
});
