/**
 * The local operator's `/v3/identity/map` over raw HTTP, as a client of the real service sees
 * it: the answer's shape (all four lists, entries in request order, `r` in whole seconds),
 * the real service's refusals with its messages, the 1 MB body limit, and `throttleFraction`
 * answering 429 with no body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeAndHashEmail, normalizeAndHashPhone } from '../../src/index.js';
import { decodeSecretKey, openResponse, sealRequest, startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { TEST_IDENTITIES } from '../../src/operator/identities.js';

let op: LocalOperator;
let secret: Buffer;
beforeAll(async () => {
  op = await startLocalOperator();
  secret = decodeSecretKey(op.secretKey);
});
afterAll(async () => {
  await op.close();
});

/** POSTs `payload` sealed (base64 text, or raw bytes with `binary`); returns status, content type and the opened JSON or the plain body. */
async function map(payload: string | null, on: LocalOperator = op, binary = false): Promise<{ status: number; type: string | null; json: unknown }> {
  const key = on === op ? secret : decodeSecretKey(on.secretKey);
  const env = sealRequest(key, payload === null ? undefined : Buffer.from(payload, 'utf8'));
  const response = await fetch(`${on.url}/v3/identity/map`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${on.apiKey}`, 'Content-Type': binary ? 'application/octet-stream' : 'text/plain' },
    body: binary ? env.bytes : env.bytes.toString('base64'),
  });
  const type = response.headers.get('content-type');
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) return { status: response.status, type, json: body.length > 0 ? JSON.parse(body.toString('utf8')) : null };
  const opened = openResponse(key, binary ? body : body.toString('latin1'), env.nonce);
  return { status: 200, type, json: JSON.parse(opened.payload.toString('utf8')) };
}

const UID = /^[A-Za-z0-9+/]{43}=$/;

describe('answers', () => {
  it('every list, entries in request order, r in whole seconds, in both envelope forms', async () => {
    const emailHash = normalizeAndHashEmail('jane@example.com')!;
    const payload = JSON.stringify({ email: ['Jane@Example.com', 'nope', TEST_IDENTITIES.optOutEmail], email_hash: [emailHash, Buffer.from(emailHash, 'base64').toString('hex')], phone: ['+15555550100', '555'] });
    for (const binary of [false, true]) {
      const { status, type, json } = await map(payload, op, binary);
      expect(status).toBe(200);
      expect(type).toBe(binary ? 'application/octet-stream' : 'text/plain');
      const body = (json as { status: string; body: Record<string, { u?: string; p?: string | null; r?: number; e?: string }[]> }).body;
      expect((json as { status: string }).status).toBe('success');
      expect(Object.keys(body).sort()).toEqual(['email', 'email_hash', 'phone', 'phone_hash']);
      const [jane, nope, optout] = body['email']!;
      expect(jane).toEqual({ u: expect.stringMatching(UID), p: null, r: expect.any(Number) });
      expect(Number.isInteger(jane!.r) && jane!.r! > Date.now() / 1000 && jane!.r! < Date.now() / 100).toBe(true);
      expect(nope).toEqual({ e: 'invalid identifier' });
      expect(optout).toEqual({ e: 'optout' });
      expect(body['email_hash']).toEqual([jane, jane]);
      expect(body['phone']).toEqual([{ u: expect.stringMatching(UID), p: null, r: expect.any(Number) }, { e: 'invalid identifier' }]);
      expect(body['phone_hash']).toEqual([]);
    }
  });

  it('the same raw UID for a phone and its hash, and a list given as null as empty', async () => {
    const { json } = await map(JSON.stringify({ phone: ['+15555550100'], phone_hash: [normalizeAndHashPhone('+15555550100')], email: null }));
    const body = (json as { body: Record<string, unknown[]> }).body;
    expect(body['phone_hash']).toEqual(body['phone']);
    expect(body['email']).toEqual([]);
  });

  it('numbers and booleans as text (as Jackson reads them): identities that fail normalization', async () => {
    const { status, json } = await map(JSON.stringify({ email: [5, true] }));
    expect(status).toBe(200);
    expect((json as { body: Record<string, unknown[]> }).body['email']).toEqual([{ e: 'invalid identifier' }, { e: 'invalid identifier' }]);
  });

  it('more than 5,000 identities in one request, as the service does', async () => {
    const { status, json } = await map(JSON.stringify({ email_hash: Array.from({ length: 6000 }, () => normalizeAndHashEmail('x@example.com')) }));
    expect(status).toBe(200);
    expect((json as { body: Record<string, unknown[]> }).body['email_hash']).toHaveLength(6000);
  });
});

describe('refuses as the service does', () => {
  const missing = 'Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified';
  it.each([
    ['an empty payload', null, missing],
    ['{}', '{}', missing],
    ['an unknown field', '{"invalid_key": []}', 'Incorrect request format'],
    ['a null entry', '{"email": [null]}', 'Incorrect request format'],
    ['a null after a valid entry', '{"email": ["a@example.com", null]}', 'Incorrect request format'],
    ['an object entry', '{"phone": [{}]}', 'Incorrect request format'],
    ['a list that is a string', '{"email": "a@example.com"}', 'Incorrect request format'],
  ])('%s (400)', async (_name, payload, message) => {
    expect(await map(payload)).toMatchObject({ status: 400, json: { status: 'client_error', message } });
  });

  it('a body over 1 MB (413)', async () => {
    const response = await fetch(`${op.url}/v3/identity/map`, { method: 'POST', headers: { Authorization: `Bearer ${op.apiKey}` }, body: 'A'.repeat((1 << 20) + 4) });
    expect(response.status).toBe(413);
  });
});

describe('throttleFraction', () => {
  it('1: every service request is answered 429 with no body; the admin route is not', async () => {
    const throttled = await startLocalOperator({ throttleFraction: 1 });
    try {
      const response = await fetch(`${throttled.url}/v3/identity/map`, { method: 'POST', body: 'x'.repeat(100_000) });
      expect(response.status).toBe(429);
      expect(await response.text()).toBe('');
      expect((await fetch(`${throttled.url}/v2/key/bidstream`, { method: 'POST', body: '' })).status).toBe(429);
      const admin = await fetch(`${throttled.url}/local/optout`, { method: 'POST', headers: { Authorization: `Bearer ${throttled.apiKey}` }, body: JSON.stringify({ advertising_id: throttled.randomRawUid() }) });
      expect(admin.status).toBe(200);
      expect(throttled.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    } finally {
      await throttled.close();
    }
  });

  it('0.5: about half, at random', async () => {
    const throttled = await startLocalOperator({ throttleFraction: 0.5 });
    try {
      const statuses = [];
      for (let i = 0; i < 200; i++) statuses.push((await map('{"email": ["a@example.com"]}', throttled)).status);
      const n429 = statuses.filter((s) => s === 429).length;
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      // Binomial(200, 0.5): outside 50..150 has a probability under 10^-12.
      expect(n429).toBeGreaterThan(50);
      expect(n429).toBeLessThan(150);
    } finally {
      await throttled.close();
    }
  });

  it.each([-0.1, 1.5, Number.NaN, '0.5'])('refuses %s', async (value) => {
    await expect(startLocalOperator({ throttleFraction: value as number })).rejects.toThrow('options.throttleFraction must be a number from 0 to 1');
  });
});
