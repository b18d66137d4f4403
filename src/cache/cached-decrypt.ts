/**
 * `decryptToken()` through a token cache: a hit answers from the cache (which re-runs every
 * call-dependent rule), a miss decrypts with the TypeScript decoder, whose outcome carries the
 * key ids and generation time a cache entry needs (a DecryptionResult does not), and stores what
 * it found. The result is the one `decryptToken()` returns, either way.
 */
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { decryptionResult, evaluateToken } from '../token/decrypt.js';
import { type ClientType, type DecryptionResult, DecryptionStatus } from '../types.js';
import type { TokenCache } from './token-cache.js';

export function cachedDecryptToken(
  cache: TokenCache,
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
): DecryptionResult {
  const hit = cache.lookup(token, domainOrAppName, nowMs, keys, clientType);
  if (hit !== undefined) return hit;
  const outcome = evaluateToken(token, keys, clientType, domainOrAppName, nowMs);
  const result = decryptionResult(outcome);
  // Both layers decrypted (whatever rules 7-9 said): worth keeping unless already expired.
  if (typeof outcome !== 'string' && outcome.status !== DecryptionStatus.ExpiredToken) {
    cache.store(
      token as string,
      {
        version: outcome.version,
        identityType: outcome.identityType,
        isClientSideGenerated: outcome.isClientSideGenerated,
        siteId: outcome.siteId,
        establishedMs: outcome.establishedMs,
        expiresMs: outcome.expiresMs,
        generatedMs: outcome.generatedMs,
        uid: result.uid ?? outcome.uidBytes,
        masterKeyId: outcome.masterKeyId,
        siteKeyId: outcome.siteKeyId,
      },
      keys!,
      nowMs,
    );
  }
  return result;
}
