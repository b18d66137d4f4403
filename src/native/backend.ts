/**
 * The crypto-backend seam. `native` decodes and decrypts in the C++ addon (whole batches in the
 * engine's workers, one token per call in process); `node-crypto` runs the TypeScript decoder
 * over node:crypto. Both end in the same TypeScript policy rules (applyPolicyRules), so they
 * differ only in speed.
 *
 * It lives beside the addon loader, not in engine/, because the clients resolve it too: each
 * client once at construction (its in-process path), the engine once at DecryptionEngine.create()
 * (every batch then carries the name to its worker; its in-process paths use decoderOf()).
 */
import { ConfigError, NativeUnavailableError } from '../errors.js';
import { decryptToken, findToken } from '../token/decrypt.js';
import type { TokenDecoder } from '../token/result.js';
import { nativeDecoder } from './inline-decrypt.js';
import { loadNative, nativeUnavailableReason } from './load.js';

export type CryptoBackend = 'native' | 'node-crypto';

/** The environment variable that forces a backend. */
export const BACKEND_ENV = 'UID2_ENGINE_BACKEND';

/**
 * `native` when the addon loads, else `node-crypto`. `UID2_ENGINE_BACKEND=node-crypto|native`
 * forces one; forcing `native` without a loadable addon throws, so a deployment that counts on
 * the fast path never runs silently without it.
 *
 * @throws NativeUnavailableError (UID2_ERR_NATIVE_UNAVAILABLE) when native is forced but missing
 * @throws ConfigError when the variable holds anything else
 */
export function resolveBackend(env: NodeJS.ProcessEnv = process.env): CryptoBackend {
  const forced = env[BACKEND_ENV];
  if (forced === undefined || forced === '') return loadNative() ? 'native' : 'node-crypto';
  if (forced === 'node-crypto') return 'node-crypto';
  if (forced === 'native') {
    if (loadNative()) return 'native';
    throw new NativeUnavailableError(`${BACKEND_ENV}=native but the native addon is unavailable: ${nativeUnavailableReason()}`);
  }
  throw new ConfigError(`${BACKEND_ENV} must be "native" or "node-crypto" (got ${JSON.stringify(forced)})`);
}

const TYPESCRIPT: TokenDecoder = Object.freeze({ decrypt: decryptToken, find: findToken });

/**
 * The in-process decoder of `backend`: token/decrypt.ts for `node-crypto`, the addon one token per
 * call for `native` (native/inline-decrypt.ts). Same signature, statuses and fields either way.
 * @throws NativeUnavailableError when `backend` is `native` and the addon does not load
 */
export function decoderOf(backend: CryptoBackend): TokenDecoder {
  return backend === 'native' ? nativeDecoder() : TYPESCRIPT;
}
