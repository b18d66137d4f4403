/**
 * IdentityTokens on its own (JSON shape, round trip, refresh timing, hostile input, no tokens in
 * inspect output) and the request payload generateToken sends (only hashes leave the process).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IdentityTokens, normalizeAndHashEmail, normalizeAndHashPhone } from '../../src/index.js';
import { toGeneratePayload } from '../../src/publisher/generate-input.js';
import { parseGenerateResponse, parseRefreshResponse } from '../../src/publisher/token-response.js';

const T = 1_800_000_000_000;
const json = {
  advertising_token: 'A4AAAAsecret-advertising-token',
  refresh_token: 'secret-refresh-token',
  identity_expires: T + 3_000,
  refresh_expires: T + 30_000,
  refresh_from: T + 1_000,
  refresh_response_key: Buffer.alloc(32, 9).toString('base64'),
};

describe('IdentityTokens', () => {
  it('reads the service shape and writes it back, unknown fields included', () => {
    const withExtra = { ...json, user_token: 'legacy', future_field: { a: 1 } };
    const identity = IdentityTokens.fromJson(withExtra);
    expect(identity).toMatchObject({
      advertisingToken: json.advertising_token,
      refreshToken: json.refresh_token,
      refreshResponseKey: json.refresh_response_key,
      identityExpiresMs: T + 3_000,
      refreshExpiresMs: T + 30_000,
      refreshFromMs: T + 1_000,
    });
    expect(JSON.parse(identity.toJsonString())).toEqual(withExtra);
    expect(JSON.parse(JSON.stringify(identity))).toEqual(withExtra);
    expect(IdentityTokens.fromJsonString(identity.toJsonString()).toJsonString()).toBe(identity.toJsonString());
  });

  it('reads times given as strings of digits, as the Java SDK does', () => {
    expect(IdentityTokens.fromJson({ ...json, refresh_from: String(T + 1_000) }).refreshFromMs).toBe(T + 1_000);
  });

  it('is due for refresh after refresh_from or after the token expired; refreshable until refresh_expires', () => {
    const identity = IdentityTokens.fromJson(json);
    expect(identity.isDueForRefresh(T + 1_000)).toBe(false);
    expect(identity.isDueForRefresh(T + 1_001)).toBe(true);
    expect(IdentityTokens.fromJson({ ...json, refresh_from: T + 10_000 }).isDueForRefresh(new Date(T + 3_001))).toBe(true);
    expect(identity.hasIdentityExpired(T + 3_000)).toBe(false);
    expect(identity.hasIdentityExpired(T + 3_001)).toBe(true);
    expect(identity.isRefreshable(T + 30_000)).toBe(true);
    expect(identity.isRefreshable(T + 30_001)).toBe(false);
    expect(() => identity.isRefreshable(NaN)).toThrow(expect.objectContaining({ code: 'UID2_ERR_INVALID_ARGUMENT' }));
  });

  it('refuses anything that is not identity JSON, naming the field and never the value', () => {
    const bad: [unknown, string][] = [
      [null, 'identity must be a JSON object'],
      [[json], 'identity must be a JSON object'],
      [{ ...json, advertising_token: '' }, 'identity.advertising_token must be a non-empty string'],
      [{ ...json, refresh_token: 5 }, 'identity.refresh_token must be a non-empty string'],
      [{ ...json, refresh_response_key: undefined }, 'identity.refresh_response_key must be a non-empty string'],
      [{ ...json, identity_expires: 1.5 }, 'identity.identity_expires must be Unix milliseconds (an integer)'],
      [{ ...json, refresh_expires: '12a' }, 'identity.refresh_expires must be Unix milliseconds (an integer)'],
      [{ ...json, refresh_from: null }, 'identity.refresh_from must be Unix milliseconds (an integer)'],
    ];
    for (const [doc, message] of bad) expect(() => IdentityTokens.fromJson(doc)).toThrow(expect.objectContaining({ code: 'UID2_ERR_IDENTITY_TOKENS', message }));
    expect(() => IdentityTokens.fromJsonString('{"advertising_token": "secret-advertising-token"')).toThrow('identity JSON is not valid JSON');
    expect(() => IdentityTokens.fromJsonString(42 as never)).toThrow('identity JSON must be a string');
    expect(() => IdentityTokens.fromJsonString(' '.repeat(70_000))).toThrow('identity JSON is longer than 65536 characters');
  });

  it('inspecting it shows the times, never the tokens or the key', () => {
    const shown = inspect(IdentityTokens.fromJson(json));
    expect(shown).toContain(new Date(T + 3_000).toISOString());
    expect(shown).not.toMatch(/secret|CQkJ/);
  });
});

describe('the generate payload', () => {
  it('carries only hashes: emails and phones are normalized and hashed here', () => {
    expect(toGeneratePayload({ email: ' Jane.Doe+x@GMAIL.com' })).toEqual({ email_hash: normalizeAndHashEmail('janedoe@gmail.com') });
    expect(toGeneratePayload({ phone: '+12025550123', tcfConsentString: 'CP' })).toEqual({ phone_hash: normalizeAndHashPhone('+12025550123'), tcf_consent_string: 'CP' });
    const hex = 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs=';
    expect(toGeneratePayload({ emailHash: Buffer.from(hex, 'base64').toString('hex') })).toEqual({ email_hash: hex });
    expect(toGeneratePayload({ phoneHash: hex })).toEqual({ phone_hash: hex });
    expect(JSON.stringify(toGeneratePayload({ email: 'jane@example.com' }))).not.toContain('jane');
  });
});

describe('token responses', () => {
  it('success, optout and insufficient_user_consent; anything else is an error that echoes little', () => {
    expect(parseGenerateResponse(JSON.stringify({ status: 'success', body: json })).identity?.refreshFromMs).toBe(T + 1_000);
    expect(parseGenerateResponse('{"status":"optout"}')).toEqual({ status: 'optout' });
    expect(parseGenerateResponse('{"status":"insufficient_user_consent"}')).toEqual({ status: 'insufficient_user_consent' });
    expect(() => parseGenerateResponse('{"status":"client_error\\u2028forged log line"}')).toThrow(expect.objectContaining({ code: 'UID2_ERR_TOKEN_RESPONSE', message: 'token generate response status is "client_error forged log line", not "success" or "optout"' }));
    expect(() => parseGenerateResponse('{}')).toThrow('token generate response status is missing, not "success" or "optout"');
    expect(() => parseGenerateResponse('[1]')).toThrow('token generate response is not a JSON object');
    expect(() => parseGenerateResponse('<html>')).toThrow('token generate response is not valid JSON');
    expect(() => parseGenerateResponse('{"status":"success"}')).toThrow(expect.objectContaining({ code: 'UID2_ERR_IDENTITY_TOKENS' }));
  });

  it('a refresh may not answer insufficient_user_consent, nor an identity already expired', () => {
    expect(parseRefreshResponse(JSON.stringify({ status: 'success', body: json }), T).status).toBe('success');
    expect(parseRefreshResponse('{"status":"optout"}', T)).toEqual({ status: 'optout' });
    expect(() => parseRefreshResponse('{"status":"insufficient_user_consent"}', T)).toThrow(expect.objectContaining({ code: 'UID2_ERR_TOKEN_RESPONSE' }));
    expect(() => parseRefreshResponse(JSON.stringify({ status: 'success', body: json }), T + 3_001)).toThrow('token refresh response holds an identity that has already expired');
    expect(() => parseRefreshResponse(JSON.stringify({ status: 'success', body: json }), T + 30_001)).toThrow('token refresh response holds an identity that has already expired');
  });
});
