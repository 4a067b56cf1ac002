// Splitting: the construction follows the spec bit for bit (checked against libsodium directly), any k of n parts
// rebuild the message, a corrupted part is detected by its digest, and fewer than k parts never decode.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "crypto/provider.h"
#include "split/blake2b_lanes.h"
#include "split/codec.h"
#include "split/splitter.h"
#include "support/test_support.h"

namespace voxa::split {
namespace {

using test::random_bytes;

MessageId random_id() {
    MessageId id;
    randombytes_buf(id.data(), id.size());
    return id;
}

SplitMessage must_split(std::span<const uint8_t> msg, SplitParams p,
                        crypto::Provider provider = crypto::default_provider()) {
    std::string error;
    auto sm = split_message(msg, p, random_id(), nullptr, provider, &error);
    EXPECT_TRUE(sm.has_value()) << error;
    return std::move(*sm);
}

// Parts listed in `keep` are present, all others missing.
std::vector<std::span<const uint8_t>> parts_of(const SplitMessage& sm, const std::vector<std::size_t>& keep) {
    std::vector<std::span<const uint8_t>> parts(sm.manifest().n);
    for (std::size_t i : keep) parts[i] = sm.part(i);
    return parts;
}

// A random subset of k of the n part indices, in random order.
std::vector<std::size_t> random_subset(std::size_t n, std::size_t k, std::mt19937_64& rng) {
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(k);
    return idx;
}

SplitParams random_params(std::mt19937_64& rng) {
    uint8_t const n = uint8_t(1 + rng() % 16);
    uint8_t const k = uint8_t(1 + rng() % n);
    return {k, n};
}

void expect_round_trip(std::size_t bytes, SplitParams p, std::mt19937_64& rng) {
    SCOPED_TRACE("bytes=" + std::to_string(bytes) + " k=" + std::to_string(p.k) + " n=" + std::to_string(p.n));
    auto const msg = random_bytes(bytes);
    SplitMessage const sm = must_split(msg, p);
    EXPECT_EQ(sm.manifest().part_bytes, part_bytes_for(bytes, p.k));
    auto const keep = random_subset(p.n, p.k, rng);
    auto const parts = parts_of(sm, keep);
    std::vector<uint8_t> out;
    ASSERT_TRUE(decode_message(sm.manifest(), parts, crypto::default_provider(), &out));
    ASSERT_EQ(out.size(), msg.size());
    EXPECT_TRUE(out == msg);
}

TEST(Split, RoundTripEdgeSizesAnyKOfN) {
    std::mt19937_64 rng(1);
    for (std::size_t bytes : {std::size_t(1), std::size_t(2), std::size_t(15), std::size_t(16), std::size_t(47),
                              std::size_t(48), std::size_t(63), std::size_t(64), std::size_t(65), std::size_t(1000),
                              std::size_t(4096)}) {
        for (int round = 0; round < 12; ++round) expect_round_trip(bytes, random_params(rng), rng);
    }
    // Every (k, n) at least once.
    for (uint8_t n = 1; n <= 16; ++n)
        for (uint8_t k = 1; k <= n; ++k) expect_round_trip(1 + rng() % 3000, {k, n}, rng);
}

TEST(Split, RoundTripMegabytes) {
    std::mt19937_64 rng(2);
    for (int round = 0; round < 6; ++round) expect_round_trip((1u << 20) + rng() % 65536, random_params(rng), rng);
    for (int round = 0; round < 3; ++round)
        expect_round_trip((1u << 20) + rng() % (7u << 20), random_params(rng), rng);
}

TEST(Split, DecodesFromMoreThanKPartsAndAllSubsets) {
    std::mt19937_64 rng(3);
    auto const msg = random_bytes(10'000);
    SplitMessage const sm = must_split(msg, {3, 6});
    // Every subset of the 6 parts: decodes iff it has at least 3 parts.
    for (unsigned mask = 0; mask < 64; ++mask) {
        std::vector<std::size_t> keep;
        for (std::size_t i = 0; i < 6; ++i)
            if (mask & (1u << i)) keep.push_back(i);
        std::vector<uint8_t> out;
        bool const ok = decode_message(sm.manifest(), parts_of(sm, keep), crypto::default_provider(), &out);
        EXPECT_EQ(ok, keep.size() >= 3) << "mask " << mask;
        if (ok) {
            EXPECT_TRUE(out == msg) << "mask " << mask;
        }
    }
}

TEST(Split, FewerThanKPartsFailAndLeaveOutputUntouched) {
    std::mt19937_64 rng(4);
    for (int round = 0; round < 20; ++round) {
        SplitParams p = random_params(rng);
        if (p.k == 1) p.k = 2, p.n = std::max<uint8_t>(p.n, 2);
        auto const msg = random_bytes(1 + rng() % 5000);
        SplitMessage const sm = must_split(msg, p);
        auto const keep = random_subset(p.n, p.k - 1, rng);
        std::vector<uint8_t> out = {1, 2, 3};
        EXPECT_FALSE(decode_message(sm.manifest(), parts_of(sm, keep), crypto::default_provider(), &out));
        EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 3}));
    }
}

