/**
 * The in-process decryptor: one token decrypted on the calling thread, the same pipeline wherever
 * that happens (the clients, DecryptionEngine with `threads: 0` and for tokens too large for a
 * batch slot, the free functions):
 *
 *   token cache (optional: a hit re-runs every call-dependent rule)
 *     -> on a miss, the backend's decoder (native/backend.ts decoderOf), whose findings feed the cache
 *     -> the opt-out check (optional)
 *
 * A DecryptionResult alone cannot feed the cache (it lacks the generation time and the key ids),
 * so with a cache a miss goes through the decoder's finding form, which reports both.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { type CryptoBackend, decoderOf } from '../native/backend.js';
import { applyOptOut } from '../optout/check.js';
import type { OptOutStore } from '../optout/store.js';
import type { FindingDecryptor, TokenDecryptor } from '../token/result.js';
import { type ClientType, type DecryptionResult, DecryptionStatus } from '../types.js';

interface InProcessDecryptorOptions {
  /** The token cache; none when absent. */
  tokenCache?: TokenCache | undefined;
  /** The opt-out check; none when null or absent. */
  optOut?: Pick<OptOutStore, 'has'> | null;
  /** Keep the `uid` of an opted-out result (audits). Default false. */
  returnOptedOutUid?: boolean;
}

export class InProcessDecryptor {
  readonly backend: CryptoBackend;
  /** The token cache, when on: the engine also answers hits and stores its workers' findings here. */
  readonly cache: TokenCache | undefined;
  readonly #decrypt: TokenDecryptor;
  readonly #find: FindingDecryptor;
  readonly #optOut: Pick<OptOutStore, 'has'> | null;
  readonly #returnOptedOutUid: boolean;

  /** @throws NativeUnavailableError when `backend` is `native` and the addon does not load */
  constructor(backend: CryptoBackend, options: InProcessDecryptorOptions = {}) {
    const decoder = decoderOf(backend);
    this.backend = backend;
    this.#decrypt = decoder.decrypt;
    this.#find = decoder.find;
    this.cache = options.tokenCache;
    this.#optOut = options.optOut ?? null;
    this.#returnOptedOutUid = options.returnOptedOutUid ?? false;
  }

  /** decryptToken()'s answer for `token` (through the cache when on), opt-out checked. Never throws. */
  decrypt(
    token: unknown,
    keys: DecryptionKeys | null | undefined,
    clientType: ClientType,
    domainOrAppName: string | null | undefined,
    nowMs: number,
  ): DecryptionResult {
    const cache = this.cache;
    let result: DecryptionResult | undefined;
    if (cache === undefined) result = this.#decrypt(token, keys, clientType, domainOrAppName, nowMs);
    else {
      result = cache.lookup(token, domainOrAppName, nowMs, keys, clientType);
      if (result === undefined) {
        const finding = this.#find(token, keys, clientType, domainOrAppName, nowMs);
        result = finding.result;
        // Both layers decrypted (whatever rules 7-9 said): worth keeping unless already expired.
        if (finding.found !== undefined && result.status !== DecryptionStatus.ExpiredToken) {
          cache.store(token as string, finding.found, keys!, nowMs);
        }
      }
    }
    return this.checkOptOut(result);
  }

  /** Whether the raw UID `uid` (as DecryptionResult.uid shows it) opted out; false without a store. */
  isOptedOut(uid: string): boolean {
    return this.#optOut !== null && this.#optOut.has(uid);
  }

  /** The opt-out check on a fresh result (applyOptOut); unchanged without a store. */
  checkOptOut(result: DecryptionResult): DecryptionResult {
    const store = this.#optOut;
    return store === null ? result : applyOptOut(result, store, this.#returnOptedOutUid);
  }
}
