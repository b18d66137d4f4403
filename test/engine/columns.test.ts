/**
 * decryptColumns() against decryptBatch(), field for field, on every corpus the engine is checked
 * with: the shared vectors, the 200k differential corpus (key sets switched along the way, strings
 * and Buffers), the fuzz corpus, hostile Buffer lines; with opt-outs, the token cache, in process
 * and through workers; and with keys swapped every few milliseconds while calls are in flight,
 * where every batch must match the snapshot it used. The typed arrays must say what result(i) says.
 */
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  DecryptedColumns,
  DecryptionEngine,
  FileOptOutStore,
  decryptToken,
  parseKeys,
  type DecryptionResult,
  type EngineOptions,
  type KeySet,
} from '../../src/index.js';
import { Batcher } from '../../src/engine/pool/batcher.js';
import { ColumnsCall } from '../../src/engine/pool/columns-call.js';
import type { BatchInfo } from '../../src/engine/pool/completion.js';
import { decodeBatch, openSnapshot } from '../../src/engine/worker/decode.js';
import { T_UID_BYTES, createBatchSlot, writeColumns } from '../../src/engine/wire/slot.js';
import { encodeSnapshot } from '../../src/keys/snapshot.js';
import { testHooks } from '../../src/engine/test-hooks.js';
import { loadVectors } from '../helpers/vectors.js';
import { corpusPool, differentialCorpus } from '../native/corpus.js';
import { NATIVE_EXPECTED } from '../native/harness.js';
import { NOW_MS, keyResponse, mixedCorpus } from './mixed-corpus.js';

