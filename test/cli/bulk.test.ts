/**
 * The bulk CLI: a million tokens through `decrypt --input FILE --output FILE` in input order,
 * with a per-status summary and flat memory (the child's peak RSS), plus the smaller contracts
 * of --threads, --output, --format, .gz files, a 100 MB line, the summary, the progress bar on a
 * terminal, and `encrypt --input` (with its own 100 MB line).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, gzipSync } from 'node:zlib';
import { unpackMultiple } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRate, renderProgress, renderSummary } from '../../src/cli/progress.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { CLI_PATH, jsonLines, runCli } from '../helpers/cli.js';
import { runWithPeakRss, type MeasuredRun } from '../../bench/peak-rss.js';
import { writeLongLineFile } from '../../bench/long-line-file.js';

const dir = mkdtempSync(join(tmpdir(), 'uid2-bulk-test-'));
let op: LocalOperator;
let keysPath: string;
let sharingKeysPath: string;
let now: string;
afterAll(async () => {
  await op?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeAll(async () => {
  op = await startLocalOperator();
  keysPath = join(dir, 'bidstream.json');
  writeFileSync(keysPath, JSON.stringify(op.keyResponse('bidstream')));
  sharingKeysPath = join(dir, 'sharing.json');
  writeFileSync(sharingKeysPath, JSON.stringify(op.keyResponse('sharing')));
  now = new Date().toISOString();
});

/**
 * The input lines the big file is made of: every kind of line the CLI reads. Tokens are minted
 * at `now`, the clock the CLI decrypts with: a v2 token has no generated time, so its lifetime is
 * counted from the decryption clock, and the limit allows only 10 s beyond the token lifetime.
 */
function distinctLines(): string[] {
  const generatedMs = Date.parse(now);
  return [
    op.mintToken({ version: 4, rawUid: op.rawUidFor('a'), generatedMs }),
    op.mintToken({ version: 3, rawUid: op.rawUidFor('b'), identityType: 'Phone', generatedMs }),
    op.mintToken({ version: 2, rawUid: op.rawUidFor('c'), generatedMs }),
    JSON.stringify({ token: op.mintToken({ version: 4, rawUid: op.rawUidFor('d'), clientSideGenerated: true, generatedMs }), domainOrAppName: 'example.com' }),
    JSON.stringify({ token: op.mintToken({ version: 4, clientSideGenerated: true, generatedMs }), domainOrAppName: 'evil.example' }),
    op.mintToken({ version: 4, expiresMs: Date.parse(now) - 1000, generatedMs: Date.parse(now) - 60_000 }),
    'not a token',
    '',
    '{"token": 5}',
  ];
}

/** Which distinct line sits at position i: scrambled, so a swapped or shifted chunk shows. */
function pick(i: number, count: number): number {
  return ((Math.imul(i, 2654435761) >>> 0) >>> 3) % count;
}

/** Runs the CLI and reports its peak RSS (bench/peak-rss.ts). */
const runMeasured = (args: string[]): Promise<MeasuredRun> => runWithPeakRss(CLI_PATH, args);

