/** Line input and buffered, backpressure-aware output for the CLI's streaming commands. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** Yields the lines of `input` (a path, or '-' / undefined for stdin), without line endings. */
export async function* readLines(input: string | undefined, stdin: Readable = process.stdin): AsyncGenerator<string> {
  const stream = input === undefined || input === '-' ? stdin : createReadStream(input);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) yield line;
}

/** Collects output lines and writes them in large chunks, waiting for 'drain' when needed. */
export class LineWriter {
  readonly #out: Writable;
  #pending: string[] = [];
  #pendingChars = 0;

  constructor(out: Writable) {
    this.#out = out;
  }

  async write(line: string): Promise<void> {
    this.#pending.push(line);
    this.#pendingChars += line.length + 1;
    if (this.#pendingChars >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.join('\n') + '\n';
    this.#pending = [];
    this.#pendingChars = 0;
    if (!this.#out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.#out.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          this.#out.off('drain', onDrain);
          reject(err);
        };
        this.#out.once('drain', onDrain);
        this.#out.once('error', onError);
      });
    }
  }
}
