/**
 * `decryptToken()` through a token cache: a hit answers from the cache (which re-runs every
 * call-dependent rule), a miss decrypts with the in-process decoder and stores what it found. A
 * DecryptionResult alone cannot feed the cache (it lacks the generation time and the key ids),
 * so a miss goes through a FindingDecryptor: the same decryption as the client's own decrypt
 * function (TypeScript here, the native addon's in native/inline-decrypt.ts), reporting the
 * findings beside the result. The result is the one `decryptToken()` returns, either way.
 */
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { decryptionResult, evaluateToken, type TokenDecryptor } from '../token/decrypt.js';
import { type ClientType, type DecryptionResult, DecryptionStatus } from '../types.js';
import type { CacheableToken, TokenCache } from './token-cache.js';

/** A decryption's result and, when both layers decrypted, its findings. */
export interface Finding {
  result: DecryptionResult;
  found: CacheableToken | undefined;
}

/** decryptToken()'s signature, returning the findings too. */
export type FindingDecryptor = (...args: Parameters<TokenDecryptor>) => Finding;

/** The TypeScript decoder as a FindingDecryptor. */
export const findWithTypeScript: FindingDecryptor = (token, keys, clientType, domainOrAppName, nowMs) => {
  const outcome = evaluateToken(token, keys, clientType, domainOrAppName, nowMs);
  const result = decryptionResult(outcome);
  if (typeof outcome === 'string') return { result, found: undefined };
  return {
    result,
    found: {
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
  };
};

export function cachedDecryptToken(
  cache: TokenCache,
  find: FindingDecryptor,
  token: unknown,
  keys: DecryptionKeys | null | undefined,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
): DecryptionResult {
  const hit = cache.lookup(token, domainOrAppName, nowMs, keys, clientType);
  if (hit !== undefined) return hit;
  const { result, found } = find(token, keys, clientType, domainOrAppName, nowMs);
  // Both layers decrypted (whatever rules 7-9 said): worth keeping unless already expired.
  if (found !== undefined && result.status !== DecryptionStatus.ExpiredToken) cache.store(token as string, found, keys!, nowMs);
  return result;
}
