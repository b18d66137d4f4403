import { describe, expect, it } from 'vitest';
import type { PendingToken } from '../../src/engine/batch-io.js';
import { TokenQueue } from '../../src/engine/token-queue.js';

const entry = (i: number): PendingToken => ({ token: `t${i}`, domain: null, nowMs: 0, index: i, sink: { settle: () => {}, fail: () => {} } });

describe('TokenQueue', () => {
  it('takes batches in FIFO order across compactions, losing and repeating nothing', () => {
    const q = new TokenQueue();
    let pushed = 0;
    const taken: number[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 1000; i++) q.push(entry(pushed++));
      for (const e of q.take(700)) taken.push(e.index);
      expect(q.length).toBe(pushed - taken.length);
    }
    while (q.length > 0) for (const e of q.take(256)) taken.push(e.index);
    expect(taken).toEqual(Array.from({ length: pushed }, (_, i) => i));
    expect(q.take(10)).toEqual([]);
  });
});
