// A node descriptor: what a node says about itself (address, port, capacity, whether it relays), signed with its
// Ed25519 identity key so that nothing in it has to be trusted to the peer that forwarded it. Until the registry
// exists (DESIGN §5, which will reuse this format), nodes learn one another by gossiping descriptors over their
// link sessions (directory.h). A descriptor is exactly 132 bytes, little-endian:
//
//   | version u8 = 1 | flags u8 (bit0 relay) | family u8 (4 or 6) | rsv u8 = 0 | port u16 | rsv u16 = 0 |
//   | addr[16] (IPv4 in the first 4 bytes, rest zero) | capacity u32 | issued_at_s u64 (unix seconds) |
//   | ed25519 public key[32] | signature[64] |
//
// The signature is Ed25519 over "voxa.desc.v1" || the 68 bytes before it. The node id is BLAKE2b-256 of the key.
// Both functions are pure and thread-safe; verify_descriptor never allocates and never throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/endpoint.h"
#include "crypto/identity.h"
#include "voxa/types.h"

namespace voxa::directory {

inline constexpr std::size_t kDescriptorBytes = 132;
inline constexpr std::size_t kDescriptorSignedBytes = 68;   // everything before the signature
inline constexpr uint8_t kDescriptorVersion = 1;
inline constexpr uint8_t kDescriptorFlagRelay = 0x01;
inline constexpr std::string_view kDescriptorContext = "voxa.desc.v1";   // signature domain separation
inline constexpr uint32_t kCapacityMax = 1'000'000;
inline constexpr uint64_t kFutureSkewMaxS = 300;    // issued_at_s may be this far ahead of our clock
inline constexpr uint64_t kTtlDefaultS = 3600;

// Byte offsets inside a descriptor.
inline constexpr std::size_t kOffVersion = 0;
inline constexpr std::size_t kOffFlags = 1;
inline constexpr std::size_t kOffFamily = 2;
inline constexpr std::size_t kOffRsv1 = 3;
inline constexpr std::size_t kOffPort = 4;
inline constexpr std::size_t kOffRsv2 = 6;
inline constexpr std::size_t kOffAddr = 8;
inline constexpr std::size_t kOffCapacity = 24;
inline constexpr std::size_t kOffIssuedAt = 28;
inline constexpr std::size_t kOffPublicKey = 36;
inline constexpr std::size_t kOffSignature = 68;
static_assert(kOffSignature == kDescriptorSignedBytes);
static_assert(kOffSignature + crypto::kSignatureBytes == kDescriptorBytes);

// A verified descriptor, decoded. Bootstrap entries of the directory (known from p2p.json only) have
// issued_at_s == 0 and capacity 1.
struct Descriptor {
    PublicKey ed25519{};
    NodeId id{};              // BLAKE2b-256(ed25519)
    Endpoint endpoint{};      // kIpv4 or kIpv6
    uint32_t capacity = 1;    // relative weight for path selection, 1..kCapacityMax
    bool relay = true;
    uint64_t issued_at_s = 0;
    PublicKey x25519{};       // derived from ed25519 (crypto::PeerIdentity), for handshakes

    friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// Why a descriptor (or a gossip body) was rejected. One counter per reason in Directory::drops().
enum class Drop : uint8_t {
    kNone,
    kBadSize,        // not exactly 132 bytes
    kBadVersion,     // version != 1
    kBadField,       // reserved bits or bytes not zero, family not 4/6, port 0, capacity outside 1..1e6,
                     // IPv4 address with non-zero bytes after the first 4
    kBadSignature,   // Ed25519 signature fails, or the key is not a usable point
    kFromFuture,     // issued more than 300 s ahead of our clock
    kExpired,        // issued more than ttl_s ago
    kBadBody,        // gossip body: short, count 0, reserved not zero, or count larger than the body holds
    kFull,           // a new node id while the directory holds entries_max entries
    kGossipOff,      // a gossip body received while p2p "discovery" is "registry" (Directory::ignore_gossip)
    kCount
};

// Stable snake_case name of a reason, for metrics.
std::string_view drop_name(Drop d) noexcept;

// Encodes and signs this node's descriptor with `self`'s Ed25519 key; returns the 132 bytes. The caller guarantees
// a valid endpoint (kIpv4 or kIpv6, port != 0) and capacity in 1..kCapacityMax (VOXA_CHECK).
std::array<uint8_t, kDescriptorBytes> sign_descriptor(const crypto::Identity& self, const Endpoint& endpoint,
                                                      uint32_t capacity, bool relay, uint64_t issued_at_s);

// Checks, in this order: size, version, reserved fields and flags, family (and the IPv4 padding), port != 0,
// capacity, then time (kFromFuture if issued_at_s > now_s + 300, kExpired if now_s - issued_at_s > ttl_s), then the
// signature. Returns kNone and fills `*out` (if not null) only when all pass; `*out` is untouched otherwise.
// The cheap checks come first so that garbage costs no signature verification.
Drop verify_descriptor(std::span<const uint8_t> bytes, uint64_t now_s, uint64_t ttl_s, Descriptor* out) noexcept;

// Everything verify_descriptor checks except the signature (and x25519 is not derived); for the directory, which
// skips the signature of a descriptor that is no newer than the one it holds. Not a trust decision on its own.
Drop decode_descriptor_unverified(std::span<const uint8_t> bytes, uint64_t now_s, uint64_t ttl_s,
                                  Descriptor* out) noexcept;

// The signature check alone, on bytes that decode_descriptor_unverified accepted; derives out->x25519.
// Returns kNone or kBadSignature.
Drop check_descriptor_signature(std::span<const uint8_t> bytes, Descriptor* out) noexcept;

}  // namespace voxa::directory
