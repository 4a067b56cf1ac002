// Commands and events: every type round-trips byte-exactly, every malformed body is refused with its reason, and
// the decoder never reads beyond the body (exact-size buffers, so ASan would see it).
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "shm/messages.h"
#include "support/test_support.h"

namespace voxa::shm {
namespace {

std::vector<uint8_t> enc_cmd(const Command& c) {
    std::vector<uint8_t> b(4096);
    b.resize(encode_command(c, b));
    return b;
}
std::vector<uint8_t> enc_evt(const Event& e) {
    std::vector<uint8_t> b(4096);
    b.resize(encode_event(e, b));
    return b;
}
DecodeError dec_cmd(MsgType t, const std::vector<uint8_t>& b) {
    std::vector<uint8_t> exact(b);   // exact size: a read past the end is an ASan error
    Command c;
    return decode_command(uint16_t(t), exact, &c);
}
DecodeError dec_evt(MsgType t, const std::vector<uint8_t>& b) {
    std::vector<uint8_t> exact(b);
    Event e;
    return decode_event(uint16_t(t), exact, &e);
}

NodeId some_node() {
    NodeId n;
    auto const r = voxa::test::random_bytes(n.size());
    std::memcpy(n.data(), r.data(), n.size());
    return n;
}

// The longest name a NameSet carries: 253 bytes using every allowed character class.
const std::string kLongName = [] {
    std::string n;
    while (n.size() < 253) n += "z9-.";
    n.resize(253);
    return n;
}();

std::vector<Command> sample_commands(const std::vector<uint8_t>& descriptors) {
    return {PeerUpdate{uint16_t(descriptors.size() / kDescriptorBytes), descriptors},
            PeerRemove{some_node()},
            CircuitPolicy{3, 5, 3, 600},
            CircuitPolicy{8, 16, 1, 0},
            Drain{30'000},
            SetLogLevel{0},
            SetLogLevel{3},
            Shutdown{5000},
            NameSet{some_node(), 1'900'000'000, "alice.voxa"},
            NameSet{some_node(), UINT64_MAX, std::string_view(kLongName)},
            NameRemove{"a"},
            NameRemove{std::string_view(kLongName)}};
}

std::vector<Event> sample_events() {
    return {SessionUp{some_node()},
            SessionDown{some_node(), 7},
            CircuitUp{0x0123456789abcdefULL, 3},
            CircuitDown{42, 2, 0xdeadbeef},
            Overload{OverloadResource::kReassemblyMemory, 1000, 123456789},
            ErrorEvent{17, "cannot bind 0.0.0.0:4000: address in use"},
            ErrorEvent{0, ""}};
}

TEST(ShmMessages, CommandsRoundTripByteExactly) {
    auto const descriptors = voxa::test::random_bytes(3 * kDescriptorBytes);
    for (const Command& c : sample_commands(descriptors)) {
        auto const bytes = enc_cmd(c);
        ASSERT_FALSE(bytes.empty());
        Command d;
        ASSERT_EQ(decode_command(uint16_t(command_type(c)), bytes, &d), DecodeError::kNone);
        ASSERT_EQ(d.index(), c.index());
        EXPECT_EQ(enc_cmd(d), bytes);
    }
    Command d;
    auto const bytes = enc_cmd(CircuitPolicy{4, 6, 2, 900});
    ASSERT_EQ(decode_command(uint16_t(MsgType::kCircuitPolicy), bytes, &d), DecodeError::kNone);
    auto const& p = std::get<CircuitPolicy>(d);
    EXPECT_EQ(p.hops, 4);
    EXPECT_EQ(p.n, 6);
    EXPECT_EQ(p.k, 2);
    EXPECT_EQ(p.rotation_s, 900u);
    auto const up = enc_cmd(PeerUpdate{3, descriptors});
    ASSERT_EQ(decode_command(uint16_t(MsgType::kPeerUpdate), up, &d), DecodeError::kNone);
    EXPECT_EQ(std::get<PeerUpdate>(d).count, 3);
    EXPECT_TRUE(std::equal(descriptors.begin(), descriptors.end(), std::get<PeerUpdate>(d).descriptors.begin()));
}

TEST(ShmMessages, EventsRoundTripByteExactly) {
    for (const Event& e : sample_events()) {
        auto const bytes = enc_evt(e);
        ASSERT_FALSE(bytes.empty());
        Event d;
        ASSERT_EQ(decode_event(uint16_t(event_type(e)), bytes, &d), DecodeError::kNone);
        ASSERT_EQ(d.index(), e.index());
        EXPECT_EQ(enc_evt(d), bytes);
    }
    Event d;
    auto const bytes = enc_evt(ErrorEvent{5, "boom"});
    ASSERT_EQ(decode_event(uint16_t(MsgType::kError), bytes, &d), DecodeError::kNone);
    EXPECT_EQ(std::get<ErrorEvent>(d).text, "boom");
    EXPECT_EQ(std::get<ErrorEvent>(d).code, 5u);
}

TEST(ShmMessages, UnknownAndCrossDirectionTypesRefused) {
    std::vector<uint8_t> const b(8, 0);
    EXPECT_EQ(dec_cmd(MsgType::kNone, b), DecodeError::kUnknownType);
    EXPECT_EQ(dec_cmd(MsgType(0x0009), b), DecodeError::kUnknownType);
    EXPECT_EQ(dec_cmd(MsgType::kOverload, enc_evt(Overload{OverloadResource::kTxQueue, 1, 1})),
              DecodeError::kUnknownType);
    EXPECT_EQ(dec_evt(MsgType::kDrain, enc_cmd(Drain{1})), DecodeError::kUnknownType);
    EXPECT_EQ(dec_evt(MsgType(0xffff), b), DecodeError::kUnknownType);
}

TEST(ShmMessages, NameCommandsCarryTheirFields) {
    NodeId const node = some_node();
    Command d;
    auto const set = enc_cmd(NameSet{node, 1234567890123ULL, "svc-1.example"});
    ASSERT_EQ(set.size(), 48u + 13u);
    EXPECT_EQ(load_u16(set.data() + 40), 13u);   // the documented offsets
    EXPECT_EQ(load_u64(set.data() + 32), 1234567890123ULL);
    ASSERT_EQ(decode_command(uint16_t(MsgType::kNameSet), set, &d), DecodeError::kNone);
    EXPECT_EQ(std::get<NameSet>(d).node, node);
    EXPECT_EQ(std::get<NameSet>(d).expires_s, 1234567890123ULL);
    EXPECT_EQ(std::get<NameSet>(d).name, "svc-1.example");
    auto const rm = enc_cmd(NameRemove{"svc-1.example"});
    ASSERT_EQ(rm.size(), 8u + 13u);
    ASSERT_EQ(decode_command(uint16_t(MsgType::kNameRemove), rm, &d), DecodeError::kNone);
    EXPECT_EQ(std::get<NameRemove>(d).name, "svc-1.example");
}

TEST(ShmMessages, BadNamesRefused) {
    NodeId const node = some_node();
    std::string const too_long(254, 'a');
    for (std::string_view bad : {std::string_view(""), std::string_view("Upper.case"), std::string_view("under_score"),
                                 std::string_view("sp ace"), std::string_view("nul\0x", 5),
                                 std::string_view("caf\xc3\xa9"), std::string_view("slash/x"),
                                 std::string_view(too_long)}) {
        EXPECT_EQ(dec_cmd(MsgType::kNameSet, enc_cmd(NameSet{node, 5, bad})), DecodeError::kBadValue) << bad;
        EXPECT_EQ(dec_cmd(MsgType::kNameRemove, enc_cmd(NameRemove{bad})), DecodeError::kBadValue) << bad;
    }
    // Reserved bytes, and a length field that disagrees with the body.
    for (std::size_t at = 42; at < 48; ++at) {
        auto b = enc_cmd(NameSet{node, 5, "ok"});
        b[at] = 1;
        EXPECT_EQ(dec_cmd(MsgType::kNameSet, b), DecodeError::kReserved) << at;
    }
    for (std::size_t at = 2; at < 8; ++at) {
        auto b = enc_cmd(NameRemove{"ok"});
        b[at] = 1;
        EXPECT_EQ(dec_cmd(MsgType::kNameRemove, b), DecodeError::kReserved) << at;
    }
    auto b = enc_cmd(NameSet{node, 5, "ok"});
    store_u16(b.data() + 40, 1);
    EXPECT_EQ(dec_cmd(MsgType::kNameSet, b), DecodeError::kBadLength);
    b = enc_cmd(NameRemove{"ok"});
    store_u16(b.data(), 3);
    EXPECT_EQ(dec_cmd(MsgType::kNameRemove, b), DecodeError::kBadLength);
    // A name never fits a slot it does not fit: encode says so instead of cutting it.
    std::vector<uint8_t> small(48 + 2);
    EXPECT_EQ(encode_command(NameSet{node, 5, "abc"}, small), 0u);
}

TEST(ShmMessages, EveryTruncationAndExtensionRefused) {
    auto const descriptors = voxa::test::random_bytes(2 * kDescriptorBytes);
    for (const Command& c : sample_commands(descriptors)) {
        auto const full = enc_cmd(c);
        for (std::size_t n = 0; n < full.size(); ++n) {
            std::vector<uint8_t> const cut(full.begin(), full.begin() + std::ptrdiff_t(n));
            EXPECT_NE(dec_cmd(command_type(c), cut), DecodeError::kNone) << "type " << int(command_type(c)) << " n " << n;
        }
        auto longer = full;
        longer.push_back(0);
        EXPECT_EQ(dec_cmd(command_type(c), longer), DecodeError::kBadLength);
    }
    for (const Event& e : sample_events()) {
        auto const full = enc_evt(e);
        for (std::size_t n = 0; n < full.size(); ++n) {
            std::vector<uint8_t> const cut(full.begin(), full.begin() + std::ptrdiff_t(n));
            // An error event's text may be cut anywhere and still be an error event; only its head is fixed.
            if (event_type(e) == MsgType::kError && n >= 8) continue;
            EXPECT_NE(dec_evt(event_type(e), cut), DecodeError::kNone) << "type " << int(event_type(e)) << " n " << n;
        }
        if (event_type(e) == MsgType::kError) continue;
        auto longer = full;
        longer.push_back(0);
        EXPECT_EQ(dec_evt(event_type(e), longer), DecodeError::kBadLength);
    }
}

TEST(ShmMessages, OutOfRangeValuesRefused) {
    for (auto const& p : {CircuitPolicy{0, 5, 3, 1}, CircuitPolicy{9, 5, 3, 1}, CircuitPolicy{3, 5, 6, 1},
                          CircuitPolicy{3, 5, 0, 1}, CircuitPolicy{3, 17, 3, 1}}) {
        EXPECT_EQ(dec_cmd(MsgType::kCircuitPolicy, enc_cmd(p)), DecodeError::kBadValue)
            << int(p.hops) << " " << int(p.n) << " " << int(p.k);
    }
    EXPECT_EQ(dec_cmd(MsgType::kLogLevel, enc_cmd(SetLogLevel{4})), DecodeError::kBadValue);
    std::vector<uint8_t> zero_count = {0, 0, 0, 0};
    EXPECT_EQ(dec_cmd(MsgType::kPeerUpdate, zero_count), DecodeError::kBadValue);
    auto mismatch = enc_cmd(PeerUpdate{1, voxa::test::random_bytes(kDescriptorBytes)});
    store_u16(mismatch.data(), 2);   // claims two descriptors, carries one
    EXPECT_EQ(dec_cmd(MsgType::kPeerUpdate, mismatch), DecodeError::kBadLength);
    EXPECT_EQ(dec_evt(MsgType::kOverload, enc_evt(Overload{OverloadResource::kNone, 1, 1})), DecodeError::kBadValue);
    EXPECT_EQ(dec_evt(MsgType::kOverload, enc_evt(Overload{OverloadResource::kCount, 1, 1})), DecodeError::kBadValue);
    EXPECT_EQ(dec_evt(MsgType::kOverload, enc_evt(Overload{OverloadResource::kTxQueue, 1001, 1})),
              DecodeError::kBadValue);
    std::string const nul("a\0b", 3);
    EXPECT_EQ(dec_evt(MsgType::kError, enc_evt(ErrorEvent{1, nul})), DecodeError::kBadValue);
}

TEST(ShmMessages, NonZeroReservedFieldsRefused) {
    auto pol = enc_cmd(CircuitPolicy{3, 5, 3, 1});
    pol[3] = 1;
    EXPECT_EQ(dec_cmd(MsgType::kCircuitPolicy, pol), DecodeError::kReserved);
    auto drain = enc_cmd(Drain{1});
    drain[7] = 0x80;
    EXPECT_EQ(dec_cmd(MsgType::kDrain, drain), DecodeError::kReserved);
    auto lvl = enc_cmd(SetLogLevel{1});
    lvl[5] = 1;
    EXPECT_EQ(dec_cmd(MsgType::kLogLevel, lvl), DecodeError::kReserved);
    auto up = enc_cmd(PeerUpdate{1, voxa::test::random_bytes(kDescriptorBytes)});
    up[2] = 1;
    EXPECT_EQ(dec_cmd(MsgType::kPeerUpdate, up), DecodeError::kReserved);
    auto down = enc_evt(SessionDown{some_node(), 1});
    down[39] = 1;
    EXPECT_EQ(dec_evt(MsgType::kSessionDown, down), DecodeError::kReserved);
    auto cup = enc_evt(CircuitUp{1, 3});
    cup[15] = 1;
    EXPECT_EQ(dec_evt(MsgType::kCircuitUp, cup), DecodeError::kReserved);
    auto cdown = enc_evt(CircuitDown{1, 3, 0});
    cdown[9] = 1;
    EXPECT_EQ(dec_evt(MsgType::kCircuitDown, cdown), DecodeError::kReserved);
    auto err = enc_evt(ErrorEvent{1, "x"});
    err[4] = 1;
    EXPECT_EQ(dec_evt(MsgType::kError, err), DecodeError::kReserved);
    EXPECT_STREQ(decode_error_name(DecodeError::kReserved), "reserved_not_zero");
}

TEST(ShmMessages, EncodeRefusesTooSmallOutput) {
    std::vector<uint8_t> small(7);
    EXPECT_EQ(encode_command(Drain{1}, small), 0u);
    EXPECT_EQ(encode_event(ErrorEvent{1, "0123456789"}, std::span<uint8_t>(small)), 0u);
    std::vector<uint8_t> exact(8);
    EXPECT_EQ(encode_command(Drain{1}, exact), 8u);
}

}  // namespace
}  // namespace voxa::shm
