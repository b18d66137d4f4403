/**
 * The package as a user receives it, not the work tree: `npm pack`, then `npm ci --offline` of
 * the tarball into empty projects whose PATH holds `node` and `sh` only (no compiler, make or
 * Python, checked). Offline works from the npm cache this checkout's own `npm ci` filled: each
 * scratch project gets a lockfile naming the exact versions of uid2-engine's dependencies (taken
 * from ours), so npm needs no registry metadata, only the cached tarballs.
 *
 *   prebuilt: the tarball as packed: the install step loads the prebuild and builds nothing;
 *             ESM, CJS, types, the CLI and every vendored vector work on the native backend.
 *   fallback: the same tarball without prebuilds/: the install step fails to build and says so,
 *             the engine prints its one-line notice and decrypts every vector on node-crypto.
 *   broken:   the prebuild replaced by bytes that are no shared object: neither the install step
 *             nor the engine fails; both say why and fall back.
 *   source:   without prebuilds/ but with this machine's compiler: the install step builds native/
 *             from the shipped sources, as on platforms without a prebuild (skipped when the
 *             machine has no compiler).
 *
 * Needs the build (dist/) and the native toolchain's `tar`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecryptionResult } from '../../src/index.js';
import { comparable, expectedFields, loadVectors, VECTORS_PATH } from '../helpers/vectors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PREBUILD = `prebuilds/${process.platform}-${process.arch}/uid2-engine.glibc.node`;
const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make', 'python3', 'python'];
const vectors = loadVectors();
const work = mkdtempSync(join(tmpdir(), 'uid2-tarball-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** npm's own entry points beside the npm that runs this test (or beside this Node). */
function npmScript(name: 'npm-cli.js' | 'npx-cli.js'): string {
  const dirs = [process.env['npm_execpath'] ? dirname(process.env['npm_execpath']) : '', join(dirname(dirname(process.execPath)), 'lib/node_modules/npm/bin')];
  const found = dirs.map((d) => join(d, name)).find((p) => p.endsWith(name) && existsSync(p));
  if (!found) throw new Error(`cannot find npm's ${name}`);
  return found;
}
const NPM = npmScript('npm-cli.js');
const NPX = npmScript('npx-cli.js');

