/** Writes an input file with one long line in it, in 1 MiB blocks: one home for the line-limit bench (line-limit.ts) and the CLI tests. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** `head`, then `longBytes` bytes of 'A' (no line break), then `tail`. */
export async function writeLongLineFile(path: string, head: string, longBytes: number, tail = ''): Promise<void> {
  const file = createWriteStream(path);
  file.write(head);
  const block = Buffer.alloc(1024 * 1024, 0x41);
  for (let left = longBytes; left > 0; left -= block.length) {
    if (!file.write(left >= block.length ? block : block.subarray(0, left))) await once(file, 'drain');
  }
  file.end(tail);
  await once(file, 'close');
}
