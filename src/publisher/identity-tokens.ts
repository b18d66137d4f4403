/**
 * A publisher's UID2 identity: what `/v2/token/generate` and `/v2/token/refresh` return in
 * `body`, kept as one object that round-trips through a string (a session, a cookie) and says
 * when to refresh. Field names and rules are the service's and the Java SDK's (`IdentityTokens`):
 *
 *   advertising_token     the token to hand to the page or put in the bid request
 *   refresh_token         the body of the next /v2/token/refresh
 *   refresh_response_key  opens that refresh's answer
 *   identity_expires      the advertising token's expiry, Unix ms
 *   refresh_expires       the refresh token's expiry, Unix ms
 *   refresh_from          refresh from this time on, Unix ms
 *
 * Every field of the JSON is kept, known or not, so a newer service's additions survive a round
 * trip. The tokens are credentials: inspecting an IdentityTokens (console.log, util.inspect)
 * shows only the times.
 */
import { inspect } from 'node:util';
import { IdentityTokensError } from '../errors.js';
import type { TimeInput } from '../types.js';
import { isoTime, toUnixMs } from '../util/time.js';

/** The JSON shape of an identity, as the service sends it. */
export interface IdentityTokensJson {
  advertising_token: string;
  refresh_token: string;
  refresh_response_key: string;
  identity_expires: number;
  refresh_expires: number;
  refresh_from: number;
  [field: string]: unknown;
}

/** Identity JSON text this library reads: 64 KiB is far beyond any real identity (~1.5 KB). */
const MAX_JSON_CHARS = 64 * 1024;

function text(doc: Record<string, unknown>, field: string): string {
  const value = doc[field];
  if (typeof value !== 'string' || value === '') throw new IdentityTokensError(`identity.${field} must be a non-empty string`);
  return value;
}

/** Unix ms as a JSON integer, or a string of digits (the Java SDK reads both with getAsLong). */
function time(doc: Record<string, unknown>, field: string): number {
  const value = doc[field];
  const ms = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms)) throw new IdentityTokensError(`identity.${field} must be Unix milliseconds (an integer)`);
  return ms;
}

export class IdentityTokens {
  readonly advertisingToken: string;
  readonly refreshToken: string;
  readonly refreshResponseKey: string;
  /** When the advertising token expires, Unix ms. */
  readonly identityExpiresMs: number;
  /** When the refresh token expires, Unix ms: after this the identity cannot be refreshed. */
  readonly refreshExpiresMs: number;
  /** From this time on, the identity is due for refresh, Unix ms. */
  readonly refreshFromMs: number;
  readonly #json: string;

  private constructor(doc: Record<string, unknown>) {
    this.advertisingToken = text(doc, 'advertising_token');
    this.refreshToken = text(doc, 'refresh_token');
    this.refreshResponseKey = text(doc, 'refresh_response_key');
    this.identityExpiresMs = time(doc, 'identity_expires');
    this.refreshExpiresMs = time(doc, 'refresh_expires');
    this.refreshFromMs = time(doc, 'refresh_from');
    this.#json = JSON.stringify(doc);
  }

  /**
   * An identity from its JSON object (a response's `body`, or `JSON.parse` of a kept string).
   * @throws IdentityTokensError naming the first field that is missing or malformed
   */
  static fromJson(json: unknown): IdentityTokens {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new IdentityTokensError('identity must be a JSON object');
    return new IdentityTokens(json as Record<string, unknown>);
  }

  /**
   * An identity from the string `toJsonString()` made (or the service's `body` as text).
   * @throws IdentityTokensError for text that is not identity JSON
   */
  static fromJsonString(jsonString: string): IdentityTokens {
    if (typeof jsonString !== 'string') throw new IdentityTokensError('identity JSON must be a string');
    if (jsonString.length > MAX_JSON_CHARS) throw new IdentityTokensError(`identity JSON is longer than ${MAX_JSON_CHARS} characters`);
    let doc: unknown;
    try {
      doc = JSON.parse(jsonString);
    } catch {
      throw new IdentityTokensError('identity JSON is not valid JSON');
    }
    return IdentityTokens.fromJson(doc);
  }

  /** The identity as JSON text, every field the service sent included: keep it in the session. */
  toJsonString(): string {
    return this.#json;
  }

  /** `JSON.stringify(identity)` gives the service's shape, as `toJsonString()`. */
  toJSON(): IdentityTokensJson {
    return JSON.parse(this.#json) as IdentityTokensJson;
  }

  /** Whether it is time to refresh: `refresh_from` has passed, or the advertising token expired. */
  isDueForRefresh(now?: TimeInput): boolean {
    const ms = toUnixMs(now);
    return ms > this.refreshFromMs || ms > this.identityExpiresMs;
  }

  /**
   * Whether the refresh token still works. When false, drop the identity from the session: the
   * user must log in again to get a new one.
   */
  isRefreshable(now?: TimeInput): boolean {
    return toUnixMs(now) <= this.refreshExpiresMs;
  }

  /** Whether the advertising token has expired (it must then not be sent anywhere). */
  hasIdentityExpired(now?: TimeInput): boolean {
    return toUnixMs(now) > this.identityExpiresMs;
  }

  /** Only the times: the tokens and the key are credentials, kept out of logs. */
  [inspect.custom](): string {
    return `IdentityTokens { identityExpires: ${isoTime(this.identityExpiresMs)}, refreshFrom: ${isoTime(this.refreshFromMs)}, refreshExpires: ${isoTime(this.refreshExpiresMs)} }`;
  }
}
