#include "crypto/hash.h"

#include <cstring>

#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::crypto {
namespace {

void personal_bytes(std::string_view personal, uint8_t out[16]) noexcept {
    VOXA_CHECK(personal.size() <= 16);
    std::memset(out, 0, 16);
    std::memcpy(out, personal.data(), personal.size());
}

}  // namespace

static_assert(sizeof(crypto_generichash_blake2b_state) <= 384);

Hasher::Hasher(std::size_t out_bytes, std::string_view personal, Bytes key) noexcept : out_bytes_(out_bytes) {
    VOXA_CHECK(out_bytes >= crypto_generichash_blake2b_BYTES_MIN && out_bytes <= crypto_generichash_blake2b_BYTES_MAX);
    VOXA_CHECK(key.empty() || (key.size() >= 16 && key.size() <= 64));
    uint8_t pers[16];
    personal_bytes(personal, pers);
    auto* st = reinterpret_cast<crypto_generichash_blake2b_state*>(state_);
    int rc = crypto_generichash_blake2b_init_salt_personal(st, key.empty() ? nullptr : key.data(), key.size(),
                                                           out_bytes, nullptr, pers);
    VOXA_CHECK(rc == 0);
}

void Hasher::update(Bytes data) noexcept {
    auto* st = reinterpret_cast<crypto_generichash_blake2b_state*>(state_);
    crypto_generichash_blake2b_update(st, data.data(), data.size());
}

void Hasher::final(std::span<uint8_t> out) noexcept {
    VOXA_CHECK(out.size() == out_bytes_);
    auto* st = reinterpret_cast<crypto_generichash_blake2b_state*>(state_);
    crypto_generichash_blake2b_final(st, out.data(), out.size());
    sodium_memzero(state_, sizeof(state_));
}

void hash(std::span<uint8_t> out, std::string_view personal, std::initializer_list<Bytes> parts,
          Bytes key) noexcept {
    Hasher h(out.size(), personal, key);
    for (Bytes p : parts) h.update(p);
    h.final(out);
}

void kdf(std::initializer_list<std::span<uint8_t, 32>> outs, std::string_view label, Bytes ikm,
         Bytes salt) noexcept {
    VOXA_CHECK(outs.size() <= 8);
    uint8_t prk[32];
    hash(prk, "voxa.kdf.extract", {ikm}, salt);
    uint8_t i = 1;
    for (auto out : outs) {
        hash(out, label, {Bytes(&i, 1)}, Bytes(prk, 32));
        ++i;
    }
    sodium_memzero(prk, sizeof prk);
}

}  // namespace voxa::crypto
