/**
 * Email and phone hashes given by the caller (`email_hash`, `phone_hash`): a SHA-256 digest as
 * 44 characters of standard base64 or 64 hex digits (either case), as the operator accepts them,
 * always handed on as canonical base64.
 *
 * One deliberate difference: the operator decodes any 44-character base64, so it would also take
 * 31 or 33 bytes (`==` padding, or none) as a "hash". Those are not SHA-256 digests and would map
 * to an identity nobody has, so they are refused here rather than sent on as a silent wrong hash.
 */

const BASE64_DIGEST = /^[A-Za-z0-9+/]{43}=$/;
const HEX_DIGEST = /^[0-9A-Fa-f]{64}$/;

/**
 * The canonical base64 of a SHA-256 digest given as base64 or hex, or `null` for anything else.
 * @example normalizeHash('0C7E6A40...8A3B') === 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs='
 */
export function normalizeHash(hash: string): string | null {
  if (typeof hash !== 'string') return null;
  if (hash.length === 44 && BASE64_DIGEST.test(hash)) {
    // Re-encoding clears unused low bits of the last character, as decoding does at the operator.
    return Buffer.from(hash, 'base64').toString('base64');
  }
  if (hash.length === 64 && HEX_DIGEST.test(hash)) return Buffer.from(hash, 'hex').toString('base64');
  return null;
}