describe('decrypt --input: a million tokens', () => {
  it('keeps input order, prints a per-status summary and stays in bounded memory', async () => {
    const lines = distinctLines();
    // The reference: each distinct line decrypted once, in-process, by the same CLI.
    const reference = await runCli(['decrypt', '--keys', keysPath, '--now', now, '--threads', '0'], lines.join('\n') + '\n');
    expect(reference.code).toBe(0);
    const expected = reference.stdout.split('\n').slice(0, lines.length);
    expect(expected).toHaveLength(lines.length);
    const expectedStatuses = jsonLines(reference.stdout).map((r) => r['status'] as string);
    expect(expectedStatuses).toEqual([
      'Success',
      'Success',
      'Success',
      'Success',
      'DomainOrAppNameCheckFailed',
      'ExpiredToken',
      'InvalidPayload',
      'InvalidPayload',
      'InvalidPayload',
    ]);

    const TOTAL = 1_000_000;
    const inputPath = join(dir, 'million.txt');
    const input = createWriteStream(inputPath);
    const counts = new Map<string, number>();
    let block: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const k = pick(i, lines.length);
      block.push(lines[k]!);
      counts.set(expectedStatuses[k]!, (counts.get(expectedStatuses[k]!) ?? 0) + 1);
      if (block.length === 10_000) {
        if (!input.write(block.join('\n') + '\n')) await once(input, 'drain');
        block = [];
      }
    }
    input.end();
    await once(input, 'close');

    const outputPath = join(dir, 'million.out');
    const run = await runMeasured(['decrypt', '--keys', keysPath, '--now', now, '--input', inputPath, '--output', outputPath]);
    expect(run.code).toBe(0);

    // Every output line, in order, is exactly the reference record of its input line.
    const reader = createInterface({ input: createReadStream(outputPath), crlfDelay: Infinity });
    let n = 0;
    let mismatches = 0;
    let firstMismatch = -1;
    for await (const line of reader) {
      if (line !== expected[pick(n, lines.length)]) {
        mismatches++;
        if (firstMismatch < 0) firstMismatch = n;
      }
      n++;
    }
    expect({ lines: n, mismatches, firstMismatch }).toEqual({ lines: TOTAL, mismatches: 0, firstMismatch: -1 });

    const summary = run.stderr.split('\n').find((l) => l.startsWith('uid2-engine: '));
    const byStatus = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([s, c]) => `${s} ${c.toLocaleString('en-US')}`);
    expect(summary).toMatch(new RegExp(`^uid2-engine: 1,000,000 tokens in \\d+\\.\\d s \\([\\d,]+/s\\): ${byStatus.join(', ')}$`));

    // Flat memory: the input is 180 MB and the output 250 MB; the process holds a few chunks
    // (the bound: 150 MB at any input size).
    expect(run.peakRssKb).toBeGreaterThan(0);
    expect(run.peakRssKb).toBeLessThan(150 * 1024);
    rmSync(inputPath);
    rmSync(outputPath);
  }, 120_000);
});

