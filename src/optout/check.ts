/**
 * The decrypt-time opt-out check on the calling thread, used by the in-process decryptor and the
 * engine's completion of worker batches: a result whose raw UID is in the store gets `optedOut: true` and, unless the caller
 * asked for it for audits, loses its `uid`, so an opted-out UID cannot reach bidding by
 * accident. Every other result gets `optedOut: false`. Statuses are never changed.
 *
 * One in-memory lookup per result: the base64 UID's first 20 characters decoded, one or two
 * cache lines read, no allocation. Bulk runs check in their workers instead
 * (engine/worker/bulk-chunk.ts): each chunk carries `store.snapshot()`, which the worker wraps in
 * an `OptOutSetView` and reads in place.
 */
import { InvalidArgumentError } from '../errors.js';
import type { DecryptionResult } from '../types.js';
import type { OptOutStore } from './store.js';

/**
 * Marks a decryption result and returns the result to use. A result with a `uid` is marked in
 * place (pass one of your own, e.g. a copy of a cached one); a frozen early-failure result (the
 * shared `{ status }` objects of token/decrypt.ts) is copied. Only results carrying a `uid`
 * can be opted out; the others get `optedOut: false`.
 * @param returnUid keep the `uid` of an opted-out result (audits); default false
 */
export function applyOptOut(result: DecryptionResult, store: Pick<OptOutStore, 'has'>, returnUid = false): DecryptionResult {
  const uid = result.uid;
  if (uid === undefined) {
    if (!Object.isExtensible(result)) return { ...result, optedOut: false };
    result.optedOut = false;
  } else if (store.has(uid)) {
    result.optedOut = true;
    // Assigned, not deleted: the shape stays the same (uid is undefined on every non-Success too).
    if (!returnUid) result.uid = undefined;
  } else {
    result.optedOut = false;
  }
  return result;
}

/**
 * Validates an `optOut` option: an OptOutStore, or null/undefined for none.
 * @throws InvalidArgumentError `<name> must be an OptOutStore (e.g. FileOptOutStore)`
 */
export function validateOptOutOption(value: unknown, name: string): OptOutStore | null {
  if (value === undefined || value === null) return null;
  const store = value as Partial<OptOutStore>;
  if (typeof value !== 'object' || typeof store.has !== 'function' || typeof store.add !== 'function' || typeof store.snapshot !== 'function') {
    throw new InvalidArgumentError(`${name} must be an OptOutStore (e.g. FileOptOutStore)`);
  }
  return value as OptOutStore;
}
