// The parser: exact sizes per type, reserved bytes, and views at the documented offsets.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "link/packet.h"

namespace voxa::link {
namespace {

std::vector<uint8_t> packet(wire::LinkType t, std::size_t len) {
    std::vector<uint8_t> d(len, 0xab);
    d[0] = uint8_t(t);
    d[1] = d[2] = d[3] = 0;
    return d;
}

TEST(LinkPacket, Sizes) {
    EXPECT_EQ(kInitiationBytes, 152u);
    EXPECT_EQ(kResponseBytes, 96u);
    EXPECT_EQ(kCookieReplyBytes, 64u);
    EXPECT_EQ(kTransportMinBytes, 32u);
}

TEST(LinkPacket, ParsesEveryType) {
    LinkPacketView v;
    auto init = packet(wire::LinkType::kInitiation, kInitiationBytes);
    store_u32(init.data() + 4, 0x11223344);
    ASSERT_EQ(parse_link_packet(init, &v), Drop::kNone);
    EXPECT_EQ(v.type, wire::LinkType::kInitiation);
    EXPECT_EQ(v.sender, 0x11223344u);
    EXPECT_EQ(v.mac1, init.data() + 120);
    EXPECT_EQ(v.mac2, init.data() + 136);

    auto resp = packet(wire::LinkType::kResponse, kResponseBytes);
    store_u32(resp.data() + 4, 7);
    store_u32(resp.data() + 8, 9);
    ASSERT_EQ(parse_link_packet(resp, &v), Drop::kNone);
    EXPECT_EQ(v.sender, 7u);
    EXPECT_EQ(v.receiver, 9u);
    EXPECT_EQ(v.mac2, resp.data() + 80);

    auto cookie = packet(wire::LinkType::kCookieReply, kCookieReplyBytes);
    store_u32(cookie.data() + 4, 5);
    ASSERT_EQ(parse_link_packet(cookie, &v), Drop::kNone);
    EXPECT_EQ(v.receiver, 5u);
    EXPECT_EQ(v.nonce, cookie.data() + 8);

    auto tr = packet(wire::LinkType::kTransport, 1280);
    store_u32(tr.data() + 4, 3);
    store_u64(tr.data() + 8, 0x0102030405060708ull);
    ASSERT_EQ(parse_link_packet(tr, &v), Drop::kNone);
    EXPECT_EQ(v.receiver, 3u);
    EXPECT_EQ(v.counter, 0x0102030405060708ull);
    EXPECT_EQ(v.payload_len, 1248u);
    EXPECT_EQ(v.tag, tr.data() + 1264);

    auto keepalive = packet(wire::LinkType::kTransport, 32);
    ASSERT_EQ(parse_link_packet(keepalive, &v), Drop::kNone);
    EXPECT_EQ(v.payload_len, 0u);
}

TEST(LinkPacket, RejectsMalformed) {
    LinkPacketView v;
    uint8_t tiny[3] = {4, 0, 0};
    EXPECT_EQ(parse_link_packet(std::span<const uint8_t>(tiny, 0), &v), Drop::kShort);
    EXPECT_EQ(parse_link_packet(tiny, &v), Drop::kShort);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType(0), 64), &v), Drop::kBadType);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType(5), 64), &v), Drop::kBadType);
    auto rsv = packet(wire::LinkType::kTransport, 64);
    rsv[2] = 1;
    EXPECT_EQ(parse_link_packet(rsv, &v), Drop::kBadType);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kInitiation, kInitiationBytes - 1), &v), Drop::kBadSize);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kInitiation, kInitiationBytes + 1), &v), Drop::kBadSize);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kResponse, kResponseBytes + 1), &v), Drop::kBadSize);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kCookieReply, kCookieReplyBytes - 1), &v), Drop::kBadSize);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kTransport, 31), &v), Drop::kBadSize);
    EXPECT_EQ(parse_link_packet(packet(wire::LinkType::kTransport, kTransportMaxBytes + 1), &v), Drop::kBadSize);
}

TEST(LinkPacket, DropNamesDistinct) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < std::size_t(Drop::kCount); ++i) {
        std::string_view n = drop_name(Drop(i));
        EXPECT_NE(n, "unknown") << i;
        names.insert(std::string(n));
    }
    EXPECT_EQ(names.size(), std::size_t(Drop::kCount));
}

}  // namespace
}  // namespace voxa::link
