// In-process decoding of one token per call (decodeOne in addon.cc), for the in-process decryptor
// (src/in-process/decryptor.ts): rules 2-6 by the very code that fills a batch record
// (BatchDecoder::DecodeToken); rules 1 and 7-9 stay in TypeScript (src/token/rules.ts, run by
// src/native/inline-decrypt.ts).
//
// Prepared cipher contexts are kept per key snapshot, in a table of the kMaxKeySets snapshots
// used most recently, each with its own BatchDecoder (contexts made on first use of a key, plus
// work buffers). So a process that alternates between a few key sets (a bidstream and a sharing
// client, say) does not rebuild contexts on every switch, and memory stays bounded however many
// key sets come and go: an entry holds its snapshot only weakly and is freed when the snapshot has
// been garbage collected (checked whenever a snapshot misses the table), when the same snapshot
// comes back with another version, or when it is the least recently used and room is needed.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "batch.h"
#include "snapshot.h"

namespace uid2 {

class InlineDecoder {
 public:
  static constexpr size_t kMaxKeySets = 4;

  // What decodeOne hands back for a token whose layers both decrypted (uid valid until the next
  // Decode() on the same entry).
  using Fields = BatchDecoder::Decoded;

  struct Entry {
    napi_ref snapshot = nullptr;  // weak: never keeps a key set alive
    double version = 0;
    SnapshotView view;
    std::unique_ptr<BatchDecoder> decoder;
    uint64_t used = 0;  // the table's tick at its last use: the smallest is the least recently used
  };

  InlineDecoder() = default;
  InlineDecoder(const InlineDecoder&) = delete;
  InlineDecoder& operator=(const InlineDecoder&) = delete;

  // The entry of `snapshot` at `version`, marked as just used (entries never move, so a caller
  // alternating between two key sets, as a dual-scope engine does, pays no reordering); nullptr
  // when the table lacks it.
  Entry* Find(napi_env env, napi_value snapshot, double version);

  // Adds an entry for `snapshot` (already parsed into `view`), after freeing entries
  // whose snapshot was collected or is this one at another version, and the least recently used
  // one if the table is full. nullptr when OpenSSL or Node-API fails.
  Entry* Add(napi_env env, napi_value snapshot, double version, const SnapshotView& view);

  // Rules 2-6 for text[0, len): a status code, or -1 with `out` filled. Sets *context_failed when
  // OpenSSL could not create a cipher context (out of memory).
  static int Decode(Entry* entry, const uint8_t* text, size_t len, Fields* out, bool* context_failed);

  // Frees every entry (the addon instance is going away).
  void Clear(napi_env env);

  // For tests: entries held, cipher contexts alive across them, entries ever added.
  size_t key_sets() const { return entries_.size(); }
  size_t contexts() const;
  double opened() const { return opened_; }

 private:
  void Erase(napi_env env, size_t index);

  std::vector<Entry> entries_;
  uint64_t tick_ = 0;
  double opened_ = 0;
};

}  // namespace uid2
