/**
 * Answers the local operator never gives: a loopback server that opens each request with the
 * real envelope code and seals whatever answer JSON the test hands it, to see the client refuse
 * every malformed shape with IdentityMapResponseError (naming the field, never a value), accept
 * the documented variations (`r` in milliseconds, an unknown reason, lists left out), and to see
 * the request it sends: only hashes, only the lists it has, the largest one under 1 MB.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityMapResponseError, IdentityMapV3Client, type MappedIdentity } from '../../src/index.js';
import { MAX_REQUEST_BODY_BYTES, identityMapPayload } from '../../src/identity-map/request.js';
import { normalizeAndHashEmail } from '../../src/identity/email.js';
import { decodeSecretKey, openRequest, sealRequest, sealResponse } from '../../src/service/envelope.js';

const SECRET_TEXT = randomBytes(32).toString('base64');
const SECRET = decodeSecretKey(SECRET_TEXT);
const API_KEY = 'hostile-test-key';

type Answer = (request: Record<string, string[]>) => unknown;
let answer: Answer = () => ({});
let lastRequest: Record<string, string[]> = {};
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const opened = openRequest(SECRET, Buffer.from(Buffer.concat(chunks).toString('latin1'), 'base64'));
      lastRequest = JSON.parse(opened.payload.toString('utf8')) as Record<string, string[]>;
      const reply = answer(lastRequest);
      const sealed = sealResponse(SECRET, opened.nonce, Buffer.isBuffer(reply) ? reply : Buffer.from(JSON.stringify(reply), 'utf8'));
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(sealed.toString('base64'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const UID = randomBytes(32).toString('base64');
const UID33 = randomBytes(33).toString('base64');
const R = 1_900_000_000;
const ok = (entries: unknown[]): unknown => ({ status: 'success', body: { email: [], email_hash: entries, phone: [], phone_hash: [] } });

async function mapOne(reply: Answer): Promise<{ result?: MappedIdentity | object; error?: IdentityMapResponseError }> {
  answer = reply;
  try {
    const result = await new IdentityMapV3Client(url, API_KEY, SECRET_TEXT, { retryDeadlineMs: 0 }).generateIdentityMap({ emails: ['secret.person@example.com'] });
    return { result: result.emails[0]! };
  } catch (err) {
    return { error: err as IdentityMapResponseError };
  }
}

describe('the request', () => {
  it('carries only hashes, and only the lists it has', async () => {
    answer = (req) => ({ status: 'success', body: { email_hash: req['email_hash']!.map(() => ({ e: 'optout' })), phone_hash: req['phone_hash']!.map(() => ({ e: 'optout' })) } });
    await new IdentityMapV3Client(url, API_KEY, SECRET_TEXT).generateIdentityMap({ emails: ['A.B@example.com'], phones: ['+15555550100'] });
    expect(lastRequest).toEqual({ email_hash: [normalizeAndHashEmail('a.b@example.com')], phone_hash: [expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/)] });
    answer = (req) => ok(req['email_hash']!.map(() => ({ e: 'optout' })));
    await new IdentityMapV3Client(url, API_KEY, SECRET_TEXT).generateIdentityMap({ emails: ['A.B@example.com'] });
    expect(Object.keys(lastRequest)).toEqual(['email_hash']);
  });

  it('of 5,000 hashes, the most a request holds, is well under the 1 MB body limit', () => {
    const hashes = Array.from({ length: 5000 }, () => randomBytes(32).toString('base64'));
    const body = sealRequest(SECRET, Buffer.from(identityMapPayload({ emailHashes: hashes.slice(0, 2500), phoneHashes: hashes.slice(2500) }))).bytes.toString('base64');
    expect(body.length).toBeLessThan(MAX_REQUEST_BODY_BYTES / 3);
  });
});

describe('answers it reads', () => {
  it('r in seconds (as the operator writes it) and in milliseconds (as its page says)', async () => {
    expect((await mapOne(() => ok([{ u: UID, p: null, r: R }]))).result).toEqual({ status: 'mapped', currentRawUid: UID, previousRawUid: null, refreshFrom: new Date(R * 1000) });
    expect((await mapOne(() => ok([{ u: UID, p: UID33, r: R * 1000 }]))).result).toEqual({ status: 'mapped', currentRawUid: UID, previousRawUid: UID33, refreshFrom: new Date(R * 1000) });
  });

  it('p left out as null, lists not asked for left out, an unknown reason as unknown', async () => {
    expect((await mapOne(() => ({ status: 'success', body: { email_hash: [{ u: UID, r: R }] } }))).result).toMatchObject({ previousRawUid: null });
    expect((await mapOne(() => ok([{ e: 'new reason\u0000\nfrom the future' }]))).result).toEqual({ status: 'unmapped', reason: 'unknown', rawReason: 'new reason from the future' });
  });
});

describe('answers it refuses', () => {
  it.each([
    ['status not success', { status: 'client_error', message: 'x' }, 'identity map response status is "client_error", not "success"'],
    ['no body', { status: 'success' }, 'identity map response has no body object'],
    ['the list missing', { status: 'success', body: {} }, 'body.email_hash is not an array'],
    ['too few entries', ok([]), 'body.email_hash has 0 entries for 1 identities'],
    ['too many entries', ok([{ e: 'optout' }, { e: 'optout' }]), 'body.email_hash has 2 entries for 1 identities'],
    ['an entry that is not an object', ok(['x']), 'body.email_hash[0] is not an object'],
    ['neither u nor e', ok([{ p: null, r: R }]), 'body.email_hash[0] has neither "u" nor "e"'],
    ['e not a string', ok([{ e: 5 }]), 'body.email_hash[0].e must be a string'],
    ['u not a raw UID', ok([{ u: 'secret.person@example.com', p: null, r: R }]), 'body.email_hash[0].u is not a raw UID (base64 of 32 or 33 bytes)'],
    ['u of 31 bytes', ok([{ u: randomBytes(31).toString('base64'), p: null, r: R }]), 'body.email_hash[0].u is not a raw UID (base64 of 32 or 33 bytes)'],
    ['p not a raw UID', ok([{ u: UID, p: 'x', r: R }]), 'body.email_hash[0].p is neither null nor a raw UID'],
    ['r missing', ok([{ u: UID, p: null }]), 'body.email_hash[0].r must be a non-negative integer time'],
    ['r negative', ok([{ u: UID, p: null, r: -1 }]), 'body.email_hash[0].r must be a non-negative integer time'],
    ['r fractional', ok([{ u: UID, p: null, r: 1.5 }]), 'body.email_hash[0].r must be a non-negative integer time'],
    ['r beyond Date', ok([{ u: UID, p: null, r: 9e15 }]), 'body.email_hash[0].r is beyond the dates this library represents'],
    ['answers for identities not sent', { status: 'success', body: { email_hash: [{ e: 'optout' }], phone: [{ e: 'optout' }] } }, 'body.phone answers identities that were not sent'],
  ])('%s', async (_name, reply, message) => {
    const { error } = await mapOne(() => reply);
    expect(error).toBeInstanceOf(IdentityMapResponseError);
    expect(error!.code).toBe('UID2_ERR_IDENTITY_MAP_RESPONSE');
    expect(error!.message).toBe(message);
    expect(error!.message).not.toContain('secret.person');
  });

  it('an answer that is not JSON, or not an object', async () => {
    for (const reply of [Buffer.from('{"status": "success", '), [1], 'text', null]) {
      const { error } = await mapOne(() => reply);
      expect(error).toBeInstanceOf(IdentityMapResponseError);
    }
  });
});
