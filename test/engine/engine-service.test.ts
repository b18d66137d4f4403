/** The engine with UID2 service credentials, against the real local operator over loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/operator/local-operator.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function operator(): Promise<LocalOperator> {
  const op = await startLocalOperator();
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
});
