#include "crypto/provider.h"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::crypto {
namespace {

// ---- libsodium -------------------------------------------------------------------------------------------

class SodiumChaChaPoly final : public AeadKey {
public:
    explicit SodiumChaChaPoly(std::span<const uint8_t, 32> key) noexcept { std::memcpy(key_, key.data(), 32); }
    ~SodiumChaChaPoly() override { sodium_memzero(key_, sizeof key_); }
    void seal(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              uint8_t tag[16]) noexcept override {
        uint8_t empty = 0;
        if (data == nullptr) data = &empty;   // libsodium declares the pointer nonnull even for len == 0
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(data, tag, nullptr, data, len, ad.data(), ad.size(),
                                                           nullptr, nonce, key_);
    }
    bool open(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              const uint8_t tag[16]) noexcept override {
        uint8_t empty = 0;
        if (data == nullptr) data = &empty;
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(data, nullptr, data, len, tag, ad.data(),
                                                                  ad.size(), nonce, key_) == 0;
    }
    Suite suite() const noexcept override { return Suite::kChaCha20Poly1305; }

private:
    uint8_t key_[32];
};

class SodiumAesGcm final : public AeadKey {
public:
    explicit SodiumAesGcm(std::span<const uint8_t, 32> key) noexcept {
        crypto_aead_aes256gcm_beforenm(&state_, key.data());
    }
    ~SodiumAesGcm() override { sodium_memzero(&state_, sizeof state_); }
    void seal(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              uint8_t tag[16]) noexcept override {
        uint8_t empty = 0;
        if (data == nullptr) data = &empty;
        crypto_aead_aes256gcm_encrypt_detached_afternm(data, tag, nullptr, data, len, ad.data(), ad.size(),
                                                       nullptr, nonce, &state_);
    }
    bool open(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              const uint8_t tag[16]) noexcept override {
        uint8_t empty = 0;
        if (data == nullptr) data = &empty;
        return crypto_aead_aes256gcm_decrypt_detached_afternm(data, nullptr, data, len, tag, ad.data(), ad.size(),
                                                              nonce, &state_) == 0;
    }
    Suite suite() const noexcept override { return Suite::kAes256Gcm; }

private:
    alignas(16) crypto_aead_aes256gcm_state state_;
};

class SodiumStream final : public StreamKey {
public:
    explicit SodiumStream(std::span<const uint8_t, 32> key) noexcept { std::memcpy(key_, key.data(), 32); }
    ~SodiumStream() override { sodium_memzero(key_, sizeof key_); }
    void xor_stream(const uint8_t nonce[12], uint8_t* data, std::size_t len) noexcept override {
        if (len == 0) return;
        crypto_stream_chacha20_ietf_xor_ic(data, data, len, nonce, 0, key_);
    }

private:
    uint8_t key_[32];
};

// ---- OpenSSL EVP -----------------------------------------------------------------------------------------
// One EVP context per key, initialised with the key once; each call only sets the IV. Re-initialising the
// cipher per packet would cost more than the encryption of a 1280-byte cell.

class EvpAead final : public AeadKey {
public:
    EvpAead(Suite s, std::span<const uint8_t, 32> key) : suite_(s) {
        const EVP_CIPHER* cipher = s == Suite::kAes256Gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
        enc_ = EVP_CIPHER_CTX_new();
        dec_ = EVP_CIPHER_CTX_new();
        VOXA_CHECK(enc_ && dec_);
        VOXA_CHECK(EVP_EncryptInit_ex(enc_, cipher, nullptr, key.data(), nullptr) == 1);
        VOXA_CHECK(EVP_DecryptInit_ex(dec_, cipher, nullptr, key.data(), nullptr) == 1);
    }
    ~EvpAead() override {
        EVP_CIPHER_CTX_free(enc_);
        EVP_CIPHER_CTX_free(dec_);
    }
    void seal(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              uint8_t tag[16]) noexcept override {
        int out_len = 0;
        VOXA_CHECK(EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) == 1);
        if (!ad.empty()) VOXA_CHECK(EVP_EncryptUpdate(enc_, nullptr, &out_len, ad.data(), int(ad.size())) == 1);
        VOXA_CHECK(EVP_EncryptUpdate(enc_, data, &out_len, data, int(len)) == 1);
        VOXA_CHECK(EVP_EncryptFinal_ex(enc_, data + out_len, &out_len) == 1);
        // The tag straight from the provider (EVP_CIPHER_CTX_ctrl would translate the ctrl into these params).
        OSSL_PARAM params[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, 16),
                                OSSL_PARAM_construct_end()};
        VOXA_CHECK(EVP_CIPHER_CTX_get_params(enc_, params) == 1);
    }
    bool open(const uint8_t nonce[12], std::span<const uint8_t> ad, uint8_t* data, std::size_t len,
              const uint8_t tag[16]) noexcept override {
        int out_len = 0;
        if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce) != 1) return false;
        if (!ad.empty() && EVP_DecryptUpdate(dec_, nullptr, &out_len, ad.data(), int(ad.size())) != 1) return false;
        if (EVP_DecryptUpdate(dec_, data, &out_len, data, int(len)) != 1) return false;
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, const_cast<uint8_t*>(tag), 16),
            OSSL_PARAM_construct_end()};
        if (EVP_CIPHER_CTX_set_params(dec_, params) != 1) return false;
        return EVP_DecryptFinal_ex(dec_, data + out_len, &out_len) == 1;
    }
    Suite suite() const noexcept override { return suite_; }

