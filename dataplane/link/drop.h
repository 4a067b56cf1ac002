// Why the link layer dropped a datagram. One counter per reason in LinkStats::drops; drop_name() gives the
// stable snake_case name used in metrics.
#pragma once

#include <cstdint>
#include <string_view>

namespace voxa::link {

enum class Drop : uint8_t {
    kNone,
    kShort,               // shorter than a type word
    kBadType,             // unknown type or non-zero reserved bytes
    kBadSize,             // wrong length for the type
    kUnknownReceiver,     // receiver index matches no handshake or session
    kBadMac1,             // mac1 is not keyed with our static key: not meant for us, or garbage
    kCookieSent,          // under load without mac2: answered with a cookie reply, no state kept
    kBadMac2,             // under load with a wrong or stale cookie (a fresh cookie reply is sent)
    kHandshakeDecrypt,    // a handshake AEAD failed, or a DH gave the all-zero point
    kUnknownPeer,         // the initiator's static key is not a peer and unknown peers are refused
    kReplayedHandshake,   // initiation timestamp not newer than the greatest seen from that peer
    kTransportDecrypt,    // transport AEAD tag failed
    kReplay,              // counter already seen or behind the window
    kExpired,             // session older than reject_after
    kPeersFull,           // no room for a new (unknown) peer
    kCounterWrap,         // counter >= 2^64 - 2^13
    kNoSuite,             // no common cipher suite, or the responder chose one we did not offer
    kBadCookie,           // cookie reply that does not decrypt (or answers no handshake of ours)
    kCount
};

std::string_view drop_name(Drop d) noexcept;

}  // namespace voxa::link
