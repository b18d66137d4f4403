/**
 * `uid2-engine/testing`: what tests, demos and benchmarks need and a production program does
 * not: the local UID2 operator (a real HTTP server speaking the service's encrypted protocol,
 * with key minting, faults, token generation, Identity Map v3 and opt-out delivery), token
 * encoding with known keys, and both sides of the service's envelope. The main entry
 * (`uid2-engine`) keeps what users of the library need.
 */
export { encodeAdvertisingToken, type TokenFields, type EncodingKey } from './token/encode.js';
export {
  ENVELOPE_VERSION,
  NONCE_LENGTH,
  SECRET_KEY_LENGTH,
  MAX_RESPONSE_CLOCK_SKEW_MS,
  decodeSecretKey,
  sealRequest,
  openResponse,
  openRequest,
  sealResponse,
  type RequestEnvelope,
  type OpenedEnvelope,
} from './service/envelope.js';
export {
  startLocalOperator,
  type LocalOperator,
  type OperatorRequestRecord,
} from './operator/local-operator.js';
export { DEFAULT_LOCAL_OPERATOR_OPTIONS, type LocalOperatorOptions, type OperatorSite } from './operator/options.js';
export { OPERATOR_FAULT_KINDS, type OperatorFault, type OperatorFaultKind } from './operator/faults.js';
export { MASTER_KEYSET_ID, type KeyResponseJson, type KeyJson } from './operator/key-store.js';
export { type MintTokenOptions } from './operator/minting.js';
export { TEST_IDENTITIES } from './operator/identities.js';
export { DEFAULT_OPTOUT_WEBHOOK_OPTIONS, type OptOutWebhookOptions, type OptOutDeliveryStats } from './operator/optout-delivery.js';
