#include "inline.h"

#include <algorithm>
#include <utility>

namespace uid2 {

namespace {

// The live value of a weak reference, or nullptr once the object was collected.
napi_value Deref(napi_env env, napi_ref ref) {
  napi_value value = nullptr;
  if (napi_get_reference_value(env, ref, &value) != napi_ok) return nullptr;
  return value;
}

bool Same(napi_env env, napi_value a, napi_value b) {
  bool same = false;
  return a != nullptr && napi_strict_equals(env, a, b, &same) == napi_ok && same;
}

}  // namespace

InlineDecoder::Entry* InlineDecoder::Find(napi_env env, napi_value snapshot, double version) {
  for (size_t i = 0; i < entries_.size(); i++) {
    if (entries_[i].version != version || !Same(env, Deref(env, entries_[i].snapshot), snapshot)) continue;
    if (i > 0) std::rotate(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(i), entries_.begin() + static_cast<ptrdiff_t>(i) + 1);
    return &entries_[0];
  }
  return nullptr;
}

void InlineDecoder::Erase(napi_env env, size_t index) {
  napi_delete_reference(env, entries_[index].snapshot);
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(index));  // frees its contexts
}

InlineDecoder::Entry* InlineDecoder::Add(napi_env env, napi_value snapshot, double version, const SnapshotView& view) {
  for (size_t i = entries_.size(); i-- > 0;) {
    const napi_value held = Deref(env, entries_[i].snapshot);
    if (held == nullptr || Same(env, held, snapshot)) Erase(env, i);
  }
  if (entries_.size() >= kMaxKeySets) Erase(env, entries_.size() - 1);

  Entry entry;
  entry.version = version;
  entry.view = view;
  entry.decoder = std::make_unique<BatchDecoder>();
  if (!entry.decoder->Init()) return nullptr;
  entry.decoder->ResetKeys(view.key_count());
  if (napi_create_reference(env, snapshot, 0, &entry.snapshot) != napi_ok) return nullptr;
  entries_.insert(entries_.begin(), std::move(entry));
  opened_++;
  return &entries_[0];
}

int InlineDecoder::Decode(Entry* entry, const uint8_t* text, size_t len, Fields* out, bool* context_failed) {
  BatchDecoder& decoder = *entry->decoder;
  decoder.context_failed_ = false;
  const int status = decoder.DecodeToken(entry->view, text, len, out);
  *context_failed = decoder.context_failed_;
  return status;
}

void InlineDecoder::Clear(napi_env env) {
  while (!entries_.empty()) Erase(env, entries_.size() - 1);
}

size_t InlineDecoder::contexts() const {
  size_t n = 0;
  for (const Entry& e : entries_) {
    for (const BatchDecoder::KeyContexts& k : e.decoder->keys_) n += (k.gcm != nullptr) + (k.cbc != nullptr);
  }
  return n;
}

}  // namespace uid2
