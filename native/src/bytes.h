// Big-endian field reads for token payloads. Callers check bounds first; these only assemble bytes,
// so an unaligned or hostile offset inside a checked range is never undefined behaviour.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace uid2 {

inline uint32_t LoadU32BE(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline int32_t ReadI32BE(const uint8_t* p) { return static_cast<int32_t>(LoadU32BE(p)); }

// Same value as JavaScript's Number(buf.readBigInt64BE()): the signed 64-bit integer rounded to the
// nearest double, ties to even (the default rounding mode of the int64 -> double conversion).
inline double ReadI64BEAsDouble(const uint8_t* p) {
  const uint64_t bits = (uint64_t{LoadU32BE(p)} << 32) | LoadU32BE(p + 4);
  return static_cast<double>(static_cast<int64_t>(bits));
}

// Host-order reads and writes into shared memory laid out by JavaScript typed arrays.
template <typename T>
inline T LoadHost(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void StoreHost(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace uid2
