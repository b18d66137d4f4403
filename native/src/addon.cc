// Node-API entry points of uid2_native (plain node_api.h, no npm dependency):
//
//   decodeBatch(slot, capacity, bytesCapacity, count, snapshot, snapshotVersion[, euidSnapshot]): void
//     with euidSnapshot (a SharedArrayBuffer or null) the batch is dual-scope: `snapshot` (or null)
//     is UID2's, and each token goes to the key set of the scope its header names
//   decodeOne(token, snapshot, snapshotVersion, scratch): number | string   in-process, one token
//   inlineStats(): { keySets, contexts, opened }   test seam: decodeOne's context table
//   gcmDecrypt(key, blobs): (Buffer | null)[]   test seam: one prepared context, many openings
//   benchGcmFloor(iterations, uidLength?): number   ns per v4 token of pure AES-GCM work
//   opensslVersion: string
//   lockFile(fd): number   flock(fd, LOCK_EX | LOCK_NB): 0, or the errno (-1: no flock here)
//
// Each thread that loads the addon (every Piscina worker) gets its own BatchDecoder and
// InlineDecoder as instance data, so no state is shared between threads and no lock is taken on
// the hot path.
#include <node_api.h>
#include <openssl/crypto.h>

#include <cmath>
#include <vector>

#include "base64.h"
#include "batch.h"
#include "file-lock.h"
#include "inline.h"

namespace uid2 {
namespace {

// A batch decoder and the snapshot whose contexts it holds: a weak reference (it never keeps a key
// set alive) compared by identity, plus its version, so a new version or a different buffer with
// a recycled version number both start from fresh contexts.
struct ScopeDecoder {
  BatchDecoder decoder;
  napi_ref snapshot = nullptr;
  double snapshot_version = std::nan("");
};

struct Instance {
  // [0]: single-scope batches, and UID2's tokens of dual-scope ones; [1]: EUID's tokens of
  // dual-scope batches. Each keeps its own contexts, so alternating scopes never evicts either.
  ScopeDecoder batch[2];
  napi_ref uint8_array = nullptr;        // the Uint8Array constructor
  napi_ref shared_array_buffer = nullptr;  // the SharedArrayBuffer constructor
  // decodeOne's contexts, per snapshot (inline.h); separate from `decoder`, so a batch decoded on
  // the same thread never evicts them.
  InlineDecoder inline_decoder;
};

#define CHECK_NAPI(env, call)                                  \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      ThrowPending(env, "uid2_native: Node-API call failed");  \
      return nullptr;                                          \
    }                                                          \
  } while (0)

void ThrowPending(napi_env env, const char* message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, nullptr, message);
}

napi_value Throw(napi_env env, const char* message, bool range = false) {
  if (range) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  } else {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  }
  return nullptr;
}

void Finalize(napi_env env, void* data, void*) {
  auto* inst = static_cast<Instance*>(data);
  if (inst->uint8_array) napi_delete_reference(env, inst->uint8_array);
  if (inst->shared_array_buffer) napi_delete_reference(env, inst->shared_array_buffer);
  for (ScopeDecoder& scope : inst->batch) {
    if (scope.snapshot) napi_delete_reference(env, scope.snapshot);
  }
  inst->inline_decoder.Clear(env);
  delete inst;  // frees every cipher context
}

Instance* InstanceOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<Instance*>(data);
}

// The bytes of a SharedArrayBuffer. Node 20's Node-API has no SharedArrayBuffer accessor, so the
// buffer is wrapped in a Uint8Array (one small object per call, not per token) whose data pointer
// Node-API does expose. SharedArrayBuffers never move or detach, so the pointer stays valid.
bool SharedBytes(napi_env env, Instance* inst, napi_value value, uint8_t** data, size_t* size) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return false;
  napi_value sab_ctor, u8_ctor, view;
  bool is_sab = false;
  if (napi_get_reference_value(env, inst->shared_array_buffer, &sab_ctor) != napi_ok ||
      napi_instanceof(env, value, sab_ctor, &is_sab) != napi_ok || !is_sab) {
    return false;
  }
  if (napi_get_reference_value(env, inst->uint8_array, &u8_ctor) != napi_ok ||
      napi_new_instance(env, u8_ctor, 1, &value, &view) != napi_ok) {
    return false;
  }
  napi_typedarray_type kind;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, view, &kind, size, &raw, nullptr, nullptr) != napi_ok ||
      kind != napi_uint8_array) {
    return false;
  }
  *data = static_cast<uint8_t*>(raw);
  return true;
}

