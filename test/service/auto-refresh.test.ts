/**
 * Auto-refresh against the real local operator. Intervals are short (20-50 ms) so the loop runs
 * many times, but no assertion depends on timing: the tests wait on events.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BidstreamClient, DEFAULT_AUTO_REFRESH_OPTIONS, SharingClient, type Uid2Error } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { jitteredDelay } from '../../src/client/auto-refresh.js';

const FAST = { intervalMs: 50, retryIntervalMs: 20, jitter: 0.1 };
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function operator(options?: Parameters<typeof startLocalOperator>[0]): Promise<LocalOperator> {
  const op = await startLocalOperator(options);
  cleanup.push(() => op.close());
  return op;
}

function client(op: LocalOperator, url = op.url): BidstreamClient {
  const c = new BidstreamClient(url, op.apiKey, op.secretKey);
  cleanup.push(() => c.close());
  return c;
}

/** Client timeout and a round interval in the stopping tests, distinct from every other timer. */
const TIMEOUT_MS = 9_999;
const SLOW = { intervalMs: 77_777, jitter: 0 };

/**
 * Watches the timers the client creates (auto-refresh delays are under 100 ms here; request
 * timeouts are TIMEOUT_MS), so a test can check each is unref'd and none is left pending.
 */
function watchClientTimers(): { timers(): NodeJS.Timeout[] } {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  cleanup.push(() => spy.mockRestore());
  return {
    timers: () =>
      spy.mock.results
        .map((r) => r.value as NodeJS.Timeout & { _idleTimeout: number; _destroyed: boolean })
        .filter((t) => t._idleTimeout <= 100 || t._idleTimeout === TIMEOUT_MS || t._idleTimeout === SLOW.intervalMs),
  };
}

function pending(timers: NodeJS.Timeout[]): NodeJS.Timeout[] {
  return timers.filter((t) => !(t as unknown as { _destroyed: boolean })._destroyed);
}

describe('startAutoRefresh', () => {
  it('refreshes at once, then keeps refreshing on the interval', async () => {
    const op = await operator();
    const c = client(op);
    expect(c.autoRefreshing).toBe(false);
    const first = await c.startAutoRefresh(FAST);
    expect(first).toEqual({ success: true });
    expect(c.autoRefreshing).toBe(true);
    const firstSuccess = c.lastSuccessAt!;
    // Two more rounds, observed through the event only.
    await once(c, 'refresh');
    await once(c, 'refresh');
    expect(c.lastSuccessAt!.getTime()).toBeGreaterThanOrEqual(firstSuccess.getTime());
    expect(op.requests.length).toBeGreaterThanOrEqual(3);
  });

  it('picks up rotated keys on its own', async () => {
    const op = await operator();
    const c = client(op);
    await c.startAutoRefresh(FAST);
    const [newId] = op.rotateKeys();
    while (!c.keySet!.getKey(newId!)) await once(c, 'keys');
    expect(c.keySet!.getKey(newId!)).toBeDefined();
  });

  it('retries failures and recovers when the operator comes back on the same address', async () => {
    const first = await startLocalOperator();
    const { port, apiKey, secretKey } = first;
    const c = client(first);
    await c.startAutoRefresh(FAST);
    const keySet = c.keySet;

    await first.close();
    const [error] = (await once(c, 'refreshError')) as [Uid2Error];
    expect(error.code).toBe('UID2_ERR_SERVICE_NETWORK');
    expect(c.lastError).toBe(error);
    expect(c.keySet).toBe(keySet);
    // A second failure shows it keeps retrying.
    await once(c, 'refreshError');

    const again = await operator({ port, apiKey, secretKey });
    await once(c, 'refresh');
    expect(c.lastError).toBeUndefined();
    expect(c.keySet).not.toBe(keySet);
    expect(c.keySet!.getKey(again.keyResponse('bidstream').body.keys[0]!.id)).toBeDefined();
  });

  it('recovers after a run of faults', async () => {
    const op = await operator();
    op.setFault({ kind: 'http-error', status: 503 });
    const c = new SharingClient(op.url, op.apiKey, op.secretKey);
    cleanup.push(() => c.close());
    const first = await c.startAutoRefresh(FAST);
    expect(first.error).toMatchObject({ code: 'UID2_ERR_SERVICE_HTTP', statusCode: 503 });
    expect(c.lastError).toBe(first.error);
    op.setFault({ kind: 'wrong-nonce' });
    while ((c.lastError as Uid2Error | undefined)?.code !== 'UID2_ERR_NONCE_MISMATCH') await once(c, 'refreshError');
    op.setFault(null);
    await once(c, 'refresh');
    expect(c.keySet?.callerSiteId).toBe(op.callerSiteId);
    expect(c.lastError).toBeUndefined();
  });

  it('restarts with new options when called again', async () => {
    const op = await operator();
    const c = client(op);
    await c.startAutoRefresh({ intervalMs: 3_600_000 });
    await c.startAutoRefresh(FAST);
    await once(c, 'refresh');
    expect(c.autoRefreshing).toBe(true);
  });
});

