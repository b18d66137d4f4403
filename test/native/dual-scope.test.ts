/**
 * Dual-scope batches in the addon (decodeBatch with an EUID snapshot): every record, flags
 * included (RECORD_EUID marks the tokens routed to EUID's key set), equals the node-crypto
 * backend's, with both key sets, either one missing, or neither; and the addon's argument checks
 * for the EUID snapshot.
 */
import { describe, expect, it } from 'vitest';
import { parseKeys } from '../../src/index.js';
import { RECORD_EUID, packBatch } from '../../src/engine/wire/slot.js';
import { identityScopeOf } from '../../src/token/scope.js';
import { NOW_MS, keyResponse, mixedCorpus } from '../engine/mixed-corpus.js';
import { NATIVE_EXPECTED, requireNative, runBackend, snapshotOf } from './harness.js';

const uid2 = snapshotOf(parseKeys(keyResponse(300, 'native-dual-uid2', 'UID2').json));
const euid = snapshotOf(parseKeys(keyResponse(300, 'native-dual-euid', 'EUID').json));
const inputs = [
  ...mixedCorpus(400, keyResponse(300, 'native-dual-uid2', 'UID2'), 5),
  ...mixedCorpus(400, keyResponse(300, 'native-dual-euid', 'EUID'), 6),
  ...['', 'abc', 'AAAA', 'é'.repeat(30)].map((token) => ({ token, domain: null })),
].map(({ token, domain }) => ({ token, domain, nowMs: NOW_MS }));

describe.skipIf(!NATIVE_EXPECTED)('dual-scope batches: native equals node-crypto', () => {
  const addon = requireNative();

  for (const [name, u, e] of [
    ['both key sets', uid2, euid],
    ['UID2 only', uid2, null],
    ['EUID only', null, euid],
    ['neither', null, null],
  ] as const) {
    it(name, () => {
      const native = runBackend('native', u, 'bidstream', inputs, 333, e);
      expect(native.records).toEqual(runBackend('node-crypto', u, 'bidstream', inputs, 333, e).records);
      // Each record's scope flag is the token's scope.
      const flagged = native.records.map((line) => (Number(/flags=(\d+)/.exec(line)![1]) & RECORD_EUID) !== 0);
      expect(flagged).toEqual(inputs.map((input) => identityScopeOf(input.token) === 'EUID'));
      if (u && e) expect(native.results.filter((r) => r.status === 'Success').length).toBeGreaterThan(500);
    });
  }

  it('rejects an EUID snapshot that is not one', () => {
    const slot = packBatch([{ token: 'abcd', nowMs: NOW_MS }]);
    const call = (euidArg: unknown): void => addon().decodeBatch(slot.sab, slot.capacity, slot.bytesCapacity, 1, uid2.sab, 1, euidArg as SharedArrayBuffer);
    expect(() => call(new ArrayBuffer(64))).toThrow(/snapshot must be a SharedArrayBuffer/);
    expect(() => call(new SharedArrayBuffer(64))).toThrow(expect.objectContaining({ code: 'UID2_ERR_NATIVE_SNAPSHOT' }));
    expect(() => call(42)).toThrow(/snapshot must be a SharedArrayBuffer/);
    // null: EUID has no keys yet (a UID2-routed token is still decoded with UID2's).
    call(null);
    expect(slot.recordBytes[3]! & RECORD_EUID).toBe(0);
  });
});
