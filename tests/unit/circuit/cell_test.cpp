#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "circuit/cell.h"
#include "voxa/wire.h"

namespace voxa::circuit {
namespace {

using wire::CellCmd;

constexpr CellCmd kAllCmds[] = {CellCmd::kCreate,        CellCmd::kCreated, CellCmd::kRelayForward,
                                CellCmd::kRelayBackward, CellCmd::kDestroy, CellCmd::kPadding, CellCmd::kDirectory};

std::vector<uint8_t> make_cell(std::size_t cell_bytes, uint32_t id, CellCmd cmd) {
    std::vector<uint8_t> cell(wire::cell_payload_bytes(cell_bytes), 0);
    write_cell_header(cell.data(), id, cmd);
    const bool handshake = cmd == CellCmd::kCreate || cmd == CellCmd::kCreated;
    // Handshake cells carry 64 bytes then zeros; others random bodies.
    randombytes_buf(cell.data() + wire::kCellHeaderBytes,
                    handshake ? kOnionskinBytes : cell.size() - wire::kCellHeaderBytes);
    return cell;
}

TEST(Cell, RoundTripEveryCommandAndSize) {
    for (std::size_t cell_bytes : {wire::kCellBytesMin, wire::kCellBytesDefault, wire::kCellBytesMax}) {
        for (CellCmd cmd : kAllCmds) {
            const uint32_t id = cmd == CellCmd::kDirectory ? 0 : 0x80000001u ^ uint32_t(cmd);   // link-level
            auto cell = make_cell(cell_bytes, id, cmd);
            CellView v{};
            ASSERT_EQ(parse_cell(cell.data(), cell.size(), cell_bytes, &v), Drop::kNone)
                << "cmd " << int(cmd) << " size " << cell_bytes;
            EXPECT_EQ(v.circ_id, id);
            EXPECT_EQ(v.cmd, cmd);
            EXPECT_EQ(v.body, cell.data() + wire::kCellHeaderBytes);
            EXPECT_EQ(v.body_len, cell_bytes - wire::kLinkOverheadBytes - wire::kCellHeaderBytes);
        }
    }
}

TEST(Cell, HeaderIsLittleEndianWithZeroReserved) {
    uint8_t cell[8];
    std::memset(cell, 0xee, sizeof cell);
    write_cell_header(cell, 0x01020304u, CellCmd::kRelayBackward);
    const uint8_t expect[8] = {0x04, 0x03, 0x02, 0x01, 4, 0, 0, 0};
    EXPECT_EQ(std::memcmp(cell, expect, 8), 0);
}

TEST(Cell, DefaultBodySizes) {
    // The RELAY body is nonce[16] + onion; the numbers the rest of the code relies on.
    EXPECT_EQ(wire::cell_payload_bytes(1280), 1248u);
    EXPECT_EQ(wire::onion_bytes(1280), 1224u);
    auto cell = make_cell(1280, 7, CellCmd::kRelayForward);
    CellView v{};
    ASSERT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kNone);
    EXPECT_EQ(v.body_len, wire::kCellNonceBytes + wire::onion_bytes(1280));
}

TEST(Cell, DropBadSize) {
    auto cell = make_cell(1280, 7, CellCmd::kRelayForward);
    cell.push_back(0);
    CellView v{};
    EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kBadSize);
    EXPECT_EQ(parse_cell(cell.data(), cell.size() - 2, 1280, &v), Drop::kBadSize);
    EXPECT_EQ(parse_cell(cell.data(), 0, 1280, &v), Drop::kBadSize);
    EXPECT_EQ(parse_cell(nullptr, cell.size() - 1, 1280, &v), Drop::kBadSize);
    // cell_bytes outside the protocol's range is refused even if len matches it.
    EXPECT_EQ(parse_cell(cell.data(), wire::cell_payload_bytes(511), 511, &v), Drop::kBadSize);
    std::vector<uint8_t> big(wire::cell_payload_bytes(8200));
    write_cell_header(big.data(), 7, CellCmd::kPadding);
    EXPECT_EQ(parse_cell(big.data(), big.size(), 8200, &v), Drop::kBadSize);
}

TEST(Cell, DropBadCmd) {
    for (int cmd : {0, 8, 9, 0x80, 255}) {
        auto cell = make_cell(1280, 7, CellCmd::kRelayForward);
        cell[4] = uint8_t(cmd);
        CellView v{};
        EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kBadCmd) << cmd;
    }
}

TEST(Cell, DropReservedNonZero) {
    for (int i = 5; i < 8; ++i) {
        auto cell = make_cell(1280, 7, CellCmd::kRelayForward);
        cell[std::size_t(i)] = 1;
        CellView v{};
        EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kReservedNonZero) << i;
    }
}

TEST(Cell, DropZeroCircuitIdExceptLinkLevelCells) {
    for (CellCmd cmd : kAllCmds) {
        auto cell = make_cell(1280, 0, cmd);
        CellView v{};
        const bool link_level = cmd == CellCmd::kPadding || cmd == CellCmd::kDirectory;
        EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), link_level ? Drop::kNone : Drop::kZeroCircuitId)
            << int(cmd);
    }
}

TEST(Cell, DirectoryCellsUseCircuitIdZeroOnly) {
    auto cell = make_cell(1280, 5, CellCmd::kDirectory);
    CellView v{};
    EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kZeroCircuitId);
}

TEST(Cell, DropHandshakeWithNonZeroPadding) {
    for (CellCmd cmd : {CellCmd::kCreate, CellCmd::kCreated}) {
        for (std::size_t at : {std::size_t(8 + 64), std::size_t(600), wire::cell_payload_bytes(1280) - 1}) {
            auto cell = make_cell(1280, 9, cmd);
            cell[at] = 0x10;
            CellView v{};
            EXPECT_EQ(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kBadOnionskin) << at;
        }
    }
    // RELAY bodies are random by design and not checked.
    auto relay = make_cell(1280, 9, CellCmd::kRelayBackward);
    relay.back() = 0xff;
    CellView v{};
    EXPECT_EQ(parse_cell(relay.data(), relay.size(), 1280, &v), Drop::kNone);
}

TEST(Cell, FailureLeavesOutputUntouched) {
    auto cell = make_cell(1280, 7, CellCmd::kRelayForward);
    cell[4] = 99;
    CellView v{1234, CellCmd::kDestroy, nullptr, 77};
    ASSERT_NE(parse_cell(cell.data(), cell.size(), 1280, &v), Drop::kNone);
    EXPECT_EQ(v.circ_id, 1234u);
    EXPECT_EQ(v.body_len, 77u);
}

TEST(Cell, EveryDropHasADistinctName) {
    std::vector<std::string_view> names;
    for (std::size_t i = 0; i < kDropCount; ++i) {
        const auto name = drop_name(Drop(i));
        EXPECT_NE(name, "unknown") << i;
        EXPECT_FALSE(name.empty());
        for (auto other : names) EXPECT_NE(name, other);
        names.push_back(name);
    }
    EXPECT_EQ(drop_name(Drop::kCount), "unknown");
    EXPECT_EQ(drop_name(Drop(200)), "unknown");
}

}  // namespace
}  // namespace voxa::circuit
