// Known-answer and interoperability tests for the bulk-crypto providers (crypto/provider.h): both providers must
// compute the published functions bit for bit, so that nodes with different providers interoperate.
#include "crypto/provider.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace voxa::crypto {
namespace {


constexpr Provider kProviders[] = {Provider::kSodium, Provider::kOpenSsl};
constexpr Suite kSuites[] = {Suite::kChaCha20Poly1305, Suite::kAes256Gcm};

// Hex (spaces and colons ignored) to bytes; a malformed literal fails the calling test.
std::vector<uint8_t> unhex(std::string_view hex) {
    std::vector<uint8_t> out(hex.size() / 2);
    std::size_t len = 0;
    EXPECT_EQ(sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), " :", &len, nullptr), 0) << hex;
    out.resize(len);
    return out;
}

std::string hex(const uint8_t* data, std::size_t len) {
    std::string out(2 * len + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), data, len);
    out.pop_back();
    return out;
}
std::string hex(const std::vector<uint8_t>& v) { return hex(v.data(), v.size()); }

std::array<uint8_t, 32> key_from(const std::vector<uint8_t>& bytes) {
    std::array<uint8_t, 32> key{};
    EXPECT_EQ(bytes.size(), key.size());
    std::memcpy(key.data(), bytes.data(), std::min(bytes.size(), key.size()));
    return key;
}

// Random bytes into a vector that may be empty (randombytes_buf must not get a null pointer).
void fill_random(std::span<uint8_t> v) {
    if (!v.empty()) randombytes_buf(v.data(), v.size());
}

std::string label(Provider p, Suite s) {
    return std::string(provider_name(p)) + (s == Suite::kAes256Gcm ? "/aes-256-gcm" : "/chacha20-poly1305");
}

// A key object for (p, s), or nullptr with a note when this CPU cannot run it (only libsodium's AES-GCM, which
// needs AES-NI); the caller then skips that combination.
std::unique_ptr<AeadKey> aead_or_note(Provider p, Suite s, std::span<const uint8_t, 32> key) {
    auto k = make_aead(p, s, key);
    EXPECT_EQ(k != nullptr, suite_available(p, s)) << label(p, s);
    if (k == nullptr) {
        std::printf("note: %s not available on this CPU; not tested\n", label(p, s).c_str());
    } else {
        EXPECT_EQ(k->suite(), s);
    }
    return k;
}

struct AeadVector {
    Suite suite;
    std::string_view key, nonce, ad, plaintext, ciphertext, tag;
};

// RFC 8439 §2.8.2.
constexpr std::string_view kRfc8439Plaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would "
    "be it.";
const AeadVector kChaChaPolyRfc8439 = {
    Suite::kChaCha20Poly1305,
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
    "070000004041424344454647",
    "50515253c0c1c2c3c4c5c6c7",
    "",   // kRfc8439Plaintext, as text
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
    "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116",
    "1ae10b594f09e26a7e902ecbd0600691",
};

// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV, with AAD).
const AeadVector kAesGcmCase16 = {
    Suite::kAes256Gcm,
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    "cafebabefacedbaddecaf888",
    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
    "b16aedf5aa0de657ba637b39",
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
    "c5f61e6393ba7a0abcc9f662",
    "76fc6ece0f4e1768cddf8853bb2d551b",
};

void check_aead_vector(const AeadVector& v, std::vector<uint8_t> plaintext) {
    const auto key = key_from(unhex(v.key));
    const auto nonce = unhex(v.nonce);
    const auto ad = unhex(v.ad);
    const auto ciphertext = unhex(v.ciphertext);
    const auto tag = unhex(v.tag);
    ASSERT_EQ(nonce.size(), kAeadNonceBytes);
    ASSERT_EQ(tag.size(), kAeadTagBytes);
    ASSERT_EQ(plaintext.size(), ciphertext.size());
    for (Provider p : kProviders) {
        SCOPED_TRACE(label(p, v.suite));
        auto k = aead_or_note(p, v.suite, key);
        if (!k) continue;
        std::vector<uint8_t> data = plaintext;
        uint8_t got_tag[kAeadTagBytes];
        k->seal(nonce.data(), ad, data.data(), data.size(), got_tag);
        EXPECT_EQ(hex(data), hex(ciphertext));
        EXPECT_EQ(hex(got_tag, sizeof got_tag), hex(tag));

        ASSERT_TRUE(k->open(nonce.data(), ad, data.data(), data.size(), tag.data()));
        EXPECT_EQ(data, plaintext);
    }
}

