/**
 * The Python SDK's free functions, for users porting code from it. Unlike the clients, these
 * throw an EncryptionError (with `.status`) when the outcome is not Success. decrypt() runs the
 * clients' in-process decryptor (no token cache, no opt-out check), on the backend
 * UID2_ENGINE_BACKEND selects at each call.
 */
import { toUnixMs } from './util/time.js';
import { EncryptionError } from './errors.js';
import { KeySet } from './keys/key-set.js';
import { parseKeys } from './keys/parse.js';
import { InProcessDecryptor } from './in-process/decryptor.js';
import { type CryptoBackend, resolveBackend } from './native/backend.js';
import { encryptRawUid } from './token/encrypt.js';
import { type DecryptionResult, DecryptionStatus, EncryptionStatus, type IdentityScope, type TimeInput } from './types.js';

/** One plain decryptor per backend, made on first use. */
const decryptors = new Map<CryptoBackend, InProcessDecryptor>();

function decryptorFor(backend: CryptoBackend): InProcessDecryptor {
  let decryptor = decryptors.get(backend);
  if (decryptor === undefined) {
    decryptor = new InProcessDecryptor(backend);
    decryptors.set(backend, decryptor);
  }
  return decryptor;
}

function toKeySet(keys: KeySet | string | object): KeySet {
  return keys instanceof KeySet ? keys : parseKeys(keys);
}

/**
 * Decrypts `token` with legacy-client rules (no lifetime checks).
 * @throws EncryptionError when the status is not Success; KeysJsonError for malformed key JSON;
 *   NativeUnavailableError when `UID2_ENGINE_BACKEND=native` but the addon does not load
 */
export function decrypt(token: string, keys: KeySet | string | object, now?: TimeInput): DecryptionResult {
  const result = decryptorFor(resolveBackend()).decrypt(token, toKeySet(keys), 'legacy', undefined, toUnixMs(now));
  if (result.status !== DecryptionStatus.Success) {
    throw new EncryptionError(result.status, `token decryption failed: ${result.status}`);
  }
  return result;
}

/**
 * Encrypts `rawUid` into a v4 token for `identityScope` with sharing keys.
 * @returns the advertising token
 * @throws EncryptionError when the status is not Success
 */
export function encrypt(rawUid: string, identityScope: IdentityScope, keys: KeySet | string | object, now?: TimeInput): string {
  const result = encryptRawUid(rawUid, toKeySet(keys), toUnixMs(now), identityScope);
  if (result.status !== EncryptionStatus.Success) {
    throw new EncryptionError(result.status, `raw UID encryption failed: ${result.status}`);
  }
  return result.encryptedData!;
}
