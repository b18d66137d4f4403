/**
 * No error message, event or printed client ever holds the api key, the secret key or a key
 * secret, even when the service echoes them back. The hostile servers here are real node:http
 * servers that know the secret (as a compromised or buggy service would).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, BidstreamClient, ConfigError, EnvelopeError, NonceMismatchError, SecretKeyError, ServiceHttpError, ServiceNetworkError, ServiceTimeoutError, StaleKeysError, Uid2Error } from '../../src/index.js';
import { OPERATOR_FAULT_KINDS, decodeSecretKey, openRequest, sealResponse, startLocalOperator, type OperatorFault } from '../../src/testing.js';

const API_KEY = 'UID2-C-L-123-SuperSecretApiKeyValue0000';
const SECRET_KEY = Buffer.alloc(32, 0x5a).toString('base64');
const KEY_SECRET = Buffer.alloc(32, 0x33).toString('base64');

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers 200 with a valid envelope around `json` (the server knows the secret). */
function sealed(json: string): (req: IncomingMessage, body: Buffer, res: ServerResponse) => void {
  return (_req, body, res) => {
    const secret = decodeSecretKey(SECRET_KEY);
    const opened = openRequest(secret, Buffer.from(body.toString(), 'base64'));
    res.end(sealResponse(secret, opened.nonce, Buffer.from(json)).toString('base64'));
  };
}

function expectClean(text: string): void {
  expect(text).not.toContain(API_KEY);
  expect(text).not.toContain(SECRET_KEY);
  expect(text).not.toContain(KEY_SECRET);
}

/** No run of 10 characters of any of `secrets` (a credential or an encoding of one) is in `text`. */
function expectNoFragment(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    for (let i = 0; i + 10 <= secret.length; i++) {
      const fragment = secret.slice(i, i + 10);
      if (text.includes(fragment)) expect.fail(`"${fragment}" (of a credential form) is in: ${text}`);
    }
  }
}

describe('a service that echoes the credentials', () => {
  it('non-200 body: excerpt redacted, single line, at most 200 characters', async () => {
    const url = await serve((req, _body, res) => {
      res.writeHead(500);
      res.end(`error\r\nInjected-Header: 1\u001b[31m ${req.headers.authorization} secret=${SECRET_KEY} ${'x'.repeat(1000)}`);
    });
    const result = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    const error = result.error as ServiceHttpError;
    expect(error.statusCode).toBe(500);
    expectClean(error.message);
    expect(error.message).toMatch(/^UID2 service answered HTTP 500 to \/v2\/key\/bidstream: error Injected-Header: 1 \[31m Bearer \[redacted\] secret=\[redacted\] x+…$/);
    const excerpt = error.message.slice(error.message.indexOf(': ') + 2);
    expect(excerpt.length).toBeLessThanOrEqual(200);
    expect(error.message).not.toMatch(/[\r\n\u001b]/);
  });

  it('{"status":"error"} with a message naming them: redacted', async () => {
    const url = await serve(sealed(JSON.stringify({ status: 'error', message: `bad key ${API_KEY} / ${SECRET_KEY}` })));
    const client = new BidstreamClient(url, API_KEY, SECRET_KEY);
    const { error } = await client.refresh();
    expect(error?.code).toBe('UID2_ERR_KEYS_JSON');
    expect(error?.message).toBe('key response status is "error", not "success": bad key [redacted] / [redacted]');
  });

  it('malformed JSON holding a key secret: the parser message is not quoted', async () => {
    const url = await serve(sealed(`{"status":"success","body":{"keys":[{"secret":"${KEY_SECRET}" oops`));
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    expect(error?.message).toBe('key response is not valid JSON');
  });

  it('a hostile field value is cut short', async () => {
    const url = await serve(sealed(JSON.stringify({ status: 'success', body: { keys: [], token_expiry_seconds: 'X'.repeat(100_000) } })));
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    expect(error?.code).toBe('UID2_ERR_KEYS_JSON');
    expect(error!.message.length).toBeLessThanOrEqual(300);
  });

  it('an empty key list is stale, not applied', async () => {
    const url = await serve(sealed(JSON.stringify({ status: 'success', body: { keys: [] } })));
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    expect(error).toBeInstanceOf(StaleKeysError);
    expect(error?.message).toBe('key response has no unexpired key (0 keys, newest expiry none); keeping the previous keys');
  });

  it('a chunked body past maxResponseBytes is not read to its end', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      // No Content-Length: the limit must hold while streaming.
      for (let i = 0; i < 64; i++) res.write('A'.repeat(1024));
      res.end();
    });
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY, { maxResponseBytes: 10_000 }).refresh();
    expect(error).toMatchObject({ code: 'UID2_ERR_ENVELOPE', message: 'response body is larger than 10000 bytes' });
  });

  it('a long chunked error body still gives a short excerpt', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(502);
      for (let i = 0; i < 64; i++) res.write(`${API_KEY} `.repeat(30));
      res.end();
    });
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 502 });
    expectClean(error!.message);
    expect(error!.message).toMatch(/^UID2 service answered HTTP 502 to \/v2\/key\/bidstream: (\[redacted\] )+/);
  });

  it('a credential behind a run of whitespace: redacted whole, not cut first and then shown in part', async () => {
    // The excerpt used to be cut (at 2,624 characters) before redaction and then have its
    // whitespace collapsed, so the head of a credential straddling the cut came through.
    for (const pad of [2614, 2600, 4080]) {
      const url = await serve((_req, _body, res) => {
        res.writeHead(500);
        res.end(`oops${' '.repeat(pad)}${API_KEY} and ${SECRET_KEY}`);
      });
      const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
      expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 500 });
      expectNoFragment(error!.message, [API_KEY, SECRET_KEY]);
      expect(error!.message).toMatch(/: oops( \[redacted\]( and( \[redacted\])?)?)?$/);
    }
  });

  it('encoded forms of a credential (URL, JSON escapes, base64, base64url, line-wrapped) are redacted too', async () => {
    const apiKey = 'UID2-C-L-999-ab+cd/ef=gh+ij/kl=mn+op/qr==';
    const secretKey = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 97 + 0xfb) & 0xff)).toString('base64');
    expect(secretKey).toMatch(/\+.*\//);
    const forms = {
      url: encodeURIComponent(secretKey),
      urlLower: encodeURIComponent(apiKey).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      form: apiKey.replaceAll('+', ' '),
      jsonSlash: JSON.stringify(secretKey).slice(1, -1).replaceAll('/', '\\/'),
      jsonUnicode: apiKey.replaceAll('+', '\\u002B').replaceAll('/', '\\u002f'),
      base64: Buffer.from(`Bearer ${apiKey}`).toString('base64'),
      base64Shifted: Buffer.from(`k=${secretKey}`).toString('base64'),
      base64url: Buffer.from(secretKey, 'base64').toString('base64url'),
      wrapped: `${secretKey.slice(0, 20)}\r\n${secretKey.slice(20)}`,
    };
    const url = await serve((_req, _body, res) => {
      res.writeHead(400);
      res.end(Object.entries(forms).map(([name, form]) => `${name}=${form}`).join(' '));
    });
    const { error } = await new BidstreamClient(url, apiKey, secretKey).refresh();
    expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 400 });
    const raw = Buffer.from(secretKey, 'base64').toString('latin1');
    // The base64 forms without their first and last characters, which mix in the bytes around the credential.
    const bearing = { ...forms, base64: forms.base64.slice(10, -4), base64Shifted: forms.base64Shifted.slice(3, -4) };
    expectNoFragment(error!.message, [apiKey, secretKey, raw, ...Object.values(bearing)]);
    for (const name of Object.keys(forms)) expect(error!.message).toContain(`${name}=`);
  });

  it('a redirect is not followed (it would carry the Authorization header away)', async () => {
    let followed = false;
    const target = await serve((_req, _body, res) => {
      followed = true;
      res.end();
    });
    const url = await serve((_req, _body, res) => {
      res.writeHead(307, { Location: `${target}/v2/key/bidstream` });
      res.end();
    });
    const { error } = await new BidstreamClient(url, API_KEY, SECRET_KEY).refresh();
    expect(error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 307 });
    expect(followed).toBe(false);
  });
});

