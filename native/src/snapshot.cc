#include "snapshot.h"

#include <cmath>

#include "bytes.h"

namespace uid2 {

namespace {

constexpr double kMagic = 0x55494432;  // "UID2"
constexpr size_t kHeaderBytes = 16 * 8;
constexpr size_t kSecretBytes = 32;
constexpr size_t kKeyFields = 6;    // KEY_FIELDS in src/keys/snapshot.ts
constexpr size_t kKeySiteIdField = 2;  // F_SITE_ID
// Far above any real key set; keeps every size computation below well inside 64 bits.
constexpr double kMaxCount = 1 << 24;

enum Header { kMagicSlot = 0, kKeyCount = 2, kKeyHashCapacity = 3, kScope = 4, kSiteCount = 9,
              kSiteHashCapacity = 10, kNamesBytes = 11 };

bool CountAt(const uint8_t* data, int slot, double max, uint64_t* out) {
  const double v = LoadHost<double>(data + slot * 8);
  if (!(v >= 0 && v <= max) || std::floor(v) != v) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

bool SnapshotView::Parse(const uint8_t* data, size_t size) {
  data_ = nullptr;
  if (!data || size < kHeaderBytes) return false;
  if (LoadHost<double>(data + kMagicSlot * 8) != kMagic) return false;
  uint64_t key_count, key_cap, site_count, site_cap, names;
  if (!CountAt(data, kKeyCount, kMaxCount, &key_count) || !CountAt(data, kKeyHashCapacity, 2 * kMaxCount, &key_cap) ||
      !CountAt(data, kSiteCount, kMaxCount, &site_count) ||
      !CountAt(data, kSiteHashCapacity, 2 * kMaxCount, &site_cap) ||
      !CountAt(data, kNamesBytes, 1e12, &names)) {
    return false;
  }
  // The probe loop relies on a power-of-two table with at least one empty slot.
  if (!IsPowerOfTwo(key_cap) || key_cap <= key_count) return false;
  const uint64_t key_ids = kHeaderBytes;
  const uint64_t key_hash = key_ids + 4 * key_count;
  const uint64_t secrets = key_hash + 4 * key_cap + 4 * site_count + 4 * site_cap + 8 * site_count;
  const uint64_t names_end = secrets + kSecretBytes * key_count + names;
  const uint64_t key_fields = (names_end + 7) & ~uint64_t{7};
  const uint64_t end = key_fields + 8 * kKeyFields * key_count;
  if (end > size) return false;

  data_ = data;
  key_count_ = static_cast<uint32_t>(key_count);
  key_hash_capacity_ = static_cast<uint32_t>(key_cap);
  key_ids_ = static_cast<size_t>(key_ids);
  key_hash_ = static_cast<size_t>(key_hash);
  secrets_ = static_cast<size_t>(secrets);
  key_fields_ = static_cast<size_t>(key_fields);
  euid_ = LoadHost<double>(data + kScope * 8) == 1;
  return true;
}

double SnapshotView::KeySiteId(uint32_t index) const {
  const double site_id = LoadHost<double>(data_ + key_fields_ + (size_t{index} * kKeyFields + kKeySiteIdField) * 8);
  return std::isnan(site_id) ? 0 : site_id;
}

int64_t SnapshotView::FindKey(int32_t id) const {
  if (!data_) return -1;
  const uint32_t mask = key_hash_capacity_ - 1;
  // Math.imul(id, 0x9e3779b1) >>> 0: the low 32 bits of the product, as unsigned.
  uint32_t slot = (static_cast<uint32_t>(id) * 0x9e3779b1u) & mask;
  for (uint32_t probes = 0; probes < key_hash_capacity_; probes++) {
    const int32_t entry = LoadHost<int32_t>(data_ + key_hash_ + size_t{slot} * 4);
    if (entry == 0) return -1;
    if (entry < 0 || static_cast<uint32_t>(entry) > key_count_) return -1;  // corrupt table
    const uint32_t index = static_cast<uint32_t>(entry) - 1;
    if (LoadHost<int32_t>(data_ + key_ids_ + size_t{index} * 4) == id) return index;
    slot = (slot + 1) & mask;
  }
  return -1;
}

}  // namespace uid2