const engines: DecryptionEngine[] = [];
async function engineWith(options: EngineOptions): Promise<DecryptionEngine> {
  const engine = await DecryptionEngine.create(options);
  engines.push(engine);
  return engine;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

/** Every row of `columns` against `expected`; returns descriptions of the first mismatches. */
function mismatches(columns: DecryptedColumns, expected: readonly DecryptionResult[], limit = 5): string[] {
  const out: string[] = [];
  if (columns.length !== expected.length) return [`length ${columns.length} != ${expected.length}`];
  for (let i = 0; i < expected.length && out.length < limit; i++) {
    const got = columns.result(i);
    if (JSON.stringify(got) !== JSON.stringify(expected[i]) || columns.uid(i) !== expected[i]!.uid) {
      out.push(`#${i}: ${JSON.stringify(got)} != ${JSON.stringify(expected[i])}`);
      continue;
    }
    const problem = arraysDisagree(columns, i, expected[i]!);
    if (problem) out.push(`#${i}: ${problem}`);
  }
  return out;
}

/** The typed arrays of row i say what its result says (the raw UID bytes included). */
function arraysDisagree(c: DecryptedColumns, i: number, r: DecryptionResult): string | undefined {
  if (DecryptedColumns.STATUSES[c.status[i]!] !== r.status) return 'status';
  const decoded = (c.flags[i]! & DecryptedColumns.FLAG_DECODED) !== 0;
  if (decoded !== (r.advertisingTokenVersion !== undefined)) return 'decoded flag';
  if (!decoded) {
    return c.version[i] || c.siteId[i] || c.established[i] || c.expiry[i] || c.uidLength[i] ? 'fields of a row that did not decrypt' : undefined;
  }
  if (c.version[i] !== r.advertisingTokenVersion || c.siteId[i] !== r.siteId) return 'version or site';
  // The columns keep the times the token carries; result(i) makes Dates of them (Invalid Date out of range).
  const sameTime = (ms: number, d: Date): boolean => Object.is(new Date(ms).getTime(), d.getTime());
  if (!sameTime(c.established[i]!, r.established!) || !sameTime(c.expiry[i]!, r.expiry!)) return 'times';
  if (((c.flags[i]! & DecryptedColumns.FLAG_CLIENT_SIDE_GENERATED) !== 0) !== r.isClientSideGenerated) return 'cstg flag';
  if ((c.identityType[i] === 0 ? undefined : c.identityType[i] === 2 ? 'Phone' : 'Email') !== r.identityType) return 'identity type';
  const bytes = c.uidBytes.subarray(c.uidOffset[i], c.uidOffset[i]! + c.uidLength[i]!);
  if (r.uid === undefined) return bytes.length === 0 ? undefined : 'uid bytes without a uid';
  const text = r.advertisingTokenVersion === 2 ? bytes.toString('utf8') : bytes.toString('base64');
  return text === r.uid ? undefined : 'uid bytes';
}

// Every token ends with its newline, so an empty last token is a line too (joined with '\n' alone,
// a final empty token left no line, and the call's domains then outnumbered its lines).
const lines = (tokens: readonly string[]): Buffer => Buffer.from(tokens.map((t) => `${t}\n`).join(''));

describe('decryptColumns equals decryptBatch, field for field', () => {
  it('on every shared vector', async () => {
    const vectors = loadVectors();
    const byEngine = new Map<string, DecryptionEngine>();
    let compared = 0;
    for (const c of vectors.decrypt) {
      const key = `${c.keySet}|${c.clientType}`;
      if (!byEngine.has(key)) {
        const keys = c.keySet === null ? undefined : (vectors.keySets[c.keySet]!.response as object);
        byEngine.set(key, await engineWith({ threads: 1, clientType: c.clientType, ...(keys ? { keys } : {}) }));
      }
      const engine = byEngine.get(key)!;
      const options = { domains: [c.domainOrAppName], now: c.nowMs };
      const expected = await engine.decryptBatch([c.token], options);
      expect(mismatches(await engine.decryptColumns([c.token], options), expected), c.name).toEqual([]);
      expect(mismatches(await engine.decryptColumns(Buffer.from(`${c.token}\n`), options), expected), c.name).toEqual([]);
      compared++;
    }
    expect(compared).toBe(vectors.decrypt.length);
  });

  it('on the 200k differential corpus, key sets switched between chunks, as strings and as Buffers', async () => {
    const keys = keyResponse(3000, 'differential');
    const other = keyResponse(3100, 'differential-other');
    const euidJson = structuredClone(keys.json) as { body: { identity_scope: string } };
    euidJson.body.identity_scope = 'EUID';
    const keySets = [keys.json, euidJson, other.json, keys.json];
    const pool = corpusPool(keys, 8_000, 41);
    // Workers for large calls, and the in-process column path for the same chunks.
    const pooled = await engineWith({ threads: 2, keys: keys.json, maxBatchSize: 512 });
    const local = await engineWith({ threads: 0, keys: keys.json });
    const statuses = new Set<string>();
    let compared = 0;
    for (let chunk = 0; compared < 200_000; chunk++) {
      const inputs = differentialCorpus(pool, 10_000, 300 + chunk);
      const tokens = inputs.map((t) => t.token as string);
      const domains = inputs.map((t) => t.domain);
      const now = chunk % 5 === 4 ? NOW_MS + 400 * 86_400_000 : NOW_MS;
      for (const engine of [pooled, local]) engine.setKeys(keySets[chunk % keySets.length]!);
      const expected = await pooled.decryptBatch(tokens, { domains, now });
      for (const r of expected) statuses.add(r.status);
      expect(mismatches(await pooled.decryptColumns(tokens, { domains, now }), expected)).toEqual([]);
      expect(mismatches(await local.decryptColumns(tokens, { domains, now }), expected)).toEqual([]);
      // As one Buffer: the string tokens that are one line each (the Buffer is not all ASCII).
      const asLines = inputs.map((t, i) => [t, i] as const).filter(([t]) => typeof t.token === 'string' && !/[\r\n]/.test(t.token));
      const lineTokens = asLines.map(([t]) => t.token as string);
      const lineExpected = asLines.map(([, i]) => expected[i]!);
      expect(mismatches(await pooled.decryptColumns(lines(lineTokens), { domains: asLines.map(([t]) => t.domain), now }), lineExpected)).toEqual([]);
      // ASCII lines without domains: copied into slots as bytes, never made into strings.
      const ascii = asLines.filter(([t]) => /^[\x00-\x7f]*$/.test(t.token as string));
      const asciiExpected = await pooled.decryptBatch(ascii.map(([t]) => t.token as string), { now });
      expect(mismatches(await pooled.decryptColumns(lines(ascii.map(([t]) => t.token as string)), { now }), asciiExpected)).toEqual([]);
      compared += inputs.length;
    }
    for (const s of ['Success', 'NotAuthorizedForMasterKey', 'InvalidPayload', 'ExpiredToken', 'KeysNotSynced', 'InvalidIdentityScope', 'DomainOrAppNameCheckFailed']) {
      expect(statuses.has(s), s).toBe(true);
    }
  }, 600_000);

  it('on the fuzz corpus', async () => {
    const dir = new URL('../fuzz-corpus/', import.meta.url);
    const saved = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { input: unknown; domain: string | null; nowMs: number; keys: object });
    expect(saved.length).toBeGreaterThanOrEqual(8);
    const engine = await engineWith({ threads: 1, dispatch: 'workers' });
    for (const s of saved) {
      engine.setKeys(s.keys);
      const options = { domains: [s.domain], now: s.nowMs };
      const expected = await engine.decryptBatch([s.input as string], options);
      expect(mismatches(await engine.decryptColumns([s.input as string], options), expected)).toEqual([]);
    }
  });

  it('hostile Buffer lines: CR, LF and CRLF endings, empty, overlong, binary and non-ASCII lines', async () => {
    const k = keyResponse(3200, 'lines');
    const good = mixedCorpus(300, k, 3).map((t) => t.token);
    const parts: Buffer[] = [];
    good.forEach((token, i) => {
      parts.push(Buffer.from(token), Buffer.from(['\n', '\r\n', '\r'][i % 3]!));
      if (i % 50 === 7) parts.push(Buffer.from('\n')); // an empty line
      if (i % 50 === 9) parts.push(Buffer.from('A'.repeat(2049) + '\n')); // longer than any token
      if (i % 50 === 11) parts.push(Buffer.from(`${token.slice(0, 40)}é${token.slice(40)}\n`));
      if (i % 50 === 13) parts.push(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41, 0x0a]));
    });
    parts.push(Buffer.from('x'.repeat(1_000_000))); // a last line of 1 MB without an ending
    const buf = Buffer.concat(parts);
    const expectedLines = buf.toString('utf8').split(/\r\n|\n|\r/);
    const engine = await engineWith({ threads: 1, keys: k.json, dispatch: 'workers' });
    const expected = await engine.decryptBatch(expectedLines, { now: NOW_MS });
    const columns = await engine.decryptColumns(buf, { now: NOW_MS });
    expect(columns.length).toBe(expectedLines.length);
    expect(mismatches(columns, expected)).toEqual([]);
    // All-ASCII lines (the copied-as-bytes path), with a final line ending that starts no line.
    const ascii = Buffer.from(`${good.join('\r\n')}\r\n${'B'.repeat(5000)}\n\n${good[0]}\n`);
    const asciiLines = [...good, 'B'.repeat(5000), '', good[0]!];
    const columns2 = await engine.decryptColumns(ascii, { now: NOW_MS });
    expect(mismatches(columns2, await engine.decryptBatch(asciiLines, { now: NOW_MS }))).toEqual([]);
    expect((await engine.decryptColumns(Buffer.alloc(0))).length).toBe(0);
    expect((await engine.decryptColumns(Buffer.from('\n'))).length).toBe(1);
  });

  it('keys swapped every few milliseconds while calls are in flight: every batch matches the snapshot it used', async () => {
    const k1 = keyResponse(3300, 'cswap-a');
    const k2 = keyResponse(3400, 'cswap-b');
    // Unique (token, domain) pairs, so each row's batch can be found from what the hook saw.
    const seen = new Set<string>();
    const corpus = [...mixedCorpus(3000, k1, 31), ...mixedCorpus(3000, k2, 32)].filter((t) => {
      const key = `${t.token}|${t.domain}`;
      return !seen.has(key) && seen.add(key) !== undefined;
    });
    const engine = await engineWith({ keys: k1.json, threads: 2, maxBatchSize: 64 });
    const byVersion = new Map<number, KeySet>([[engine.stats().snapshotVersion, engine.keySet!]]);
    const batches: BatchInfo[] = [];
    testHooks(engine).onBatch = (info) => batches.push(info);
    let flip = false;
    const swapper = setInterval(() => {
      flip = !flip;
      engine.setKeys(flip ? k2.json : k1.json);
      byVersion.set(engine.stats().snapshotVersion, engine.keySet!);
    }, 3);
    const answered: [typeof corpus, DecryptedColumns][] = [];
    try {
      for (let round = 0; round < 12; round++) {
        const slice = corpus.slice((round * 500) % corpus.length, ((round * 500) % corpus.length) + 500);
        answered.push([slice, await engine.decryptColumns(slice.map((t) => t.token), { domains: slice.map((t) => t.domain), now: NOW_MS })]);
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      clearInterval(swapper);
    }
    const versionOf = new Map<string, number>();
    for (const b of batches) b.tokens.forEach((t, i) => versionOf.set(`${t}|${b.domains[i]}`, b.snapshotVersion));
    let wrong = 0;
    let rows = 0;
    for (const [slice, columns] of answered) {
      slice.forEach((t, i) => {
        const keys = byVersion.get(versionOf.get(`${t.token}|${t.domain}`)!)!;
        const want = decryptToken(t.token, keys, 'bidstream', t.domain, NOW_MS);
        if (JSON.stringify(columns.result(i)) !== JSON.stringify(want) || arraysDisagree(columns, i, want)) wrong++;
        rows++;
      });
    }
    expect(wrong).toBe(0);
    expect(rows).toBe(12 * 500);
    expect(new Set(batches.map((b) => b.snapshotVersion)).size).toBeGreaterThan(2);
  });
});