describe('decrypt --input: options and output', () => {
  it('--threads 0, 1 and the default give the same output as token arguments; the summary goes to stderr only', async () => {
    const lines = distinctLines().slice(0, 7);
    const path = join(dir, 'few.txt');
    writeFileSync(path, lines.join('\r\n'));
    const args = await runCli(['decrypt', '--keys', keysPath, '--now', now, ...lines]);
    expect(args.stderr).toBe('');
    for (const threads of [['--threads', '0'], ['--threads', '1'], []]) {
      const run = await runCli(['decrypt', '--keys', keysPath, '--now', now, '--input', path, ...threads]);
      expect(run.code).toBe(0);
      // Arguments are not JSON lines: the two JSON lines differ only in how they are read.
      const fromArgs = args.stdout.split('\n');
      const fromFile = run.stdout.split('\n');
      expect(fromFile).toHaveLength(fromArgs.length);
      expect([0, 1, 2, 5, 6].map((i) => fromFile[i])).toEqual([0, 1, 2, 5, 6].map((i) => fromArgs[i]));
      expect(run.stderr).toMatch(/^uid2-engine: 7 tokens in \d+\.\d s \([\d,]+\/s\): Success 4, DomainOrAppNameCheckFailed 1, ExpiredToken 1, InvalidPayload 1\n$/);
    }
  });

  it('--input - reads stdin and prints the summary; plain stdin prints none', async () => {
    const token = op.mintToken({ version: 4 });
    const dash = await runCli(['decrypt', '--keys', keysPath, '--input', '-'], `${token}\n`);
    expect(jsonLines(dash.stdout).map((r) => r['status'])).toEqual(['Success']);
    expect(dash.stderr).toMatch(/^uid2-engine: 1 token in \d+\.\d s \([\d,]+\/s\): Success 1\n$/);
    const plain = await runCli(['decrypt', '--keys', keysPath], `${token}\n`);
    expect(plain.stderr).toBe('');
    expect(jsonLines(plain.stdout).map((r) => r['status'])).toEqual(['Success']);
  });

  it('an empty input gives no records and a zero summary', async () => {
    const path = join(dir, 'empty.txt');
    writeFileSync(path, '');
    const run = await runCli(['decrypt', '--keys', keysPath, '--input', path]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^uid2-engine: 0 tokens in \d+\.\d s \(0\/s\)\n$/);
  });

  it('--output FILE holds the records; stdout stays empty', async () => {
    const out = join(dir, 'out.jsonl');
    const run = await runCli(['decrypt', '--keys', keysPath, '--output', out, op.mintToken({ version: 3 })]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(jsonLines(readFileSync(out, 'utf8')).map((r) => r['status'])).toEqual(['Success']);
  });

  it.each([
    [['--threads', 'two'], /--threads must be an integer from 0 to 1024, got "two"/],
    [['--threads=-1'], /--threads must be an integer from 0 to 1024, got "-1"/],
    [['--input', '/nonexistent/tokens.txt'], /cannot read input \/nonexistent\/tokens\.txt: ENOENT/],
    [['--input', '/'], /cannot read input \/: EISDIR/],
    [['--output', '/nonexistent/dir/out.jsonl', 'AAAA'], /cannot write output \/nonexistent\/dir\/out\.jsonl: ENOENT/],
    [['--input', '-', 'AAAA'], /--input cannot be combined with TOKEN arguments/],
  ])('usage error %j: exit 2, one line', async (extra, pattern) => {
    const run = await runCli(['decrypt', '--keys', keysPath, ...extra]);
    // One comparison, so a failure shows everything the process printed.
    expect({ code: run.code, stdout: run.stdout, stderr: run.stderr, lines: run.stderr.trimEnd().split('\n').length }).toEqual({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(pattern),
      lines: 1,
    });
  });
});

describe('decrypt --input: formats, .gz and hostile lines', () => {
  it('--format csv|tsv|msgpack and .gz files by name carry the same records as JSON lines', async () => {
    const lines = distinctLines();
    const path = join(dir, 'formats.txt');
    writeFileSync(path, lines.join('\n') + '\n');
    const json = await runCli(['decrypt', '--keys', keysPath, '--now', now, '--input', path]);
    const records = jsonLines(json.stdout);
    const csv = await runCli(['decrypt', '--keys', keysPath, '--now', now, '--input', path, '--format', 'csv']);
    const [header, ...rows] = csv.stdout.trimEnd().split('\n');
    expect(header).toBe('status,uid,siteId,identityType,advertisingTokenVersion,isClientSideGenerated,established,expiry');
    expect(rows.map((r) => r.split(',')[0])).toEqual(records.map((r) => r['status']));
    expect(rows.map((r) => r.split(',')[1] || null)).toEqual(records.map((r) => r['uid']));
    const out = join(dir, 'formats.msgpack');
    await runCli(['decrypt', '--keys', keysPath, '--now', now, '--input', path, '--output', out, '--format', 'msgpack']);
    expect(unpackMultiple(readFileSync(out))).toEqual(records);
    writeFileSync(`${path}.gz`, gzipSync(readFileSync(path)));
    const gz = await runCli(['decrypt', '--keys', keysPath, '--now', now, '--input', `${path}.gz`, '--output', `${out}.jsonl.gz`]);
    expect(gz.code).toBe(0);
    expect(gunzipSync(readFileSync(`${out}.jsonl.gz`)).toString('utf8')).toBe(json.stdout);
    const bad = await runCli(['decrypt', '--keys', keysPath, '--format', 'xml', 'AAAA']);
    expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/^uid2-engine: --format must be jsonl, csv, tsv, msgpack, got "xml"\n$/) });
  });

  it('a 100 MB line without a line break: linear time, flat memory, a record with a status and its line number on stderr', async () => {
    const token = op.mintToken({ version: 4 });
    const path = join(dir, 'long-line.txt');
    await writeLongLineFile(path, `${token}\n${'x'.repeat(1_000_000)}\n${token}\n`, 100 * 1024 * 1024);
    const outPath = join(dir, 'long-line.out');
    const run = await runMeasured(['decrypt', '--keys', keysPath, '--threads', '1', '--input', path, '--output', outPath]);
    expect(run.code).toBe(0);
    expect(jsonLines(readFileSync(outPath, 'utf8')).map((r) => r['status'])).toEqual(['Success', 'InvalidPayload', 'Success', 'InvalidPayload']);
    expect(run.stderr).toMatch(/^uid2-engine: line 4 is longer than 1,048,576 bytes: reported as an invalid token$/m);
    expect(run.stderr).toMatch(/^uid2-engine: 4 tokens in \d+\.\d s \([\d,]+\/s\): Success 2, InvalidPayload 2$/m);
    // The old reader held the line as a growing string (quadratic: 28 s and 687 MB here).
    expect(run.peakRssKb).toBeLessThan(150 * 1024);
    rmSync(path);
  }, 120_000);
});

