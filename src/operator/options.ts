/**
 * Options of the local operator, their defaults and their up-front validation. The defaults
 * mirror the production UID2 service: 30-day keys rotated daily, 3-day advertising tokens,
 * 30-day sharing tokens, 30 minutes of allowed clock skew, lifetime limits equal to the token
 * lifetimes (the real operator's defaults when `max_*_lifetime_seconds` is not configured).
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { decodeSecretKey } from '../service/envelope.js';
import { integerOption } from '../util/integer-option.js';
import type { IdentityScope } from '../types.js';
import { resolveOptOutWebhookOptions, type OptOutWebhookOptions, type ResolvedOptOutWebhookOptions } from './optout-delivery.js';

/** A publisher site: its id and the domain and app names its CSTG tokens may come from. */
export interface OperatorSite {
  id: number;
  domainNames: readonly string[];
}

export interface LocalOperatorOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. Default 0. */
  port?: number;
  /** Identity scope of the keys and the minted tokens. Default `'UID2'`. */
  identityScope?: IdentityScope;
  /** The api key clients must send as `Authorization: Bearer`. Default: generated. */
  apiKey?: string;
  /** The client secret (base64 of 32 bytes). Default: generated. */
  secretKey?: string;
  /**
   * Publisher sites, each with its own keyset, sent as `site_data`. Default: site 1001
   * (`example.com`, `com.example.app`) and site 1002 (`news.example.org`).
   */
  sites?: readonly OperatorSite[];
  /** Site of the client's credentials: `caller_site_id`, owner of `default_keyset_id`. Default 9000. */
  callerSiteId?: number;
  /** How long each key lives, s. Must exceed `rotationIntervalSeconds`. Default 2 592 000 (30 days). */
  keyLifetimeSeconds?: number;
  /** A new key activates in every keyset this often, s. Default 86 400 (1 day). */
  rotationIntervalSeconds?: number;
  /** Lifetime of minted advertising tokens (`identity_expires` of generated ones), s. Default 259 200 (3 days). */
  tokenLifetimeSeconds?: number;
  /** `refresh_from` of generated tokens: this long after they are issued, s. Default 3600 (or `tokenLifetimeSeconds`, if shorter). */
  refreshIdentityAfterSeconds?: number;
  /** Lifetime of refresh tokens (`refresh_expires`), s. Default 2 592 000 (30 days, or `tokenLifetimeSeconds`, if longer). */
  refreshTokenLifetimeSeconds?: number;
  /**
   * Longest bidstream token lifetime; sent as `max_bidstream_lifetime_seconds` = this + 10 s.
   * At least `tokenLifetimeSeconds`, its default.
   */
  maxBidstreamLifetimeSeconds?: number;
  /** `token_expiry_seconds` of the sharing response, s. Default 2 592 000 (30 days). */
  sharingTokenExpirySeconds?: number;
  /**
   * Longest sharing token lifetime; sent as `max_sharing_lifetime_seconds` = this + 10 s.
   * Default `sharingTokenExpirySeconds`.
   */
  maxSharingLifetimeSeconds?: number;
  /** `allow_clock_skew_seconds`. Default 1800. */
  allowClockSkewSeconds?: number;
  /** Where and how to deliver opt-outs (see OptOutWebhookOptions). Default: no delivery. */
  optOutWebhook?: OptOutWebhookOptions | null;
  /** Salt buckets that raw UIDs are derived from (see operator/identities.ts). Default 1024. */
  saltBucketCount?: number;
  /** How long a bucket's salt lives before it is due to rotate, s. Default 31 536 000 (365 days). */
  saltRotationPeriodSeconds?: number;
  /**
   * Fraction of service requests (every route but `/local/...`) answered HTTP 429 with no body,
   * as the service's rate limit answers, chosen at random: 0 to 1. Default 0.
   */
  throttleFraction?: number;
}

