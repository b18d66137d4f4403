#include "aes.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <vector>

namespace uid2 {

bool Ciphers::Load() {
  if (!gcm) gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!cbc) cbc = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return gcm != nullptr && cbc != nullptr;
}

void Ciphers::Free() {
  EVP_CIPHER_free(gcm);
  EVP_CIPHER_free(cbc);
  gcm = nullptr;
  cbc = nullptr;
}

EVP_CIPHER_CTX* NewDecryptContext(const EVP_CIPHER* cipher, const uint8_t* key) {
  if (!cipher) return nullptr;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return nullptr;
  if (EVP_DecryptInit_ex(ctx, cipher, nullptr, key, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

bool GcmOpen(EVP_CIPHER_CTX* ctx, const uint8_t* data, size_t len, uint8_t* out, size_t out_cap,
             size_t* out_len) {
  if (len < kGcmIvBytes + kGcmTagBytes || len > INT_MAX) return false;
  const size_t body = len - kGcmIvBytes - kGcmTagBytes;
  if (out_cap < body) return false;
  // Key stays installed; only the IV changes. This also resets the GHASH state of a previous
  // (possibly failed) decryption.
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, data) != 1) return false;
  int n = 0;
  if (body > 0 && EVP_DecryptUpdate(ctx, out, &n, data + kGcmIvBytes, static_cast<int>(body)) != 1) {
    return false;
  }
  // OpenSSL copies the tag; the cast only satisfies the untyped ctrl signature.
  void* tag = const_cast<uint8_t*>(data + len - kGcmTagBytes);
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes), tag) != 1) {
    return false;
  }
  int f = 0;
  if (EVP_DecryptFinal_ex(ctx, out + n, &f) != 1) return false;
  *out_len = static_cast<size_t>(n) + static_cast<size_t>(f);
  return *out_len == body;
}

bool CbcOpen(EVP_CIPHER_CTX* ctx, const uint8_t* iv, const uint8_t* ciphertext, size_t len,
             uint8_t* out, size_t out_cap, size_t* out_len) {
  if (len == 0 || len % kAesBlock != 0 || len > INT_MAX - kAesBlock) return false;
  if (out_cap < len + kAesBlock) return false;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) != 1) return false;
  int n = 0;
  if (EVP_DecryptUpdate(ctx, out, &n, ciphertext, static_cast<int>(len)) != 1) return false;
  int f = 0;
  if (EVP_DecryptFinal_ex(ctx, out + n, &f) != 1) return false;
  *out_len = static_cast<size_t>(n) + static_cast<size_t>(f);
  return *out_len < len;  // PKCS#7 always removes 1..16 bytes
}

namespace {

// Seals plaintext as iv | ciphertext | tag into out (benchmark fixture only).
bool GcmSeal(const EVP_CIPHER* cipher, const uint8_t* key, const uint8_t* iv, const uint8_t* plain,
             size_t len, std::vector<uint8_t>& out) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return false;
  out.assign(kGcmIvBytes + len + kGcmTagBytes, 0);
  std::copy(iv, iv + kGcmIvBytes, out.begin());
  int n = 0, f = 0;
  bool ok = EVP_EncryptInit_ex(ctx, cipher, nullptr, key, iv) == 1 &&
            EVP_EncryptUpdate(ctx, out.data() + kGcmIvBytes, &n, plain, static_cast<int>(len)) == 1 &&
            EVP_EncryptFinal_ex(ctx, out.data() + kGcmIvBytes + n, &f) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                                out.data() + kGcmIvBytes + len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

}  // namespace

double BenchGcmFloor(const Ciphers& ciphers, uint32_t iterations, uint32_t uid_len) {
  // A v4 token's layers: site = 36-byte header + raw UID; master = 33-byte header + sealed site.
  uint8_t master_key[kKeyBytes], site_key[kKeyBytes], iv[kGcmIvBytes];
  for (size_t i = 0; i < kKeyBytes; i++) {
    master_key[i] = static_cast<uint8_t>(i * 7 + 1);
    site_key[i] = static_cast<uint8_t>(i * 13 + 5);
  }
  for (size_t i = 0; i < kGcmIvBytes; i++) iv[i] = static_cast<uint8_t>(i * 31 + 3);
  std::vector<uint8_t> site_plain(36 + uid_len, 0x5a), site_sealed, master_sealed;
  if (!GcmSeal(ciphers.gcm, site_key, iv, site_plain.data(), site_plain.size(), site_sealed)) return -1;
  std::vector<uint8_t> master_plain(33, 0x11);
  master_plain.insert(master_plain.end(), site_sealed.begin(), site_sealed.end());
  if (!GcmSeal(ciphers.gcm, master_key, iv, master_plain.data(), master_plain.size(), master_sealed)) {
    return -1;
  }

  EVP_CIPHER_CTX* master_ctx = NewDecryptContext(ciphers.gcm, master_key);
  EVP_CIPHER_CTX* site_ctx = NewDecryptContext(ciphers.gcm, site_key);
  std::vector<uint8_t> master_out(master_sealed.size()), site_out(site_sealed.size());
  bool ok = master_ctx && site_ctx;
  size_t m = 0, s = 0, checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; ok && i < iterations; i++) {
    ok = GcmOpen(master_ctx, master_sealed.data(), master_sealed.size(), master_out.data(),
                 master_out.size(), &m) &&
         GcmOpen(site_ctx, master_out.data() + 33, m - 33, site_out.data(), site_out.size(), &s);
    checksum += site_out[0];
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EVP_CIPHER_CTX_free(master_ctx);
  EVP_CIPHER_CTX_free(site_ctx);
  if (!ok || checksum != size_t{0x5a} * iterations) return -1;
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  return iterations == 0 ? 0 : ns / iterations;
}

}  // namespace uid2
