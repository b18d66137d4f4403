/**
 * Raw UIDs as opt-outs name them: standard base64 of 32 bytes (the SHA-256-derived identity
 * hash) or of 33 bytes (a metadata byte, then the 32 hash bytes). Everything that enters the
 * opt-out store goes through `parseRawUid`, so the store only ever holds well-formed raw UIDs.
 */
import { base64ByteLength, decodeBase64Strict } from '../codec/base64.js';

/** Longest raw UID, bytes. */
export const MAX_RAW_UID_BYTES = 33;

/** True for a buffer that is a raw UID (32 or 33 bytes). */
export function isRawUidBytes(bytes: Uint8Array): boolean {
  return bytes.length === 32 || bytes.length === 33;
}

/**
 * The bytes of a raw UID given as standard base64 (padding optional), or `null` when `text` is
 * not base64 of 32 or 33 bytes. A space is read as '+': a webhook URL whose identity was not
 * percent-encoded turns '+' into a space when decoded, and base64 has no spaces of its own.
 */
export function parseRawUid(text: unknown): Buffer | null {
  if (typeof text !== 'string' || text.length < 43 || text.length > 44) return null;
  const bytes = decodeBase64Strict(text.includes(' ') ? text.replaceAll(' ', '+') : text, 'standard');
  return bytes && isRawUidBytes(bytes) ? bytes : null;
}

/**
 * True when `text` is a raw UID exactly as the service writes one: standard base64 of 32 or 33
 * bytes, padded (44 characters). Checks without decoding, for answers carrying thousands.
 */
export function isRawUidText(text: unknown): text is string {
  if (typeof text !== 'string' || text.length !== 44) return false;
  const bytes = base64ByteLength(text, 'standard');
  return bytes === 32 || bytes === 33;
}