TEST(AeadKnownAnswer, ChaCha20Poly1305Rfc8439Section282BothProviders) {
    check_aead_vector(kChaChaPolyRfc8439, std::vector<uint8_t>(kRfc8439Plaintext.begin(), kRfc8439Plaintext.end()));
}

TEST(AeadKnownAnswer, Aes256GcmTestCase16BothProviders) {
    check_aead_vector(kAesGcmCase16, unhex(kAesGcmCase16.plaintext));
}

TEST(AeadKnownAnswer, Aes256GcmEmptyPlaintextNoAd) {
    // NIST GCM test vectors (gcmEncryptExtIV256.rsp), Count 0 of [Keylen=256, IVlen=96, PTlen=0, AADlen=0]:
    // a zero key and IV give the tag 530f8afbc74536b9a963b4f1c4cb738b.
    const std::array<uint8_t, 32> key{};
    const uint8_t nonce[kAeadNonceBytes] = {};
    for (Provider p : kProviders) {
        SCOPED_TRACE(label(p, Suite::kAes256Gcm));
        auto k = aead_or_note(p, Suite::kAes256Gcm, key);
        if (!k) continue;
        uint8_t buf[1] = {0};
        uint8_t tag[kAeadTagBytes];
        k->seal(nonce, {}, buf, 0, tag);
        EXPECT_EQ(hex(tag, sizeof tag), "530f8afbc74536b9a963b4f1c4cb738b");
    }
}

// Every modification of what the tag covers must make open() fail, for every provider and suite, and a failed
// open must not disturb the key object (the EVP provider reuses one context per key).
TEST(AeadTamper, FlippedBitInCiphertextTagAdOrNonceIsRejected) {
    std::array<uint8_t, 32> key;
    randombytes_buf(key.data(), key.size());
    for (Provider p : kProviders) {
        for (Suite s : kSuites) {
            SCOPED_TRACE(label(p, s));
            auto k = aead_or_note(p, s, key);
            if (!k) continue;
            std::vector<uint8_t> plain(300);
            fill_random(plain);
            std::array<uint8_t, 24> ad;
            fill_random(ad);
            uint8_t nonce[kAeadNonceBytes];
            randombytes_buf(nonce, sizeof nonce);
            std::vector<uint8_t> sealed = plain;
            uint8_t tag[kAeadTagBytes];
            k->seal(nonce, ad, sealed.data(), sealed.size(), tag);
            EXPECT_NE(sealed, plain);

            for (std::size_t i : {std::size_t(0), std::size_t(17), sealed.size() - 1}) {
                std::vector<uint8_t> data = sealed;
                data[i] ^= 0x01;
                EXPECT_FALSE(k->open(nonce, ad, data.data(), data.size(), tag)) << "ciphertext byte " << i;
            }
            for (std::size_t i : {std::size_t(0), kAeadTagBytes - 1}) {
                std::vector<uint8_t> data = sealed;
                uint8_t bad_tag[kAeadTagBytes];
                std::memcpy(bad_tag, tag, sizeof tag);
                bad_tag[i] ^= 0x80;
                EXPECT_FALSE(k->open(nonce, ad, data.data(), data.size(), bad_tag)) << "tag byte " << i;
            }
            for (std::size_t i : {std::size_t(0), ad.size() - 1}) {
                std::vector<uint8_t> data = sealed;
                auto bad_ad = ad;
                bad_ad[i] ^= 0x04;
                EXPECT_FALSE(k->open(nonce, bad_ad, data.data(), data.size(), tag)) << "ad byte " << i;
            }
            {
                std::vector<uint8_t> data = sealed;
                EXPECT_FALSE(k->open(nonce, {}, data.data(), data.size(), tag)) << "ad dropped";
                data = sealed;
                EXPECT_FALSE(k->open(nonce, ad, data.data(), data.size() - 1, tag)) << "truncated";
                data = sealed;
                uint8_t bad_nonce[kAeadNonceBytes];
                std::memcpy(bad_nonce, nonce, sizeof nonce);
                bad_nonce[11] ^= 0x01;
                EXPECT_FALSE(k->open(bad_nonce, ad, data.data(), data.size(), tag)) << "nonce";
            }
            // After all those failures the same key object still opens the genuine cell.
            std::vector<uint8_t> data = sealed;
            ASSERT_TRUE(k->open(nonce, ad, data.data(), data.size(), tag));
            EXPECT_EQ(data, plain);
        }
    }
}

