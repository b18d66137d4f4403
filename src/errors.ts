/**
 * Every error the library throws or reports carries a stable `code` (`UID2_ERR_*`), so callers
 * can branch on it without parsing messages. Decryption outcomes are statuses, never errors.
 */
import type { DecryptionStatus, EncryptionStatus } from './types.js';

export class Uid2Error extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Key JSON that is not a complete, well-formed UID2 key response. */
export class KeysJsonError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_KEYS_JSON', message);
  }
}

/** An option or argument the caller passed is not usable. */
export class InvalidArgumentError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_INVALID_ARGUMENT', message);
  }
}

/**
 * Thrown by the Python-style free functions `encrypt()` and `decrypt()` when the outcome is not
 * `Success`; `status` says why.
 */
export class EncryptionError extends Uid2Error {
  readonly status: DecryptionStatus | EncryptionStatus;
  constructor(status: DecryptionStatus | EncryptionStatus, message?: string) {
    super('UID2_ERR_ENCRYPTION', message ?? `operation failed with status ${status}`);
    this.status = status;
  }
}

/** The engine was closed; no more work is accepted. */
export class EngineClosedError extends Uid2Error {
  constructor(message = 'the decryption engine is closed') {
    super('UID2_ERR_ENGINE_CLOSED', message);
  }
}

/** More tokens are queued than `maxQueuedTokens` allows; the call was rejected at once. */
export class EngineOverloadedError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_ENGINE_OVERLOADED', message);
  }
}

/**
 * A worker thread failed: an engine worker twice on the same batch (that batch's calls are
 * rejected), or the key refresh worker during a refresh (that refresh fails; the keys stay).
 */
export class WorkerFailedError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_WORKER_FAILED', message, options);
  }
}

// --- Service calls (key refresh over HTTP). None of these messages ever holds the api key, the
// --- secret key or a key secret: they are built only from status codes, paths and fixed text.

/** The UID2 service answered with an HTTP status other than 200. */
export class ServiceHttpError extends Uid2Error {
  /** The HTTP status code the service answered with. */
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super('UID2_ERR_SERVICE_HTTP', message);
    this.statusCode = statusCode;
  }
}

/** The request did not reach the service or the connection failed before a full answer. */
export class ServiceNetworkError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_SERVICE_NETWORK', message, options);
  }
}

/** The service did not answer completely within the timeout. */
export class ServiceTimeoutError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_SERVICE_TIMEOUT', message);
  }
}

/** The caller's AbortSignal fired, or the client was closed, before the operation finished. */
export class AbortedError extends Uid2Error {
  constructor(message = 'the operation was aborted') {
    super('UID2_ERR_ABORTED', message);
  }
}

/** A request or response envelope is malformed: bad base64, too short, bad version or bad tag. */
export class EnvelopeError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_ENVELOPE', message);
  }
}

/** The response envelope carries a nonce other than the request's (a replayed or mixed-up answer). */
export class NonceMismatchError extends Uid2Error {
  constructor(message = 'response nonce does not match the request nonce') {
    super('UID2_ERR_NONCE_MISMATCH', message);
  }
}

/**
 * The response envelope's timestamp is further from this machine's clock than the window
 * (`MAX_RESPONSE_CLOCK_SKEW_MS`, 5 minutes): a wrong clock here or at the service, or an answer
 * that is not fresh. The UID2 service itself refuses requests more than a minute or two off.
 */
export class ResponseTimestampError extends Uid2Error {
  /** The timestamp the envelope carries, Unix ms. */
  readonly timestampMs: number;
  constructor(timestampMs: number, message: string) {
    super('UID2_ERR_RESPONSE_TIMESTAMP', message);
    this.timestampMs = timestampMs;
  }
}

/** The client secret is not base64 of 32 bytes. */
export class SecretKeyError extends Uid2Error {
  constructor(message = 'secret key must be base64 of 32 bytes') {
    super('UID2_ERR_SECRET_KEY', message);
  }
}

/** The client is missing its base URL or credentials, or the base URL is unusable. */
export class ConfigError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_CONFIG', message);
  }
}

/**
 * A well-formed key response whose keys have all expired: applying it would leave the client
 * unable to decrypt anything (`KeysNotSynced`), so the previous keys are kept instead.
 */
