/**
 * The local operator's `POST /v3/identity/map`: the answer JSON for an opened request payload
 * (the operator opens and seals the envelope as for every service route), as uid2-operator's
 * `UIDOperatorVerticle.handleIdentityMapV3` answers:
 *
 *   payload  {"email": [...], "email_hash": [...], "phone": [...], "phone_hash": [...]} (any subset)
 *   answer   {"status": "success", "body": {all four lists, each entry in request order}}
 *   entry    {"u": raw UID, "p": previous raw UID | null, "r": refresh-from, Unix seconds}
 *            | {"e": "optout"} | {"e": "invalid identifier"}
 *
 * Refusals as the real service's (HTTP 400, `client_error`): an empty payload or `{}` ("Required
 * Parameter Missing: ..."), an unknown field, a list that is not an array, or an entry that is
 * null, an object or an array ("Incorrect request format"; Jackson turns numbers and booleans
 * into text, so those are identities that fail normalization). A list given as null counts as
 * empty. There is no per-request identity limit beyond the 1 MB body limit, as in the service.
 */
import { normalizeAndHashEmail } from '../identity/email.js';
import { normalizeHash } from '../identity/hash.js';
import { normalizeAndHashPhone } from '../identity/phone.js';
import type { IdentityType } from '../types.js';
import type { OperatorIdentities } from './identities.js';
import { RouteRefusal } from './routes.js';

const MISSING = 'Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified';
const INCORRECT = 'Incorrect request format';

/** The four request lists: the identity type each maps as and how its text becomes an identity hash. */
const LISTS: readonly { field: string; type: IdentityType; hash: (text: string) => string | null }[] = [
  { field: 'email', type: 'Email', hash: normalizeAndHashEmail },
  { field: 'email_hash', type: 'Email', hash: normalizeHash },
  { field: 'phone', type: 'Phone', hash: normalizeAndHashPhone },
  { field: 'phone_hash', type: 'Phone', hash: normalizeHash },
];

const OPTOUT_ENTRY = Object.freeze({ e: 'optout' });
const INVALID_ENTRY = Object.freeze({ e: 'invalid identifier' });

/** An entry as Jackson reads it into a String: text, number and boolean scalars only. */
function entryText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new RouteRefusal(400, INCORRECT);
}

/**
 * The answer JSON for a `/v3/identity/map` payload.
 * @throws RouteRefusal (400) for the refusals above
 */
export function identityMapJson(payload: Buffer, identities: OperatorIdentities, nowMs: number): object {
  // The operator has already checked that a non-empty payload is a JSON object.
  const request = (payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'))) as Record<string, unknown>;
  const fields = Object.keys(request);
  if (fields.length === 0) throw new RouteRefusal(400, MISSING);
  if (fields.some((f) => !LISTS.some((l) => l.field === f))) throw new RouteRefusal(400, INCORRECT);
  const lists = LISTS.map((list) => {
    const value = request[list.field];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new RouteRefusal(400, INCORRECT);
    // Every entry is read before any is mapped: one bad entry refuses the whole request.
    return value.map(entryText);
  });
  const body: Record<string, object[]> = {};
  LISTS.forEach((list, k) => {
    body[list.field] = lists[k]!.map((text) => {
      const hash = list.hash(text);
      if (hash === null) return INVALID_ENTRY;
      const found = identities.lookup(list.type, identities.firstLevelHash(Buffer.from(hash, 'base64')), nowMs, 'map');
      if (found.optedOut) return OPTOUT_ENTRY;
      // uid2-operator writes `refreshFrom / 1000` (whole seconds), whatever its page says.
      return { u: found.rawUid, p: found.previousRawUid, r: Math.floor(found.refreshFromMs / 1000) };
    });
  });
  return { status: 'success', body };
}
