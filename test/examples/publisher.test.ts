/**
 * The publisher example (examples/publisher/server.mjs) end to end over loopback: the local
 * operator in this process (refresh_from after 1 s, so a refresh comes due within the test), the
 * example in a child process with the operator's credentials, a user signing in, pages showing
 * an advertising token a bidder decrypts, the identity refreshed once due (same raw UID, new
 * token), an opted-out user never getting a token, and a clean exit on SIGTERM. Needs the build.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

const SERVER = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/publisher/server.mjs');

let op: LocalOperator;
beforeAll(async () => {
  op = await startLocalOperator({ refreshIdentityAfterSeconds: 1 });
});
afterAll(() => op.close());

describe('examples/publisher', () => {
  it('generates at login, keeps the identity, refreshes it when due, and hands the token to the page', async () => {
    const env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey, PORT: '0' };
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = once(child, 'exit');
    try {
      const [url] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const bidder = new BidstreamClient(op.url, op.apiKey, op.secretKey);
      await bidder.refresh();

      const login = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ email: 'Reader@Example.com' }) });
      expect(await login.json()).toEqual({ uid2: 'available' });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const page = async (): Promise<string | null> => ((await (await fetch(`${url}/page`, { headers: { cookie } })).json()) as { advertisingToken: string | null }).advertisingToken;

      const first = await page();
      const decrypted = bidder.decryptTokenIntoRawUid(first!);
      expect(decrypted.status).toBe(DecryptionStatus.Success);
      expect(await page()).toBe(first); // not due yet: the same token
      const refreshesBefore = op.requests.filter((r) => r.path === '/v2/token/refresh').length;

      await new Promise((r) => setTimeout(r, 1100)); // refresh_from has passed
      const second = await page();
      expect(second).not.toBe(first);
      expect(bidder.decryptTokenIntoRawUid(second!).uid).toBe(decrypted.uid);
      expect(op.requests.filter((r) => r.path === '/v2/token/refresh').length).toBe(refreshesBefore + 1);

      const optout = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ email: 'optout@example.com' }) });
      expect(await optout.json()).toEqual({ uid2: 'optout' });
      const optoutCookie = optout.headers.get('set-cookie')!.split(';')[0]!;
      expect(await (await fetch(`${url}/page`, { headers: { cookie: optoutCookie } })).json()).toEqual({ advertisingToken: null });

      const invalid = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ email: 'not-an-email' }) });
      expect(invalid.status).toBe(400);
      expect(stderr).toContain('UID2_ERR_INVALID_IDENTITY');
      expect(stderr).not.toContain('not-an-email');
      expect(stderr).not.toMatch(/reader@example\.com/i);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toEqual([0, null]);
  });
});
