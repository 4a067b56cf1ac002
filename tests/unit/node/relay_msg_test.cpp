#include <gtest/gtest.h>

#include <vector>

#include "node/relay_msg.h"

namespace voxa::node {
namespace {

TEST(RelayMsg, RoundTripZeroFillsTheRest) {
    const std::size_t area = wire::relay_msg_bytes(wire::kCellBytesDefault);
    std::vector<uint8_t> buf(area, 0xee);
    const uint8_t data[3] = {1, 2, 3};
    ASSERT_TRUE(write_relay_msg(buf.data(), area, wire::RelayMsgType::kDone, 7, data));
    RelayMsgView v;
    ASSERT_TRUE(parse_relay_msg(buf.data(), area, &v));
    EXPECT_EQ(v.type, wire::RelayMsgType::kDone);
    EXPECT_EQ(v.flags, 7);
    ASSERT_EQ(v.data.size(), 3u);
    EXPECT_EQ(v.data[2], 3);
    for (std::size_t i = wire::kRelayMsgHeaderBytes + 3; i < area; ++i) ASSERT_EQ(buf[i], 0) << i;
}

TEST(RelayMsg, RejectsOverlongDataAndLengthAndUnknownType) {
    const std::size_t area = wire::relay_msg_bytes(wire::kCellBytesDefault);
    std::vector<uint8_t> buf(area, 0);
    std::vector<uint8_t> big(area, 1);
    EXPECT_FALSE(write_relay_msg(buf.data(), area, wire::RelayMsgType::kData, 0, big));
    buf[0] = uint8_t(wire::RelayMsgType::kData);
    buf[2] = 0xff;
    buf[3] = 0xff;   // length past the area
    RelayMsgView v;
    EXPECT_FALSE(parse_relay_msg(buf.data(), area, &v));
    buf[2] = buf[3] = 0;
    buf[0] = 200;
    EXPECT_FALSE(parse_relay_msg(buf.data(), area, &v));
}

TEST(RelayMsg, StatusRoundTripAndValidation) {
    MessageId id{};
    id[0] = 9;
    const StatusRange ranges[2] = {{0, 4}, {10, 10}};
    uint8_t buf[256];
    const std::size_t len = write_status(buf, id, 2, kStatusNeedManifest, 77, ranges);
    StatusView s;
    ASSERT_TRUE(parse_status(std::span<const uint8_t>(buf, len), &s));
    EXPECT_EQ(s.message_id, id);
    EXPECT_EQ(s.part, 2);
    EXPECT_EQ(s.flags, kStatusNeedManifest);
    EXPECT_EQ(s.highest, 77u);
    ASSERT_EQ(s.range_count(), 2u);
    EXPECT_EQ(s.range(1).first, 10u);
    EXPECT_FALSE(parse_status(std::span<const uint8_t>(buf, len - 1), &s));   // torn range list
    buf[kStatusHeaderBytes] = 5;   // first > last
    buf[kStatusHeaderBytes + 4] = 4;
    EXPECT_FALSE(parse_status(std::span<const uint8_t>(buf, len), &s));
}

}  // namespace
}  // namespace voxa::node
