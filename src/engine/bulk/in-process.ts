/**
 * `threads: 0`: bulk chunks run on the calling thread, through the same worker function. Each
 * runs in its own macrotask, so the next chunk's read (on the libuv pool) overlaps it.
 */
import { snapshotOf, type KeySet } from '../../keys/key-set.js';
import type { ChunkResult, ChunkTask } from '../wire/bulk-chunk.js';
import { SnapshotCache, runChunk } from '../worker/bulk-chunk.js';

export function inProcessChunkRunner(): (task: ChunkTask) => Promise<ChunkResult> {
  const snapshots = new SnapshotCache();
  return (task) =>
    new Promise<ChunkResult>((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(runChunk(task, snapshots));
        } catch (err) {
          reject(err);
        }
      }),
    );
}

/**
 * Key snapshots for in-process chunks (an engine with `threads: 0` publishes none): each key set's
 * own snapshot (encoded once per key set), numbered in the order they are first seen.
 */
export function inProcessSnapshots(): (keySet: KeySet | undefined) => ChunkTask['snapshot'] {
  const versions = new WeakMap<KeySet, number>();
  let next = 1;
  return (keySet) => {
    if (keySet === undefined) return null;
    let version = versions.get(keySet);
    if (version === undefined) versions.set(keySet, (version = next++));
    return { sab: snapshotOf(keySet), version };
  };
}
