/**
 * What `PublisherClient.generateToken()` takes, and the request payload it becomes. As the
 * official SDKs do, an email or phone number is normalized and hashed here, so only its hash
 * leaves the process (`email_hash`, `phone_hash`); a hash given by the caller is checked and
 * sent as canonical base64. Nothing invalid is sent: the service would only answer 400.
 */
import { InvalidIdentityError, InvalidArgumentError } from '../errors.js';
import { normalizeAndHashEmail } from '../identity/email.js';
import { normalizeHash } from '../identity/hash.js';
import { normalizeAndHashPhone } from '../identity/phone.js';

interface Consent {
  /** A TCF consent string: EUID requires it where TCF applies; UID2 ignores it. */
  tcfConsentString?: string;
}

/** Exactly one of an email, a phone number (E.164: `+` and 10-15 digits) or their SHA-256 hash. */
export type TokenGenerateInput =
  | ({ email: string } & Consent)
  | ({ phone: string } & Consent)
  | ({ emailHash: string } & Consent)
  | ({ phoneHash: string } & Consent);

/** The JSON payload of a `/v2/token/generate` request. */
export interface TokenGeneratePayload {
  email_hash?: string;
  phone_hash?: string;
  tcf_consent_string?: string;
}

const FIELDS = ['email', 'phone', 'emailHash', 'phoneHash'] as const;

/**
 * @throws InvalidArgumentError when not exactly one identity field is a string
 * @throws InvalidIdentityError when it does not normalize (the message never holds the value)
 */
export function toGeneratePayload(input: TokenGenerateInput): TokenGeneratePayload {
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('input must be an object with one of email, phone, emailHash, phoneHash');
  const fields = input as unknown as Record<string, unknown>;
  const given = FIELDS.filter((f) => fields[f] !== undefined);
  if (given.length !== 1) throw new InvalidArgumentError(`input must have exactly one of email, phone, emailHash, phoneHash (got ${given.length === 0 ? 'none' : given.join(', ')})`);
  const field = given[0]!;
  const value = fields[field];
  if (typeof value !== 'string') throw new InvalidArgumentError(`input.${field} must be a string`);
  const payload: TokenGeneratePayload = {};
  if (field === 'email') payload.email_hash = normalizeAndHashEmail(value) ?? fail('input.email is not a valid email address');
  else if (field === 'phone') payload.phone_hash = normalizeAndHashPhone(value) ?? fail('input.phone is not a normalized phone number (+ and 10 to 15 digits)');
  else if (field === 'emailHash') payload.email_hash = normalizeHash(value) ?? fail('input.emailHash is not a SHA-256 hash (44 base64 or 64 hex characters)');
  else payload.phone_hash = normalizeHash(value) ?? fail('input.phoneHash is not a SHA-256 hash (44 base64 or 64 hex characters)');
  const tcf = fields['tcfConsentString'];
  if (tcf !== undefined) {
    if (typeof tcf !== 'string') throw new InvalidArgumentError('input.tcfConsentString must be a string');
    payload.tcf_consent_string = tcf;
  }
  return payload;
}

function fail(message: string): never {
  throw new InvalidIdentityError(message);
}
