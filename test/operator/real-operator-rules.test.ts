/**
 * The local operator follows the real UID2 operator where a client can tell the difference, so
 * that a client tested against it behaves the same against the real service. Each rule below is
 * read from IABTechLab's uid2-operator (`V2RequestUtil`, `UIDOperatorVerticle`) and uid2-shared
 * (`AuthMiddleware`), and checked over loopback with raw HTTP or the real clients.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BidstreamClient, DecryptionStatus, EncryptionStatus, SharingClient } from '../../src/index.js';
import { MASTER_KEYSET_ID, decodeSecretKey, openResponse, sealRequest, startLocalOperator, type KeyResponseJson, type LocalOperator } from '../../src/testing.js';

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
  return fetch(`${op.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${op.apiKey}`, ...headers }, body });
}

/** The decrypted key JSON of `path`, fetched over loopback. */
async function fetchKeys(path: string, operator: LocalOperator = op): Promise<KeyResponseJson> {
  const key = decodeSecretKey(operator.secretKey);
  const env = sealRequest(key);
  const response = await fetch(`${operator.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${operator.apiKey}` },
    body: env.bytes.toString('base64'),
  });
  expect(response.status).toBe(200);
  return JSON.parse(openResponse(key, await response.text(), env.nonce).payload.toString('utf8')) as KeyResponseJson;
}

describe('request timestamp: refused when 2 minutes or more from the operator clock, either way', () => {
  // V2RequestUtil refuses when |Duration.between(timestamp, now).toMinutes()| > 1. Duration floors
  // to whole seconds before toMinutes() truncates, so the future side closes one second earlier.
  const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['119.999 s old', -119_999, 200],
    ['120 s old', -120_000, 400],
    ['1 hour old', -3_600_000, 400],
    ['119 s ahead', 119_000, 200],
    ['119.001 s ahead', 119_001, 400],
    ['30 minutes ahead', 1_800_000, 400],
  ])('%s (%i ms) → %i', async (_name, offsetMs, status) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    const response = await post('/v2/key/bidstream', sealRequest(secret, undefined, { nowMs: NOW + offsetMs }).bytes.toString('base64'));
    expect(response.status).toBe(status);
    if (status === 400) expect(await response.json()).toEqual({ status: 'client_error', message: 'request timestamp is too far from the operator clock (2 minutes)' });
  });
});

describe('Authorization: the Bearer scheme is matched case-insensitively, the key exactly', () => {
  it.each([
    ['bearer', 200],
    ['BEARER', 200],
    ['bEaReR', 200],
  ])('%s <key> → %i', async (scheme, status) => {
    const response = await post('/v2/key/bidstream', sealRequest(secret).bytes.toString('base64'), { Authorization: `${scheme} ${op.apiKey}` });
    expect(response.status).toBe(status);
    expect(op.requests.at(-1)).toMatchObject({ status, authorized: true });
  });

  it.each([
    ['two spaces', (key: string) => `Bearer  ${key}`],
    ['no space', (key: string) => `Bearer${key}`],
    ['another scheme', (key: string) => `Basic ${key}`],
    ['the key in another case', (key: string) => `Bearer ${key.toLowerCase()}`],
  ])('%s → 401', async (_name, header) => {
    const response = await post('/v2/key/bidstream', sealRequest(secret).bytes.toString('base64'), { Authorization: header(op.apiKey) });
    expect(response.status).toBe(401);
    expect(op.requests.at(-1)).toMatchObject({ status: 401, authorized: false });
  });
});

