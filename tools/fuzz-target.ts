/**
 * What the fuzzer checks for one input, shared by `npm run fuzz` and the replay test:
 * the library never throws and returns only known statuses (uid only on Success), under every
 * client type, and the engine returns exactly the library's results.
 */
import { createHash } from 'node:crypto';
import { DecryptionStatus, decryptToken, parseKeys, type ClientType, type DecryptionResult, type KeySet } from '../dist/index.js';
import { encodeAdvertisingToken } from '../dist/testing.js';

export const FUZZ_NOW_MS = 1_790_000_000_000;
export const CLIENT_TYPES: readonly ClientType[] = ['bidstream', 'sharing', 'legacy'];
const STATUSES = new Set<string>(Object.values(DecryptionStatus));

const secret = (label: string): Buffer => createHash('sha256').update(`uid2-engine fuzz ${label}`).digest();

/** Deterministic fuzz keys (test-only secrets derived from fixed labels). */
export function fuzzKeyJson(): object {
  const sec = (ms: number): number => Math.floor(ms / 1000);
  const key = (id: number, keyset: number, label: string): object => ({
    id, keyset_id: keyset, created: sec(FUZZ_NOW_MS) - 86_400, activates: sec(FUZZ_NOW_MS) - 86_400, expires: sec(FUZZ_NOW_MS) + 86_400 * 30,
    secret: secret(label).toString('base64'),
  });
  return {
    status: 'success',
    body: {
      identity_scope: 'UID2', allow_clock_skew_seconds: 1800, max_bidstream_lifetime_seconds: 3 * 86_400, max_sharing_lifetime_seconds: 30 * 86_400,
      keys: [key(11, 1, 'master'), key(22, 5, 'site')], site_data: [{ id: 5, domain_names: ['fuzz.example', 'com.fuzz.app'] }],
    },
  };
}

/** Valid tokens of every version and flavour, the fuzzer's seeds. */
export function seedTokens(): string[] {
  const masterKey = { id: 11, secret: secret('master') };
  const siteKey = { id: 22, secret: secret('site') };
  const base = { masterKey, siteKey, siteId: 5, expiresMs: FUZZ_NOW_MS + 3_600_000, generatedMs: FUZZ_NOW_MS - 1000, establishedMs: FUZZ_NOW_MS - 86_400_000 };
  const rawUid = createHash('sha256').update('fuzz uid').digest();
  return [
    encodeAdvertisingToken({ ...base, version: 4, rawUid }),
    encodeAdvertisingToken({ ...base, version: 4, rawUid, identityType: 'Phone', encoding: 'base64' }),
    encodeAdvertisingToken({ ...base, version: 4, rawUid, clientSideGenerated: true }),
    encodeAdvertisingToken({ ...base, version: 3, rawUid }),
    encodeAdvertisingToken({ ...base, version: 2, rawUid: 'fuzz@example.com' }),
    encodeAdvertisingToken({ ...base, version: 4, rawUid, legacyPrefix: true }),
  ];
}

export interface FuzzCase {
  input: unknown;
  domain: string | null;
}

/** Library invariants for one input; returns the bidstream result, or a problem description. */
export function checkLibrary(keys: KeySet, c: FuzzCase): { results: Record<ClientType, DecryptionResult> } | { problem: string } {
  const results = {} as Record<ClientType, DecryptionResult>;
  for (const type of CLIENT_TYPES) {
    let r: DecryptionResult;
    try {
      r = decryptToken(c.input, keys, type, c.domain, FUZZ_NOW_MS);
    } catch (err) {
      return { problem: `library threw under ${type}: ${(err as Error)?.message}` };
    }
    if (!STATUSES.has(r.status)) return { problem: `unknown status ${String(r.status)} under ${type}` };
    if ((r.status === 'Success') !== (typeof r.uid === 'string')) return { problem: `uid presence does not match status ${r.status}` };
    results[type] = r;
  }
  return { results };
}

export function fuzzKeys(): KeySet {
  return parseKeys(fuzzKeyJson());
}
