// Manifest wire format (round trip, exact layout, every rejection) and fragment framing.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "split/fragment.h"
#include "split/manifest.h"

namespace voxa::split {
namespace {

Manifest sample(uint8_t k, uint8_t n, uint64_t message_bytes) {
    Manifest m;
    m.flags = kManifestFlagReply;
    m.k = k;
    m.n = n;
    randombytes_buf(m.message_id.data(), 16);
    randombytes_buf(m.in_reply_to.data(), 16);
    m.message_bytes = message_bytes;
    m.part_bytes = part_bytes_for(message_bytes, k);
    randombytes_buf(m.tail.data(), 32);
    for (std::size_t i = 0; i < n; ++i) randombytes_buf(m.digest[i].data(), 32);
    return m;
}

std::vector<uint8_t> encoded(const Manifest& m) {
    std::vector<uint8_t> out(manifest_wire_bytes(m.n));
    EXPECT_EQ(encode_manifest(m, out), out.size());
    return out;
}

ManifestDrop parse(const std::vector<uint8_t>& bytes, Manifest* out = nullptr, std::size_t max = wire::kMessageBytesMax) {
    Manifest scratch;
    return parse_manifest(bytes, max, out ? out : &scratch);
}

TEST(Manifest, PartBytesRule) {
    EXPECT_EQ(part_bytes_for(1, 1), 64u);
    EXPECT_EQ(part_bytes_for(48, 1), 64u);
    EXPECT_EQ(part_bytes_for(49, 1), 128u);
    EXPECT_EQ(part_bytes_for(1, 3), 64u);
    EXPECT_EQ(part_bytes_for(3 * 64 - 16, 3), 64u);
    EXPECT_EQ(part_bytes_for(3 * 64 - 15, 3), 128u);
    EXPECT_EQ(part_bytes_for(wire::kMessageBytesMax, 1), (64u << 20) + 64);
    EXPECT_EQ(part_bytes_for(wire::kMessageBytesMax, 3), 22369664u);   // ceil((2^26+16)/3) = 22369627 -> x64
    EXPECT_EQ(part_bytes_for(100, 0), 0u);
    for (uint64_t bytes = 1; bytes < 5000; bytes += 7) {
        for (uint8_t k = 1; k <= 16; ++k) {
            uint32_t const pb = part_bytes_for(bytes, k);
            ASSERT_EQ(pb % 64, 0u);
            ASSERT_GE(uint64_t(pb) * k, bytes + 16);
            ASSERT_LT(uint64_t(pb - 64) * k, bytes + 16) << "smallest multiple of 64";
        }
    }
}

TEST(Manifest, RoundTripAndLayout) {
    for (uint8_t n = 1; n <= 16; ++n) {
        for (uint8_t k = 1; k <= n; ++k) {
            Manifest const m = sample(k, n, 1 + 1000u * n + k);
            auto const bytes = encoded(m);
            ASSERT_EQ(bytes.size(), 88u + 32u * n);
            Manifest back;
            ASSERT_EQ(parse(bytes, &back), ManifestDrop::kNone);
            EXPECT_EQ(back.version, 1);
            EXPECT_EQ(back.flags, m.flags);
            EXPECT_TRUE(back.is_reply());
            EXPECT_EQ(back.k, k);
            EXPECT_EQ(back.n, n);
            EXPECT_EQ(back.message_id, m.message_id);
            EXPECT_EQ(back.in_reply_to, m.in_reply_to);
            EXPECT_EQ(back.message_bytes, m.message_bytes);
            EXPECT_EQ(back.part_bytes, m.part_bytes);
            EXPECT_EQ(back.tail, m.tail);
            for (std::size_t i = 0; i < 16; ++i) {
                if (i < n) {
                    EXPECT_EQ(back.digest[i], m.digest[i]);
                } else {
                    EXPECT_EQ(back.digest[i], (std::array<uint8_t, 32>{}));
                }
            }
            EXPECT_EQ(encoded(back), bytes);
        }
    }
    // Byte offsets, as docs/PROTOCOL.md lists them.
    Manifest const m = sample(3, 5, 123456);
    auto const b = encoded(m);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(b[1], 1);
    EXPECT_EQ(b[2], 3);
    EXPECT_EQ(b[3], 5);
    EXPECT_EQ(load_u32(&b[4]), 0u);
    EXPECT_EQ(0, std::memcmp(&b[8], m.message_id.data(), 16));
    EXPECT_EQ(0, std::memcmp(&b[24], m.in_reply_to.data(), 16));
    EXPECT_EQ(load_u64(&b[40]), 123456u);
    EXPECT_EQ(load_u32(&b[48]), m.part_bytes);
    EXPECT_EQ(load_u32(&b[52]), 0u);
    EXPECT_EQ(0, std::memcmp(&b[56], m.tail.data(), 32));
    EXPECT_EQ(0, std::memcmp(&b[88 + 32 * 4], m.digest[4].data(), 32));
}

TEST(Manifest, EncodeIntoShortBufferWritesNothing) {
    Manifest const m = sample(3, 5, 1000);
    std::vector<uint8_t> out(manifest_wire_bytes(5) - 1, 0xee);
    EXPECT_EQ(encode_manifest(m, out), 0u);
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t x) { return x == 0xee; }));
}

