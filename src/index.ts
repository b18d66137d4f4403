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
export { normalizeEmail, normalizeAndHashEmail } from './identity/email.js';
export { isNormalizedPhone, normalizeAndHashPhone } from './identity/phone.js';
export { normalizeHash } from './identity/hash.js';
export { KeySet } from './keys/key-set.js';
export type { Key, KeySetPolicy } from './keys/key.js';
export { parseKeys } from './keys/parse.js';
export { decryptToken } from './token/decrypt.js';
export { encryptRawUid } from './token/encrypt.js';
export { MAX_TOKEN_LENGTH } from './token/layout.js';
export { identityScopeOf } from './token/scope.js';
export { BidstreamClient } from './client/bidstream-client.js';
export { DualScopeBidstreamClient, type ScopeRefreshResults } from './client/dual-scope-client.js';
export { DEFAULT_TOKEN_CACHE_OPTIONS, type TokenCacheOptions } from './cache/options.js';
export { type TokenCacheStats } from './cache/token-cache.js';
export { registerTokenCacheMetrics } from './observability/token-cache-metrics.js';
export { SharingClient } from './client/sharing-client.js';
export { PublisherClient } from './publisher/publisher-client.js';
export { IdentityTokens, type IdentityTokensJson } from './publisher/identity-tokens.js';
export { type TokenGenerateInput } from './publisher/generate-input.js';
export { type TokenGenerateResult, type TokenRefreshResult } from './publisher/token-response.js';
export { DEFAULT_PUBLISHER_CLIENT_OPTIONS, type PublisherClientOptions, type PublisherCallOptions } from './publisher/options.js';
export { TOKEN_GENERATE_PATH, TOKEN_REFRESH_PATH } from './service/token-request.js';
export type { RefreshResult } from './client/auto-refresh.js';
export { decrypt, encrypt } from './free-functions.js';
export {
  ServiceHttpError,
  ServiceNetworkError,
  ServiceTimeoutError,
  AbortedError,
  EnvelopeError,
  NonceMismatchError,
  ResponseTimestampError,
  SecretKeyError,
  ConfigError,
  StaleKeysError,
  KeysScopeError,
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
  InvalidIdentityError,
  IdentityTokensError,
  TokenResponseError,
  IdentityMapResponseError,
  RetryDeadlineError,
} from './errors.js';
export {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_AUTO_REFRESH_OPTIONS,
  type ClientOptions,
  type RefreshOptions,
  type AutoRefreshOptions,
  type ScopeCredentials,
  type DualScopeCredentials,
} from './client/options.js';
export { KEY_ENDPOINT_PATHS, type KeyEndpoint } from './service/key-request.js';
export { DecryptionEngine, type DecryptBatchOptions, type DecryptColumnsOptions } from './engine/engine.js';
export { DecryptedColumns } from './engine/pool/decrypted-columns.js';
export type { DispatchMode } from './engine/dispatch-policy.js';
export type { EngineStats, ScopeStats } from './engine/stats.js';
export { DEFAULT_ENGINE_OPTIONS, type EngineOptions, type KeySourceOptions } from './engine/options.js';
export type { BulkSummary } from './engine/bulk/coordinator.js';
export type { BulkInput, BulkOutput, BulkReadable } from './engine/bulk/decrypt-bulk.js';
export { DEFAULT_BULK_OPTIONS, type BulkOptions, type BulkProgress } from './engine/bulk/options.js';
export { RECORD_FORMATS, type RecordFormat } from './engine/wire/record-format.js';
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
export type { OptOutStore, OptOutStoreHealth, RawUidInput } from './optout/store.js';
export { FileOptOutStore, DEFAULT_FILE_OPTOUT_STORE_OPTIONS, type FileOptOutStoreOptions, type FileOptOutStoreStats } from './optout/file/store.js';
export { RedisOptOutStore, type RedisOptOutStoreStats } from './optout/redis/store.js';
export { DEFAULT_REDIS_OPTOUT_STORE_OPTIONS, type RedisOptOutStoreOptions } from './optout/redis/options.js';
export type { RedisDurability, RedisPersistence } from './optout/redis/persistence.js';
export type { WarmStartCacheStats } from './optout/redis/cache.js';
export { type OptOutStoreMetricsOptions } from './observability/optout-store-metrics.js';
export { type OptOutWebhookMetricsOptions } from './observability/optout-webhook-metrics.js';
export { OptOutSetView, type OptOutSetChange } from './optout/set.js';
export { createOptOutHandler, type OptOutHandler, type OptOutHandlerStats } from './optout/webhook/handler.js';
export { DEFAULT_OPTOUT_HANDLER_OPTIONS, type OptOutHandlerOptions } from './optout/webhook/options.js';
export { parseRawUid } from './optout/raw-uid.js';
export { OPTOUT_STATUS_PATH, MAX_OPTOUT_STATUS_BATCH, type OptOutStatus, type OptOutStatusResult, type SkippedOptOutStatus } from './service/optout-status-request.js';
export { applyOptOut } from './optout/check.js';
export { IdentityMapV3Client, type GenerateIdentityMapOptions, type IdentityMapStats } from './identity-map/client.js';
export { IdentityMapV3Response } from './identity-map/result.js';
export type { IdentityMapInput } from './identity-map/batches.js';
export type { IdentityMapOutcome, MappedIdentity, UnmappedIdentity, UnmappedReason } from './identity-map/outcome.js';
export { DEFAULT_IDENTITY_MAP_OPTIONS, MAX_IDENTITIES_PER_REQUEST, type IdentityMapOptions } from './identity-map/options.js';
export { IDENTITY_MAP_PATH } from './identity-map/request.js';
