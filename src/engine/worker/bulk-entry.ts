/**
 * Worker-thread entry for bulk chunks: one Piscina task per chunk (or per pass of one), run on
 * the engine's worker threads beside the lanes' loops (entry.ts). Everything it reads and writes
 * is in the task's shared buffers; the reply is the chunk's counts.
 */
import type { ChunkResult, ChunkTask } from '../wire/bulk-chunk.js';
import { SnapshotCache, runChunk } from './bulk-chunk.js';

const snapshots = new SnapshotCache();

export default function runBulkChunk(task: ChunkTask): ChunkResult {
  return runChunk(task, snapshots);
}
