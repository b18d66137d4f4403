/**
 * DualScopeBidstreamClient against two real local operators over loopback, one UID2 and one
 * EUID (whose key ids coincide, with other secrets: the hardest case for routing and for the
 * shared token cache). The reference for every token is a plain BidstreamClient of the scope
 * that minted it (v2 and unreadable tokens: UID2), holding the same keys: results must be equal
 * field for field, cached or not, while one scope fails, and while both scopes' keys change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, DecryptionStatus, DualScopeBidstreamClient, FileOptOutStore, type ClientOptions, type IdentityScope } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

let ops: Record<IdentityScope, LocalOperator>;
let dir: string;
beforeAll(async () => {
  ops = { UID2: await startLocalOperator({ identityScope: 'UID2' }), EUID: await startLocalOperator({ identityScope: 'EUID' }) };
  dir = mkdtempSync(join(tmpdir(), 'uid2-dual-scope-'));
});
afterAll(async () => {
  await ops.UID2.close();
  await ops.EUID.close();
  rmSync(dir, { recursive: true, force: true });
});

const SCOPES: IdentityScope[] = ['UID2', 'EUID'];
const credentials = (scope: IdentityScope) => ({ baseUrl: ops[scope].url, apiKey: ops[scope].apiKey, secretKey: ops[scope].secretKey });

/** A token, the call's domain, and the scope whose single-scope client is its reference. */
interface Case {
  token: string;
  domain: string | null;
  scope: IdentityScope;
}

/** Every kind of token one operator's bid stream may carry, valid or not. */
function corpusOf(scope: IdentityScope): Case[] {
  const op = ops[scope];
  const now = Date.now();
  const v4 = op.mintToken({ version: 4 });
  const mid = v4.length >> 1;
  const tokens: [string, string | null, IdentityScope][] = [
    [op.mintToken({ version: 4 }), null, scope],
    [op.mintToken({ version: 4, identityType: 'Phone', encoding: 'base64' }), null, scope],
    [op.mintToken({ version: 3 }), null, scope],
    [op.mintToken({ version: 4, siteId: 1002 }), null, scope],
    // v2 tokens have no scope bit: UID2's keys decide them, whichever operator minted them.
    [op.mintToken({ version: 2 }), null, 'UID2'],
    [op.mintToken({ version: 4, expiresMs: now - 60_000, generatedMs: now - 120_000 }), null, scope],
    [op.mintToken({ version: 4, clientSideGenerated: true }), 'example.com', scope],
    [op.mintToken({ version: 4, clientSideGenerated: true }), 'evil.example', scope],
    [op.mintToken({ version: 3, clientSideGenerated: true }), null, scope],
    [v4.slice(0, mid) + (v4[mid] === 'A' ? 'B' : 'A') + v4.slice(mid + 1), null, scope],
    [v4.slice(0, -12), null, scope],
  ];
  return tokens.map(([token, domain, s]) => ({ token, domain, scope: s }));
}

/** Tokens whose header names no scope: the UID2 key set answers them. */
const UNREADABLE: Case[] = ['', 'garbage', '!!!!not base64 at all', 'A'.repeat(300), 'ü'.repeat(40)].map((token) => ({ token, domain: null, scope: 'UID2' }));

async function references(options?: ClientOptions): Promise<Record<IdentityScope, BidstreamClient>> {
  const refs = {} as Record<IdentityScope, BidstreamClient>;
  for (const scope of SCOPES) {
    refs[scope] = new BidstreamClient(ops[scope].url, ops[scope].apiKey, ops[scope].secretKey, options);
    expect((await refs[scope].refresh()).success).toBe(true);
  }
  return refs;
}

function mismatches(client: DualScopeBidstreamClient, refs: Record<IdentityScope, BidstreamClient>, cases: Case[]): string[] {
  const found: string[] = [];
  cases.forEach((c, i) => {
    const got = client.decryptTokenIntoRawUid(c.token, c.domain);
    const want = refs[c.scope].decryptTokenIntoRawUid(c.token, c.domain);
    if (JSON.stringify(got) !== JSON.stringify(want)) found.push(`#${i} (${c.scope}): ${got.status} vs ${want.status}`);
  });
  return found;
}

