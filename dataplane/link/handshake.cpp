#include "link/handshake.h"

#include <cstring>
#include <initializer_list>
#include <span>

#include <sodium.h>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::link {
namespace {

using Bytes = std::span<const uint8_t>;

constexpr char kConstruction[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
constexpr char kIdentifier[] = "voxa link v1";
constexpr std::size_t kBlockBytes = 128;   // BLAKE2b block, for HMAC

Bytes text(const char* s) noexcept { return Bytes(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }

// HASH(parts...) = BLAKE2b-512, unkeyed, no personalization: plain Noise BLAKE2b.
void hash(uint8_t out[kHashBytes], std::initializer_list<Bytes> parts) noexcept {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, nullptr, 0, kHashBytes);
    for (Bytes p : parts) crypto_generichash_blake2b_update(&st, p.data(), p.size());
    crypto_generichash_blake2b_final(&st, out, kHashBytes);
}

// HMAC-BLAKE2b-512 (RFC 2104 with a 128-byte block); Noise's HMAC-HASH. Keys here are at most 64 bytes.
void hmac(uint8_t out[kHashBytes], Bytes key, std::initializer_list<Bytes> parts) noexcept {
    VOXA_ASSERT(key.size() <= kHashBytes);
    uint8_t pad[kBlockBytes];
    uint8_t inner[kHashBytes];
    std::memset(pad, 0x36, sizeof pad);
    for (std::size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, nullptr, 0, kHashBytes);
    crypto_generichash_blake2b_update(&st, pad, sizeof pad);
    for (Bytes p : parts) crypto_generichash_blake2b_update(&st, p.data(), p.size());
    crypto_generichash_blake2b_final(&st, inner, kHashBytes);
    std::memset(pad, 0x5c, sizeof pad);
    for (std::size_t i = 0; i < key.size(); ++i) pad[i] ^= key[i];
    crypto_generichash_blake2b_init(&st, nullptr, 0, kHashBytes);
    crypto_generichash_blake2b_update(&st, pad, sizeof pad);
    crypto_generichash_blake2b_update(&st, inner, sizeof inner);
    crypto_generichash_blake2b_final(&st, out, kHashBytes);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&st, sizeof st);
}

// Noise's HKDF(ck, ikm, n) for n = 1..3: t0 = HMAC(ck, ikm), t1 = HMAC(t0, 0x01), ti = HMAC(t0, t(i-1) || i).
// Outputs are 64 bytes; keys use the first 32 (Noise truncates temp_k when HASHLEN is 64).
void kdf(const uint8_t ck[kHashBytes], Bytes ikm, uint8_t* t1, uint8_t* t2, uint8_t* t3) noexcept {
    uint8_t t0[kHashBytes];
    uint8_t prev[kHashBytes];
    hmac(t0, Bytes(ck, kHashBytes), {ikm});
    uint8_t i = 1;
    hmac(prev, Bytes(t0, kHashBytes), {Bytes(&i, 1)});
    if (t1) std::memcpy(t1, prev, kHashBytes);
    if (t2 || t3) {
        i = 2;
        hmac(prev, Bytes(t0, kHashBytes), {Bytes(prev, kHashBytes), Bytes(&i, 1)});
        if (t2) std::memcpy(t2, prev, kHashBytes);
    }
    if (t3) {
        i = 3;
        hmac(prev, Bytes(t0, kHashBytes), {Bytes(prev, kHashBytes), Bytes(&i, 1)});
        std::memcpy(t3, prev, kHashBytes);
    }
    sodium_memzero(t0, sizeof t0);
    sodium_memzero(prev, sizeof prev);
}

void mix_hash(SymmetricState& s, Bytes data) noexcept { hash(s.h.data(), {Bytes(s.h), data}); }

// MixKey(dh): (ck, k) = HKDF(ck, dh, 2). `key` may be null when the key is not used (the ee step).
void mix_key(SymmetricState& s, const uint8_t dh[32], crypto::Key32* key) noexcept {
    uint8_t t2[kHashBytes];
    kdf(s.ck.data(), Bytes(dh, 32), s.ck.data(), t2, nullptr);
    if (key) std::memcpy(key->data(), t2, 32);
    sodium_memzero(t2, sizeof t2);
}

// X25519; false when the result is the all-zero point (libsodium refuses low-order inputs the same way).
bool dh(uint8_t out[32], const crypto::Key32& secret, const uint8_t pub[32]) noexcept {
    return crypto_scalarmult(out, secret.data(), pub) == 0;
}

constexpr uint8_t kZeroNonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};

