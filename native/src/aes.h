// AES-256 decryption over Node's own OpenSSL with contexts prepared once per key: the key schedule
// (and, for GCM, the hash key) is computed when a context is made, and each token afterwards only
// re-initialises the IV. That per-key setup is most of what node:crypto repeats for every token.
#pragma once
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>

namespace uid2 {

constexpr size_t kKeyBytes = 32;
constexpr size_t kGcmIvBytes = 12;
constexpr size_t kGcmTagBytes = 16;
constexpr size_t kCbcIvBytes = 16;
constexpr size_t kAesBlock = 16;

// The fetched cipher implementations, looked up once per addon instance (thread).
struct Ciphers {
  EVP_CIPHER* gcm = nullptr;
  EVP_CIPHER* cbc = nullptr;
  bool Load();
  void Free();
};

// A decryption context with `key` installed and no IV yet; nullptr if OpenSSL fails.
EVP_CIPHER_CTX* NewDecryptContext(const EVP_CIPHER* cipher, const uint8_t* key);

// Opens `iv:12 | ciphertext | tag:16` held in data[0, len). The tag is always the full 16 bytes,
// as src/crypto/aes.ts pins it. Writes the plaintext (len - 28 bytes) to out (out_cap >= that).
// False on a short input, a failed tag, or an OpenSSL failure; out then holds nothing usable.
bool GcmOpen(EVP_CIPHER_CTX* ctx, const uint8_t* data, size_t len, uint8_t* out, size_t out_cap,
             size_t* out_len);

// AES-256-CBC with PKCS#7 padding. out_cap must be >= len + 16 (OpenSSL's contract for
// EVP_DecryptUpdate). False on an empty or unaligned ciphertext or a bad padding.
bool CbcOpen(EVP_CIPHER_CTX* ctx, const uint8_t* iv, const uint8_t* ciphertext, size_t len,
             uint8_t* out, size_t out_cap, size_t* out_len);

// The OpenSSL floor of the benchmark: average nanoseconds for the two GCM decryptions of one v4
// token (master layer, then site layer) with prepared contexts, for a raw UID of uid_len bytes.
// Negative on an OpenSSL failure.
double BenchGcmFloor(const Ciphers& ciphers, uint32_t iterations, uint32_t uid_len);

}  // namespace uid2
