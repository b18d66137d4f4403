/**
 * Decodes one batch in a slot with the chosen backend: what a worker runs per descriptor, and
 * what bench, tests and scripts call directly to run exactly the worker's code in their thread.
 */
import type { CryptoBackend } from '../../native/backend.js';
import type { Slot } from '../wire/slot.js';
import type { ClientType } from '../../types.js';
import { SnapshotKeys } from '../../keys/snapshot.js';
import { decodeWithNative, type OpenSnapshot } from './native.js';
import { decodeWithNodeCrypto } from './node-crypto.js';

export type { OpenSnapshot } from './native.js';

/** Opens snapshot `version` for decodeBatch(): wraps views around the buffer, no copy. */
export function openSnapshot(sab: SharedArrayBuffer, version: number): OpenSnapshot {
  return { sab, version, keys: new SnapshotKeys(sab) };
}

/**
 * Writes the result records of tokens [0, count) of `slot`. `snapshot` null: no keys were ever
 * loaded.
 */
export function decodeBatch(slot: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType, backend: CryptoBackend): void {
  if (backend === 'native') decodeWithNative(slot, count, snapshot, clientType);
  else decodeWithNodeCrypto(slot, count, snapshot?.keys ?? null, clientType);
}
