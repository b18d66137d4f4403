/**
 * The advertiser example (examples/advertiser/map-audience.mjs) against the local operator over
 * loopback, as docs/identity-map.md runs it: the first run maps the audience and stores current
 * and previous raw UIDs; a second run the same day sends nothing; a run after the refresh-from
 * time (NOW a year on) re-maps, and after a salt rotation the stored previous raw UID is the
 * one the first run stored. Needs the build.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { TEST_IDENTITIES } from '../../src/operator/identities.js';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/advertiser/map-audience.mjs');

let op: LocalOperator;
let dir: string;
beforeAll(async () => {
  op = await startLocalOperator();
  dir = mkdtempSync(join(tmpdir(), 'uid2-advertiser-'));
});
afterAll(async () => {
  await op.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(now?: string): Promise<{ summary: Record<string, number>; stderr: string }> {
  const env = { ...process.env, UID2_BASE_URL: op.url, UID2_API_KEY: op.apiKey, UID2_SECRET_KEY: op.secretKey, ...(now && { NOW: now }) };
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, join(dir, 'audience.txt'), join(dir, 'store.json')], { env });
  return { summary: JSON.parse(stdout) as Record<string, number>, stderr };
}

function store(): Record<string, { currentUid?: string; previousUid?: string | null; refreshFrom?: string; optedOut?: boolean; invalid?: boolean }> {
  return (JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8')) as { identities: ReturnType<typeof store> }).identities;
}

it('maps the audience, keeps what is not due, and re-maps with the previous raw UID after a rotation', async () => {
  const emails = ['jane@example.com', 'John.Smith@Example.com', TEST_IDENTITIES.optOutEmail, 'not-an-email'];
  writeFileSync(join(dir, 'audience.txt'), emails.join('\n') + '\n');

  const first = await run();
  expect(first.summary).toEqual({ audience: 4, sent: 4, mapped: 2, rotated: 0, optedOut: 1, invalid: 1, kept: 0, requests: 1 });
  const stored = store();
  expect(stored['jane@example.com']).toEqual({ currentUid: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/), previousUid: null, refreshFrom: expect.any(String) });
  expect(stored[TEST_IDENTITIES.optOutEmail]).toEqual({ optedOut: true });
  expect(stored['not-an-email']).toEqual({ invalid: true });
  for (const email of emails) expect(first.stderr + JSON.stringify(first.summary)).not.toContain(email);

  // The same day: nothing is due, no request.
  expect((await run()).summary).toMatchObject({ sent: 0, kept: 4, requests: 0 });

  // A year on, after the operator rotated every salt: both mapped identities are due again.
  op.rotateSalts(1);
  const later = await run(new Date(Date.now() + 366 * 86_400_000).toISOString());
  expect(later.summary).toMatchObject({ sent: 2, mapped: 2, rotated: 2, kept: 2, requests: 1 });
  const after = store();
  expect(after['jane@example.com']!.currentUid).not.toBe(stored['jane@example.com']!.currentUid);
  expect(after['jane@example.com']!.previousUid).toBe(stored['jane@example.com']!.currentUid);
});
