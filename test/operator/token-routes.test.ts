/**
 * The local operator's /v2/token/generate and /v2/token/refresh over raw HTTP, request by
 * request as the real operator answers them: statuses, messages, JSON field names, the
 * 388-character refresh token, the unauthenticated refresh, both body encodings, request limits,
 * and the options that shape the lifetimes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSecretKey, openResponse, sealRequest, startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { gcmDecrypt } from '../../src/crypto/aes.js';
import { resolveOperatorOptions } from '../../src/operator/options.js';

let op: LocalOperator;
let secret: Buffer;
beforeAll(async () => {
  op = await startLocalOperator();
  secret = decodeSecretKey(op.secretKey);
});
afterAll(() => op.close());

/** Seals `payload` (raw text, so malformed JSON can be sent too) and POSTs it to generate. */
async function generate(payload: string, apiKey = op.apiKey): Promise<{ status: number; json: Record<string, unknown> }> {
  const envelope = sealRequest(secret, Buffer.from(payload, 'utf8'));
  const res = await fetch(`${op.url}/v2/token/generate`, { method: 'POST', headers: { Authorization: `Bearer ${apiKey}` }, body: envelope.bytes.toString('base64') });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  return { status: 200, json: JSON.parse(openResponse(secret, text, envelope.nonce).payload.toString('utf8')) as Record<string, unknown> };
}

async function refresh(body: string | Buffer, headers: Record<string, string> = { Authorization: `Bearer ${op.apiKey}` }): Promise<Response> {
  return fetch(`${op.url}/v2/token/refresh`, { method: 'POST', headers, body });
}

const MISSING = 'Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified';

describe('POST /v2/token/generate', () => {
  it('answers success with the service\'s field names, in the service\'s order', async () => {
    const { status, json } = await generate('{"email": "jane@example.com"}');
    expect(status).toBe(200);
    expect(json['status']).toBe('success');
    const body = json['body'] as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['advertising_token', 'refresh_token', 'identity_expires', 'refresh_expires', 'refresh_from', 'refresh_response_key']);
    expect(body['refresh_token']).toHaveLength(388);
    for (const k of ['identity_expires', 'refresh_expires', 'refresh_from']) expect(Number.isSafeInteger(body[k])).toBe(true);
  });

  it.each([
    ['an empty payload', '', MISSING],
    ['no identity field', '{"tcf_consent_string": "x"}', MISSING],
    ['two identity fields', '{"email": "a@b.com", "phone": "+12025550123"}', MISSING],
    ['null counts as absent', '{"email": null}', MISSING],
    ['an invalid email', '{"email": "not-an-email"}', 'Invalid Identifier'],
    ['a phone number that is not normalized', '{"phone": "12025550123"}', 'Invalid Identifier'],
    ['a hash that is neither base64 nor hex of 32 bytes', '{"email_hash": "abc"}', 'Invalid Identifier'],
    ['a payload that is not a JSON object', '[1]', 'request payload is not a JSON object'],
  ])('refuses %s with 400 client_error', async (_, payload, message) => {
    expect(await generate(payload)).toEqual({ status: 400, json: { status: 'client_error', message } });
  });

  it('answers 500 unknown for a non-string identity, as Vert.x getString() does', async () => {
    expect(await generate('{"email": 42}')).toEqual({ status: 500, json: { status: 'unknown', message: 'Unknown error while generating token v2' } });
  });

  it('needs the api key', async () => {
    expect((await generate('{"email": "a@b.com"}', 'wrong')).status).toBe(401);
  });

  it('refuses bodies over 1 MB with 413', async () => {
    const res = await fetch(`${op.url}/v2/token/generate`, { method: 'POST', headers: { Authorization: `Bearer ${op.apiKey}` }, body: 'A'.repeat(1024 * 1024 + 4) });
    expect(res.status).toBe(413);
  });
});