describe('a mixed corpus gives each token exactly its scope client\'s answer', () => {
  it.each([false, true])('token cache %s, each token twice', async (tokenCache) => {
    const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, { tokenCache });
    expect(await client.refresh()).toEqual({ UID2: { success: true }, EUID: { success: true } });
    const refs = await references();
    const cases = [...corpusOf('UID2'), ...corpusOf('EUID'), ...UNREADABLE];
    // Unknown keys: minted with keys the operators activated after both clients loaded theirs.
    for (const scope of SCOPES) ops[scope].rotateKeys();
    for (const scope of SCOPES) cases.push({ token: ops[scope].mintToken({ version: 4 }), domain: null, scope });

    expect(mismatches(client, refs, cases)).toEqual([]);
    expect(mismatches(client, refs, cases)).toEqual([]);
    const statuses = cases.map((c) => `${c.scope} ${client.decryptTokenIntoRawUid(c.token, c.domain).status}`);
    for (const scope of SCOPES) expect(statuses).toContain(`${scope} ${DecryptionStatus.Success}`);
    for (const status of ['ExpiredToken', 'DomainOrAppNameCheckFailed', 'InvalidPayload', 'NotAuthorizedForMasterKey']) {
      expect(statuses).toContain(`EUID ${status}`);
    }
    expect(statuses).not.toContain(`EUID ${DecryptionStatus.InvalidIdentityScope}`);
    // What routing spares the caller: the UID2 client alone rejects every EUID v3/v4 token.
    expect(refs.UID2.decryptTokenIntoRawUid(cases.find((c) => c.scope === 'EUID')!.token).status).toBe(DecryptionStatus.InvalidIdentityScope);
    if (tokenCache) expect(client.tokenCacheStats()!.hits).toBeGreaterThan(0);
    client.close();
  });
});

describe('one scope failing never touches the other', () => {
  it.each([{ kind: 'http-error' }, { kind: 'garbage-body' }, { kind: 'stale-keys' }, { kind: 'drop-connection' }] as const)(
    'EUID refresh fails with %o: EUID keeps its last good keys, UID2 refreshes, results unchanged',
    async (fault) => {
      const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, { tokenCache: true });
      await client.refresh();
      const refs = await references();
      const cases = [...corpusOf('UID2'), ...corpusOf('EUID')];
      const before = cases.map((c) => client.decryptTokenIntoRawUid(c.token, c.domain));
      const euidKeys = client.clients.EUID!.keySet;
      const uid2Keys = client.clients.UID2!.keySet;
      const seen: string[] = [];
      client.clients.EUID!.on('refreshError', (error: { code: string }) => seen.push(error.code));
      ops.EUID.setFault(fault);
      try {
        const results = await client.refresh();
        expect(results.UID2).toEqual({ success: true });
        expect(results.EUID!.success).toBe(false);
        expect(seen).toEqual([results.EUID!.error!.code]);
      } finally {
        ops.EUID.setFault(null);
      }
      expect(client.clients.EUID!.keySet).toBe(euidKeys);
      expect(client.clients.EUID!.lastError).toBeDefined();
      expect(client.clients.UID2!.keySet).not.toBe(uid2Keys);
      expect(client.clients.UID2!.lastError).toBeUndefined();
      expect(cases.map((c) => client.decryptTokenIntoRawUid(c.token, c.domain))).toEqual(before);
      expect(mismatches(client, refs, cases)).toEqual([]);
      client.close();
    },
  );

  it('a scope that never loaded answers NotInitialized for its tokens only', async () => {
    ops.EUID.setFault({ kind: 'http-error', status: 503 });
    const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') });
    try {
      const results = await client.refresh();
      expect(results.UID2).toEqual({ success: true });
      expect(results.EUID!.error!.code).toBe('UID2_ERR_SERVICE_HTTP');
    } finally {
      ops.EUID.setFault(null);
    }
    const refs = await references();
    const uid2Cases = [...corpusOf('UID2'), ...UNREADABLE];
    expect(mismatches(client, refs, uid2Cases)).toEqual([]);
    for (const c of corpusOf('EUID').filter((c) => c.scope === 'EUID')) {
      expect(client.decryptTokenIntoRawUid(c.token, c.domain)).toEqual({ status: DecryptionStatus.NotInitialized });
    }
    // A client of the UID2 scope only: EUID tokens answer what a keyless EUID client answers.
    const uid2Only = new DualScopeBidstreamClient({ UID2: credentials('UID2') });
    expect(uid2Only.scopes).toEqual(['UID2']);
    expect(uid2Only.clients.EUID).toBeUndefined();
    expect(await uid2Only.refresh()).toEqual({ UID2: { success: true } });
    const keyless = new BidstreamClient(ops.EUID.url, ops.EUID.apiKey, ops.EUID.secretKey);
    const euidToken = ops.EUID.mintToken({ version: 4 });
    expect(uid2Only.decryptTokenIntoRawUid(euidToken)).toEqual(keyless.decryptTokenIntoRawUid(euidToken));
    expect(mismatches(uid2Only, refs, uid2Cases)).toEqual([]);
  });
});

