import type { IdentityScope } from '../types.js';

/**
 * What token decryption needs from a key set. `KeySet` implements it on the main thread; the
 * engine's workers implement it over a shared-memory snapshot (keys/snapshot.ts), so both run
 * the very same rule code.
 */
export interface DecryptionKeys {
  readonly identityScope: IdentityScope;
  readonly allowClockSkewSeconds: number;
  readonly maxBidstreamLifetimeSeconds: number;
  readonly maxSharingLifetimeSeconds: number;
  isValid(nowMs: number): boolean;
  /** The key's secret, and its site id for the result's `siteKeySiteId`. */
  getKey(id: number): { readonly secret: Uint8Array; readonly siteId: number | undefined } | undefined;
  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | null | undefined): boolean;
}
