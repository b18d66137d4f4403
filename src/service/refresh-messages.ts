/** Everything that crosses the thread boundary between a client and the refresh worker. */
import type { SealedKeyRequest } from './key-response.js';

/** One key request to send and open. */
export interface RefreshJob {
  readonly type: 'refresh';
  readonly id: number;
  readonly request: SealedKeyRequest;
  /** Test hook (refresh-thread.ts): the worker exits on receiving this job. */
  readonly crash?: true;
}

/** The caller gave up on a job (its signal aborted, or the client closed): stop its request. */
export interface RefreshCancel {
  readonly type: 'cancel';
  readonly id: number;
}

export type RefreshMessage = RefreshJob | RefreshCancel;

/** The outcome: the key set's snapshot (shared, not copied), or a Uid2Error's code and message. */
export type RefreshReply =
  | { readonly id: number; readonly snapshot: SharedArrayBuffer; readonly responseBytes: number }
  | RefreshErrorReply;

/** A failed refresh: the Uid2Error's code and message, and the extra field its class has, if any. */
export interface RefreshErrorReply {
  readonly id: number;
  readonly code: string;
  readonly message: string;
  /** ServiceHttpError's `statusCode`. */
  readonly statusCode?: number;
  /** ResponseTimestampError's `timestampMs`. */
  readonly timestampMs?: number;
}
