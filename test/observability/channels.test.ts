/** diagnostics_channel events: uid2-engine:refresh from clients, uid2-engine:batch from the engine. */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_EXPECTED } from '../native/harness.js';
import { BATCH_CHANNEL_NAME, BidstreamClient, DecryptionEngine, REFRESH_CHANNEL_NAME, type BatchChannelMessage, type RefreshChannelMessage } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';

let op: LocalOperator;
const subscriptions: [string, (message: unknown) => void][] = [];
beforeAll(async () => {
  op = await startLocalOperator();
});
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
  op.setFault(null);
});
afterAll(async () => {
  await op.close();
});

function listen<T>(name: string): T[] {
  const messages: T[] = [];
  const fn = (message: unknown): void => void messages.push(message as T);
  subscribe(name, fn);
  subscriptions.push([name, fn]);
  return messages;
}

describe('diagnostics channels', () => {
  it('names the channels uid2-engine:refresh and uid2-engine:batch', () => {
    expect([REFRESH_CHANNEL_NAME, BATCH_CHANNEL_NAME]).toEqual(['uid2-engine:refresh', 'uid2-engine:batch']);
  });

  it('uid2-engine:refresh carries each refresh outcome, never a credential', async () => {
    const messages = listen<RefreshChannelMessage>('uid2-engine:refresh');
    const client = new BidstreamClient(op.url, op.apiKey, op.secretKey);
    await client.refresh();
    op.setFault({ kind: 'http-error', status: 500 });
    await client.refresh();
    op.setFault({ kind: 'wrong-nonce' });
    await client.refresh();
    client.close();
    expect(messages).toEqual([
      { success: true, endpoint: 'bidstream', keys: op.keyResponse('bidstream').body.keys.length },
      { success: false, endpoint: 'bidstream', code: 'UID2_ERR_SERVICE_HTTP' },
      { success: false, endpoint: 'bidstream', code: 'UID2_ERR_NONCE_MISMATCH' },
    ]);
    expect(JSON.stringify(messages)).not.toContain(op.apiKey);
  });

  it('uid2-engine:batch reports each completed worker batch; nothing after unsubscribing', async () => {
    const messages = listen<BatchChannelMessage>('uid2-engine:batch');
    const engine = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 1, dispatch: 'workers', maxBatchSize: 4 });
    try {
      const tokens = Array.from({ length: 10 }, () => op.mintToken({ version: 4 }));
      await engine.decryptBatch(tokens);
      const version = engine.stats().snapshotVersion;
      expect(messages.map((m) => m.tokens)).toEqual([4, 4, 2]);
      for (const m of messages) {
        expect(m).toEqual({ tokens: m.tokens, durationMs: expect.any(Number), snapshotVersion: version, backend: engine.stats().backend });
        expect(m.durationMs).toBeGreaterThan(0);
      }
      for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
      await engine.decryptBatch(tokens);
      expect(messages).toHaveLength(3);
    } finally {
      await engine.close();
    }
  });

  it('in-process engines report each decryptBatch() call as one batch', async () => {
    const messages = listen<BatchChannelMessage>('uid2-engine:batch');
    const engine = await DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 0 });
    try {
      await engine.decryptBatch(['a', 'b', 'c']);
      expect(messages).toEqual([{ tokens: 3, durationMs: expect.any(Number), snapshotVersion: engine.stats().snapshotVersion, backend: engine.stats().backend }]);
      expect(engine.stats().backend).toBe(NATIVE_EXPECTED ? 'native' : 'node-crypto');
    } finally {
      await engine.close();
    }
  });
});
