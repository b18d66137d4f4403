/**
 * Every error class in src/errors.ts: name, stable code, message, extra fields, and that each
 * is a Uid2Error (and an Error). A completeness check fails when a class is added to
 * src/errors.ts without a row here.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import * as api from '../src/index.js';
import { createSlot } from '../src/engine/wire/slot.js';
import { loadNative } from '../src/native/load.js';
import { DecryptionStatus, EncryptionStatus } from '../src/types.js';

interface Row {
  cls: abstract new (...args: never[]) => errors.Uid2Error;
  make: () => errors.Uid2Error;
  name: string;
  code: string;
  message: string;
  /** Further own fields to compare. */
  fields?: Record<string, unknown>;
  cause?: unknown;
}

const cause = new Error('root cause');

const ROWS: Row[] = [
  { cls: errors.Uid2Error, make: () => new errors.Uid2Error('UID2_ERR_CUSTOM', 'custom problem'), name: 'Uid2Error', code: 'UID2_ERR_CUSTOM', message: 'custom problem' },
  {
    cls: errors.Uid2Error,
    make: () => new errors.Uid2Error('UID2_ERR_CUSTOM', 'with cause', { cause }),
    name: 'Uid2Error',
    code: 'UID2_ERR_CUSTOM',
    message: 'with cause',
    cause,
  },
  { cls: errors.KeysJsonError, make: () => new errors.KeysJsonError('keys[0].id is missing'), name: 'KeysJsonError', code: 'UID2_ERR_KEYS_JSON', message: 'keys[0].id is missing' },
  { cls: errors.InvalidArgumentError, make: () => new errors.InvalidArgumentError('now must be a valid Date'), name: 'InvalidArgumentError', code: 'UID2_ERR_INVALID_ARGUMENT', message: 'now must be a valid Date' },
  {
    cls: errors.EncryptionError,
    make: () => new errors.EncryptionError(EncryptionStatus.NotAuthorizedForKey),
    name: 'EncryptionError',
    code: 'UID2_ERR_ENCRYPTION',
    message: 'operation failed with status NotAuthorizedForKey',
    fields: { status: EncryptionStatus.NotAuthorizedForKey },
  },
  {
    cls: errors.EncryptionError,
    make: () => new errors.EncryptionError(DecryptionStatus.ExpiredToken, 'token decryption failed: ExpiredToken'),
    name: 'EncryptionError',
    code: 'UID2_ERR_ENCRYPTION',
    message: 'token decryption failed: ExpiredToken',
    fields: { status: DecryptionStatus.ExpiredToken },
  },
  { cls: errors.EngineClosedError, make: () => new errors.EngineClosedError(), name: 'EngineClosedError', code: 'UID2_ERR_ENGINE_CLOSED', message: 'the decryption engine is closed' },
  { cls: errors.EngineClosedError, make: () => new errors.EngineClosedError('closed by test'), name: 'EngineClosedError', code: 'UID2_ERR_ENGINE_CLOSED', message: 'closed by test' },
  { cls: errors.EngineOverloadedError, make: () => new errors.EngineOverloadedError('100 tokens queued'), name: 'EngineOverloadedError', code: 'UID2_ERR_ENGINE_OVERLOADED', message: '100 tokens queued' },
  {
    cls: errors.WorkerFailedError,
    make: () => new errors.WorkerFailedError('worker died twice', { cause }),
    name: 'WorkerFailedError',
    code: 'UID2_ERR_WORKER_FAILED',
    message: 'worker died twice',
    cause,
  },
  {
    cls: errors.ServiceHttpError,
    make: () => new errors.ServiceHttpError(503, 'service answered HTTP 503'),
    name: 'ServiceHttpError',
    code: 'UID2_ERR_SERVICE_HTTP',
    message: 'service answered HTTP 503',
    fields: { statusCode: 503 },
  },
  {
    cls: errors.ServiceNetworkError,
    make: () => new errors.ServiceNetworkError('connection reset', { cause }),
    name: 'ServiceNetworkError',
    code: 'UID2_ERR_SERVICE_NETWORK',
    message: 'connection reset',
    cause,
  },
  { cls: errors.ServiceTimeoutError, make: () => new errors.ServiceTimeoutError('no answer in 1000 ms'), name: 'ServiceTimeoutError', code: 'UID2_ERR_SERVICE_TIMEOUT', message: 'no answer in 1000 ms' },
  { cls: errors.AbortedError, make: () => new errors.AbortedError(), name: 'AbortedError', code: 'UID2_ERR_ABORTED', message: 'the operation was aborted' },
  { cls: errors.AbortedError, make: () => new errors.AbortedError('the client is closed'), name: 'AbortedError', code: 'UID2_ERR_ABORTED', message: 'the client is closed' },
  { cls: errors.EnvelopeError, make: () => new errors.EnvelopeError('response envelope too short'), name: 'EnvelopeError', code: 'UID2_ERR_ENVELOPE', message: 'response envelope too short' },
  { cls: errors.NonceMismatchError, make: () => new errors.NonceMismatchError(), name: 'NonceMismatchError', code: 'UID2_ERR_NONCE_MISMATCH', message: 'response nonce does not match the request nonce' },
  {
    cls: errors.ResponseTimestampError,
    make: () => new errors.ResponseTimestampError(0, 'response envelope timestamp 0 is far off'),
    name: 'ResponseTimestampError',
    code: 'UID2_ERR_RESPONSE_TIMESTAMP',
    message: 'response envelope timestamp 0 is far off',
    fields: { timestampMs: 0 },
  },
  { cls: errors.SecretKeyError, make: () => new errors.SecretKeyError(), name: 'SecretKeyError', code: 'UID2_ERR_SECRET_KEY', message: 'secret key must be base64 of 32 bytes' },
  { cls: errors.ConfigError, make: () => new errors.ConfigError('no base URL'), name: 'ConfigError', code: 'UID2_ERR_CONFIG', message: 'no base URL' },
  { cls: errors.StaleKeysError, make: () => new errors.StaleKeysError('every key has expired'), name: 'StaleKeysError', code: 'UID2_ERR_KEYS_STALE', message: 'every key has expired' },
  { cls: errors.KeysScopeError, make: () => new errors.KeysScopeError('EUID keys for UID2'), name: 'KeysScopeError', code: 'UID2_ERR_KEYS_SCOPE', message: 'EUID keys for UID2' },
  {
    cls: errors.InternalError,
    make: () => new errors.InternalError('unexpected refresh failure', { cause }),
    name: 'InternalError',
    code: 'UID2_ERR_INTERNAL',
    message: 'unexpected refresh failure',
    cause,
  },
  {
    cls: errors.NativeUnavailableError,
    make: () => new errors.NativeUnavailableError('the native addon is unavailable'),
    name: 'NativeUnavailableError',
    code: 'UID2_ERR_NATIVE_UNAVAILABLE',
    message: 'the native addon is unavailable',
  },
  {
    cls: errors.OptOutWriteError,
    make: () => new errors.OptOutWriteError('writing optouts.log failed (ENOSPC)', { cause }),
    name: 'OptOutWriteError',
    code: 'UID2_ERR_OPTOUT_WRITE',
    message: 'writing optouts.log failed (ENOSPC)',
    cause,
  },
  {
    cls: errors.OptOutCorruptError,
    make: () => new errors.OptOutCorruptError(112, 'optouts.log is damaged at byte 112'),
    name: 'OptOutCorruptError',
    code: 'UID2_ERR_OPTOUT_CORRUPT',
    message: 'optouts.log is damaged at byte 112',
    fields: { offset: 112 },
  },
  { cls: errors.OptOutLockedError, make: () => new errors.OptOutLockedError('held by process 42'), name: 'OptOutLockedError', code: 'UID2_ERR_OPTOUT_LOCKED', message: 'held by process 42' },
  { cls: errors.OptOutClosedError, make: () => new errors.OptOutClosedError(), name: 'OptOutClosedError', code: 'UID2_ERR_OPTOUT_CLOSED', message: 'the opt-out store is closed' },
  { cls: errors.OptOutResponseError, make: () => new errors.OptOutResponseError('body.opted_out is missing'), name: 'OptOutResponseError', code: 'UID2_ERR_OPTOUT_RESPONSE', message: 'body.opted_out is missing' },
  { cls: errors.InvalidIdentityError, make: () => new errors.InvalidIdentityError('email is not a valid email address'), name: 'InvalidIdentityError', code: 'UID2_ERR_INVALID_IDENTITY', message: 'email is not a valid email address' },
  { cls: errors.IdentityTokensError, make: () => new errors.IdentityTokensError('identity.refresh_from must be Unix milliseconds'), name: 'IdentityTokensError', code: 'UID2_ERR_IDENTITY_TOKENS', message: 'identity.refresh_from must be Unix milliseconds' },
  { cls: errors.TokenResponseError, make: () => new errors.TokenResponseError('token generate response status is "nope"'), name: 'TokenResponseError', code: 'UID2_ERR_TOKEN_RESPONSE', message: 'token generate response status is "nope"' },
  { cls: errors.OptOutRedisError, make: () => new errors.OptOutRedisError('Redis at 127.0.0.1:6379/0 is unreachable'), name: 'OptOutRedisError', code: 'UID2_ERR_OPTOUT_REDIS', message: 'Redis at 127.0.0.1:6379/0 is unreachable' },
  {
    cls: errors.IdentityMapResponseError,
    make: () => new errors.IdentityMapResponseError('body.email_hash has 3 entries for 4 identities'),
    name: 'IdentityMapResponseError',
    code: 'UID2_ERR_IDENTITY_MAP_RESPONSE',
    message: 'body.email_hash has 3 entries for 4 identities',
  },
  {
    cls: errors.RetryDeadlineError,
    make: () => new errors.RetryDeadlineError(7, 'gave up after 7 attempts in 60000 ms', { cause }),
    name: 'RetryDeadlineError',
    code: 'UID2_ERR_RETRY_DEADLINE',
    message: 'gave up after 7 attempts in 60000 ms',
    fields: { attempts: 7 },
    cause,
  },
];