// EncryptAndHash with nonce 0: the handshake keys are each used exactly once.
void seal_and_hash(SymmetricState& s, const crypto::Key32& key, const uint8_t* plain, std::size_t len,
                   uint8_t* out) noexcept {
    unsigned long long out_len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &out_len, plain, len, s.h.data(), s.h.size(), nullptr,
                                              kZeroNonce, key.data());
    mix_hash(s, Bytes(out, len + crypto_aead_chacha20poly1305_ietf_ABYTES));
}

bool open_and_hash(SymmetricState& s, const crypto::Key32& key, const uint8_t* sealed, std::size_t len,
                   uint8_t* plain) noexcept {
    unsigned long long plain_len = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plain_len, nullptr, sealed,
                                                  len + crypto_aead_chacha20poly1305_ietf_ABYTES, s.h.data(),
                                                  s.h.size(), kZeroNonce, key.data()) != 0) {
        return false;
    }
    mix_hash(s, Bytes(sealed, len + crypto_aead_chacha20poly1305_ietf_ABYTES));
    return true;
}

// ck = HASH(construction); h = HASH(ck || identifier); h = HASH(h || responder static).
void initialize(SymmetricState& s, const PublicKey& responder_static) noexcept {
    hash(s.ck.data(), {text(kConstruction)});
    hash(s.h.data(), {Bytes(s.ck.data(), kHashBytes), text(kIdentifier)});
    mix_hash(s, Bytes(responder_static));
}

// Split(): (t1, t2) = HKDF(ck, "", 2); the initiator sends with t1.
void split(const SymmetricState& s, bool initiator, TransportKeys* keys) noexcept {
    uint8_t t1[kHashBytes], t2[kHashBytes];
    kdf(s.ck.data(), Bytes(), t1, t2, nullptr);
    std::memcpy(keys->send.data(), initiator ? t1 : t2, 32);
    std::memcpy(keys->recv.data(), initiator ? t2 : t1, 32);
    sodium_memzero(t1, sizeof t1);
    sodium_memzero(t2, sizeof t2);
}

void write_header(uint8_t* msg, wire::LinkType type) noexcept {
    msg[0] = uint8_t(type);
    msg[1] = msg[2] = msg[3] = 0;
}

void wipe(SymmetricState& s) noexcept {
    s.ck.wipe();
    sodium_memzero(s.h.data(), s.h.size());
}

}  // namespace

