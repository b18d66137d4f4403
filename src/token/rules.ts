/**
 * The decryption rules every path shares, each in one place: rule 1 (keys), the shape half of
 * rule 2, and rules 7-9 (expiry, the CSTG domain or app check, lifetime and clock skew). Rules
 * 2-6 proper (base64, version, scope, both decryption layers) belong to a decoder: token/decrypt.ts
 * in TypeScript, native/src in C++. The order is the official SDKs' (listed under "Statuses" in
 * the API reference): token/decrypt.ts evaluateToken() runs them all, and every other path (the
 * native addon's callers, the engine's workers, the token cache) calls these same functions in
 * the same order.
 */
import type { DecryptionKeys } from '../keys/decryption-keys.js';
import { type ClientType, DecryptionStatus } from '../types.js';
import { MAX_TOKEN_LENGTH } from './layout.js';

/** Rule 1: no keys ever loaded, or every key expired by `nowMs`; `undefined` when keys are usable. */
export function keysRule(keys: DecryptionKeys | null | undefined, nowMs: number): DecryptionStatus | undefined {
  if (!keys) return DecryptionStatus.NotInitialized;
  if (!keys.isValid(nowMs)) return DecryptionStatus.KeysNotSynced;
  return undefined;
}

/** Rule 2, its shape half: token text of a length a token can have (anything else is InvalidPayload). */
export function hasTokenShape(token: unknown): token is string {
  return typeof token === 'string' && token.length >= 4 && token.length <= MAX_TOKEN_LENGTH;
}

/** The token fields rules 7-9 read. */
export interface PolicyFields {
  expiresMs: number;
  /** `undefined` for v2 tokens, which then use `nowMs`. */
  generatedMs: number | undefined;
  siteId: number;
  isClientSideGenerated: boolean;
}

function hasValidLifetime(keys: DecryptionKeys, clientType: ClientType, token: PolicyFields, nowMs: number): boolean {
  if (clientType === 'legacy') return true;
  const maxLifetime = clientType === 'bidstream' ? keys.maxBidstreamLifetimeSeconds : keys.maxSharingLifetimeSeconds;
  const generatedMs = token.generatedMs ?? nowMs;
  if (Math.floor((token.expiresMs - generatedMs) / 1000) > maxLifetime) return false;
  return Math.floor((generatedMs - nowMs) / 1000) <= keys.allowClockSkewSeconds;
}

/**
 * Rules 7-9 for a token whose layers both decrypted: expiry, the CSTG domain/app check, then
 * lifetime and clock skew. Shared by every backend, so the policy exists once.
 */
export function applyPolicyRules(
  keys: DecryptionKeys,
  clientType: ClientType,
  domainOrAppName: string | null | undefined,
  nowMs: number,
  token: PolicyFields,
): DecryptionStatus {
  // Rule 7: expiry (a token that expires exactly now is still valid).
  if (nowMs > token.expiresMs) return DecryptionStatus.ExpiredToken;
  // Rule 8: client-side generated tokens must be seen on one of their site's domains or apps.
  if (
    token.isClientSideGenerated &&
    clientType !== 'sharing' &&
    !keys.isDomainOrAppNameAllowed(token.siteId, domainOrAppName)
  ) {
    return DecryptionStatus.DomainOrAppNameCheckFailed;
  }
  // Rule 9: lifetime and clock skew.
  if (!hasValidLifetime(keys, clientType, token, nowMs)) return DecryptionStatus.InvalidTokenLifetime;
  return DecryptionStatus.Success;
}