TEST(Split, FlippedBitFailsItsDigestAndOthersStillDecode) {
    std::mt19937_64 rng(5);
    for (int round = 0; round < 30; ++round) {
        SplitParams p = random_params(rng);
        if (p.n == p.k) p.n = uint8_t(std::min(16, p.n + 1));
        if (p.n == p.k) p.k = uint8_t(p.k - 1);
        auto const msg = random_bytes(1 + rng() % 20000);
        SplitMessage const sm = must_split(msg, p);
        std::size_t const bad = rng() % p.n;
        std::vector<uint8_t> corrupt(sm.part(bad).begin(), sm.part(bad).end());
        std::size_t const bit = rng() % (corrupt.size() * 8);
        corrupt[bit / 8] ^= uint8_t(1u << (bit % 8));

        Inner inner;
        part_inner(corrupt, &inner);
        EXPECT_FALSE(inner_matches(sm.manifest(), bad, inner));
        part_inner(sm.part(bad), &inner);
        EXPECT_TRUE(inner_matches(sm.manifest(), bad, inner));

        // All n parts with the corrupted one in place: it is skipped and the others decode.
        std::vector<std::size_t> all(p.n);
        std::iota(all.begin(), all.end(), 0);
        auto parts = parts_of(sm, all);
        parts[bad] = corrupt;
        std::vector<uint8_t> out;
        ASSERT_TRUE(decode_message(sm.manifest(), parts, crypto::default_provider(), &out));
        EXPECT_TRUE(out == msg);

        // The corrupted part plus k-1 good ones is not enough.
        std::vector<std::size_t> keep;
        for (std::size_t i = 0; i < p.n && keep.size() < std::size_t(p.k - 1); ++i)
            if (i != bad) keep.push_back(i);
        auto few = parts_of(sm, keep);
        few[bad] = corrupt;
        std::vector<uint8_t> untouched = {9};
        EXPECT_FALSE(decode_message(sm.manifest(), few, crypto::default_provider(), &untouched));
        EXPECT_EQ(untouched, std::vector<uint8_t>{9});
    }
}

TEST(Split, WrongSizedPartIsNotUsed) {
    auto const msg = random_bytes(5000);
    SplitMessage const sm = must_split(msg, {2, 3});
    auto parts = parts_of(sm, {0, 1, 2});
    parts[0] = parts[0].first(parts[0].size() - 64);
    std::vector<uint8_t> out;
    ASSERT_TRUE(decode_message(sm.manifest(), parts, crypto::default_provider(), &out));
    EXPECT_TRUE(out == msg);
    parts[1] = {};
    EXPECT_FALSE(decode_message(sm.manifest(), parts, crypto::default_provider(), &out));
}

TEST(Split, WrongTailFailsTheCanary) {
    auto const msg = random_bytes(3000);
    SplitMessage const sm = must_split(msg, {3, 5});
    Manifest m = sm.manifest();
    m.tail[7] ^= 0x10;
    std::vector<uint8_t> out = {5};
    EXPECT_FALSE(decode_message(m, parts_of(sm, {0, 1, 2, 3, 4}), crypto::default_provider(), &out));
    EXPECT_EQ(out, std::vector<uint8_t>{5});
    // The same with rebuilt slices.
    EXPECT_FALSE(decode_message(m, parts_of(sm, {2, 3, 4}), crypto::default_provider(), &out));
    EXPECT_EQ(out, std::vector<uint8_t>{5});
}

