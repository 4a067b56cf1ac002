// ARP and neighbour discovery: exact reply bytes against the Python-built reference frames, solicitations built
// exactly, learning only what we asked for, duplicate address detection, and every ControlDrop reason.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <vector>

#include "netstack/checksum.h"
#include "netstack/control.h"
#include "ref_frames.h"
#include "test_hosts.h"

namespace voxa::netstack {
namespace {

using hosts::host_a;
using hosts::host_b;
using hosts::ip;
using hosts::kMacA;
using hosts::kMacB;

constexpr uint64_t kT0 = 1'000 * kNsPerS;

template <std::size_t N>
std::vector<uint8_t> vec(const uint8_t (&a)[N]) {
    return std::vector<uint8_t>(a, a + N);
}

struct Result {
    ControlDrop drop;
    std::vector<uint8_t> reply;
};

Result run(const std::vector<uint8_t>& frame, const LocalAddrs& local, NeighbourTable& table, uint64_t now = kT0) {
    std::vector<uint8_t> reply(kControlFrameMax, 0xEE);
    std::size_t len = 99;
    ControlDrop const d = handle_control(frame, local, table, now, reply, &len);
    reply.resize(len);
    return {d, reply};
}

// Recomputes the ICMPv6 checksum of an ND frame after a test changed it.
void fix_icmp(std::vector<uint8_t>& f) {
    uint8_t* ip6 = f.data() + kEthHeaderBytes;
    uint8_t* icmp = ip6 + kIpv6HeaderBytes;
    std::size_t const len = load_be16(ip6 + 4);
    store_be16(icmp + 2, 0);
    store_be16(icmp + 2, icmpv6_checksum(ip6 + 8, ip6 + 24, {icmp, len}));
}

bool icmp_ok(const std::vector<uint8_t>& f) {
    const uint8_t* ip6 = f.data() + kEthHeaderBytes;
    std::size_t const len = load_be16(ip6 + 4);
    return fold(sum({ip6 + kIpv6HeaderBytes, len}, pseudo_sum_v6(ip6 + 8, ip6 + 24, 58, uint32_t(len)))) == 0xFFFF;
}

TEST(Arp, RequestForUsGetsExactReply) {
    NeighbourTable table(8);
    Result const r = run(vec(ref::kRefArpRequest), host_b(), table);
    ASSERT_EQ(r.drop, ControlDrop::kNone);
    EXPECT_EQ(r.reply, vec(ref::kRefArpReply));
    // Requests never touch the table.
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(table.find(ip("10.0.0.1")), nullptr);
}

TEST(Arp, BuildsRequestExactly) {
    std::vector<uint8_t> out(kControlFrameMax);
    ASSERT_EQ(build_solicitation(out, host_a(), ip("10.0.0.2"), nullptr), kArpFrameBytes);
    out.resize(kArpFrameBytes);
    EXPECT_EQ(out, vec(ref::kRefArpRequest));
    // Unicast refresh: same request, Ethernet destination the known MAC.
    std::vector<uint8_t> uni(kArpFrameBytes);
    build_arp_request(uni, kMacA, ip("10.0.0.1"), ip("10.0.0.2"), &kMacB);
    EXPECT_TRUE(std::equal(uni.begin(), uni.begin() + 6, kMacB.b.begin()));
    EXPECT_TRUE(std::equal(uni.begin() + 6, uni.end(), out.begin() + 6));
    // No address of the family: nothing built.
    LocalAddrs v6_only;
    v6_only.add(hosts::ep("fd00::1", 1));
    EXPECT_EQ(build_solicitation(out, v6_only, ip("10.0.0.2"), nullptr), 0u);
}

TEST(Arp, LearnsOnlyAnswersToOurRequest) {
    NeighbourTable table(8);
    auto const reply = vec(ref::kRefArpReply);
    EXPECT_EQ(run(reply, host_a(), table).drop, ControlDrop::kUnsolicited);   // not asked
    EXPECT_EQ(table.find(ip("10.0.0.2")), nullptr);
    MacAddr mac;
    ASSERT_EQ(table.resolve(ip("10.0.0.2"), kT0, &mac), Resolve::kSolicit);
    Result const r = run(reply, host_a(), table, kT0 + 1000);
    EXPECT_EQ(r.drop, ControlDrop::kNone);
    EXPECT_TRUE(r.reply.empty());
    ASSERT_NE(table.find(ip("10.0.0.2")), nullptr);
    EXPECT_EQ(table.find(ip("10.0.0.2"))->mac, kMacB);
    ASSERT_EQ(table.resolve(ip("10.0.0.2"), kT0 + 2000, &mac), Resolve::kFound);
    EXPECT_EQ(mac, kMacB);
    // A second answer (say, an attacker's) is not accepted: the first one won.
    auto spoof = reply;
    spoof[6 + 5] = 0x66;
    spoof[14 + 8 + 5] = 0x66;
    EXPECT_EQ(run(spoof, host_a(), table, kT0 + 3000).drop, ControlDrop::kUnsolicited);
    EXPECT_EQ(table.find(ip("10.0.0.2"))->mac, kMacB);
}

TEST(Arp, GratuitousAndConflictsIgnored) {
    NeighbourTable table(8);
    MacAddr mac;
    ASSERT_EQ(table.resolve(ip("10.0.0.2"), kT0, &mac), Resolve::kSolicit);
    // Gratuitous reply from B, broadcast, target = itself: not for us.
    auto g = vec(ref::kRefArpReply);
    std::fill_n(g.begin(), 6, 0xFF);
    std::copy_n(g.begin() + 14 + 14, 4, g.begin() + 14 + 24);
    EXPECT_EQ(run(g, host_a(), table).drop, ControlDrop::kNotForUs);
    // Broadcast reply aimed at our IP: still unsolicited (answers come unicast).
    auto b = vec(ref::kRefArpReply);
    std::fill_n(b.begin(), 6, 0xFF);
    EXPECT_EQ(run(b, host_a(), table).drop, ControlDrop::kUnsolicited);
    EXPECT_EQ(table.find(ip("10.0.0.2"))->state, NeighbourState::kIncomplete);
    // Someone announcing OUR address 10.0.0.2 to B.
    auto c = vec(ref::kRefArpRequest);
    c[14 + 14 + 3] = 2;   // sender IP 10.0.0.2
    EXPECT_EQ(run(c, host_b(), table).drop, ControlDrop::kBadSender);
}

TEST(Arp, ProbeIsAnswered) {
    NeighbourTable table(8);
    auto p = vec(ref::kRefArpRequest);
    std::fill_n(p.begin() + 14 + 14, 4, 0);   // sender IP 0.0.0.0 (RFC 5227 probe)
    Result const r = run(p, host_b(), table);
    ASSERT_EQ(r.drop, ControlDrop::kNone);
    ASSERT_EQ(r.reply.size(), kArpFrameBytes);
    EXPECT_EQ(load_be16(&r.reply[14 + 6]), 2);
    EXPECT_TRUE(std::equal(r.reply.begin() + 14 + 14, r.reply.begin() + 14 + 18, vec(ref::kRefArpReply).begin() + 28));
}

TEST(Nd, SolicitationGetsExactAdvertisement) {
    NeighbourTable table(8);
    Result const r = run(vec(ref::kRefNs), host_b(), table);
    ASSERT_EQ(r.drop, ControlDrop::kNone);
    EXPECT_EQ(r.reply, vec(ref::kRefNa));
    EXPECT_TRUE(icmp_ok(r.reply));
    EXPECT_EQ(table.size(), 0u);
    // Unicast NS (a refresh) to our MAC and address, without a source link-layer option: answered to the
    // Ethernet source.
    auto u = vec(ref::kRefNs);
    std::copy(kMacB.b.begin(), kMacB.b.end(), u.begin());
    auto const target = ip("fd00::2");
    std::copy(target.b.begin(), target.b.end(), u.begin() + 38);
    u.resize(u.size() - 8);
    store_be16(&u[18], 24);
    fix_icmp(u);
    Result const r2 = run(u, host_b(), table);
    ASSERT_EQ(r2.drop, ControlDrop::kNone);
    EXPECT_EQ(r2.reply, vec(ref::kRefNa));
}

TEST(Nd, BuildsSolicitationExactly) {
    std::vector<uint8_t> out(kControlFrameMax);
    ASSERT_EQ(build_solicitation(out, host_a(), ip("fd00::2"), nullptr), kNdFrameBytes);
    EXPECT_EQ(out, vec(ref::kRefNs));
    EXPECT_TRUE(icmp_ok(out));
    // Unicast refresh: to the target address and its known MAC, still a valid NS that B answers.
    build_neighbour_solicitation(out, kMacA, ip("fd00::1"), ip("fd00::2"), &kMacB);
    EXPECT_TRUE(icmp_ok(out));
    NeighbourTable table(8);
    Result const r = run(out, host_b(), table);
    ASSERT_EQ(r.drop, ControlDrop::kNone);
    EXPECT_EQ(r.reply, vec(ref::kRefNa));
}

TEST(Nd, LearnsOnlySolicitedAdvertisements) {
    NeighbourTable table(8);
    auto const na = vec(ref::kRefNa);
    EXPECT_EQ(run(na, host_a(), table).drop, ControlDrop::kUnsolicited);
    MacAddr mac;
    ASSERT_EQ(table.resolve(ip("fd00::2"), kT0, &mac), Resolve::kSolicit);
    // Without the Solicited flag (an unsolicited "override" advertisement): refused.
    auto uns = na;
    uns[14 + 40 + 4] = 0x20;
    fix_icmp(uns);
    EXPECT_EQ(run(uns, host_a(), table).drop, ControlDrop::kUnsolicited);
    EXPECT_EQ(run(na, host_a(), table).drop, ControlDrop::kNone);
    ASSERT_EQ(table.resolve(ip("fd00::2"), kT0 + 1, &mac), Resolve::kFound);
    EXPECT_EQ(mac, kMacB);
    EXPECT_EQ(run(na, host_a(), table).drop, ControlDrop::kUnsolicited);   // answered already
}

TEST(Nd, DuplicateAddressDetectionAnsweredToAllNodes) {
    NeighbourTable table(8);
    auto dad = vec(ref::kRefNs);
    std::fill_n(dad.begin() + 22, 16, 0);    // source ::
    dad.resize(dad.size() - 8);              // no source link-layer option
    store_be16(&dad[18], 24);
    fix_icmp(dad);
    Result const r = run(dad, host_b(), table);
    ASSERT_EQ(r.drop, ControlDrop::kNone);
    ASSERT_EQ(r.reply.size(), kNdFrameBytes);
    EXPECT_TRUE(icmp_ok(r.reply));
    const std::vector<uint8_t> all_nodes_mac = {0x33, 0x33, 0, 0, 0, 1};
    EXPECT_TRUE(std::equal(all_nodes_mac.begin(), all_nodes_mac.end(), r.reply.begin()));
    EXPECT_EQ(r.reply[38], 0xFF);
    EXPECT_EQ(r.reply[53], 0x01);
    EXPECT_EQ(r.reply[14 + 40 + 4], 0x20);   // Override, not Solicited
    // With a source link-layer option a DAD probe is malformed (RFC 4861 §7.1.1).
    auto bad = vec(ref::kRefNs);
    std::fill_n(bad.begin() + 22, 16, 0);
    fix_icmp(bad);
    EXPECT_EQ(run(bad, host_b(), table).drop, ControlDrop::kBadNd);
}

TEST(Nd, StaticEntryKept) {
    NeighbourTable table(8);
    MacAddr const configured{{0x02, 9, 9, 9, 9, 9}};
    ASSERT_TRUE(table.add_static(ip("fd00::2"), configured));
    ASSERT_TRUE(table.add_static(ip("10.0.0.2"), configured));
    EXPECT_EQ(run(vec(ref::kRefNa), host_a(), table).drop, ControlDrop::kStaticKept);
    EXPECT_EQ(run(vec(ref::kRefArpReply), host_a(), table).drop, ControlDrop::kStaticKept);
    EXPECT_EQ(table.find(ip("fd00::2"))->mac, configured);
    EXPECT_EQ(table.find(ip("10.0.0.2"))->mac, configured);
}

// One crafted frame per reason; fails when a reason is added and not reached.
TEST(Control, EveryDropReasonIsReachable) {
    using F = std::vector<uint8_t>;
    struct Case {
        const char* name;
        F frame;
        bool host_a;
        ControlDrop expect;
    };
    auto arp_req = [](auto mutate) { F f = vec(ref::kRefArpRequest); mutate(f); return f; };
    auto ns = [](auto mutate, bool fix) { F f = vec(ref::kRefNs); mutate(f); if (fix) fix_icmp(f); return f; };
    std::vector<Case> cases = {
        {"arp", vec(ref::kRefArpRequest), false, ControlDrop::kNone},
        {"ns", vec(ref::kRefNs), false, ControlDrop::kNone},
        {"na learned", vec(ref::kRefNa), true, ControlDrop::kNone},
        {"tiny", F(10, 0), false, ControlDrop::kShort},
        {"short arp", arp_req([](F& f) { f.resize(41); }), false, ControlDrop::kShort},
        {"short ipv6", ns([](F& f) { f.resize(53); }, false), false, ControlDrop::kShort},
        {"icmp < 4", ns([](F& f) { store_be16(&f[18], 3); }, false), false, ControlDrop::kShort},
        {"vlan arp", arp_req([](F& f) { store_be16(&f[12], 0x8100); }), false, ControlDrop::kVlan},
        {"ipv4", hosts::frame_a_to_b(false, F(8, 1)), false, ControlDrop::kNotControl},
        {"ipv6 udp", hosts::frame_a_to_b(true, F(8, 1)), false, ControlDrop::kNotControl},
        {"arp other mac", arp_req([](F& f) { std::copy(kMacA.b.begin(), kMacA.b.end(), f.begin()); }), false,
         ControlDrop::kNotOurMac},
        {"ns other group", ns([](F& f) { f[5] = 3; }, false), false, ControlDrop::kNotOurMac},
        {"arp htype", arp_req([](F& f) { f[15] = 6; }), false, ControlDrop::kBadArp},
        {"arp plen", arp_req([](F& f) { f[19] = 16; }), false, ControlDrop::kBadArp},
        {"arp op 3", arp_req([](F& f) { f[21] = 3; }), false, ControlDrop::kArpOp},
        {"ipv6 version", ns([](F& f) { f[14] = 0x40; }, false), false, ControlDrop::kBadIpv6},
        {"ipv6 length", ns([](F& f) { store_be16(&f[18], 33); }, false), false, ControlDrop::kBadIpv6},
        {"echo request", ns([](F& f) { f[54] = 128; }, true), false, ControlDrop::kNotNd},
        {"router advert", ns([](F& f) { f[54] = 134; }, true), false, ControlDrop::kNotNd},
        {"hop limit", ns([](F& f) { f[21] = 254; }, false), false, ControlDrop::kBadHopLimit},
        {"icmp checksum", ns([](F& f) { f[70] ^= 1; }, false), false, ControlDrop::kBadIcmpChecksum},
        {"nd code", ns([](F& f) { f[55] = 1; }, true), false, ControlDrop::kBadNd},
        {"option len 0", ns([](F& f) { f[79] = 0; }, true), false, ControlDrop::kBadNd},
        {"option too long", ns([](F& f) { f[79] = 2; }, true), false, ControlDrop::kBadNd},
        {"multicast target", ns([](F& f) { f[62] = 0xFF; }, true), false, ControlDrop::kBadNd},
        {"ns to wrong dst", ns([](F& f) { f[53] = 9; }, true), false, ControlDrop::kBadNd},
        {"arp sha != eth src", arp_req([](F& f) { f[27] = 9; }), false, ControlDrop::kBadSender},
        {"arp multicast sha", arp_req([](F& f) { f[6] = 1; f[22] = 1; }), false, ControlDrop::kBadSender},
        {"arp sender loopback", arp_req([](F& f) { f[28] = 127; }), false, ControlDrop::kBadSender},
        {"ns from our mac", ns([](F& f) { std::copy(kMacB.b.begin(), kMacB.b.end(), f.begin() + 6); }, false), false,
         ControlDrop::kBadSender},
        {"ns multicast src", ns([](F& f) { f[22] = 0xFF; }, true), false, ControlDrop::kBadSender},
        {"arp not ours", arp_req([](F& f) { f[41] = 3; }), false, ControlDrop::kNotForUs},
        // Unicast to our MAC, for fd00::3 (sent to the target address itself, as a refresh is).
        {"ns target not ours", ns([](F& f) {
             std::copy(kMacB.b.begin(), kMacB.b.end(), f.begin());
             f[77] = 3;
             std::copy(f.begin() + 62, f.begin() + 78, f.begin() + 38);
         }, true), false, ControlDrop::kNotForUs},
        {"arp reply unasked", vec(ref::kRefArpReply), true, ControlDrop::kUnsolicited},
    };
    std::set<ControlDrop> seen;
    for (const Case& c : cases) {
        NeighbourTable table(8);
        MacAddr mac;
        table.resolve(ip("fd00::2"), kT0, &mac);   // A asked for B's IPv6 address (not for its IPv4 one)
        Result const r = run(c.frame, c.host_a ? host_a() : host_b(), table);
        EXPECT_EQ(r.drop, c.expect) << c.name << ": got " << control_drop_name(r.drop);
        seen.insert(c.expect);
    }
    // The static case (tested above) completes the list.
    seen.insert(ControlDrop::kStaticKept);
    EXPECT_EQ(seen.size(), std::size_t(ControlDrop::kCount));
    EXPECT_EQ(control_drop_name(ControlDrop::kCount), "unknown");
}

TEST(Control, TruncationAtEveryOffset) {
    for (const auto& full : {vec(ref::kRefArpRequest), vec(ref::kRefArpReply), vec(ref::kRefNs), vec(ref::kRefNa)}) {
        for (std::size_t len = 0; len < full.size(); ++len) {
            std::unique_ptr<uint8_t[]> cut(new uint8_t[len + (len == 0 ? 1 : 0)]);
            std::copy_n(full.begin(), len, cut.get());
            for (bool as_a : {false, true}) {
                NeighbourTable table(4);
                MacAddr mac;
                table.resolve(ip("fd00::2"), kT0, &mac);
                table.resolve(ip("10.0.0.2"), kT0, &mac);
                std::vector<uint8_t> reply(kControlFrameMax);
                std::size_t reply_len = 0;
                ControlDrop const d =
                    handle_control({cut.get(), len}, as_a ? host_a() : host_b(), table, kT0, reply, &reply_len);
                ASSERT_NE(d, ControlDrop::kNone) << len;
                ASSERT_EQ(reply_len, 0u);
            }
        }
    }
}

}  // namespace
}  // namespace voxa::netstack
