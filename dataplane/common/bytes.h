// Little-endian loads and stores for wire formats. Every multi-byte field on the wire is little-endian
// (docs/PROTOCOL.md); these helpers are the only place that knows it. Unaligned access is fine.
#pragma once

#include <cstdint>
#include <cstring>

namespace voxa {

inline uint16_t load_u16(const uint8_t* p) noexcept {
    return uint16_t(p[0] | (uint16_t(p[1]) << 8));
}
inline uint32_t load_u32(const uint8_t* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;   // little-endian host; see the static_assert below
}
inline uint64_t load_u64(const uint8_t* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline void store_u16(uint8_t* p, uint16_t v) noexcept {
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) noexcept { std::memcpy(p, &v, 4); }
inline void store_u64(uint8_t* p, uint64_t v) noexcept { std::memcpy(p, &v, 8); }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "voxa targets little-endian hosts (x86-64, arm64)");

}  // namespace voxa