describe('encrypt --input', () => {
  it('streams raw UIDs in order with a summary; the tokens decrypt back', async () => {
    const rawUids = Array.from({ length: 10_000 }, (_, i) => (i % 1000 === 7 ? 'not base64!' : op.rawUidFor(`enc-${i}`)));
    const path = join(dir, 'raw-uids.txt');
    writeFileSync(path, rawUids.join('\n') + '\n');
    const run = await runCli(['encrypt', '--keys', sharingKeysPath, '--input', path]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^uid2-engine: 10,000 raw UIDs in \d+\.\d s \([\d,]+\/s\): Success 9,990, EncryptionFailure 10\n$/);
    const records = jsonLines(run.stdout);
    expect(records.map((r) => r['status'])).toEqual(rawUids.map((u) => (u === 'not base64!' ? 'EncryptionFailure' : 'Success')));
    const sample = records.map((r, i) => ({ r, i })).filter(({ i }) => i % 997 === 0 && rawUids[i] !== 'not base64!');
    const tokensPath = join(dir, 'enc-tokens.txt');
    writeFileSync(tokensPath, sample.map(({ r }) => r['token']).join('\n'));
    const back = await runCli(['decrypt', '--keys', sharingKeysPath, '--client', 'sharing', '--input', tokensPath]);
    expect(jsonLines(back.stdout).map((r) => r['uid'])).toEqual(sample.map(({ i }) => rawUids[i]));
  });

  it('a line over 1 MiB is an EncryptionFailure record named on stderr, never held: a 100 MB line in flat memory', async () => {
    const small = join(dir, 'enc-small.txt');
    writeFileSync(small, `${op.rawUidFor('s')}\n`);
    const baseline = await runMeasured(['encrypt', '--keys', sharingKeysPath, '--input', small, '--output', join(dir, 'enc-small.out')]);
    expect(baseline.code).toBe(0);
    const [a, b, c] = ['a', 'b', 'c'].map((s) => op.rawUidFor(`long-${s}`));
    const path = join(dir, 'enc-long.txt');
    // Line 2 is exactly at the limit (a line, too long for a raw UID), line 4 one byte over, line 6 100 MB without a newline.
    await writeLongLineFile(path, `${a}\n${'x'.repeat(1024 * 1024)}\r\n${b}\n${'y'.repeat(1024 * 1024 + 1)}\r${c}\n`, 100 * 1024 * 1024);
    const outPath = join(dir, 'enc-long.out');
    const run = await runMeasured(['encrypt', '--keys', sharingKeysPath, '--input', path, '--output', outPath]);
    expect(run.code).toBe(0);
    const records = jsonLines(readFileSync(outPath, 'utf8'));
    expect(records.map((r) => r['status'])).toEqual(['Success', 'EncryptionFailure', 'Success', 'EncryptionFailure', 'Success', 'EncryptionFailure']);
    expect(records.filter((r) => r['status'] === 'EncryptionFailure').map((r) => r['token'])).toEqual([null, null, null]);
    expect(run.stderr).toMatch(
      /^uid2-engine: line 4 is longer than 1,048,576 bytes: reported as an invalid raw UID\nuid2-engine: line 6 is longer than 1,048,576 bytes: reported as an invalid raw UID\nuid2-engine: 6 raw UIDs in \d+\.\d s \([\d,]+\/s\): Success 3, EncryptionFailure 3\n/,
    );
    expect(run.stderr).not.toMatch(/AAAA|yyyy/);
    // The old reader held the line as a growing string, re-split on every read.
    expect(run.peakRssKb - baseline.peakRssKb).toBeLessThan(64 * 1024);
    rmSync(path);
  }, 120_000);

  it('a plain stdin filter gets the record and nothing on stderr, as decrypt', async () => {
    const run = await runCli(['encrypt', '--keys', sharingKeysPath], `${'z'.repeat(1024 * 1024 + 1)}\n${op.rawUidFor('stdin')}`);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(jsonLines(run.stdout).map((r) => r['status'])).toEqual(['EncryptionFailure', 'Success']);
  });
});