describe('a batch re-run after its worker died between reserving and finishing', () => {
  it('rewrites its rows and reserves again: the abandoned UID range stays zeros, no row points into it', async () => {
    const k = keyResponse(3250, 'columns-rerun');
    const corpus = mixedCorpus(200, k, 17);
    const tokens = corpus.map((t) => t.token);
    const snapshot = openSnapshot(encodeSnapshot(parseKeys(k.json)), 1);
    let answered: DecryptedColumns | undefined;
    const call = new ColumnsCall({ strings: tokens }, undefined, NOW_MS, { checked: false, returnUid: false }, (c) => (answered = c), () => {});
    const slot = createBatchSlot(256);
    const batcher = new Batcher();
    batcher.push(call);
    const parts = batcher.fill(slot, tokens.length);
    // The dead attempt: decoded, reserved its raw UIDs and wrote part of its rows.
    decodeBatch(slot, parts.count, snapshot, 'bidstream', NATIVE_EXPECTED ? 'native' : 'node-crypto');
    writeColumns(slot, parts.count, call.columns, 0);
    const abandoned = slot.trailer[T_UID_BYTES]!;
    expect(abandoned).toBeGreaterThan(0);
    // The re-run, on the same slot: everything again, from the records.
    decodeBatch(slot, parts.count, snapshot, 'bidstream', NATIVE_EXPECTED ? 'native' : 'node-crypto');
    writeColumns(slot, parts.count, call.columns, 0);
    expect(call.placeBatch(parts.count, slot)).toBe(true);
    call.finish();
    const columns = answered!;
    expect(mismatches(columns, tokens.map((t) => decryptToken(t, parseKeys(k.json), 'bidstream', undefined, NOW_MS)))).toEqual([]);
    expect(columns.uidBytes.length).toBe(2 * abandoned);
    expect(columns.uidBytes.subarray(0, abandoned).every((b) => b === 0)).toBe(true);
    for (let i = 0; i < columns.length; i++) if (columns.uidLength[i]! > 0) expect(columns.uidOffset[i]).toBeGreaterThanOrEqual(abandoned);
  });
});

