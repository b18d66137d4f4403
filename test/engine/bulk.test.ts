/**
 * Bulk streams: every format carries the JSON record's fields (CSV/TSV parse back to them, msgpack
 * decodes to the same objects, byte for byte what msgpackr packs), .gz in and out, the opt-out
 * check in the workers, lines over the limit (a status, a line number, never held in memory),
 * decryptStream() with a slow reader, and the option checks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Packr, unpackMultiple } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionEngine, FileOptOutStore } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { bulkOutput, oldPathJsonl } from './bulk-helpers.js';
import { NOW_MS, keyResponse, mixedCorpus } from './mixed-corpus.js';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'uid2-bulk-engine-'));
const keys = keyResponse(5000, 'bulk');
let engine: DecryptionEngine;
let input: Buffer;

/** v2 raw UIDs are free text: these need quoting in CSV/TSV and escaping in JSON. */
const ODD_UIDS = ['a,b', 'say "hi"', 'line\nbreak', 'tab\there', 'cr\rhere', 'ünïcödé', '\u0001ctl'];

beforeAll(async () => {
  engine = await DecryptionEngine.create({ keys: keys.json, threads: 2 });
  const lines = mixedCorpus(3000, keys, 5).map((t) => (t.domain === null ? t.token : JSON.stringify({ token: t.token, domainOrAppName: t.domain })));
  for (const rawUid of ODD_UIDS) {
    lines.push(
      encodeAdvertisingToken({
        version: 2,
        masterKey: keys.master,
        siteKey: keys.site,
        rawUid,
        siteId: 10,
        expiresMs: NOW_MS + DAY,
        generatedMs: NOW_MS - 1000,
        establishedMs: NOW_MS - DAY,
      }),
    );
  }
  lines.push('', 'not a token', '{"token": 5}');
  input = Buffer.from(lines.join('\n') + '\n');
});
afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** RFC 4180 rows (quoted fields may hold separators, quotes and line breaks); unquoted empty → null. */
function parseDelimited(text: string, sep: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
      row.push(value);
    } else {
      let end = i;
      while (end < text.length && text[end] !== sep && text[end] !== '\n') end++;
      row.push(end === i ? null : text.slice(i, end));
      i = end;
    }
    if (text[i] === sep) i++;
    else if (text[i] === '\n') {
      rows.push(row);
      row = [];
      i++;
    }
  }
  return rows;
}

/** A parsed CSV/TSV row as the JSON record: numbers and booleans read back by field. */
function typed(header: string[], row: (string | null)[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  header.forEach((name, k) => {
    const v = row[k] ?? null;
    if (v === null) record[name] = null;
    else if (name === 'siteId' || name === 'advertisingTokenVersion') record[name] = Number(v);
    else if (name === 'isClientSideGenerated' || name === 'optedOut') record[name] = v === 'true';
    else record[name] = v;
  });
  return record;
}

describe('bulk formats', () => {
  let jsonl: Record<string, unknown>[];
  beforeAll(async () => {
    const text = (await bulkOutput(engine, input, { now: NOW_MS })).toString('utf8');
    expect(text).toBe(await oldPathJsonl(engine, input, NOW_MS));
    jsonl = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl.filter((r) => ODD_UIDS.includes(r['uid'] as string))).toHaveLength(ODD_UIDS.length);
  });

  it.each([
    ['csv', ','],
    ['tsv', '\t'],
  ] as const)('%s has a header and parses back to the JSON records, field for field', async (format, sep) => {
    const text = (await bulkOutput(engine, input, { format, now: NOW_MS })).toString('utf8');
    const [header, ...rows] = parseDelimited(text, sep);
    expect(header).toEqual(['status', 'uid', 'siteId', 'identityType', 'advertisingTokenVersion', 'isClientSideGenerated', 'established', 'expiry']);
    expect(rows.map((row) => typed(header as string[], row))).toEqual(jsonl);
  });

  it('msgpack decodes to the JSON records, and is byte for byte what msgpackr packs for them', async () => {
    const bytes = await bulkOutput(engine, input, { format: 'msgpack', now: NOW_MS });
    expect(unpackMultiple(bytes)).toEqual(jsonl);
    const packr = new Packr({ useRecords: false, variableMapSize: true });
    expect(bytes.equals(Buffer.concat(jsonl.map((r) => packr.pack(r))))).toBe(true);
  });

  it('.gz input and output by file name: the same records as plain files', async () => {
    const plainIn = join(dir, 'in.txt');
    writeFileSync(plainIn, input);
    writeFileSync(join(dir, 'in.txt.gz'), gzipSync(input));
    const plain = await engine.decryptFile(plainIn, join(dir, 'out.jsonl'), { now: NOW_MS });
    const zipped = await engine.decryptFile(join(dir, 'in.txt.gz'), join(dir, 'out.jsonl.gz'), { now: NOW_MS });
    expect(gunzipSync(readFileSync(join(dir, 'out.jsonl.gz'))).equals(readFileSync(join(dir, 'out.jsonl')))).toBe(true);
    expect({ ...zipped, durationMs: 0 }).toEqual({ ...plain, durationMs: 0 });
    expect(plain.records).toBe(jsonl.length);
    expect(plain.statusCounts['Success']).toBe(jsonl.filter((r) => r['status'] === 'Success').length);
  });
});

