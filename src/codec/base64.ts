/**
 * Strict base64 decoding. Node's Buffer.from(text, 'base64') silently skips characters outside
 * the alphabet (whitespace included); the official SDKs reject them, and so must we, so every
 * string is validated before Node's fast native decoder runs.
 *
 * Rules (those of Java's java.util.Base64 decoders, which the reference SDK uses):
 * - only alphabet characters, then at most two '=' at the very end;
 * - padding, when present, must complete the last 4-character unit exactly;
 * - without padding, a final unit of a single character is invalid (it holds no whole byte).
 */

type Base64Alphabet = 'standard' | 'url' | 'either';

// Per character code: 1 = standard-only (+ /), 2 = url-only (- _), 3 = in both alphabets.
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch)) CLASS[c] = 3;
}
CLASS['+'.charCodeAt(0)] = 1;
CLASS['/'.charCodeAt(0)] = 1;
CLASS['-'.charCodeAt(0)] = 2;
CLASS['_'.charCodeAt(0)] = 2;

const ALLOWED: Record<Base64Alphabet, number> = { standard: 1, url: 2, either: 3 };
const EQUALS = 61;

/** Length of the data part of `text` once valid padding is removed, or -1 if `text` is invalid. */
function validate(text: string, alphabet: Base64Alphabet): number {
  const allowed = ALLOWED[alphabet];
  let end = text.length;
  let padding = 0;
  while (end > 0 && text.charCodeAt(end - 1) === EQUALS && padding < 3) {
    end--;
    padding++;
  }
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CLASS[c]! & allowed) === 0) return -1;
  }
  const rest = end & 3;
  if (rest === 1) return -1;
  if (padding > 0 && (rest === 0 || rest + padding !== 4)) return -1;
  return end;
}

// Per character code: its 6-bit value in either alphabet (the class above says which), else 64.
const VALUE = new Uint8Array(128).fill(64);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split('').forEach((ch, v) => (VALUE[ch.charCodeAt(0)] = v));
VALUE['+'.charCodeAt(0)] = VALUE['-'.charCodeAt(0)] = 62;
VALUE['/'.charCodeAt(0)] = VALUE['_'.charCodeAt(0)] = 63;

/**
 * The three bytes the first four characters of `text` decode to, as one 24-bit number (first byte
 * highest), or -1 when `text` is shorter or they are not four characters of one alphabet (the URL
 * one when any of them is `-` or `_`, else the standard one; no padding). A token's header, read
 * without allocating (native/src/base64.h DecodeHeader reads it the same way).
 */
export function decodeHeader(text: string): number {
  if (text.length < 4) return -1;
  const a = text.charCodeAt(0);
  const b = text.charCodeAt(1);
  const c = text.charCodeAt(2);
  const d = text.charCodeAt(3);
  if ((a | b | c | d) >= 128) return -1;
  const va = VALUE[a]!;
  const vb = VALUE[b]!;
  const vc = VALUE[c]!;
  const vd = VALUE[d]!;
  // 64 marks a character of neither alphabet; characters of both alphabets' own kinds (+ or /
  // with - or _) leave no class in common.
  if ((va | vb | vc | vd) & 64 || (CLASS[a]! & CLASS[b]! & CLASS[c]! & CLASS[d]!) === 0) return -1;
  return (va << 18) | (vb << 12) | (vc << 6) | vd;
}

/** Decodes `text` if it is strictly valid base64 in `alphabet`; otherwise returns `null`. */
export function decodeBase64Strict(text: string, alphabet: Base64Alphabet): Buffer | null {
  const end = validate(text, alphabet);
  if (end < 0) return null;
  // Node's decoder accepts both alphabets; validation above already enforced the right one.
  return Buffer.from(end === text.length ? text : text.slice(0, end), 'base64');
}

/** The number of bytes `text` decodes to if it is strictly valid base64 in `alphabet`, else -1 (nothing is allocated). */
export function base64ByteLength(text: string, alphabet: Base64Alphabet): number {
  const end = validate(text, alphabet);
  return end < 0 ? -1 : (end * 3) >> 2;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Base64url without padding, the encoding of v4 tokens. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