TEST(AeadTamper, WrongKeyIsRejected) {
    std::array<uint8_t, 32> key, other;
    randombytes_buf(key.data(), key.size());
    other = key;
    other[31] ^= 0x01;
    for (Provider p : kProviders) {
        for (Suite s : kSuites) {
            SCOPED_TRACE(label(p, s));
            auto k = aead_or_note(p, s, key);
            auto wrong = make_aead(p, s, other);
            if (!k || !wrong) continue;
            uint8_t nonce[kAeadNonceBytes] = {1};
            std::vector<uint8_t> data(64, 0x5a);
            uint8_t tag[kAeadTagBytes];
            k->seal(nonce, {}, data.data(), data.size(), tag);
            EXPECT_FALSE(wrong->open(nonce, {}, data.data(), data.size(), tag));
        }
    }
}

// Seal with one provider, open with the other, for both suites, at many lengths including block edges; the
// two providers' ciphertexts and tags are also compared directly. Buffers hold one byte more than is sealed: it
// keeps data() non-null at length 0 (libsodium declares it nonnull) and shows nothing is written past the end.
TEST(AeadInterop, ProvidersProduceIdenticalCellsAndOpenEachOther) {
    std::vector<std::size_t> lengths = {0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 1280, 4095, 4096};
    for (int i = 0; i < 120; ++i) lengths.push_back(randombytes_uniform(4097));
    for (Suite s : kSuites) {
        std::array<uint8_t, 32> key;
        randombytes_buf(key.data(), key.size());
        auto sodium = aead_or_note(Provider::kSodium, s, key);
        auto openssl = aead_or_note(Provider::kOpenSsl, s, key);
        if (!sodium || !openssl) continue;
        for (std::size_t len : lengths) {
            SCOPED_TRACE(label(Provider::kSodium, s) + " len " + std::to_string(len));
            std::vector<uint8_t> plain(len + 1);
            fill_random(plain);
            std::vector<uint8_t> ad(randombytes_uniform(65));
            fill_random(ad);
            uint8_t nonce[kAeadNonceBytes];
            randombytes_buf(nonce, sizeof nonce);

            std::vector<uint8_t> a = plain, b = plain;
            uint8_t tag_a[kAeadTagBytes], tag_b[kAeadTagBytes];
            sodium->seal(nonce, ad, a.data(), len, tag_a);
            openssl->seal(nonce, ad, b.data(), len, tag_b);
            ASSERT_EQ(a, b);
            ASSERT_EQ(0, std::memcmp(tag_a, tag_b, kAeadTagBytes));

            ASSERT_TRUE(openssl->open(nonce, ad, a.data(), len, tag_a));
            ASSERT_EQ(a, plain);
            ASSERT_TRUE(sodium->open(nonce, ad, b.data(), len, tag_b));
            ASSERT_EQ(b, plain);
        }
    }
}

