/**
 * The key feed: where the engine's keys come from (key JSON, a followed client, or service
 * credentials with the engine's own client) and their publication as versioned snapshots. The
 * buffer is the key set's own snapshot (snapshotOf: encoded once, off the main thread for a
 * worker-refreshed set), fully written before any batch can name it; the engine numbers each
 * publication, and batches capture the snapshot in force when they are cut, so each uses exactly
 * one.
 */
import { BidstreamClient } from '../client/bidstream-client.js';
import { SharingClient } from '../client/sharing-client.js';
import { type KeySet, snapshotOf } from '../keys/key-set.js';
import type { Logger } from '../observability/logger.js';
import type { AutoRefreshOptions, ClientOptions } from '../client/options.js';
import type { RefreshResult } from '../client/auto-refresh.js';
import type { ClientType } from '../types.js';
import type { PublishedSnapshot } from './pool/dispatcher.js';

interface CredentialsSource {
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly secretKey: string | undefined;
  readonly clientOptions: ClientOptions | undefined;
  readonly autoRefresh: AutoRefreshOptions | undefined;
  readonly logger: Logger | undefined;
}

export class KeyFeed {
  #keySet: KeySet | undefined;
  #snapshot: PublishedSnapshot | null = null;
  #version = 0;
  #publishedAt: number | null = null;
  #client: BidstreamClient | SharingClient | undefined;
  #ownsClient = false;
  readonly refreshes = { successes: 0, failures: 0, lastErrorCode: null as string | null };

  readonly #onKeys = (keySet: KeySet): void => this.publish(keySet);
  readonly #onRefresh = (): void => {
    this.refreshes.successes++;
    this.refreshes.lastErrorCode = null;
  };
  readonly #onRefreshError = (err: { code?: string }): void => {
    this.refreshes.failures++;
    this.refreshes.lastErrorCode = err?.code ?? 'UNKNOWN';
  };

  get keySet(): KeySet | undefined {
    return this.#keySet;
  }

  /**
   * The snapshot new batches use (null before any keys), encoded on first use after a publication
   * (an engine that never batches, e.g. with threads: 0, never pays for it).
   */
  get snapshot(): PublishedSnapshot | null {
    if (this.#snapshot === null && this.#keySet !== undefined) this.#snapshot = { sab: snapshotOf(this.#keySet), version: this.#version, keySet: this.#keySet };
    return this.#snapshot;
  }

  get version(): number {
    return this.#version;
  }

  get keySetAgeMs(): number | null {
    return this.#publishedAt === null ? null : Date.now() - this.#publishedAt;
  }

  publish(keySet: KeySet): void {
    this.#keySet = keySet;
    this.#publishedAt = Date.now();
    this.#version++;
    this.#snapshot = null;
  }

  /** Follows `client`'s key refreshes (and closes it with the feed when `owns`). */
  follow(client: BidstreamClient | SharingClient, owns: boolean): void {
    this.#client = client;
    this.#ownsClient = owns;
    client.on('keys', this.#onKeys);
    client.on('refresh', this.#onRefresh);
    client.on('refreshError', this.#onRefreshError);
    if (client.keySet) this.publish(client.keySet);
  }

  /** Creates the engine's own client from credentials, follows it and starts auto-refresh. */
  startClient(clientType: ClientType, source: CredentialsSource): Promise<RefreshResult> {
    const Client = clientType === 'sharing' ? SharingClient : BidstreamClient;
    // The engine's logger also hears its own client's refreshes, unless the client has one.
    const clientOptions =
      source.logger !== undefined && source.clientOptions?.logger === undefined
        ? { ...source.clientOptions, logger: source.logger }
        : source.clientOptions;
    const client = new Client(source.baseUrl, source.apiKey, source.secretKey, clientOptions);
    this.follow(client, true);
    return client.startAutoRefresh(source.autoRefresh);
  }

  close(): void {
    this.#client?.off('keys', this.#onKeys);
    this.#client?.off('refresh', this.#onRefresh);
    this.#client?.off('refreshError', this.#onRefreshError);
    if (this.#ownsClient) this.#client?.close();
  }
}