TEST(Manifest, RejectsEveryMalformedField) {
    Manifest const m = sample(3, 5, 100000);
    auto const good = encoded(m);
    ASSERT_EQ(parse(good), ManifestDrop::kNone);
    auto with = [&](auto edit) {
        auto b = good;
        edit(b);
        return parse(b);
    };
    EXPECT_EQ(parse({}), ManifestDrop::kBadSize);
    EXPECT_EQ(with([](auto& b) { b.resize(87); }), ManifestDrop::kBadSize);
    EXPECT_EQ(with([](auto& b) { b.pop_back(); }), ManifestDrop::kBadSize);
    EXPECT_EQ(with([](auto& b) { b.push_back(0); }), ManifestDrop::kBadSize);
    EXPECT_EQ(with([](auto& b) { b[3] = 4; }), ManifestDrop::kBadSize) << "n says 4 digests, 5 present";
    EXPECT_EQ(with([](auto& b) { b[0] = 0; }), ManifestDrop::kBadVersion);
    EXPECT_EQ(with([](auto& b) { b[0] = 2; }), ManifestDrop::kBadVersion);
    EXPECT_EQ(with([](auto& b) { b[2] = 0; }), ManifestDrop::kBadCounts);
    EXPECT_EQ(with([](auto& b) { b[2] = 6; }), ManifestDrop::kBadCounts);
    EXPECT_EQ(with([](auto& b) { b[3] = 17, b[2] = 3, b.resize(88 + 32 * 17); }), ManifestDrop::kBadCounts);
    EXPECT_EQ(with([](auto& b) { b[3] = 0; }), ManifestDrop::kBadCounts);
    for (std::size_t off : {4, 5, 6, 7, 52, 53, 54, 55}) {
        EXPECT_EQ(with([&](auto& b) { b[off] = 1; }), ManifestDrop::kReservedNonZero) << off;
    }
    EXPECT_EQ(with([](auto& b) { store_u64(&b[40], 0); }), ManifestDrop::kBadMessageBytes);
    EXPECT_EQ(with([](auto& b) { store_u64(&b[40], wire::kMessageBytesMax + 1); }), ManifestDrop::kBadMessageBytes);
    EXPECT_EQ(with([](auto& b) { store_u64(&b[40], ~uint64_t(0)); }), ManifestDrop::kBadMessageBytes);
    EXPECT_EQ(parse(good, nullptr, 99999), ManifestDrop::kBadMessageBytes) << "configured max";
    EXPECT_EQ(parse(good, nullptr, 100000), ManifestDrop::kNone);
    EXPECT_EQ(with([&](auto& b) { store_u32(&b[48], m.part_bytes + 64); }), ManifestDrop::kBadPartBytes);
    EXPECT_EQ(with([&](auto& b) { store_u32(&b[48], m.part_bytes - 64); }), ManifestDrop::kBadPartBytes);
    EXPECT_EQ(with([&](auto& b) { store_u32(&b[48], m.part_bytes + 1); }), ManifestDrop::kBadPartBytes);
    EXPECT_EQ(with([](auto& b) { store_u32(&b[48], 0); }), ManifestDrop::kBadPartBytes);
    // Fields without rules: flags, ids, tail, digests.
    EXPECT_EQ(with([](auto& b) { b[1] = 0; }), ManifestDrop::kNone);
    EXPECT_EQ(with([](auto& b) { b[100] ^= 1; }), ManifestDrop::kNone);
}

