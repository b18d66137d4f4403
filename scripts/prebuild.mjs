#!/usr/bin/env node
/**
 * Regenerates the prebuilt addon shipped in the package (prebuilds/, committed), and checks it.
 * A prebuild is built with prebuildify (Node-API, stripped, libc-tagged) for the machine running
 * this script, and recorded in prebuilds/manifest.json with the hash of the sources it was built
 * from, so a test can tell when native/ changed without the prebuild being rebuilt.
 *
 *   npm run prebuildify                   build prebuilds/<platform>-<arch>/uid2-engine.<libc>.node
 *   npm run prebuildify -- --arch arm64   cross-build prebuilds/linux-arm64/ on linux-x64 (glibc)
 *   npm run prebuildify -- --all          both: the shipped set (linux-x64 and linux-arm64, glibc)
 *   node scripts/prebuild.mjs --check     exit 1 when a prebuild is stale or differs from its record
 *   node scripts/prebuild.mjs --verbose   with node-gyp's output
 *
 * Needs a C++ toolchain, Python and `strip`, like any node-gyp build; Node's own headers and
 * OpenSSL are used (native-toolchain.mjs), so nothing is downloaded. They are the same for every
 * arch (Node's OpenSSL headers carry each arch's configuration), so the arm64 build needs only
 * Debian's cross compiler: `apt-get install -y g++-aarch64-linux-gnu`. A cross-built binary cannot
 * be loaded here; scripts/check-arm64.sh loads it under qemu and decrypts every vector with it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { NATIVE_DIR, PACKAGE_ROOT, PREBUILD_NAME, findNodeGyp, libcTag, localNodeDir, prebuildRelativePath } from './native-toolchain.mjs';

const MANIFEST = join(PACKAGE_ROOT, 'prebuilds/manifest.json');
const say = (line) => console.log(`prebuild: ${line}`);

/** sha256 over native/binding.gyp and every file under native/src, by sorted relative path. */
function sourceHash() {
  const files = ['binding.gyp'];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(NATIVE_DIR, path).split('\\').join('/'));
    }
  };
  walk(join(NATIVE_DIR, 'src'));
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(NATIVE_DIR, file))).update('\0');
  return hash.digest('hex');
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const readManifest = () => (existsSync(MANIFEST) ? JSON.parse(readFileSync(MANIFEST, 'utf8')) : { prebuilds: {} });

function check() {
  const current = sourceHash();
  const { prebuilds } = readManifest();
  const problems = [];
  const onDisk = existsSync(join(PACKAGE_ROOT, 'prebuilds'))
    ? readdirSync(join(PACKAGE_ROOT, 'prebuilds'), { recursive: true }).filter((f) => String(f).endsWith('.node')).map((f) => `prebuilds/${String(f).split('\\').join('/')}`)
    : [];
  if (onDisk.length === 0) problems.push('no prebuilt addon under prebuilds/');
  for (const file of onDisk) {
    const entry = prebuilds[file];
    if (!entry) problems.push(`${file} is not in prebuilds/manifest.json`);
    else if (entry.sha256 !== sha256(join(PACKAGE_ROOT, file))) problems.push(`${file} differs from the binary recorded in prebuilds/manifest.json`);
    else if (entry.sourceSha256 !== current) problems.push(`${file} is stale: built from native/ sources ${entry.sourceSha256.slice(0, 12)}, they now hash to ${current.slice(0, 12)}`);
  }
  for (const file of Object.keys(prebuilds)) if (!onDisk.includes(file)) problems.push(`prebuilds/manifest.json names ${file}, which is missing`);
  if (problems.length > 0) {
    for (const p of problems) console.error(`prebuild: ${p}`);
    console.error('prebuild: run "npm run prebuildify -- --all" on linux-x64 (glibc) and commit prebuilds/');
    process.exit(1);
  }
  say(`${onDisk.join(', ')} up to date (native/ sources ${current.slice(0, 12)})`);
}

