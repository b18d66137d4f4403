#!/usr/bin/env node
/**
 * Install step for the optional native addon. When the package's prebuilt addon
 * (prebuilds/<platform>-<arch>/uid2-engine.<libc>.node, Node-API, one binary for every Node from
 * 20 on) loads in the Node that runs the install, there is nothing to do: slim images need no
 * compiler. Otherwise it builds native/ with node-gyp against this Node's headers and its own
 * OpenSSL, into native/build/Release. The addon is an accelerator only, so this script never fails
 * an install: without a compiler (or headers) it prints one line and exits 0, and the engine
 * uses node:crypto.
 *
 * node-gyp and headers: see native-toolchain.mjs (npm's bundled node-gyp, npm_config_nodedir or
 * the include/node beside this Node, so no header download is needed on machines without internet).
 *
 *   node scripts/build-native.mjs [--verbose]     (also: npm run install)
 *   node scripts/build-native.mjs --force         build even when the prebuild loads (the loader
 *                                                 still prefers the prebuild: point
 *                                                 UID2_ENGINE_NATIVE_ADDON at the build to use it)
 *   UID2_ENGINE_SKIP_NATIVE=1                     skip this step (UID2_ENGINE_BACKEND=node-crypto
 *                                                 is how to run without the addon)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NATIVE_DIR, PACKAGE_ROOT, findNodeGyp, localNodeDir, prebuildRelativePath } from './native-toolchain.mjs';

const verbose = process.argv.includes('--verbose');
const force = process.argv.includes('--force');
const say = (line) => console.log(`uid2-engine: ${line}`);

if (process.env.UID2_ENGINE_SKIP_NATIVE === '1') {
  say('install step skipped (UID2_ENGINE_SKIP_NATIVE=1): nothing built; a prebuilt addon that loads is still used');
  process.exit(0);
}

// The prebuild is loaded in a child process: a binary that does not fit this machine must not
// take the install down with it, whatever way it fails.
const prebuild = prebuildRelativePath();
if (!force && existsSync(join(PACKAGE_ROOT, prebuild))) {
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(PACKAGE_ROOT, prebuild))})`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (probe.status === 0) {
    say(`prebuilt native addon loads (${prebuild}); nothing to build`);
    process.exit(0);
  }
  const why = (probe.stderr ?? '').split('\n').find((l) => /Error/.test(l))?.trim() ?? `exit code ${probe.status}`;
  say(`prebuilt native addon ${prebuild} does not load here (${why.slice(0, 200)}); building from source`);
}

const nodeGyp = findNodeGyp();
const [command, ...prefixArgs] = nodeGyp.endsWith('.js') ? [process.execPath, nodeGyp] : [nodeGyp];
const nodeDir = localNodeDir();
const args = [...prefixArgs, 'rebuild', '--release', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
const started = Date.now();
const run = spawnSync(command, args, {
  cwd: NATIVE_DIR,
  stdio: verbose ? 'inherit' : 'pipe',
  encoding: 'utf8',
  env: process.env,
});

if (run.status === 0) {
  say(`native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s (native/build/Release/uid2_native.node)`);
} else {
  // One line: the compiler's first error, else node-gyp's reason, enough to tell "no compiler"
  // or "no Python" from a real bug.
  const lines = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.split('\n');
  const compilerError = lines.find(
    (l) => !l.startsWith('gyp') && (/(^|\s)(fatal )?error: /.test(l) || /No such file or directory|not found/.test(l)),
  );
  const gypReason = lines.map((l) => /gyp ERR! stack Error: (.+)/.exec(l)?.[1]).find(Boolean);
  const firstError = compilerError?.trim() ?? gypReason ?? run.error?.message ?? `exit code ${run.status}`;
  say(`native addon not built (${firstError.slice(0, 200)}); using node:crypto. Details: node scripts/build-native.mjs --verbose`);
}
process.exit(0);