// The construction, recomputed with libsodium only: digests, tail, ciphertext and the systematic layout.
TEST(Split, ConstructionMatchesSpecComputedWithLibsodium) {
    for (SplitParams p : {SplitParams{3, 5}, SplitParams{1, 1}, SplitParams{1, 4}, SplitParams{7, 16}}) {
        auto const msg = random_bytes(12345);
        MessageId const reply_to = random_id();
        std::string error;
        auto sm = split_message(msg, p, random_id(), &reply_to, crypto::Provider::kSodium, &error);
        ASSERT_TRUE(sm.has_value()) << error;
        Manifest const& m = sm->manifest();
        EXPECT_TRUE(m.is_reply());
        EXPECT_EQ(m.in_reply_to, reply_to);
        EXPECT_EQ(m.message_bytes, msg.size());
        EXPECT_EQ(m.part_bytes % 64, 0u);
        EXPECT_GE(std::size_t(m.part_bytes) * p.k, msg.size() + 16);
        EXPECT_LT(std::size_t(m.part_bytes - 64) * p.k, msg.size() + 16);

        auto personal = [](const char* s) {
            std::array<uint8_t, 16> out{};
            std::memcpy(out.data(), s, std::strlen(s));
            return out;
        };
        std::vector<std::array<uint8_t, 64>> inner(p.n);
        for (std::size_t i = 0; i < p.n; ++i) {
            crypto_generichash_blake2b_salt_personal(inner[i].data(), 64, sm->part(i).data(), sm->part(i).size(),
                                                     nullptr, 0, nullptr, personal("voxa.part").data());
            std::array<uint8_t, 32> digest;
            crypto_generichash_blake2b_salt_personal(digest.data(), 32, inner[i].data(), 64, nullptr, 0, nullptr,
                                                     personal("voxa.digest").data());
            EXPECT_EQ(digest, m.digest[i]) << "part " << i;
        }
        std::vector<uint8_t> tree;
        for (std::size_t i = 0; i < p.k; ++i) tree.insert(tree.end(), inner[i].begin(), inner[i].end());
        uint64_t const len = msg.size();
        for (int b = 0; b < 8; ++b) tree.push_back(uint8_t(len >> (8 * b)));
        std::array<uint8_t, 32> key;
        crypto_generichash_blake2b_salt_personal(key.data(), 32, tree.data(), tree.size(), nullptr, 0, nullptr,
                                                 personal("voxa.aont").data());
        for (std::size_t i = 0; i < 32; ++i) key[i] ^= m.tail[i];

        std::vector<uint8_t> c;
        for (std::size_t i = 0; i < p.k; ++i) c.insert(c.end(), sm->part(i).begin(), sm->part(i).end());
        uint8_t const nonce[12] = {};
        crypto_stream_chacha20_ietf_xor(c.data(), c.data(), msg.size() + 16, nonce, key.data());
        EXPECT_TRUE(std::equal(msg.begin(), msg.end(), c.begin()));
        EXPECT_TRUE(std::all_of(c.begin() + long(msg.size()), c.end(), [](uint8_t b) { return b == 0; }))
            << "canary and padding are zero";
    }
}

