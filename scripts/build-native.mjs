#!/usr/bin/env node
/**
 * Install step: builds the optional native addon (native/) with node-gyp against the Node that
 * runs the install, and Node's own OpenSSL headers. The addon is an accelerator only, so this
 * script never fails an install: without a compiler (or headers) it prints one line and exits 0,
 * and the engine uses node:crypto.
 *
 * node-gyp: npm runs install scripts with npm_config_node_gyp pointing at its bundled copy; outside
 * npm we look for npm's copy next to this Node, then a node-gyp on PATH. Headers: npm_config_nodedir
 * when set, else the include/node beside this Node binary when it has node_api.h and OpenSSL, so no
 * header download is needed on machines that cannot reach the internet.
 *
 *   node scripts/build-native.mjs [--verbose]     (also: npm run install)
 *   UID2_ENGINE_SKIP_NATIVE=1                     skip the build
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const nativeDir = join(root, 'native');
const verbose = process.argv.includes('--verbose');
const say = (line) => console.log(`uid2-engine: ${line}`);

function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const prefix = dirname(dirname(process.execPath));
  for (const lib of ['lib/node_modules', 'node_modules']) {
    const bundled = join(prefix, lib, 'npm/node_modules/node-gyp/bin/node-gyp.js');
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  return ['node-gyp'];
}

function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined; // node-gyp reads it itself
  const prefix = dirname(dirname(process.execPath));
  const include = join(prefix, 'include/node');
  const complete = ['node_api.h', 'openssl/evp.h', 'common.gypi'].every((f) => existsSync(join(include, f)));
  return complete ? prefix : undefined;
}

if (process.env.UID2_ENGINE_SKIP_NATIVE === '1') {
  say('native addon skipped (UID2_ENGINE_SKIP_NATIVE=1); using node:crypto');
  process.exit(0);
}

const [command, ...prefixArgs] = findNodeGyp();
const nodeDir = localNodeDir();
const args = [...prefixArgs, 'rebuild', '--release', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
const started = Date.now();
const run = spawnSync(command, args, {
  cwd: nativeDir,
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
