/**
 * One key feed: where one scope's keys come from (key JSON, a followed client, or service
 * credentials with the engine's own client), the key set in force, when it was published and how
 * refreshes went. A single-scope engine has one feed for whatever scope its keys say; a dual-scope
 * engine has one per scope, each refreshing on its own schedule and keeping its own last good keys
 * (a feed pinned to a scope refuses a key set of the other, KeysScopeError). Publishing is
 * engine-keys.ts's: every feed change makes a new versioned snapshot there.
 */
import { BidstreamClient } from '../client/bidstream-client.js';
import { SharingClient } from '../client/sharing-client.js';
import { KeysScopeError } from '../errors.js';
import type { KeySet } from '../keys/key-set.js';
import type { Logger } from '../observability/logger.js';
import type { AutoRefreshOptions, ClientOptions } from '../client/options.js';
import type { RefreshResult } from '../client/auto-refresh.js';
import type { ClientType, IdentityScope } from '../types.js';

export interface CredentialsSource {
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  readonly secretKey: string | undefined;
  readonly clientOptions: ClientOptions | undefined;
  readonly autoRefresh: AutoRefreshOptions | undefined;
  readonly logger: Logger | undefined;
}

export class KeyFeed {
  /** The scope this feed is pinned to (dual-scope engines), or undefined (any: single scope). */
  readonly scope: IdentityScope | undefined;
  #keySet: KeySet | undefined;
  #publishedAt: number | null = null;
  #client: BidstreamClient | SharingClient | undefined;
  #ownsClient = false;
  readonly #changed: () => void;
  readonly #log: Logger;
  readonly refreshes = { successes: 0, failures: 0, lastErrorCode: null as string | null };

  readonly #onKeys = (keySet: KeySet): void => {
    const refused = this.#refusal(keySet);
    if (refused === null) this.publish(keySet);
    else {
      this.#failed(refused.code);
      this.#log.warn({ event: 'uid2.engine.keys-scope', scope: this.scope, code: refused.code }, refused.message);
    }
  };
  readonly #onRefresh = (keySet: KeySet): void => {
    // A refused key set was counted as a failure when it arrived.
    if (this.#refusal(keySet) !== null) return;
    this.refreshes.successes++;
    this.refreshes.lastErrorCode = null;
  };
  readonly #onRefreshError = (err: { code?: string }): void => this.#failed(err?.code ?? 'UNKNOWN');

  constructor(changed: () => void, logger: Logger, scope?: IdentityScope) {
    this.#changed = changed;
    this.#log = logger;
    this.scope = scope;
  }

  get keySet(): KeySet | undefined {
    return this.#keySet;
  }

  get keySetAgeMs(): number | null {
    return this.#publishedAt === null ? null : Date.now() - this.#publishedAt;
  }

  /** @throws KeysScopeError for a key set of the other scope (the previous keys stay) */
  publish(keySet: KeySet): void {
    const refused = this.#refusal(keySet);
    if (refused !== null) throw refused;
    this.#keySet = keySet;
    this.#publishedAt = Date.now();
    this.#changed();
  }

  /** Follows `client`'s key refreshes (and closes it with the feed when `owns`). */
  follow(client: BidstreamClient | SharingClient, owns: boolean): void {
    this.#client = client;
    this.#ownsClient = owns;
    client.on('keys', this.#onKeys);
    client.on('refresh', this.#onRefresh);
    client.on('refreshError', this.#onRefreshError);
    if (client.keySet) this.#onKeys(client.keySet);
  }

  /** Creates the feed's own client from credentials, follows it and starts auto-refresh. */
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

  #refusal(keySet: KeySet): KeysScopeError | null {
    if (this.scope === undefined || keySet.identityScope === this.scope) return null;
    return new KeysScopeError(`a key set of scope ${keySet.identityScope} cannot serve the engine's ${this.scope} tokens; the ${this.scope} keys in force stay`);
  }

  #failed(code: string): void {
    this.refreshes.failures++;
    this.refreshes.lastErrorCode = code;
  }
}