export const DEFAULT_LOCAL_OPERATOR_OPTIONS = Object.freeze({
  port: 0,
  identityScope: 'UID2' as IdentityScope,
  sites: Object.freeze([
    Object.freeze({ id: 1001, domainNames: Object.freeze(['example.com', 'com.example.app']) }),
    Object.freeze({ id: 1002, domainNames: Object.freeze(['news.example.org']) }),
  ]) as readonly OperatorSite[],
  callerSiteId: 9000,
  keyLifetimeSeconds: 30 * 86_400,
  rotationIntervalSeconds: 86_400,
  tokenLifetimeSeconds: 3 * 86_400,
  refreshIdentityAfterSeconds: 3600,
  refreshTokenLifetimeSeconds: 30 * 86_400,
  sharingTokenExpirySeconds: 30 * 86_400,
  allowClockSkewSeconds: 1800,
  optOutWebhook: null,
  saltBucketCount: 1024,
  saltRotationPeriodSeconds: 365 * 86_400,
  throttleFraction: 0,
});

/**
 * Options with every default filled in and the credentials decided (the lifetime limits default
 * to the token lifetimes, so they are absent from DEFAULT_LOCAL_OPERATOR_OPTIONS).
 */
export type ResolvedOperatorOptions = Required<Omit<LocalOperatorOptions, 'optOutWebhook'>> & { optOutWebhook: ResolvedOptOutWebhookOptions | null };

/** Token fields are i32: site ids and lifetimes in seconds must fit. */
const MAX_I32 = 2_147_483_647;
/** The production service has 2^20 salt buckets; more would only cost memory. */
const MAX_SALT_BUCKETS = 1 << 20;

function positiveInteger(value: unknown, name: string, fallback: number, allowZero = false): number {
  return integerOption(value, `options.${name}`, fallback, MAX_I32, allowZero ? 0 : 1);
}

function validateSites(value: unknown): readonly OperatorSite[] {
  if (value === undefined) return DEFAULT_LOCAL_OPERATOR_OPTIONS.sites;
  if (!Array.isArray(value) || value.length === 0) throw new InvalidArgumentError('options.sites must be a non-empty array');
  const seen = new Set<number>();
  return value.map((site: unknown, i) => {
    const s = site as Partial<OperatorSite> | null;
    if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.id) || (s.id as number) <= 0 || (s.id as number) > MAX_I32) {
      throw new InvalidArgumentError(`options.sites[${i}].id must be a positive integer no larger than ${MAX_I32}`);
    }
    if (!Array.isArray(s.domainNames) || s.domainNames.some((n) => typeof n !== 'string' || n === '')) {
      throw new InvalidArgumentError(`options.sites[${i}].domainNames must be an array of non-empty strings`);
    }
    if (seen.has(s.id as number)) throw new InvalidArgumentError(`options.sites[${i}].id ${s.id} is a duplicate`);
    seen.add(s.id as number);
    return Object.freeze({ id: s.id as number, domainNames: Object.freeze([...s.domainNames]) });
  });
}

function fractionOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new InvalidArgumentError(`options.${name} must be a number from 0 to 1`);
  return value;
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolveOperatorOptions(options: LocalOperatorOptions = {}): ResolvedOperatorOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const d = DEFAULT_LOCAL_OPERATOR_OPTIONS;
  const port = integerOption(options.port, 'options.port', d.port, 65_535, 0);
  const identityScope = options.identityScope ?? d.identityScope;
  if (identityScope !== 'UID2' && identityScope !== 'EUID') throw new InvalidArgumentError('options.identityScope must be "UID2" or "EUID"');
  const apiKey = options.apiKey ?? `UID2-O-L-${randomBytes(24).toString('base64url')}`;
  if (typeof apiKey !== 'string' || !/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new InvalidArgumentError('options.apiKey must be printable ASCII without spaces');
  }
  const secretKey = options.secretKey ?? randomBytes(32).toString('base64');
  decodeSecretKey(secretKey);
  const tokenLifetimeSeconds = positiveInteger(options.tokenLifetimeSeconds, 'tokenLifetimeSeconds', d.tokenLifetimeSeconds);
  const sharingTokenExpirySeconds = positiveInteger(options.sharingTokenExpirySeconds, 'sharingTokenExpirySeconds', d.sharingTokenExpirySeconds);
  const resolved: ResolvedOperatorOptions = {
    port,
    identityScope,
    apiKey,
    secretKey,
    sites: validateSites(options.sites),
    callerSiteId: positiveInteger(options.callerSiteId, 'callerSiteId', d.callerSiteId),
    keyLifetimeSeconds: positiveInteger(options.keyLifetimeSeconds, 'keyLifetimeSeconds', d.keyLifetimeSeconds),
    rotationIntervalSeconds: positiveInteger(options.rotationIntervalSeconds, 'rotationIntervalSeconds', d.rotationIntervalSeconds),
    tokenLifetimeSeconds,
    // Defaults bend to a short or long token lifetime rather than refuse it.
    refreshIdentityAfterSeconds: positiveInteger(options.refreshIdentityAfterSeconds, 'refreshIdentityAfterSeconds', Math.min(d.refreshIdentityAfterSeconds, tokenLifetimeSeconds)),
    refreshTokenLifetimeSeconds: positiveInteger(options.refreshTokenLifetimeSeconds, 'refreshTokenLifetimeSeconds', Math.max(d.refreshTokenLifetimeSeconds, tokenLifetimeSeconds)),
    maxBidstreamLifetimeSeconds: positiveInteger(options.maxBidstreamLifetimeSeconds, 'maxBidstreamLifetimeSeconds', tokenLifetimeSeconds),
    sharingTokenExpirySeconds,
    maxSharingLifetimeSeconds: positiveInteger(options.maxSharingLifetimeSeconds, 'maxSharingLifetimeSeconds', sharingTokenExpirySeconds),
    allowClockSkewSeconds: positiveInteger(options.allowClockSkewSeconds, 'allowClockSkewSeconds', d.allowClockSkewSeconds, true),
    optOutWebhook: resolveOptOutWebhookOptions(options.optOutWebhook),
    saltBucketCount: integerOption(options.saltBucketCount, 'options.saltBucketCount', d.saltBucketCount, MAX_SALT_BUCKETS, 1),
    saltRotationPeriodSeconds: positiveInteger(options.saltRotationPeriodSeconds, 'saltRotationPeriodSeconds', d.saltRotationPeriodSeconds),
    throttleFraction: fractionOption(options.throttleFraction, 'throttleFraction', d.throttleFraction),
  };
  if (resolved.keyLifetimeSeconds <= resolved.rotationIntervalSeconds) {
    // Otherwise a keyset would have gaps with no active key between one expiry and the next activation.
    throw new InvalidArgumentError('options.keyLifetimeSeconds must be greater than options.rotationIntervalSeconds');
  }
  // The real operator refuses to start otherwise (UIDOperatorService.validateTokenDurations).
  if (resolved.refreshIdentityAfterSeconds > tokenLifetimeSeconds) {
    throw new InvalidArgumentError('options.refreshIdentityAfterSeconds must not exceed options.tokenLifetimeSeconds');
  }
  if (tokenLifetimeSeconds > resolved.refreshTokenLifetimeSeconds) {
    throw new InvalidArgumentError('options.tokenLifetimeSeconds must not exceed options.refreshTokenLifetimeSeconds');
  }
  if (resolved.maxBidstreamLifetimeSeconds < tokenLifetimeSeconds) {
    // The real operator refuses this configuration too: its own tokens would fail the limit.
    throw new InvalidArgumentError('options.maxBidstreamLifetimeSeconds must be at least options.tokenLifetimeSeconds');
  }
  return resolved;
}
