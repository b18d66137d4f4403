import type { KeyEndpoint } from '../service/key-request.js';
import type { DecryptionResult, TimeInput } from '../types.js';
import { ClientBase } from './client-base.js';
import { toUnixMs } from '../util/time.js';

/**
 * For DSPs and exchanges: decrypts advertising tokens received in bid requests.
 * `refresh()` and `startAutoRefresh()` fetch keys from `/v2/key/bidstream`.
 */
export class BidstreamClient extends ClientBase {
  protected readonly endpoint: KeyEndpoint = 'bidstream';

  /**
   * Decrypts an advertising token. Never throws for any token: problems are statuses.
   * @param domainOrAppName the site domain or app id the token arrived with; required for
   *   client-side generated tokens to succeed
   * @param now decryption time (Date or Unix ms); default the current time
   */
  decryptTokenIntoRawUid(token: string, domainOrAppName?: string | null, now?: TimeInput): DecryptionResult {
    return this.decrypt(token, 'bidstream', domainOrAppName, toUnixMs(now));
  }
}
