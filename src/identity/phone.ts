/**
 * Phone numbers as the UID2 operator accepts them (uid2-operator `InputUtil`): already in E.164
 * form, `+` then 10 to 15 ASCII digits and nothing else. The operator does not normalize phone
 * numbers, it only checks them, so neither does this library: `+1 (555) 555-5555` is refused,
 * not rewritten.
 */
import { sha256Base64 } from './sha256.js';

const MIN_DIGITS = 10;
const MAX_DIGITS = 15;

/** Whether `phone` is `+` followed by 10 to 15 ASCII digits. */
export function isNormalizedPhone(phone: string): boolean {
  if (typeof phone !== 'string' || phone.length < MIN_DIGITS + 1 || phone.length > MAX_DIGITS + 1) return false;
  if (phone.charCodeAt(0) !== 43) return false;
  for (let i = 1; i < phone.length; i++) {
    const c = phone.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Base64 SHA-256 of a normalized phone number (what `phone_hash` carries), or `null` when it is not normalized. */
export function normalizeAndHashPhone(phone: string): string | null {
  return isNormalizedPhone(phone) ? sha256Base64(phone, false) : null;
}
