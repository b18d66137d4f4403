/**
 * Opt-outs checked at decrypt time by the engine, on both paths (worker pool and threads: 0):
 * results gain optedOut, an opted-out uid is withheld unless returnOptedOutUid, statuses stay
 * the SDKs', an opt-out recorded after a first decryption applies to the next call, and stats()
 * counts opted-out results. A real file store in a temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine, FileOptOutStore, decryptToken, parseKeys } from '../../src/index.js';
import { NOW_MS, keyResponse, mixedCorpus } from './mixed-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'uid2-engine-optout-'));
const engines: DecryptionEngine[] = [];
const stores: FileOptOutStore[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([1, 0])('engine with an opt-out store, threads: %i', (threads) => {
  it('marks every result, withholds opted-out uids, and follows opt-outs recorded later', async () => {
    const k = keyResponse(9000 + threads, `optout-${threads}`);
    const keySet = parseKeys(k.json);
    const corpus = mixedCorpus(400, k, 11);
    const expected = corpus.map((t) => decryptToken(t.token, keySet, 'bidstream', t.domain, NOW_MS));
    const successes = expected.map((r, i) => [r, i] as const).filter(([r]) => r.status === 'Success');
    const optedOutUid = successes[0]![0].uid!;
    const laterUid = successes.find(([r]) => r.uid !== optedOutUid)![0].uid!;

    const store = await FileOptOutStore.open(join(dir, `store-${threads}.log`));
    stores.push(store);
    await store.add(optedOutUid, NOW_MS - 60_000);
    const engine = await DecryptionEngine.create({ threads, keys: k.json, optOut: store });
    const audit = await DecryptionEngine.create({ threads, keys: k.json, optOut: store, returnOptedOutUid: true });
    engines.push(engine, audit);

    const run = (e: DecryptionEngine) => e.decryptBatch(corpus.map((t) => t.token), { domains: corpus.map((t) => t.domain), now: NOW_MS });
    const check = (results: Awaited<ReturnType<typeof run>>, opted: Set<string>, keepUid: boolean): void => {
      results.forEach((r, i) => {
        const want = expected[i]!;
        const isOpted = want.uid !== undefined && opted.has(want.uid);
        expect({ ...r, optedOut: undefined }).toEqual({ ...want, uid: isOpted && !keepUid ? undefined : want.uid });
        expect(r.optedOut).toBe(isOpted);
      });
    };
    check(await run(engine), new Set([optedOutUid]), false);
    check(await run(audit), new Set([optedOutUid]), true);
    const single = await engine.decrypt(corpus[successes[0]![1]]!.token, corpus[successes[0]![1]]!.domain, NOW_MS);
    expect({ status: single.status, optedOut: single.optedOut, uid: single.uid }).toEqual({ status: 'Success', optedOut: true, uid: undefined });

    // Recorded after the tokens were first decrypted: applies from the next call on.
    await store.add(laterUid, NOW_MS);
    check(await run(engine), new Set([optedOutUid, laterUid]), false);
    const perRun = (uid: string): number => expected.filter((r) => r.uid === uid).length;
    expect(engine.stats().optedOutResults).toBe(2 * perRun(optedOutUid) + 1 + perRun(laterUid));
  });
});

it('optOut must be an opt-out store', async () => {
  await expect(DecryptionEngine.create({ threads: 0, optOut: {} as never })).rejects.toMatchObject({
    code: 'UID2_ERR_INVALID_ARGUMENT',
    message: 'options.optOut must be an OptOutStore (e.g. FileOptOutStore)',
  });
});
