#include "link/cookie.h"

#include <cstring>

#include <sodium.h>

#include "common/bytes.h"
#include "link/packet.h"
#include "voxa/assert.h"

namespace voxa::link {
namespace {

// BLAKE2b-256(label || pub): the mac1 and cookie-encryption keys, as WireGuard derives them.
void label_key(const char label[9], const PublicKey& pub, crypto::Key32* out) noexcept {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, nullptr, 0, 32);
    crypto_generichash_blake2b_update(&st, reinterpret_cast<const uint8_t*>(label), 8);
    crypto_generichash_blake2b_update(&st, pub.data(), pub.size());
    crypto_generichash_blake2b_final(&st, out->data(), 32);
}

// MAC(key, data) = keyed BLAKE2b with a 16-byte output.
void mac(uint8_t out[16], const uint8_t* key, std::size_t key_len, const uint8_t* data, std::size_t len) noexcept {
    crypto_generichash_blake2b(out, 16, data, len, key, key_len);
}

}  // namespace

void endpoint_cookie_bytes(const Endpoint& e, uint8_t out[kEndpointCookieBytes]) noexcept {
    out[0] = uint8_t(e.family);
    store_u16(out + 1, e.port);
    std::memcpy(out + 3, e.addr.data(), 16);
}

CookieChecker::CookieChecker(const PublicKey& self_static) noexcept {
    label_key("mac1----", self_static, &mac1_key_);
    label_key("cookie--", self_static, &cookie_key_);
}

bool CookieChecker::mac1_ok(const uint8_t* msg, std::size_t mac1_off) const noexcept {
    uint8_t expect[16];
    mac(expect, mac1_key_.data(), 32, msg, mac1_off);
    return sodium_memcmp(expect, msg + mac1_off, 16) == 0;
}

void CookieChecker::cookie_for(const Endpoint& from, uint64_t now_ns, uint8_t out[16]) noexcept {
    if (!secret_set_ || now_ns - secret_birth_ns_ >= kCookieSecretMaxAgeNs) {
        randombytes_buf(secret_.data(), secret_.size());
        secret_birth_ns_ = now_ns;
        secret_set_ = true;
    }
    uint8_t ep[kEndpointCookieBytes];
    endpoint_cookie_bytes(from, ep);
    mac(out, secret_.data(), secret_.size(), ep, sizeof ep);
}

bool CookieChecker::mac2_ok(const uint8_t* msg, std::size_t mac1_off, const Endpoint& from,
                            uint64_t now_ns) noexcept {
    crypto::Secret<16> cookie;
    cookie_for(from, now_ns, cookie.data());
    uint8_t expect[16];
    std::size_t const mac2_off = mac1_off + kMacBytes;
    mac(expect, cookie.data(), cookie.size(), msg, mac2_off);
    return sodium_memcmp(expect, msg + mac2_off, 16) == 0;
}

void CookieChecker::write_reply(uint32_t receiver_index, const uint8_t* mac1, const Endpoint& from,
                                uint64_t now_ns, uint8_t* out) noexcept {
    crypto::Secret<16> cookie;
    cookie_for(from, now_ns, cookie.data());
    out[0] = uint8_t(wire::LinkType::kCookieReply);
    out[1] = out[2] = out[3] = 0;
    store_u32(out + kCookieReceiverOff, receiver_index);
    randombytes_buf(out + kCookieNonceOff, kCookieNonceBytes);
    unsigned long long sealed_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + kCookieSealedOff, &sealed_len, cookie.data(), cookie.size(),
                                               mac1, kMacBytes, nullptr, out + kCookieNonceOff,
                                               cookie_key_.data());
    VOXA_ASSERT(sealed_len == kMacBytes + kAeadTagBytes);
}

void CookieMaker::set_peer(const PublicKey& peer_static) noexcept {
    label_key("mac1----", peer_static, &mac1_key_);
    label_key("cookie--", peer_static, &cookie_key_);
    cookie_.wipe();
    cookie_set_ = false;
    mac1_sent_ = false;
}

void CookieMaker::add_macs(uint8_t* msg, std::size_t mac1_off, uint64_t now_ns, bool remember) noexcept {
    mac(msg + mac1_off, mac1_key_.data(), 32, msg, mac1_off);
    if (remember) {
        std::memcpy(last_mac1_.data(), msg + mac1_off, kMacBytes);
        mac1_sent_ = true;
    }
    std::size_t const mac2_off = mac1_off + kMacBytes;
    if (has_cookie(now_ns)) {
        mac(msg + mac2_off, cookie_.data(), cookie_.size(), msg, mac2_off);
    } else {
        std::memset(msg + mac2_off, 0, kMacBytes);
    }
}

bool CookieMaker::consume_reply(const uint8_t* reply, uint64_t now_ns) noexcept {
    if (!mac1_sent_) return false;
    uint8_t cookie[16];
    unsigned long long len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &len, nullptr, reply + kCookieSealedOff,
                                                   kMacBytes + kAeadTagBytes, last_mac1_.data(), kMacBytes,
                                                   reply + kCookieNonceOff, cookie_key_.data()) != 0) {
        return false;
    }
    std::memcpy(cookie_.data(), cookie, 16);
    sodium_memzero(cookie, sizeof cookie);
    cookie_birth_ns_ = now_ns;
    cookie_set_ = true;
    return true;
}

}  // namespace voxa::link
