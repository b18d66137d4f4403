/**
 * A real, small file system for disk-full tests: a tmpfs of a given size mounted on a fresh
 * directory, filled to the last byte by a filler file and freed by removing it, so the process
 * under test gets genuine ENOSPC from the kernel (no mock). Mounting needs root (CI runs as root:
 * .ci/run installs packages); without it the test fails loudly with the reason, never skips.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class SmallDisk {
  readonly dir: string;
  readonly #filler: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.#filler = join(dir, 'filler');
  }

  /** Mounts a tmpfs of `bytes` (rounded up to pages) on a new temporary directory. */
  static mount(bytes: number): SmallDisk {
    const dir = mkdtempSync(join(tmpdir(), 'uid2-small-disk-'));
    const run = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
    if (run.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`cannot mount a ${bytes}-byte tmpfs for the disk-full test (needs root): ${run.stderr || run.error?.message}`);
    }
    return new SmallDisk(dir);
  }

  /** Fills every free byte with a filler file (until the kernel says ENOSPC). */
  fill(): void {
    const fd = openSync(this.#filler, 'a');
    const chunk = Buffer.alloc(4096, 0x55);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  }

  /** Frees what fill() took. */
  free(): void {
    rmSync(this.#filler, { force: true });
  }

  /** Unmounts and removes the directory (lazily when a file there is still open). */
  destroy(): void {
    spawnSync('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
