/**
 * `uid2-engine map` as a user runs it (the built CLI in a child process) against the local
 * operator over loopback: records in input order in both formats, the summary on stderr without
 * any identity, `--remap-due` re-mapping exactly the failed and due records, a failing service
 * writing every remaining line as failed (exit 3) and a later `--remap-due` completing it,
 * retries through a throttling operator, and the usage errors.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityMapV3Client, normalizeAndHashEmail, type MappedIdentity } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { CSV_HEADER } from '../../src/cli/map-records.js';
import { TEST_IDENTITIES } from '../../src/operator/identities.js';
import { CLI_PATH, jsonLines, runCli } from '../helpers/cli.js';
import { writeLongLineFile } from '../../bench/long-line-file.js';
import { runWithPeakRss } from '../../bench/peak-rss.js';

let op: LocalOperator;
let dir: string;
beforeAll(async () => {
  op = await startLocalOperator();
  dir = mkdtempSync(join(tmpdir(), 'uid2-map-cli-'));
});
afterAll(async () => {
  await op.close();
  rmSync(dir, { recursive: true, force: true });
});

function credentials(on: LocalOperator = op): string[] {
  return ['--base-url', on.url, '--api-key', on.apiKey, '--secret-key', on.secretKey];
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function uidOf(email: string): Promise<string> {
  return ((await new IdentityMapV3Client(op.url, op.apiKey, op.secretKey).generateIdentityMap({ emails: [email] })).emails[0] as MappedIdentity).currentRawUid;
}

const EMAILS = ['Jane.Doe@Example.com', 'not an email', TEST_IDENTITIES.optOutEmail, 'a,b"c@example.com', 'jane.doe@example.com', ''];

describe('map --input', () => {
  it('writes one JSON record per line, in order, and a summary without identities', async () => {
    const input = file('emails.txt', EMAILS.join('\r\n') + '\n');
    const run = await runCli(['map', '--input', input, '--type', 'email', ...credentials()]);
    expect(run.code).toBe(0);
    const records = jsonLines(run.stdout);
    expect(records.map((r) => r['input'])).toEqual(EMAILS);
    expect(records.map((r) => r['status'])).toEqual(['mapped', 'unmapped', 'unmapped', 'mapped', 'mapped', 'unmapped']);
    const jane = await uidOf('jane.doe@example.com');
    expect(records[0]).toEqual({ input: EMAILS[0], status: 'mapped', uid: jane, previousUid: null, refreshFrom: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/) });
    expect(records[4]!['uid']).toBe(jane);
    expect(records[1]).toEqual({ input: 'not an email', status: 'unmapped', reason: 'invalid identifier' });
    expect(records[2]).toEqual({ input: TEST_IDENTITIES.optOutEmail, status: 'unmapped', reason: 'optout' });
    expect(run.stderr).toMatch(/^uid2-engine: 6 identities in [\d.]+ s \([\d,]+\/s\): mapped 3, invalid identifier 2, optout 1 \(1 requests, 0 retried, 0 of them after HTTP 429\)\n$/);
    for (const email of EMAILS.filter(Boolean)) expect(run.stderr).not.toContain(email);
  });

  it('writes CSV with a header and quoted fields to --output', async () => {
    const input = file('emails.csv.txt', EMAILS.slice(0, 4).join('\n'));
    const output = join(dir, 'out.csv');
    const run = await runCli(['map', '--input', input, '--type', 'email', '--format', 'csv', '--output', output, ...credentials()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    const lines = readFileSync(output, 'utf8').split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines[1]).toMatch(new RegExp(`^Jane\\.Doe@Example\\.com,mapped,${(await uidOf('jane.doe@example.com')).replace(/[+/]/g, '\\$&')},,\\d{4}-.*Z,$`));
    expect(lines[2]).toBe('not an email,unmapped,,,,invalid identifier');
    expect(lines[3]).toBe(`${TEST_IDENTITIES.optOutEmail},unmapped,,,,optout`);
    expect(lines[4]).toMatch(/^"a,b""c@example\.com",mapped,/);
    expect(lines[5]).toBe('');
  });

  it.each([
    ['phone', ['+15555550100', '5555550100']],
    ['email_hash', [normalizeAndHashEmail('jane.doe@example.com')!, 'zz']],
    ['phone_hash', [Buffer.alloc(32, 1).toString('hex'), 'zz']],
  ])('--type %s', async (type, lines) => {
    const run = await runCli(['map', '--input', '-', '--type', type, ...credentials()], lines.join('\n'));
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((r) => r['status'])).toEqual(['mapped', 'unmapped']);
    if (type === 'email_hash') expect(jsonLines(run.stdout)[0]!['uid']).toBe(await uidOf('jane.doe@example.com'));
  });

  it('gets every line through an operator answering 429 to 30% of requests', async () => {
    const throttled = await startLocalOperator({ throttleFraction: 0.3 });
    try {
      const emails = Array.from({ length: 20_001 }, (_, i) => `user${i}@example.com`);
      const run = await runCli(['map', '--input', file('many.txt', emails.join('\n')), '--type', 'email', '--concurrency', '2', ...credentials(throttled)]);
      expect(run.code).toBe(0);
      const records = jsonLines(run.stdout);
      expect(records.map((r) => r['input'])).toEqual(emails);
      expect(records.every((r) => r['status'] === 'mapped')).toBe(true);
      expect(run.stderr).toMatch(/20,001 identities .*: mapped 20,001 \(\d+ requests, \d+ retried, \d+ of them after HTTP 429\)/);
    } finally {
      await throttled.close();
    }
  });
});

describe('a failing service', () => {
  it('writes the rest as failed, exits 3, and --remap-due completes the file', async () => {
    const input = file('fail.txt', EMAILS.join('\n') + '\n');
    const output = join(dir, 'fail.jsonl');
    op.setFault({ kind: 'http-error', status: 401 });
    let run;
    try {
      run = await runCli(['map', '--input', input, '--type', 'email', '--output', output, ...credentials()]);
    } finally {
      op.setFault(null);
    }
    expect(run.code).toBe(3);
    const failed = jsonLines(readFileSync(output, 'utf8'));
    expect(failed.map((r) => r['input'])).toEqual(EMAILS);
    // The chunk fails as a whole, invalid lines included: --remap-due answers them all.
    expect(failed.map((r) => r['status'])).toEqual(['failed', 'failed', 'failed', 'failed', 'failed', 'failed']);
    expect(failed[0]).toEqual({ input: EMAILS[0], status: 'failed', error: 'UID2_ERR_SERVICE_HTTP' });
    expect(run.stderr).toContain('mapping stopped: UID2 service answered HTTP 401 to /v3/identity/map');
    expect(run.stderr).toContain(`6 identities are written as "failed": map them with --remap-due ${output}`);
    for (const email of EMAILS.filter(Boolean)) expect(run.stderr).not.toContain(email);

    const again = await runCli(['map', '--remap-due', output, '--type', 'email', ...credentials()]);
    expect(again.code).toBe(0);
    expect(jsonLines(again.stdout).map((r) => r['status'])).toEqual(['mapped', 'unmapped', 'unmapped', 'mapped', 'mapped', 'unmapped']);
  });
});

describe('map --remap-due', () => {
  const past = new Date(Date.now() - 60_000).toISOString();
  const future = new Date(Date.now() + 86_400_000).toISOString();
  const stale = Buffer.alloc(32, 7).toString('base64');

  it('maps again only the failed records and the mapped ones that are due, copying the rest (JSON lines)', async () => {
    const previous = file(
      'previous.jsonl',
      [
        { input: 'due@example.com', status: 'mapped', uid: stale, previousUid: null, refreshFrom: past },
        { input: 'kept@example.com', status: 'mapped', uid: stale, previousUid: stale, refreshFrom: future },
        { input: 'retry@example.com', status: 'failed', error: 'UID2_ERR_RETRY_DEADLINE' },
        { input: 'gone@example.com', status: 'unmapped', reason: 'optout' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const run = await runCli(['map', '--remap-due', previous, '--type', 'email', ...credentials()]);
    expect(run.code).toBe(0);
    const records = jsonLines(run.stdout);
    expect(records).toEqual([
      { input: 'due@example.com', status: 'mapped', uid: await uidOf('due@example.com'), previousUid: null, refreshFrom: expect.any(String) },
      { input: 'kept@example.com', status: 'mapped', uid: stale, previousUid: stale, refreshFrom: future },
      { input: 'retry@example.com', status: 'mapped', uid: await uidOf('retry@example.com'), previousUid: null, refreshFrom: expect.any(String) },
      { input: 'gone@example.com', status: 'unmapped', reason: 'optout' },
    ]);
    expect(run.stderr).toMatch(/4 identities in .*: mapped 2, kept 2 \(1 requests,/);
  });

  it('reads a CSV output and writes CSV', async () => {
    const previous = file('previous.csv', [CSV_HEADER, `"due,quoted@example.com",mapped,${stale},,${past},`, `kept@example.com,mapped,${stale},,${future},`].join('\n') + '\n');
    const run = await runCli(['map', '--remap-due', previous, '--type', 'email', '--format', 'csv', ...credentials()]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines[1]).toMatch(/^"due,quoted@example\.com",mapped,/);
    expect(lines[1]).not.toContain(stale);
    expect(lines[2]).toBe(`kept@example.com,mapped,${stale},,${future},`);
  });

  it('refuses a file that is not its output, naming the line and not its content', async () => {
    const previous = file('bad.jsonl', `${JSON.stringify({ input: 'x@example.com', status: 'failed', error: 'E' })}\nsecret.person@example.com\n`);
    const run = await runCli(['map', '--remap-due', previous, '--type', 'email', ...credentials()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`line 2 of ${previous} is not a record written by uid2-engine map`);
    expect(run.stderr).not.toContain('secret.person');
  });

  it('refuses a line over 1 MiB in its file the same way', async () => {
    const previous = join(dir, 'long.jsonl');
    await writeLongLineFile(previous, `${JSON.stringify({ input: 'x@example.com', status: 'failed', error: 'E' })}\n{"input":"`, 2 * 1024 * 1024, '"}\n');
    const run = await runCli(['map', '--remap-due', previous, '--type', 'email', ...credentials()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`uid2-engine: line 2 of ${previous} is longer than 1,048,576 bytes: not a record written by uid2-engine map\n`);
    expect(run.stderr).not.toContain('AAAA');
  });
});

describe('map --input: a line over 1 MiB', () => {
  it('stops the run (exit 2, line named, content not echoed) without holding the line: a 50 MB line in flat memory', async () => {
    const small = file('one.txt', 'jane.doe@example.com\n');
    const baseline = await runWithPeakRss(CLI_PATH, ['map', '--input', small, '--type', 'email', ...credentials()]);
    expect(baseline.code).toBe(0);
    const input = join(dir, 'long.txt');
    await writeLongLineFile(input, 'jane.doe@example.com\r\n', 50 * 1024 * 1024, '\nx@example.com\n');
    const run = await runWithPeakRss(CLI_PATH, ['map', '--input', input, '--type', 'email', ...credentials()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`uid2-engine: line 2 of ${input} is longer than 1,048,576 bytes: not an identity\n`);
    expect(run.stderr).not.toContain('AAAA');
    expect(run.peakRssKb - baseline.peakRssKb).toBeLessThan(64 * 1024);
    rmSync(input);
  }, 60_000);
});

describe('usage errors', () => {
  it.each([
    [['--input', '-'], '--type must be email, phone, email_hash or phone_hash'],
    [['--input', '-', '--type', 'mail'], '--type must be email, phone, email_hash or phone_hash, got "mail"'],
    [['--type', 'email'], 'give either --input FILE (identities, one per line) or --remap-due PREVIOUS (an earlier output)'],
    [['--input', 'a', '--remap-due', 'b', '--type', 'email'], 'give either --input FILE'],
    [['--remap-due', 'same.jsonl', '--output', './same.jsonl', '--type', 'email'], '--output must not be the --remap-due file'],
    [['--input', '-', '--type', 'email', '--format', 'xml'], '--format must be jsonl or csv, got "xml"'],
    [['--input', '-', '--type', 'email', '--concurrency', '0'], '--concurrency must be an integer from 1 to 64, got "0"'],
  ])('%j', async (args, message) => {
    const run = await runCli(['map', ...args, ...credentials()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('missing credentials', async () => {
    const run = await runCli(['map', '--input', '-', '--type', 'email'], '', { PATH: process.env['PATH'] });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no service credentials: pass --base-url, --api-key and --secret-key (or set UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY)');
  });

  it('operator --throttle 1 answers every service request 429', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'operator', '--throttle', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      for await (const chunk of child.stdout.setEncoding('utf8')) {
        stdout += chunk as string;
        if (stdout.split('\n').length > 3) break;
      }
      const url = /UID2_BASE_URL=(\S+)/.exec(stdout)![1]!;
      expect((await fetch(`${url}/v3/identity/map`, { method: 'POST', body: 'x' })).status).toBe(429);
      expect(stderr).toContain('answering HTTP 429 to 100% of service requests');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('operator --throttle outside 0..1', async () => {
    const run = await runCli(['operator', '--throttle', '1.5']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--throttle must be a fraction from 0 to 1 (e.g. 0.05), got "1.5"');
  });
});