TEST(Split, ProvidersInteroperate) {
    auto const msg = random_bytes(70'000);
    for (auto enc : {crypto::Provider::kSodium, crypto::Provider::kOpenSsl}) {
        for (auto dec : {crypto::Provider::kSodium, crypto::Provider::kOpenSsl}) {
            SplitMessage const sm = must_split(msg, {3, 5}, enc);
            std::vector<uint8_t> out;
            ASSERT_TRUE(decode_message(sm.manifest(), parts_of(sm, {1, 3, 4}), dec, &out));
            EXPECT_TRUE(out == msg);
        }
    }
}

TEST(Split, SameMessageSplitsDifferentlyEachTime) {
    auto const msg = random_bytes(1000);
    SplitMessage const a = must_split(msg, {3, 5});
    SplitMessage const b = must_split(msg, {3, 5});
    EXPECT_FALSE(std::equal(a.part(0).begin(), a.part(0).end(), b.part(0).begin())) << "K must be fresh";
    EXPECT_FALSE(std::equal(msg.begin(), msg.begin() + 64, a.part(0).begin())) << "data slices are ciphertext";
}

TEST(Split, RejectsBadParameters) {
    auto const msg = random_bytes(100);
    std::string error;
    for (SplitParams p : {SplitParams{0, 5}, SplitParams{6, 5}, SplitParams{3, 17}, SplitParams{0, 0}}) {
        error.clear();
        EXPECT_FALSE(split_message(msg, p, random_id(), nullptr, crypto::default_provider(), &error).has_value());
        EXPECT_FALSE(error.empty());
    }
    error.clear();
    EXPECT_FALSE(split_message({}, {3, 5}, random_id(), nullptr, crypto::default_provider(), &error).has_value());
    EXPECT_FALSE(error.empty());
    std::vector<uint8_t> huge(wire::kMessageBytesMax + 1);
    error.clear();
    EXPECT_FALSE(split_message(huge, {3, 5}, random_id(), nullptr, crypto::default_provider(), &error).has_value());
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(split_message(msg, {0, 5}, random_id(), nullptr, crypto::default_provider(), nullptr).has_value());
}

// The multi-lane BLAKE2b is libsodium's BLAKE2b, bit for bit, for every lane count, length and output size.
TEST(Blake2bLanes, MatchesLibsodium) {
    std::mt19937_64 rng(7);
    std::array<uint8_t, 16> pers{};
    std::memcpy(pers.data(), "voxa.part", 9);
    for (std::size_t len : {std::size_t(1), std::size_t(64), std::size_t(127), std::size_t(128), std::size_t(129),
                            std::size_t(256), std::size_t(1000), std::size_t(16384 + 64), std::size_t(50000)}) {
        for (std::size_t lanes = 1; lanes <= 8; ++lanes) {
            std::size_t const out_bytes = lanes % 2 ? 64 : 32;
            std::vector<std::vector<uint8_t>> in(lanes);
            for (auto& v : in) v = random_bytes(len);
            std::vector<const uint8_t*> ptrs;
            for (auto& v : in) ptrs.push_back(v.data());
            Blake2bLanes h(lanes, out_bytes, "voxa.part");
            // Feed in uneven whole-block pieces, then the last 1..128 bytes.
            std::size_t const tail = len % 128 ? len % 128 : 128;
            std::size_t done = 0;
            while (done < len - tail) {
                std::size_t const step = std::min<std::size_t>(128 * (1 + rng() % 5), len - tail - done);
                std::vector<const uint8_t*> at;
                for (auto* p : ptrs) at.push_back(p + done);
                h.update(at.data(), step);
                done += step;
            }
            std::vector<const uint8_t*> at;
            for (auto* p : ptrs) at.push_back(p + done);
            std::vector<std::array<uint8_t, 64>> got(lanes);
            std::vector<uint8_t*> outs;
            for (auto& g : got) outs.push_back(g.data());
            h.final(at.data(), tail, outs.data());
            for (std::size_t i = 0; i < lanes; ++i) {
                std::array<uint8_t, 64> want{};
                crypto_generichash_blake2b_salt_personal(want.data(), out_bytes, in[i].data(), len, nullptr, 0,
                                                         nullptr, pers.data());
                EXPECT_EQ(0, std::memcmp(want.data(), got[i].data(), out_bytes))
                    << "len " << len << " lanes " << lanes << " lane " << i;
            }
        }
    }
    std::printf("vector path: %s\n", Blake2bLanes::vectorized() ? "avx512" : "fallback");
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define VOXA_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOXA_TEST_SANITIZED 1
#endif
#endif

TEST(Split, MaximumMessage64MiB) {
#ifdef VOXA_TEST_SANITIZED
    GTEST_SKIP() << "64 MiB is too slow under sanitizers; runs in release builds";
#endif
    std::mt19937_64 rng(6);
    std::vector<uint8_t> msg(wire::kMessageBytesMax);
    for (std::size_t i = 0; i < msg.size(); i += 8) {
        uint64_t const r = rng();
        std::memcpy(msg.data() + i, &r, 8);
    }
    SplitMessage const sm = must_split(msg, {3, 5});
    std::vector<uint8_t> out;
    ASSERT_TRUE(decode_message(sm.manifest(), parts_of(sm, {0, 3, 4}), crypto::default_provider(), &out));
    EXPECT_TRUE(out == msg);
}

}  // namespace
}  // namespace voxa::split