describe('request body', () => {
  it('base64 text under any Content-Type, answered as base64 text', async () => {
    for (const contentType of ['application/json', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const env = sealRequest(secret);
      const response = await post('/v2/key/sharing', env.bytes.toString('base64'), { 'Content-Type': contentType });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain');
      expect(openResponse(secret, await response.text(), env.nonce).nonce).toEqual(env.nonce);
    }
  });

  it('base64 text sent as application/octet-stream: the operator falls back to base64 and answers base64 text', async () => {
    const env = sealRequest(secret);
    const response = await post('/v2/key/bidstream', env.bytes.toString('base64'), { 'Content-Type': 'application/octet-stream' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(openResponse(secret, await response.text(), env.nonce).nonce).toEqual(env.nonce);
  });

  it('raw bytes only when the Content-Type is exactly application/octet-stream (any case)', async () => {
    const env = sealRequest(secret);
    const binary = await post('/v2/key/bidstream', env.bytes, { 'Content-Type': 'Application/Octet-Stream' });
    expect(binary.status).toBe(200);
    expect(binary.headers.get('content-type')).toBe('application/octet-stream');
    expect(openResponse(secret, Buffer.from(await binary.arrayBuffer()), env.nonce).nonce).toEqual(env.nonce);

    // With a parameter the header no longer equals the media type: the body is read as base64.
    const withParameter = await post('/v2/key/bidstream', sealRequest(secret).bytes, { 'Content-Type': 'application/octet-stream; charset=binary' });
    expect(withParameter.status).toBe(400);
    expect(await withParameter.json()).toEqual({ status: 'client_error', message: 'request body is not base64' });
  });

  it('a bad binary body that is not base64 either keeps the binary error', async () => {
    const wrongSecret = sealRequest(Buffer.alloc(32, 7)).bytes;
    const response = await post('/v2/key/bidstream', wrongSecret, { 'Content-Type': 'application/octet-stream' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ status: 'client_error', message: 'request envelope does not decrypt: wrong secret key or altered data' });
  });

  it.each([
    ['empty', '', 200],
    ['a JSON object', '{"a":1}', 200],
    ['a JSON object in whitespace', ' \n{}\n', 200],
    ['not JSON', 'hello', 400],
    ['truncated JSON', '{"a":', 400],
    ['a JSON array', '[1,2]', 400],
    ['a JSON number', '42', 400],
    ['JSON null', 'null', 400],
  ])('a decrypted payload that is %s (%j) → %i', async (_name, payload, status) => {
    const env = sealRequest(secret, Buffer.from(payload, 'utf8'));
    const response = await post('/v2/key/bidstream', env.bytes.toString('base64'));
    expect(response.status).toBe(status);
    if (status === 400) expect(await response.json()).toEqual({ status: 'client_error', message: 'request payload is not a JSON object' });
  });
});

describe('key JSON as the real service writes it', () => {
  it('bidstream: keys without keyset_id; lifetime limit = token lifetime + 10 s', async () => {
    const json = await fetchKeys('/v2/key/bidstream');
    expect(json.status).toBe('success');
    const { keys, ...header } = json.body;
    expect(header).toEqual({
      max_bidstream_lifetime_seconds: 259_200 + 10,
      identity_scope: 'UID2',
      allow_clock_skew_seconds: 1800,
      site_data: [
        { id: 1001, domain_names: ['example.com', 'com.example.app'] },
        { id: 1002, domain_names: ['news.example.org'] },
      ],
    });
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(Object.keys(key)).toEqual(['id', 'created', 'activates', 'expires', 'secret']);
  });

  it('sharing: master keyset 9999999; keyset_id only on master and caller keys; limit = expiry + 10 s', async () => {
    const json = await fetchKeys('/v2/key/sharing');
    const { keys, ...header } = json.body;
    expect(MASTER_KEYSET_ID).toBe(9_999_999);
    expect(header).toMatchObject({
      caller_site_id: 9000,
      master_keyset_id: 9_999_999,
      token_expiry_seconds: '2592000',
      max_sharing_lifetime_seconds: 2_592_000 + 10,
      identity_scope: 'UID2',
      allow_clock_skew_seconds: 1800,
    });
    const defaultKeysetId = header['default_keyset_id'] as number;
    const withKeyset = keys.filter((k) => k.keyset_id !== undefined);
    expect(new Set(withKeyset.map((k) => k.keyset_id))).toEqual(new Set([9_999_999, defaultKeysetId]));
    // Keys of the publisher sites come too, for decryption only.
    expect(keys.length).toBeGreaterThan(withKeyset.length);
    for (const key of keys) {
      expect(Object.keys(key)).toEqual(key.keyset_id === undefined ? ['id', 'created', 'activates', 'expires', 'secret'] : ['id', 'created', 'activates', 'expires', 'secret', 'keyset_id']);
    }
  });

  it('configured lifetime limits are sent plus the 10 s tolerance; token_expiry_seconds and the clock skew are not', async () => {
    const custom = await startLocalOperator({
      tokenLifetimeSeconds: 3600,
      maxBidstreamLifetimeSeconds: 7200,
      sharingTokenExpirySeconds: 86_400,
      maxSharingLifetimeSeconds: 172_800,
      allowClockSkewSeconds: 60,
    });
    try {
      expect((await fetchKeys('/v2/key/bidstream', custom)).body).toMatchObject({ max_bidstream_lifetime_seconds: 7210, allow_clock_skew_seconds: 60 });
      expect((await fetchKeys('/v2/key/sharing', custom)).body).toMatchObject({
        max_sharing_lifetime_seconds: 172_810,
        token_expiry_seconds: '86400',
        allow_clock_skew_seconds: 60,
      });
    } finally {
      await custom.close();
    }
  });

  it('the clients: a bidstream key set has no keysets; a sharing client encrypts with the caller keyset and master key', async () => {
    const bidstream = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    const sharing = new SharingClient(op.url, op.apiKey, op.secretKey);
    expect(await bidstream.refresh()).toEqual({ success: true });
    expect(await sharing.refresh()).toEqual({ success: true });
    expect(bidstream.keySet!.keysetIds()).toEqual([]);
    expect(bidstream.keySet!.maxBidstreamLifetimeSeconds).toBe(259_210);

    const keySet = sharing.keySet!;
    expect(keySet.masterKeysetId).toBe(MASTER_KEYSET_ID);
    expect(keySet.keysetIds().sort((a, b) => a - b)).toEqual([keySet.defaultKeysetId, MASTER_KEYSET_ID]);
    const rawUid = op.rawUidFor('sharer@example.com');
    const encrypted = sharing.encryptRawUidIntoToken(rawUid);
    expect(encrypted.status).toBe(EncryptionStatus.Success);
    expect(sharing.decryptTokenIntoRawUid(encrypted.encryptedData!)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid, siteId: 9000 });
    // Tokens minted for publisher sites still decrypt on both endpoints, by key id.
    const minted = op.mintToken({ version: 4, siteId: 1002 });
    expect(bidstream.decryptTokenIntoRawUid(minted).status).toBe(DecryptionStatus.Success);
    expect(sharing.decryptTokenIntoRawUid(minted).status).toBe(DecryptionStatus.Success);
  });
});