bool Uint32Arg(napi_env env, napi_value value, uint32_t* out) {
  double v;
  if (napi_get_value_double(env, value, &v) != napi_ok) return false;
  if (!(v >= 0 && v <= 4294967295.0) || std::floor(v) != v) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// Parses `value` (a key snapshot) into `snap` and makes `scope` hold contexts for it, keeping the
// prepared ones when it is the same buffer and version as last time. False with a pending
// exception when `value` is not a complete snapshot.
bool PrepareScope(napi_env env, Instance* inst, ScopeDecoder& scope, napi_value value, double version, SnapshotView* snap) {
  uint8_t* data;
  size_t size;
  if (!SharedBytes(env, inst, value, &data, &size)) {
    Throw(env, "snapshot must be a SharedArrayBuffer");
    return false;
  }
  if (!snap->Parse(data, size)) {
    napi_throw_error(env, "UID2_ERR_NATIVE_SNAPSHOT", "not a complete key snapshot");
    return false;
  }
  bool same = false;
  if (scope.snapshot && version == scope.snapshot_version) {
    napi_value previous = nullptr;
    if (napi_get_reference_value(env, scope.snapshot, &previous) == napi_ok && previous != nullptr &&
        napi_strict_equals(env, previous, value, &same) != napi_ok) {
      ThrowPending(env, "uid2_native: Node-API call failed");
      return false;
    }
  }
  if (!same) {
    scope.decoder.ResetKeys(snap->key_count());
    if (scope.snapshot) napi_delete_reference(env, scope.snapshot);
    scope.snapshot = nullptr;
    if (napi_create_reference(env, value, 0, &scope.snapshot) != napi_ok) {
      ThrowPending(env, "uid2_native: Node-API call failed");
      return false;
    }
    scope.snapshot_version = version;
  }
  return true;
}

bool IsNull(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_null;
}

napi_value DecodeBatch(napi_env env, napi_callback_info info) {
  Instance* inst = InstanceOf(env);
  if (!inst) return Throw(env, "uid2_native: not initialised");
  size_t argc = 7;
  napi_value argv[7];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 6) return Throw(env, "decodeBatch needs 6 arguments");
  napi_valuetype seventh = napi_undefined;
  if (argc >= 7) CHECK_NAPI(env, napi_typeof(env, argv[6], &seventh));
  const bool dual = seventh != napi_undefined;

  uint32_t capacity, bytes_capacity, count;
  double version;
  if (!Uint32Arg(env, argv[1], &capacity) || !Uint32Arg(env, argv[2], &bytes_capacity) ||
      !Uint32Arg(env, argv[3], &count)) {
    return Throw(env, "capacity, bytesCapacity and count must be integers in [0, 2^32)");
  }
  if (napi_get_value_double(env, argv[5], &version) != napi_ok || std::isnan(version)) {
    return Throw(env, "snapshotVersion must be a number");
  }
  if (count > capacity) return Throw(env, "count exceeds the slot capacity", true);

  uint8_t* slot_data;
  size_t slot_size;
  if (!SharedBytes(env, inst, argv[0], &slot_data, &slot_size)) return Throw(env, "slot must be a SharedArrayBuffer");
  SlotView slot;
  if (!slot.Parse(slot_data, slot_size, capacity, bytes_capacity)) {
    return Throw(env, "slot is smaller than its capacity and bytesCapacity require", true);
  }
  // A dual-scope batch may lack either snapshot (that scope has no keys yet); a single-scope one
  // always has its own.
  SnapshotView snaps[2];
  const SnapshotView* uid2 = nullptr;
  const SnapshotView* euid = nullptr;
  if (!(dual && IsNull(env, argv[4]))) {
    if (!PrepareScope(env, inst, inst->batch[0], argv[4], version, &snaps[0])) return nullptr;
    uid2 = &snaps[0];
  }
  if (dual && !IsNull(env, argv[6])) {
    if (!PrepareScope(env, inst, inst->batch[1], argv[6], version, &snaps[1])) return nullptr;
    euid = &snaps[1];
  }

  if (!inst->batch[0].decoder.DecodeBatch(uid2, slot, count, dual ? &inst->batch[1].decoder : nullptr, euid)) {
    napi_throw_error(env, "UID2_ERR_NATIVE_OPENSSL", "OpenSSL could not create a cipher context");
    return nullptr;
  }
  return nullptr;
}

