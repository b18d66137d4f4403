/**
 * The shared decryption vectors (checked against the official Java SDK), every case, all fields,
 * through the library and through the CLI.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BidstreamClient, SharingClient, decryptToken, parseKeys, type DecryptionResult } from '../src/index.js';
import { jsonLines, runCli } from './helpers/cli.js';
import { comparable, expectedFields, loadCrossSdkVector, loadVectors, type DecryptVector } from './helpers/vectors.js';

const vectors = loadVectors();

function decryptWithClient(c: DecryptVector): DecryptionResult {
  const keys = c.keySet === null ? null : vectors.keySets[c.keySet]!.response;
  if (c.clientType === 'sharing') {
    const client = new SharingClient('https://unused.example', 'key', 'secret');
    if (keys) expect(client.refreshJson(keys)).toEqual({ success: true });
    return client.decryptTokenIntoRawUid(c.token, c.nowMs);
  }
  if (c.clientType === 'bidstream') {
    const client = new BidstreamClient('https://unused.example', 'key', 'secret');
    if (keys) expect(client.refreshJson(keys)).toEqual({ success: true });
    return client.decryptTokenIntoRawUid(c.token, c.domainOrAppName, new Date(c.nowMs));
  }
  return decryptToken(c.token, keys ? parseKeys(keys) : undefined, 'legacy', c.domainOrAppName, c.nowMs);
}

describe('decrypt vectors through the library', () => {
  it('has cases to run', () => {
    expect(vectors.format).toBe('uid2-vectors/1');
    expect(vectors.decrypt.length).toBeGreaterThan(40);
  });
  it.each(vectors.decrypt.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const expected = expectedFields(c.expect);
    const result = decryptWithClient(c);
    expect(comparable(result, expected)).toEqual(expected);
    if (c.expect.status === 'Success' && c.expect.identityType === null) expect(result.identityType).toBeUndefined();
    if (c.expect.status !== 'Success') expect(result.uid).toBeUndefined();
  });
});

describe('cross-SDK token', () => {
  it('decrypts to the raw UID all official SDKs agree on', () => {
    const v = loadCrossSdkVector();
    const result = decryptToken(v.token, parseKeys(v.keys as object), 'legacy', null, v.nowMs);
    const expected = expectedFields(v.expect);
    expect(comparable(result, expected)).toEqual(expected);
  });
});

describe('decrypt vectors through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uid2-vectors-'));
  // One CLI run per (key set, client type, now), tokens on stdin as JSON lines.
  const groups = new Map<string, DecryptVector[]>();
  for (const c of vectors.decrypt) {
    const id = `${c.keySet ?? 'none'}|${c.clientType}|${c.nowMs}`;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  it.each([...groups.entries()])('group %s', async (_id, cases) => {
    const first = cases[0]!;
    let keysPath: string;
    if (first.keySet === null) {
      // "No keys ever loaded" cannot be expressed through --keys; an empty key file is refused.
      keysPath = join(dir, 'empty.json');
      writeFileSync(keysPath, '');
      const run = await runCli(['decrypt', '--keys', keysPath, 'x']);
      expect(run.code).toBe(2);
      return;
    }
    keysPath = join(dir, `${first.keySet}.json`);
    writeFileSync(keysPath, JSON.stringify(vectors.keySets[first.keySet]!.response));
    const input = cases.map((c) => JSON.stringify({ token: c.token, domainOrAppName: c.domainOrAppName })).join('\n') + '\n';
    const run = await runCli(['decrypt', '--keys', keysPath, '--client', first.clientType, '--now', String(first.nowMs)], input);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const records = jsonLines(run.stdout);
    expect(records).toHaveLength(cases.length);
    cases.forEach((c, i) => {
      const record = records[i]!;
      const expected = expectedFields(c.expect);
      const actual: Record<string, unknown> = { status: record['status'] };
      for (const name of Object.keys(expected)) {
        if (name === 'establishedMs') actual[name] = Date.parse(record['established'] as string);
        else if (name === 'expiryMs') actual[name] = Date.parse(record['expiry'] as string);
        else if (name !== 'status') actual[name] = record[name];
      }
      expect({ name: c.name, ...actual }).toEqual({ name: c.name, ...expected });
      if (c.expect.status !== 'Success') expect(record['uid']).toBeNull();
    });
  });
});
