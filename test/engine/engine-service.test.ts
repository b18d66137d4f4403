/** The engine with UID2 service credentials, against the real local operator over loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine, identityScopeOf } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/operator/local-operator.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function operator(options: Parameters<typeof startLocalOperator>[0] = {}): Promise<LocalOperator> {
  const op = await startLocalOperator(options);
  cleanups.push(() => op.close());
  return op;
}

describe('DecryptionEngine with service credentials', () => {
  it('refreshes from the operator, decrypts its tokens, and picks up rotated keys', async () => {
    const op = await operator();
    const engine = await DecryptionEngine.create({
      baseUrl: op.url,
      apiKey: op.apiKey,
      secretKey: op.secretKey,
      threads: 1,
      autoRefresh: { intervalMs: 50, retryIntervalMs: 50, jitter: 0 },
    });
    cleanups.push(() => engine.close());
    const rawUid = op.rawUidFor('engine-user');
    const token = op.mintToken({ version: 4, rawUid });
    expect(await engine.decrypt(token)).toMatchObject({ status: 'Success', uid: rawUid, advertisingTokenVersion: 4 });

    const version = engine.stats().snapshotVersion;
    op.rotateKeys();
    const rotated = op.mintToken({ version: 3, rawUid });
    await until(() => engine.stats().snapshotVersion, (v) => v > version + 1, 'a refresh after rotation');
    expect(await engine.decrypt(rotated)).toMatchObject({ status: 'Success', uid: rawUid, advertisingTokenVersion: 3 });
  });

  it('a first refresh that fails rejects create() with the service error', async () => {
    const op = await operator();
    await expect(
      DecryptionEngine.create({ baseUrl: op.url, apiKey: 'wrong-key', secretKey: op.secretKey, threads: 1 }),
    ).rejects.toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP' });
  });

  it('requireKeys: false starts anyway (NotInitialized) and recovers when the service does', async () => {
    const op = await operator();
    op.setFault({ kind: 'http-error', status: 500 });
    const engine = await DecryptionEngine.create({
      baseUrl: op.url,
      apiKey: op.apiKey,
      secretKey: op.secretKey,
      threads: 1,
      requireKeys: false,
      autoRefresh: { intervalMs: 1000, retryIntervalMs: 20, jitter: 0 },
    });
    cleanups.push(() => engine.close());
    const token = op.mintToken({ version: 4 });
    expect((await engine.decrypt(token)).status).toBe('NotInitialized');
    op.setFault(null);
    await until(() => engine.stats().snapshotVersion, (v) => v > 0, 'recovery');
    expect((await engine.decrypt(token)).status).toBe('Success');
  });

  it('scopes: a UID2 and an EUID operator in one engine; one scope failing to refresh never touches the other', async () => {
    const [u, e] = [await operator(), await operator({ identityScope: 'EUID' })];
    const fast = { intervalMs: 40, retryIntervalMs: 40, jitter: 0 };
    const engine = await DecryptionEngine.create({
      threads: 1,
      dispatch: 'workers',
      scopes: {
        UID2: { baseUrl: u.url, apiKey: u.apiKey, secretKey: u.secretKey, autoRefresh: fast },
        EUID: { baseUrl: e.url, apiKey: e.apiKey, secretKey: e.secretKey, autoRefresh: fast },
      },
    });
    cleanups.push(() => engine.close());
    const [uRaw, eRaw] = [u.rawUidFor('dual-user'), e.rawUidFor('dual-user')];
    const uToken = u.mintToken({ version: 4, rawUid: uRaw });
    const eToken = e.mintToken({ version: 4, rawUid: eRaw });
    const v2Token = u.mintToken({ version: 2 });
    expect(await engine.decryptBatch([uToken, eToken, v2Token])).toMatchObject([
      { status: 'Success', uid: uRaw },
      { status: 'Success', uid: eRaw },
      { status: 'Success', advertisingTokenVersion: 2 },
    ]);

    // EUID's service fails: UID2 keeps refreshing (and picks up a rotation), EUID keeps its last good keys.
    e.setFault({ kind: 'http-error', status: 500 });
    await until(() => engine.stats().scopes!.EUID.keyRefreshFailures, (n) => n > 0, 'an EUID refresh failure');
    const uidVersion = engine.stats().snapshotVersion;
    u.rotateKeys();
    const uRotated = u.mintToken({ version: 3, rawUid: uRaw });
    await until(() => engine.stats().snapshotVersion, (v) => v > uidVersion, 'a UID2 refresh after rotation');
    e.rotateKeys();
    const eRotated = e.mintToken({ version: 4, rawUid: eRaw });
    expect(await engine.decryptBatch([uRotated, uToken, eToken, eRotated])).toMatchObject([
      { status: 'Success', uid: uRaw },
      { status: 'Success', uid: uRaw },
      { status: 'Success', uid: eRaw },
      { status: 'NotAuthorizedForMasterKey' },
    ]);
    const scopes = engine.stats().scopes!;
    expect(scopes.EUID.lastRefreshErrorCode).toBe('UID2_ERR_SERVICE_HTTP');
    expect(scopes.UID2.lastRefreshErrorCode).toBeNull();
    expect(scopes.UID2.keyRefreshFailures).toBe(0);
    expect(scopes.EUID.statusCounts.NotAuthorizedForMasterKey).toBe(1);
    expect(scopes.UID2.statusCounts.NotAuthorizedForMasterKey).toBe(0);

    // Recovery: EUID's next refresh brings the rotated keys.
    e.setFault(null);
    await until(async () => (await engine.decrypt(eRotated)).status, (s) => s === 'Success', 'EUID recovery');
    expect(engine.stats().scopes!.EUID.lastRefreshErrorCode).toBeNull();
  });

  it('scopes: credentials of the other scope fail create() (KeysScopeError), unless requireKeys: false', async () => {
    const e = await operator({ identityScope: 'EUID' });
    const creds = { baseUrl: e.url, apiKey: e.apiKey, secretKey: e.secretKey };
    await expect(DecryptionEngine.create({ threads: 0, scopes: { UID2: creds } })).rejects.toMatchObject({ code: 'UID2_ERR_KEYS_SCOPE' });
    const engine = await DecryptionEngine.create({ threads: 0, scopes: { UID2: { ...creds, requireKeys: false }, EUID: creds } });
    cleanups.push(() => engine.close());
    expect(engine.keySetOf('UID2')).toBeUndefined();
    expect(engine.stats().scopes!.UID2).toMatchObject({ keyRefreshFailures: 1, lastRefreshErrorCode: 'UID2_ERR_KEYS_SCOPE', keySetAgeMs: null });
    expect((await engine.decrypt(e.mintToken({ version: 4 }))).status).toBe('Success');
  });

  it('scopes: a mixed corpus from a UID2 and an EUID operator equals, token for token, the single-scope engine of its scope', async () => {
    // The EUID operator's sites allow other domains, so the CSTG check differs by scope too.
    const [u, e] = [await operator(), await operator({ identityScope: 'EUID', sites: [{ id: 1001, domainNames: ['example.eu'] }, { id: 1002, domainNames: ['example.com'] }] })];
    const now = Date.now();
    const corpus: { token: string; domain: string | null }[] = [];
    for (const op of [u, e]) {
      for (const version of [2, 3, 4] as const) {
        for (const cstg of [false, true]) {
          for (const domain of [null, 'example.com', 'example.eu', 'news.example.org']) {
            corpus.push({ token: op.mintToken({ version, clientSideGenerated: cstg, siteId: 1001 }), domain });
            corpus.push({ token: op.mintToken({ version, clientSideGenerated: cstg, siteId: 1002, identityType: 'Phone' }), domain });
          }
        }
        corpus.push({ token: op.mintToken({ version, expiresMs: now - 1000, generatedMs: now - 60_000 }), domain: null });
        corpus.push({ token: op.mintToken({ version, generatedMs: now + 3 * 3_600_000 }), domain: null });
        const good = op.mintToken({ version });
        corpus.push({ token: good.slice(0, 40) + (good[40] === 'A' ? 'B' : 'A') + good.slice(41), domain: null });
        corpus.push({ token: good.slice(0, good.length - 8), domain: null });
      }
    }
    for (const junk of ['', 'abc', 'AAAA', '!!!!token', 'x'.repeat(5000)]) corpus.push({ token: junk, domain: null });
    const tokens = corpus.map((c) => c.token);
    const domains = corpus.map((c) => c.domain);
    const creds = (op: LocalOperator) => ({ baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey });
    const engines = await Promise.all([
      DecryptionEngine.create({ threads: 0, ...creds(u) }),
      DecryptionEngine.create({ threads: 0, ...creds(e) }),
      DecryptionEngine.create({ threads: 1, dispatch: 'workers', scopes: { UID2: creds(u), EUID: creds(e) } }),
      DecryptionEngine.create({ threads: 0, scopes: { UID2: creds(u), EUID: creds(e) } }),
    ]);
    for (const engine of engines) cleanups.push(() => engine.close());
    const [uResults, eResults] = [await engines[0]!.decryptBatch(tokens, { domains, now }), await engines[1]!.decryptBatch(tokens, { domains, now })];
    const expected = tokens.map((t, i) => (identityScopeOf(t) === 'EUID' ? eResults[i]! : uResults[i]!));
    expect(new Set(expected.map((r) => r.status))).toEqual(
      new Set(['Success', 'DomainOrAppNameCheckFailed', 'ExpiredToken', 'InvalidTokenLifetime', 'InvalidPayload', 'VersionNotSupported', 'NotAuthorizedForKey']),
    );
    for (const dual of engines.slice(2)) {
      expect(await dual.decryptBatch(tokens, { domains, now })).toEqual(expected);
      expect(await Promise.all(tokens.map((t, i) => dual.decrypt(t, domains[i], now)))).toEqual(expected);
    }
  });
});
