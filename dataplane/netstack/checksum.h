// The Internet checksum (RFC 1071): the 16-bit one's-complement sum of 16-bit big-endian words, complemented.
// Used for the IPv4 header, UDP over IPv4 and IPv6 (with the pseudo-header), and ICMPv6.
//
// Representation. `sum()` returns an opaque 64-bit partial sum: it adds the bytes as native (little-endian)
// words, 8 bytes at a time, which is the same one's-complement sum byte-swapped (RFC 1071 §2(B), byte order
// independence). Partial sums combine with `sum_add()`. `fold()` turns a partial sum into the 16-bit sum as a
// big-endian VALUE: the number whose big-endian bytes are what goes on the wire (store it with store_be16()).
// Every other uint16_t checksum in this header is such a value.
//
// Chunks: when a checksum covers several chunks summed separately (pseudo-header, header, payload), every chunk
// but the last must have an even length (a chunk of odd length shifts the byte pairing of the next one).
//
// All functions are pure, thread-safe, allocation-free and read only the bytes they are given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace voxa::netstack {

// Big-endian 16- and 32-bit loads and stores (network byte order; wire.h's little-endian rule is for our own
// protocol only, not for Ethernet/IP/UDP).
inline uint16_t load_be16(const uint8_t* p) noexcept { return uint16_t((uint16_t(p[0]) << 8) | p[1]); }
inline void store_be16(uint8_t* p, uint16_t v) noexcept {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline uint32_t load_be32(const uint8_t* p) noexcept {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// Partial one's-complement sum of `bytes` added to `acc` (0 to start). Reads 8 bytes per step. An odd final
// byte is padded with a zero byte, as RFC 1071 says.
uint64_t sum(std::span<const uint8_t> bytes, uint64_t acc = 0) noexcept;

// One's-complement addition of two partial sums (end-around carry).
uint64_t sum_add(uint64_t a, uint64_t b) noexcept;

// The 16-bit one's-complement sum of a partial sum, as a big-endian value (not complemented). A region whose
// checksum field holds a correct checksum folds to 0xFFFF.
uint16_t fold(uint64_t acc) noexcept;

// ~fold(sum(bytes)): the checksum of one region.
uint16_t checksum(std::span<const uint8_t> bytes) noexcept;

// The same result computed one byte at a time, as RFC 1071's reference loop does; the baseline for the
// benchmark and the oracle for the tests. Not for the data path.
uint16_t checksum_bytewise(std::span<const uint8_t> bytes) noexcept;

// Partial sums of the UDP/ICMPv6 pseudo-headers. `src`/`dst` point to 4 (IPv4) or 16 (IPv6) address bytes in
// network order; `l4_bytes` is the length of the transport header plus payload.
uint64_t pseudo_sum_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t protocol, uint16_t l4_bytes) noexcept;
uint64_t pseudo_sum_v6(const uint8_t* src16, const uint8_t* dst16, uint8_t next_header, uint32_t l4_bytes) noexcept;

// Checksum of a 20-byte-or-longer IPv4 header whose checksum field (bytes 10..11) the caller has zeroed.
uint16_t ipv4_header_checksum(std::span<const uint8_t> header) noexcept;
// True when an IPv4 header (checksum field as received) sums correctly.
bool ipv4_header_ok(std::span<const uint8_t> header) noexcept;

// UDP checksum over the pseudo-header and `udp` (8-byte header, checksum field zeroed, then payload). A computed
// 0 is returned as 0xFFFF (RFC 768: 0 on the wire means "no checksum"), so the result can be stored as is.
uint16_t udp_checksum_v4(const uint8_t* src4, const uint8_t* dst4, std::span<const uint8_t> udp) noexcept;
uint16_t udp_checksum_v6(const uint8_t* src16, const uint8_t* dst16, std::span<const uint8_t> udp) noexcept;
// ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header and `icmp` (checksum field zeroed). No 0 -> 0xFFFF map.
uint16_t icmpv6_checksum(const uint8_t* src16, const uint8_t* dst16, std::span<const uint8_t> icmp) noexcept;

// Incremental update (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')) of checksum `check` when one 16-bit word of the
// covered region changes from `old_word` to `new_word` (big-endian values), or one aligned 32-bit word (an IPv4
// address, two adjacent words). Returns the new checksum, equal to a full recomputation except when the covered
// data becomes all zero (full: 0xFFFF, update: 0x0000, the other zero; a real header never gets there). For UDP
// the caller keeps the rule that a computed 0 is sent as 0xFFFF.
uint16_t update16(uint16_t check, uint16_t old_word, uint16_t new_word) noexcept;
uint16_t update32(uint16_t check, uint32_t old_word, uint32_t new_word) noexcept;
// The same for a run of even length (an IPv6 address): `old_bytes` replaced by `new_bytes` at an even offset.
uint16_t update_bytes(uint16_t check, std::span<const uint8_t> old_bytes, std::span<const uint8_t> new_bytes) noexcept;

}  // namespace voxa::netstack
