// Strict base64 decoding with exactly the rules of src/codec/base64.ts (those of Java's
// java.util.Base64, which the reference SDKs use): only alphabet characters, at most two '=' that
// complete the last 4-character unit exactly, and no final unit of a single character. Unused low
// bits of the last unit are ignored, as Node's decoder does.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace uid2 {

enum class Alphabet : uint8_t { kStandard, kUrl, kEither };

constexpr uint8_t kInvalid = 0xff;

// Byte -> 6-bit value, or kInvalid. Bytes >= 0x80 (any non-ASCII UTF-8) are invalid everywhere.
constexpr std::array<uint8_t, 256> MakeTable(Alphabet alphabet) {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 26; i++) {
    t['A' + i] = static_cast<uint8_t>(i);
    t['a' + i] = static_cast<uint8_t>(26 + i);
  }
  for (int i = 0; i < 10; i++) t['0' + i] = static_cast<uint8_t>(52 + i);
  if (alphabet != Alphabet::kUrl) {
    t['+'] = 62;
    t['/'] = 63;
  }
  if (alphabet != Alphabet::kStandard) {
    t['-'] = 62;
    t['_'] = 63;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kStandardTable = MakeTable(Alphabet::kStandard);
inline constexpr std::array<uint8_t, 256> kUrlTable = MakeTable(Alphabet::kUrl);
inline constexpr std::array<uint8_t, 256> kEitherTable = MakeTable(Alphabet::kEither);

inline const std::array<uint8_t, 256>& TableFor(Alphabet alphabet) {
  switch (alphabet) {
    case Alphabet::kStandard:
      return kStandardTable;
    case Alphabet::kUrl:
      return kUrlTable;
    default:
      return kEitherTable;
  }
}

// Most bytes that decoding `text_len` characters can produce.
constexpr size_t DecodedCapacity(size_t text_len) { return text_len / 4 * 3 + 2; }

// Decodes text[0, len) into out (out_cap >= DecodedCapacity(len)). Returns the decoded length, or
// -1 when the text is not strictly valid in `alphabet`.
inline ptrdiff_t DecodeBase64Strict(const uint8_t* text, size_t len, Alphabet alphabet, uint8_t* out,
                                    size_t out_cap) {
  if (out_cap < DecodedCapacity(len)) return -1;
  size_t end = len;
  size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 3) {
    end--;
    padding++;
  }
  const size_t rest = end & 3;
  if (rest == 1) return -1;
  if (padding > 0 && (rest == 0 || rest + padding != 4)) return -1;

  const auto& t = TableFor(alphabet);
  const size_t full = end - rest;
  size_t o = 0;
  for (size_t i = 0; i < full; i += 4) {
    const uint32_t a = t[text[i]], b = t[text[i + 1]], c = t[text[i + 2]], d = t[text[i + 3]];
    if ((a | b | c | d) & 0x80) return -1;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
    o += 3;
  }
  if (rest >= 2) {
    const uint32_t a = t[text[full]], b = t[text[full + 1]];
    const uint32_t c = rest == 3 ? t[text[full + 2]] : 0;
    if ((a | b | c) & 0x80) return -1;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) out[o++] = static_cast<uint8_t>(v >> 8);
  }
  return static_cast<ptrdiff_t>(o);
}

// Standard base64 with padding, as Buffer.toString('base64') writes it (the raw UID text of a
// v3/v4 token). out must hold EncodedLength(len) bytes; returns that length.
constexpr size_t EncodedLength(size_t len) { return (len + 2) / 3 * 4; }

inline size_t EncodeBase64(const uint8_t* in, size_t len, char* out) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = kChars[v >> 18];
    out[o++] = kChars[(v >> 12) & 63];
    out[o++] = kChars[(v >> 6) & 63];
    out[o++] = kChars[v & 63];
  }
  if (i < len) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (i + 1 < len ? uint32_t{in[i + 1]} << 8 : 0);
    out[o++] = kChars[v >> 18];
    out[o++] = kChars[(v >> 12) & 63];
    out[o++] = i + 1 < len ? kChars[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

// The 3 header bytes of a token: its first 4 characters, read as base64url if any of them is '-'
// or '_', else as standard base64. False when they are not 4 alphabet characters (a padded header
// decodes to fewer than 3 bytes, which decode() rejects too).
inline bool DecodeHeader(const uint8_t* text, uint8_t out[3]) {
  bool url = false;
  for (int i = 0; i < 4; i++) url = url || text[i] == '-' || text[i] == '_';
  const auto& t = url ? kUrlTable : kStandardTable;
  const uint32_t a = t[text[0]], b = t[text[1]], c = t[text[2]], d = t[text[3]];
  if ((a | b | c | d) & 0x80) return false;
  const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
  out[0] = static_cast<uint8_t>(v >> 16);
  out[1] = static_cast<uint8_t>(v >> 8);
  out[2] = static_cast<uint8_t>(v);
  return true;
}

}  // namespace uid2
