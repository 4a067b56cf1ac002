// Onion layers of RELAY cells: constant cost per hop (one ChaCha20 pass over the onion and one AES block),
// nothing grows with the number of hops.
//
// A RELAY cell body is | nonce[16] | onion |. Hop i holds six keys (HopSecrets). Going forward, hop i receives
// nonce N_{i-1}, XORs ChaCha20(fwd_stream_i, N_{i-1}[0..12]) into the onion and forwards N_i =
// AES-256(fwd_nonce_i, N_{i-1}). The circuit's end (hop e) strips its stream layer the same way and then opens
// an AEAD layer (ChaCha20-Poly1305, key fwd_e2e_e, nonce N_{e-1}[0..12], associated data N_{e-1}[12..16],
// tag = the onion's last 16 bytes). Backward is the mirror image: the end seals with back_e2e under a random N, each hop XORs
// ChaCha20(back_stream, N) and replaces N by AES(back_nonce, N), and the origin undoes the hops in order with
// AES decryption. The nonce is re-randomised at every hop, so no byte of a cell is the same on two links, and
// any modified bit (onion or nonce) anywhere on the path makes the end's AEAD fail.
//
// Key objects are built once per hop (per circuit), never per cell; the per-cell calls below do not allocate.
// An object belongs to one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "circuit/ntor.h"
#include "crypto/provider.h"

namespace voxa::circuit {

inline constexpr std::size_t kHopsMax = 8;

// One hop's keys as provider objects. A relay keeps one per circuit; the origin keeps one per hop.
class HopCrypto {
public:
    // Expands the keys (copies them; the caller may wipe `s` at once). Allocates; per circuit, not per cell.
    HopCrypto(const HopSecrets& s, crypto::Provider p);

    // A relay's step on a forward cell: onion ^= ChaCha20(fwd_stream, nonce[0..12]); nonce = AES(fwd_nonce,
    // nonce). `nonce` and `onion[0 .. len)` are the caller's, changed in place.
    void relay_forward(uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept;
    // A relay's step on a backward cell: the same with back_stream / back_nonce.
    void relay_backward(uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept;
    // Circuit end: strip the stream layer and open; on true, the relay message is onion[0 .. len-16].
    // On false (count Drop::kBadE2eTag) the onion's contents are unspecified. `len` must exceed 16.
    [[nodiscard]] bool end_receive_forward(const uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept;
    // Circuit end: seal onion[0 .. len-16] (tag into the last 16 bytes) and add the layer; writes the nonce to
    // send to `nonce_out`. Draws 16 random bytes from the CSPRNG.
    void end_send_backward(uint8_t nonce_out[16], uint8_t* onion, std::size_t len) noexcept;

private:
    friend class OriginCrypto;
    std::unique_ptr<crypto::StreamKey> fwd_stream_, back_stream_;
    std::unique_ptr<crypto::BlockKey> fwd_nonce_, back_nonce_;
    std::unique_ptr<crypto::AeadKey> fwd_e2e_, back_e2e_;
};

// The origin's view of one circuit: the keys of up to kHopsMax hops, in path order.
class OriginCrypto {
public:
    explicit OriginCrypto(crypto::Provider p);

    // Appends the next hop's keys (after each CREATED / EXTENDED). Allocates. At most kHopsMax hops
    // (VOXA_CHECK).
    void add_hop(const HopSecrets& s);
    std::size_t hops() const noexcept;

    // Wraps a relay message (onion[0 .. len-16]) for hop `end` (1..hops()): seals it for that hop and adds the
    // stream layers of hops 1..end; writes the nonce to send to the first hop to `nonce_out`.
    void wrap_forward(std::size_t end, uint8_t nonce_out[16], uint8_t* onion, std::size_t len) noexcept;
    // Unwraps a backward cell sent by hop `end` (1..hops()); true if authentic, then the message is
    // onion[0 .. len-16]. On false (count Drop::kBadE2eTag) the onion's contents are unspecified.
    [[nodiscard]] bool unwrap_backward(std::size_t end, const uint8_t nonce[16], uint8_t* onion,
                                       std::size_t len) noexcept;

private:
    crypto::Provider provider_;
    std::size_t hops_ = 0;
    std::array<std::unique_ptr<HopCrypto>, kHopsMax> hop_;
};

}  // namespace voxa::circuit
