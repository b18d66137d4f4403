/**
 * engine.metrics() on a real prom-client Registry, counting real decryptions; the same numbers
 * through stats(); and the typed error when prom-client cannot be loaded (a child process whose
 * module resolution hides prom-client, the way a missing install would).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPromClient } from '../../src/observability/metrics.js';
import { DecryptionEngine } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

let op: LocalOperator;
beforeAll(async () => {
  op = await startLocalOperator();
});
afterAll(async () => {
  await op.close();
});

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

async function metric(registry: Registry, name: string): Promise<MetricJson> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!found) throw new Error(`no metric ${name}`);
  return found;
}

/** A histogram's `_count` or `_sum` series (prom-client puts `metricName` on those values). */
async function series(registry: Registry, histogram: string, suffix: '_count' | '_sum'): Promise<number | undefined> {
  const values = (await metric(registry, histogram)).values as { metricName?: string; value: number }[];
  return values.find((v) => v.metricName === histogram + suffix)?.value;
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = await metric(registry, name);
  return m.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && (Object.keys(labels).length > 0 || !('le' in v.labels)))?.value;
}

describe('engine.metrics()', () => {
  it('registers counters, gauges and histograms that follow the engine', async () => {
    const registry = new Registry();
    const engine = await DecryptionEngine.create({ baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey, threads: 1, dispatch: 'workers' });
    try {
      await engine.metrics(registry);
      const tokens = [op.mintToken({ version: 4 }), op.mintToken({ version: 3 }), 'not a token', op.mintToken({ version: 4, clientSideGenerated: true })];
      await engine.decryptBatch(tokens);
      await engine.decrypt(tokens[0]!);

      const text = await registry.metrics();
      for (const name of [
        'uid2_engine_tokens_total',
        'uid2_engine_batches_total',
        'uid2_engine_batch_size',
        'uid2_engine_batch_duration_seconds',
        'uid2_engine_queue_depth',
        'uid2_engine_in_flight_tokens',
        'uid2_engine_live_workers',
        'uid2_engine_key_refreshes_total',
        'uid2_engine_key_set_age_seconds',
        'uid2_engine_batch_retries_total',
        'uid2_engine_failed_batches_total',
        'uid2_engine_overload_rejections_total',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(text).toContain('# TYPE uid2_engine_tokens_total counter');
      expect(text).toContain('# TYPE uid2_engine_batch_duration_seconds histogram');
      expect(text).toContain('# TYPE uid2_engine_queue_depth gauge');

      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'Success' })).toBe(3);
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'InvalidPayload' })).toBe(1);
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'DomainOrAppNameCheckFailed' })).toBe(1);
      // Every status is present from the start, at zero.
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'ExpiredToken' })).toBe(0);
      const stats = engine.stats();
      expect(await value(registry, 'uid2_engine_batches_total')).toBe(stats.batches);
      expect(stats.batches).toBe(2);
      expect(await series(registry, 'uid2_engine_batch_size', '_count')).toBe(2);
      expect(await series(registry, 'uid2_engine_batch_size', '_sum')).toBe(5);
      expect(await series(registry, 'uid2_engine_batch_duration_seconds', '_count')).toBe(2);
      expect(await value(registry, 'uid2_engine_key_refreshes_total', { outcome: 'success' })).toBe(1);
      expect(await value(registry, 'uid2_engine_key_refreshes_total', { outcome: 'failure' })).toBe(0);
      expect(await value(registry, 'uid2_engine_queue_depth')).toBe(0);
      expect(await value(registry, 'uid2_engine_live_workers')).toBe(1);
      expect(await value(registry, 'uid2_engine_key_set_age_seconds')).toBeGreaterThanOrEqual(0);

      // Counters move by the difference between scrapes, never double-count.
      await engine.decrypt(tokens[1]!);
      await registry.metrics();
      await registry.metrics();
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'Success' })).toBe(4);
      expect(await value(registry, 'uid2_engine_batches_total')).toBe(3);

      // The same numbers without prom-client.
      const after = engine.stats();
      expect(after.batchDurationMs.count).toBe(3);
      expect(after.batchDurationMs.sum).toBeGreaterThan(0);
      expect(after.batchDurationMs.max).toBeLessThanOrEqual(after.batchDurationMs.sum);
      expect(after.largestBatch).toBe(4);
    } finally {
      await engine.close();
    }
  });

  it('counts refresh failures, and the key-set age is NaN before any keys', async () => {
    const registry = new Registry();
    op.setFault({ kind: 'http-error', status: 503 });
    const engine = await DecryptionEngine.create({
      baseUrl: op.url,
      apiKey: op.apiKey,
      secretKey: op.secretKey,
      threads: 0,
      requireKeys: false,
      autoRefresh: { intervalMs: 60_000, retryIntervalMs: 60_000, jitter: 0 },
    });
    try {
      await engine.metrics(registry);
      expect(await value(registry, 'uid2_engine_key_refreshes_total', { outcome: 'failure' })).toBe(1);
      expect(await value(registry, 'uid2_engine_key_set_age_seconds')).toBeNaN();
      expect(await value(registry, 'uid2_engine_live_workers')).toBe(0);
      // In-process decryptBatch() calls feed the histograms too.
      await engine.decryptBatch(['a', 'b', 'c']);
      expect(await series(registry, 'uid2_engine_batch_size', '_sum')).toBe(3);
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'NotInitialized' })).toBe(3);
    } finally {
      op.setFault(null);
      await engine.close();
    }
  });

  it('a dual-scope engine adds per-scope series (tokens, refreshes, key-set age); a single-scope one has none', async () => {
    const euidOp = await startLocalOperator({ identityScope: 'EUID' });
    euidOp.setFault({ kind: 'http-error', status: 503 });
    const registry = new Registry();
    const engine = await DecryptionEngine.create({
      threads: 1,
      dispatch: 'workers',
      scopes: {
        UID2: { baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey },
        EUID: { baseUrl: euidOp.url, apiKey: euidOp.apiKey, secretKey: euidOp.secretKey, requireKeys: false, autoRefresh: { intervalMs: 60_000, retryIntervalMs: 60_000, jitter: 0 } },
      },
    });
    try {
      await engine.metrics(registry);
      await engine.decryptBatch([op.mintToken({ version: 4 }), op.mintToken({ version: 2 }), euidOp.mintToken({ version: 4 }), 'ab']);
      expect(await value(registry, 'uid2_engine_scope_tokens_total', { scope: 'UID2', status: 'Success' })).toBe(2);
      expect(await value(registry, 'uid2_engine_scope_tokens_total', { scope: 'UID2', status: 'InvalidPayload' })).toBe(1);
      expect(await value(registry, 'uid2_engine_scope_tokens_total', { scope: 'EUID', status: 'NotInitialized' })).toBe(1);
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'Success' })).toBe(2);
      expect(await value(registry, 'uid2_engine_scope_key_refreshes_total', { scope: 'EUID', outcome: 'failure' })).toBe(1);
      expect(await value(registry, 'uid2_engine_scope_key_refreshes_total', { scope: 'UID2', outcome: 'success' })).toBe(1);
      expect(await value(registry, 'uid2_engine_scope_key_set_age_seconds', { scope: 'EUID' })).toBeNaN();
      expect(await value(registry, 'uid2_engine_scope_key_set_age_seconds', { scope: 'UID2' })).toBeGreaterThanOrEqual(0);
    } finally {
      await engine.close();
      await euidOp.close();
    }
    const single = await DecryptionEngine.create({ threads: 0 });
    try {
      const other = new Registry();
      await single.metrics(other);
      expect((await other.getMetricsAsJSON()).some((m) => m.name.includes('scope_'))).toBe(false);
    } finally {
      await single.close();
    }
  });

  it('two engines share a registry with different prefixes; the same names twice are refused', async () => {
    const registry = new Registry();
    const a = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 0 });
    const b = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 0 });
    try {
      await a.metrics(registry);
      await expect(b.metrics(registry)).rejects.toMatchObject({
        code: 'UID2_ERR_INVALID_ARGUMENT',
        message: 'metrics named uid2_engine_* are already registered on this registry: pass another options.prefix',
      });
      await b.metrics(registry, { prefix: 'uid2_engine_b_' });
      await b.decrypt(op.mintToken({ version: 4 }));
      expect(await value(registry, 'uid2_engine_b_tokens_total', { status: 'Success' })).toBe(1);
      expect(await value(registry, 'uid2_engine_tokens_total', { status: 'Success' })).toBe(0);
      await expect(a.metrics(registry, { prefix: 'bad prefix' })).rejects.toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT' });
      await expect(a.metrics({} as never, { prefix: 'x_' })).rejects.toMatchObject({
        code: 'UID2_ERR_INVALID_ARGUMENT',
        message: 'register must be a prom-client Registry',
      });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('without a registry, registers on prom-client’s global one', async () => {
    const { register } = await import('prom-client');
    const engine = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 0 });
    try {
      await engine.metrics(undefined, { prefix: 'uid2_engine_global_test_' });
      expect(await register.metrics()).toContain('uid2_engine_global_test_tokens_total');
    } finally {
      register.clear();
      await engine.close();
    }
  });
});