describe('POST /v2/token/refresh', () => {
  async function issue(email: string): Promise<{ refreshToken: string; key: Buffer }> {
    const body = (await generate(JSON.stringify({ email }))).json['body'] as Record<string, string>;
    return { refreshToken: body['refresh_token']!, key: Buffer.from(body['refresh_response_key']!, 'base64') };
  }

  it('needs no api key, and seals the answer with the refresh_response_key (text or raw bytes)', async () => {
    const { refreshToken, key } = await issue('refresh@example.com');
    const res = await refresh(refreshToken, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    const json = JSON.parse(gcmDecrypt(key, Buffer.from(await res.text(), 'base64'))!.toString('utf8')) as Record<string, unknown>;
    expect(json['status']).toBe('success');
    const next = json['body'] as Record<string, string>;
    const binary = await refresh(next['refresh_token']!, { 'Content-Type': 'application/octet-stream' });
    expect(binary.headers.get('content-type')).toBe('application/octet-stream');
    const plain = gcmDecrypt(Buffer.from(next['refresh_response_key']!, 'base64'), Buffer.from(await binary.arrayBuffer()));
    expect(JSON.parse(plain!.toString('utf8'))).toMatchObject({ status: 'success' });
  });

  it('answers invalid_token to a caller with the api key and only "error" to one without', async () => {
    for (const body of ['short', 'A'.repeat(400)]) {
      expect(await (await refresh(body)).json()).toEqual({ status: 'invalid_token', message: 'Invalid Token presented' });
      const anonymous = await refresh(body, { Authorization: 'Bearer wrong' });
      expect(anonymous.status).toBe(400);
      expect(await anonymous.json()).toEqual({ status: 'error', message: 'Error refreshing token' });
    }
  });

  it('refuses a 388-character body whose outer layer does not open, with the real messages', async () => {
    const { refreshToken } = await issue('outer@example.com');
    const bytes = Buffer.from(refreshToken, 'base64');
    const otherKey = Buffer.from(bytes);
    otherKey.writeInt32BE(12345, 1);
    const tampered = Buffer.from(bytes);
    tampered[100]! ^= 1;
    const cases: [string, string][] = [
      ['!'.repeat(388), 'Invalid body: Body is not valid base64.'],
      [otherKey.toString('base64'), 'Invalid key: Generator of this token (Key ID: 12345) does not exist.'],
      [tampered.toString('base64'), 'Invalid data: Check encryption method and encryption key.'],
    ];
    for (const [body, message] of cases) {
      const res = await refresh(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ status: 'client_error', message });
    }
  });

  it('is a POST route like the others', async () => {
    expect((await fetch(`${op.url}/v2/token/refresh`)).status).toBe(405);
  });
});

describe('lifetime options', () => {
  it('default refresh_from and refresh_expires bend to short or long token lifetimes', () => {
    expect(resolveOperatorOptions({ tokenLifetimeSeconds: 600 })).toMatchObject({ refreshIdentityAfterSeconds: 600, refreshTokenLifetimeSeconds: 2_592_000 });
    expect(resolveOperatorOptions({ tokenLifetimeSeconds: 40 * 86_400, maxBidstreamLifetimeSeconds: 40 * 86_400 })).toMatchObject({ refreshIdentityAfterSeconds: 3600, refreshTokenLifetimeSeconds: 40 * 86_400 });
  });

  it.each([
    [{ refreshIdentityAfterSeconds: 7200, tokenLifetimeSeconds: 3600 }, 'options.refreshIdentityAfterSeconds must not exceed options.tokenLifetimeSeconds'],
    [{ tokenLifetimeSeconds: 7200, refreshTokenLifetimeSeconds: 3600 }, 'options.tokenLifetimeSeconds must not exceed options.refreshTokenLifetimeSeconds'],
    [{ refreshTokenLifetimeSeconds: 0 }, 'options.refreshTokenLifetimeSeconds must be a positive integer no larger than 2147483647'],
    [{ saltBucketCount: 0 }, 'options.saltBucketCount must be a positive integer no larger than 1048576'],
    [{ saltRotationPeriodSeconds: 1.5 }, 'options.saltRotationPeriodSeconds must be a positive integer no larger than 2147483647'],
  ])('refuses %j', (options, message) => {
    expect(() => resolveOperatorOptions(options)).toThrow(message);
  });

  it('rotateSalts takes a fraction in (0, 1]', () => {
    expect(() => op.rotateSalts(0)).toThrow('fraction must be a number in (0, 1]');
    expect(() => op.rotateSalts(2)).toThrow('fraction must be a number in (0, 1]');
  });
});
