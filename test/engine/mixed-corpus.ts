/**
 * A deterministic mixed token corpus for engine tests: v2/v3/v4, email and phone, expired,
 * tampered, unknown master key, CSTG with allowed and disallowed domains, junk text. Keys are
 * generated from a seed, never taken from the shared vectors.
 */
import { createHash } from 'node:crypto';
import { type AdvertisingTokenVersion, type IdentityScope } from '../../src/index.js';
import { encodeAdvertisingToken } from '../../src/testing.js';
import { seededRandom } from '../../bench/seeded-random.js';

export const NOW_MS = 1_780_000_000_000;
const DAY = 86_400_000;

/** The shared seeded PRNG (mulberry32). */
export const prng = seededRandom;

export function secretFor(label: string): Buffer {
  return createHash('sha256').update(label).digest();
}

export interface CorpusKeys {
  json: object;
  /** The key set's identity_scope, which the corpus's v3/v4 tokens name too. */
  scope: IdentityScope;
  master: { id: number; secret: Buffer };
  site: { id: number; secret: Buffer };
}

/** The site id the corpus's site key carries (`site_id`), which results report as siteKeySiteId. */
export const SITE_KEY_SITE_ID = 7007;

/**
 * A bidstream key response with one master and one site key, ids offset by `base`. The site key
 * carries a site_id (bidstream keys usually have none) so that every path must report it.
 */
export function keyResponse(base: number, label: string, scope: IdentityScope = 'UID2'): CorpusKeys {
  const master = { id: base + 1, secret: secretFor(`${label}-master`) };
  const site = { id: base + 2, secret: secretFor(`${label}-site`) };
  const sec = (ms: number): number => Math.floor(ms / 1000);
  const key = (k: { id: number; secret: Buffer }, keyset: number, siteId?: number): object => ({
    id: k.id,
    keyset_id: keyset,
    ...(siteId === undefined ? {} : { site_id: siteId }),
    created: sec(NOW_MS - 10 * DAY),
    activates: sec(NOW_MS - 9 * DAY),
    expires: sec(NOW_MS + 300 * DAY),
    secret: k.secret.toString('base64'),
  });
  return {
    master,
    site,
    scope,
    json: {
      status: 'success',
      body: {
        identity_scope: scope,
        allow_clock_skew_seconds: 1800,
        max_bidstream_lifetime_seconds: 3 * 86_400,
        max_sharing_lifetime_seconds: 30 * 86_400,
        keys: [key(master, 1), key(site, 10, SITE_KEY_SITE_ID)],
        site_data: [{ id: 77, domain_names: ['news.example', 'com.example.app'] }],
      },
    },
  };
}

export interface CorpusToken {
  token: string;
  domain: string | null;
}

export function mixedCorpus(count: number, keys: CorpusKeys, seed = 1): CorpusToken[] {
  const rnd = prng(seed);
  const out: CorpusToken[] = [];
  for (let i = 0; i < count; i++) {
    const pick = rnd();
    if (pick < 0.03) {
      out.push({ token: Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 120) }, () => Math.floor(rnd() * 256))).toString('base64'), domain: null });
      continue;
    }
    const version: AdvertisingTokenVersion = rnd() < 0.7 ? 4 : rnd() < 0.6 ? 3 : 2;
    const cstg = rnd() < 0.1;
    const expired = rnd() < 0.05;
    const uid = Buffer.alloc(32);
    for (let b = 0; b < 32; b++) uid[b] = Math.floor(rnd() * 256);
    const unknownMaster = rnd() < 0.03;
    let token = encodeAdvertisingToken({
      version,
      masterKey: unknownMaster ? { id: 999_999, secret: keys.master.secret } : keys.master,
      siteKey: keys.site,
      rawUid: version === 2 ? `user${i}@example.com` : uid,
      siteId: cstg ? 77 : 10 + (i % 5),
      expiresMs: expired ? NOW_MS - 1000 : NOW_MS + DAY,
      generatedMs: NOW_MS - 1000,
      establishedMs: NOW_MS - 30 * DAY,
      identityType: rnd() < 0.2 ? 'Phone' : 'Email',
      identityScope: keys.scope,
      clientSideGenerated: cstg,
    });
    if (rnd() < 0.05) {
      // Tamper with one character in the middle.
      const at = 10 + Math.floor(rnd() * (token.length - 20));
      token = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    }
    const domain = cstg ? (rnd() < 0.5 ? 'NEWS.example' : 'evil.example') : rnd() < 0.5 ? 'any.example' : null;
    out.push({ token, domain });
  }
  return out;
}
