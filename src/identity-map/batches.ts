/**
 * The caller's identities, turned into requests lazily, batch by batch, so that normalizing and
 * hashing the next batch overlaps the request in flight and only a batch or two of hashes exist
 * at a time:
 *
 *   emails ─ normalizeAndHashEmail ─┐                      invalid ─► INVALID_IDENTIFIER, no request
 *   phones ─ normalizeAndHashPhone ─┤                      valid   ─► email_hash / phone_hash list
 *   emailHashes ─ normalizeHash ────┤─► one flat order ─►  every `maxPerRequest` valid identities
 *   phoneHashes ─ normalizeHash ────┘   (outcome index)    make one PreparedBatch
 *
 * An outcome index is the identity's position in the flat order (emails, phones, emailHashes,
 * phoneHashes), which result.ts slices back into the caller's four lists.
 */
import { InvalidArgumentError } from '../errors.js';
import { normalizeAndHashEmail } from '../identity/email.js';
import { normalizeHash } from '../identity/hash.js';
import { normalizeAndHashPhone } from '../identity/phone.js';
import { INVALID_IDENTIFIER, type IdentityMapOutcome } from './outcome.js';
import { identityMapPayload } from './request.js';
import type { AnswerList } from './response.js';

/** What `generateIdentityMap` takes: any of the four lists, each identity as the caller holds it. */
export interface IdentityMapInput {
  /** Email addresses, normalized or not (normalized and hashed here; never sent as they are). */
  emails?: readonly string[];
  /** Phone numbers in E.164 form (`+` and 10 to 15 digits); anything else is an invalid identifier. */
  phones?: readonly string[];
  /** SHA-256 of normalized emails: 44-character base64 or 64 hex digits. */
  emailHashes?: readonly string[];
  /** SHA-256 of normalized phone numbers: 44-character base64 or 64 hex digits. */
  phoneHashes?: readonly string[];
}

/** The four input lists in their flat order, with the hash each is sent as. */
export const INPUT_KINDS = [
  { key: 'emails', field: 'email_hash', hash: normalizeAndHashEmail },
  { key: 'phones', field: 'phone_hash', hash: normalizeAndHashPhone },
  { key: 'emailHashes', field: 'email_hash', hash: normalizeHash },
  { key: 'phoneHashes', field: 'phone_hash', hash: normalizeHash },
] as const;

export type InputKey = (typeof INPUT_KINDS)[number]['key'];

/** The input after its shape was checked: four lists (absent ones empty). */
export type CheckedInput = Readonly<Record<InputKey, readonly string[]>>;

/** One request, ready to send, and where each of its answers goes. */
export interface PreparedBatch {
  payload: string;
  lists: AnswerList[];
  /** Identities in the request. */
  size: number;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Checks the input's shape (messages name the list and index, never the value).
 * @throws InvalidArgumentError
 */
export function checkInput(input: unknown): CheckedInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError('input must be an object with emails, phones, emailHashes and/or phoneHashes');
  }
  const given = input as Record<string, unknown>;
  const unknownKey = Object.keys(given).find((k) => !INPUT_KINDS.some((kind) => kind.key === k));
  if (unknownKey !== undefined) throw new InvalidArgumentError(`input.${unknownKey.slice(0, 40)} is not one of emails, phones, emailHashes, phoneHashes`);
  const checked = {} as Record<InputKey, readonly string[]>;
  for (const { key } of INPUT_KINDS) {
    const list = given[key];
    if (list === undefined || list === null) {
      checked[key] = EMPTY;
      continue;
    }
    if (!Array.isArray(list)) throw new InvalidArgumentError(`input.${key} must be an array of strings`);
    for (let i = 0; i < list.length; i++) {
      if (typeof list[i] !== 'string') throw new InvalidArgumentError(`input.${key}[${i}] is not a string`);
    }
    checked[key] = list as string[];
  }
  return checked;
}

/** Number of identities in the input. */
export function inputSize(input: CheckedInput): number {
  return INPUT_KINDS.reduce((n, kind) => n + input[kind.key].length, 0);
}

/**
 * Yields the input's requests of at most `maxPerRequest` valid identities each, hashing as it
 * goes; invalid identities are written to `outcomes` at once and sent nowhere.
 */
export function* prepareBatches(input: CheckedInput, outcomes: IdentityMapOutcome[], maxPerRequest: number): Generator<PreparedBatch> {
  let emailHashes: string[] = [];
  let phoneHashes: string[] = [];
  let emailTargets: number[] = [];
  let phoneTargets: number[] = [];
  const take = (): PreparedBatch => {
    const lists: AnswerList[] = [];
    if (emailTargets.length > 0) lists.push({ field: 'email_hash', targets: emailTargets });
    if (phoneTargets.length > 0) lists.push({ field: 'phone_hash', targets: phoneTargets });
    const batch = { payload: identityMapPayload({ emailHashes, phoneHashes }), lists, size: emailTargets.length + phoneTargets.length };
    emailHashes = [];
    phoneHashes = [];
    emailTargets = [];
    phoneTargets = [];
    return batch;
  };
  let index = 0;
  for (const kind of INPUT_KINDS) {
    const isEmail = kind.field === 'email_hash';
    for (const identity of input[kind.key]) {
      const hash = kind.hash(identity);
      if (hash === null) {
        outcomes[index++] = INVALID_IDENTIFIER;
        continue;
      }
      (isEmail ? emailHashes : phoneHashes).push(hash);
      (isEmail ? emailTargets : phoneTargets).push(index++);
      if (emailTargets.length + phoneTargets.length === maxPerRequest) yield take();
    }
  }
  if (emailTargets.length + phoneTargets.length > 0) yield take();
}