Timestamp tai64n(uint64_t unix_ns) noexcept {
    Timestamp t{};
    uint64_t const secs = (uint64_t(1) << 62) + 10 + unix_ns / 1'000'000'000;
    uint32_t const nanos = uint32_t(unix_ns % 1'000'000'000);
    for (int i = 0; i < 8; ++i) t[std::size_t(i)] = uint8_t(secs >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) t[std::size_t(8 + i)] = uint8_t(nanos >> (24 - 8 * i));
    return t;
}

bool create_initiation(const StaticKeys& self, const PublicKey& responder_static, uint32_t sender_index,
                       const InitiationPayload& payload, uint8_t* msg, InitiatorState* state) noexcept {
    SymmetricState& s = state->sym;
    initialize(s, responder_static);
    state->remote_static = responder_static;
    write_header(msg, wire::LinkType::kInitiation);
    store_u32(msg + kInitSenderOff, sender_index);

    // e
    randombytes_buf(state->e_secret.data(), 32);
    crypto_scalarmult_base(state->e_pub.data(), state->e_secret.data());
    std::memcpy(msg + kInitEphemeralOff, state->e_pub.data(), 32);
    mix_hash(s, Bytes(state->e_pub));

    // es, s
    uint8_t shared[32];
    crypto::Key32 key;
    if (!dh(shared, state->e_secret, responder_static.data())) return false;
    mix_key(s, shared, &key);
    seal_and_hash(s, key, self.pub.data(), 32, msg + kInitStaticOff);

    // ss, payload
    if (!dh(shared, self.secret, responder_static.data())) return false;
    mix_key(s, shared, &key);
    uint8_t plain[kInitiationPayloadBytes] = {};
    std::memcpy(plain, payload.timestamp.data(), kTimestampBytes);
    plain[kTimestampBytes] = payload.suites;
    seal_and_hash(s, key, plain, sizeof plain, msg + kInitPayloadOff);
    sodium_memzero(shared, sizeof shared);
    return true;
}

bool consume_initiation(const StaticKeys& self, const uint8_t* msg, ResponderState* state,
                        InitiationPayload* payload) noexcept {
    SymmetricState& s = state->sym;
    initialize(s, self.pub);
    std::memcpy(state->remote_ephemeral.data(), msg + kInitEphemeralOff, 32);
    mix_hash(s, Bytes(state->remote_ephemeral));

    uint8_t shared[32];
    crypto::Key32 key;
    bool ok = dh(shared, self.secret, state->remote_ephemeral.data());   // es
    if (ok) {
        mix_key(s, shared, &key);
        ok = open_and_hash(s, key, msg + kInitStaticOff, 32, state->remote_static.data());
    }
    if (ok) ok = dh(shared, self.secret, state->remote_static.data());   // ss
    uint8_t plain[kInitiationPayloadBytes];
    if (ok) {
        mix_key(s, shared, &key);
        ok = open_and_hash(s, key, msg + kInitPayloadOff, sizeof plain, plain);
    }
    if (ok) {
        std::memcpy(payload->timestamp.data(), plain, kTimestampBytes);
        payload->suites = plain[kTimestampBytes];
    } else {
        wipe(s);
    }
    sodium_memzero(shared, sizeof shared);
    return ok;
}

bool create_response(ResponderState* state, uint32_t sender_index, uint32_t receiver_index, uint8_t suite,
                     uint8_t* msg, TransportKeys* keys) noexcept {
    SymmetricState& s = state->sym;
    write_header(msg, wire::LinkType::kResponse);
    store_u32(msg + kRespSenderOff, sender_index);
    store_u32(msg + kRespReceiverOff, receiver_index);

    // e
    crypto::Key32 e_secret;
    PublicKey e_pub{};
    randombytes_buf(e_secret.data(), 32);
    crypto_scalarmult_base(e_pub.data(), e_secret.data());
    std::memcpy(msg + kRespEphemeralOff, e_pub.data(), 32);
    mix_hash(s, Bytes(e_pub));

    uint8_t shared[32];
    crypto::Key32 key;
    bool ok = dh(shared, e_secret, state->remote_ephemeral.data());   // ee
    if (ok) {
        mix_key(s, shared, nullptr);
        ok = dh(shared, e_secret, state->remote_static.data());   // se
    }
    if (ok) {
        mix_key(s, shared, &key);
        uint8_t plain[kResponsePayloadBytes] = {suite, 0, 0, 0};
        seal_and_hash(s, key, plain, sizeof plain, msg + kRespPayloadOff);
        split(s, false, keys);
    }
    sodium_memzero(shared, sizeof shared);
    wipe(s);
    return ok;
}

bool consume_response(InitiatorState* state, const StaticKeys& self, const uint8_t* msg, uint8_t* suite,
                      TransportKeys* keys) noexcept {
    SymmetricState s = state->sym;   // work on a copy: a forged response must not spoil the real one
    PublicKey re{};
    std::memcpy(re.data(), msg + kRespEphemeralOff, 32);
    mix_hash(s, Bytes(re));

    uint8_t shared[32];
    crypto::Key32 key;
    bool ok = dh(shared, state->e_secret, re.data());   // ee
    if (ok) {
        mix_key(s, shared, nullptr);
        ok = dh(shared, self.secret, re.data());   // se (our static, their ephemeral)
    }
    uint8_t plain[kResponsePayloadBytes];
    if (ok) {
        mix_key(s, shared, &key);
        ok = open_and_hash(s, key, msg + kRespPayloadOff, sizeof plain, plain);
    }
    if (ok) {
        *suite = plain[0];
        split(s, true, keys);
        wipe(state->sym);
        state->e_secret.wipe();
    }
    wipe(s);
    sodium_memzero(shared, sizeof shared);
    return ok;
}

}  // namespace voxa::link
