/**
 * Email normalization exactly as the UID2 operator does it (uid2-operator `InputUtil`, which the
 * official SDKs copy), so a hash made here is the hash the service would make:
 *
 *   - the first `@` splits the address; any second `@` makes it invalid;
 *   - before the `@`, every space (U+0020 only) is dropped;
 *   - after the `@`, trailing spaces are dropped; other spaces stay where they are;
 *   - only ASCII `A`-`Z` are lowercased; every other character is kept as it is;
 *   - when the domain is exactly `gmail.com`, the local part loses its dots and everything from
 *     the first `+` on;
 *   - an empty local part or an empty domain makes the address invalid.
 *
 * Nothing else is checked: `+test@test.com` and `a@b` are valid, as they are to the operator.
 */
import { sha256Base64 } from './sha256.js';

const GMAIL = 'gmail.com';
const AT = 64;
const SPACE = 32;

/** ASCII-only lowercasing of text that has non-ASCII characters (toLowerCase() would change those too). */
function lowerAsciiOnly(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

/** What one pass over the address found. */
interface Scan {
  at: number;
  upper: boolean;
  space: boolean;
  nonAscii: boolean;
}

/** One pass: the position of the only `@` (-1 if none; -2 if more than one) and what needs work. */
function scan(email: string): Scan {
  let at = -1;
  let upper = false;
  let space = false;
  let nonAscii = false;
  for (let i = 0; i < email.length; i++) {
    const c = email.charCodeAt(i);
    if (c === AT) {
      if (at >= 0) return { at: -2, upper, space, nonAscii };
      at = i;
    } else if (c === SPACE) space = true;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c >= 128) nonAscii = true;
  }
  return { at, upper, space, nonAscii };
}

function normalizeScanned(email: string, s: Scan): string | null {
  const { at } = s;
  if (at < 0) return null;
  const text = s.upper ? (s.nonAscii ? lowerAsciiOnly(email) : email.toLowerCase()) : email;
  let end = text.length;
  if (s.space) while (end > at + 1 && text.charCodeAt(end - 1) === SPACE) end--;
  if (end === at + 1) return null;
  const gmail = end - at - 1 === GMAIL.length && text.startsWith(GMAIL, at + 1);
  // The common case: nothing to drop, so the (lowercased) text is the answer.
  if (!s.space && !gmail) return at === 0 ? null : text;
  let local = s.space ? text.slice(0, at).replaceAll(' ', '') : text.slice(0, at);
  if (gmail) {
    const plus = local.indexOf('+');
    if (plus >= 0) local = local.slice(0, plus);
    local = local.replaceAll('.', '');
  }
  if (local.length === 0) return null;
  return `${local}@${text.slice(at + 1, end)}`;
}

/**
 * The normalized form of an email address, or `null` when the operator would refuse it.
 * @example normalizeEmail(' Jane.Doe+news@GMail.com ') === 'janedoe@gmail.com'
 */
export function normalizeEmail(email: string): string | null {
  if (typeof email !== 'string') return null;
  return normalizeScanned(email, scan(email));
}

/**
 * Base64 SHA-256 of the normalized email (what `email_hash` carries), or `null` when the
 * address is invalid.
 */
export function normalizeAndHashEmail(email: string): string | null {
  if (typeof email !== 'string') return null;
  const s = scan(email);
  const normalized = normalizeScanned(email, s);
  return normalized === null ? null : sha256Base64(normalized, s.nonAscii);
}
