/**
 * Byte layout of advertising tokens (v2: CBC layers; v3/v4: prefix, version byte and GCM layers;
 * the rules that read them are listed in docs/api.md#statuses). One place for every offset so
 * the decoder, the encoder and the engine's record writer cannot drift apart.
 */

/** Second byte of v3 and v4 tokens. */
export const V3_VERSION_BYTE = 112;
export const V4_VERSION_BYTE = 128;
/** First byte of v2 tokens. */
export const V2_VERSION_BYTE = 2;

/** Privacy bit 1: the token was generated client-side (CSTG). Bit 0 is legacy and ignored. */
export const PRIVACY_BIT_CLIENT_SIDE_GENERATED = 0b10;

// v2: root := 0x02 | master_key_id:i32 | iv:16 | CBC(master_key, master)
export const V2_ROOT_HEADER = 1 + 4 + 16;
// master := expires_ms:i64 | site_key_id:i32 | iv:16 | CBC(site_key, identity)
export const V2_MASTER_HEADER = 8 + 4 + 16;
// identity := site_id:i32 | id_len:i32 | id | privacy_bits:i32 | established_ms:i64
export const V2_IDENTITY_FIXED = 4 + 4 + 4 + 8;

// v3/v4: root := prefix:u8 | version:u8 | master_key_id:i32 | GCM(master_key, master)
export const V3_ROOT_HEADER = 1 + 1 + 4;
// master := expires:i64 | generated:i64 | op_site:i32 | op_type:u8 | op_version:i32 | op_key:i32
//           | site_key_id:i32 | GCM(site_key, site)
export const V3_MASTER_HEADER = 8 + 8 + 4 + 1 + 4 + 4 + 4;
export const V3_MASTER_SITE_KEY_ID = 29;
// site := site_id:i32 | publisher_id:i64 | client_key_id:i32 | privacy_bits:i32 | established:i64
//         | refreshed:i64 | raw_uid
export const V3_SITE_HEADER = 4 + 8 + 4 + 4 + 8 + 8;

/** Tokens longer than this are rejected before any decoding (UID2 documents at most 500 chars). */
export const MAX_TOKEN_LENGTH = 2048;

/** Identity scope bit (bit 4) and identity type bits (2-3) of the v3/v4 prefix byte. */
export function prefixScopeIsEuid(prefix: number): boolean {
  return (prefix & 0x10) !== 0;
}
export function prefixIdentityTypeBits(prefix: number): number {
  return (prefix >> 2) & 0b11;
}
