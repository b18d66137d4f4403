/**
 * The retry policy's two pure rules: which failures are retried, and the back-off before each
 * retry (exponential, capped, full jitter). Retrying itself is tested against the local
 * operator in client.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, EnvelopeError, IdentityMapResponseError, NonceMismatchError, ServiceHttpError, ServiceNetworkError, ServiceTimeoutError } from '../../src/index.js';
import { backoffMs, isRetryable } from '../../src/identity-map/retry.js';

describe('isRetryable', () => {
  it.each([
    [new ServiceHttpError(429, ''), true],
    [new ServiceHttpError(500, ''), true],
    [new ServiceHttpError(503, ''), true],
    [new ServiceHttpError(599, ''), true],
    [new ServiceNetworkError(''), true],
    [new ServiceTimeoutError(''), true],
    [new ServiceHttpError(400, ''), false],
    [new ServiceHttpError(401, ''), false],
    [new ServiceHttpError(413, ''), false],
    [new ServiceHttpError(302, ''), false],
    [new EnvelopeError(''), false],
    [new NonceMismatchError(), false],
    [new IdentityMapResponseError(''), false],
    [new AbortedError(), false],
    [new Error('other'), false],
  ])('%s → %s', (err, retried) => {
    expect(isRetryable(err)).toBe(retried);
  });
});

describe('backoffMs', () => {
  const policy = { retryDeadlineMs: 60_000, initialBackoffMs: 250, maxBackoffMs: 10_000 };
  it('doubles from the initial back-off up to the cap, scaled by the random draw', () => {
    const top = (retry: number): number => backoffMs(retry, policy, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6, 7, 100].map(top)).toEqual([249, 499, 999, 1999, 3999, 7999, 9999, 9999]);
    expect(backoffMs(3, policy, () => 0.5)).toBe(500);
    expect(backoffMs(3, policy, () => 0)).toBe(0);
  });

  it('stays within [0, cap) for any draw', () => {
    for (let i = 0; i < 1000; i++) {
      const retry = 1 + (i % 12);
      const wait = backoffMs(retry, policy);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (retry - 1)));
    }
  });
});
