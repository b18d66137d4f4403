/**
 * `threads: 0`: bulk chunks run on the calling thread, through the same worker function. Each
 * runs in its own macrotask, so the next chunk's read (on the libuv pool) overlaps it.
 */
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
