#include "inline.h"

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
  for (Entry& entry : entries_) {
    if (entry.version != version || !Same(env, Deref(env, entry.snapshot), snapshot)) continue;
    entry.used = ++tick_;
    return &entry;
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
  if (entries_.size() >= kMaxKeySets) {
    size_t oldest = 0;
    for (size_t i = 1; i < entries_.size(); i++) {
      if (entries_[i].used < entries_[oldest].used) oldest = i;
    }
    Erase(env, oldest);
  }

  Entry entry;
  entry.version = version;
  entry.view = view;
  entry.decoder = std::make_unique<BatchDecoder>();
  if (!entry.decoder->Init()) return nullptr;
  entry.decoder->ResetKeys(view.key_count());
  if (napi_create_reference(env, snapshot, 0, &entry.snapshot) != napi_ok) return nullptr;
  entry.used = ++tick_;
  entries_.push_back(std::move(entry));
  opened_++;
  return &entries_.back();
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
