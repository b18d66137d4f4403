/**
 * The opt-out log's single-writer lock: `flock(LOCK_EX | LOCK_NB)` on the log file itself,
 * through the native addon (native/src/file-lock.h; Node has no flock of its own). The kernel
 * keys it by the file, not by a name, so a symlink, a hard link or a relative path all reach the
 * same lock; it belongs to the writer's open file, so a writer that dies (even by SIGKILL) frees
 * it at once, and no pid is ever trusted, stale or reused. Two opens racing each other: the
 * kernel grants it to exactly one.
 *
 * A writer that renames a new file over the log (compaction, repair) locks the new file first;
 * whoever opened the old one meanwhile finds, after taking its lock, that the path names another
 * file now, and tries again on the new one.
 *
 * Without the addon there is no lock, and a second writer would be possible: write access is
 * refused then (NativeUnavailableError); read-only opens need no lock and still work.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { NativeUnavailableError, OptOutLockedError, OptOutWriteError } from '../../errors.js';
import { loadNative, nativeUnavailableReason } from '../../native/load.js';

const { EAGAIN, EWOULDBLOCK } = osConstants.errno;
/** Opens retried when the path was replaced between open and lock (a writer's compaction). */
const REPLACED_RETRIES = 5;

function errnoName(errno: number): string {
  if (errno < 0) return 'no flock on this platform';
  return Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}

/**
 * Takes the writer lock on `fh` (the file at `path`).
 * @throws OptOutLockedError when another open file holds it; NativeUnavailableError without the
 *   addon; OptOutWriteError when the file system cannot lock (e.g. ENOLCK)
 */
export function lockFile(fh: FileHandle, path: string): void {
  const addon = loadNative();
  if (typeof addon?.lockFile !== 'function') {
    const reason = addon ? 'the loaded addon predates lockFile' : nativeUnavailableReason();
    throw new NativeUnavailableError(
      `opening ${path} for writing needs the native addon's file lock, which keeps a second writer out (${reason}); read-only opens work without it (docs/optout.md)`,
    );
  }
  const errno = addon.lockFile(fh.fd);
  if (errno === 0) return;
  if (errno === EWOULDBLOCK || errno === EAGAIN) throw new OptOutLockedError(`opt-out file ${path} is open for writing elsewhere (another process, or another open in this one)`);
  throw new OptOutWriteError(`cannot lock ${path} for writing: ${errnoName(errno)}`);
}

/** True when `fh` is the file `path` names now (same device and inode). */
export async function isSameFile(fh: FileHandle, path: string): Promise<boolean> {
  const [a, b] = await Promise.all([fh.stat(), stat(path).catch(() => null)]);
  return b !== null && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Opens `path` read-write (creating it, mode 0600, unless `create` is false) and takes the
 * writer lock on it.
 * @throws as lockFile, or the file system's error (ENOENT for a missing file and `create` false)
 */
export async function openLocked(path: string, create = true): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    const fh = await open(path, constants.O_RDWR | (create ? constants.O_CREAT : 0), 0o600);
    try {
      lockFile(fh, path);
      if (await isSameFile(fh, path)) return fh;
      if (attempt >= REPLACED_RETRIES) throw new OptOutLockedError(`opt-out file ${path} keeps being replaced while it is opened`);
    } catch (err) {
      await fh.close();
      throw err;
    }
    await fh.close();
  }
}