describe('progress bar', () => {
  it('renders a bar, percentage, count, rate and ETA for files; count and rate otherwise', () => {
    expect(renderProgress({ items: 370_000, bytesRead: 37, totalBytes: 100, elapsedMs: 4_000, unit: 'tokens' })).toBe(
      '[#########---------------]  37%  370,000 tokens  92,500/s  ETA 7s',
    );
    expect(renderProgress({ items: 1_000, bytesRead: 100, totalBytes: 100, elapsedMs: 1_000, unit: 'tokens' })).toBe(
      '[########################] 100%  1,000 tokens  1,000/s',
    );
    expect(renderProgress({ items: 5, bytesRead: 1, totalBytes: 1000, elapsedMs: 100_000, unit: 'raw UIDs' })).toMatch(/ETA 27h45m$/);
    expect(renderProgress({ items: 12_345, bytesRead: 10, totalBytes: undefined, elapsedMs: 1_000, unit: 'tokens' })).toBe('12,345 tokens  12,300/s');
    expect(renderProgress({ items: 0, bytesRead: 0, totalBytes: 0, elapsedMs: 0, unit: 'tokens' })).toBe('0 tokens  0/s');
  });

  it('rates keep three significant digits; the summary lists statuses by count', () => {
    expect([0, 7.4, 999.6, 1234, 81_297, 1_234_567].map(formatRate)).toEqual(['0', '7', '1,000', '1,230', '81,300', '1,230,000']);
    const counts = new Map([['ExpiredToken', 49_877], ['Success', 950_123], ['InvalidPayload', 0]]);
    expect(renderSummary(1_000_000, 'tokens', 12_300, counts)).toBe(
      'uid2-engine: 1,000,000 tokens in 12.3 s (81,300/s): Success 950,123, ExpiredToken 49,877',
    );
  });

  it('is drawn on a terminal (a pty from script(1)) and erased before the summary', async () => {
    const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (script.status !== 0) return; // no util-linux script(1) on this machine: nothing to drive a pty with
    const path = join(dir, 'tty.txt');
    writeFileSync(path, Array.from({ length: 20_000 }, () => 'not a token').join('\n'));
    const out = join(dir, 'tty.out');
    const command = [process.execPath, CLI_PATH, 'decrypt', '--keys', keysPath, '--threads', '0', '--input', path, '--output', out]
      .map((a) => `'${a}'`)
      .join(' ');
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\r\[[#-]{24}\] +\d+%  [\d,]+ tokens  [\d,]+\/s/);
    expect(run.stdout).toMatch(/\r\x1b\[Kuid2-engine: 20,000 tokens in \d+\.\d s \([\d,]+\/s\): InvalidPayload 20,000\r?\n/);
    expect(readFileSync(out, 'utf8').split('\n')).toHaveLength(20_001);
  });
});
