#!/usr/bin/env node
/**
 * Regenerates the prebuilt addon shipped in the package (prebuilds/, committed), and checks it.
 * A prebuild is built with prebuildify (Node-API, stripped, libc-tagged) for the machine running
 * this script, and recorded in prebuilds/manifest.json with the hash of the sources it was built
 * from, so a test can tell when native/ changed without the prebuild being rebuilt.
 *
 *   npm run prebuildify                   build prebuilds/<platform>-<arch>/uid2-engine.<libc>.node
 *   node scripts/prebuild.mjs --check     exit 1 when a prebuild is stale or differs from its record
 *   node scripts/prebuild.mjs --verbose   with node-gyp's output
 *
 * Needs a C++ toolchain, Python and `strip`, like any node-gyp build; Node's own headers and
 * OpenSSL are used (native-toolchain.mjs), so nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
    console.error('prebuild: run "npm run prebuildify" on linux-x64 (glibc) and commit prebuilds/');
    process.exit(1);
  }
  say(`${onDisk.join(', ')} up to date (native/ sources ${current.slice(0, 12)})`);
}

function firstLine(command, args) {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.split('\n')[0].trim() : undefined;
}

async function build() {
  const verbose = process.argv.includes('--verbose');
  const nodeDir = localNodeDir();
  if (nodeDir) process.env.npm_config_nodedir = nodeDir; // prebuildify hands its env to node-gyp
  const { default: prebuildify } = await import('prebuildify');
  const started = Date.now();
  await new Promise((resolve, reject) => {
    prebuildify(
      {
        cwd: NATIVE_DIR,
        out: PACKAGE_ROOT,
        name: PREBUILD_NAME,
        napi: true,
        strip: true,
        tagLibc: true,
        targets: [process.versions.node],
        nodeGyp: findNodeGyp(),
        quiet: !verbose,
      },
      (err) => (err ? reject(err) : resolve()),
    );
  });
  const file = prebuildRelativePath();
  const path = join(PACKAGE_ROOT, file);
  // The fresh binary must load in this Node and be the addon (test/packaging/prebuild.test.ts checks
  // that it uses nothing of Node but Node-API).
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(path)}); if (typeof a.decodeBatch !== 'function') process.exit(3)`]);
  if (probe.status !== 0) throw new Error(`${file} was built but does not load (exit ${probe.status}): ${probe.stderr}`);
  const manifest = readManifest();
  manifest.about = 'Written by scripts/prebuild.mjs ("npm run prebuildify"); checked by "node scripts/prebuild.mjs --check".';
  manifest.prebuilds[file] = {
    sha256: sha256(path),
    bytes: readFileSync(path).length,
    sourceSha256: sourceHash(),
    builtWith: {
      node: process.version,
      compiler: firstLine(process.env.CXX ?? 'c++', ['--version']) ?? 'unknown',
    },
  };
  writeFileSync(MANIFEST, `${JSON.stringify({ about: manifest.about, prebuilds: manifest.prebuilds }, null, 2)}\n`);
  say(`${file} built in ${((Date.now() - started) / 1000).toFixed(1)} s (${manifest.prebuilds[file].bytes} bytes, ${libcTag()}); prebuilds/manifest.json updated`);
}

if (process.argv.includes('--check')) check();
else await build();
