/**
 * An operator outage long enough for the last good keys to expire: decryption turns
 * KeysNotSynced, and back to Success once the service answers again. Real engine, real local
 * operator over loopback, short-lived keys.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionEngine } from '../../src/index.js';
import { startLocalOperator } from '../../src/operator/local-operator.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('keys expiring during an outage', () => {
  it('Success -> (outage, keys expire) KeysNotSynced -> (service back) Success', async () => {
    const op = await startLocalOperator({ keyLifetimeSeconds: 3, rotationIntervalSeconds: 1 });
    cleanups.push(() => op.close());
    const engine = await DecryptionEngine.create({
      baseUrl: op.url,
      apiKey: op.apiKey,
      secretKey: op.secretKey,
      threads: 1,
      autoRefresh: { intervalMs: 100, retryIntervalMs: 100, jitter: 0 },
    });
    cleanups.push(() => engine.close());

    const before = op.mintToken({ version: 4 });
    expect((await engine.decrypt(before)).status).toBe('Success');

    op.setFault({ kind: 'http-error', status: 503 });
    const failuresBefore = engine.stats().keyRefreshFailures;
    // The last keys fetched expire a few seconds later; until then the old keys keep working.
    const during = await until(() => engine.decrypt(before), (r) => r.status !== 'Success', 'the keys to expire');
    expect(during.status).toBe('KeysNotSynced');
    expect(engine.stats().keyRefreshFailures).toBeGreaterThan(failuresBefore);
    expect(engine.stats().lastRefreshErrorCode).toBe('UID2_ERR_SERVICE_HTTP');

    op.setFault(null);
    const fresh = op.mintToken({ version: 4 });
    const after = await until(() => engine.decrypt(fresh), (r) => r.status === 'Success', 'recovery');
    expect(after.status).toBe('Success');
    expect(engine.stats().lastRefreshErrorCode).toBeNull();
  });
});
