export {
  DecryptionStatus,
  EncryptionStatus,
  type AdvertisingTokenVersion,
  type ClientType,
  type DecryptionResult,
  type EncryptionResult,
  type IdentityScope,
  type IdentityType,
  type TimeInput,
} from './types.js';
export { Uid2Error, KeysJsonError, InvalidArgumentError, EncryptionError } from './errors.js';
export { KeySet } from './keys/key-set.js';
export type { Key, KeySetPolicy } from './keys/key.js';
export { parseKeys } from './keys/parse.js';
export { decryptToken } from './token/decrypt.js';
export { encryptRawUid } from './token/encrypt.js';
export { encodeAdvertisingToken, type TokenFields, type EncodingKey } from './token/encode.js';
export { MAX_TOKEN_LENGTH } from './token/layout.js';
export { BidstreamClient } from './client/bidstream-client.js';
export { DEFAULT_TOKEN_CACHE_OPTIONS, type TokenCacheOptions } from './cache/options.js';
export { type TokenCacheStats } from './cache/token-cache.js';
export { registerTokenCacheMetrics } from './observability/token-cache-metrics.js';
export { SharingClient } from './client/sharing-client.js';
export type { RefreshResult } from './service/auto-refresh.js';
export { decrypt, encrypt } from './free-functions.js';
export {
  ServiceHttpError,
  ServiceNetworkError,
  ServiceTimeoutError,
  AbortedError,
  EnvelopeError,
  NonceMismatchError,
  SecretKeyError,
  ConfigError,
  StaleKeysError,
  InternalError,
  NativeUnavailableError,
  EngineClosedError,
  EngineOverloadedError,
  WorkerFailedError,
  NATIVE_ERROR_CODES,
  OptOutWriteError,
  OptOutCorruptError,
  OptOutLockedError,
  OptOutClosedError,
  OptOutResponseError,
  OptOutRedisError,
} from './errors.js';
export {
  ENVELOPE_VERSION,
  NONCE_LENGTH,
  SECRET_KEY_LENGTH,
  decodeSecretKey,
  sealRequest,
  openResponse,
  openRequest,
  sealResponse,
  type RequestEnvelope,
  type OpenedEnvelope,
} from './service/envelope.js';
export {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_AUTO_REFRESH_OPTIONS,
  type ClientOptions,
  type RefreshOptions,
  type AutoRefreshOptions,
} from './service/options.js';
export { KEY_ENDPOINT_PATHS, type KeyEndpoint } from './service/key-request.js';
export { DecryptionEngine, type DecryptBatchOptions, type DecryptColumnsOptions } from './engine/engine.js';
export { DecryptedColumns } from './engine/pool/decrypted-columns.js';
export type { DispatchMode } from './engine/dispatch-policy.js';
export type { EngineStats } from './engine/stats.js';
export { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from './engine/options.js';
export {
  startLocalOperator,
  type LocalOperator,
  type OperatorRequestRecord,
} from './operator/local-operator.js';
export { DEFAULT_LOCAL_OPERATOR_OPTIONS, type LocalOperatorOptions, type OperatorSite } from './operator/options.js';
export { OPERATOR_FAULT_KINDS, type OperatorFault, type OperatorFaultKind } from './operator/faults.js';
export { MASTER_KEYSET_ID, type KeyResponseJson, type KeyJson } from './operator/key-store.js';
export { type MintTokenOptions } from './operator/minting.js';
export { extractUid2Tokens, UID2_SOURCE, EUID_SOURCE, type ExtractedToken, type ExtractedTokens, type TokenSource } from './openrtb/extract.js';
export { domainFromPage } from './openrtb/site-domain.js';
export { type BidRequestResult, type BidRequestToken, type DecryptBidRequestsOptions } from './openrtb/decrypt-bid-requests.js';
export { SILENT_LOGGER, type Logger, type LogFn } from './observability/logger.js';
export { type EngineMetricsOptions, type MetricsRegistry } from './observability/metrics.js';
export {
  REFRESH_CHANNEL_NAME,
  BATCH_CHANNEL_NAME,
  type RefreshChannelMessage,
  type BatchChannelMessage,
} from './observability/channels.js';
export type { CryptoBackend } from './native/backend.js';
export type { OptOutStore, RawUidInput } from './optout/store.js';
export { FileOptOutStore, DEFAULT_FILE_OPTOUT_STORE_OPTIONS, type FileOptOutStoreOptions } from './optout/file-store.js';
export { RedisOptOutStore, type RedisOptOutStoreStats } from './optout/redis-store.js';
export { DEFAULT_REDIS_OPTOUT_STORE_OPTIONS, type RedisOptOutStoreOptions } from './optout/redis-options.js';
export { type OptOutStoreMetricsOptions } from './observability/optout-store-metrics.js';
export { OptOutSetView, type OptOutSetChange } from './optout/optout-set.js';
export { createOptOutHandler, type OptOutHandler, type OptOutHandlerStats } from './optout/webhook-handler.js';
export { DEFAULT_OPTOUT_HANDLER_OPTIONS, type OptOutHandlerOptions } from './optout/webhook-options.js';
export { parseRawUid } from './optout/raw-uid.js';
export { OPTOUT_STATUS_PATH, MAX_OPTOUT_STATUS_BATCH, type OptOutStatus } from './service/optout-status-request.js';
export { applyOptOut } from './optout/optout-check.js';
export { DEFAULT_OPTOUT_WEBHOOK_OPTIONS, type OptOutWebhookOptions, type OptOutDeliveryStats } from './operator/optout-delivery.js';
