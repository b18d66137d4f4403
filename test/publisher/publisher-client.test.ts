/**
 * PublisherClient against the real local operator over loopback: generate and refresh for every
 * input form, tokens that a BidstreamClient refreshed from the same operator decrypts to the
 * same raw UID, the documented opt-out identities, salt rotation seen through refresh, EUID
 * consent, and every failure a caller can meet (bad input before sending, HTTP errors,
 * timeouts, aborts, dropped connections, garbage, truncated or crossed envelopes).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcmEncrypt } from '../../src/crypto/aes.js';
import { BidstreamClient, DecryptionStatus, IdentityTokens, normalizeAndHashEmail, normalizeAndHashPhone, PublisherClient, type TokenGenerateResult } from '../../src/index.js';
import { decodeSecretKey, openRequest, sealResponse, startLocalOperator, TEST_IDENTITIES, type LocalOperator } from '../../src/testing.js';
import { tcfString } from '../helpers/tcf.js';

let op: LocalOperator;
let client: PublisherClient;
let bidder: BidstreamClient;

beforeAll(async () => {
  op = await startLocalOperator();
  client = new PublisherClient(op.url, op.apiKey, op.secretKey);
  bidder = new BidstreamClient(op.url, op.apiKey, op.secretKey);
  await bidder.refresh();
});
afterAll(async () => {
  await op.close();
});

function identityOf(result: TokenGenerateResult): IdentityTokens {
  if (result.status !== 'success') throw new Error(`expected success, got ${result.status}`);
  return result.identity;
}

function rawUidOf(identity: IdentityTokens): string {
  const result = bidder.decryptTokenIntoRawUid(identity.advertisingToken);
  expect(result.status).toBe(DecryptionStatus.Success);
  return result.uid!;
}

describe('generateToken', () => {
  it('returns an identity whose advertising token a bidstream client decrypts', async () => {
    const before = Date.now();
    const identity = identityOf(await client.generateToken({ email: 'Jane.Doe@example.com' }));
    const result = bidder.decryptTokenIntoRawUid(identity.advertisingToken);
    expect(result).toMatchObject({ status: DecryptionStatus.Success, siteId: op.callerSiteId, identityType: 'Email', advertisingTokenVersion: 4, isClientSideGenerated: false });
    expect(Buffer.from(result.uid!, 'base64')).toHaveLength(32);
    // The service's lifetimes: refresh from 1 hour, the token lives 3 days, the refresh token 30.
    expect(identity.refreshFromMs - identity.identityExpiresMs).toBe((3600 - 3 * 86_400) * 1000);
    expect(identity.refreshExpiresMs - identity.identityExpiresMs).toBe(27 * 86_400 * 1000);
    expect(identity.identityExpiresMs).toBeGreaterThanOrEqual(before + 3 * 86_400_000);
    expect(identity.refreshToken).toHaveLength(388);
    expect(Buffer.from(identity.refreshResponseKey, 'base64')).toHaveLength(32);
    expect(identity.isDueForRefresh()).toBe(false);
    expect(identity.isRefreshable()).toBe(true);
  });

  it('every form of the same email is the same user (same raw UID); another email is not', async () => {
    const forms = [
      { email: 'jane.doe@example.com' },
      { email: ' JANE.DOE@Example.COM ' },
      { emailHash: normalizeAndHashEmail('jane.doe@example.com')! },
      { emailHash: Buffer.from(normalizeAndHashEmail('jane.doe@example.com')!, 'base64').toString('hex').toUpperCase() },
    ];
    const uids = await Promise.all(forms.map(async (input) => rawUidOf(identityOf(await client.generateToken(input)))));
    expect(new Set(uids).size).toBe(1);
    expect(rawUidOf(identityOf(await client.generateToken({ email: 'john@example.com' })))).not.toBe(uids[0]);
    // gmail.com rules apply before hashing.
    const a = rawUidOf(identityOf(await client.generateToken({ email: 'jane.doe+news@gmail.com' })));
    const b = rawUidOf(identityOf(await client.generateToken({ email: 'janedoe@gmail.com' })));
    expect(a).toBe(b);
  });

  it('phone numbers and phone hashes give phone tokens', async () => {
    const phone = '+12025550123';
    const direct = identityOf(await client.generateToken({ phone }));
    const hashed = identityOf(await client.generateToken({ phoneHash: normalizeAndHashPhone(phone)! }));
    expect(bidder.decryptTokenIntoRawUid(direct.advertisingToken).identityType).toBe('Phone');
    expect(rawUidOf(direct)).toBe(rawUidOf(hashed));
    // The same hash sent as an email hash is typed Email; the raw UID (the service's 32-byte form)
    // does not carry the type, so it is the same.
    const asEmail = identityOf(await client.generateToken({ emailHash: normalizeAndHashPhone(phone)! }));
    expect(bidder.decryptTokenIntoRawUid(asEmail.advertisingToken).identityType).toBe('Email');
    expect(rawUidOf(asEmail)).toBe(rawUidOf(direct));
  });

  it('the documented opt-out identities answer optout, with no identity', async () => {
    for (const input of [{ email: TEST_IDENTITIES.optOutEmail }, { phone: TEST_IDENTITIES.optOutPhone }, { emailHash: normalizeAndHashEmail('OptOut@Example.com')! }]) {
      expect(await client.generateToken(input)).toEqual({ status: 'optout' });
    }
  });

  it('a raw UID opted out at the operator makes that user answer optout', async () => {
    const uid = rawUidOf(identityOf(await client.generateToken({ email: 'leaver@example.com' })));
    op.optOut(uid);
    expect(await client.generateToken({ email: 'leaver@example.com' })).toEqual({ status: 'optout' });
  });
});

describe('refreshToken', () => {
  it('returns a new identity for the same user, with a new refresh token and key', async () => {
    const first = identityOf(await client.generateToken({ email: 'refresh.me@example.com' }));
    const refreshed = await client.refreshToken(first);
    expect(refreshed.status).toBe('success');
    const second = refreshed.identity!;
    expect(rawUidOf(second)).toBe(rawUidOf(first));
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.refreshResponseKey).not.toBe(first.refreshResponseKey);
    // The new identity refreshes again (it has its own response key).
    expect((await client.refreshToken(second)).status).toBe('success');
  });

  it('works from the JSON string kept in a session', async () => {
    const kept = identityOf(await client.generateToken({ email: 'session@example.com' })).toJsonString();
    const refreshed = await client.refreshToken(kept);
    expect(refreshed.status).toBe('success');
    const fromString = await client.refreshToken(IdentityTokens.fromJsonString(refreshed.identity!.toJsonString()));
    expect(fromString.status).toBe('success');
  });

  it('refresh-optout@example.com and +00000000002 get tokens, then optout on refresh', async () => {
    for (const input of [{ email: TEST_IDENTITIES.refreshOptOutEmail }, { phone: TEST_IDENTITIES.refreshOptOutPhone }]) {
      const identity = identityOf(await client.generateToken(input));
      expect(rawUidOf(identity)).toBeTruthy();
      expect(await client.refreshToken(identity)).toEqual({ status: 'optout' });
    }
  });

  it('after a salt rotation, a refresh maps the user to the new raw UID', async () => {
    const own = await startLocalOperator({ saltBucketCount: 4 });
    try {
      const c = new PublisherClient(own.url, own.apiKey, own.secretKey);
      const b = new BidstreamClient(own.url, own.apiKey, own.secretKey);
      await b.refresh();
      const first = identityOf(await c.generateToken({ email: 'rotated@example.com' }));
      const before = b.decryptTokenIntoRawUid(first.advertisingToken).uid;
      expect(own.rotateSalts()).toBe(4);
      const after = (await c.refreshToken(first)).identity!;
      const uid = b.decryptTokenIntoRawUid(after.advertisingToken).uid;
      expect(uid).toBeTruthy();
      expect(uid).not.toBe(before);
      expect(b.decryptTokenIntoRawUid(identityOf(await c.generateToken({ email: 'rotated@example.com' })).advertisingToken).uid).toBe(uid);
    } finally {
      await own.close();
    }
  });

  it('an expired refresh token is refused with 400 expired_token', async () => {
    const own = await startLocalOperator({ tokenLifetimeSeconds: 1, refreshTokenLifetimeSeconds: 1 });
    try {
      const c = new PublisherClient(own.url, own.apiKey, own.secretKey);
      const identity = identityOf(await c.generateToken({ email: 'short@example.com' }));
      await new Promise((r) => setTimeout(r, 1100));
      expect(identity.isRefreshable()).toBe(false);
      await expect(c.refreshToken(identity)).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400, message: expect.stringContaining('expired_token') });
    } finally {
      await own.close();
    }
  });

  it('a refresh token from another operator is refused as invalid', async () => {
    const other = await startLocalOperator();
    try {
      const foreign = identityOf(await new PublisherClient(other.url, other.apiKey, other.secretKey).generateToken({ email: 'a@example.com' }));
      await expect(client.refreshToken(foreign)).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    } finally {
      await other.close();
    }
  });

  it('an answer that does not open with the identity\'s refresh_response_key is an envelope error', async () => {
    const identity = identityOf(await client.generateToken({ email: 'key@example.com' }));
    const swapped = IdentityTokens.fromJson({ ...identity.toJSON(), refresh_response_key: Buffer.alloc(32, 7).toString('base64') });
    await expect(client.refreshToken(swapped)).rejects.toMatchObject({ code: 'UID2_ERR_ENVELOPE' });
    const notAKey = IdentityTokens.fromJson({ ...identity.toJSON(), refresh_response_key: 'short' });
    await expect(client.refreshToken(notAKey)).rejects.toMatchObject({ code: 'UID2_ERR_ENVELOPE' });
  });
});

describe('EUID consent', () => {
  const full = { purposesConsent: [1, 3, 4], purposesLI: [2, 7, 10], vendorConsent: [21], vendorLI: [21] };
  let euid: LocalOperator;
  let c: PublisherClient;
  beforeAll(async () => {
    euid = await startLocalOperator({ identityScope: 'EUID' });
    c = new PublisherClient(euid.url, euid.apiKey, euid.secretKey);
  });
  afterAll(() => euid.close());

  it('sufficient consent (bit fields or ranges) gets tokens; without the string too', async () => {
    expect((await c.generateToken({ email: 'eu@example.com', tcfConsentString: tcfString(full) })).status).toBe('success');
    expect((await c.generateToken({ email: 'eu@example.com', tcfConsentString: tcfString({ ...full, ranges: true, vendorConsent: [5, 21] }) })).status).toBe('success');
    expect((await c.generateToken({ email: 'eu@example.com' })).status).toBe('success');
  });

  it('a missing purpose or vendor answers insufficient_user_consent', async () => {
    for (const fields of [
      { ...full, purposesConsent: [1, 3] },
      { ...full, purposesLI: [2, 10] },
      { ...full, vendorConsent: [17] },
      { ...full, vendorLI: [] },
    ]) {
      expect(await c.generateToken({ email: 'eu@example.com', tcfConsentString: tcfString(fields) })).toEqual({ status: 'insufficient_user_consent' });
    }
  });

  it('an unreadable consent string is a 400', async () => {
    for (const tcf of ['', 'not a tcf string!', tcfString({ ...full, version: 1 }), tcfString(full).slice(0, 20)]) {
      await expect(c.generateToken({ email: 'eu@example.com', tcfConsentString: tcf })).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    }
  });

  it('UID2 ignores the consent string', async () => {
    expect((await client.generateToken({ email: 'us@example.com', tcfConsentString: 'garbage' })).status).toBe('success');
  });
});

describe('failures', () => {
  it('bad input is refused before anything is sent, never echoing the value', async () => {
    const sent = op.requests.length;
    const cases: [unknown, string][] = [
      [{ email: 'not-an-email' }, 'UID2_ERR_INVALID_IDENTITY'],
      [{ email: 'secret.person@' }, 'UID2_ERR_INVALID_IDENTITY'],
      [{ phone: '+1 202 555 0123' }, 'UID2_ERR_INVALID_IDENTITY'],
      [{ emailHash: 'abc' }, 'UID2_ERR_INVALID_IDENTITY'],
      [{ phoneHash: 'f'.repeat(63) }, 'UID2_ERR_INVALID_IDENTITY'],
      [{}, 'UID2_ERR_INVALID_ARGUMENT'],
      [{ email: 'a@b.com', phone: '+12025550123' }, 'UID2_ERR_INVALID_ARGUMENT'],
      [{ email: 42 }, 'UID2_ERR_INVALID_ARGUMENT'],
      [{ email: 'a@b.com', tcfConsentString: 7 }, 'UID2_ERR_INVALID_ARGUMENT'],
      [null, 'UID2_ERR_INVALID_ARGUMENT'],
    ];
    for (const [input, code] of cases) {
      const err = await client.generateToken(input as never).catch((e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code });
      expect((err as Error).message).not.toMatch(/not-an-email|secret\.person|202 555|abc|fffff/);
    }
    expect(op.requests.length).toBe(sent);
  });

  it('the constructor checks the credentials', () => {
    expect(() => new PublisherClient(op.url, op.apiKey, 'not base64 of 32 bytes')).toThrow(expect.objectContaining({ code: 'UID2_ERR_SECRET_KEY' }));
    expect(() => new PublisherClient('ftp://x', op.apiKey, op.secretKey)).toThrow(expect.objectContaining({ code: 'UID2_ERR_CONFIG' }));
    expect(() => new PublisherClient(op.url, op.apiKey, op.secretKey, { timeoutMs: 0 })).toThrow('options.timeoutMs must be a positive integer');
    expect(() => new PublisherClient(op.url, op.apiKey, op.secretKey, { maxResponseBytes: -1 })).toThrow('options.maxResponseBytes must be a positive integer');
  });

  it('a wrong api key is a 401; a wrong secret a 400 (the envelope does not open)', async () => {
    await expect(new PublisherClient(op.url, 'wrong-key', op.secretKey).generateToken({ email: 'a@example.com' })).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 401 });
    const wrongSecret = new PublisherClient(op.url, op.apiKey, Buffer.alloc(32, 1).toString('base64'));
    const err = await wrongSecret.generateToken({ email: 'a@example.com' }).then(() => new Error("no error"), (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    expect(err.message).not.toContain(op.apiKey);
  });

  it('faults of the service map to typed errors, for generate and refresh alike', async () => {
    const identity = identityOf(await client.generateToken({ email: 'faults@example.com' }));
    const cases: [Parameters<LocalOperator['setFault']>[0], string, string][] = [
      [{ kind: 'http-error', status: 503 }, 'UID2_ERR_SERVICE_HTTP', 'UID2_ERR_SERVICE_HTTP'],
      [{ kind: 'drop-connection' }, 'UID2_ERR_SERVICE_NETWORK', 'UID2_ERR_SERVICE_NETWORK'],
      [{ kind: 'garbage-body' }, 'UID2_ERR_ENVELOPE', 'UID2_ERR_ENVELOPE'],
      [{ kind: 'truncated-body' }, 'UID2_ERR_ENVELOPE', 'UID2_ERR_ENVELOPE'],
      // A refresh answer carries no nonce: only generate can see a crossed one.
      [{ kind: 'wrong-nonce' }, 'UID2_ERR_NONCE_MISMATCH', 'success'],
    ];
    try {
      for (const [fault, generateCode, refreshCode] of cases) {
        op.setFault(fault);
        await expect(client.generateToken({ email: 'faults@example.com' })).rejects.toMatchObject({ code: generateCode });
        if (refreshCode === 'success') expect((await client.refreshToken(identity)).status).toBe('success');
        else await expect(client.refreshToken(identity)).rejects.toMatchObject({ code: refreshCode });
      }
    } finally {
      op.setFault(null);
    }
  });

  it('times out, and aborts on the caller\'s signal', async () => {
    op.setFault({ kind: 'delay', ms: 2000 });
    try {
      await expect(client.generateToken({ email: 'slow@example.com' }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_TIMEOUT' });
      const controller = new AbortController();
      const pending = client.generateToken({ email: 'slow@example.com' }, { signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'UID2_ERR_ABORTED' });
      const slowClient = new PublisherClient(op.url, op.apiKey, op.secretKey, { timeoutMs: 100 });
      const identity = IdentityTokens.fromJson({ advertising_token: 'a', refresh_token: 'r', refresh_response_key: Buffer.alloc(32).toString('base64'), identity_expires: 1, refresh_expires: 2, refresh_from: 0 });
      await expect(slowClient.refreshToken(identity)).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_TIMEOUT' });
    } finally {
      op.setFault(null);
    }
    await expect(client.generateToken({ email: 'a@example.com' }, { signal: 'no' as never })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
  });

  it('an answer larger than maxResponseBytes is refused', async () => {
    const tiny = new PublisherClient(op.url, op.apiKey, op.secretKey, { maxResponseBytes: 100 });
    await expect(tiny.generateToken({ email: 'a@example.com' })).rejects.toMatchObject({ code: 'UID2_ERR_ENVELOPE' });
  });

  it('refreshToken refuses what is not an identity', async () => {
    await expect(client.refreshToken('{"advertising_token": "x"}')).rejects.toMatchObject({ code: 'UID2_ERR_IDENTITY_TOKENS' });
    await expect(client.refreshToken({ refreshToken: 'x' } as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
  });
});

describe('a hostile service', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  /** A server that knows the secret and answers every request with `answer(request body)`. */
  async function hostile(answer: (body: string, res: ServerResponse) => void): Promise<string> {
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('latin1').on('data', (d: string) => (body += d));
      req.on('end', () => answer(body, res));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('never gets the credentials, the refresh token or its key echoed into an error', async () => {
    const identity = identityOf(await client.generateToken({ email: 'echo@example.com' }));
    const secrets = [op.apiKey, op.secretKey, identity.refreshToken, identity.refreshResponseKey];
    const everything = secrets.join(' | ');
    const secret = decodeSecretKey(op.secretKey);
    const urls = [
      // Plain error bodies echoing everything.
      await hostile((_, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'client_error', message: everything }))),
      // Valid, sealed answers whose status is a credential.
      await hostile((body, res) => {
        if (body.length === 388) {
          const key = Buffer.from(identity.refreshResponseKey, 'base64');
          res.end(gcmEncrypt(key, Buffer.from(JSON.stringify({ status: identity.refreshResponseKey }))).toString('base64'));
        } else {
          const opened = openRequest(secret, Buffer.from(body, 'base64'));
          res.end(sealResponse(secret, opened.nonce, Buffer.from(JSON.stringify({ status: op.apiKey }))).toString('base64'));
        }
      }),
    ];
    for (const url of urls) {
      const c = new PublisherClient(url, op.apiKey, op.secretKey);
      // What each call sent, and so what the service could echo: the credentials; on refresh, the
      // refresh token and (were it leaked) its key too.
      const calls: [() => Promise<unknown>, string[]][] = [
        [() => c.generateToken({ email: 'echo@example.com' }), secrets.slice(0, 2)],
        [() => c.refreshToken(identity), secrets],
      ];
      for (const [call, sent] of calls) {
        const err = (await call().then(() => new Error('no error'), (e: unknown) => e)) as Error & { code: string };
        expect(err.code).toMatch(/^UID2_ERR_(SERVICE_HTTP|TOKEN_RESPONSE)$/);
        // Not even a part: every 12-character piece of each secret is absent.
        const shown = `${err.message}\n${inspect(err)}`;
        for (const s of sent) for (let i = 0; i + 12 <= s.length; i++) expect(shown).not.toContain(s.slice(i, i + 12));
      }
    }
  });
});