describe('key swaps on both scopes while decrypting', () => {
  it('refreshJson swaps (including same key ids with other secrets) and operator rotations: zero mismatches', async () => {
    const strangers = { UID2: await startLocalOperator({ identityScope: 'UID2' }), EUID: await startLocalOperator({ identityScope: 'EUID' }) };
    try {
      const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, { tokenCache: true });
      await client.refresh();
      const refs = await references();
      const cases = [...corpusOf('UID2'), ...corpusOf('EUID'), ...UNREADABLE];
      let compared = 0;
      const failures: string[] = [];
      for (let round = 0; round < 12; round++) {
        for (const scope of SCOPES) {
          // Alternate between the operator's keys (after a rotation) and a stranger's whose ids
          // are the same with other secrets: every cached entry of that scope must notice.
          const source = round % 3 === 2 ? strangers[scope] : ops[scope];
          if (source === ops[scope]) ops[scope].rotateKeys();
          const json = source.keyResponse('bidstream');
          expect(client.clients[scope]!.refreshJson(json)).toEqual({ success: true });
          expect(refs[scope].refreshJson(json)).toEqual({ success: true });
          cases.push({ token: ops[scope].mintToken({ version: round % 2 === 0 ? 4 : 3 }), domain: null, scope });
          // Decrypt between the two scopes' swaps too: one scope new, the other not yet.
          failures.push(...mismatches(client, refs, cases));
          compared += cases.length;
        }
      }
      expect(failures).toEqual([]);
      expect(compared).toBeGreaterThan(500);
      expect(client.tokenCacheStats()!.hits).toBeGreaterThan(0);
    } finally {
      await strangers.UID2.close();
      await strangers.EUID.close();
    }
  });

  it('during auto-refresh of both scopes with operator rotations: each result equals its scope client\'s at that instant', async () => {
    const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, { tokenCache: true });
    const swaps = { UID2: 0, EUID: 0 };
    for (const scope of SCOPES) client.clients[scope]!.on('keys', () => swaps[scope]++);
    expect(await client.startAutoRefresh({ intervalMs: 5, retryIntervalMs: 5, jitter: 0 })).toEqual({ UID2: { success: true }, EUID: { success: true } });
    expect(client.clients.UID2!.autoRefreshing && client.clients.EUID!.autoRefreshing).toBe(true);
    const cases = [...corpusOf('UID2'), ...corpusOf('EUID')];
    // The reference is each scope's own client: a BidstreamClient holding the same keys at that moment.
    const refs = client.clients as Record<IdentityScope, BidstreamClient>;
    const failures: string[] = [];
    while (swaps.UID2 < 6 || swaps.EUID < 6) {
      for (const scope of SCOPES) ops[scope].rotateKeys();
      for (const scope of SCOPES) cases.push({ token: ops[scope].mintToken({ version: 4 }), domain: null, scope });
      failures.push(...mismatches(client, refs, cases));
      await new Promise((r) => setTimeout(r, 3));
    }
    client.stopAutoRefresh();
    expect(client.clients.UID2!.autoRefreshing || client.clients.EUID!.autoRefreshing).toBe(false);
    expect(failures).toEqual([]);
  });
});

describe('one token cache and one opt-out store for both scopes', () => {
  it('counts a hit once whatever its scope, keeps no cache in the scope clients, and checks opt-outs of both scopes', async () => {
    const store = await FileOptOutStore.open(join(dir, 'optouts.log'));
    try {
      const options = { tokenCache: true, optOut: store };
      const client = new DualScopeBidstreamClient({ UID2: credentials('UID2'), EUID: credentials('EUID') }, options);
      await client.refresh();
      const refs = await references({ optOut: store });
      const rawUids = { UID2: ops.UID2.randomRawUid(), EUID: ops.EUID.randomRawUid() };
      const cases = SCOPES.map((scope) => ({ token: ops[scope].mintToken({ version: 4, rawUid: rawUids[scope] }), domain: null, scope }));
      expect(client.tokenCacheStats()).toMatchObject({ entries: 0, hits: 0, misses: 0 });
      for (const c of cases) expect(client.decryptTokenIntoRawUid(c.token)).toMatchObject({ status: DecryptionStatus.Success, uid: rawUids[c.scope], optedOut: false });
      for (const c of cases) client.decryptTokenIntoRawUid(c.token);
      expect(client.tokenCacheStats()).toMatchObject({ entries: 2, hits: 2, misses: 2 });
      for (const scope of SCOPES) expect(client.clients[scope]!.tokenCacheStats()).toBeUndefined();

      for (const scope of SCOPES) await store.add(rawUids[scope], Date.now());
      for (const c of cases) expect(client.decryptTokenIntoRawUid(c.token)).toEqual(refs[c.scope].decryptTokenIntoRawUid(c.token));
      for (const c of cases) expect(client.decryptTokenIntoRawUid(c.token)).toMatchObject({ status: DecryptionStatus.Success, uid: undefined, optedOut: true });
      expect(client.tokenCacheStats()).toMatchObject({ entries: 2, hits: 6, misses: 2 });
      // The scope clients check the same store: their own decrypt is never unchecked.
      expect(client.clients.EUID!.decryptTokenIntoRawUid(cases[1]!.token).optedOut).toBe(true);
    } finally {
      await store.close();
    }
  });
});
