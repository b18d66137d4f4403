/**
 * Every malformed key response the parser must reject, with what its message must say: shared by
 * the parser's tests (test/keys/parse-keys.test.ts) and the refresh worker's, which must reject
 * each one the same way (test/service/refresh-thread.test.ts).
 */
import { keyJson, makeKey } from './fixtures.js';

export const goodKey = keyJson(makeKey(11, { keysetId: 1 }));
export const goodSecret = goodKey['secret'] as string;
const withKey = (patch: Record<string, unknown>, drop: string[] = []): unknown => {
  const key: Record<string, unknown> = { ...goodKey, ...patch };
  for (const name of drop) delete key[name];
  return { status: 'success', body: { keys: [key] } };
};
export const withBody = (patch: Record<string, unknown>): unknown => ({ status: 'success', body: { keys: [goodKey], ...patch } });

/** [case name, input (text or parsed), what the message must say]. */
export const BAD: [string, unknown, RegExp][] = [
  ['status error', '{"status":"error"}', /status is "error"/],
  ['status error with a body', { status: 'error', body: { keys: [goodKey] } }, /status is "error"/],
  ['status not a string', { status: 1, body: { keys: [] } }, /status is 1/],
  ['body a string', '{"body":"error"}', /body must be an object or an array of keys, got string/],
  ['body null', { status: 'success', body: null }, /body must be an object or an array of keys, got null/],
  ['status success without body', { status: 'success' }, /body must be an object or an array of keys, got undefined/],
  ['body an array of numbers', '{"body":[1,2,3]}', /body\[0\] must be an object, got number/],
  ['body an array of an empty object', '{"body":[{}]}', /body\[0\]\.id is missing/],
  ['id a string', '{"body":[{"id":"test"}]}', /body\[0\]\.id must be an integer, got string/],
  ['secret missing (legacy)', '{"body":[{"id":5}]}', /body\[0\]\.secret is missing/],
  ['a JSON array of numbers', '[1,2,3]', /body\[0\] must be an object, got number/],
  ['a JSON array with a null', [null], /body\[0\] must be an object, got null/],
  ['not JSON', 'this is not json', /does not parse/],
  ['empty text', '', /does not parse/],
  ['truncated JSON', '{"body":{"keys":[', /does not parse/],
  ['JSON null', 'null', /must be an object, got null/],
  ['JSON number', '42', /must be an object, got number/],
  ['JSON string', '"keys"', /must be an object, got string/],
  ['JSON true', 'true', /must be an object, got boolean/],
  ['keys missing', { status: 'success', body: {} }, /body\.keys must be an array, got undefined/],
  ['keys an object', { body: { keys: {} } }, /body\.keys must be an array, got object/],
  ['keys a string', { keys: 'abc' }, /body\.keys must be an array, got string/],
  ['a key not an object', { keys: ['abc'] }, /keys\[0\] must be an object, got string/],
  ['a key an array', { keys: [[]] }, /keys\[0\] must be an object, got array/],
  ['id missing', withKey({}, ['id']), /keys\[0\]\.id is missing/],
  ['id a float', withKey({ id: 1.5 }), /keys\[0\]\.id must be an integer, got number/],
  ['id null', withKey({ id: null }), /keys\[0\]\.id must be an integer, got null/],
  ['id unsafe', withKey({ id: 2 ** 60 }), /keys\[0\]\.id must be an integer/],
  ['secret missing', withKey({}, ['secret']), /keys\[0\]\.secret is missing/],
  ['secret a number', withKey({ secret: 12 }), /keys\[0\]\.secret must be a string, got number/],
  ['secret null', withKey({ secret: null }), /keys\[0\]\.secret must be a string, got null/],
  ['secret not base64', withKey({ secret: 'not base64 at all!' }), /keys\[0\]\.secret must be base64 of 32 bytes/],
  ['secret with whitespace', withKey({ secret: ` ${goodSecret}` }), /keys\[0\]\.secret must be base64 of 32 bytes/],
  ['secret in base64url', withKey({ secret: Buffer.alloc(32, 0xfb).toString('base64url') }), /secret must be base64 of 32 bytes/],
  ['secret of 16 bytes', withKey({ secret: Buffer.alloc(16, 1).toString('base64') }), /secret must be base64 of 32 bytes/],
  ['secret of 33 bytes', withKey({ secret: Buffer.alloc(33, 1).toString('base64') }), /secret must be base64 of 32 bytes/],
  ['secret empty', withKey({ secret: '' }), /secret must be base64 of 32 bytes/],
  ['activates missing', withKey({}, ['activates']), /keys\[0\]\.activates is missing/],
  ['expires missing', withKey({}, ['expires']), /keys\[0\]\.expires is missing/],
  ['expires a boolean', withKey({ expires: true }), /keys\[0\]\.expires must be an integer, got boolean/],
  ['created a string', withKey({ created: 'yesterday' }), /keys\[0\]\.created must be an integer, got string/],
  ['site_id an object', withKey({ site_id: {} }), /keys\[0\]\.site_id must be an integer, got object/],
  ['identity_scope an array', withBody({ identity_scope: ['EUID'] }), /identity_scope must be a string, got array/],
  ['identity_scope an object', withBody({ identity_scope: {} }), /identity_scope must be a string, got object/],
  ['allow_clock_skew_seconds negative', withBody({ allow_clock_skew_seconds: -1 }), /allow_clock_skew_seconds must be a non-negative number, got -1/],
  ['max_bidstream_lifetime_seconds an array', withBody({ max_bidstream_lifetime_seconds: [] }), /max_bidstream_lifetime_seconds must be a non-negative number/],
  ['max_sharing_lifetime_seconds negative', withBody({ max_sharing_lifetime_seconds: -5 }), /max_sharing_lifetime_seconds must be a non-negative number/],
  ['token_expiry_seconds not numeric', withBody({ token_expiry_seconds: 'thirty days' }), /token_expiry_seconds must be a non-negative number, got "thirty days"/],
  ['token_expiry_seconds a negative string', withBody({ token_expiry_seconds: '-5' }), /token_expiry_seconds must be a non-negative number/],
  ['master_keyset_id a float', withBody({ master_keyset_id: 1.25 }), /body\.master_keyset_id must be an integer/],
  ['default_keyset_id a boolean', withBody({ default_keyset_id: false }), /body\.default_keyset_id must be an integer, got boolean/],
  // Integers in strings are read as Java's Integer.parseInt/Long.parseLong read them, no looser.
  ['activates with spaces', withKey({ activates: ' 1700000000' }), /keys\[0\]\.activates must be an integer, got string " 1700000000"/],
  ['keyset_id with an exponent', withKey({ keyset_id: '1e2' }), /keys\[0\]\.keyset_id must be an integer, got string "1e2"/],
  ['id a decimal string', withKey({ id: '11.0' }), /keys\[0\]\.id must be an integer, got string "11.0"/],
  ['id a hex string', withKey({ id: '0xb' }), /keys\[0\]\.id must be an integer, got string "0xb"/],
  ['id an empty string', withKey({ id: '' }), /keys\[0\]\.id must be an integer, got string ""/],
  ['id a sign alone', withKey({ id: '-' }), /keys\[0\]\.id must be an integer, got string "-"/],
  ['id a string past 2^53', withKey({ id: '99999999999999999999' }), /keys\[0\]\.id must be an integer, got string "99999999999999999999"/],
  ['id non-ASCII digits', withKey({ id: '\u0661\u0662' }), /keys\[0\]\.id must be an integer, got string/],
  ['caller_site_id a word', withBody({ caller_site_id: 'nine' }), /body\.caller_site_id must be an integer, got string "nine"/],
  ['caller_site_id a long word, cut short', withBody({ caller_site_id: 'x'.repeat(100) }), /got string "x{24}\.\.\."$/],
  ['master_keyset_id with a trailing newline', withBody({ master_keyset_id: '1\n' }), /body\.master_keyset_id must be an integer/],
  ['allow_clock_skew_seconds a decimal string', withBody({ allow_clock_skew_seconds: '1800.5' }), /allow_clock_skew_seconds must be a non-negative number, got "1800.5"/],
  ['max_bidstream_lifetime_seconds an exponent string', withBody({ max_bidstream_lifetime_seconds: '3e2' }), /max_bidstream_lifetime_seconds must be a non-negative number, got "3e2"/],
  ['token_expiry_seconds with spaces', withBody({ token_expiry_seconds: ' 86400 ' }), /token_expiry_seconds must be a non-negative number, got " 86400 "/],
  ['site_data an object', withBody({ site_data: {} }), /site_data must be an array, got object/],
  ['site_data entry a string', withBody({ site_data: ['x'] }), /site_data\[0\] must be an object, got string/],
  ['site_data entry without id', withBody({ site_data: [{ domain_names: [] }] }), /site_data\[0\]\.id is missing/],
  ['site_data domain_names a string', withBody({ site_data: [{ id: 1, domain_names: 'a.test' }] }), /site_data\[0\]\.domain_names must be an array of strings/],
  ['site_data domain_names with a number', withBody({ site_data: [{ id: 1, domain_names: ['a.test', 5] }] }), /site_data\[0\]\.domain_names must be an array of strings/],
  ['second key bad', { keys: [goodKey, { ...goodKey, id: 12, expires: 'never' }] }, /keys\[1\]\.expires must be an integer, got string/],
];
