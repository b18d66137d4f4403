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

/**
 * Opens snapshot `version` for decodeBatch(): wraps views around the buffers, no copy. With
 * `euidSab` (a buffer, or null while EUID has no keys) it is a dual-scope engine's: `sab` (or
 * null) is then UID2's.
 */
export function openSnapshot(sab: SharedArrayBuffer | null, version: number, euidSab?: SharedArrayBuffer | null): OpenSnapshot {
  const open = { sab, version, keys: sab === null ? null : new SnapshotKeys(sab) };
  return euidSab === undefined ? open : { ...open, euid: { sab: euidSab, keys: euidSab === null ? null : new SnapshotKeys(euidSab) } };
}

/**
 * Writes the result records of tokens [0, count) of `slot`. `snapshot` null: no keys were ever
 * loaded.
 */
export function decodeBatch(slot: Slot, count: number, snapshot: OpenSnapshot | null, clientType: ClientType, backend: CryptoBackend): void {
  if (backend === 'native') decodeWithNative(slot, count, snapshot, clientType);
  else decodeWithNodeCrypto(slot, count, snapshot, clientType);
}