describe('bulk opt-out check (in the workers, through the shared set)', () => {
  it.each([false, true])('marks records exactly as decryptBatch() does (returnOptedOutUid %s), in every format', async (keepUid) => {
    const store = await FileOptOutStore.open(join(dir, `optout-${keepUid}.log`));
    const ok = (await bulkOutput(engine, input, { now: NOW_MS })).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { uid: string | null });
    const optedOut = ok.map((r) => r.uid).filter((uid): uid is string => uid !== null && uid.length === 44).filter((_, i) => i % 3 === 0);
    for (const uid of optedOut) await store.add(uid, NOW_MS - DAY);
    const checked = await DecryptionEngine.create({ keys: keys.json, threads: 1, optOut: store, returnOptedOutUid: keepUid });
    try {
      const text = (await bulkOutput(checked, input, { now: NOW_MS })).toString('utf8');
      expect(text).toBe(await oldPathJsonl(checked, input, NOW_MS));
      expect(text.split('"optedOut":true').length - 1).toBe(optedOut.length);
      const csv = (await bulkOutput(checked, input, { format: 'csv', now: NOW_MS })).toString('utf8');
      const [header, ...rows] = parseDelimited(csv, ',');
      expect(header![8]).toBe('optedOut');
      expect(rows.map((row) => typed(header as string[], row))).toEqual(text.trimEnd().split('\n').map((l) => JSON.parse(l)));
      const summary = await checked.decryptFile(Readable.from([input]), new Writable({ write: (_c, _e, cb) => cb() }), { now: NOW_MS });
      expect(summary.optedOut).toBe(optedOut.length);
    } finally {
      await checked.close();
      await store.close();
    }
  });
});

