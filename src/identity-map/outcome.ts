/**
 * What mapping one identity can come to: mapped (the current raw UID, the previous one while it
 * is less than 90 days old, and when to map again) or unmapped (opted out, an invalid identifier,
 * or a reason this library does not know). The reason strings are the service's own.
 */

/** `e` of an unmapped entry as the service sends it, or `unknown` for any other text. */
export type UnmappedReason = 'optout' | 'invalid identifier' | 'unknown';

export interface MappedIdentity {
  readonly status: 'mapped';
  /** The raw UID now (standard base64). */
  readonly currentRawUid: string;
  /** The raw UID before the last salt rotation, while that rotation is under 90 days old; else null. */
  readonly previousRawUid: string | null;
  /** From this time on, mapping again may give a new raw UID: store it and re-map when it has passed. */
  readonly refreshFrom: Date;
}

export interface UnmappedIdentity {
  readonly status: 'unmapped';
  readonly reason: UnmappedReason;
  /** The service's text (printable, at most 40 characters): equals `reason` unless that is `unknown`. */
  readonly rawReason: string;
}

export type IdentityMapOutcome = MappedIdentity | UnmappedIdentity;

/** Shared answers for the two documented reasons (frozen: many identities point at them). */
export const OPTED_OUT: UnmappedIdentity = Object.freeze({ status: 'unmapped', reason: 'optout', rawReason: 'optout' });
export const INVALID_IDENTIFIER: UnmappedIdentity = Object.freeze({ status: 'unmapped', reason: 'invalid identifier', rawReason: 'invalid identifier' });
