/**
 * BidstreamClient and SharingClient: key loading with atomic replacement, the 'keys' event,
 * time arguments, and credentials kept out of logs.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  BidstreamClient,
  DecryptionStatus,
  EncryptionStatus,
  InvalidArgumentError,
  KeySet,
  KeysJsonError,
  SharingClient,
} from '../../src/index.js';
import { toUnixMs } from '../../src/util/time.js';
import { NOW_MS, makeSharingWorld, makeWorld, randomRawUid } from '../helpers/fixtures.js';

const API_KEY = 'api-key-do-not-log-8f2c';
const SECRET_KEY = 'c2VjcmV0LWRvLW5vdC1sb2ctNzc3Nzc3Nzc3Nzc3Nzc=';

describe('refreshJson', () => {
  it('loads keys, emits "keys" with the new key set, and swaps the key set on each success', () => {
    const client = new BidstreamClient('https://operator.test', API_KEY, SECRET_KEY);
    expect(client.keySet).toBeUndefined();
    const seen: KeySet[] = [];
    client.on('keys', (keySet: KeySet) => seen.push(keySet));

    const first = makeWorld();
    expect(client.refreshJson(first.response)).toEqual({ success: true });
    const firstSet = client.keySet;
    expect(firstSet).toBeInstanceOf(KeySet);
    expect(seen).toEqual([firstSet]);

    const second = makeWorld();
    expect(client.refreshJson(JSON.stringify(second.response))).toEqual({ success: true });
    expect(client.keySet).not.toBe(firstSet);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(client.keySet);

    // Tokens under the old keys no longer decrypt (same ids, new secrets).
    expect(client.decryptTokenIntoRawUid(first.token(), null, NOW_MS).status).toBe(DecryptionStatus.InvalidPayload);
    expect(client.decryptTokenIntoRawUid(second.token(), null, NOW_MS).status).toBe(DecryptionStatus.Success);
  });

  it('a failure keeps the same key set object and still decrypts with it', () => {
    const world = makeWorld();
    const client = new BidstreamClient('https://operator.test', API_KEY, SECRET_KEY);
    client.refreshJson(world.response);
    const before = client.keySet;
    const result = client.refreshJson('{"body":[{"id":"test"}]}');
    expect(result.success).toBe(false);
    expect(result.error).toBeInstanceOf(KeysJsonError);
    expect(result.error!.message).toMatch(/id must be an integer/);
    expect(client.keySet).toBe(before);
    expect(client.decryptTokenIntoRawUid(world.token(), null, NOW_MS).status).toBe(DecryptionStatus.Success);
  });
});

describe('time arguments', () => {
  const world = makeSharingWorld();
  const client = new SharingClient('https://operator.test', API_KEY, SECRET_KEY);
  client.refreshJson(world.response);

  it('a Date and Unix ms mean the same instant', () => {
    const token = world.token({ expiresMs: NOW_MS + 1000 });
    expect(client.decryptTokenIntoRawUid(token, new Date(NOW_MS + 1000)).status).toBe(DecryptionStatus.Success);
    expect(client.decryptTokenIntoRawUid(token, NOW_MS + 1001).status).toBe(DecryptionStatus.ExpiredToken);
    expect(client.decryptTokenIntoRawUid(token, new Date(NOW_MS + 1001)).status).toBe(DecryptionStatus.ExpiredToken);
  });

  it('an invalid time throws InvalidArgumentError', () => {
    for (const now of [Number.NaN, Infinity, new Date('not a date')]) {
      expect(() => client.decryptTokenIntoRawUid(world.token(), now)).toThrow(InvalidArgumentError);
      expect(() => client.encryptRawUidIntoToken(randomRawUid(), now)).toThrow(/now must be a valid Date or Unix milliseconds/);
    }
    expect(() => toUnixMs('1' as unknown as number, 'when')).toThrow(/when must be a valid Date or Unix milliseconds/);
  });

  it('toUnixMs passes finite values through', () => {
    expect(toUnixMs(NOW_MS)).toBe(NOW_MS);
    expect(toUnixMs(new Date(NOW_MS))).toBe(NOW_MS);
    expect(toUnixMs(0)).toBe(0);
    expect(toUnixMs(-5)).toBe(-5);
  });

  it('without a time, the current clock is used', () => {
    // Keys and token valid from 2000 to 2099, so "now" is inside whenever this suite runs.
    const from = 946_684_800;
    const to = 4_070_908_800;
    const wide = makeSharingWorld({ masterKey: { activates: from, expires: to }, siteKey: { activates: from, expires: to } });
    const c = new SharingClient('https://operator.test', API_KEY, SECRET_KEY);
    c.refreshJson(wide.response);
    const rawUid = randomRawUid();
    const encrypted = c.encryptRawUidIntoToken(rawUid);
    expect(encrypted.status).toBe(EncryptionStatus.Success);
    const before = Date.now();
    const result = c.decryptTokenIntoRawUid(encrypted.encryptedData!);
    const after = Date.now();
    expect(result).toMatchObject({ status: DecryptionStatus.Success, uid: rawUid });
    expect(result.established!.getTime()).toBeLessThanOrEqual(after);
    expect(result.established!.getTime()).toBeGreaterThan(before - 60_000);
    const b = new BidstreamClient('https://operator.test', API_KEY, SECRET_KEY);
    b.refreshJson(wide.response);
    const token = wide.token({ generatedMs: Date.now(), expiresMs: to * 1000 - 1, establishedMs: 0 });
    expect(b.decryptTokenIntoRawUid(token).status).toBe(DecryptionStatus.Success);
  });
});

describe('credentials', () => {
  it('keep the base URL visible and the API key and secret out of inspect and JSON', () => {
    for (const client of [new BidstreamClient('https://operator.test', API_KEY, SECRET_KEY), new SharingClient('https://operator.test', API_KEY, SECRET_KEY)]) {
      client.refreshJson(makeSharingWorld().response);
      expect(client.baseUrl).toBe('https://operator.test');
      const outputs = [
        inspect(client),
        inspect(client, { showHidden: true, depth: Infinity, getters: true }),
        JSON.stringify(client),
        JSON.stringify({ ...client }),
      ];
      for (const text of outputs) {
        expect(text).not.toContain(API_KEY);
        expect(text).not.toContain(SECRET_KEY);
      }
      expect(Object.keys(client).join(' ')).not.toMatch(/apiKey|secretKey/);
    }
  });
});
