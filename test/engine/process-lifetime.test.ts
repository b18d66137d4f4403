/**
 * The engine and the process's lifetime, in child processes running the built package: a
 * pending Atomics.waitAsync does not keep a process alive by itself, so the engine must hold it
 * while batches are in flight (a program that only awaits its results still gets them), and must
 * not hold it once idle: after close(), and also when never closed, once its lanes have parked.
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js');

function runProgram(body: string, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const program = `import { DecryptionEngine } from ${JSON.stringify(DIST)};\n${body}`;
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`program did not exit within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// Junk tokens are enough: without keys each is NotInitialized, decided in a worker like any other.
const JUNK = `Array.from({ length: 20000 }, (_, i) => 'AgAAAA' + i)`;

describe('process lifetime', () => {
  it('exits by itself after close()', async () => {
    const run = await runProgram(`
      const engine = await DecryptionEngine.create({ threads: 2 });
      const results = await engine.decryptBatch(${JUNK});
      await engine.close();
      console.log(results.length, results[0].status);
    `);
    expect({ code: run.code, stdout: run.stdout.trim(), stderr: run.stderr }).toEqual({ code: 0, stdout: '20000 NotInitialized', stderr: '' });
  });

  it('stays alive while batches are in flight, with nothing else holding it', async () => {
    // Only the engine's work is pending: no timer, no server, no await at top level.
    const run = await runProgram(`
      const engine = await DecryptionEngine.create({ threads: 1, maxBatchSize: 64 });
      engine.decryptBatch(${JUNK}).then((r) => console.log('batch', r.length));
      for (let i = 0; i < 50; i++) engine.decrypt('AgAAAA').then((r) => i === 49 && console.log('single', r.status));
    `);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter(Boolean).sort()).toEqual(['batch 20000', 'single NotInitialized']);
  });

  it('lets the process exit when idle, even without close() (lanes park after idleParkMs)', async () => {
    const run = await runProgram(`
      const engine = await DecryptionEngine.create({ threads: 2, idleParkMs: 20 });
      const r = await engine.decryptBatch(${JUNK});
      console.log('done', r.length);
    `);
    expect({ code: run.code, stdout: run.stdout.trim() }).toEqual({ code: 0, stdout: 'done 20000' });
  });
});
