/**
 * Exactly one writer per opt-out file (issue 23, finding 4), with the OS lock (flock through the
 * native addon): simultaneous starts in separate processes, a stale lock file with a dead or a
 * reused pid, a symlink and its target, a hard link, a writer SIGKILLed (its lock free at once),
 * two CLI receivers, compaction's rename, and a process without the addon (write access refused).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { OptOutLockedError } from '../../src/errors.js';
import { FileOptOutStore } from '../../src/optout/file/store.js';
import { CLI_PATH, runCli } from '../helpers/cli.js';

const DIST_INDEX = resolve(fileURLToPath(new URL('../../dist/index.js', import.meta.url)));
const T = 1_700_000_000_000;
const root = mkdtempSync(join(tmpdir(), 'uid2-writer-lock-'));
let dir: string;
let trial = 0;
beforeEach(() => {
  dir = join(root, String(++trial));
  mkdirSync(dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A child that opens `path` for writing at wall time `at` (all racers at once), adds one opt-out,
 * holds the file `holdMs`, and prints what happened.
 */
function racer(path: string, at: number, holdMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ out: string; code: number | null }> {
  const script = `
    const { FileOptOutStore } = await import(${JSON.stringify(DIST_INDEX)});
    while (Date.now() < ${at}) {}
    try {
      const store = await FileOptOutStore.open(process.argv[1]);
      await store.add(require('node:crypto').randomBytes(32).toString('base64'), ${T});
      process.stdout.write('writer\\n');
      await new Promise((r) => setTimeout(r, ${holdMs}));
      await store.close();
    } catch (err) {
      process.stdout.write((err.code ?? err.message) + '\\n');
    }`;
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--input-type=commonjs', '-e', `(async () => {${script}})()`, path], { env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', (code) => done({ out: out.trim(), code }));
  });
}