TEST(AeadKey, SealIsInPlaceAndNonceSensitive) {
    std::array<uint8_t, 32> key;
    randombytes_buf(key.data(), key.size());
    for (Provider p : kProviders) {
        for (Suite s : kSuites) {
            SCOPED_TRACE(label(p, s));
            auto k = aead_or_note(p, s, key);
            if (!k) continue;
            uint8_t n1[kAeadNonceBytes] = {0};
            uint8_t n2[kAeadNonceBytes] = {0};
            n2[0] = 1;
            std::vector<uint8_t> a(100, 7), b(100, 7);
            uint8_t t1[kAeadTagBytes], t2[kAeadTagBytes];
            k->seal(n1, {}, a.data(), a.size(), t1);
            k->seal(n2, {}, b.data(), b.size(), t2);
            EXPECT_NE(a, b);
            EXPECT_NE(0, std::memcmp(t1, t2, kAeadTagBytes));
            // Same nonce again: same output (no hidden state carried between calls).
            std::vector<uint8_t> c(100, 7);
            uint8_t t3[kAeadTagBytes];
            k->seal(n1, {}, c.data(), c.size(), t3);
            EXPECT_EQ(a, c);
            EXPECT_EQ(0, std::memcmp(t1, t3, kAeadTagBytes));
        }
    }
}

// ---- ChaCha20 stream -------------------------------------------------------------------------------------

TEST(StreamKnownAnswer, Rfc8439AppendixA1Vector1CounterZero) {
    // Key 0, nonce 0, block counter 0: the first 64 bytes of keystream.
    const std::string expected =
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";
    const std::array<uint8_t, 32> key{};
    const uint8_t nonce[kStreamNonceBytes] = {};
    for (Provider p : kProviders) {
        SCOPED_TRACE(provider_name(p));
        auto k = make_stream(p, key);
        ASSERT_NE(k, nullptr);
        std::vector<uint8_t> data(64, 0);
        k->xor_stream(nonce, data.data(), data.size());
        EXPECT_EQ(hex(data), expected);
    }
}

TEST(StreamKnownAnswer, MatchesLibsodiumIetfCounterZeroAtManyLengths) {
    std::vector<std::size_t> lengths = {0, 1, 63, 64, 65, 127, 128, 129, 1280, 4096};
    for (int i = 0; i < 60; ++i) lengths.push_back(randombytes_uniform(4097));
    std::array<uint8_t, 32> key;
    randombytes_buf(key.data(), key.size());
    auto sodium = make_stream(Provider::kSodium, key);
    auto openssl = make_stream(Provider::kOpenSsl, key);
    ASSERT_TRUE(sodium && openssl);
    for (std::size_t len : lengths) {
        SCOPED_TRACE(len);
        uint8_t nonce[kStreamNonceBytes];
        randombytes_buf(nonce, sizeof nonce);
        std::vector<uint8_t> plain(len + 1);   // + 1: see AeadInterop
        fill_random(plain);
        std::vector<uint8_t> want = plain;
        crypto_stream_chacha20_ietf_xor_ic(want.data(), want.data(), len, nonce, 0, key.data());
        std::vector<uint8_t> a = plain, b = plain;
        sodium->xor_stream(nonce, a.data(), len);
        openssl->xor_stream(nonce, b.data(), len);
        ASSERT_EQ(a, want);
        ASSERT_EQ(b, want);
        // XOR twice with the same nonce restores the input.
        openssl->xor_stream(nonce, a.data(), len);
        sodium->xor_stream(nonce, b.data(), len);
        ASSERT_EQ(a, plain);
        ASSERT_EQ(b, plain);
    }
}