// decodeOne's scratch Float64Array, written for a token whose layers both decrypted.
enum Scratch { kScratchVersion, kScratchIdentityType, kScratchSiteId, kScratchPrivacyBits, kScratchEstablished,
               kScratchExpires, kScratchGenerated, kScratchMasterKeyId, kScratchSiteKeyId, kScratchSiteKeySiteId,
               kScratchSlots };

// decodeOne(token, snapshot, snapshotVersion, scratch): rules 2-6 for one token. Returns the
// status code of a token that failed them, or, when both layers decrypted, the raw UID's text
// (UTF-8 for v2, base64 for v3/v4) with the other fields in `scratch` (Scratch above); rules 1
// and 7-9 are the caller's. The snapshot is parsed and its contexts made only when it misses the
// InlineDecoder table, so a call costs one string copy, one identity check and the decryption.
napi_value DecodeOne(napi_env env, napi_callback_info info) {
  Instance* inst = InstanceOf(env);
  if (!inst) return Throw(env, "uid2_native: not initialised");
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 4) return Throw(env, "decodeOne needs 4 arguments");
  double version;
  if (napi_get_value_double(env, argv[2], &version) != napi_ok || std::isnan(version)) {
    return Throw(env, "snapshotVersion must be a number");
  }
  napi_typedarray_type kind;
  size_t scratch_len = 0;
  void* scratch_data = nullptr;
  if (napi_get_typedarray_info(env, argv[3], &kind, &scratch_len, &scratch_data, nullptr, nullptr) != napi_ok ||
      kind != napi_float64_array || scratch_len < kScratchSlots) {
    return Throw(env, "scratch must be a Float64Array of at least 10 elements");
  }

  // One UTF-16 unit per byte: ASCII as is, anything else as 0x80, which no base64 alphabet holds,
  // so the text decodes exactly as the TypeScript decoder reads the JavaScript string (a token of
  // up to MAX_TOKEN_LENGTH units stays that many bytes, whatever its characters).
  char16_t units[kMaxTokenLength + 2];
  size_t n = 0;
  if (napi_get_value_string_utf16(env, argv[0], units, kMaxTokenLength + 2, &n) != napi_ok) {
    return Throw(env, "token must be a string");
  }
  int status = kInvalidPayload;
  InlineDecoder::Fields fields;
  if (n <= kMaxTokenLength) {
    uint8_t text[kMaxTokenLength];
    for (size_t i = 0; i < n; i++) text[i] = units[i] < 0x80 ? static_cast<uint8_t>(units[i]) : 0x80;

    InlineDecoder::Entry* entry = inst->inline_decoder.Find(env, argv[1], version);
    if (!entry) {
      uint8_t* snap_data;
      size_t snap_size;
      if (!SharedBytes(env, inst, argv[1], &snap_data, &snap_size)) {
        return Throw(env, "snapshot must be a SharedArrayBuffer");
      }
      SnapshotView snap;
      if (!snap.Parse(snap_data, snap_size)) {
        napi_throw_error(env, "UID2_ERR_NATIVE_SNAPSHOT", "not a complete key snapshot");
        return nullptr;
      }
      entry = inst->inline_decoder.Add(env, argv[1], version, snap);
    }
    bool context_failed = false;
    if (entry) status = InlineDecoder::Decode(entry, text, n, &fields, &context_failed);
    if (!entry || context_failed) {
      napi_throw_error(env, "UID2_ERR_NATIVE_OPENSSL", "OpenSSL could not create a cipher context");
      return nullptr;
    }
  }
  napi_value result;
  if (status >= 0) {
    CHECK_NAPI(env, napi_create_uint32(env, static_cast<uint32_t>(status), &result));
    return result;
  }
  double* scratch = static_cast<double*>(scratch_data);
  scratch[kScratchVersion] = fields.version;
  scratch[kScratchIdentityType] = fields.identity_type;
  scratch[kScratchSiteId] = fields.site_id;
  scratch[kScratchPrivacyBits] = fields.privacy_bits;
  scratch[kScratchEstablished] = fields.established_ms;
  scratch[kScratchExpires] = fields.expires_ms;
  scratch[kScratchGenerated] = fields.generated_ms;
  scratch[kScratchMasterKeyId] = fields.master_key_id;
  scratch[kScratchSiteKeyId] = fields.site_key_id;
  scratch[kScratchSiteKeySiteId] = fields.site_key_site_id;
  if (fields.version == 2) {
    // The same V8 conversion Buffer.toString('utf8') makes (invalid sequences become U+FFFD).
    CHECK_NAPI(env, napi_create_string_utf8(env, reinterpret_cast<const char*>(fields.uid), fields.uid_len, &result));
  } else {
    char text[EncodedLength(kWorkBytes)];
    const size_t len = EncodeBase64(fields.uid, fields.uid_len, text);
    CHECK_NAPI(env, napi_create_string_latin1(env, text, len, &result));
  }
  return result;
}

