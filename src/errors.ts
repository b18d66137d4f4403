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

/** A worker thread failed twice on the same batch; that batch's calls are rejected. */
export class WorkerFailedError extends Uid2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UID2_ERR_WORKER_FAILED', message, options);
  }
}
