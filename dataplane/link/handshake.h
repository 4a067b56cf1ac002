// The link handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b in WireGuard's shape (WireGuard's IKpsk2 without the
// pre-shared key and with BLAKE2b-512 in place of BLAKE2s). Two messages, one round trip:
//
//   initiator -> responder   e, es, s, ss  + encrypted payload (TAI64N timestamp, offered suites)
//   responder -> initiator   e, ee, se     + encrypted payload (chosen suite)
//
// The initiator knows the responder's static X25519 key beforehand (from the directory); the responder learns
// the initiator's from the first message. Both sides end with two 32-byte transport keys, one per direction.
// Forward secrecy comes from the ephemeral-ephemeral DH; a compromised static key does not reveal past traffic.
//
// These functions write and read only the Noise part of the messages (up to and excluding mac1/mac2, which the
// cookie module adds and checks). They are pure apart from drawing ephemeral keys from libsodium's CSPRNG, do not
// allocate, and keep all secrets in wiped memory. The exact construction is in docs/protocol-link.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "crypto/secret.h"
#include "link/packet.h"
#include "voxa/types.h"

namespace voxa::link {

inline constexpr std::size_t kHashBytes = 64;   // BLAKE2b-512: chaining key and transcript hash
inline constexpr std::size_t kTimestampBytes = 12;
using Timestamp = std::array<uint8_t, kTimestampBytes>;   // TAI64N: big-endian, so memcmp orders it

// Our static key pair.
struct StaticKeys {
    crypto::Key32 secret;
    PublicKey pub{};
};

// Noise's symmetric state.
struct SymmetricState {
    crypto::Secret<kHashBytes> ck;       // chaining key
    std::array<uint8_t, kHashBytes> h{};   // transcript hash (public but kept beside ck)
};

// What an initiator remembers between its initiation and the response.
struct InitiatorState {
    SymmetricState sym;
    crypto::Key32 e_secret;
    PublicKey e_pub{};
    PublicKey remote_static{};
};

// What a responder learned from an initiation, kept only until it writes its response.
struct ResponderState {
    SymmetricState sym;
    PublicKey remote_static{};      // the initiator's static key, authenticated by the ss DH
    PublicKey remote_ephemeral{};
};

struct InitiationPayload {
    Timestamp timestamp{};
    uint8_t suites = 0;   // bit (value - 1) for each crypto::Suite offered
};

struct TransportKeys {
    crypto::Key32 send;   // this side -> the other
    crypto::Key32 recv;
};

// TAI64N of a Unix time in nanoseconds: 8 bytes big-endian (2^62 + 10 + seconds), 4 bytes big-endian ns.
Timestamp tai64n(uint64_t unix_ns) noexcept;

// Writes bytes [0, kInitMac1Off) of an initiation into `msg` (type, reserved, sender index, ephemeral, sealed
// static, sealed payload) and the initiator's state into `*state`. `msg` must have kInitiationBytes.
// Returns false (and `msg` is unspecified) if a DH gives the all-zero output: `responder_static` is not a usable
// key (low order point).
bool create_initiation(const StaticKeys& self, const PublicKey& responder_static, uint32_t sender_index,
                       const InitiationPayload& payload, uint8_t* msg, InitiatorState* state) noexcept;

// Reads an initiation (kInitiationBytes at `msg`, mac1 already checked) addressed to `self`. On success fills
// `*state` (remote_static is the initiator's static key) and `*payload` and returns true; returns false if an AEAD
// fails or a DH gives the all-zero output. Does not judge whether the initiator is welcome or the timestamp new.
bool consume_initiation(const StaticKeys& self, const uint8_t* msg, ResponderState* state,
                        InitiationPayload* payload) noexcept;

// Writes bytes [0, kRespMac1Off) of a response to the initiation read into `state`, and derives the responder's
// transport keys. `msg` must have kResponseBytes. Returns false if a DH gives the all-zero output.
// `state` is wiped afterwards either way.
bool create_response(ResponderState* state, uint32_t sender_index, uint32_t receiver_index, uint8_t suite,
                     uint8_t* msg, TransportKeys* keys) noexcept;

// Reads a response (kResponseBytes at `msg`, receiver index already matched to `state`), derives the initiator's
// transport keys and the chosen suite value. Returns false if the AEAD fails or a DH gives the all-zero output;
// `state` is left untouched then (a forged response does not spoil the handshake), and wiped on success.
bool consume_response(InitiatorState* state, const StaticKeys& self, const uint8_t* msg, uint8_t* suite,
                      TransportKeys* keys) noexcept;

}  // namespace voxa::link
