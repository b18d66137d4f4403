/**
 * A real redis-server for tests: started on a free loopback port with its own temporary
 * directory and AOF (`appendfsync always`, so every acknowledged write is on disk), restartable
 * on the same port and data, stopped after. It fails loudly, never skips: a test that needs
 * Redis and cannot start it is a failed test (CI installs the Debian package redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../../bench/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


export class RedisServer {
  readonly dir: string;
  port = 0;
  #child: ChildProcess | undefined;
  readonly #appendfsync: string;
  readonly #appendonly: boolean;

  private constructor(dir: string, appendfsync: string, appendonly: boolean) {
    this.dir = dir;
    this.#appendfsync = appendfsync;
    this.#appendonly = appendonly;
  }

  /** Starts a server (AOF on unless `appendonly: false`); throws (with redis-server's output) when it cannot. */
  static async start(options: { appendfsync?: 'always' | 'everysec'; appendonly?: boolean } = {}): Promise<RedisServer> {
    const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (found.error || found.status !== 0) {
      throw new Error('redis-server is not installed: apt-get install -y redis-server (the Redis tests never skip)');
    }
    const server = new RedisServer(mkdtempSync(join(tmpdir(), 'uid2-redis-')), options.appendfsync ?? 'always', options.appendonly ?? true);
    server.port = await freePort();
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** (Re)starts the server on the same port and directory (the AOF is replayed). */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server is already running');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', this.#appendonly ? 'yes' : 'no', '--appendfsync', this.#appendfsync, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not become ready in 15 s:\n${output}`)), 15_000);
      function fail(err: Error): void {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(err);
      }
      const onData = (d: Buffer): void => {
        output += d.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', fail);
      child.once('exit', (code) => fail(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
    });
    child.removeAllListeners('exit');
    child.stdout!.removeAllListeners('data').resume();
    child.stderr!.removeAllListeners('data').resume();
    this.#child = child;
  }

  /** Stops the server: SIGKILL (a crash: only what AOF fsynced survives) or SIGTERM (a clean shutdown). */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
