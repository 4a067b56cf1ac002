// Link packet layouts: the four datagram types of the link layer, their exact sizes and field offsets, and a
// parser that checks type and size and hands out views into the datagram. docs/protocol-link.md is the prose.
//
// Every packet opens with | type u8 | rsv[3] = 0 |. All integers are little-endian.
//   initiation    152 B  | 1 | 0 0 0 | sender u32 | ephemeral[32] | static[32+16] | payload[16+16] | mac1[16] | mac2[16] |
//   response       96 B  | 2 | 0 0 0 | sender u32 | receiver u32 | ephemeral[32] | payload[4+16] | mac1[16] | mac2[16] |
//   cookie reply   64 B  | 3 | 0 0 0 | receiver u32 | nonce[24] | cookie[16+16] |
//   transport   >= 32 B  | 4 | 0 0 0 | receiver u32 | counter u64 | payload ... | tag[16] |
// Parsing never reads outside the span and never writes; the parser knows no keys, so every view still has to
// be authenticated (mac1, AEAD) by the endpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "link/drop.h"
#include "voxa/wire.h"

namespace voxa::link {

inline constexpr std::size_t kKeyBytes = 32;       // X25519 public keys
inline constexpr std::size_t kMacBytes = 16;       // mac1, mac2, cookies
inline constexpr std::size_t kAeadTagBytes = 16;

// Plaintext sizes of the encrypted handshake payloads.
inline constexpr std::size_t kInitiationPayloadBytes = 16;   // tai64n[12] | suites u8 | rsv[3]
inline constexpr std::size_t kResponsePayloadBytes = 4;      // suite u8 | rsv[3]

// Initiation offsets.
inline constexpr std::size_t kInitSenderOff = 4;
inline constexpr std::size_t kInitEphemeralOff = 8;
inline constexpr std::size_t kInitStaticOff = kInitEphemeralOff + kKeyBytes;                         // 40
inline constexpr std::size_t kInitPayloadOff = kInitStaticOff + kKeyBytes + kAeadTagBytes;            // 88
inline constexpr std::size_t kInitMac1Off = kInitPayloadOff + kInitiationPayloadBytes + kAeadTagBytes; // 120
inline constexpr std::size_t kInitMac2Off = kInitMac1Off + kMacBytes;                                // 136
inline constexpr std::size_t kInitiationBytes = kInitMac2Off + kMacBytes;                            // 152

// Response offsets.
inline constexpr std::size_t kRespSenderOff = 4;
inline constexpr std::size_t kRespReceiverOff = 8;
inline constexpr std::size_t kRespEphemeralOff = 12;
inline constexpr std::size_t kRespPayloadOff = kRespEphemeralOff + kKeyBytes;                       // 44
inline constexpr std::size_t kRespMac1Off = kRespPayloadOff + kResponsePayloadBytes + kAeadTagBytes; // 64
inline constexpr std::size_t kRespMac2Off = kRespMac1Off + kMacBytes;                               // 80
inline constexpr std::size_t kResponseBytes = kRespMac2Off + kMacBytes;                             // 96

// Cookie reply offsets.
inline constexpr std::size_t kCookieReceiverOff = 4;
inline constexpr std::size_t kCookieNonceOff = 8;
inline constexpr std::size_t kCookieNonceBytes = 24;                                               // XChaCha20
inline constexpr std::size_t kCookieSealedOff = kCookieNonceOff + kCookieNonceBytes;               // 32
inline constexpr std::size_t kCookieReplyBytes = kCookieSealedOff + kMacBytes + kAeadTagBytes;     // 64

// Transport.
inline constexpr std::size_t kTransportReceiverOff = 4;
inline constexpr std::size_t kTransportCounterOff = 8;
inline constexpr std::size_t kTransportMinBytes = wire::kLinkOverheadBytes;   // 32: an empty keepalive
inline constexpr std::size_t kTransportMaxBytes = 65507;                      // largest IPv4 UDP payload

static_assert(kInitiationBytes == 152 && kResponseBytes == 96 && kCookieReplyBytes == 64);
static_assert(wire::kLinkHeaderBytes == 16 && kTransportMinBytes == 32);

// A parsed packet: pointers into the caller's datagram (valid while it is). Fields not in the type are null/0.
struct LinkPacketView {
    wire::LinkType type = wire::LinkType::kTransport;
    uint32_t sender = 0;                   // initiation, response
    uint32_t receiver = 0;                 // response, cookie reply, transport
    uint64_t counter = 0;                  // transport
    const uint8_t* ephemeral = nullptr;    // initiation, response: 32 bytes
    const uint8_t* sealed_static = nullptr;   // initiation: 48 bytes
    const uint8_t* sealed_payload = nullptr;  // initiation: 32 bytes, response: 20 bytes
    const uint8_t* mac1 = nullptr;         // initiation, response
    const uint8_t* mac2 = nullptr;         // initiation, response
    const uint8_t* nonce = nullptr;        // cookie reply: 24 bytes
    const uint8_t* sealed_cookie = nullptr;   // cookie reply: 32 bytes
    const uint8_t* payload = nullptr;      // transport: ciphertext after the 16-byte header
    std::size_t payload_len = 0;           // transport: 0 for a keepalive
    const uint8_t* tag = nullptr;          // transport: last 16 bytes
};

// Checks the type byte, the reserved bytes and the exact size for the type, then fills `out`.
// Returns Drop::kNone on success; kShort (< 4 bytes), kBadType (unknown type or non-zero reserved bytes) or
// kBadSize otherwise, and then `out` is unspecified. Never reads outside `datagram`.
Drop parse_link_packet(std::span<const uint8_t> datagram, LinkPacketView* out) noexcept;

}  // namespace voxa::link
