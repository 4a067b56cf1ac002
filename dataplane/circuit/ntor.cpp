#include "circuit/ntor.h"

#include <cstring>
#include <string_view>

#include <sodium.h>

#include "crypto/hash.h"
#include "voxa/assert.h"

namespace voxa::circuit {
namespace {

constexpr std::string_view kProtoId = "voxa-ntor-x25519-blake2b-1";
constexpr std::string_view kServer = "Server";
constexpr std::size_t kDhBytes = crypto_scalarmult_BYTES;
static_assert(kDhBytes == 32 && crypto_scalarmult_SCALARBYTES == 32);
static_assert(kOnionskinBytes == kNodeIdBytes + kDhBytes && kCreatedBytes == kDhBytes + 32);

crypto::Bytes as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The common tail of both sides: from the two DH results and the transcript, AUTH and the hop keys.
// `xy` is X^y (= Y^x), `xb` is X^b (= B^x).
void derive(const uint8_t xy[kDhBytes], const uint8_t xb[kDhBytes], const NodeId& id, const PublicKey& B,
            const uint8_t X[kDhBytes], const uint8_t Y[kDhBytes], uint8_t auth_out[32],
            HopSecrets* secrets_out) noexcept {
    crypto::Key32 key_seed;
    crypto::Key32 verify;
    const crypto::Bytes pid = as_bytes(kProtoId);
    const crypto::Bytes dh1{xy, kDhBytes}, dh2{xb, kDhBytes}, x_pub{X, kDhBytes}, y_pub{Y, kDhBytes};
    crypto::hash(key_seed.span(), "voxa-ntor-key", {dh1, dh2, id, B, x_pub, y_pub, pid});
    crypto::hash(verify.span(), "voxa-ntor-verify", {dh1, dh2, id, B, x_pub, y_pub, pid});
    crypto::hash({auth_out, 32}, "voxa-ntor-mac",
                 {verify.span(), id, B, y_pub, x_pub, pid, as_bytes(kServer)});
    if (secrets_out != nullptr) {
        HopSecrets& s = *secrets_out;
        crypto::kdf({s.fwd_stream.span(), s.fwd_nonce.span(), s.back_stream.span(), s.back_nonce.span(),
                     s.fwd_e2e.span(), s.back_e2e.span()},
                    "voxa-ntor-expand", key_seed.span());
    }
}

}  // namespace

NtorClient::NtorClient(const crypto::PeerIdentity& relay) : relay_(relay) {
    randombytes_buf(x_.data(), x_.size());
    VOXA_CHECK(crypto_scalarmult_base(X_, x_.data()) == 0);
}

void NtorClient::onionskin(uint8_t out[kOnionskinBytes]) const noexcept {
    std::memcpy(out, relay_.id.data(), kNodeIdBytes);
    std::memcpy(out + kNodeIdBytes, X_, kDhBytes);
}

std::optional<HopSecrets> NtorClient::finish(const uint8_t created[kCreatedBytes]) noexcept {
    const uint8_t* Y = created;
    const uint8_t* auth = created + kDhBytes;
    crypto::Key32 yx, bx;
    // crypto_scalarmult fails exactly when the result is all zero, i.e. for a low-order (or zero) point.
    if (crypto_scalarmult(yx.data(), x_.data(), Y) != 0) return std::nullopt;
    if (crypto_scalarmult(bx.data(), x_.data(), relay_.x25519.data()) != 0) return std::nullopt;
    HopSecrets secrets;
    uint8_t expect[32];
    derive(yx.data(), bx.data(), relay_.id, relay_.x25519, X_, Y, expect, &secrets);
    const bool ok = sodium_memcmp(expect, auth, 32) == 0;
    sodium_memzero(expect, sizeof expect);
    if (!ok) return std::nullopt;
    return secrets;
}

Drop ntor_server(const crypto::Identity& self, const uint8_t onionskin[kOnionskinBytes],
                 uint8_t created_out[kCreatedBytes], HopSecrets* secrets_out) noexcept {
    VOXA_ASSERT(secrets_out != nullptr);
    const NodeId& id = self.id();
    if (sodium_memcmp(onionskin, id.data(), kNodeIdBytes) != 0) return Drop::kWrongNode;
    const uint8_t* X = onionskin + kNodeIdBytes;

    crypto::Key32 y, xy, xb;
    if (crypto_scalarmult(xb.data(), self.x25519_secret().data(), X) != 0) return Drop::kBadDh;
    randombytes_buf(y.data(), y.size());
    uint8_t Y[kDhBytes];
    VOXA_CHECK(crypto_scalarmult_base(Y, y.data()) == 0);
    if (crypto_scalarmult(xy.data(), y.data(), X) != 0) return Drop::kBadDh;   // unreachable if X^b passed

    uint8_t auth[32];
    derive(xy.data(), xb.data(), id, self.peer().x25519, X, Y, auth, secrets_out);
    std::memcpy(created_out, Y, kDhBytes);
    std::memcpy(created_out + kDhBytes, auth, 32);
    return Drop::kNone;
}

}  // namespace voxa::circuit
