/**
 * Differential test: 200k random, mutated and crafted tokens through the native and the
 * node-crypto backends of the worker must give identical records and identical results. Chunks
 * switch key sets (UID2/EUID scope, fresh snapshots of the same keys, no keys) and client types,
 * so the addon's per-version cipher contexts are rebuilt many times along the way. The same 200k
 * go through the in-process native path (inline-decrypt.ts), which must equal decryptToken().
 */
import { describe, expect, it } from 'vitest';
import { decryptToken, parseKeys, type ClientType, type DecryptionResult, type KeySet } from '../../src/index.js';
import { decoderOf } from '../../src/native/backend.js';
import { keyResponse } from '../engine/mixed-corpus.js';
import { corpusPool, differentialCorpus } from './corpus.js';
import { NATIVE_EXPECTED, requireNative, runBackend, snapshotOf, type Input, type TestSnapshot } from './harness.js';

const TOTAL = 200_000;
const CHUNK = 10_000;

function resultLine(r: DecryptionResult): string {
  return [
    r.status,
    r.uid,
    r.siteId,
    r.identityType,
    r.advertisingTokenVersion,
    r.isClientSideGenerated,
    r.established?.getTime(),
    r.expiry?.getTime(),
  ].join('|');
}

describe.skipIf(!NATIVE_EXPECTED)('native vs node-crypto differential', () => {
  requireNative();

  it(`${TOTAL} random and mutated tokens give identical records and results`, () => {
    const keys = keyResponse(3000, 'differential');
    const uid2 = parseKeys(keys.json);
    const euidJson = structuredClone(keys.json) as { body: { identity_scope: string } };
    euidJson.body.identity_scope = 'EUID';
    const euid = parseKeys(euidJson);
    const clientTypes: ClientType[] = ['bidstream', 'bidstream', 'bidstream', 'sharing', 'legacy'];

    // Minted once (the slow part); every chunk draws, mutates and junks its own tokens from it.
    const pool = corpusPool(keys, 8_000, 41);
    const statuses = new Map<string, number>();
    const mismatches: string[] = [];
    let compared = 0;
    for (let chunk = 0; compared < TOTAL; chunk++) {
      const inputs: Input[] = differentialCorpus(pool, CHUNK, 100 + chunk);
      // A new snapshot object each chunk (same or other keys): the addon must drop its contexts.
      const snapshot: TestSnapshot | null = chunk === 7 ? null : snapshotOf(chunk % 4 === 3 ? euid : uid2);
      const clientType = clientTypes[chunk % clientTypes.length]!;
      // Varying batch sizes: slot capacities and token offsets move around.
      const batchSize = [1, 97, 256, 2048, 4096][chunk % 5]!;
      // Batches of one token cost a slot each: a slice of the chunk is enough for that shape.
      const small = batchSize === 1 ? inputs.slice(0, 300) : inputs;

      const native = runBackend('native', snapshot, clientType, small, batchSize);
      const reference = runBackend('node-crypto', snapshot, clientType, small, batchSize);
      compared += small.length;
      for (let i = 0; i < small.length; i++) {
        const a = native.records[i]!;
        const b = reference.records[i]!;
        const ra = resultLine(native.results[i]!);
        const rb = resultLine(reference.results[i]!);
        statuses.set(reference.results[i]!.status, (statuses.get(reference.results[i]!.status) ?? 0) + 1);
        if ((a !== b || ra !== rb) && mismatches.length < 10) {
          mismatches.push(`chunk ${chunk} #${i} ${JSON.stringify(small[i]!.token)}\n  native: ${a}\n  node:   ${b}\n  ${ra}\n  ${rb}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The corpus reaches every status, so every branch of both decoders was compared.
    for (const s of [
      'Success', 'NotAuthorizedForMasterKey', 'NotAuthorizedForKey', 'NotInitialized', 'InvalidPayload', 'ExpiredToken',
      'KeysNotSynced', 'VersionNotSupported', 'InvalidIdentityScope', 'InvalidTokenLifetime', 'DomainOrAppNameCheckFailed',
    ]) {
      expect(statuses.get(s) ?? 0, s).toBeGreaterThan(0);
    }
    expect(compared).toBeGreaterThanOrEqual(TOTAL);
  }, 120_000);

  it(`${TOTAL} random and mutated tokens: in-process native equals decryptToken(), field for field`, () => {
    const decryptNative = decoderOf('native').decrypt;
    const keys = keyResponse(3000, 'differential');
    const euidJson = structuredClone(keys.json) as { body: { identity_scope: string } };
    euidJson.body.identity_scope = 'EUID';
    const clientTypes: ClientType[] = ['bidstream', 'bidstream', 'bidstream', 'sharing', 'legacy'];
    const pool = corpusPool(keys, 8_000, 41);
    const statuses = new Map<string, number>();
    const mismatches: string[] = [];
    let compared = 0;
    for (let chunk = 0; compared < TOTAL; chunk++) {
      const inputs: Input[] = differentialCorpus(pool, CHUNK, 100 + chunk);
      // A new KeySet each chunk (UID2 or EUID), none in one: a new snapshot and new contexts.
      const keySet: KeySet | undefined = chunk === 7 ? undefined : parseKeys(chunk % 4 === 3 ? euidJson : keys.json);
      const clientType = clientTypes[chunk % clientTypes.length]!;
      compared += inputs.length;
      for (const t of inputs) {
        const native = decryptNative(t.token, keySet, clientType, t.domain, t.nowMs);
        const reference = decryptToken(t.token, keySet, clientType, t.domain, t.nowMs);
        statuses.set(reference.status, (statuses.get(reference.status) ?? 0) + 1);
        // resultLine() names every field; the key list catches a field present on one side only.
        const same = resultLine(native) === resultLine(reference) && Object.keys(native).join() === Object.keys(reference).join();
        if (!same && mismatches.length < 10) {
          mismatches.push(`chunk ${chunk} ${JSON.stringify(t.token)}\n  native: ${resultLine(native)}\n  node:   ${resultLine(reference)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    for (const s of [
      'Success', 'NotAuthorizedForMasterKey', 'NotAuthorizedForKey', 'NotInitialized', 'InvalidPayload', 'ExpiredToken',
      'KeysNotSynced', 'VersionNotSupported', 'InvalidIdentityScope', 'InvalidTokenLifetime', 'DomainOrAppNameCheckFailed',
    ]) {
      expect(statuses.get(s) ?? 0, s).toBeGreaterThan(0);
    }
  }, 120_000);
});