// Every call starts at block 0 of its nonce, whatever an earlier call on the same key object consumed (OpenSSL
// keeps a partial-block offset in its context; the provider must reset it).
TEST(StreamKey, EachCallStartsAtCounterZero) {
    std::array<uint8_t, 32> key;
    randombytes_buf(key.data(), key.size());
    uint8_t nonce[kStreamNonceBytes];
    randombytes_buf(nonce, sizeof nonce);
    for (Provider p : kProviders) {
        SCOPED_TRACE(provider_name(p));
        auto k = make_stream(p, key);
        std::vector<uint8_t> fresh(200, 0);
        k->xor_stream(nonce, fresh.data(), fresh.size());
        std::vector<uint8_t> partial(10, 0);
        k->xor_stream(nonce, partial.data(), partial.size());   // leaves 54 bytes of a block unused
        std::vector<uint8_t> again(200, 0);
        k->xor_stream(nonce, again.data(), again.size());
        EXPECT_EQ(again, fresh);
        EXPECT_TRUE(std::equal(partial.begin(), partial.end(), fresh.begin()));
    }
}

// ---- AES-256 block ---------------------------------------------------------------------------------------

TEST(BlockKnownAnswer, Fips197AppendixC3EncryptAndDecrypt) {
    const auto key = key_from(unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
    const auto plain = unhex("00112233445566778899aabbccddeeff");
    const std::string cipher = "8ea2b7ca516745bfeafc49904b496089";
    for (Provider p : kProviders) {
        SCOPED_TRACE(provider_name(p));
        auto k = make_block(p, key);
        ASSERT_NE(k, nullptr);
        uint8_t block[kBlockBytes];
        std::memcpy(block, plain.data(), kBlockBytes);
        k->encrypt(block);
        EXPECT_EQ(hex(block, kBlockBytes), cipher);
        k->decrypt(block);
        EXPECT_EQ(hex(block, kBlockBytes), hex(plain));
    }
}

TEST(BlockKey, DecryptInvertsEncryptOnRandomBlocks) {
    std::array<uint8_t, 32> key;
    randombytes_buf(key.data(), key.size());
    auto k = make_block(Provider::kOpenSsl, key);
    auto other = make_block(Provider::kSodium, key);
    for (int i = 0; i < 500; ++i) {
        uint8_t orig[kBlockBytes], block[kBlockBytes], copy[kBlockBytes];
        randombytes_buf(orig, sizeof orig);
        std::memcpy(block, orig, sizeof orig);
        k->encrypt(block);
        ASSERT_NE(0, std::memcmp(block, orig, kBlockBytes));
        std::memcpy(copy, orig, sizeof orig);
        other->encrypt(copy);
        ASSERT_EQ(0, std::memcmp(block, copy, kBlockBytes));
        k->decrypt(block);
        ASSERT_EQ(0, std::memcmp(block, orig, kBlockBytes));
    }
}

// ---- Provider selection ----------------------------------------------------------------------------------

TEST(ProviderNames, ParseAndPrint) {
    Provider p = Provider::kOpenSsl;
    EXPECT_TRUE(provider_from_name("sodium", &p));
    EXPECT_EQ(p, Provider::kSodium);
    EXPECT_TRUE(provider_from_name("openssl", &p));
    EXPECT_EQ(p, Provider::kOpenSsl);
    EXPECT_TRUE(provider_from_name("auto", &p));
    EXPECT_EQ(p, default_provider());
    EXPECT_FALSE(provider_from_name("rot13", &p));
    EXPECT_FALSE(provider_from_name("", &p));
    for (Provider q : kProviders) {
        Provider back{};
        ASSERT_TRUE(provider_from_name(provider_name(q), &back));
        EXPECT_EQ(back, q);
    }
}

TEST(ProviderNames, ChaChaPolyIsAvailableEverywhere) {
    for (Provider p : kProviders) EXPECT_TRUE(suite_available(p, Suite::kChaCha20Poly1305));
    EXPECT_TRUE(suite_available(Provider::kOpenSsl, Suite::kAes256Gcm));
    EXPECT_EQ(suite_available(Provider::kSodium, Suite::kAes256Gcm), crypto_aead_aes256gcm_is_available() == 1);
}

}  // namespace
}  // namespace voxa::crypto
