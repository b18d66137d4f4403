/**
 * The in-process decryptor a client decrypts with, built from its options in one place: the
 * crypto backend resolved once, the token cache when `options.tokenCache` asks for one, and the
 * opt-out check. BidstreamClient and SharingClient each own one; DualScopeBidstreamClient owns a
 * single one for both scopes, so its cache and opt-out check are never duplicated.
 */
import { resolveTokenCacheOptions } from '../cache/options.js';
import { TokenCache } from '../cache/token-cache.js';
import { InProcessDecryptor } from '../in-process/decryptor.js';
import { resolveBackend } from '../native/backend.js';
import type { ResolvedClientOptions } from './options.js';

/**
 * @param tokenCache the caller's `options.tokenCache`, validated here
 * @param options the caller's options after resolveClientOptions()
 * @throws InvalidArgumentError for a bad `tokenCache`; NativeUnavailableError or ConfigError
 *   from `UID2_ENGINE_BACKEND` (see resolveBackend)
 */
export function clientDecryptor(tokenCache: unknown, options: ResolvedClientOptions): InProcessDecryptor {
  const cacheOptions = resolveTokenCacheOptions(tokenCache);
  return new InProcessDecryptor(resolveBackend(), {
    tokenCache: cacheOptions ? new TokenCache(cacheOptions) : undefined,
    optOut: options.optOut,
    returnOptedOutUid: options.returnOptedOutUid,
  });
}
