/**
 * SHA-256 of identity text, base64, byte for byte as the UID2 operator computes it: Java's
 * `String.getBytes()` (UTF-8) then `MessageDigest`. One detail differs from Node's own UTF-8
 * encoder: Java writes `?` for an unpaired surrogate where Node writes U+FFFD, so such text is
 * rewritten first (the check is skipped for ASCII text, which is almost all of it).
 */
import * as crypto from 'node:crypto';

// crypto.hash() (Node >= 20.12) is a one-shot call, several times faster than createHash() for
// a few dozen bytes; older Node 20 releases fall back to createHash().
const oneShot: ((algorithm: string, data: string, encoding: 'base64') => string) | undefined =
  typeof crypto.hash === 'function' ? crypto.hash : undefined;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** UTF-8 as Java encodes it: an unpaired surrogate becomes `?`. */
function javaWellFormed(text: string, nonAscii: boolean): string {
  return nonAscii && LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '?') : text;
}

/**
 * Base64 of SHA-256 over the UTF-8 of `text`.
 * @param nonAscii false when the caller already knows `text` is ASCII (skips the surrogate check)
 */
export function sha256Base64(text: string, nonAscii = true): string {
  const data = javaWellFormed(text, nonAscii);
  return oneShot ? oneShot('sha256', data, 'base64') : crypto.createHash('sha256').update(data, 'utf8').digest('base64');
}
