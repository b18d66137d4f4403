/**
 * What the two native build scripts share (build-native.mjs at install, prebuild.mjs for the
 * shipped binary): where node-gyp and Node's headers are, and which prebuilt addon fits this
 * machine. Plain JavaScript because the install step runs before anything is compiled.
 *
 * The prebuild naming is prebuildify's (`prebuilds/<platform>-<arch>/<name>.<libc>.node`, the
 * layout node-gyp-build also reads); src/native/load.ts applies the same rule at run time, and
 * test/packaging/tarball.test.ts checks that the two agree on an installed package.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const NATIVE_DIR = join(PACKAGE_ROOT, 'native');
/** The name tag of every prebuilt file (prebuildify's `--name`). */
export const PREBUILD_NAME = 'uid2-engine';

/**
 * node-gyp as a command: the copy npm passes to install scripts (npm_config_node_gyp), else
 * npm's bundled copy beside this Node, else `node-gyp` on PATH.
 */
export function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  for (const lib of ['lib/node_modules', 'node_modules']) {
    const bundled = join(prefix, lib, 'npm/node_modules/node-gyp/bin/node-gyp.js');
    if (existsSync(bundled)) return bundled;
  }
  return 'node-gyp';
}

/**
 * The install prefix of this Node when its include/node holds node_api.h, OpenSSL and
 * common.gypi, so node-gyp needs no header download (machines without internet); undefined when
 * npm_config_nodedir is set (node-gyp reads it itself) or the headers are incomplete.
 */
export function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined;
  const prefix = dirname(dirname(process.execPath));
  const include = join(prefix, 'include/node');
  const complete = ['node_api.h', 'openssl/evp.h', 'common.gypi'].every((f) => existsSync(join(include, f)));
  return complete ? prefix : undefined;
}

/** `glibc` or `musl`, detected the way prebuildify and node-gyp-build do. */
export function libcTag() {
  return existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** The prebuilt addon for this platform, libc and arch (default this machine's), relative to the package root. */
export function prebuildRelativePath(arch = process.arch) {
  return `prebuilds/${process.platform}-${arch}/${PREBUILD_NAME}.${libcTag()}.node`;
}
