/** The CLI's JSON-lines output records. Absent fields are null; times are ISO 8601 strings. */
import type { DecryptionResult, EncryptionResult } from '../types.js';

function isoOrNull(date: Date | undefined): string | null {
  return date !== undefined && Number.isFinite(date.getTime()) ? date.toISOString() : null;
}

export interface DecryptionRecord {
  status: string;
  uid: string | null;
  siteId: number | null;
  identityType: string | null;
  advertisingTokenVersion: number | null;
  isClientSideGenerated: boolean | null;
  established: string | null;
  expiry: string | null;
  /** Only with `--optout-store`. */
  optedOut?: boolean;
}

export function decryptionRecord(result: DecryptionResult): DecryptionRecord {
  const record: DecryptionRecord = {
    status: result.status,
    uid: result.uid ?? null,
    siteId: result.siteId ?? null,
    identityType: result.identityType ?? null,
    advertisingTokenVersion: result.advertisingTokenVersion ?? null,
    isClientSideGenerated: result.isClientSideGenerated ?? null,
    established: isoOrNull(result.established),
    expiry: isoOrNull(result.expiry),
  };
  if (result.optedOut !== undefined) record.optedOut = result.optedOut;
  return record;
}

export function encryptionRecord(result: EncryptionResult): { status: string; token: string | null } {
  return { status: result.status, token: result.encryptedData ?? null };
}
