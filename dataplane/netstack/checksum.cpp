#include "netstack/checksum.h"

#include <cstring>

namespace voxa::netstack {
namespace {

// Folds a 64-bit partial sum to 16 bits with end-around carries: two rounds bring any value to 33 bits and
// then 32, two more to 16.
uint16_t fold_native(uint64_t acc) noexcept {
    acc = (acc & 0xFFFF'FFFFu) + (acc >> 32);
    acc = (acc & 0xFFFF'FFFFu) + (acc >> 32);
    acc = (acc & 0xFFFFu) + (acc >> 16);
    acc = (acc & 0xFFFFu) + (acc >> 16);
    return uint16_t(acc);
}

uint16_t bswap16(uint16_t v) noexcept { return uint16_t((v >> 8) | (v << 8)); }

uint16_t fold32(uint32_t s) noexcept {
    s = (s & 0xFFFFu) + (s >> 16);
    s = (s & 0xFFFFu) + (s >> 16);
    return uint16_t(s);
}

}  // namespace

uint64_t sum(std::span<const uint8_t> bytes, uint64_t acc) noexcept {
    const uint8_t* p = bytes.data();
    std::size_t n = bytes.size();
    // Each 64-bit load is split into its two 32-bit halves, added to 64-bit accumulators: no carry to track
    // (2^32 additions of 2^32-1 cannot overflow), and two independent accumulators keep two adders busy. A
    // 64-bit word is congruent to the sum of its 16-bit words modulo 2^16-1, which is all the checksum needs.
    uint64_t a = 0;
    uint64_t b = 0;
    while (n >= 32) {
        uint64_t w[4];
        std::memcpy(w, p, 32);
        a += (w[0] & 0xFFFF'FFFFu) + (w[0] >> 32);
        b += (w[1] & 0xFFFF'FFFFu) + (w[1] >> 32);
        a += (w[2] & 0xFFFF'FFFFu) + (w[2] >> 32);
        b += (w[3] & 0xFFFF'FFFFu) + (w[3] >> 32);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        a += (w & 0xFFFF'FFFFu) + (w >> 32);
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        b += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t w;
        std::memcpy(&w, p, 2);
        a += w;
        p += 2;
        n -= 2;
    }
    // The odd byte sits at an even offset: the high byte of a big-endian word, the low byte of a native one.
    if (n == 1) b += p[0];
    return sum_add(acc, sum_add(a, b));
}

uint64_t sum_add(uint64_t a, uint64_t b) noexcept {
    uint64_t const s = a + b;
    return s + (s < a ? 1 : 0);
}

uint16_t fold(uint64_t acc) noexcept { return bswap16(fold_native(acc)); }

uint16_t checksum(std::span<const uint8_t> bytes) noexcept { return uint16_t(~fold(sum(bytes))); }

uint16_t checksum_bytewise(std::span<const uint8_t> bytes) noexcept {
    uint32_t s = 0;
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) {
        s += (uint32_t(bytes[i]) << 8) | bytes[i + 1];
        s = (s & 0xFFFFu) + (s >> 16);
    }
    if (i < bytes.size()) s += uint32_t(bytes[i]) << 8;
    return uint16_t(~fold32(s));
}

uint64_t pseudo_sum_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t protocol, uint16_t l4_bytes) noexcept {
    uint32_t s;
    uint32_t d;
    std::memcpy(&s, src4, 4);
    std::memcpy(&d, dst4, 4);
    // As native words: | 0 | protocol | is bswap16(protocol), | len_hi | len_lo | is bswap16(len).
    return uint64_t(s) + d + bswap16(protocol) + bswap16(l4_bytes);
}

uint64_t pseudo_sum_v6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header, uint32_t l4_bytes) noexcept {
    uint64_t acc = sum({src16, 16});
    acc = sum({dst16, 16}, acc);
    // The 32-bit length and the 24 zero bits + next header, as native words.
    return sum_add(acc, uint64_t(bswap16(uint16_t(l4_bytes >> 16))) + bswap16(uint16_t(l4_bytes)) +
                            bswap16(next_header));
}

uint16_t ipv4_header_checksum(std::span<const uint8_t> header) noexcept { return checksum(header); }

bool ipv4_header_ok(std::span<const uint8_t> header) noexcept { return fold(sum(header)) == 0xFFFF; }

uint16_t udp_checksum_v4(const uint8_t* src4, const uint8_t* dst4, std::span<const uint8_t> udp) noexcept {
    uint16_t const c = uint16_t(~fold(sum(udp, pseudo_sum_v4(src4, dst4, 17, uint16_t(udp.size())))));
    return c == 0 ? 0xFFFF : c;
}

uint16_t udp_checksum_v6(const uint8_t* src16, const uint8_t* dst16, std::span<const uint8_t> udp) noexcept {
    uint16_t const c = uint16_t(~fold(sum(udp, pseudo_sum_v6(src16, dst16, 17, uint32_t(udp.size())))));
    return c == 0 ? 0xFFFF : c;
}

uint16_t icmpv6_checksum(const uint8_t* src16, const uint8_t* dst16, std::span<const uint8_t> icmp) noexcept {
    return uint16_t(~fold(sum(icmp, pseudo_sum_v6(src16, dst16, 58, uint32_t(icmp.size())))));
}

uint16_t update16(uint16_t check, uint16_t old_word, uint16_t new_word) noexcept {
    return uint16_t(~fold32(uint32_t(uint16_t(~check)) + uint16_t(~old_word) + new_word));
}

uint16_t update32(uint16_t check, uint32_t old_word, uint32_t new_word) noexcept {
    uint32_t const s = uint32_t(uint16_t(~check)) + uint16_t(~(old_word >> 16)) + uint16_t(~old_word) +
                       (new_word >> 16) + (new_word & 0xFFFFu);
    return uint16_t(~fold32(s));
}

uint16_t update_bytes(uint16_t check, std::span<const uint8_t> old_bytes, std::span<const uint8_t> new_bytes) noexcept {
    uint32_t const s = uint32_t(uint16_t(~check)) + uint16_t(~fold(sum(old_bytes))) + fold(sum(new_bytes));
    return uint16_t(~fold32(s));
}

}  // namespace voxa::netstack