describe('stopping', () => {
  it('stopAutoRefresh aborts the refresh in flight, emits nothing and leaves no timer', async () => {
    const op = await operator();
    const c = new BidstreamClient(op.url, op.apiKey, op.secretKey, { timeoutMs: TIMEOUT_MS });
    const watch = watchClientTimers();
    op.setFault({ kind: 'delay', ms: 10_000 });
    const events: string[] = [];
    c.on('refresh', () => events.push('refresh'));
    c.on('refreshError', () => events.push('refreshError'));
    const first = c.startAutoRefresh(FAST);
    await vi.waitFor(() => expect(op.requests.length).toBe(1));
    // The request timeout is armed and does not hold the process.
    expect(pending(watch.timers()).map((t) => t.hasRef())).toEqual([false]);
    c.stopAutoRefresh();
    expect(await first).toMatchObject({ success: false, error: { code: 'UID2_ERR_ABORTED', message: 'auto-refresh was stopped' } });
    expect(c.autoRefreshing).toBe(false);
    expect(events).toEqual([]);
    expect(c.lastError).toBeUndefined();
    expect(pending(watch.timers())).toEqual([]);
  });

  it('close() stops the loop between rounds and leaves no timer', async () => {
    const op = await operator();
    const c = new BidstreamClient(op.url, op.apiKey, op.secretKey, { timeoutMs: TIMEOUT_MS });
    const watch = watchClientTimers();
    expect(await c.startAutoRefresh(SLOW)).toEqual({ success: true });
    // Between rounds exactly one timer waits: the next round, unref'd.
    const waiting = pending(watch.timers());
    expect(waiting[0]!.hasRef()).toBe(false);
    c.close();
    expect(c.autoRefreshing).toBe(false);
    expect(pending(watch.timers())).toEqual([]);
    c.stopAutoRefresh(); // idempotent
    expect(await c.startAutoRefresh(FAST)).toMatchObject({ success: false, error: { code: 'UID2_ERR_ABORTED' } });
    expect(c.autoRefreshing).toBe(false);
    expect(pending(watch.timers())).toEqual([]);
  });
});

describe('validation up front', () => {
  const c = new BidstreamClient('https://example.com', 'k', Buffer.alloc(32).toString('base64'));
  it.each([
    [{ intervalMs: 0 }, 'options.intervalMs must be a positive integer'],
    [{ intervalMs: 1.5 }, 'options.intervalMs must be a positive integer'],
    [{ intervalMs: 2 ** 31 }, 'options.intervalMs must be a positive integer no larger than 2147483647'],
    [{ retryIntervalMs: -1 }, 'options.retryIntervalMs must be a positive integer'],
    [{ retryIntervalMs: '30' }, 'options.retryIntervalMs must be a positive integer'],
    [{ jitter: 1 }, 'options.jitter must be a number from 0 up to (not including) 1'],
    [{ jitter: -0.1 }, 'options.jitter must be a number from 0 up to (not including) 1'],
    [{ jitter: Number.NaN }, 'options.jitter must be a number from 0 up to (not including) 1'],
    ['fast', 'options must be an object'],
  ])('startAutoRefresh(%j) throws "%s"', (options, message) => {
    expect(() => c.startAutoRefresh(options as never)).toThrow(expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT', message: expect.stringContaining(message) }));
    expect(c.autoRefreshing).toBe(false);
  });

  it('throws for credentials that cannot work instead of retrying them forever', () => {
    expect(() => new BidstreamClient('https://example.com', 'k', 'short').startAutoRefresh()).toThrow(expect.objectContaining({ code: 'UID2_ERR_SECRET_KEY' }));
    expect(() => new BidstreamClient('nope', 'k', Buffer.alloc(32).toString('base64')).startAutoRefresh()).toThrow(expect.objectContaining({ code: 'UID2_ERR_CONFIG' }));
  });

  it.each([
    [{ timeoutMs: 0 }, 'options.timeoutMs must be a positive integer'],
    [{ timeoutMs: Infinity }, 'options.timeoutMs must be a positive integer'],
    [{ maxResponseBytes: -5 }, 'options.maxResponseBytes must be a positive integer'],
    [7, 'options must be an object'],
  ])('constructor options %j throw "%s"', (options, message) => {
    expect(() => new BidstreamClient('https://example.com', 'k', 's', options as never)).toThrow(message);
  });

  it('refresh() rejects bad options (a programming error, not a service failure)', async () => {
    await expect(c.refresh({ timeoutMs: -1 })).rejects.toThrow('options.timeoutMs must be a positive integer');
    await expect(c.refresh({ signal: 'stop' as never })).rejects.toThrow('options.signal must be an AbortSignal');
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_AUTO_REFRESH_OPTIONS).toEqual({ intervalMs: 3_600_000, retryIntervalMs: 30_000, jitter: 0.1 });
  });
});

describe('jitteredDelay', () => {
  it('spreads delays over ± jitter and stays in timer range', () => {
    expect(jitteredDelay(1000, 0.1, () => 0)).toBe(900);
    expect(jitteredDelay(1000, 0.1, () => 0.5)).toBe(1000);
    expect(jitteredDelay(1000, 0.1, () => 1)).toBe(1100);
    expect(jitteredDelay(1000, 0, Math.random)).toBe(1000);
    expect(jitteredDelay(1, 0.9, () => 0)).toBe(1);
    expect(jitteredDelay(2 ** 31 - 1, 0.5, () => 1)).toBe(2 ** 31 - 1);
  });
});
