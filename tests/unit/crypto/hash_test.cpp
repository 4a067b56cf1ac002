// Tests for BLAKE2b hashing and key derivation (crypto/hash.h): a published vector, equality with plain
// libsodium BLAKE2b where the personalization is empty, domain separation, and the kdf construction pinned to an
// independent recomputation (nodes derive session keys with it, so it must never change silently).
#include "crypto/hash.h"
#include "crypto/provider.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>


namespace voxa::crypto {
namespace {


std::string hex(const uint8_t* data, std::size_t len) {
    std::string out(2 * len + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), data, len);
    out.pop_back();
    return out;
}
template <std::size_t N>
std::string hex(const std::array<uint8_t, N>& a) {
    return hex(a.data(), N);
}

Bytes text(std::string_view s) { return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

using test::random_bytes;

template <std::size_t N>
std::array<uint8_t, N> random_array() {
    std::array<uint8_t, N> a;
    randombytes_buf(a.data(), a.size());
    return a;
}

// BLAKE2b with libsodium directly: the reference the wrappers are checked against.
std::vector<uint8_t> reference_blake2b(std::size_t out_bytes, Bytes in, Bytes key, std::string_view personal) {
    std::vector<uint8_t> out(out_bytes);
    uint8_t pers[crypto_generichash_blake2b_PERSONALBYTES] = {};
    std::memcpy(pers, personal.data(), personal.size());
    EXPECT_EQ(0, crypto_generichash_blake2b_salt_personal(out.data(), out.size(), in.data(), in.size(),
                                                          key.empty() ? nullptr : key.data(), key.size(), nullptr,
                                                          pers));
    return out;
}

TEST(HashKnownAnswer, Blake2b512OfAbcRfc7693AppendixA) {
    std::array<uint8_t, 64> out;
    hash(out, "", {text("abc")});
    EXPECT_EQ(hex(out),
              "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
              "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

// An empty personalization is sixteen zero bytes in the parameter block, which is plain BLAKE2b: check against
// crypto_generichash (no personalization at all) for several output sizes, keyed and unkeyed.
TEST(Hash, EmptyPersonalizationEqualsPlainBlake2b) {
    for (std::size_t out_bytes : {16, 32, 48, 64}) {
        for (std::size_t len : {0, 1, 127, 128, 129, 1000}) {
            SCOPED_TRACE(std::to_string(out_bytes) + " bytes from " + std::to_string(len));
            const auto in = random_bytes(len);
            std::vector<uint8_t> want(out_bytes), got(out_bytes);
            ASSERT_EQ(0, crypto_generichash(want.data(), want.size(), in.data(), in.size(), nullptr, 0));
            hash(got, "", {in});
            EXPECT_EQ(got, want);

            const auto key = random_bytes(32);
            ASSERT_EQ(0, crypto_generichash(want.data(), want.size(), in.data(), in.size(), key.data(), key.size()));
            hash(got, "", {in}, key);
            EXPECT_EQ(got, want);
        }
    }
}

TEST(Hash, PersonalizationSeparatesDomains) {
    const auto in = random_bytes(64);
    std::array<uint8_t, 32> plain, a, b, full;
    hash(plain, "", {in});
    hash(a, "voxa.test.a", {in});
    hash(b, "voxa.test.b", {in});
    hash(full, "0123456789abcdef", {in});   // exactly 16 characters: the maximum
    EXPECT_NE(plain, a);
    EXPECT_NE(a, b);
    EXPECT_NE(full, plain);
    EXPECT_EQ(hex(a.data(), a.size()),
              hex(reference_blake2b(32, in, {}, "voxa.test.a").data(), 32));
    EXPECT_EQ(hex(full.data(), full.size()),
              hex(reference_blake2b(32, in, {}, "0123456789abcdef").data(), 32));
}

// hash() over several parts is BLAKE2b of their concatenation, and equals the streaming Hasher fed in any split.
TEST(Hash, PartsAreConcatenatedAndHasherAgrees) {
    const auto in = random_bytes(3000);
    const auto key = random_bytes(64);
    std::array<uint8_t, 64> whole, parts, streamed;
    hash(whole, "voxa.parts", {in}, key);
    hash(parts, "voxa.parts", {Bytes(in).first(1), Bytes(in).subspan(1, 999), Bytes(in).subspan(1000)}, key);
    EXPECT_EQ(whole, parts);

    Hasher h(64, "voxa.parts", key);
    std::size_t at = 0;
    while (at < in.size()) {
        std::size_t n = std::min<std::size_t>(randombytes_uniform(300), in.size() - at);
        h.update(Bytes(in).subspan(at, n));
        at += n;
    }
    h.final(streamed);
    EXPECT_EQ(whole, streamed);
    EXPECT_EQ(hex(whole), hex(reference_blake2b(64, in, key, "voxa.parts").data(), 64));
}

TEST(Hash, KeyChangesTheOutput) {
    const auto in = random_bytes(100);
    auto key = random_array<32>();
    std::array<uint8_t, 32> a, b, unkeyed;
    hash(a, "voxa.mac", {in}, key);
    key[0] ^= 1;
    hash(b, "voxa.mac", {in}, key);
    hash(unkeyed, "voxa.mac", {in});
    EXPECT_NE(a, b);
    EXPECT_NE(a, unkeyed);
}

TEST(HashDeathTest, PersonalizationLongerThan16IsABug) {
    std::array<uint8_t, 32> out;
    EXPECT_DEATH(hash(out, "seventeen-chars-x", {text("abc")}), "invariant broken");
}

// ---- kdf -------------------------------------------------------------------------------------------------

TEST(Kdf, IsDeterministic) {
    const auto ikm = random_bytes(32);
    const auto salt = random_bytes(32);
    std::array<uint8_t, 32> a1, a2, b1, b2;
    kdf({a1, a2}, "voxa.link.keys", ikm, salt);
    kdf({b1, b2}, "voxa.link.keys", ikm, salt);
    EXPECT_EQ(a1, b1);
    EXPECT_EQ(a2, b2);
}

TEST(Kdf, OutputsOfOneCallDifferFromEachOther) {
    const auto ikm = random_bytes(32);
    std::array<std::array<uint8_t, 32>, 8> out;
    kdf({out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]}, "voxa.many", ikm);
    for (std::size_t i = 0; i < out.size(); ++i) {
        for (std::size_t j = i + 1; j < out.size(); ++j) EXPECT_NE(out[i], out[j]) << i << " vs " << j;
        EXPECT_NE(out[i], (std::array<uint8_t, 32>{})) << i;
    }
}

TEST(Kdf, LabelsIkmAndSaltSeparateKeys) {
    const auto ikm = random_array<32>();
    const auto salt = random_array<32>();
    std::array<uint8_t, 32> base, other_label, other_ikm, other_salt, no_salt;
    kdf({base}, "voxa.label.a", ikm, salt);
    kdf({other_label}, "voxa.label.b", ikm, salt);
    auto ikm2 = ikm;
    ikm2[31] ^= 1;
    kdf({other_ikm}, "voxa.label.a", ikm2, salt);
    auto salt2 = salt;
    salt2[0] ^= 1;
    kdf({other_salt}, "voxa.label.a", ikm, salt2);
    kdf({no_salt}, "voxa.label.a", ikm);
    EXPECT_NE(base, other_label);
    EXPECT_NE(base, other_ikm);
    EXPECT_NE(base, other_salt);
    EXPECT_NE(base, no_salt);
}

// The i-th output depends only on its index, not on how many were asked for.
TEST(Kdf, OutputIDoesNotDependOnCount) {
    const auto ikm = random_bytes(48);
    std::array<uint8_t, 32> one, first, second, third;
    kdf({one}, "voxa.prefix", ikm);
    kdf({first, second, third}, "voxa.prefix", ikm);
    EXPECT_EQ(one, first);
}

// Pins the construction as implemented: prk = BLAKE2b-256(key = salt, personal = "voxa.kdf.extract", ikm);
// out_i = BLAKE2b-256(key = prk, personal = label, [i]) for i = 1, 2, ...
TEST(Kdf, MatchesIndependentRecomputation) {
    const auto ikm = random_bytes(32);
    const auto salt = random_bytes(32);
    std::array<uint8_t, 32> k1, k2;
    kdf({k1, k2}, "voxa.check", ikm, salt);

    const auto prk = reference_blake2b(32, ikm, salt, "voxa.kdf.extract");
    const uint8_t one = 1, two = 2;
    EXPECT_EQ(hex(k1), hex(reference_blake2b(32, Bytes(&one, 1), prk, "voxa.check").data(), 32));
    EXPECT_EQ(hex(k2), hex(reference_blake2b(32, Bytes(&two, 1), prk, "voxa.check").data(), 32));

    std::array<uint8_t, 32> unsalted;
    kdf({unsalted}, "voxa.check", ikm);
    const auto prk0 = reference_blake2b(32, ikm, {}, "voxa.kdf.extract");
    EXPECT_EQ(hex(unsalted), hex(reference_blake2b(32, Bytes(&one, 1), prk0, "voxa.check").data(), 32));
}

}  // namespace
}  // namespace voxa::crypto
