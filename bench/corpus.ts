/**
 * A bidstream-like token corpus minted by the local operator: mostly v4, some v3 and v2, a few
 * percent expired, tampered, unknown-key and CSTG tokens (allowed and disallowed domains), and
 * users that repeat with a Zipf-like distribution (the same user's token recurs, as in real bid
 * traffic).
 */
import { randomBytes } from 'node:crypto';
import { encodeAdvertisingToken, type LocalOperator } from '../dist/testing.js';
import { seededRandom } from './schedule.js';

export interface CorpusMix {
  /** Corpus entries (the load generator cycles through them). */
  size: number;
  /** Distinct users; user k is drawn with weight 1/k^zipfExponent. */
  users: number;
  zipfExponent: number;
  /** Token version shares (sum 1). */
  v4: number;
  v3: number;
  v2: number;
  /** Shares of problem tokens (each independent, drawn per entry). */
  expired: number;
  tampered: number;
  unknownKey: number;
  cstgAllowed: number;
  cstgDisallowed: number;
}

export const DEFAULT_MIX: Readonly<CorpusMix> = Object.freeze({
  size: 20_000,
  users: 5_000,
  zipfExponent: 1.1,
  v4: 0.85,
  v3: 0.1,
  v2: 0.05,
  expired: 0.02,
  tampered: 0.02,
  unknownKey: 0.01,
  cstgAllowed: 0.03,
  cstgDisallowed: 0.01,
});

export type TokenKind = 'valid' | 'expired' | 'tampered' | 'unknown-key' | 'cstg-allowed' | 'cstg-disallowed';

export interface CorpusToken {
  token: string;
  domain: string | null;
  version: 2 | 3 | 4;
  kind: TokenKind;
}

/** Cumulative Zipf weights for users 1..n. */
export function zipfCdf(n: number, exponent: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** exponent;
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return cdf;
}

export function drawZipf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function tamper(token: string, random: () => number): string {
  const at = 8 + Math.floor(random() * (token.length - 16));
  const replacement = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + replacement + token.slice(at + 1);
}

export function buildCorpus(operator: LocalOperator, mix: CorpusMix = DEFAULT_MIX, seed = 42): CorpusToken[] {
  const random = seededRandom(seed);
  const cdf = zipfCdf(mix.users, mix.zipfExponent);
  const site = operator.sites.find((s) => s.domainNames.length > 0) ?? operator.sites[0]!;
  const now = Date.now();
  const userTokens = new Map<string, string>();
  const foreignKey = { id: 0x7ffffff0, secret: randomBytes(32) };
  const out: CorpusToken[] = [];

  for (let i = 0; i < mix.size; i++) {
    const user = drawZipf(cdf, random());
    const v = random();
    const version: 2 | 3 | 4 = v < mix.v4 ? 4 : v < mix.v4 + mix.v3 ? 3 : 2;
    const rawUid = operator.rawUidFor(`user-${user}`);
    const k = random();
    let kind: TokenKind = 'valid';
    let edge = 0;
    for (const [name, share] of [
      ['expired', mix.expired],
      ['tampered', mix.tampered],
      ['unknown-key', mix.unknownKey],
      ['cstg-allowed', mix.cstgAllowed],
      ['cstg-disallowed', mix.cstgDisallowed],
    ] as const) {
      edge += share;
      if (k < edge) {
        kind = name;
        break;
      }
    }
    let token: string;
    if (kind === 'expired') {
      token = operator.mintToken({ version, rawUid, generatedMs: now - 7_200_000, expiresMs: now - 3_600_000 });
    } else if (kind === 'unknown-key') {
      token = encodeAdvertisingToken({
        version,
        masterKey: foreignKey,
        siteKey: foreignKey,
        rawUid: version === 2 ? `user-${user}@example.com` : rawUid,
        siteId: site.id,
        expiresMs: now + 3_600_000,
        generatedMs: now,
        establishedMs: now,
      });
    } else if (kind === 'cstg-allowed' || kind === 'cstg-disallowed') {
      token = operator.mintToken({ version, rawUid, clientSideGenerated: true, siteId: site.id });
    } else {
      // Users keep their token between bid requests: mint once per (user, version).
      const cacheKey = `${user}/${version}`;
      token = userTokens.get(cacheKey) ?? operator.mintToken({ version, rawUid, siteId: site.id });
      userTokens.set(cacheKey, token);
      if (kind === 'tampered') token = tamper(token, random);
    }
    const domain =
      kind === 'cstg-allowed' ? site.domainNames[0]! : kind === 'cstg-disallowed' ? 'not-allowed.example' : null;
    out.push({ token, domain, version, kind });
  }
  return out;
}

/** The mix actually produced, for the report. */
export function describeCorpus(corpus: readonly CorpusToken[], mix: CorpusMix): Record<string, unknown> {
  const count = (pred: (t: CorpusToken) => boolean): number => corpus.filter(pred).length;
  return {
    size: corpus.length,
    users: mix.users,
    zipfExponent: mix.zipfExponent,
    distinctTokens: new Set(corpus.map((t) => t.token)).size,
    versions: { v4: count((t) => t.version === 4), v3: count((t) => t.version === 3), v2: count((t) => t.version === 2) },
    kinds: Object.fromEntries(
      (['valid', 'expired', 'tampered', 'unknown-key', 'cstg-allowed', 'cstg-disallowed'] as const).map((k) => [k, count((t) => t.kind === k)]),
    ),
    configured: { ...mix },
  };
}