function firstLine(command, args) {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.split('\n')[0].trim() : undefined;
}

/** Cross compilers by target arch, for builds on another arch (Debian's package names). */
const CROSS = {
  arm64: { cc: 'aarch64-linux-gnu-gcc', cxx: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip', apt: 'g++-aarch64-linux-gnu' },
  x64: { cc: 'x86_64-linux-gnu-gcc', cxx: 'x86_64-linux-gnu-g++', strip: 'x86_64-linux-gnu-strip', apt: 'g++-x86-64-linux-gnu' },
};

async function build(arch) {
  const verbose = process.argv.includes('--verbose');
  const cross = arch === process.arch ? undefined : CROSS[arch];
  if (arch !== process.arch && (process.platform !== 'linux' || !cross)) throw new Error(`cannot cross-build for ${arch} on ${process.platform}-${process.arch}`);
  if (cross && spawnSync(cross.cxx, ['--version']).status !== 0) throw new Error(`cross-building for ${arch} needs ${cross.cxx}: apt-get install -y ${cross.apt}`);
  const nodeDir = localNodeDir();
  if (nodeDir) process.env.npm_config_nodedir = nodeDir; // prebuildify hands its env to node-gyp
  const saved = { CC: process.env.CC, CXX: process.env.CXX };
  if (cross) Object.assign(process.env, { CC: cross.cc, CXX: cross.cxx });
  // node-gyp keeps one build/ folder: a cross build must not reuse objects of another arch.
  rmSync(join(NATIVE_DIR, 'build'), { recursive: true, force: true });
  const { default: prebuildify } = await import('prebuildify');
  const started = Date.now();
  try {
    await new Promise((resolve, reject) => {
      prebuildify(
        {
          cwd: NATIVE_DIR,
          out: PACKAGE_ROOT,
          name: PREBUILD_NAME,
          napi: true,
          strip: true,
          stripBin: cross ? cross.strip : 'strip',
          arch,
          tagLibc: true,
          targets: [process.versions.node],
          nodeGyp: findNodeGyp(),
          quiet: !verbose,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    if (cross) rmSync(join(NATIVE_DIR, 'build'), { recursive: true, force: true });
  }
  const file = prebuildRelativePath(arch);
  const path = join(PACKAGE_ROOT, file);
  if (!cross) {
    // The fresh binary must load in this Node and be the addon (test/packaging/prebuild.test.ts
    // checks that it uses nothing of Node but Node-API).
    const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(path)}); if (typeof a.decodeBatch !== 'function') process.exit(3)`]);
    if (probe.status !== 0) throw new Error(`${file} was built but does not load (exit ${probe.status}): ${probe.stderr}`);
  }
  const manifest = readManifest();
  manifest.about = 'Written by scripts/prebuild.mjs ("npm run prebuildify"); checked by "node scripts/prebuild.mjs --check".';
  manifest.prebuilds[file] = {
    sha256: sha256(path),
    bytes: readFileSync(path).length,
    sourceSha256: sourceHash(),
    builtWith: {
      node: process.version,
      compiler: firstLine(cross ? cross.cxx : process.env.CXX ?? 'c++', ['--version']) ?? 'unknown',
    },
  };
  writeFileSync(MANIFEST, `${JSON.stringify({ about: manifest.about, prebuilds: manifest.prebuilds }, null, 2)}\n`);
  say(`${file} built in ${((Date.now() - started) / 1000).toFixed(1)} s (${manifest.prebuilds[file].bytes} bytes, ${libcTag()}); prebuilds/manifest.json updated`);
}

function archArgument() {
  const i = process.argv.indexOf('--arch');
  return i === -1 ? process.arch : process.argv[i + 1];
}

if (process.argv.includes('--check')) check();
else if (process.argv.includes('--all')) for (const arch of ['x64', 'arm64']) await build(arch);
else await build(archArgument());
