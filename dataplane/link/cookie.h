// DoS protection for handshakes, as in WireGuard (§5.4.4 of its paper), with BLAKE2b.
//
//   mac1 = BLAKE2b-128(key = BLAKE2b-256("mac1----" || responder static pub), message up to mac1)
//   mac2 = BLAKE2b-128(key = cookie, message up to mac2), or 16 zero bytes without a cookie
//   cookie = BLAKE2b-128(key = responder secret, endpoint bytes of the initiator's source)
//   reply  = XChaCha20-Poly1305(key = BLAKE2b-256("cookie--" || responder static pub), nonce = random 24 bytes,
//            ad = mac1 of the message replied to, plaintext = cookie)
//
// mac1 lets a responder drop, at the cost of one hash, anything not built by someone who knows its static key.
// Under load a responder demands mac2, i.e. proof that the initiator can receive at its source address; the
// cookie reply carries no state and costs no DH. The responder's secret is rotated every kCookieSecretMaxAgeNs,
// which makes older cookies fail mac2. Neither class allocates; one thread owns each.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/endpoint.h"
#include "crypto/secret.h"
#include "voxa/types.h"

namespace voxa::link {

inline constexpr uint64_t kCookieSecretMaxAgeNs = 120'000'000'000ull;   // responder secret rotation
inline constexpr uint64_t kCookieValidNs = 120'000'000'000ull;          // how long an initiator uses a cookie
inline constexpr std::size_t kEndpointCookieBytes = 19;                 // family u8 | port u16 LE | addr[16]

using Mac = std::array<uint8_t, 16>;

// The bytes of an Endpoint the cookie is computed over.
void endpoint_cookie_bytes(const Endpoint& e, uint8_t out[kEndpointCookieBytes]) noexcept;

// Responder side: one per LinkEndpoint, keyed with our static public key.
class CookieChecker {
public:
    explicit CookieChecker(const PublicKey& self_static) noexcept;
    // Whether the mac1 field at `msg + mac1_off` is right for msg[0, mac1_off). Constant time.
    bool mac1_ok(const uint8_t* msg, std::size_t mac1_off) const noexcept;
    // Whether the mac2 field at `msg + mac1_off + 16` is right for `from` under the current secret (rotating it
    // first if it is too old). A zero or stale mac2 is simply not ok.
    bool mac2_ok(const uint8_t* msg, std::size_t mac1_off, const Endpoint& from, uint64_t now_ns) noexcept;
    // Writes a kCookieReplyBytes cookie reply to `out` answering the message whose mac1 is `mac1`.
    void write_reply(uint32_t receiver_index, const uint8_t* mac1, const Endpoint& from, uint64_t now_ns,
                     uint8_t* out) noexcept;

private:
    void cookie_for(const Endpoint& from, uint64_t now_ns, uint8_t out[16]) noexcept;

    crypto::Key32 mac1_key_;
    crypto::Key32 cookie_key_;
    crypto::Key32 secret_;
    uint64_t secret_birth_ns_ = 0;
    bool secret_set_ = false;
};

// Initiator side: one per peer, keyed with the peer's static public key.
class CookieMaker {
public:
    CookieMaker() = default;
    void set_peer(const PublicKey& peer_static) noexcept;
    // Fills mac1 (and mac2 when a cookie younger than kCookieValidNs is held) of the message at `msg`, whose mac1
    // field is at `mac1_off`. With `remember` (initiations), keeps mac1 to authenticate a cookie reply to it.
    void add_macs(uint8_t* msg, std::size_t mac1_off, uint64_t now_ns, bool remember) noexcept;
    // Opens a cookie reply (kCookieReplyBytes) for the last message sent; stores the cookie. False if it fails.
    bool consume_reply(const uint8_t* reply, uint64_t now_ns) noexcept;
    bool has_cookie(uint64_t now_ns) const noexcept { return cookie_set_ && now_ns - cookie_birth_ns_ < kCookieValidNs; }

private:
    crypto::Key32 mac1_key_;
    crypto::Key32 cookie_key_;
    crypto::Secret<16> cookie_;
    uint64_t cookie_birth_ns_ = 0;
    Mac last_mac1_{};
    bool cookie_set_ = false;
    bool mac1_sent_ = false;
};

}  // namespace voxa::link
