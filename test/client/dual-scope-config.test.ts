/**
 * DualScopeBidstreamClient beyond the operators' tokens: the shared decryption vectors of both
 * scopes through one client, its configuration errors (message by message), auto-refresh that is
 * all or nothing, and what it logs and shows (identity scope, never credentials).
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidstreamClient, ConfigError, DualScopeBidstreamClient, InvalidArgumentError, identityScopeOf, type IdentityScope } from '../../src/index.js';
import { startLocalOperator, type LocalOperator } from '../../src/testing.js';
import { comparable, expectedFields, loadVectors } from '../helpers/vectors.js';

const vectors = loadVectors();
const PLACEHOLDER = { baseUrl: 'https://operator.test', apiKey: 'api-key-do-not-log-8f2c', secretKey: 'c2VjcmV0LWRvLW5vdC1sb2ctNzc3Nzc3Nzc3Nzc3Nzc=' };

function vectorClients(keys: Record<IdentityScope, string | null>): { dual: DualScopeBidstreamClient; single: Record<IdentityScope, BidstreamClient> } {
  const dual = new DualScopeBidstreamClient({ UID2: PLACEHOLDER, EUID: PLACEHOLDER }, { tokenCache: true });
  const single = {} as Record<IdentityScope, BidstreamClient>;
  for (const scope of ['UID2', 'EUID'] as const) {
    single[scope] = new BidstreamClient(PLACEHOLDER.baseUrl, PLACEHOLDER.apiKey, PLACEHOLDER.secretKey);
    const name = keys[scope];
    if (name === null) continue;
    const response = vectors.keySets[name]!.response as object;
    expect(dual.clients[scope]!.refreshJson(response)).toEqual({ success: true });
    expect(single[scope].refreshJson(response)).toEqual({ success: true });
  }
  return { dual, single };
}

describe('the bidstream decryption vectors of both scopes through one client', () => {
  const bidstream = vectors.decrypt.filter((c) => c.clientType === 'bidstream');

  it.each([
    ['both scopes loaded', { UID2: 'bidstream-uid2', EUID: 'bidstream-euid' }],
    ['UID2 keys all expired, EUID loaded', { UID2: 'bidstream-stale', EUID: 'bidstream-euid' }],
    ['EUID never loaded', { UID2: 'bidstream-uid2', EUID: null }],
  ] as const)('%s: every vector gives the answer of a single client of its token\'s scope', (_name, keys) => {
    const { dual, single } = vectorClients(keys);
    let checkedAgainstVector = 0;
    for (const c of bidstream) {
      // The reference is picked by the vector's own data: its key set's scope when the token is
      // of that scope, the other scope's key set otherwise (the vectors' "wrong scope" cases).
      const vectorScope: IdentityScope = c.keySet === 'bidstream-euid' ? 'EUID' : 'UID2';
      const tokenScope: IdentityScope = c.expect.status === 'InvalidIdentityScope' ? (vectorScope === 'UID2' ? 'EUID' : 'UID2') : vectorScope;
      for (let pass = 0; pass < 2; pass++) {
        const got = dual.decryptTokenIntoRawUid(c.token, c.domainOrAppName, c.nowMs);
        expect(got, c.name).toEqual(single[tokenScope].decryptTokenIntoRawUid(c.token, c.domainOrAppName, c.nowMs));
        if (c.keySet !== null && keys[tokenScope] === c.keySet && c.expect.status !== 'InvalidIdentityScope') {
          const expected = expectedFields(c.expect);
          expect(comparable(got, expected), c.name).toEqual(expected);
          checkedAgainstVector++;
        }
      }
    }
    expect(checkedAgainstVector).toBeGreaterThan(0);
    expect(dual.tokenCacheStats()!.hits).toBeGreaterThan(0);
  });

  it('the vectors\' wrong-scope tokens are of the scope the routing sends them to', () => {
    for (const c of bidstream.filter((v) => v.expect.status === 'InvalidIdentityScope')) {
      expect(identityScopeOf(c.token), c.name).toBe(c.keySet === 'bidstream-euid' ? 'UID2' : 'EUID');
    }
  });
});

describe('configuration', () => {
  it.each([
    [null, 'scopes must be an object'],
    [[], 'scopes must be an object'],
    [{}, 'scopes must name UID2, EUID or both'],
    [{ UID2: undefined }, 'scopes must name UID2, EUID or both'],
    [{ uid2: PLACEHOLDER }, 'scopes.uid2 is not an identity scope: use UID2 or EUID'],
    [{ EUID: 'https://prod.euid.eu' }, 'scopes.EUID must be an object'],
    [{ UID2: PLACEHOLDER, EUID: { ...PLACEHOLDER, apiKey: undefined } }, 'scopes.EUID.apiKey must be a non-empty string'],
    [{ EUID: { ...PLACEHOLDER, baseUrl: ' ' } }, 'scopes.EUID.baseUrl must be a non-empty string'],
    [{ UID2: { ...PLACEHOLDER, secretKey: 42 } }, 'scopes.UID2.secretKey must be a non-empty string'],
  ])('%o: InvalidArgumentError %s', (scopes, message) => {
    let thrown: unknown;
    try {
      new DualScopeBidstreamClient(scopes as never);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect(thrown).toMatchObject({ code: 'UID2_ERR_INVALID_ARGUMENT', message });
  });

  it('validates the shared options as BidstreamClient does', () => {
    expect(() => new DualScopeBidstreamClient({ UID2: PLACEHOLDER }, { timeoutMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new DualScopeBidstreamClient({ UID2: PLACEHOLDER }, { tokenCache: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => new DualScopeBidstreamClient({ UID2: PLACEHOLDER }, { optOut: {} as never })).toThrow('options.optOut must be an OptOutStore');
  });

  it('reads no credentials from the environment: an EUID scope never gets the UID2_* variables', () => {
    const saved = process.env['UID2_API_KEY'];
    process.env['UID2_API_KEY'] = 'uid2-env-key';
    try {
      expect(() => new DualScopeBidstreamClient({ EUID: { baseUrl: 'https://prod.euid.eu', secretKey: PLACEHOLDER.secretKey } as never })).toThrow(
        'scopes.EUID.apiKey must be a non-empty string',
      );
    } finally {
      if (saved === undefined) delete process.env['UID2_API_KEY'];
      else process.env['UID2_API_KEY'] = saved;
    }
  });
});

describe('auto-refresh, logs and inspection', () => {
  let op: LocalOperator;
  beforeAll(async () => {
    op = await startLocalOperator({ identityScope: 'EUID' });
  });
  afterAll(() => op.close());

  it('starts no loop at all when one scope\'s credentials cannot work', () => {
    const client = new DualScopeBidstreamClient({ UID2: { ...PLACEHOLDER, baseUrl: 'ftp://nowhere' }, EUID: { baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey } });
    expect(() => client.startAutoRefresh()).toThrow(ConfigError);
    const reversed = new DualScopeBidstreamClient({ UID2: { baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey }, EUID: { ...PLACEHOLDER, baseUrl: 'ftp://nowhere' } });
    expect(() => reversed.startAutoRefresh()).toThrow(ConfigError);
    expect(reversed.clients.UID2!.autoRefreshing).toBe(false);
    expect(() => reversed.startAutoRefresh({ jitter: 2 })).toThrow(InvalidArgumentError);
  });

  it('rejects bad refresh options before any request', async () => {
    const client = new DualScopeBidstreamClient({ EUID: { baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey } });
    const before = op.requests.length;
    await expect(client.refresh({ timeoutMs: 'soon' as never })).rejects.toThrow(InvalidArgumentError);
    expect(op.requests.length).toBe(before);
  });

  it('each scope\'s refresh logs carry its identity scope; neither logs nor inspect show credentials', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = { info: (o: object) => lines.push({ ...o }), warn: (o: object) => lines.push({ ...o }), error: () => {}, debug: () => {} };
    const euid = { baseUrl: op.url, apiKey: op.apiKey, secretKey: op.secretKey };
    const client = new DualScopeBidstreamClient({ UID2: { ...euid, apiKey: 'wrong-key-do-not-log' }, EUID: euid }, { logger });
    const results = await client.refresh();
    expect(results.EUID).toEqual({ success: true });
    expect(results.UID2!.error!.code).toBe('UID2_ERR_SERVICE_HTTP');
    expect(lines.map((l) => [l['identityScope'], l['component'], l['success']]).sort()).toEqual([
      ['EUID', 'uid2-client', true],
      ['UID2', 'uid2-client', false],
    ]);
    const shown = inspect(client) + JSON.stringify(lines);
    expect(shown).toContain('DualScopeBidstreamClient { UID2: BidstreamClient');
    for (const secret of [op.apiKey, op.secretKey, 'wrong-key-do-not-log']) expect(shown).not.toContain(secret);
    client.close();
    expect((await client.refresh()).EUID!.error!.code).toBe('UID2_ERR_ABORTED');
  });
});
