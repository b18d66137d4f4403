// Read-only view of a key snapshot SharedArrayBuffer, laid out by src/keys/snapshot.ts (regions after
// `keyFields` serve the TypeScript side only and are not read here):
//
//   0    header    Float64 x 16   (magic, version, keyCount, keyHashCapacity, scope, ...)
//   128  keyIds    Int32   x keyCount
//        keyHash   Int32   x keyHashCapacity   (key index + 1; 0 = empty)
//        siteIds   Int32   x siteCount
//        siteHash  Int32   x siteHashCapacity
//        siteNames Uint32  x siteCount * 2
//        secrets   Uint8   x keyCount * 32
//        names     Uint8   x namesBytes
//        (padding to 8)
//        keyFields Float64 x keyCount * 6      (id, keysetId, siteId, created, activates, expires)
//
// Only what decoding needs is read here (scope, key ids, secrets, each key's site id); the site
// data serves the policy rules, which stay in TypeScript. Every count is validated against the buffer's real size before
// any region is touched, so a corrupt or foreign buffer is refused instead of read out of bounds.
#pragma once
#include <cstddef>
#include <cstdint>

namespace uid2 {

class SnapshotView {
 public:
  // False when `data` is not a complete, consistent snapshot.
  bool Parse(const uint8_t* data, size_t size);

  uint32_t key_count() const { return key_count_; }
  bool euid() const { return euid_; }

  // Index of key `id`, or -1. Same hash and probe order as slotOf()/find() in snapshot.ts.
  int64_t FindKey(int32_t id) const;

  // The 32-byte secret of key `index` (index < key_count()).
  const uint8_t* Secret(uint32_t index) const { return data_ + secrets_ + size_t{index} * 32; }

  // The site id of key `index` (index < key_count()) as a result's siteKeySiteId: 0 for a key
  // that has none (NaN in the snapshot), as siteKeySiteIdOf() in src/token/result.ts reads it.
  double KeySiteId(uint32_t index) const;

 private:
  const uint8_t* data_ = nullptr;
  uint32_t key_count_ = 0;
  uint32_t key_hash_capacity_ = 0;
  size_t key_ids_ = 0;
  size_t key_hash_ = 0;
  size_t secrets_ = 0;
  size_t key_fields_ = 0;
  bool euid_ = false;
};

}  // namespace uid2
