#include "circuit/onion.h"

#include <cstring>

#include <sodium.h>

#include "voxa/assert.h"
#include "voxa/wire.h"

namespace voxa::circuit {
namespace {

constexpr std::size_t kTag = wire::kE2eTagBytes;
static_assert(wire::kCellNonceBytes == crypto::kBlockBytes);
static_assert(crypto::kStreamNonceBytes == crypto::kAeadNonceBytes && crypto::kAeadTagBytes == kTag);

// The AEAD nonce is the cell nonce's first 12 bytes; its last 4 bytes are bound as associated data, so every
// bit of the nonce the end receives is authenticated (otherwise the last link could flip those 4 bytes unseen).
std::span<const uint8_t> nonce_ad(const uint8_t nonce[16]) noexcept {
    return {nonce + crypto::kAeadNonceBytes, wire::kCellNonceBytes - crypto::kAeadNonceBytes};
}

std::unique_ptr<crypto::AeadKey> make_e2e(crypto::Provider p, const crypto::Key32& key) {
    auto aead = crypto::make_aead(p, crypto::Suite::kChaCha20Poly1305, key.span());
    VOXA_CHECK(aead != nullptr);   // ChaCha20-Poly1305 is available on every provider
    return aead;
}

}  // namespace

HopCrypto::HopCrypto(const HopSecrets& s, crypto::Provider p)
    : fwd_stream_(crypto::make_stream(p, s.fwd_stream.span())),
      back_stream_(crypto::make_stream(p, s.back_stream.span())),
      fwd_nonce_(crypto::make_block(p, s.fwd_nonce.span())),
      back_nonce_(crypto::make_block(p, s.back_nonce.span())),
      fwd_e2e_(make_e2e(p, s.fwd_e2e)),
      back_e2e_(make_e2e(p, s.back_e2e)) {
    VOXA_CHECK(fwd_stream_ && back_stream_ && fwd_nonce_ && back_nonce_);
}

void HopCrypto::relay_forward(uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept {
    fwd_stream_->xor_stream(nonce, onion, len);
    fwd_nonce_->encrypt(nonce);
}

void HopCrypto::relay_backward(uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept {
    back_stream_->xor_stream(nonce, onion, len);
    back_nonce_->encrypt(nonce);
}

bool HopCrypto::end_receive_forward(const uint8_t nonce[16], uint8_t* onion, std::size_t len) noexcept {
    VOXA_ASSERT(len > kTag);
    fwd_stream_->xor_stream(nonce, onion, len);
    return fwd_e2e_->open(nonce, nonce_ad(nonce), onion, len - kTag, onion + len - kTag);
}

void HopCrypto::end_send_backward(uint8_t nonce_out[16], uint8_t* onion, std::size_t len) noexcept {
    VOXA_ASSERT(len > kTag);
    randombytes_buf(nonce_out, wire::kCellNonceBytes);
    back_e2e_->seal(nonce_out, nonce_ad(nonce_out), onion, len - kTag, onion + len - kTag);
    relay_backward(nonce_out, onion, len);
}

OriginCrypto::OriginCrypto(crypto::Provider p) : provider_(p) {}

void OriginCrypto::add_hop(const HopSecrets& s) {
    VOXA_CHECK(hops_ < kHopsMax);
    hop_[hops_] = std::make_unique<HopCrypto>(s, provider_);
    ++hops_;
}

std::size_t OriginCrypto::hops() const noexcept { return hops_; }

void OriginCrypto::wrap_forward(std::size_t end, uint8_t nonce_out[16], uint8_t* onion, std::size_t len) noexcept {
    VOXA_CHECK(end >= 1 && end <= hops_);
    VOXA_ASSERT(len > kTag);
    // n[i] is the nonce hop i+1 receives: n[0] is sent, n[i] = AES(fwd_nonce_i, n[i-1]).
    uint8_t n[kHopsMax][wire::kCellNonceBytes];
    randombytes_buf(n[0], sizeof n[0]);
    for (std::size_t i = 1; i < end; ++i) {
        std::memcpy(n[i], n[i - 1], sizeof n[i]);
        hop_[i - 1]->fwd_nonce_->encrypt(n[i]);
    }
    hop_[end - 1]->fwd_e2e_->seal(n[end - 1], nonce_ad(n[end - 1]), onion, len - kTag, onion + len - kTag);
    // XOR layers commute, so the order of these passes does not matter; each hop removes exactly its own.
    for (std::size_t i = 0; i < end; ++i) hop_[i]->fwd_stream_->xor_stream(n[i], onion, len);
    std::memcpy(nonce_out, n[0], sizeof n[0]);
}

bool OriginCrypto::unwrap_backward(std::size_t end, const uint8_t nonce[16], uint8_t* onion,
                                   std::size_t len) noexcept {
    VOXA_CHECK(end >= 1 && end <= hops_);
    VOXA_ASSERT(len > kTag);
    uint8_t n[wire::kCellNonceBytes];
    std::memcpy(n, nonce, sizeof n);
    // Hop 1 added the outermost step (XOR under its input nonce, then AES); undo hops from the origin outwards.
    for (std::size_t j = 0; j < end; ++j) {
        hop_[j]->back_nonce_->decrypt(n);
        hop_[j]->back_stream_->xor_stream(n, onion, len);
    }
    return hop_[end - 1]->back_e2e_->open(n, nonce_ad(n), onion, len - kTag, onion + len - kTag);
}

}  // namespace voxa::circuit