napi_value InlineStats(napi_env env, napi_callback_info) {
  Instance* inst = InstanceOf(env);
  if (!inst) return Throw(env, "uid2_native: not initialised");
  napi_value result, key_sets, contexts, opened;
  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_create_uint32(env, static_cast<uint32_t>(inst->inline_decoder.key_sets()), &key_sets));
  CHECK_NAPI(env, napi_create_uint32(env, static_cast<uint32_t>(inst->inline_decoder.contexts()), &contexts));
  CHECK_NAPI(env, napi_set_named_property(env, result, "keySets", key_sets));
  CHECK_NAPI(env, napi_create_double(env, inst->inline_decoder.opened(), &opened));
  CHECK_NAPI(env, napi_set_named_property(env, result, "contexts", contexts));
  CHECK_NAPI(env, napi_set_named_property(env, result, "opened", opened));
  return result;
}

napi_value GcmDecrypt(napi_env env, napi_callback_info info) {
  Instance* inst = InstanceOf(env);
  if (!inst) return Throw(env, "uid2_native: not initialised");
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 2) return Throw(env, "gcmDecrypt(key, blobs) needs 2 arguments");

  bool is_typed = false, is_array = false;
  CHECK_NAPI(env, napi_is_typedarray(env, argv[0], &is_typed));
  CHECK_NAPI(env, napi_is_array(env, argv[1], &is_array));
  if (!is_typed || !is_array) return Throw(env, "gcmDecrypt(key: Uint8Array, blobs: Uint8Array[])");
  napi_typedarray_type kind;
  size_t key_len;
  void* key = nullptr;
  CHECK_NAPI(env, napi_get_typedarray_info(env, argv[0], &kind, &key_len, &key, nullptr, nullptr));
  if (kind != napi_uint8_array || key_len != kKeyBytes) return Throw(env, "key must be 32 bytes");

  EVP_CIPHER_CTX* ctx = NewDecryptContext(inst->batch[0].decoder.ciphers().gcm, static_cast<uint8_t*>(key));
  if (!ctx) {
    napi_throw_error(env, "UID2_ERR_NATIVE_OPENSSL", "OpenSSL could not create a cipher context");
    return nullptr;
  }
  uint32_t n = 0;
  napi_value results = nullptr;
  bool ok = napi_get_array_length(env, argv[1], &n) == napi_ok && napi_create_array_with_length(env, n, &results) == napi_ok;
  std::vector<uint8_t> out;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value blob, result;
    void* data = nullptr;
    size_t len = 0;
    ok = napi_get_element(env, argv[1], i, &blob) == napi_ok &&
         napi_is_typedarray(env, blob, &is_typed) == napi_ok && is_typed &&
         napi_get_typedarray_info(env, blob, &kind, &len, &data, nullptr, nullptr) == napi_ok &&
         kind == napi_uint8_array;
    if (!ok) break;
    out.assign(len + 1, 0);
    size_t plain_len = 0;
    if (GcmOpen(ctx, static_cast<uint8_t*>(data), len, out.data(), out.size(), &plain_len)) {
      ok = napi_create_buffer_copy(env, plain_len, out.data(), nullptr, &result) == napi_ok;
    } else {
      ok = napi_get_null(env, &result) == napi_ok;
    }
    ok = ok && napi_set_element(env, results, i, result) == napi_ok;
  }
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    ThrowPending(env, "blobs must be Uint8Arrays");
    return nullptr;
  }
  return results;
}

