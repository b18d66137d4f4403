/**
 * What BidstreamClient and SharingClient share: credentials, the key set in force and its
 * atomic replacement. A key set is swapped only for a complete, valid one; a failure keeps the
 * previous keys.
 */
import { EventEmitter } from 'node:events';
import { Uid2Error } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import { parseKeys } from '../keys/parse.js';

/** Outcome of a refresh: never thrown, always returned. */
export interface RefreshResult {
  success: boolean;
  error?: Uid2Error;
}

/**
 * Events: `keys` (keySet: KeySet) whenever a new key set takes effect.
 */
export abstract class ClientBase extends EventEmitter {
  /** The UID2 service base URL, e.g. `https://prod.uidapi.com`. */
  readonly baseUrl: string;
  // Credentials live in private fields so they never appear in logs, inspect or JSON.
  readonly #apiKey: string;
  readonly #secretKey: string;
  #keySet: KeySet | undefined;

  constructor(baseUrl: string, apiKey: string, secretKey: string) {
    super();
    this.baseUrl = baseUrl;
    this.#apiKey = apiKey;
    this.#secretKey = secretKey;
  }

  /** The key set in force, or `undefined` before the first successful refresh. */
  get keySet(): KeySet | undefined {
    return this.#keySet;
  }

  /** @internal */
  protected get apiKey(): string {
    return this.#apiKey;
  }

  /** @internal */
  protected get secretKey(): string {
    return this.#secretKey;
  }

  /**
   * Loads keys from an already-decrypted key response (text or parsed JSON). On any problem the
   * previous keys stay in force and the error is returned, not thrown.
   */
  refreshJson(json: string | Uint8Array | object): RefreshResult {
    try {
      this.setKeySet(parseKeys(json));
      return { success: true };
    } catch (err) {
      return { success: false, error: err instanceof Uid2Error ? err : new Uid2Error('UID2_ERR_KEYS_JSON', String(err)) };
    }
  }

  /** Replaces the key set in force (one reference swap: readers see the old or the new set). */
  protected setKeySet(keySet: KeySet): void {
    this.#keySet = keySet;
    this.emit('keys', keySet);
  }
}
