// Checksums: RFC 1071's worked example, a real IPv4 header, the fast sum against the byte-wise reference at every
// length and alignment, partial sums, the UDP zero rule, and a property test of RFC 1624 incremental updates.
#include <gtest/gtest.h>
#include <sodium.h>

#include <vector>

#include "netstack/checksum.h"
#include "support/test_support.h"

namespace voxa::netstack {
namespace {

TEST(Checksum, Rfc1071Example) {
    // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is its complement.
    const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(fold(sum(bytes)), 0xddf2);
    EXPECT_EQ(checksum(bytes), 0x220d);
    EXPECT_EQ(checksum_bytewise(bytes), 0x220d);
}

TEST(Checksum, KnownIpv4Header) {
    // 192.168.0.1 -> 192.168.0.199, total length 115, DF, TTL 64, UDP: checksum b861.
    uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_TRUE(ipv4_header_ok(h));
    h[10] = h[11] = 0;
    EXPECT_EQ(ipv4_header_checksum(h), 0xb861);
    EXPECT_FALSE(ipv4_header_ok(h));
    h[10] = 0xb8;
    h[11] = 0x62;
    EXPECT_FALSE(ipv4_header_ok(h));
}

TEST(Checksum, OddLengthPadsWithZero) {
    const uint8_t odd[] = {0x12, 0x34, 0x56};
    const uint8_t even[] = {0x12, 0x34, 0x56, 0x00};
    EXPECT_EQ(checksum(odd), checksum(even));
    EXPECT_EQ(checksum(odd), uint16_t(~(0x1234 + 0x5600)));
    EXPECT_EQ(checksum({odd, 0}), 0xFFFF);
}

TEST(Checksum, FastEqualsBytewiseAtEveryLengthAndAlignment) {
    auto const data = test::random_bytes(1600);
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t len = 0; len + offset <= 1600; len += (len < 300 ? 1 : 37)) {
            std::span<const uint8_t> s{data.data() + offset, len};
            ASSERT_EQ(checksum(s), checksum_bytewise(s)) << "offset " << offset << " len " << len;
        }
    }
    // All ones and all zeros: the sums that carry most and least.
    std::vector<uint8_t> ones(1500, 0xFF);
    std::vector<uint8_t> zeros(1500, 0);
    EXPECT_EQ(checksum(ones), checksum_bytewise(ones));
    EXPECT_EQ(checksum(zeros), 0xFFFF);
}

TEST(Checksum, PartialSumsCombine) {
    auto const data = test::random_bytes(999);
    for (int round = 0; round < 200; ++round) {
        std::size_t const cut = 2 * randombytes_uniform(499);   // even split point
        uint64_t const a = sum({data.data(), cut});
        uint64_t const b = sum({data.data() + cut, data.size() - cut});
        ASSERT_EQ(fold(sum_add(a, b)), fold(sum(data)));
        ASSERT_EQ(fold(sum({data.data() + cut, data.size() - cut}, a)), fold(sum(data)));
    }
}

TEST(Checksum, UdpZeroIsSentAsAllOnes) {
    const uint8_t src[4] = {10, 0, 0, 1};
    const uint8_t dst[4] = {10, 0, 0, 2};
    std::vector<uint8_t> udp = {0x9c, 0x40, 0xca, 0x6c, 0x00, 0x0c, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00};
    uint16_t const c = udp_checksum_v4(src, dst, udp);
    ASSERT_NE(c, 0xFFFF);
    // Put the checksum value in the last payload word: the data now sums to 0xFFFF, the checksum to 0.
    store_be16(udp.data() + 10, c);
    EXPECT_EQ(udp_checksum_v4(src, dst, udp), 0xFFFF);
    EXPECT_EQ(uint16_t(~fold(sum(udp, pseudo_sum_v4(src, dst, 17, uint16_t(udp.size()))))), 0);
}

TEST(Checksum, PseudoHeaderV6MatchesExplicitBytes) {
    auto const a = test::random_bytes(32);
    auto const payload = test::random_bytes(41);
    std::vector<uint8_t> explicit_bytes(a);
    const uint8_t tail[8] = {0, 0, 0, 41, 0, 0, 0, 17};
    explicit_bytes.insert(explicit_bytes.end(), tail, tail + 8);
    explicit_bytes.insert(explicit_bytes.end(), payload.begin(), payload.end());
    uint16_t c = checksum_bytewise(explicit_bytes);
    if (c == 0) c = 0xFFFF;
    EXPECT_EQ(udp_checksum_v6(a.data(), a.data() + 16, payload), c);
}

// RFC 1624: changing words and updating the checksum incrementally gives the checksum computed from scratch.
TEST(Checksum, IncrementalUpdateProperty) {
    auto data = test::random_bytes(64);
    uint16_t check = checksum(data);
    for (int round = 0; round < 20000; ++round) {
        uint32_t const kind = randombytes_uniform(3);
        if (kind == 0) {
            std::size_t const at = 2 * randombytes_uniform(32);
            uint16_t const old_word = load_be16(&data[at]);
            // Now and then a word becomes 0 or 0xFFFF, or stays the same: the edge cases of one's complement.
            uint16_t const new_word = round % 7 == 0 ? 0 : round % 11 == 0 ? 0xFFFF : round % 13 == 0
                                        ? old_word : uint16_t(randombytes_random());
            store_be16(&data[at], new_word);
            check = update16(check, old_word, new_word);
        } else if (kind == 1) {
            std::size_t const at = 4 * randombytes_uniform(16);
            uint32_t const old_word = load_be32(&data[at]);
            uint32_t const new_word = randombytes_random();
            for (int i = 0; i < 4; ++i) data[at + i] = uint8_t(new_word >> (24 - 8 * i));
            check = update32(check, old_word, new_word);
        } else {
            std::size_t const at = 2 * randombytes_uniform(25);
            std::vector<uint8_t> const old_bytes(data.begin() + long(at), data.begin() + long(at) + 16);
            auto const new_bytes = test::random_bytes(16);
            std::copy(new_bytes.begin(), new_bytes.end(), data.begin() + long(at));
            check = update_bytes(check, old_bytes, new_bytes);
        }
        ASSERT_EQ(check, checksum(data)) << "round " << round << " kind " << kind;
    }
    // The one documented difference: data that becomes all zero. The full computation gives 0xFFFF, the update
    // the other zero, 0x0000. A real header never gets there (its version nibble is not zero).
    std::vector<uint8_t> const two = {0x00, 0x05};
    EXPECT_EQ(update16(checksum(two), 0x0005, 0x0000), 0x0000);
    EXPECT_EQ(checksum(std::vector<uint8_t>{0x00, 0x00}), 0xFFFF);
}

}  // namespace
}  // namespace voxa::netstack