describe('without prom-client', () => {
  it('loadPromClient rejects with a ConfigError saying to install it', async () => {
    await expect(loadPromClient('prom-client-that-is-not-installed')).rejects.toMatchObject({
      name: 'ConfigError',
      code: 'UID2_ERR_CONFIG',
      message: expect.stringContaining('npm install prom-client'),
    });
  });

  it('engine.metrics() rejects with UID2_ERR_CONFIG when prom-client cannot be resolved', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uid2-no-prom-'));
    // A resolve hook that answers for prom-client as a missing install does.
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {
        if (specifier === 'prom-client') {
          throw Object.assign(new Error("Cannot find package 'prom-client'"), { code: 'ERR_MODULE_NOT_FOUND' });
        }
        return next(specifier, context);
      }`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module'; register('./hooks.mjs', import.meta.url);`);
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const script = `
      const { DecryptionEngine } = await import(${JSON.stringify(dist)});
      const engine = await DecryptionEngine.create({ threads: 0 });
      try { await engine.metrics(); console.log('no error'); }
      catch (err) { console.log(JSON.stringify({ name: err.name, code: err.code, message: err.message })); }
      await engine.close();`;
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const error = JSON.parse(run.stdout.trim()) as { name: string; code: string; message: string };
    expect(error).toMatchObject({ name: 'ConfigError', code: 'UID2_ERR_CONFIG' });
    expect(error.message).toMatch(/^engine\.metrics\(\) needs the optional peer dependency prom-client: npm install prom-client/);
  });
});
