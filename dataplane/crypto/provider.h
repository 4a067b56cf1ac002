// Bulk cell crypto behind one small interface (DESIGN §3, crypto providers).
//
// Three keyed primitives do all per-cell work:
//   AeadKey    ChaCha20-Poly1305 (IETF, 96-bit nonce) or AES-256-GCM; seal/open in place, detached 16-byte tag.
//   StreamKey  ChaCha20 (IETF) keystream XOR with a 96-bit nonce and block counter 0; used by onion layers.
//   BlockKey   AES-256 single-block permutation (encrypt and decrypt); re-randomises the per-hop cell nonce.
//
// Providers: libsodium (the reference) and OpenSSL libcrypto EVP (faster here: VAES/AVX-512). Both compute the
// same functions bit for bit, so nodes with different providers interoperate (tests/unit/crypto prove it).
// Keys are expanded once at construction; seal/open/xor do no allocation and no system calls.
// A key object belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace voxa::crypto {

inline constexpr std::size_t kAeadKeyBytes = 32;
inline constexpr std::size_t kAeadNonceBytes = 12;
inline constexpr std::size_t kAeadTagBytes = 16;
inline constexpr std::size_t kStreamNonceBytes = 12;
inline constexpr std::size_t kBlockBytes = 16;

// Wire values of the negotiated link cipher suite (docs/PROTOCOL.md). A bitmask of these is offered.
enum class Suite : uint8_t { kChaCha20Poly1305 = 1, kAes256Gcm = 2 };

enum class Provider : uint8_t { kSodium = 0, kOpenSsl = 1 };

// Call once per process before any other crypto (wraps sodium_init). Returns false if libsodium cannot start.
bool init() noexcept;

// The provider `auto` resolves to: OpenSSL where it is present (it measures faster on x86-64 with VAES).
Provider default_provider() noexcept;
bool provider_from_name(std::string_view name, Provider* out) noexcept;   // "sodium" | "openssl" | "auto"
std::string_view provider_name(Provider p) noexcept;

// Whether this CPU and provider can run the suite (AES-GCM needs AES-NI for libsodium).
bool suite_available(Provider p, Suite s) noexcept;

class AeadKey {
public:
    virtual ~AeadKey() = default;
    // Encrypts `data` in place and writes the tag. `ad` may be empty.
    virtual void seal(const uint8_t nonce[kAeadNonceBytes], std::span<const uint8_t> ad, uint8_t* data,
                      std::size_t len, uint8_t tag[kAeadTagBytes]) noexcept = 0;
    // Verifies and decrypts `data` in place. Returns false (and leaves `data` unspecified) if the tag fails.
    [[nodiscard]] virtual bool open(const uint8_t nonce[kAeadNonceBytes], std::span<const uint8_t> ad,
                                    uint8_t* data, std::size_t len, const uint8_t tag[kAeadTagBytes]) noexcept = 0;
    virtual Suite suite() const noexcept = 0;
};

class StreamKey {
public:
    virtual ~StreamKey() = default;
    // data ^= ChaCha20(key, nonce, counter=0) keystream.
    virtual void xor_stream(const uint8_t nonce[kStreamNonceBytes], uint8_t* data, std::size_t len) noexcept = 0;
};

class BlockKey {
public:
    virtual ~BlockKey() = default;
    virtual void encrypt(uint8_t block[kBlockBytes]) noexcept = 0;
    virtual void decrypt(uint8_t block[kBlockBytes]) noexcept = 0;
};

// Factories. Return nullptr only if the suite is unavailable on this provider and CPU.
// The returned objects copy the key; the caller may wipe its copy at once.
std::unique_ptr<AeadKey> make_aead(Provider p, Suite s, std::span<const uint8_t, kAeadKeyBytes> key);
std::unique_ptr<StreamKey> make_stream(Provider p, std::span<const uint8_t, 32> key);
// AES-256 block: always OpenSSL (libsodium exposes no block cipher); `p` is accepted for symmetry.
std::unique_ptr<BlockKey> make_block(Provider p, std::span<const uint8_t, 32> key);

}  // namespace voxa::crypto