/** A user's environment: none of the outer npm run's settings, no compiler hints, our npm cache. */
function userEnv(path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|UID2_ENGINE_|NODE_OPTIONS$|NODE_V8_COVERAGE$|CC$|CXX$|PYTHON$)/i.test(k)) env[k] = v;
  }
  env['PATH'] = path;
  env['npm_config_cache'] = NPM_CACHE;
  return env;
}
const NPM_CACHE =
  process.env['npm_config_cache'] ?? spawnSync(process.execPath, [NPM, 'config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();

/** A PATH with node and sh only. */
const NO_COMPILER_PATH = join(work, 'bin');
mkdirSync(NO_COMPILER_PATH);
symlinkSync(process.execPath, join(NO_COMPILER_PATH, 'node'));
symlinkSync('/bin/sh', join(NO_COMPILER_PATH, 'sh'));

function findTools(path: string): string[] {
  const probe = spawnSync('/bin/sh', ['-c', TOOLS.map((t) => `command -v ${t} || true`).join('; ')], { env: { PATH: path }, encoding: 'utf8' });
  return probe.stdout.split('\n').filter(Boolean);
}
const HOST_HAS_COMPILER = ['make', 'python3'].every((t) => findTools(process.env['PATH'] ?? '').some((p) => p.endsWith(`/${t}`))) && findTools(process.env['PATH'] ?? '').some((p) => /\/(g\+\+|c\+\+|clang\+\+)$/.test(p));

/** Files under `dir`, recursively, with their sizes. */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * package.json + package-lock.json of a scratch project that depends on `tarball`: the lock
 * holds uid2-engine and the closure of its dependencies as our own lock resolves them.
 */
function writeProject(dir: string, tarball: string): void {
  mkdirSync(dir);
  const ours = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = { '': { dependencies: { 'uid2-engine': spec } } };
  const todo = Object.keys(pkg['dependencies']!);
  while (todo.length > 0) {
    const key = `node_modules/${todo.pop()!}`;
    if (packages[key]) continue;
    const entry = ours.packages[key];
    if (!entry) throw new Error(`${key} is not in package-lock.json`);
    packages[key] = entry;
    for (const field of ['dependencies', 'optionalDependencies']) todo.push(...Object.keys((entry[field] as object | undefined) ?? {}));
  }
  packages['node_modules/uid2-engine'] = {
    version: pkg['version'],
    resolved: spec,
    integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
    hasInstallScript: true,
    dependencies: pkg['dependencies'],
    peerDependencies: pkg['peerDependencies'],
    peerDependenciesMeta: pkg['peerDependenciesMeta'],
    bin: pkg['bin'],
    engines: pkg['engines'],
  };
  // allowScripts: npm 11 runs a dependency's install script only once the project approved it.
  const manifest = { name: 'uid2-user', private: true, dependencies: { 'uid2-engine': spec }, allowScripts: { [spec]: true } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'uid2-user', lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** Every vendored vector through a pooled engine (threads: 1) of the installed package. */
const PROGRAM = `
  const vectors = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const groups = new Map();
  for (const c of vectors.decrypt) {
    const id = c.keySet + '|' + c.clientType;
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  const out = { backends: [], results: {} };
  for (const cases of groups.values()) {
    const keys = cases[0].keySet === null ? undefined : vectors.keySets[cases[0].keySet].response;
    const engine = await uid2.DecryptionEngine.create({ threads: 1, clientType: cases[0].clientType, keys });
    out.backends.push(engine.stats().backend);
    for (const c of cases) {
      const [r] = await engine.decryptBatch([c.token], { domains: [c.domainOrAppName], now: c.nowMs });
      out.results[c.name] = { ...r, established: r.established?.getTime(), expiry: r.expiry?.getTime() };
    }
    await engine.close();
  }
  console.log(JSON.stringify(out));
`;

interface ProgramOutput {
  backends: string[];
  results: Record<string, Omit<DecryptionResult, 'established' | 'expiry'> & { established?: number; expiry?: number }>;
}

function expectEveryVector(output: ProgramOutput, backend: string): void {
  expect(new Set(output.backends)).toEqual(new Set([backend]));
  expect(Object.keys(output.results)).toHaveLength(vectors.decrypt.length);
  for (const c of vectors.decrypt) {
    const { established, expiry, ...rest } = output.results[c.name]!;
    const result: DecryptionResult = {
      ...rest,
      ...(established === undefined ? {} : { established: new Date(established) }),
      ...(expiry === undefined ? {} : { expiry: new Date(expiry) }),
    };
    const expected = expectedFields(c.expect);
    expect(comparable(result, expected), c.name).toEqual(expected);
  }
}

function writePrograms(dir: string): void {
  writeFileSync(join(dir, 'vectors.mjs'), `import fs from 'node:fs';\nimport * as uid2 from 'uid2-engine';\n${PROGRAM}`);
  writeFileSync(
    join(dir, 'vectors.cjs'),
    `'use strict';\nconst fs = require('node:fs');\nconst uid2 = require('uid2-engine');\n(async () => {${PROGRAM}})().catch((e) => { console.error(e); process.exit(1); });\n`,
  );
}

let packed: { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] };
const installs: Record<'prebuilt' | 'fallback' | 'broken' | 'source', Run | undefined> = {
  prebuilt: undefined,
  fallback: undefined,
  broken: undefined,
  source: undefined,
};
const project = (name: keyof typeof installs): string => join(work, name);

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/ missing: run "npm run build" first');
  // The build just ran (npm test), so prepack's tsc is skipped.
  const pack = spawnSync(process.execPath, [NPM, 'pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  [packed] = JSON.parse(pack.stdout) as (typeof packed)[];
  const full = join(work, packed.filename);

  // The same package without its prebuild, repacked as npm would read it.
  const stage = join(work, 'stage');
  mkdirSync(stage);
  expect(spawnSync('tar', ['-xzf', full, '-C', stage]).status).toBe(0);
  rmSync(join(stage, 'package/prebuilds'), { recursive: true });
  const bare = join(work, 'uid2-engine-no-prebuild.tgz');
  expect(spawnSync('tar', ['-czf', bare, '-C', stage, 'package']).status).toBe(0);
  // And with a prebuild that is not a shared object at all.
  mkdirSync(dirname(join(stage, 'package', PREBUILD)), { recursive: true });
  writeFileSync(join(stage, 'package', PREBUILD), 'not an ELF file\n');
  const broken = join(work, 'uid2-engine-broken-prebuild.tgz');
  expect(spawnSync('tar', ['-czf', broken, '-C', stage, 'package']).status).toBe(0);

  const ci = (name: keyof typeof installs, tarball: string, path: string): Promise<void> => {
    writeProject(project(name), tarball);
    writePrograms(project(name));
    const args = [NPM, 'ci', '--offline', '--foreground-scripts', '--no-audit', '--no-fund'];
    return run(process.execPath, args, { cwd: project(name), env: userEnv(path) }).then((r) => void (installs[name] = r));
  };
  await Promise.all([
    ci('prebuilt', full, NO_COMPILER_PATH),
    ci('fallback', bare, NO_COMPILER_PATH),
    ci('broken', broken, NO_COMPILER_PATH),
    HOST_HAS_COMPILER ? ci('source', bare, process.env['PATH']!) : Promise.resolve(),
  ]);
}, 120_000);

describe('packed tarball', () => {
  it('holds only what users need: the build without source maps, both prebuilds (linux-x64, linux-arm64), the native sources, docs', () => {
    const paths = packed.files.map((f) => f.path);
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^docs\/[a-z-]+\.md$/,
      /^dist\/.+\.(js|d\.ts)$/,
      /^prebuilds\/[a-z0-9]+-[a-z0-9]+\/uid2-engine\.(glibc|musl)\.node$/,
      /^native\/binding\.gyp$/,
      /^native\/src\/[a-z0-9_-]+\.(cc|h)$/,
      /^scripts\/(build-native|native-toolchain)\.mjs$/,
    ];
    expect(paths.filter((p) => !allowed.some((re) => re.test(p)))).toEqual([]);
    for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/engine/worker/entry.js', 'dist/engine/worker/bulk-entry.js', PREBUILD, 'prebuilds/linux-arm64/uid2-engine.glibc.node', 'native/binding.gyp', 'scripts/build-native.mjs', 'scripts/native-toolchain.mjs']) {
      expect(paths).toContain(needed);
    }
    // No output of a source file that no longer exists (prepack starts from an empty dist/; this
    // test packs the dist/ that npm test just built, so it also catches leftovers there).
    const orphans = paths.filter((p) => p.startsWith('dist/')).filter((p) => !existsSync(join(ROOT, 'src', p.slice(5).replace(/(\.d\.ts|\.js)$/, '.ts'))));
    expect(orphans, 'dist/ holds the output of deleted sources: rm -rf dist && npm run build').toEqual([]);
    // Every native source the binding names is shipped, so a source build can work.
    const gyp = readFileSync(join(ROOT, 'native/binding.gyp'), 'utf8');
    for (const source of gyp.match(/src\/[a-z0-9_-]+\.cc/g) ?? []) expect(paths).toContain(`native/${source}`);
  });

  it('README states the packed and installed sizes (within 25 % of this build)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const stated = /package: (\d+) kB packed,\s+(\d+) kB installed/.exec(readme);
    expect(stated, 'README.md: "package: N kB packed, N kB installed"').not.toBeNull();
    const installed = treeBytes(join(project('prebuilt'), 'node_modules/uid2-engine'));
    for (const [claim, actual] of [[Number(stated![1]), packed.size / 1000], [Number(stated![2]), installed / 1000]] as const) {
      expect(Math.abs(claim - actual) / actual, `README says ${claim} kB, measured ${actual.toFixed(0)} kB`).toBeLessThan(0.25);
    }
  });
});

