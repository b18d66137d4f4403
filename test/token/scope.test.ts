/**
 * identityScopeOf(): the scope a token's header names, for every version, both v4 encodings, both
 * scopes and identity types, the legacy prefix 0, and the inputs that cannot say (null).
 */
import { describe, expect, it } from 'vitest';
import { identityScopeOf, type AdvertisingTokenVersion, type IdentityScope } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { DAY_MS, NOW_MS, SITE_ID, makeKey, randomRawUid } from '../helpers/fixtures.js';

const master = makeKey(1);
const site = makeKey(2);

function mint(version: AdvertisingTokenVersion, extra: Partial<Parameters<typeof encodeAdvertisingToken>[0]> = {}): string {
  return encodeAdvertisingToken({
    version,
    masterKey: master,
    siteKey: site,
    rawUid: version === 2 ? 'someone@example.com' : randomRawUid(),
    siteId: SITE_ID,
    expiresMs: NOW_MS + DAY_MS,
    generatedMs: NOW_MS,
    establishedMs: NOW_MS,
    ...extra,
  });
}

describe('identityScopeOf', () => {
  it('reads the scope bit of v3 and v4 tokens, whatever the identity type and v4 encoding', () => {
    for (const scope of ['UID2', 'EUID'] as IdentityScope[]) {
      for (const identityType of ['Email', 'Phone'] as const) {
        expect(identityScopeOf(mint(3, { identityScope: scope, identityType }))).toBe(scope);
        expect(identityScopeOf(mint(4, { identityScope: scope, identityType }))).toBe(scope);
        expect(identityScopeOf(mint(4, { identityScope: scope, identityType, encoding: 'base64' }))).toBe(scope);
      }
    }
  });

  it('answers UID2 for v2 tokens and for the legacy prefix 0', () => {
    expect(identityScopeOf(mint(2))).toBe('UID2');
    expect(identityScopeOf(mint(4, { identityScope: 'EUID', legacyPrefix: true }))).toBe('UID2');
  });

  it('needs only the header: a token whose body is damaged still names its scope', () => {
    const token = mint(4, { identityScope: 'EUID' });
    expect(identityScopeOf(token.slice(0, 4))).toBe('EUID');
    expect(identityScopeOf(`${token.slice(0, 10)}!!!`)).toBe('EUID');
  });

  it('answers null for anything that cannot name a scope', () => {
    const euid = mint(4, { identityScope: 'EUID' });
    for (const input of [undefined, null, 42, {}, '', 'abc', 'AgA=', '!!!!', 'AAAA', '////', `é${euid.slice(1)}`, Buffer.from(euid)]) {
      expect(identityScopeOf(input)).toBeNull();
    }
  });
});
