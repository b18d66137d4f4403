/**
 * engine.decryptBidRequests through a real engine (one worker thread) with keys and tokens from
 * the local operator: every token of every request in one engine batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

let op: LocalOperator;
let engine: DecryptionEngine;
beforeAll(async () => {
  op = await startLocalOperator();
  engine = await DecryptionEngine.create({ baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey, threads: 1, dispatch: 'workers' });
});
afterAll(async () => {
  await engine?.close();
  await op?.close();
});

function eids(...tokens: string[]): { source: string; uids: { id: string; atype: number }[] }[] {
  return [{ source: 'uidapi.com', uids: tokens.map((id) => ({ id, atype: 3 })) }];
}

describe('engine.decryptBidRequests', () => {
  it('decrypts every token of many requests in one batch, per request and in order', async () => {
    const alice = op.rawUidFor('alice@example.com');
    const bob = op.rawUidFor('bob@example.com');
    const cstg = op.mintToken({ version: 4, rawUid: bob, clientSideGenerated: true });
    const requests: unknown[] = [
      // 2.6 web request: a server-side token and a CSTG token registered for example.com.
      { id: 'r1', site: { domain: 'example.com' }, user: { eids: eids(op.mintToken({ version: 4, rawUid: alice }), cstg) } },
      // 2.5 web request with only a page: the same CSTG token, checked against news.example.org.
      { id: 'r2', site: { page: 'https://www.news.example.org/a' }, user: { ext: { eids: eids(cstg, 'not a token!') } } },
      // App request: the app name registered for site 1001.
      { id: 'r3', app: { bundle: 'com.example.app' }, user: { eids: eids(cstg, op.mintToken({ version: 3, rawUid: alice, identityType: 'Phone' })) } },
      // Malformed requests cost nothing and fail nothing.
      null,
      { id: 'r5', user: { eids: 'nope' } },
      // An expired token.
      { id: 'r6', site: { domain: 'example.com' }, user: { eids: eids(op.mintToken({ version: 4, expiresMs: Date.now() - 60_000, generatedMs: Date.now() - 120_000 })) } },
    ];
    // Pad with more requests so the batch has many tokens (still within one worker batch of 256).
    for (let i = 0; i < 40; i++) {
      requests.push({ id: `pad-${i}`, site: { domain: 'example.com' }, user: { eids: eids(op.mintToken({ version: 4, rawUid: op.rawUidFor(`u${i}`) })) } });
    }

    const before = engine.stats();
    const results = await engine.decryptBidRequests(requests);
    const after = engine.stats();
    expect(after.batches - before.batches).toBe(1);
    expect(after.tokens - before.tokens).toBe(7 + 40);

    expect(results).toHaveLength(requests.length);
    const summary = results.slice(0, 6).map((r) => ({
      requestId: r.requestId,
      domainOrAppName: r.domainOrAppName,
      statuses: r.tokens.map((t) => t.result.status),
      problems: r.problems,
    }));
    expect(summary).toEqual([
      { requestId: 'r1', domainOrAppName: 'example.com', statuses: ['Success', 'Success'], problems: [] },
      { requestId: 'r2', domainOrAppName: 'news.example.org', statuses: ['DomainOrAppNameCheckFailed', 'InvalidPayload'], problems: [] },
      { requestId: 'r3', domainOrAppName: 'com.example.app', statuses: ['Success', 'Success'], problems: [] },
      { requestId: undefined, domainOrAppName: null, statuses: [], problems: ['bid request must be an object, got null'] },
      { requestId: 'r5', domainOrAppName: null, statuses: [], problems: ['user.eids must be an array, got a string'] },
      { requestId: 'r6', domainOrAppName: 'example.com', statuses: ['ExpiredToken'], problems: [] },
    ]);
    expect(results[0]!.tokens.map((t) => t.result.uid)).toEqual([alice, bob]);
    expect(results[0]!.tokens[1]).toMatchObject({ token: cstg, source: 'uidapi.com', path: 'user.eids[0].uids[1].id' });
    expect(results[2]!.tokens[1]!.result).toMatchObject({ uid: alice, identityType: 'Phone', advertisingTokenVersion: 3 });
    results.slice(6).forEach((r, i) => {
      expect(r.requestId).toBe(`pad-${i}`);
      expect(r.tokens.map((t) => t.result.uid)).toEqual([op.rawUidFor(`u${i}`)]);
    });
  });

  it('an EUID token under UID2 keys is InvalidIdentityScope, not an error', async () => {
    const euid = await startLocalOperator({ identityScope: 'EUID' });
    try {
      const token = euid.mintToken({ version: 4 });
      const [result] = await engine.decryptBidRequests([{ user: { eids: [{ source: 'euid.eu', uids: [{ id: token }] }] } }]);
      expect(result!.tokens).toEqual([
        { token, source: 'euid.eu', path: 'user.eids[0].uids[0].id', result: { status: 'InvalidIdentityScope' } },
      ]);
    } finally {
      await euid.close();
    }
  });

  it('requests without tokens do not touch the engine', async () => {
    const before = engine.stats().batches;
    expect(await engine.decryptBidRequests([])).toEqual([]);
    expect(await engine.decryptBidRequests([{ id: 'x' }, 'y'])).toEqual([
      { requestId: 'x', domainOrAppName: null, tokens: [], problems: [] },
      { domainOrAppName: null, tokens: [], problems: ['bid request must be an object, got a string'] },
    ]);
    expect(engine.stats().batches).toBe(before);
  });

  it('`now` applies to every token; not an array rejects with UID2_ERR_INVALID_ARGUMENT', async () => {
    const token = op.mintToken({ version: 4 });
    const [later] = await engine.decryptBidRequests([{ user: { eids: eids(token) } }], { now: Date.now() + 30 * 86_400_000 });
    expect(later!.tokens[0]!.result.status).toBe('ExpiredToken');
    await expect(engine.decryptBidRequests({} as unknown as unknown[])).rejects.toMatchObject({
      code: 'UID2_ERR_INVALID_ARGUMENT',
      message: 'requests must be an array of bid requests',
    });
  });

  it('in-process engines (threads: 0) give the same results', async () => {
    const inline = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 0 });
    try {
      const rawUid = op.rawUidFor('inline');
      const [r] = await inline.decryptBidRequests([{ app: { bundle: 'com.example.app' }, user: { eids: eids(op.mintToken({ version: 4, rawUid, clientSideGenerated: true })) } }]);
      expect(r!.tokens[0]!.result).toMatchObject({ status: 'Success', uid: rawUid, isClientSideGenerated: true });
    } finally {
      await inline.close();
    }
  });

  it('a closed engine rejects with UID2_ERR_ENGINE_CLOSED', async () => {
    const closed = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 1 });
    await closed.close();
    await expect(closed.decryptBidRequests([{ user: { eids: eids(op.mintToken({ version: 4 })) } }])).rejects.toMatchObject({
      code: 'UID2_ERR_ENGINE_CLOSED',
    });
  });
});