describe('installed with the prebuild, no compiler on PATH', () => {
  it('the PATH really has no compiler, make or Python', () => {
    expect(findTools(NO_COMPILER_PATH)).toEqual([]);
  });

  it('npm ci --offline succeeds and the install step builds nothing', () => {
    const install = installs.prebuilt!;
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toContain(`uid2-engine: prebuilt native addon loads (${PREBUILD}); nothing to build`);
    expect(existsSync(join(project('prebuilt'), 'node_modules/uid2-engine/native/build'))).toBe(false);
    expect(existsSync(join(project('prebuilt'), 'node_modules/piscina/package.json'))).toBe(true);
  });

  it.each(['vectors.mjs', 'vectors.cjs'])('%s: every vendored vector decrypts on the native backend (the prebuild)', async (file) => {
    const r = await run(process.execPath, [file, VECTORS_PATH], { cwd: project('prebuilt'), env: userEnv(NO_COMPILER_PATH) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectEveryVector(JSON.parse(r.stdout) as ProgramOutput, 'native');
  });

  it('types resolve with the repository TypeScript (tsc --noEmit on an .mts file)', async () => {
    const dir = project('prebuilt');
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'), 'dir');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      // skipLibCheck: cjs.test.ts checks the same declarations with it off; here the point is that
      // they resolve from the installed tarball, which the @ts-expect-error line proves.
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        files: ['check.mts'],
      }),
    );
    writeFileSync(
      join(dir, 'check.mts'),
      [
        `import { DecryptionEngine, type DecryptionResult, type EngineOptions } from 'uid2-engine';`,
        `const options: EngineOptions = { threads: 1 };`,
        `const engine = await DecryptionEngine.create(options);`,
        `const result: DecryptionResult = await engine.decrypt('token', 'example.com');`,
        `const backend: 'native' | 'node-crypto' | 'in-process' = engine.stats().backend;`,
        `// @ts-expect-error: the class is not a number (an "any" typing would make this line an error)`,
        `const wrong: number = DecryptionEngine;`,
        `export { result, backend, wrong };`,
      ].join('\n'),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, env: userEnv(NO_COMPILER_PATH) });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('npx uid2-engine --help, and the CLI decrypts a vendored vector on a worker', async () => {
    const dir = project('prebuilt');
    const help = await run(process.execPath, [NPX, '--offline', 'uid2-engine', '--help'], { cwd: dir, env: userEnv(NO_COMPILER_PATH) });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: uid2-engine <command>/);
    const c = vectors.decrypt.find((v) => v.keySet === 'bidstream-uid2' && v.clientType === 'bidstream' && v.expect.status === 'Success')!;
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(vectors.keySets[c.keySet!]!.response));
    const args = ['--offline', 'uid2-engine', 'decrypt', '--keys', 'keys.json', '--client', 'bidstream', '--now', String(c.nowMs), '--threads', '1'];
    const decrypt = await run(process.execPath, [NPX, ...args, ...(c.domainOrAppName ? ['--domain', c.domainOrAppName] : []), c.token], {
      cwd: dir,
      env: userEnv(NO_COMPILER_PATH),
    });
    expect(decrypt.stderr).toBe('');
    expect(decrypt.code).toBe(0);
    const record = JSON.parse(decrypt.stdout) as Record<string, unknown>;
    expect(record['status']).toBe('Success');
    expect(record['uid']).toBe(c.expect.uid);
  });
});