describe('lines over the limit', () => {
  it('each gets a record (an invalid token) and its line number, whether it fits a chunk or not', async () => {
    const token = mixedCorpus(1, keys, 9)[0]!.token;
    // 4,096-byte limit: a 5,000-byte line fits a chunk (the worker reports it), a 300,000-byte
    // one does not (the coordinator skips it to its line break, CRLF included).
    const text = [token, 'A'.repeat(5000), token, 'B'.repeat(300_000) + '\r', token, '{"token":"' + 'C'.repeat(6000) + '"}', token].join('\n');
    const out = await bulkOutput(engine, Buffer.from(text + '\n'), { now: NOW_MS, maxLineBytes: 4096 });
    const statuses = out.toString('utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { status: string }).status);
    expect(statuses).toEqual(['Success', 'InvalidPayload', 'Success', 'InvalidPayload', 'Success', 'InvalidPayload', 'Success']);
    const summary = await engine.decryptFile(Readable.from([Buffer.from(text)]), new Writable({ write: (_c, _e, cb) => cb() }), { now: NOW_MS, maxLineBytes: 4096 });
    expect({ records: summary.records, overlong: summary.overlongLines, lines: summary.firstOverlongLines }).toEqual({ records: 7, overlong: 3, lines: [2, 4, 6] });
  });

  it('chunks whose records overflow the output buffer run again from where they stopped: every line once, counted once', async () => {
    // Empty lines are 1 byte in and ~160 bytes out: a chunk of them fills its output many times.
    const token = mixedCorpus(1, keys, 9)[0]!.token;
    const parts: string[] = [];
    const overlongAt: number[] = [];
    for (let i = 1; i <= 150_000; i++) {
      if (i % 20_011 === 0) {
        parts.push('L'.repeat(5000));
        overlongAt.push(i);
      } else parts.push(i % 1000 === 0 ? token : '');
    }
    const text = parts.join('\n') + '\n';
    const out = await bulkOutput(engine, Buffer.from(text), { now: NOW_MS, maxLineBytes: 4096 });
    const records = out.toString('utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { status: string }).status);
    expect(records).toHaveLength(150_000);
    expect(records.filter((s) => s === 'Success')).toHaveLength(150);
    const summary = await engine.decryptFile(Readable.from([Buffer.from(text)]), new Writable({ write: (_c, _e, cb) => cb() }), { now: NOW_MS, maxLineBytes: 4096 });
    expect({ records: summary.records, overlong: summary.overlongLines, lines: summary.firstOverlongLines }).toEqual({ records: 150_000, overlong: overlongAt.length, lines: overlongAt });
    expect(summary.statusCounts).toEqual({ InvalidPayload: 150_000 - 150, Success: 150 });
  }, 60_000);

  it('a 1 MB line and a 100 MB last line without a line break: one record each, read in bounded pieces', async () => {
    const token = mixedCorpus(1, keys, 9)[0]!.token;
    const MB = 1024 * 1024;
    async function* pieces(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${token}\n${'x'.repeat(MB)}\n${token}\n`);
      const block = Buffer.alloc(MB, 0x41);
      for (let i = 0; i < 100; i++) yield block;
    }
    const parts: string[] = [];
    const summary = await engine.decryptFile(Readable.from(pieces()), new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c.toString()), cb()) }), { now: NOW_MS });
    const statuses = parts.join('').trimEnd().split('\n').map((l) => (JSON.parse(l) as { status: string }).status);
    expect(statuses).toEqual(['Success', 'InvalidPayload', 'Success', 'InvalidPayload']);
    expect(summary.firstOverlongLines).toEqual([4]);
    expect(summary.bytesRead).toBe(Buffer.byteLength(`${token}\n${'x'.repeat(MB)}\n${token}\n`) + 100 * MB);
  }, 60_000);
});

describe('decryptStream', () => {
  it('gives decryptFile()\'s bytes to a slow reader, and a summary', async () => {
    const expected = await bulkOutput(engine, input, { format: 'csv', now: NOW_MS });
    const stream = engine.decryptStream(Readable.from([input]), { format: 'csv', now: NOW_MS });
    const got: Buffer[] = [];
    for await (const piece of stream) {
      got.push(piece as Buffer);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(Buffer.concat(got).equals(expected)).toBe(true);
    expect((await stream.summary).records).toBe(input.toString().trimEnd().split('\n').length);
  });

  it('errors the stream when the input fails', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('AAAA\n');
      throw new Error('disk gone');
    }
    const stream = engine.decryptStream(failing());
    await expect(async () => {
      for await (const _ of stream) void _;
    }).rejects.toThrow('disk gone');
    await expect(stream.summary).rejects.toThrow('disk gone');
  });
});

describe('decryptStream and close()', () => {
  it('a stream never read does not hold close(); one read after close() fails with UID2_ERR_ENGINE_CLOSED', async () => {
    const other = await DecryptionEngine.create({ keys: keys.json, threads: 1 });
    const unread = other.decryptStream(Readable.from([input]));
    await other.close();
    const errors: unknown[] = [];
    unread.on('error', (err) => errors.push(err));
    unread.resume();
    await expect(unread.summary).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_CLOSED' });
    await new Promise((r) => setImmediate(r));
    expect(errors).toMatchObject([{ code: 'UID2_ERR_ENGINE_CLOSED' }]);
  });

  it('a stream its reader destroys stops reading its input', async () => {
    let pieces = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        pieces++;
        yield input;
      }
    }
    const stream = engine.decryptStream(endless(), { now: NOW_MS });
    const reading = (async (): Promise<void> => {
      for await (const _ of stream) {
        void _;
        stream.destroy();
      }
    })();
    await expect(reading).rejects.toThrow('Premature close');
    await expect(stream.summary).rejects.toThrow('the output stream was destroyed');
    const seen = pieces;
    await new Promise((r) => setTimeout(r, 50));
    expect(pieces).toBe(seen);
  });
});

describe('bulk options', () => {
  it.each([
    [{ format: 'xml' }, 'options.format must be one of jsonl, csv, tsv, msgpack'],
    [{ maxLineBytes: 100 }, 'options.maxLineBytes must be an integer from 2048 to 67108864'],
    [{ domainOrAppName: 5 }, 'options.domainOrAppName must be a string'],
    [{ now: Number.NaN }, 'options.now must be a valid Date or Unix milliseconds'],
    [{ onProgress: 'yes' }, 'options.onProgress must be a function'],
  ])('%j: %s', async (options, message) => {
    await expect(engine.decryptFile(Readable.from([]), new Writable(), options as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message });
  });

  it('rejects bad inputs and outputs, and any call after close()', async () => {
    await expect(engine.decryptFile(42 as never, 'x')).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message: 'input must be a file path or a Readable' });
    await expect(engine.decryptFile('x', 42 as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message: 'output must be a file path or a Writable' });
    await expect(engine.decryptFile(join(dir, 'missing.txt'), join(dir, 'o'))).rejects.toMatchObject({ code: 'ENOENT' });
    const closed = await DecryptionEngine.create({ keys: keys.json, threads: 0 });
    await closed.close();
    await expect(closed.decryptFile(Readable.from([]), new Writable())).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_CLOSED' });
    expect(() => closed.decryptStream(Readable.from([]))).toThrow(expect.objectContaining({ code: 'UID2_ERR_ENGINE_CLOSED' }));
  });
});
