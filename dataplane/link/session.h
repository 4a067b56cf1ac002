// Per-peer link state: up to three keypairs in WireGuard's roles (current, previous, next), the initiator's
// handshake in flight, the cookie for that handshake, and the timers. Internal to LinkEndpoint; the endpoint owns
// every Peer in a table sized at construction (peers_max), and each Peer owns its keypairs' AEAD keys.
//
//   current   the keypair we send with (and receive on)
//   previous  the one before the last rekey, kept so packets in flight on it still arrive
//   next      a responder's fresh keypair, not yet confirmed by the initiator: receive only; the first packet
//             authenticated on it promotes it to current (key confirmation)
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "common/endpoint.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "link/cookie.h"
#include "link/handshake.h"
#include "link/replay_window.h"

namespace voxa::link {

struct Keypair {
    std::unique_ptr<crypto::AeadKey> send;   // created once at handshake time
    std::unique_ptr<crypto::AeadKey> recv;
    ReplayWindow window;
    uint64_t send_counter = 0;
    uint64_t birth_ns = 0;
    uint32_t local_index = 0;    // the receiver index the other side puts on packets to us
    uint32_t remote_index = 0;   // the receiver index we put on packets to them
    bool initiator = false;      // this side initiated the handshake (only the initiator rekeys by age)
    bool live = false;
};

inline constexpr int8_t kNoSlot = -1;
inline constexpr std::size_t kKeypairSlots = 4;   // 3 roles + 1 for the keypair being installed

struct Peer {
    crypto::PeerIdentity identity;
    Endpoint endpoint;
    bool in_use = false;
    bool anonymous = false;      // learned from an initiation only; ed25519 unknown (zero)
    bool up = false;             // counted in LinkStats::sessions_up

    std::array<Keypair, kKeypairSlots> slots;
    int8_t current = kNoSlot, previous = kNoSlot, next = kNoSlot;

    // Our handshake as initiator.
    bool hs_active = false;
    uint32_t hs_index = 0;
    uint64_t hs_started_ns = 0;      // first attempt, for give-up
    uint64_t hs_next_retry_ns = 0;
    InitiatorState hs;
    CookieMaker cookie;
    Timestamp last_sent_ts{};        // our initiations' timestamps strictly increase
    Timestamp greatest_seen_ts{};    // the peer's initiations must strictly increase

    // Timers (0 = not armed).
    uint64_t keepalive_due_ns = 0;    // received data, sent nothing since: keepalive at this time
    uint64_t no_reply_due_ns = 0;     // sent data, heard nothing since: new handshake at this time
    bool want_handshake = false;      // rekey wanted (set by seal, acted on by tick)
    uint64_t last_activity_ns = 0;    // last authenticated packet or handshake, for reclaiming anonymous peers

    Keypair* keypair(int8_t slot) noexcept { return slot == kNoSlot ? nullptr : &slots[std::size_t(slot)]; }
    const Keypair* keypair(int8_t slot) const noexcept {
        return slot == kNoSlot ? nullptr : &slots[std::size_t(slot)];
    }
};

}  // namespace voxa::link
