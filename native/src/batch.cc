#include "batch.h"

#include <cstring>
#include <limits>

#include "base64.h"
#include "bytes.h"

namespace uid2 {

namespace {

// src/engine/wire/slot.ts (the record and input-flag layout)
constexpr uint8_t kInputInvalid = 0b01;
constexpr size_t kRecordBytes = 56;
constexpr uint8_t kRecordCstg = 0b001;
constexpr uint8_t kRecordDecoded = 0b010;
constexpr uint8_t kRecordEuid = 0b100;

// src/token/layout.ts
constexpr uint8_t kV2VersionByte = 2;
constexpr uint8_t kV3VersionByte = 112;
constexpr uint8_t kV4VersionByte = 128;
constexpr size_t kV2RootHeader = 1 + 4 + 16;
constexpr size_t kV2MasterHeader = 8 + 4 + 16;
constexpr size_t kV2IdentityFixed = 4 + 4 + 4 + 8;
constexpr size_t kV3RootHeader = 1 + 1 + 4;
constexpr size_t kV3MasterHeader = 8 + 8 + 4 + 1 + 4 + 4 + 4;
constexpr size_t kV3MasterSiteKeyId = 29;
constexpr size_t kV3SiteHeader = 4 + 8 + 4 + 4 + 8 + 8;
constexpr int32_t kPrivacyBitCstg = 0b10;

// The scope a token's header names (src/token/scope.ts): EUID only for a v3/v4 header whose
// prefix has bit 4 set; v2 and unreadable headers are UID2's.
bool HeaderNamesEuid(const uint8_t* text, size_t len) {
  uint8_t header[3];
  if (len < 4 || !DecodeHeader(text, header) || header[0] == kV2VersionByte) return false;
  return (header[1] == kV3VersionByte || header[1] == kV4VersionByte) && (header[0] & 0x10) != 0;
}

}  // namespace

bool SlotView::Parse(uint8_t* data, size_t size, uint32_t cap, uint32_t bytes_cap) {
  const uint64_t c = cap;
  const uint64_t records_at = (25 * c + 7) & ~uint64_t{7};
  const uint64_t bytes_at = records_at + kRecordBytes * c;
  const uint64_t end = bytes_at + 2 * uint64_t{bytes_cap};
  if (!data || end > size) return false;
  base = data;
  capacity = cap;
  bytes_capacity = bytes_cap;
  table = static_cast<size_t>(8 * c);
  flags = static_cast<size_t>(24 * c);
  records = static_cast<size_t>(records_at);
  bytes = static_cast<size_t>(bytes_at);
  uids = static_cast<size_t>(bytes_at + bytes_cap);
  return true;
}

BatchDecoder::~BatchDecoder() {
  ResetKeys(0);
  ciphers_.Free();
}

void BatchDecoder::ResetKeys(uint32_t key_count) {
  for (KeyContexts& k : keys_) {
    EVP_CIPHER_CTX_free(k.gcm);
    EVP_CIPHER_CTX_free(k.cbc);
  }
  keys_.clear();
  keys_.resize(key_count);
  if (key_count == 0) keys_.shrink_to_fit();
}

EVP_CIPHER_CTX* BatchDecoder::Context(const SnapshotView& snap, uint32_t index, bool gcm) {
  if (index >= keys_.size()) return nullptr;
  EVP_CIPHER_CTX*& slot = gcm ? keys_[index].gcm : keys_[index].cbc;
  if (!slot) {
    slot = NewDecryptContext(gcm ? ciphers_.gcm : ciphers_.cbc, snap.Secret(index));
    if (!slot) context_failed_ = true;
  }
  return slot;
}

int BatchDecoder::DecodeV2(const SnapshotView& snap, size_t n, Decoded* out) {
  const uint8_t* bytes = token_;
  if (n < kV2RootHeader) return kInvalidPayload;
  const int32_t master_key_id = ReadI32BE(bytes + 1);
  const int64_t master_key = snap.FindKey(master_key_id);
  if (master_key < 0) return kNotAuthorizedForMasterKey;
  EVP_CIPHER_CTX* master_ctx = Context(snap, static_cast<uint32_t>(master_key), false);
  size_t master_len = 0;
  if (!master_ctx || !CbcOpen(master_ctx, bytes + 5, bytes + kV2RootHeader, n - kV2RootHeader, outer_,
                              sizeof outer_, &master_len)) {
    return kInvalidPayload;
  }
  if (master_len < kV2MasterHeader) return kInvalidPayload;
  const uint8_t* master = outer_;

  const double expires_ms = ReadI64BEAsDouble(master);
  const int32_t site_key_id = ReadI32BE(master + 8);
  const int64_t site_key = snap.FindKey(site_key_id);
  if (site_key < 0) return kNotAuthorizedForKey;
  EVP_CIPHER_CTX* site_ctx = Context(snap, static_cast<uint32_t>(site_key), false);
  size_t identity_len = 0;
  if (!site_ctx || !CbcOpen(site_ctx, master + 12, master + kV2MasterHeader, master_len - kV2MasterHeader,
                            inner_, sizeof inner_, &identity_len)) {
    return kInvalidPayload;
  }
  if (identity_len < kV2IdentityFixed) return kInvalidPayload;
  const uint8_t* identity = inner_;

  const int32_t id_len = ReadI32BE(identity + 4);
  if (id_len < 0 || static_cast<size_t>(id_len) > identity_len - kV2IdentityFixed) return kInvalidPayload;
  const size_t id_end = 8 + static_cast<size_t>(id_len);
  out->version = 2;
  out->master_key_id = master_key_id;
  out->site_key_id = site_key_id;
  out->site_key_site_id = snap.KeySiteId(static_cast<uint32_t>(site_key));
  out->identity_type = 0;
  out->site_id = ReadI32BE(identity);
  out->privacy_bits = ReadI32BE(identity + id_end);
  out->established_ms = ReadI64BEAsDouble(identity + id_end + 4);
  out->expires_ms = expires_ms;
  out->generated_ms = std::numeric_limits<double>::quiet_NaN();
  out->uid = identity + 8;
  out->uid_len = static_cast<size_t>(id_len);
  return -1;
}

int BatchDecoder::DecodeV3(const SnapshotView& snap, size_t n, uint8_t version, Decoded* out) {
  const uint8_t* bytes = token_;
  if (n < 1) return kInvalidPayload;
  const uint8_t prefix = bytes[0];
  if (((prefix & 0x10) != 0) != snap.euid()) return kInvalidIdentityScope;
  if (n < kV3RootHeader) return kInvalidPayload;
  const int32_t master_key_id = ReadI32BE(bytes + 2);
  const int64_t master_key = snap.FindKey(master_key_id);
  if (master_key < 0) return kNotAuthorizedForMasterKey;
  EVP_CIPHER_CTX* master_ctx = Context(snap, static_cast<uint32_t>(master_key), true);
  size_t master_len = 0;
  if (!master_ctx || !GcmOpen(master_ctx, bytes + kV3RootHeader, n - kV3RootHeader, outer_, sizeof outer_,
                              &master_len)) {
    return kInvalidPayload;
  }
  if (master_len < kV3MasterHeader) return kInvalidPayload;
  const uint8_t* master = outer_;

  const int32_t site_key_id = ReadI32BE(master + kV3MasterSiteKeyId);
  const int64_t site_key = snap.FindKey(site_key_id);
  if (site_key < 0) return kNotAuthorizedForKey;
  EVP_CIPHER_CTX* site_ctx = Context(snap, static_cast<uint32_t>(site_key), true);
  size_t site_len = 0;
  if (!site_ctx || !GcmOpen(site_ctx, master + kV3MasterHeader, master_len - kV3MasterHeader, inner_,
                            sizeof inner_, &site_len)) {
    return kInvalidPayload;
  }
  if (site_len < kV3SiteHeader) return kInvalidPayload;
  const uint8_t* site = inner_;

  // 0 is Email, any other value Phone, as in the official SDKs (the prefix is not authenticated).
  const uint8_t type_bits = (prefix >> 2) & 0b11;
  out->version = version;
  out->master_key_id = master_key_id;
  out->site_key_id = site_key_id;
  out->site_key_site_id = snap.KeySiteId(static_cast<uint32_t>(site_key));
  out->identity_type = type_bits == 0 ? 1 : 2;
  out->site_id = ReadI32BE(site);
  out->privacy_bits = ReadI32BE(site + 16);
  out->established_ms = ReadI64BEAsDouble(site + 20);
  out->expires_ms = ReadI64BEAsDouble(master);
  out->generated_ms = ReadI64BEAsDouble(master + 8);
  out->uid = site + kV3SiteHeader;
  out->uid_len = site_len - kV3SiteHeader;
  return -1;
}

int BatchDecoder::DecodeToken(const SnapshotView& snap, const uint8_t* text, size_t len, Decoded* out) {
  if (len < 4 || len > kMaxTokenLength) return kInvalidPayload;
  uint8_t header[3];
  if (!DecodeHeader(text, header)) return kInvalidPayload;

  Alphabet alphabet;
  uint8_t version;
  if (header[0] == kV2VersionByte) {
    alphabet = Alphabet::kStandard;
    version = 2;
  } else if (header[1] == kV3VersionByte) {
    alphabet = Alphabet::kStandard;
    version = 3;
  } else if (header[1] == kV4VersionByte) {
    // v4 is specified as base64url, but standard base64 (padded or not) is accepted too.
    alphabet = Alphabet::kEither;
    version = 4;
  } else {
    return kVersionNotSupported;
  }
  const ptrdiff_t n = DecodeBase64Strict(text, len, alphabet, token_, sizeof token_);
  if (n < 0) return kInvalidPayload;
  return version == 2 ? DecodeV2(snap, static_cast<size_t>(n), out)
                      : DecodeV3(snap, static_cast<size_t>(n), version, out);
}

bool BatchDecoder::DecodeBatch(const SnapshotView* snap, const SlotView& slot, uint32_t count, BatchDecoder* euid,
                               const SnapshotView* euid_snap) {
  context_failed_ = false;
  if (euid) euid->context_failed_ = false;
  if (count > slot.capacity) count = slot.capacity;
  const uint8_t* table = slot.base + slot.table;
  const uint8_t* input_flags = slot.base + slot.flags;
  const uint8_t* text = slot.base + slot.bytes;
  uint8_t* uids = slot.base + slot.uids;

  for (uint32_t i = 0; i < count; i++) {
    uint8_t* rec = slot.base + slot.records + size_t{i} * kRecordBytes;
    const uint32_t off = LoadHost<uint32_t>(table + size_t{i} * 16);
    const uint32_t len = LoadHost<uint32_t>(table + size_t{i} * 16 + 4);
    int status = kInvalidPayload;
    uint8_t scope = 0;
    Decoded d;
    if ((input_flags[i] & kInputInvalid) == 0 && uint64_t{off} + len <= slot.bytes_capacity) {
      BatchDecoder* decoder = this;
      const SnapshotView* keys = snap;
      if (euid && HeaderNamesEuid(text + off, len)) {
        decoder = euid;
        keys = euid_snap;
        scope = kRecordEuid;
      }
      // No snapshot for the token's scope: the placeholder status stays, and rule 1 replaces it.
      if (keys) status = decoder->DecodeToken(*keys, text + off, len, &d);
    }
    if (status >= 0) {
      rec[0] = static_cast<uint8_t>(status);
      rec[3] = scope;
      continue;
    }
    // Status 0 is a placeholder: the worker writes the final one after rules 1 and 7-9.
    const uint8_t flags = kRecordDecoded | scope | ((d.privacy_bits & kPrivacyBitCstg) ? kRecordCstg : 0);
    // A raw UID is always shorter than its token text (the base64 of headers, tags and the UID),
    // so it fits at the token's own offset of the uids region, which is as large as the text.
    if (d.uid_len > 0) std::memcpy(uids + off, d.uid, d.uid_len);
    const uint32_t uid_off = off;
    const uint32_t uid_len = static_cast<uint32_t>(d.uid_len);
    rec[0] = kSuccess;
    rec[1] = d.version;
    rec[2] = d.identity_type;
    rec[3] = flags;
    StoreHost<int32_t>(rec + 4, d.site_id);
    StoreHost<double>(rec + 8, d.established_ms);
    StoreHost<double>(rec + 16, d.expires_ms);
    StoreHost<uint32_t>(rec + 24, uid_off);
    StoreHost<uint32_t>(rec + 28, uid_len);
    StoreHost<double>(rec + 32, d.generated_ms);
    StoreHost<int32_t>(rec + 40, d.master_key_id);
    StoreHost<int32_t>(rec + 44, d.site_key_id);
    StoreHost<double>(rec + 48, d.site_key_site_id);
  }
  return !context_failed_ && !(euid && euid->context_failed_);
}

}  // namespace uid2
