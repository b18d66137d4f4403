/**
 * The committed prebuild (prebuilds/, shipped in the package): built from today's native/ sources
 * (prebuilds/manifest.json records their hash; "npm run prebuildify" refreshes both), and bound to
 * nothing of Node but Node-API, so one binary loads in every Node of the "engines" range. The
 * tarball test installs and runs it; this one reads it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shipped prebuilds: linux-x64 built natively, linux-arm64 cross-built (scripts/prebuild.mjs --all). */
const PREBUILDS = ['x64', 'arm64'].map((arch) => `prebuilds/linux-${arch}/uid2-engine.glibc.node`);
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const checkPrebuild = (root: string) => spawnSync(process.execPath, [join(root, 'scripts/prebuild.mjs'), '--check'], { encoding: 'utf8' });

describe('prebuilds/ is up to date', () => {
  it('node scripts/prebuild.mjs --check passes: the binary is the recorded one, built from the current native/ sources', () => {
    const run = checkPrebuild(ROOT);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^prebuild: prebuilds\/linux-arm64\/uid2-engine\.glibc\.node, prebuilds\/linux-x64\/uid2-engine\.glibc\.node up to date/);
  });

  it('the check fails on a changed source, a changed binding.gyp and a swapped binary', () => {
    const copy = (): string => {
      const dir = mkdtempSync(join(tmpdir(), 'uid2-prebuild-'));
      scratch.push(dir);
      for (const sub of ['scripts', 'native/src', 'native/binding.gyp', 'prebuilds']) cpSync(join(ROOT, sub), join(dir, sub), { recursive: true });
      return dir;
    };
    const pristine = copy();
    expect(checkPrebuild(pristine).status).toBe(0);

    const source = copy();
    appendFileSync(join(source, 'native/src/batch.cc'), '\n// changed\n');
    const stale = checkPrebuild(source);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/uid2-engine\.glibc\.node is stale: built from native\/ sources [0-9a-f]{12}, they now hash to [0-9a-f]{12}/);
    expect(stale.stderr).toContain('run "npm run prebuildify -- --all"');

    const gyp = copy();
    writeFileSync(join(gyp, 'native/binding.gyp'), readFileSync(join(gyp, 'native/binding.gyp'), 'utf8').replace('-O2', '-O3'));
    expect(checkPrebuild(gyp).status).toBe(1);

    const swapped = copy();
    appendFileSync(join(swapped, 'prebuilds/linux-x64/uid2-engine.glibc.node'), Buffer.from([0]));
    expect(checkPrebuild(swapped).stderr).toMatch(/differs from the binary recorded in prebuilds\/manifest\.json/);
  });
});

/** "2.28" → 2028000, "3.4.19" → 3004019: comparable as numbers. */
const versionNumber = (v: string): number => {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
  return major * 1e6 + minor * 1e3 + patch;
};
const tools = ['nm', 'readelf'].every((t) => spawnSync(t, ['--version']).status === 0);

describe.skipIf(!tools || process.platform !== 'linux')('the prebuild uses nothing of Node but Node-API (binutils)', () => {
  it.each(PREBUILDS)('%s: every symbol it imports is Node-API, Node\'s OpenSSL, or versioned libc/libstdc++ (no V8, node:: or libuv)', (prebuild) => {
    const nm = spawnSync('nm', ['-D', '--undefined-only', join(ROOT, prebuild)], { encoding: 'utf8' });
    expect(nm.status).toBe(0);
    const symbols = nm.stdout.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean);
    expect(symbols.length).toBeGreaterThan(20);
    const allowed = [
      /^napi_[a-z0-9_]+$/, // Node-API: ABI-stable across Node versions
      /^(EVP|OpenSSL|OPENSSL|CRYPTO|ERR)_[A-Za-z0-9_]+$/, // Node's own OpenSSL 3, exported by the node binary
      /^[A-Za-z0-9_]+@(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+$/, // the system C and C++ runtimes Node itself needs
      /^(_ITM_(de)?registerTMCloneTable|__gmon_start__)$/, // weak toolchain hooks, unresolved is fine
    ];
    expect(symbols.filter((s) => !allowed.some((re) => re.test(s)))).toEqual([]);
    expect(symbols.filter((s) => /_ZN2v8|_ZN4node|^uv_/.test(s))).toEqual([]);
    expect(symbols.filter((s) => s.startsWith('napi_')).length).toBeGreaterThan(10);

    // Node 20's official linux-x64 and linux-arm64 builds need glibc 2.28 (RHEL 8, whose libstdc++ is GCC 8's); ask no more.
    const version = (tag: string): number[] =>
      symbols.flatMap((s) => new RegExp(`@${tag}_([0-9.]+)$`).exec(s)?.[1] ?? []).map(versionNumber);
    expect(Math.max(...version('GLIBC'))).toBeLessThanOrEqual(versionNumber('2.28'));
    expect(Math.max(0, ...version('GLIBCXX'))).toBeLessThanOrEqual(versionNumber('3.4.25'));
  });

  it.each(PREBUILDS)('%s: it links only libraries the node binary itself loads', (prebuild) => {
    const readelf = spawnSync('readelf', ['-d', join(ROOT, prebuild)], { encoding: 'utf8' });
    const needed = [...readelf.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    expect(needed.length).toBeGreaterThan(0);
    expect(needed.filter((lib) => !['libc.so.6', 'libstdc++.so.6', 'libm.so.6', 'libgcc_s.so.1'].includes(lib!))).toEqual([]);
  });
});

describe('the arm64 prebuild is the arm64 addon', () => {
  it('is an AArch64 shared object (ELF e_machine 183) and the x64 one an x86-64 one (62)', () => {
    const machine = (file: string): number => readFileSync(join(ROOT, file)).readUInt16LE(18);
    expect(PREBUILDS.map(machine)).toEqual([62, 183]);
  });
});

describe('binding.gyp', () => {
  it('pins NAPI_VERSION at most 8, the Node-API of Node 20.0.0 (the lowest Node of "engines")', () => {
    const gyp = readFileSync(join(ROOT, 'native/binding.gyp'), 'utf8');
    const pinned = /"NAPI_VERSION=(\d+)"/.exec(gyp);
    expect(pinned).not.toBeNull();
    expect(Number(pinned![1])).toBeLessThanOrEqual(8);
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node).toBe('>=20');
  });
});
