/**
 * Redis stream ids and the warm-start cache's position file. A stream id is `<ms>-<seq>`.
 * The position file (`<cache file>.redis-position`, JSON) says
 * which Redis data set (epoch) and stream the cache follows and the last id whose opt-out is
 * durable in the cache file. It is written only after the cache's adds up to that id returned,
 * and by rename, so it never points past what the cache holds; a lost or stale position only
 * means more of the stream is read again, which changes nothing (adds are idempotent).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';

/** The id before every stream entry. */
export const STREAM_START_ID = '0-0';

const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;

/** True for a well-formed stream id. */
export function isStreamId(id: unknown): id is string {
  return typeof id === 'string' && STREAM_ID.test(id);
}

/** Unix ms at which Redis created the entry with this id. */
export function streamIdMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

export interface CachePosition {
  /** The Redis data set's random epoch (its `<prefix>:epoch` key). */
  epoch: string;
  /** The stream key followed. */
  stream: string;
  /** Every stream entry up to this id is in the cache file. */
  lastId: string;
}

/** The position file's path for a cache file. */
function positionPath(cacheFile: string): string {
  return `${cacheFile}.redis-position`;
}

/** The saved position, or null when there is none or it is not one (then the cache is reloaded from Redis). */
export async function readCachePosition(cacheFile: string): Promise<CachePosition | null> {
  let text: string;
  try {
    text = await readFile(positionPath(cacheFile), 'utf8');
  } catch {
    return null;
  }
  if (text.length > 4096) return null;
  try {
    const p = JSON.parse(text) as Partial<CachePosition>;
    return typeof p.epoch === 'string' && typeof p.stream === 'string' && isStreamId(p.lastId) ? { epoch: p.epoch, stream: p.stream, lastId: p.lastId } : null;
  } catch {
    return null;
  }
}

/** Replaces the position file (write to a temporary name, then rename). */
export async function writeCachePosition(cacheFile: string, position: CachePosition): Promise<void> {
  const path = positionPath(cacheFile);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(position)}\n`);
  await rename(tmp, path);
}
