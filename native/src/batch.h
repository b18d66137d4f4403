// Decoding a whole batch slot in one call: strict base64, version routing, identity scope, both
// decryption layers (rules 2-6, in the order of src/token/decrypt.ts), writing the 56-byte result
// records of src/engine/wire/slot.ts. Rules 1 and 7-9 stay in TypeScript (src/token/rules.ts, run
// over the records by src/engine/worker/native.ts), so the policy exists once.
//
// Nothing here allocates per token: the token bytes and both plaintext layers go to fixed buffers
// sized for the longest token the engine accepts, and each key's cipher contexts are made once
// per snapshot version, on first use, then only re-initialised with an IV.
#pragma once
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aes.h"
#include "snapshot.h"

namespace uid2 {

constexpr size_t kMaxTokenLength = 2048;  // MAX_TOKEN_LENGTH in src/token/layout.ts
// Decoded token bytes, plus room for OpenSSL's CBC output contract (input + one block).
constexpr size_t kWorkBytes = kMaxTokenLength / 4 * 3 + 2 + 2 * kAesBlock;

// Status codes of the record (the DecryptionStatus declaration order, see src/token/result.ts).
enum Status : uint8_t {
  kSuccess = 0,
  kNotAuthorizedForMasterKey = 1,
  kNotAuthorizedForKey = 2,
  kInvalidPayload = 4,
  kVersionNotSupported = 7,
  kInvalidIdentityScope = 8,
};

// Positions inside one batch slot SharedArrayBuffer (src/engine/wire/slot.ts: slotViews()).
struct SlotView {
  uint8_t* base = nullptr;
  uint32_t capacity = 0;
  uint32_t bytes_capacity = 0;
  size_t table = 0, flags = 0, records = 0, bytes = 0, uids = 0;

  // False when `size` is smaller than slotByteLength(capacity, bytesCapacity).
  bool Parse(uint8_t* data, size_t size, uint32_t capacity, uint32_t bytes_capacity);
};

// Per-thread decoding state: cipher contexts of the snapshot version in force and work buffers.
class BatchDecoder {
 public:
  BatchDecoder() = default;
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;
  ~BatchDecoder();

  bool Init() { return ciphers_.Load(); }
  const Ciphers& ciphers() const { return ciphers_; }

  // Frees every context of the previous key set and sizes the table for `key_count` keys.
  void ResetKeys(uint32_t key_count);

  // Decodes tokens [0, count) of `slot` into their records. Single scope (`euid` null): every
  // token with the keys of `snap`. Dual scope (`euid` set): each token with the decoder and
  // snapshot of the scope its header names (src/token/scope.ts: EUID when a v3/v4 prefix says so,
  // UID2 otherwise), `snap` being UID2's and `euid_snap` EUID's; a scope without a snapshot (null)
  // leaves its tokens to rule 1 (NotInitialized), which TypeScript applies, and the records of
  // EUID-routed tokens carry the EUID flag. False when an OpenSSL context could not be created
  // (out of memory); records are still all written.
  bool DecodeBatch(const SnapshotView* snap, const SlotView& slot, uint32_t count, BatchDecoder* euid = nullptr,
                   const SnapshotView* euid_snap = nullptr);

  // What one token decoded to when both layers decrypted: a batch record's fields, and what the
  // in-process decodeOne hands back.
  struct Decoded {
    uint8_t version;
    uint8_t identity_type;  // 0 none (v2), 1 Email, 2 Phone
    int32_t site_id;
    int32_t privacy_bits;
    double established_ms;
    double expires_ms;
    double generated_ms;  // NaN for v2
    int32_t master_key_id;
    int32_t site_key_id;
    double site_key_site_id;  // the site key's site id, 0 when it has none (SnapshotView::KeySiteId)
    const uint8_t* uid;  // into the decoder's work buffer: valid until its next decode
    size_t uid_len;
  };

  // The in-process path (inline.cc) decodes single tokens with this same per-token code.
  friend class InlineDecoder;

 private:
  struct KeyContexts {
    EVP_CIPHER_CTX* gcm = nullptr;
    EVP_CIPHER_CTX* cbc = nullptr;
  };

  // A status code, or -1 with `out` filled when both layers decrypted.
  int DecodeToken(const SnapshotView& snap, const uint8_t* text, size_t len, Decoded* out);
  int DecodeV2(const SnapshotView& snap, size_t n, Decoded* out);
  int DecodeV3(const SnapshotView& snap, size_t n, uint8_t version, Decoded* out);
  EVP_CIPHER_CTX* Context(const SnapshotView& snap, uint32_t index, bool gcm);

  Ciphers ciphers_;
  std::vector<KeyContexts> keys_;
  bool context_failed_ = false;
  alignas(16) uint8_t token_[kWorkBytes];
  alignas(16) uint8_t outer_[kWorkBytes];
  alignas(16) uint8_t inner_[kWorkBytes];
};

}  // namespace uid2