export class StaleKeysError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_KEYS_STALE', message);
  }
}

/**
 * A key set for one identity scope given where the other's belongs (a dual-scope engine's
 * `scopes.UID2` fed EUID keys, say): it would answer InvalidIdentityScope for every token it
 * should decrypt, so it is refused and the scope keeps its previous keys.
 */
export class KeysScopeError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_KEYS_SCOPE', message);
  }
}

/** A failure that should not happen (a bug: please report it); `cause` holds the original. */
export class InternalError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_INTERNAL', message, options);
  }
}

/** The native addon was demanded (UID2_ENGINE_BACKEND=native) but is not built or does not load. */
export class NativeUnavailableError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_NATIVE_UNAVAILABLE', message, options);
  }
}

/**
 * Codes of the plain `Error`s the native addon itself throws (native/src/addon.cc). They mean a
 * broken invariant or a broken OpenSSL, never bad input: tokens only ever produce statuses.
 * - `UID2_ERR_NATIVE_SNAPSHOT`: a key snapshot buffer that is not a complete snapshot;
 * - `UID2_ERR_NATIVE_OPENSSL`: OpenSSL could not create a cipher context or lacks AES-256-GCM/CBC.
 */
export const NATIVE_ERROR_CODES: readonly string[] = Object.freeze(['UID2_ERR_NATIVE_SNAPSHOT', 'UID2_ERR_NATIVE_OPENSSL']);

// --- Publisher tokens (src/publisher/). Messages never hold an email, a phone number, a hash,
// --- a token or a refresh response key: they name the field, never its value.

/** An email, phone number or hash given for token generation is not one the service accepts. */
export class InvalidIdentityError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_INVALID_IDENTITY', message);
  }
}

/** Identity JSON (a token response body, or a string kept from one) is not the documented shape. */
export class IdentityTokensError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_IDENTITY_TOKENS', message);
  }
}

/** A decrypted token generate or refresh response is not JSON, or has a status it should not have. */
export class TokenResponseError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_TOKEN_RESPONSE', message);
  }
}

// --- Opt-outs (src/optout/). Messages name files and counts, never a raw UID.

/** An opt-out could not be made durable (a failed write or fsync); it was not recorded. */
export class OptOutWriteError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_OPTOUT_WRITE', message, options);
  }
}

/** The opt-out file is damaged somewhere other than its last, unacknowledged write. */
export class OptOutCorruptError extends Uid2Error {
  /** Byte offset of the first damaged record. */
  readonly offset: number;
  constructor(offset: number, message: string) {
    super('UID2_ERR_OPTOUT_CORRUPT', message);
    this.offset = offset;
  }
}

/** Another live process holds the opt-out file open for writing. */
export class OptOutLockedError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_OPTOUT_LOCKED', message);
  }
}

/** The opt-out store was closed; it takes no more opt-outs. */
export class OptOutClosedError extends Uid2Error {
  constructor(message = 'the opt-out store is closed') {
    super('UID2_ERR_OPTOUT_CLOSED', message);
  }
}

/**
 * Redis, as the fleet opt-out store's backend, could not be reached or answered something that
 * is not the store's data (e.g. the initial load failed with no warm-start cache to fall back on).
 */
export class OptOutRedisError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_OPTOUT_REDIS', message, options);
  }
}

/** An opt-out status response (`/v2/optout/status`) that is not the documented shape. */
export class OptOutResponseError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_OPTOUT_RESPONSE', message);
  }
}

// --- Identity Map v3 (src/identity-map/). Messages name batches, counts and fields, never an
// --- email, phone number, hash or raw UID.

/** A decrypted `/v3/identity/map` answer that is not the documented shape for the request it answers. */
export class IdentityMapResponseError extends Uid2Error {
  constructor(message: string) {
    super('UID2_ERR_IDENTITY_MAP_RESPONSE', message);
  }
}

/**
 * A request kept failing with answers worth retrying (429, 5xx, network errors, timeouts) until
 * its retry deadline passed; `cause` holds the last failure and `attempts` how many were made.
 */
export class RetryDeadlineError extends Uid2Error {
  /** Requests sent, the first one included. */
  readonly attempts: number;
  constructor(attempts: number, message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_RETRY_DEADLINE', message, options);
    this.attempts = attempts;
  }
}
