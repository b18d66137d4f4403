/**
 * The identity scope a token names, read from its first four characters without decrypting it:
 * what a dual-scope engine or client routes each token by (to the UID2 or the EUID key set), and
 * what callers who keep one engine per scope can route by themselves.
 *
 * v3/v4 tokens carry the scope in bit 4 of their (unauthenticated) prefix byte; v2 tokens were only
 * ever issued by UID2. The header is read as token/decrypt.ts reads it (four characters of strict
 * base64, the URL alphabet when any of them is `-` or `_`), and native/src/batch.cc routes the
 * engine's batches with the same rule, so every path sends a token to the same key set.
 */
import { base64Head24 } from '../codec/base64.js';
import type { IdentityScope } from '../types.js';
import { V2_VERSION_BYTE, V3_VERSION_BYTE, V4_VERSION_BYTE, prefixScopeIsEuid } from './layout.js';

/**
 * `'UID2'` or `'EUID'` for a token whose header names its scope (v2 tokens are UID2), `null` for
 * anything whose first four characters are not a v2, v3 or v4 header. Cheap (no decryption, no
 * key) and never throws; a non-null answer does not mean the token is valid.
 */
export function identityScopeOf(token: unknown): IdentityScope | null {
  if (typeof token !== 'string') return null;
  // The header's first two bytes, without allocating: this runs once per token on every path.
  const head = base64Head24(token);
  if (head < 0) return null;
  const first = head >>> 16;
  if (first === V2_VERSION_BYTE) return 'UID2';
  const second = (head >>> 8) & 0xff;
  if (second === V3_VERSION_BYTE || second === V4_VERSION_BYTE) return prefixScopeIsEuid(first) ? 'EUID' : 'UID2';
  return null;
}