describe('decryptColumns with opt-outs and the token cache, as decryptBatch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uid2-engine-columns-'));
  const stores: FileOptOutStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['workers', { threads: 1, dispatch: 'workers' }],
    ['in process', { threads: 0 }],
  ] as const)('opt-outs (%s): flagged rows, withheld uids unless returnOptedOutUid', async (name, options) => {
    const k = keyResponse(3500, `columns-optout-${name}`);
    const keySet = parseKeys(k.json);
    const corpus = mixedCorpus(600, k, 41);
    const tokens = corpus.map((t) => t.token);
    const domains = corpus.map((t) => t.domain);
    const successes = corpus.map((t) => decryptToken(t.token, keySet, 'bidstream', t.domain, NOW_MS)).filter((r) => r.status === 'Success');
    const store = await FileOptOutStore.open(join(dir, `store-${name.replace(' ', '-')}.log`));
    stores.push(store);
    // Raw UIDs of v3/v4 tokens (this corpus's v2 identities are not raw UIDs).
    const optedUids = successes.filter((r) => r.advertisingTokenVersion !== 2).slice(0, 40).map((r) => r.uid!);
    for (const uid of optedUids) await store.add(uid, NOW_MS - 60_000);
    for (const returnOptedOutUid of [false, true]) {
      const engine = await engineWith({ ...options, keys: k.json, optOut: store, returnOptedOutUid });
      const expected = await engine.decryptBatch(tokens, { domains, now: NOW_MS });
      const opted = expected.filter((r) => r.optedOut === true).length;
      expect(opted).toBeGreaterThan(10);
      const before = engine.stats().optedOutResults;
      const columns = await engine.decryptColumns(tokens, { domains, now: NOW_MS });
      expect(mismatches(columns, expected)).toEqual([]);
      expect(engine.stats().optedOutResults - before).toBe(opted);
      let flagged = 0;
      for (let i = 0; i < columns.length; i++) {
        if ((columns.flags[i]! & DecryptedColumns.FLAG_OPTED_OUT) === 0) continue;
        flagged++;
        // Withheld: no bytes left to read, not even in the shared UID bytes.
        if (!returnOptedOutUid) expect(columns.uidLength[i]).toBe(0);
      }
      expect(flagged).toBe(opted);
      if (!returnOptedOutUid) for (const uid of optedUids) expect(columns.uidBytes.includes(Buffer.from(uid, 'base64'))).toBe(false);
    }
  });

  it('the token cache: hits answered here, rows equal decryptBatch', async () => {
    const k = keyResponse(3600, 'columns-cache');
    const corpus = mixedCorpus(800, k, 51);
    const tokens = corpus.map((t) => t.token);
    const domains = corpus.map((t) => t.domain);
    const engine = await engineWith({ threads: 1, keys: k.json, tokenCache: true });
    const reference = await engineWith({ threads: 1, keys: k.json });
    const expected = await reference.decryptBatch(tokens, { domains, now: NOW_MS });
    expect(mismatches(await engine.decryptColumns(tokens, { domains, now: NOW_MS }), expected)).toEqual([]);
    const hitsBefore = engine.stats().tokenCache!.hits;
    expect(mismatches(await engine.decryptColumns(lines(tokens), { domains, now: NOW_MS }), expected)).toEqual([]);
    expect(engine.stats().tokenCache!.hits - hitsBefore).toBeGreaterThan(500);
  });
});

