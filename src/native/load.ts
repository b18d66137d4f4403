/**
 * Loads the optional native addon (native/build/Release/uid2_native.node, built by
 * scripts/build-native.mjs at install time). The path is resolved from this file, two levels
 * below the package root both in src/ (tests) and in dist/ (the published build), so the same
 * code finds the addon from either. A missing or unloadable addon is not an error here: the
 * engine and the clients then use node:crypto, unless UID2_ENGINE_BACKEND=native demands the addon.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon exports (native/src/addon.cc). */
export interface NativeAddon {
  /**
   * Decodes tokens [0, count) of a batch slot with the keys of `snapshot`: strict base64, rules
   * 2-6, both decryption layers, then one 48-byte record per token (src/engine/slot.ts). A record
   * with RECORD_DECODED set still needs rules 1 and 7-9, which the worker applies.
   */
  decodeBatch(
    slot: SharedArrayBuffer,
    capacity: number,
    bytesCapacity: number,
    count: number,
    snapshot: SharedArrayBuffer,
    snapshotVersion: number,
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
  /** The OpenSSL the addon runs on (Node's own). */
  readonly opensslVersion: string;
}

/** Where the addon is expected, relative to the package root. */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/uid2_native.node', import.meta.url));

let loaded: { addon: NativeAddon | null; reason: string } | undefined;

/** The addon, or `null` when it is missing or fails to load. Loads once per thread. */
export function loadNative(): NativeAddon | null {
  if (!loaded) loaded = tryLoad();
  return loaded.addon;
}

/** Why loadNative() returned null (empty when it did not). */
export function nativeUnavailableReason(): string {
  loadNative();
  return loaded!.reason;
}

function tryLoad(): { addon: NativeAddon | null; reason: string } {
  if (!existsSync(NATIVE_ADDON_PATH)) {
    return { addon: null, reason: `${NATIVE_ADDON_PATH} is missing (build it with "npm run install")` };
  }
  try {
    const require = createRequire(import.meta.url);
    return { addon: require(NATIVE_ADDON_PATH) as NativeAddon, reason: '' };
  } catch (err) {
    // An addon built for another Node ABI, or a corrupt file: fall back rather than crash.
    return { addon: null, reason: `${NATIVE_ADDON_PATH} does not load: ${(err as Error).message}` };
  }
}
