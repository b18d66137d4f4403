/**
 * The local operator's identity -> raw UID derivation: the SHA-256 chain of the UID2 operator,
 * salt rotation with previous raw UIDs and refresh-from times, and the documented test
 * identities' opt-out behaviour for each purpose.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeAndHashEmail, normalizeAndHashPhone } from '../../src/index.js';
import { TEST_IDENTITIES } from '../../src/testing.js';
import { OperatorIdentities, type IdentityLookup, type MappedIdentity } from '../../src/operator/identities.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const emailHash = (e: string): Buffer => Buffer.from(normalizeAndHashEmail(e)!, 'base64');
const phoneHash = (p: string): Buffer => Buffer.from(normalizeAndHashPhone(p)!, 'base64');

function mapped(lookup: IdentityLookup): MappedIdentity {
  if (lookup.optedOut) throw new Error('expected a mapped identity');
  return lookup;
}

describe('OperatorIdentities', () => {
  it('derives raw UIDs as SHA-256(base64(first-level hash) + salt), stable until a rotation', () => {
    const ids = new OperatorIdentities(T0, { bucketCount: 4 });
    const flh = ids.firstLevelHash(emailHash('jane@example.com'));
    expect(flh).toHaveLength(32);
    // The first-level hash depends only on the identity hash and this operator's salt.
    expect(ids.firstLevelHash(emailHash('JANE@example.com '))).toEqual(flh);
    const a = mapped(ids.lookup('Email', flh, T0, 'map'));
    expect(Buffer.from(a.rawUid, 'base64')).toHaveLength(32);
    expect(a.previousRawUid).toBeNull();
    expect(mapped(ids.lookup('Email', flh, T0 + 1000, 'generate')).rawUid).toBe(a.rawUid);
    // Another operator has other salts, so other raw UIDs.
    const other = new OperatorIdentities(T0, { bucketCount: 4 });
    expect(mapped(other.lookup('Email', other.firstLevelHash(emailHash('jane@example.com')), T0, 'map')).rawUid).not.toBe(a.rawUid);
    // Different identities get different raw UIDs.
    expect(mapped(ids.lookup('Email', ids.firstLevelHash(emailHash('john@example.com')), T0, 'map')).rawUid).not.toBe(a.rawUid);
  });

  it('a rotation gives a new raw UID and reports the old one as previous for 90 days', () => {
    const ids = new OperatorIdentities(T0, { bucketCount: 8, rotationPeriodMs: 365 * DAY });
    const flh = ids.firstLevelHash(emailHash('jane@example.com'));
    const before = mapped(ids.lookup('Email', flh, T0, 'map'));
    expect(ids.rotateSalts(1, T0 + DAY)).toBe(8);
    const after = mapped(ids.lookup('Email', flh, T0 + DAY, 'map'));
    expect(after.rawUid).not.toBe(before.rawUid);
    expect(after.previousRawUid).toBe(before.rawUid);
    expect(after.refreshFromMs).toBe(T0 + DAY + 365 * DAY);
    expect(mapped(ids.lookup('Email', flh, T0 + 90 * DAY, 'map')).previousRawUid).toBe(before.rawUid);
    expect(mapped(ids.lookup('Email', flh, T0 + 91 * DAY, 'map')).previousRawUid).toBeNull();
  });

  it('rotates a fraction of the buckets, those due soonest first', () => {
    const ids = new OperatorIdentities(T0, { bucketCount: 10, rotationPeriodMs: 10 * DAY });
    const hashes = Array.from({ length: 200 }, (_, i) => ids.firstLevelHash(emailHash(`user${i}@example.com`)));
    const refreshFrom = new Set(hashes.map((h) => mapped(ids.lookup('Email', h, T0, 'map')).refreshFromMs));
    // Spread over one period: bucket i is due at T0 + (i + 1) days.
    for (const t of refreshFrom) expect((t - T0) % DAY === 0 && t > T0 && t <= T0 + 10 * DAY).toBe(true);
    expect(ids.rotateSalts(0.25, T0 + 1000)).toBe(3);
    const rotated = hashes.filter((h) => mapped(ids.lookup('Email', h, T0 + 1000, 'map')).previousRawUid !== null);
    for (const h of rotated) expect(mapped(ids.lookup('Email', h, T0 + 1000, 'map')).refreshFromMs).toBe(T0 + 1000 + 10 * DAY);
    expect(rotated.length).toBeGreaterThan(0);
    expect(rotated.length).toBeLessThan(hashes.length);
  });

  it('a bucket rotates by itself once its refresh-from time has passed', () => {
    const ids = new OperatorIdentities(T0, { bucketCount: 2, rotationPeriodMs: 2 * DAY });
    const flh = ids.firstLevelHash(phoneHash('+12025550123'));
    const first = mapped(ids.lookup('Phone', flh, T0, 'map'));
    expect(mapped(ids.lookup('Phone', flh, first.refreshFromMs - 1, 'map')).rawUid).toBe(first.rawUid);
    const due = mapped(ids.lookup('Phone', flh, first.refreshFromMs, 'map'));
    expect(due.rawUid).not.toBe(first.rawUid);
    expect(due.previousRawUid).toBe(first.rawUid);
    expect(due.refreshFromMs).toBe(first.refreshFromMs + 2 * DAY);
  });

  it('the test identities opt out as the UID2 service documents', () => {
    const ids = new OperatorIdentities(T0, { isRawUidOptedOut: () => true });
    const t = TEST_IDENTITIES;
    const look = (type: 'Email' | 'Phone', text: string, purpose: 'generate' | 'refresh' | 'map'): boolean =>
      ids.lookup(type, ids.firstLevelHash(type === 'Email' ? emailHash(text) : phoneHash(text)), T0, purpose).optedOut;
    for (const purpose of ['generate', 'refresh', 'map'] as const) {
      expect(look('Email', t.optOutEmail, purpose)).toBe(true);
      expect(look('Phone', t.optOutPhone, purpose)).toBe(true);
      // validate@ never opts out, even with every raw UID in the registry.
      expect(look('Email', t.validateEmail, purpose)).toBe(false);
      expect(look('Phone', t.validatePhone, purpose)).toBe(false);
      expect(look('Email', t.refreshOptOutEmail, purpose)).toBe(purpose === 'refresh');
      expect(look('Phone', t.refreshOptOutPhone, purpose)).toBe(purpose === 'refresh');
    }
    // Normalization applies: the same address in another form is the same identity.
    expect(look('Email', ' OptOut@Example.com ', 'generate')).toBe(true);
    // The type is part of the identity: the email's hash sent as a phone hash is another identity.
    const asPhone = new OperatorIdentities(T0);
    expect(asPhone.lookup('Phone', asPhone.firstLevelHash(emailHash(t.optOutEmail)), T0, 'generate').optedOut).toBe(false);
  });

  it('any other identity opts out when its current or previous raw UID is in the registry', () => {
    const registry = new Set<string>();
    const ids = new OperatorIdentities(T0, { bucketCount: 1, isRawUidOptedOut: (uid) => registry.has(uid) });
    const flh = ids.firstLevelHash(emailHash('jane@example.com'));
    const current = mapped(ids.lookup('Email', flh, T0, 'generate')).rawUid;
    registry.add(current);
    expect(ids.lookup('Email', flh, T0, 'generate').optedOut).toBe(true);
    ids.rotateSalts(1, T0 + DAY);
    // Opted out under its old raw UID: still out after the rotation.
    expect(ids.lookup('Email', flh, T0 + DAY, 'map').optedOut).toBe(true);
    expect(ids.lookup('Email', ids.firstLevelHash(emailHash('john@example.com')), T0 + DAY, 'map').optedOut).toBe(false);
  });

  it('first-level hashes are SHA-256(base64(identity hash) + a secret salt)', () => {
    const ids = new OperatorIdentities(T0);
    const hash = emailHash('jane@example.com');
    const flh = ids.firstLevelHash(hash);
    // Not the bare SHA-256 of the identity hash's base64: the salt is in there.
    expect(flh).not.toEqual(createHash('sha256').update(hash.toString('base64')).digest());
  });
});