describe('decryptColumns calls', () => {
  it('counts its rows in stats(); small calls run in process with the workers’ code', async () => {
    const k = keyResponse(3700, 'columns-stats');
    const corpus = mixedCorpus(3000, k, 61);
    const tokens = corpus.map((t) => t.token);
    const engine = await engineWith({ threads: 1, keys: k.json });
    const expected = await engine.decryptBatch(tokens, { now: NOW_MS });
    const before = engine.stats();
    expect(mismatches(await engine.decryptColumns(tokens, { now: NOW_MS }), expected)).toEqual([]);
    const after = engine.stats();
    expect(after.tokens - before.tokens).toBe(3000);
    expect(after.statusCounts.Success - before.statusCounts.Success).toBe(expected.filter((r) => r.status === 'Success').length);
    expect(after.inProcessTokens - before.inProcessTokens).toBe(0);
    // A call of a few tokens costs less here than a hand-off (hybrid dispatch).
    const small = await engine.decryptColumns(tokens.slice(0, 3), { now: NOW_MS });
    expect(mismatches(small, expected.slice(0, 3))).toEqual([]);
    expect(engine.stats().inProcessTokens - after.inProcessTokens).toBe(3);
  });

  it('rejects bad arguments with UID2_ERR_INVALID_ARGUMENT, and calls after close()', async () => {
    const engine = await DecryptionEngine.create({ threads: 1 });
    await expect(engine.decryptColumns('abc' as never)).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
    await expect(engine.decryptColumns(['a', 'b'], { domains: ['x'] })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
    await expect(engine.decryptColumns(Buffer.from('a\nb\n'), { domains: ['x'] })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
    const columns = await engine.decryptColumns(['a']);
    expect(columns.result(0)).toEqual({ status: 'NotInitialized' });
    expect(() => columns.result(1)).toThrow(expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT', message: 'row must be an integer from 0 to 0 (got 1)' }));
    expect(() => columns.uid(-1)).toThrow(expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT' }));
    await engine.close();
    await expect(engine.decryptColumns(['a'])).rejects.toMatchObject({ code: 'UID2_ERR_ENGINE_CLOSED' });
  });
});