describe('every error of every fault mode', () => {
  it('names neither credential, and neither does the client when printed', async () => {
    const op = await startLocalOperator({ apiKey: API_KEY, secretKey: SECRET_KEY });
    try {
      const client = new BidstreamClient(op.url, API_KEY, SECRET_KEY, { timeoutMs: 100 });
      const seen: string[] = [];
      client.on('refreshError', (e: Error) => seen.push(e.message, String(e.stack), inspect(e)));
      await client.refresh();
      const faults: OperatorFault[] = OPERATOR_FAULT_KINDS.map((kind) => (kind === 'delay' ? { kind, ms: 1000 } : kind === 'response-timestamp' ? { kind, timestampMs: 0 } : { kind }) as OperatorFault);
      for (const fault of faults) {
        op.setFault(fault);
        const { error } = await client.refresh();
        expect(error, fault.kind).toBeInstanceOf(Uid2Error);
      }
      op.setFault(null);
      for (const args of [[op.url, 'wrong', SECRET_KEY], [op.url, API_KEY, Buffer.alloc(32).toString('base64')], [API_KEY, API_KEY, SECRET_KEY], [op.url, API_KEY, API_KEY]]) {
        const other = new BidstreamClient(...(args as [string, string, string]));
        other.on('refreshError', (e: Error) => seen.push(e.message, inspect(e)));
        await other.refresh();
      }
      expect(seen.length).toBeGreaterThan(20);
      for (const text of seen) expectClean(text);
      expectClean(inspect(client, { depth: 5, showHidden: true }));
      expectClean(JSON.stringify(client.keySet));
      expectClean(inspect(client.keySet));
    } finally {
      await op.close();
    }
  });
});

describe('error classes', () => {
  it.each([
    [new ServiceHttpError(503, 'm'), 'ServiceHttpError', 'UID2_ERR_SERVICE_HTTP'],
    [new ServiceNetworkError('m'), 'ServiceNetworkError', 'UID2_ERR_SERVICE_NETWORK'],
    [new ServiceTimeoutError('m'), 'ServiceTimeoutError', 'UID2_ERR_SERVICE_TIMEOUT'],
    [new AbortedError(), 'AbortedError', 'UID2_ERR_ABORTED'],
    [new EnvelopeError('m'), 'EnvelopeError', 'UID2_ERR_ENVELOPE'],
    [new NonceMismatchError(), 'NonceMismatchError', 'UID2_ERR_NONCE_MISMATCH'],
    [new SecretKeyError(), 'SecretKeyError', 'UID2_ERR_SECRET_KEY'],
    [new ConfigError('m'), 'ConfigError', 'UID2_ERR_CONFIG'],
    [new StaleKeysError('m'), 'StaleKeysError', 'UID2_ERR_KEYS_STALE'],
  ])('%s', (error, name, code) => {
    expect(error).toBeInstanceOf(Uid2Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
  });

  it('default messages', () => {
    expect(new AbortedError().message).toBe('the operation was aborted');
    expect(new NonceMismatchError().message).toBe('response nonce does not match the request nonce');
    expect(new SecretKeyError().message).toBe('secret key must be base64 of 32 bytes');
    expect(new ServiceHttpError(418, 'teapot').statusCode).toBe(418);
  });
});