napi_value BenchGcmFloorJs(napi_env env, napi_callback_info info) {
  Instance* inst = InstanceOf(env);
  if (!inst) return Throw(env, "uid2_native: not initialised");
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  uint32_t iterations = 0, uid_len = 32;
  if (argc < 1 || !Uint32Arg(env, argv[0], &iterations)) return Throw(env, "iterations must be a uint32");
  napi_valuetype type = napi_undefined;
  if (argc >= 2) CHECK_NAPI(env, napi_typeof(env, argv[1], &type));
  if (type != napi_undefined && (!Uint32Arg(env, argv[1], &uid_len) || uid_len > 1024)) {
    return Throw(env, "uidLength must be an integer in [0, 1024]");
  }
  const double ns = BenchGcmFloor(inst->batch[0].decoder.ciphers(), iterations, uid_len);
  if (ns < 0) {
    napi_throw_error(env, "UID2_ERR_NATIVE_OPENSSL", "OpenSSL failed during the floor benchmark");
    return nullptr;
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_double(env, ns, &result));
  return result;
}

// lockFile(fd): the opt-out log writer's lock (file-lock.h). Needs no instance data: it only
// passes a descriptor the caller owns to the kernel.
napi_value LockFileJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    return Throw(env, "lockFile(fd) needs a file descriptor (a non-negative integer)");
  }
  napi_value result;
  CHECK_NAPI(env, napi_create_int32(env, LockFileExclusive(fd), &result));
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  auto* inst = new Instance();
  if (!inst->batch[0].decoder.Init() || !inst->batch[1].decoder.Init()) {
    delete inst;
    napi_throw_error(env, "UID2_ERR_NATIVE_OPENSSL", "uid2_native: OpenSSL has no AES-256-GCM/CBC");
    return nullptr;
  }
  if (napi_set_instance_data(env, inst, Finalize, nullptr) != napi_ok) {
    delete inst;
    ThrowPending(env, "uid2_native: cannot set instance data");
    return nullptr;
  }
  napi_value global, ctor;
  CHECK_NAPI(env, napi_get_global(env, &global));
  CHECK_NAPI(env, napi_get_named_property(env, global, "Uint8Array", &ctor));
  CHECK_NAPI(env, napi_create_reference(env, ctor, 1, &inst->uint8_array));
  CHECK_NAPI(env, napi_get_named_property(env, global, "SharedArrayBuffer", &ctor));
  CHECK_NAPI(env, napi_create_reference(env, ctor, 1, &inst->shared_array_buffer));

  napi_value version;
  CHECK_NAPI(env, napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version));
  const napi_property_descriptor props[] = {
      {"decodeBatch", nullptr, DecodeBatch, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"decodeOne", nullptr, DecodeOne, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"inlineStats", nullptr, InlineStats, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gcmDecrypt", nullptr, GcmDecrypt, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"benchGcmFloor", nullptr, BenchGcmFloorJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"lockFile", nullptr, LockFileJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"opensslVersion", nullptr, nullptr, nullptr, nullptr, version, napi_enumerable, nullptr},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

}  // namespace
}  // namespace uid2

NAPI_MODULE_INIT() { return uid2::Init(env, exports); }