describe('installed without the prebuild, no compiler on PATH', () => {
  it('npm ci --offline succeeds; the install step tries to build, fails, and says so in one line', () => {
    const install = installs.fallback!;
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toMatch(/^uid2-engine: native addon not built \(.+\); using node:crypto\. Details: node scripts\/build-native\.mjs --verbose$/m);
  });

  it('the engine prints one notice line and decrypts every vendored vector with node-crypto', async () => {
    const r = await run(process.execPath, ['vectors.mjs', VECTORS_PATH], { cwd: project('fallback'), env: userEnv(NO_COMPILER_PATH) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      `uid2-engine: native addon unavailable (no ${PREBUILD}; no native/build/Release/uid2_native.node); decrypting with node:crypto, 10-20x slower (docs/native.md)\n`,
    );
    expectEveryVector(JSON.parse(r.stdout) as ProgramOutput, 'node-crypto');
  });
});

describe('installed with a prebuild that does not load, no compiler on PATH', () => {
  it('the install step says why, tries a source build, and still succeeds', () => {
    const install = installs.broken!;
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toMatch(new RegExp(`^uid2-engine: prebuilt native addon ${PREBUILD.replace(/\./g, '\\.')} does not load here \\(.+\\); building from source$`, 'm'));
    expect(install.stdout).toMatch(/^uid2-engine: native addon not built \(.+\); using node:crypto/m);
  });

  it('the engine names the broken file in its notice and decrypts every vendored vector with node-crypto', async () => {
    const r = await run(process.execPath, ['vectors.mjs', VECTORS_PATH], { cwd: project('broken'), env: userEnv(NO_COMPILER_PATH) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^uid2-engine: native addon unavailable \\(${PREBUILD.replace(/\./g, '\\.')} does not load: .+; no native/build/Release/uid2_native\\.node\\); decrypting with node:crypto.*\n$`),
    );
    expect(r.stderr.split('\n')).toHaveLength(2);
    expectEveryVector(JSON.parse(r.stdout) as ProgramOutput, 'node-crypto');
  });
});

describe.skipIf(!HOST_HAS_COMPILER)('installed without the prebuild, with a compiler', () => {
  it('the install step builds the addon from the shipped sources and the engine uses it', async () => {
    const install = installs.source!;
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout).toMatch(/uid2-engine: native addon built in [\d.]+ s/);
    const r = await run(process.execPath, ['vectors.mjs', VECTORS_PATH], { cwd: project('source'), env: userEnv(process.env['PATH']!) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectEveryVector(JSON.parse(r.stdout) as ProgramOutput, 'native');
  });
});
