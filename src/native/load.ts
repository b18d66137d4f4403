/**
 * Loads the optional native addon, from the first of:
 *   1. the prebuilt Node-API binary shipped in the package,
 *      prebuilds/<platform>-<arch>/uid2-engine.<libc>.node (scripts/prebuild.mjs makes it);
 *   2. a local build, native/build/Release/uid2_native.node (scripts/build-native.mjs makes it at
 *      install when no prebuild fits this machine).
 * Paths are resolved from this file, two levels below the package root both in src/ (tests) and
 * in dist/ (the published build). The prebuild comes first so that what the tests load is what
 * users get; a test keeps it in step with native/src. The naming rule is the one of
 * scripts/native-toolchain.mjs (the install step, plain JS, cannot import this file).
 *
 * UID2_ENGINE_NATIVE_ADDON=/path/to/file.node loads that file instead, and only it (a build of
 * one's own, or the unstripped local build under valgrind).
 *
 * A missing or unloadable addon is not an error here: the engine and the clients then use
 * node:crypto, and the main thread says so once on stderr, unless UID2_ENGINE_BACKEND picks a
 * backend explicitly.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

/** What the addon exports (native/src/addon.cc). */
export interface NativeAddon {
  /**
   * Decodes tokens [0, count) of a batch slot with the keys of `snapshot`: strict base64, rules
   * 2-6, both decryption layers, then one 56-byte record per token (src/engine/wire/slot.ts). A record
   * with RECORD_DECODED set still needs rules 1 and 7-9, which the worker applies. With
   * `euidSnapshot` (a buffer, or null while EUID has no keys) the batch is dual-scope: `snapshot`
   * (or null) is UID2's, each token is decoded with the key set of the scope its header names
   * (token/scope.ts), a scope without a snapshot leaves its tokens to rule 1, and the records of
   * EUID-routed tokens carry RECORD_EUID.
   */
  decodeBatch(
    slot: SharedArrayBuffer,
    capacity: number,
    bytesCapacity: number,
    count: number,
    snapshot: SharedArrayBuffer | null,
    snapshotVersion: number,
    euidSnapshot?: SharedArrayBuffer | null,
  ): void;
  /**
   * In-process decoding of one token with the keys of `snapshot` (src/native/inline-decrypt.ts):
   * strict base64 and rules 2-6. Returns the status code (STATUS_BY_CODE order) of a token that
   * failed them, or, when both layers decrypted, the raw UID's text with the other fields in
   * `scratch` (INLINE_* indexes of inline-decrypt.ts); rules 1 and 7-9 are the caller's. Prepared
   * cipher contexts are kept for the few snapshots used most recently, each held only weakly.
   */
  decodeOne(token: string, snapshot: SharedArrayBuffer, snapshotVersion: number, scratch: Float64Array): number | string;
  /**
   * Test seam: key snapshots decodeOne() holds contexts for, the cipher contexts alive across
   * them, and how many snapshots it ever opened (each a table miss).
   */
  inlineStats(): { keySets: number; contexts: number; opened: number };
  /** Test seam: opens each `iv | ciphertext | tag` blob with ONE prepared AES-256-GCM context. */
  gcmDecrypt(key: Uint8Array, blobs: readonly Uint8Array[]): (Buffer | null)[];
  /** Mean nanoseconds of the two GCM decryptions of one v4 token with prepared contexts. */
  benchGcmFloor(iterations: number, uidLength?: number): number;
  /**
   * `flock(fd, LOCK_EX | LOCK_NB)` (native/src/file-lock.h): 0 when taken, else the errno
   * (EWOULDBLOCK: another open file description holds it), -1 where there is no flock. The opt-out
   * log's writer lock (src/optout/file/lock.ts); closing the descriptor releases it.
   */
  lockFile(fd: number): number;
  /** The OpenSSL the addon runs on (Node's own). */
  readonly opensslVersion: string;
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIBC = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
/** Names one addon file to load instead of the candidates below. */
const ADDON_ENV = 'UID2_ENGINE_NATIVE_ADDON';
/** Where the addon may be, in the order tried. */
const CANDIDATES = [
  fileURLToPath(new URL(`../../prebuilds/${process.platform}-${process.arch}/uid2-engine.${LIBC}.node`, import.meta.url)),
  fileURLToPath(new URL('../../native/build/Release/uid2_native.node', import.meta.url)),
];

let loaded: { addon: NativeAddon | null; path: string | null; reason: string } | undefined;

/** The addon, or `null` when none is there or none loads. Loads once per thread. */
export function loadNative(): NativeAddon | null {
  if (!loaded) {
    loaded = tryLoad();
    if (!loaded.addon && isMainThread) {
      process.stderr.write(`uid2-engine: native addon unavailable (${loaded.reason}); decrypting with node:crypto, 10-20x slower (docs/native.md)\n`);
    }
  }
  return loaded.addon;
}

/** Why loadNative() returned null (empty when it did not). */
export function nativeUnavailableReason(): string {
  loadNative();
  return loaded!.reason;
}

/** The file loadNative() loaded the addon from, or `null` when it found none. */
export function nativeAddonPath(): string | null {
  loadNative();
  return loaded!.path;
}

function tryLoad(): { addon: NativeAddon | null; path: string | null; reason: string } {
  const require = createRequire(import.meta.url);
  const reasons: string[] = [];
  const override = process.env[ADDON_ENV];
  for (const path of override ? [resolve(override)] : CANDIDATES) {
    const name = override ? `${ADDON_ENV}=${path}` : relative(PACKAGE_ROOT, path);
    if (!existsSync(path)) {
      reasons.push(`no ${name}`);
      continue;
    }
    try {
      return { addon: require(path) as NativeAddon, path, reason: '' };
    } catch (err) {
      // A binary for another libc or a corrupt file: try the next one rather than crash.
      reasons.push(`${name} does not load: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { addon: null, path: null, reason: reasons.join('; ') };
}