TEST(Fragment, CountsAndLengths) {
    EXPECT_EQ(wire::fragment_data_bytes(1280), 1180u);
    EXPECT_EQ(fragments_in_part(64, 1280), 1u);
    EXPECT_EQ(fragments_in_part(1180, 1280), 1u);
    EXPECT_EQ(fragments_in_part(1181, 1280), 2u);
    EXPECT_EQ(fragments_in_part(1180 * 7, 1280), 7u);
    EXPECT_EQ(fragment_bytes(1181, 0, 1280), 1180u);
    EXPECT_EQ(fragment_bytes(1181, 1, 1280), 1u);
    EXPECT_EQ(fragment_bytes(1181, 2, 1280), 0u);
}

TEST(Fragment, WriteParseCoversThePartExactly) {
    for (std::size_t cell : {std::size_t(512), std::size_t(1280), std::size_t(8192)}) {
        for (uint32_t part_bytes : {64u, 1152u, 1216u, 4096u, 65536u}) {
            std::vector<uint8_t> part(part_bytes);
            randombytes_buf(part.data(), part.size());
            MessageId id;
            randombytes_buf(id.data(), 16);
            std::vector<uint8_t> rebuilt;
            std::vector<uint8_t> cellbuf(wire::relay_data_bytes(cell));
            std::size_t const count = fragments_in_part(part_bytes, cell);
            for (uint32_t f = 0; f < count; ++f) {
                std::size_t const len = write_fragment(id, 7, f, part, cell, cellbuf.data());
                ASSERT_LE(len, cellbuf.size());
                ASSERT_EQ(len, wire::kFragmentHeaderBytes + fragment_bytes(part_bytes, f, cell));
                FragmentView v;
                ASSERT_EQ(parse_fragment(std::span(cellbuf.data(), len), &v), FragmentDrop::kNone);
                EXPECT_EQ(v.message_id, id);
                EXPECT_EQ(v.part, 7);
                EXPECT_EQ(v.fragment, f);
                rebuilt.insert(rebuilt.end(), v.bytes.begin(), v.bytes.end());
            }
            EXPECT_EQ(rebuilt, part);
        }
    }
}

TEST(Fragment, ParseRejects) {
    std::vector<uint8_t> data(40, 0);
    FragmentView v;
    EXPECT_EQ(parse_fragment({}, &v), FragmentDrop::kShort);
    EXPECT_EQ(parse_fragment(std::span(data.data(), 24), &v), FragmentDrop::kShort) << "header only";
    EXPECT_EQ(parse_fragment(std::span(data.data(), 25), &v), FragmentDrop::kNone);
    data[17] = 1;
    EXPECT_EQ(parse_fragment(data, &v), FragmentDrop::kReservedNonZero);
    data[17] = 0;
    data[19] = 1;
    EXPECT_EQ(parse_fragment(data, &v), FragmentDrop::kReservedNonZero);
    data[19] = 0;
    store_u32(&data[20], 0xdeadbeef);
    data[16] = 200;
    ASSERT_EQ(parse_fragment(data, &v), FragmentDrop::kNone);
    EXPECT_EQ(v.fragment, 0xdeadbeefu);
    EXPECT_EQ(v.part, 200);
    EXPECT_EQ(v.bytes.size(), 16u);
}

}  // namespace
}  // namespace voxa::split
