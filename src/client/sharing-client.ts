import type { KeyEndpoint } from '../service/key-request.js';
import { encryptRawUid } from '../token/encrypt.js';
import type { DecryptionResult, EncryptionResult, TimeInput } from '../types.js';
import { ClientBase } from './client-base.js';
import { toUnixMs } from '../util/time.js';

/**
 * For sharing participants: encrypts raw UIDs into v4 tokens and decrypts shared tokens.
 * `refresh()` and `startAutoRefresh()` fetch keys from `/v2/key/sharing`.
 */
export class SharingClient extends ClientBase {
  protected readonly endpoint: KeyEndpoint = 'sharing';

  /** Encrypts a raw UID (base64) into a v4 token with the current sharing keys. */
  encryptRawUidIntoToken(rawUid: string, now?: TimeInput): EncryptionResult {
    return encryptRawUid(rawUid, this.keySet, toUnixMs(now));
  }

  /** Decrypts a shared token (sharing lifetime limit, no domain check). Never throws for any token. */
  decryptTokenIntoRawUid(token: string, now?: TimeInput): DecryptionResult {
    return this.decrypt(token, 'sharing', undefined, toUnixMs(now));
  }
}
