/**
 * `node:diagnostics_channel` channels, for APM tools and tests that want the library's events
 * without a logger. Messages are published only when a channel has subscribers, so an
 * unobserved process pays one property read per event.
 *
 * - `uid2-engine:refresh`: every service key refresh of a client, success or failure.
 * - `uid2-engine:batch`: every batch the engine completes.
 */
import { channel } from 'node:diagnostics_channel';

/** Name of the key-refresh channel. */
export const REFRESH_CHANNEL_NAME = 'uid2-engine:refresh';
/** Name of the engine batch channel. */
export const BATCH_CHANNEL_NAME = 'uid2-engine:batch';

/** A message on `uid2-engine:refresh`. Never carries a credential or key secret. */
export interface RefreshChannelMessage {
  success: boolean;
  /** The endpoint refreshed: `'bidstream'` or `'sharing'`. */
  endpoint: string;
  /** On failure: the error code (`UID2_ERR_*`). */
  code?: string;
  /** On success: how many keys the new key set holds. */
  keys?: number;
}

/** A message on `uid2-engine:batch`. */
export interface BatchChannelMessage {
  /** Tokens in the batch. */
  tokens: number;
  /** From dispatch to results (worker batches) or the in-process decryption, milliseconds. */
  durationMs: number;
  /** Key snapshot version the batch was decrypted with (0 in-process). */
  snapshotVersion: number;
  /** The crypto backend: the workers', or with threads: 0 the in-process one. */
  backend: string;
}

export const refreshChannel = channel(REFRESH_CHANNEL_NAME);
export const batchChannel = channel(BATCH_CHANNEL_NAME);
