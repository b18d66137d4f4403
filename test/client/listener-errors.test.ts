/**
 * A 'keys' (or 'refresh') listener that throws must not mask what happened: the new keys are in
 * force, the refresh reports success, the error goes to the logger and to 'error' listeners.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { makeWorld } from '../helpers/fixtures.js';
import { capturingLogger } from '../observability/capture.js';

let op: LocalOperator;
beforeAll(async () => {
  op = await startLocalOperator();
});
afterAll(async () => {
  await op.close();
});

describe("a throwing 'keys' listener", () => {
  it('refreshJson: keys in force, success reported, the error logged and emitted as error', () => {
    const logger = capturingLogger();
    const client = new BidstreamClient('https://operator.test', 'k', 'c2VjcmV0LWRvLW5vdC1sb2ctNzc3Nzc3Nzc3Nzc3Nzc=', { logger });
    const later: unknown[] = [];
    const errors: Error[] = [];
    client.on('keys', () => {
      throw new TypeError('listener bug with private text');
    });
    client.on('keys', (k) => later.push(k));
    client.on('error', (e: Error) => errors.push(e));

    const world = makeWorld();
    expect(client.refreshJson(world.response)).toEqual({ success: true });
    expect(client.keySet?.size).toBe(world.keySet.size);
    expect(later).toEqual([client.keySet]);
    expect(errors.map((e) => e.message)).toEqual(['listener bug with private text']);
    const logged = logger.entries.filter((e) => e.obj['event'] === 'uid2.listener-error');
    expect(logged.map((e) => [e.level, e.obj['listenerOf'], e.obj['err']])).toEqual([['error', 'keys', 'TypeError']]);
    expect(logger.text()).not.toContain('private text');
  });

  it('without an error listener the refresh still succeeds (nothing is thrown at the caller)', () => {
    const client = new BidstreamClient('https://operator.test', 'k', 'c2VjcmV0LWRvLW5vdC1sb2ctNzc3Nzc3Nzc3Nzc3Nzc=');
    client.on('keys', () => {
      throw new Error('boom');
    });
    expect(client.refreshJson(makeWorld().response)).toEqual({ success: true });
    expect(client.keySet).toBeDefined();
  });

  it('refresh() from the service: success, keys in force, lastError unset, refresh event still emitted', async () => {
    const logger = capturingLogger();
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey, { logger });
    const refreshed: unknown[] = [];
    client.on('keys', () => {
      throw new Error('boom');
    });
    client.on('refresh', () => {
      throw new Error('boom again');
    });
    client.on('refresh', (k) => refreshed.push(k));
    const result = await client.refresh();
    expect(result).toEqual({ success: true });
    expect(client.keySet).toBeDefined();
    expect(client.lastError).toBeUndefined();
    expect(refreshed).toEqual([client.keySet]);
    const logged = logger.entries.filter((e) => e.obj['event'] === 'uid2.listener-error').map((e) => e.obj['listenerOf']);
    expect(logged).toEqual(['keys', 'refresh']);
    client.close();
  });
});