private:
    Suite suite_;
    EVP_CIPHER_CTX* enc_ = nullptr;   // owned
    EVP_CIPHER_CTX* dec_ = nullptr;   // owned
};

class EvpStream final : public StreamKey {
public:
    explicit EvpStream(std::span<const uint8_t, 32> key) {
        ctx_ = EVP_CIPHER_CTX_new();
        VOXA_CHECK(ctx_);
        VOXA_CHECK(EVP_EncryptInit_ex(ctx_, EVP_chacha20(), nullptr, key.data(), nullptr) == 1);
    }
    ~EvpStream() override { EVP_CIPHER_CTX_free(ctx_); }
    void xor_stream(const uint8_t nonce[12], uint8_t* data, std::size_t len) noexcept override {
        // OpenSSL's ChaCha20 IV is the 32-bit little-endian block counter followed by the 96-bit nonce,
        // which is exactly libsodium's crypto_stream_chacha20_ietf_xor_ic with ic = 0.
        uint8_t iv[16] = {0, 0, 0, 0};
        std::memcpy(iv + 4, nonce, 12);
        int out_len = 0;
        VOXA_CHECK(EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) == 1);
        VOXA_CHECK(EVP_EncryptUpdate(ctx_, data, &out_len, data, int(len)) == 1);
    }

private:
    EVP_CIPHER_CTX* ctx_ = nullptr;   // owned
};

class EvpBlock final : public BlockKey {
public:
    explicit EvpBlock(std::span<const uint8_t, 32> key) {
        enc_ = EVP_CIPHER_CTX_new();
        dec_ = EVP_CIPHER_CTX_new();
        VOXA_CHECK(enc_ && dec_);
        VOXA_CHECK(EVP_EncryptInit_ex(enc_, EVP_aes_256_ecb(), nullptr, key.data(), nullptr) == 1);
        VOXA_CHECK(EVP_DecryptInit_ex(dec_, EVP_aes_256_ecb(), nullptr, key.data(), nullptr) == 1);
        EVP_CIPHER_CTX_set_padding(enc_, 0);
        EVP_CIPHER_CTX_set_padding(dec_, 0);
    }
    ~EvpBlock() override {
        EVP_CIPHER_CTX_free(enc_);
        EVP_CIPHER_CTX_free(dec_);
    }
    void encrypt(uint8_t block[16]) noexcept override {
        int out_len = 0;
        VOXA_CHECK(EVP_EncryptUpdate(enc_, block, &out_len, block, 16) == 1 && out_len == 16);
    }
    void decrypt(uint8_t block[16]) noexcept override {
        int out_len = 0;
        // ECB decryption with padding off holds back nothing, but OpenSSL keeps the last block until the next
        // call unless the length is a whole block; 16 bytes returns 16 bytes.
        VOXA_CHECK(EVP_DecryptUpdate(dec_, block, &out_len, block, 16) == 1 && out_len == 16);
    }

private:
    EVP_CIPHER_CTX* enc_ = nullptr;   // owned
    EVP_CIPHER_CTX* dec_ = nullptr;   // owned
};

}  // namespace

bool init() noexcept { return sodium_init() >= 0; }

Provider default_provider() noexcept { return Provider::kOpenSsl; }

bool provider_from_name(std::string_view name, Provider* out) noexcept {
    if (name == "sodium" || name == "libsodium") {
        *out = Provider::kSodium;
    } else if (name == "openssl") {
        *out = Provider::kOpenSsl;
    } else if (name == "auto") {
        *out = default_provider();
    } else {
        return false;
    }
    return true;
}

std::string_view provider_name(Provider p) noexcept { return p == Provider::kSodium ? "sodium" : "openssl"; }

bool suite_available(Provider p, Suite s) noexcept {
    if (s == Suite::kChaCha20Poly1305) return true;
    if (s == Suite::kAes256Gcm) return p == Provider::kOpenSsl || crypto_aead_aes256gcm_is_available() == 1;
    return false;
}

std::unique_ptr<AeadKey> make_aead(Provider p, Suite s, std::span<const uint8_t, 32> key) {
    if (!suite_available(p, s)) return nullptr;
    if (p == Provider::kOpenSsl) return std::make_unique<EvpAead>(s, key);
    if (s == Suite::kAes256Gcm) return std::make_unique<SodiumAesGcm>(key);
    return std::make_unique<SodiumChaChaPoly>(key);
}

std::unique_ptr<StreamKey> make_stream(Provider p, std::span<const uint8_t, 32> key) {
    if (p == Provider::kOpenSsl) return std::make_unique<EvpStream>(key);
    return std::make_unique<SodiumStream>(key);
}

std::unique_ptr<BlockKey> make_block(Provider /*p*/, std::span<const uint8_t, 32> key) {
    return std::make_unique<EvpBlock>(key);
}

}  // namespace voxa::crypto
