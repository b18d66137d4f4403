/**
 * Options of the decrypted-token cache, their defaults and their validation. Both bounds always
 * apply: the entry count bounds the cache's fixed-size tables, the byte budget bounds what
 * hostile input (long tokens, long v2 identities) can make it hold.
 */
import { InvalidArgumentError } from '../errors.js';

/** `tokenCache` option of the clients (and, later, of the engine). */
export interface TokenCacheOptions {
  /** Most tokens held. Default 100,000; at most 16,777,216. */
  maxEntries?: number;
  /**
   * Most bytes held, by the cache's own accounting (the token text, the raw UID text and a
   * fixed per-entry cost; README "Token cache" gives the measured figures). Default 64 MiB.
   */
  maxBytes?: number;
  /**
   * Which decrypted tokens are stored: `'always'` (default) every one, or `'repeat'` only a token
   * seen before (a doorkeeper of 8 bits per entry, cleared every `maxEntries` first sightings), so
   * traffic of mostly one-time tokens pays for no stores, for one more miss per repeated token.
   * The doorkeeper takes `maxEntries` bytes of its own, outside `bytes`.
   */
  admission?: 'always' | 'repeat';
}

export type ResolvedTokenCacheOptions = Required<TokenCacheOptions>;

export const DEFAULT_TOKEN_CACHE_OPTIONS: Readonly<ResolvedTokenCacheOptions> = Object.freeze({
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
  admission: 'always',
});

/** Upper bound of `maxEntries`: slots are indexed by 32-bit integers with room to spare. */
const MAX_TOKEN_CACHE_ENTRIES = 16_777_216;

function positiveInteger(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`${name} must be a positive integer no larger than ${max}`);
  }
  return value;
}

function admission(value: unknown, name: string): 'always' | 'repeat' {
  if (value === undefined) return DEFAULT_TOKEN_CACHE_OPTIONS.admission;
  if (value !== 'always' && value !== 'repeat') throw new InvalidArgumentError(`${name} must be "always" or "repeat"`);
  return value;
}

/**
 * Resolves a `tokenCache` option: `undefined` or `false` means no cache, `true` or an object a
 * cache with the defaults filled in.
 * @throws InvalidArgumentError naming the first bad field
 */
export function resolveTokenCacheOptions(value: unknown, name = 'options.tokenCache'): ResolvedTokenCacheOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...DEFAULT_TOKEN_CACHE_OPTIONS };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${name} must be an object, true or false`);
  }
  const o = value as Record<string, unknown>;
  return {
    maxEntries: positiveInteger(o['maxEntries'], `${name}.maxEntries`, DEFAULT_TOKEN_CACHE_OPTIONS.maxEntries, MAX_TOKEN_CACHE_ENTRIES),
    maxBytes: positiveInteger(o['maxBytes'], `${name}.maxBytes`, DEFAULT_TOKEN_CACHE_OPTIONS.maxBytes, Number.MAX_SAFE_INTEGER),
    admission: admission(o['admission'], `${name}.admission`),
  };
}
