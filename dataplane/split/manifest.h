// The manifest of a split message: everything a destination needs to verify any part and rebuild the message
// from any k of its n parts (docs/PROTOCOL.md, "Request splitting").
//
//   | version u8 = 1 | flags u8 | k u8 | n u8 | rsv u32 = 0 | message_id[16] | in_reply_to[16] |
//   | message_bytes u64 | part_bytes u32 | rsv u32 = 0 | tail[32] | digest[n][32] |     88 + 32 n bytes, LE
//
// flags bit 0 = reply; the other bits are reserved (senders write 0; receivers carry them unchanged).
// `tail` is the AONT key folded with the hash of the data slices; `digest[i]` = BLAKE2b-256(BLAKE2b-512(part i)).
// Parsing checks every field against the splitting rule, so a parsed manifest can be trusted for sizes.
// All functions are pure, allocation-free and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::split {

inline constexpr uint8_t kManifestVersion = 1;
inline constexpr uint8_t kManifestFlagReply = 1;
inline constexpr std::size_t kManifestFixedBytes = 88;
inline constexpr std::size_t kDigestBytes = 32;
inline constexpr std::size_t kTailBytes = 32;
inline constexpr std::size_t kCanaryBytes = 16;        // zero bytes appended to the message before encryption
inline constexpr std::size_t kPartAlignBytes = 64;     // part_bytes is a multiple of this
inline constexpr std::size_t kManifestBytesMax = kManifestFixedBytes + kDigestBytes * wire::kPartsMax;

struct Manifest {
    uint8_t version = 1, flags = 0, k = 0, n = 0;
    MessageId message_id{}, in_reply_to{};
    uint64_t message_bytes = 0;
    uint32_t part_bytes = 0;
    std::array<uint8_t, 32> tail{};
    std::array<std::array<uint8_t, 32>, wire::kPartsMax> digest{};
    bool is_reply() const noexcept { return flags & 1; }
};

enum class ManifestDrop : uint8_t {
    kNone,
    kBadSize,           // shorter than the fixed header, or not exactly 88 + 32 n bytes
    kBadVersion,        // version != 1
    kBadCounts,         // k == 0, k > n, or n > 16
    kReservedNonZero,   // a reserved field is not zero
    kBadMessageBytes,   // message_bytes == 0 or above the configured maximum
    kBadPartBytes,      // part_bytes != part_bytes_for(message_bytes, k)
    kCount
};

// Size on the wire of a manifest with n parts: 88 + 32 n.
std::size_t manifest_wire_bytes(uint8_t n) noexcept;

// Writes `m` (with m.n digests) into `out`. Returns the bytes written, or 0 if `out` is too small.
// `m` must be well formed (1 <= k <= n <= 16); that is asserted, not checked.
std::size_t encode_manifest(const Manifest& m, std::span<uint8_t> out) noexcept;

// Parses and validates `in`. On kNone fills `*out` (digests past n are zeroed); otherwise `*out` is unspecified
// and the return value says why the manifest was rejected.
ManifestDrop parse_manifest(std::span<const uint8_t> in, std::size_t message_bytes_max, Manifest* out) noexcept;

// The splitting rule: ceil((message_bytes + 16) / k) rounded up to a multiple of 64. 0 if k == 0 or the result
// does not fit 32 bits.
uint32_t part_bytes_for(uint64_t message_bytes, uint8_t k) noexcept;

}  // namespace voxa::split