/** A pid no process has (a process that ran and exited). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('the writer lock', () => {
  it('simultaneous opens in one process, with a stale lock file of a dead pid: exactly one writer each time', async () => {
    const dead = await deadPid();
    for (let round = 0; round < 10; round++) {
      const path = join(dir, `inproc-${round}.log`);
      writeFileSync(`${path}.lock`, `${dead}\n`);
      // Started together and 1-2 ms apart (a pid-file lock lost this race most of the time).
      const openAfter = (ms: number): Promise<FileOptOutStore> => new Promise((r) => setTimeout(r, ms)).then(() => FileOptOutStore.open(path));
      const opens = await Promise.allSettled([FileOptOutStore.open(path), FileOptOutStore.open(path), openAfter(1), openAfter(2)]);
      const writers = opens.filter((o) => o.status === 'fulfilled');
      expect({ round, writers: writers.length }).toEqual({ round, writers: 1 });
      expect(opens.filter((o) => o.status === 'rejected').every((o) => (o as PromiseRejectedResult).reason instanceof OptOutLockedError)).toBe(true);
      for (const w of writers) await (w as PromiseFulfilledResult<FileOptOutStore>).value.close();
    }
  });

  it('simultaneous opens in separate processes, with a stale lock file of a dead pid: exactly one writer each time', async () => {
    for (let round = 0; round < 2; round++) {
      const path = join(dir, `race-${round}.log`);
      writeFileSync(`${path}.lock`, `${await deadPid()}\n`);
      const at = Date.now() + 1500;
      const results = await Promise.all(Array.from({ length: 4 }, () => racer(path, at, 800)));
      expect({ round, outs: results.map((r) => r.out).sort() }).toEqual({ round, outs: ['UID2_ERR_OPTOUT_LOCKED', 'UID2_ERR_OPTOUT_LOCKED', 'UID2_ERR_OPTOUT_LOCKED', 'writer'] });
      const store = await FileOptOutStore.open(path);
      expect(store.size).toBe(1);
      await store.close();
    }
  }, 60_000);

  it('a lock file holding a live, reused pid (pid 1, as in a restarted container) does not keep the writer out', async () => {
    const path = join(dir, 'reused.log');
    writeFileSync(`${path}.lock`, '1\n');
    const store = await FileOptOutStore.open(path);
    await store.add(randomBytes(32), T);
    await store.close();
  });

  it('a symlink, its target and a hard link are one file: one writer among them, in one process or several', async () => {
    const target = join(dir, 'target.log');
    const link = join(dir, 'link.log');
    const hard = join(dir, 'hard.log');
    const writer = await FileOptOutStore.open(target);
    symlinkSync(target, link);
    linkSync(target, hard);
    await expect(FileOptOutStore.open(link)).rejects.toBeInstanceOf(OptOutLockedError);
    await expect(FileOptOutStore.open(hard)).rejects.toBeInstanceOf(OptOutLockedError);
    expect((await racer(link, 0, 0)).out).toBe('UID2_ERR_OPTOUT_LOCKED');
    await writer.close();

    // Through the link both ways at once: one writer, and no opt-out lost between them.
    const at = Date.now() + 1000;
    const results = await Promise.all([racer(link, at, 500), racer(target, at, 500)]);
    expect(results.map((r) => r.out).sort()).toEqual(['UID2_ERR_OPTOUT_LOCKED', 'writer']);
    // Compaction renames a new file over the real one, not over the link.
    const viaLink = await FileOptOutStore.open(link);
    await viaLink.compact();
    await expect(FileOptOutStore.open(target)).rejects.toBeInstanceOf(OptOutLockedError);
    expect((await racer(target, 0, 0)).out).toBe('UID2_ERR_OPTOUT_LOCKED');
    await viaLink.close();
    const check = await FileOptOutStore.open(target);
    expect(check.size).toBe(1);
    await check.close();
  }, 30_000);

  it('a writer SIGKILLed mid-life frees the lock at once', async () => {
    const path = join(dir, 'killed.log');
    const script = `import(${JSON.stringify(DIST_INDEX)}).then(async ({ FileOptOutStore }) => { await FileOptOutStore.open(process.argv[1]); process.stdout.write('open\\n'); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script, path]);
    await new Promise((r) => child.stdout.once('data', r));
    await expect(FileOptOutStore.open(path)).rejects.toBeInstanceOf(OptOutLockedError);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const store = await FileOptOutStore.open(path);
    await store.close();
  });

  it('a second CLI receiver on the same file (or through a symlink) exits 2 and names the lock', async () => {
    const path = join(dir, 'serve.log');
    const first = spawn(process.execPath, [CLI_PATH, 'optout', 'serve', '--port', '0', '--store', path, '--allow-unauthenticated']);
    try {
      await new Promise((r) => first.stdout.once('data', r));
      const second = await runCli(['optout', 'serve', '--port', '0', '--store', path, '--allow-unauthenticated']);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain('is open for writing elsewhere');
      symlinkSync(path, join(dir, 'alias.log'));
      const third = await runCli(['optout', 'serve', '--port', '0', '--store', join(dir, 'alias.log'), '--allow-unauthenticated']);
      expect(third.code).toBe(2);
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => first.on('exit', r));
    }
  }, 30_000);

  it('without the native addon, write access is refused (never an unlocked writer); read-only opens work', async () => {
    const path = join(dir, 'no-addon.log');
    const store = await FileOptOutStore.open(path);
    await store.add(randomBytes(32), T);
    await store.close();
    const env = { ...process.env, UID2_ENGINE_NATIVE_ADDON: join(dir, 'missing.node') };
    expect((await racer(path, 0, 0, env)).out).toContain('UID2_ERR_NATIVE_UNAVAILABLE');
    const serve = await runCli(['optout', 'serve', '--port', '0', '--store', path, '--allow-unauthenticated'], undefined, env);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("needs the native addon's file lock");
    const script = `import(${JSON.stringify(DIST_INDEX)}).then(async ({ FileOptOutStore }) => { const s = await FileOptOutStore.open(process.argv[1], { readOnly: true }); process.stdout.write(String(s.size)); await s.close(); });`;
    const reader = spawn(process.execPath, ['-e', script, path], { env });
    let out = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise((r) => reader.on('close', r));
    expect(out).toBe('1');
  });
});