describe('error classes', () => {
  it.each(ROWS.map((row) => [`${row.name}: ${row.message}`, row] as const))('%s', (_label, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf(row.cls);
    expect(error).toBeInstanceOf(errors.Uid2Error);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(row.name);
    expect(error.code).toBe(row.code);
    expect(error.message).toBe(row.message);
    expect(error.cause).toBe(row.cause);
    for (const [field, value] of Object.entries(row.fields ?? {})) {
      expect((error as unknown as Record<string, unknown>)[field]).toEqual(value);
    }
    expect(String(error)).toBe(`${row.name}: ${row.message}`);
    expect(error.stack).toContain(row.name);
  });

  it('every code is a UID2_ERR_* constant and each subclass has its own', () => {
    const codes = new Map<string, string>();
    for (const row of ROWS) {
      expect(row.code).toMatch(/^UID2_ERR_[A-Z_]+$/);
      if (row.cls === errors.Uid2Error) continue;
      const owner = codes.get(row.code);
      if (owner !== undefined) expect(owner).toBe(row.name);
      codes.set(row.code, row.name);
    }
  });

  it('the table covers every class src/errors.ts exports', () => {
    const exported = Object.entries(errors).filter(([, value]) => typeof value === 'function');
    expect(Object.keys(errors).filter((name) => typeof (errors as Record<string, unknown>)[name] !== 'function')).toEqual(['NATIVE_ERROR_CODES']);
    const covered = new Set(ROWS.map((row) => row.cls));
    const missing = exported.filter(([, value]) => !covered.has(value as Row['cls'])).map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it('the public entry point re-exports the same classes', () => {
    const publicApi = api as unknown as Record<string, unknown>;
    for (const [name, value] of Object.entries(errors)) expect({ name, same: publicApi[name] === value }).toEqual({ name, same: true });
  });

  it('the native addon throws only codes of NATIVE_ERROR_CODES, and they are UID2_ERR_* too', () => {
    for (const code of errors.NATIVE_ERROR_CODES) expect(code).toMatch(/^UID2_ERR_NATIVE_[A-Z_]+$/);
    const addon = loadNative();
    if (!addon) return; // a machine without the addon has nothing to throw; the native suites fail there
    const slot = createSlot(1, 64);
    let thrown: unknown;
    try {
      addon.decodeBatch(slot.sab, 1, 64, 1, new SharedArrayBuffer(8), 1);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(errors.NATIVE_ERROR_CODES).toContain((thrown as { code?: string }).code);
  });

  it('are thrown with their codes by the library', () => {
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(thrown(() => api.parseKeys('nope'))).toMatchObject({ name: 'KeysJsonError', code: 'UID2_ERR_KEYS_JSON' });
    expect(thrown(() => api.decrypt('AAAA', { keys: [] }, 0))).toMatchObject({
      name: 'EncryptionError',
      code: 'UID2_ERR_ENCRYPTION',
      status: 'KeysNotSynced',
    });
  });
});
