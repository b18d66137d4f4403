/**
 * Faults the local operator can inject at runtime (`setFault()`), one per failure a client
 * must survive. Each is applied to every request until it is replaced or cleared with `null`.
 *
 * | kind              | the operator...                                                  | client sees               |
 * |-------------------|------------------------------------------------------------------|---------------------------|
 * | `delay`           | waits `ms` before handling the request normally                  | success, or its timeout   |
 * | `http-error`      | answers HTTP `status` (default 500) with a plain JSON error      | UID2_ERR_SERVICE_HTTP     |
 * | `drop-connection` | destroys the socket without answering                            | UID2_ERR_SERVICE_NETWORK  |
 * | `truncated-body`  | answers 200 with only the first half of the envelope             | UID2_ERR_ENVELOPE         |
 * | `wrong-nonce`     | seals the answer with a nonce other than the request's           | UID2_ERR_NONCE_MISMATCH   |
 * | `garbage-body`    | answers 200 with text that is not an envelope                    | UID2_ERR_ENVELOPE         |
 * | `stale-keys`      | serves a valid key response whose keys have all expired          | UID2_ERR_KEYS_STALE       |
 * | `response-timestamp` | seals the answer with `timestampMs` instead of its clock      | UID2_ERR_RESPONSE_TIMESTAMP (when > 5 min off) |
 */
import { InvalidArgumentError } from '../errors.js';

export type OperatorFault =
  | { kind: 'delay'; ms: number }
  | { kind: 'http-error'; status?: number }
  | { kind: 'drop-connection' }
  | { kind: 'truncated-body' }
  | { kind: 'wrong-nonce' }
  | { kind: 'garbage-body' }
  | { kind: 'stale-keys' }
  | { kind: 'response-timestamp'; timestampMs: number };

export type OperatorFaultKind = OperatorFault['kind'];

export const OPERATOR_FAULT_KINDS: readonly OperatorFaultKind[] = Object.freeze([
  'delay',
  'http-error',
  'drop-connection',
  'truncated-body',
  'wrong-nonce',
  'garbage-body',
  'stale-keys',
  'response-timestamp',
]);

/** The body of the `garbage-body` fault: 200 OK, but HTML a misconfigured proxy might send. */
export const GARBAGE_BODY = '<html><body>502 Bad Gateway (injected fault)</body></html>';

/** @throws InvalidArgumentError naming what is wrong */
export function validateFault(fault: unknown): OperatorFault | null {
  if (fault === null) return null;
  if (typeof fault !== 'object' || !OPERATOR_FAULT_KINDS.includes((fault as { kind?: OperatorFaultKind }).kind!)) {
    throw new InvalidArgumentError(`fault.kind must be one of ${OPERATOR_FAULT_KINDS.join(', ')}`);
  }
  const f = fault as OperatorFault;
  if (f.kind === 'delay' && !(Number.isSafeInteger(f.ms) && f.ms >= 0)) {
    throw new InvalidArgumentError('fault.ms must be a non-negative integer');
  }
  if (f.kind === 'response-timestamp' && !Number.isSafeInteger(f.timestampMs)) {
    throw new InvalidArgumentError('fault.timestampMs must be an integer (Unix ms)');
  }
  if (f.kind === 'http-error') {
    const status = f.status ?? 500;
    if (!Number.isInteger(status) || status < 300 || status > 599) throw new InvalidArgumentError('fault.status must be an HTTP status from 300 to 599');
    return { kind: 'http-error', status };
  }
  return { ...f };
}

/** The first half of a body, cut on a base64 quantum so the text still decodes (the tag cannot). */
export function truncateBody(body: string | Buffer): string | Buffer {
  if (typeof body === 'string') return body.slice(0, Math.floor(body.length / 8) * 4);
  return body.subarray(0, Math.floor(body.length / 2));
}
