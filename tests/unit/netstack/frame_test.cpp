// Frame parsing and building: reference frames built independently in Python, build -> parse round trips for
// IPv4 and IPv6, checksum offload fields, Ethernet padding, every Drop reason from a crafted frame, and truncation
// at every byte (each prefix in its own exact-size heap buffer, so ASan sees any read past the end).
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "netstack/checksum.h"
#include "netstack/frame.h"
#include "ref_frames.h"
#include "support/test_support.h"
#include "test_hosts.h"

namespace voxa::netstack {
namespace {

using hosts::ep;
using hosts::host_a;
using hosts::host_b;
using hosts::kMacA;
using hosts::kMacB;

const std::vector<uint8_t> kRefPayload = [] {
    const char text[] = "voxa netstack test payload!";
    return std::vector<uint8_t>(text, text + sizeof text - 1);
}();

Drop parse(const std::vector<uint8_t>& f, ParsedUdp* out = nullptr, bool verify = true,
           const LocalAddrs& local = host_b()) {
    ParsedUdp scratch;
    return parse_udp(f, local, verify, out != nullptr ? out : &scratch);
}

TEST(Frame, ParsesReferenceFrames) {
    for (bool v6 : {false, true}) {
        std::vector<uint8_t> const f = v6 ? std::vector<uint8_t>(std::begin(ref::kRefUdp6), std::end(ref::kRefUdp6))
                                          : std::vector<uint8_t>(std::begin(ref::kRefUdp4), std::end(ref::kRefUdp4));
        ParsedUdp p;
        ASSERT_EQ(parse(f, &p), Drop::kNone) << v6;
        EXPECT_EQ(p.from, v6 ? ep("fd00::1", 40000) : ep("10.0.0.1", 40000));
        EXPECT_EQ(p.to, v6 ? ep("fd00::2", 51820) : ep("10.0.0.2", 51820));
        EXPECT_EQ(p.src_mac, kMacA);
        EXPECT_EQ(p.local_index, v6 ? 1 : 0);
        EXPECT_EQ(p.payload_offset, header_bytes(p.from.family));
        ASSERT_EQ(p.payload_len, kRefPayload.size());
        EXPECT_TRUE(std::equal(kRefPayload.begin(), kRefPayload.end(), f.begin() + long(p.payload_offset)));
        // Not addressed to host A.
        EXPECT_EQ(parse(f, nullptr, true, host_a()), Drop::kNotOurMac);
    }
}

TEST(Frame, BuildsReferenceFramesExactly) {
    EXPECT_EQ(hosts::frame_a_to_b(false, kRefPayload), std::vector<uint8_t>(std::begin(ref::kRefUdp4), std::end(ref::kRefUdp4)));
    EXPECT_EQ(hosts::frame_a_to_b(true, kRefPayload), std::vector<uint8_t>(std::begin(ref::kRefUdp6), std::end(ref::kRefUdp6)));
}

TEST(Frame, RoundTripRandomPayloads) {
    for (int round = 0; round < 400; ++round) {
        bool const v6 = round % 2 == 1;
        std::size_t const len = round < 20 ? std::size_t(round) : randombytes_uniform(1500);
        auto const payload = test::random_bytes(len);
        auto const f = hosts::frame_a_to_b(v6, payload);
        ASSERT_EQ(f.size(), header_bytes(v6 ? Endpoint::Family::kIpv6 : Endpoint::Family::kIpv4) + len);
        ParsedUdp p;
        ASSERT_EQ(parse(f, &p), Drop::kNone) << "len " << len << " v6 " << v6;
        ASSERT_EQ(p.payload_len, len);
        ASSERT_TRUE(std::equal(payload.begin(), payload.end(), f.begin() + long(p.payload_offset)));
        // The fields we promise: DF + TTL 64 + id 0 on IPv4, hop limit 64 and flow label 0 on IPv6.
        const uint8_t* ip = f.data() + kEthHeaderBytes;
        if (v6) {
            EXPECT_EQ(load_be32(ip), 0x6000'0000u);
            EXPECT_EQ(ip[7], 64);
        } else {
            EXPECT_EQ(load_be16(ip + 4), 0);
            EXPECT_EQ(load_be16(ip + 6), 0x4000);
            EXPECT_EQ(ip[8], 64);
        }
    }
}

// What a NIC does with the offload fields: fill the IPv4 header checksum, and checksum the UDP header + payload
// starting from the pseudo-header sum already in the UDP field.
TEST(Frame, OffloadFieldsCompleteToTheSoftwareChecksums) {
    for (bool v6 : {false, true}) {
        auto const payload = test::random_bytes(1280);
        auto const soft = hosts::frame_a_to_b(v6, payload, ChecksumMode::kSoftware);
        auto nic = hosts::frame_a_to_b(v6, payload, ChecksumMode::kOffload);
        uint8_t* ip = nic.data() + kEthHeaderBytes;
        uint8_t* udp = ip + (v6 ? kIpv6HeaderBytes : kIpv4HeaderBytes);
        if (!v6) {
            EXPECT_EQ(load_be16(ip + 10), 0);
            store_be16(ip + 10, ipv4_header_checksum({ip, kIpv4HeaderBytes}));
        }
        uint16_t const pseudo = load_be16(udp + 6);
        uint64_t const expect_pseudo = v6 ? pseudo_sum_v6(ip + 8, ip + 24, 17, 1288) : pseudo_sum_v4(ip + 12, ip + 16, 17, 1288);
        EXPECT_EQ(pseudo, fold(expect_pseudo));
        uint16_t c = uint16_t(~fold(sum({udp, 1288})));
        if (c == 0) c = 0xFFFF;
        store_be16(udp + 6, c);
        EXPECT_EQ(nic, soft) << v6;
    }
}

TEST(Frame, EthernetPaddingIgnored) {
    auto f = hosts::frame_a_to_b(false, {0xAB, 0xCD});
    ASSERT_EQ(f.size(), 44u);
    f.resize(60, 0x5A);   // padding the NIC kept, not zeros
    ParsedUdp p;
    ASSERT_EQ(parse(f, &p), Drop::kNone);
    EXPECT_EQ(p.payload_len, 2u);
    auto g = hosts::frame_a_to_b(true, {0xAB});
    g.resize(g.size() + 7, 0x5A);
    ASSERT_EQ(parse(g, &p), Drop::kNone);
    EXPECT_EQ(p.payload_len, 1u);
}

TEST(Frame, ZeroUdpChecksumOnlyOnIpv4) {
    auto f4 = hosts::frame_a_to_b(false, kRefPayload);
    store_be16(f4.data() + 40, 0);
    EXPECT_EQ(parse(f4), Drop::kNone);
    auto f6 = hosts::frame_a_to_b(true, kRefPayload);
    store_be16(f6.data() + 60, 0);
    EXPECT_EQ(parse(f6), Drop::kBadUdpChecksum);
    EXPECT_EQ(parse(f6, nullptr, false), Drop::kBadUdpChecksum);
}

TEST(Frame, VerifyOffSkipsChecksums) {
    auto f = hosts::frame_a_to_b(false, kRefPayload);
    f[50] ^= 1;   // payload bit: UDP checksum now wrong
    EXPECT_EQ(parse(f), Drop::kBadUdpChecksum);
    EXPECT_EQ(parse(f, nullptr, false), Drop::kNone);
    f[50] ^= 1;
    f[22] = 63;   // TTL: IPv4 header checksum now wrong
    EXPECT_EQ(parse(f), Drop::kBadIpChecksum);
    EXPECT_EQ(parse(f, nullptr, false), Drop::kNone);
}

// Checksum policy "off" on TX: IPv4 gets UDP checksum 0 (RFC 768 "none") and a correct header checksum; the
// frame is otherwise the software one. IPv6 keeps its mandatory UDP checksum: identical to kSoftware.
TEST(Frame, NoUdpModeWritesZeroOnIpv4Only) {
    auto const payload = test::random_bytes(1280);
    auto const soft4 = hosts::frame_a_to_b(false, payload, ChecksumMode::kSoftware);
    auto const off4 = hosts::frame_a_to_b(false, payload, ChecksumMode::kNoUdp);
    const uint8_t* ip = off4.data() + kEthHeaderBytes;
    EXPECT_EQ(load_be16(ip + kIpv4HeaderBytes + 6), 0) << "UDP checksum";
    EXPECT_NE(load_be16(ip + 10), 0) << "IPv4 header checksum";
    EXPECT_TRUE(ipv4_header_ok({ip, kIpv4HeaderBytes}));
    ASSERT_EQ(off4.size(), soft4.size());
    EXPECT_TRUE(std::equal(off4.begin(), off4.begin() + 40, soft4.begin())) << "headers up to the UDP checksum";
    EXPECT_TRUE(std::equal(off4.begin() + 42, off4.end(), soft4.begin() + 42)) << "payload untouched";
    // A verifying receiver (a kernel, an io_uring node) accepts it: zero means "no checksum" on IPv4.
    EXPECT_EQ(parse(off4), Drop::kNone);
    EXPECT_EQ(hosts::frame_a_to_b(true, payload, ChecksumMode::kNoUdp),
              hosts::frame_a_to_b(true, payload, ChecksumMode::kSoftware));
}

// Checksum policy "off" on RX (RxVerify::kIpHeader): a wrong UDP checksum passes on IPv4 (the link AEAD refuses
// the datagram instead), a wrong IPv4 header checksum does not; on IPv6 the UDP checksum is still verified.
TEST(Frame, IpHeaderVerifySkipsOnlyTheIpv4UdpChecksum) {
    ParsedUdp p;
    auto f = hosts::frame_a_to_b(false, kRefPayload);
    f[50] ^= 1;   // payload bit: UDP checksum now wrong
    EXPECT_EQ(parse_udp(f, host_b(), RxVerify::kAll, &p), Drop::kBadUdpChecksum);
    EXPECT_EQ(parse_udp(f, host_b(), RxVerify::kIpHeader, &p), Drop::kNone);
    EXPECT_EQ(p.payload_len, kRefPayload.size());
    f[50] ^= 1;
    f[22] = 63;   // TTL: IPv4 header checksum now wrong
    EXPECT_EQ(parse_udp(f, host_b(), RxVerify::kIpHeader, &p), Drop::kBadIpChecksum);
    EXPECT_EQ(parse_udp(f, host_b(), RxVerify::kNone, &p), Drop::kNone);
    auto g = hosts::frame_a_to_b(true, kRefPayload);
    g[70] ^= 1;
    EXPECT_EQ(parse_udp(g, host_b(), RxVerify::kIpHeader, &p), Drop::kBadUdpChecksum);
    g[60] = g[61] = 0;
    EXPECT_EQ(parse_udp(g, host_b(), RxVerify::kIpHeader, &p), Drop::kBadUdpChecksum);
}

TEST(Frame, ChecksumPolicyNames) {
    for (ChecksumPolicy const want : {ChecksumPolicy::kAuto, ChecksumPolicy::kSoftware, ChecksumPolicy::kOff}) {
        ChecksumPolicy got = ChecksumPolicy::kAuto;
        ASSERT_TRUE(parse_checksum_policy(checksum_policy_name(want), &got));
        EXPECT_EQ(got, want);
    }
    ChecksumPolicy got;
    EXPECT_FALSE(parse_checksum_policy("Off", &got));
    EXPECT_FALSE(parse_checksum_policy("offload", &got));
    EXPECT_FALSE(parse_checksum_policy("", &got));
}

// One crafted frame per reason; the test fails if a reason is added and not reached here.
TEST(Frame, EveryDropReasonIsReachable) {
    struct Case {
        const char* name;
        bool v6;
        void (*mutate)(std::vector<uint8_t>&);
        bool refix;
        Drop expect;
    };
    const Case cases[] = {
        {"valid v4", false, [](std::vector<uint8_t>&) {}, false, Drop::kNone},
        {"valid v6", true, [](std::vector<uint8_t>&) {}, false, Drop::kNone},
        {"short eth", false, [](std::vector<uint8_t>& f) { f.resize(13); }, false, Drop::kShort},
        {"short ip4", false, [](std::vector<uint8_t>& f) { f.resize(33); }, false, Drop::kShort},
        {"short ip6", true, [](std::vector<uint8_t>& f) { f.resize(53); }, false, Drop::kShort},
        {"vlan", false, [](std::vector<uint8_t>& f) { store_be16(&f[12], 0x8100); }, false, Drop::kVlan},
        {"qinq", false, [](std::vector<uint8_t>& f) { store_be16(&f[12], 0x88A8); }, false, Drop::kVlan},
        {"arp", false, [](std::vector<uint8_t>& f) { store_be16(&f[12], 0x0806); }, false, Drop::kArp},
        {"icmpv6", true, [](std::vector<uint8_t>& f) { f[20] = 58; f[0] = 0x33; }, false, Drop::kIcmpv6},
        {"lldp", false, [](std::vector<uint8_t>& f) { store_be16(&f[12], 0x88CC); }, false, Drop::kNotIp},
        {"other mac", false, [](std::vector<uint8_t>& f) { f[5] = 7; }, false, Drop::kNotOurMac},
        {"broadcast", false, [](std::vector<uint8_t>& f) { std::fill_n(f.begin(), 6, 0xFF); }, false, Drop::kNotOurMac},
        {"v6 in v4", false, [](std::vector<uint8_t>& f) { f[14] = 0x65; }, false, Drop::kBadIpVersion},
        {"v4 in v6", true, [](std::vector<uint8_t>& f) { f[14] = 0x40; }, false, Drop::kBadIpVersion},
        {"ihl 4", false, [](std::vector<uint8_t>& f) { f[14] = 0x44; }, false, Drop::kBadIpHeader},
        {"reserved flag", false, [](std::vector<uint8_t>& f) { f[20] |= 0x80; }, true, Drop::kBadIpHeader},
        {"options", false, [](std::vector<uint8_t>& f) { f[14] = 0x46; }, false, Drop::kIpOptions},
        {"ip checksum", false, [](std::vector<uint8_t>& f) { f[24] ^= 0x10; }, false, Drop::kBadIpChecksum},
        {"more fragments", false, [](std::vector<uint8_t>& f) { f[20] = 0x20; }, true, Drop::kFragment},
        {"offset", false, [](std::vector<uint8_t>& f) { f[21] = 0x08; }, true, Drop::kFragment},
        {"v6 fragment", true, [](std::vector<uint8_t>& f) { f[20] = 44; }, false, Drop::kFragment},
        {"hop-by-hop", true, [](std::vector<uint8_t>& f) { f[20] = 0; }, false, Drop::kIpv6ExtHeader},
        {"routing", true, [](std::vector<uint8_t>& f) { f[20] = 43; }, false, Drop::kIpv6ExtHeader},
        {"ip len > frame", false, [](std::vector<uint8_t>& f) { store_be16(&f[16], uint16_t(f.size() - 13)); }, true, Drop::kBadLength},
        {"ip len < 20", false, [](std::vector<uint8_t>& f) { store_be16(&f[16], 19); }, true, Drop::kBadLength},
        {"ip len < 28", false, [](std::vector<uint8_t>& f) { store_be16(&f[16], 27); }, true, Drop::kBadLength},
        {"udp len", false, [](std::vector<uint8_t>& f) { store_be16(&f[38], uint16_t(load_be16(&f[38]) - 1)); }, true, Drop::kBadLength},
        {"v6 payload > frame", true, [](std::vector<uint8_t>& f) { store_be16(&f[18], uint16_t(f.size() - 53)); }, false, Drop::kBadLength},
        {"v6 payload < 8", true, [](std::vector<uint8_t>& f) { store_be16(&f[18], 7); }, false, Drop::kBadLength},
        {"v6 udp len", true, [](std::vector<uint8_t>& f) { store_be16(&f[58], uint16_t(load_be16(&f[58]) + 1)); }, true, Drop::kBadLength},
        {"tcp", false, [](std::vector<uint8_t>& f) { f[23] = 6; }, true, Drop::kNotUdp},
        {"icmp4", false, [](std::vector<uint8_t>& f) { f[23] = 1; }, true, Drop::kNotUdp},
        {"v6 tcp", true, [](std::vector<uint8_t>& f) { f[20] = 6; }, false, Drop::kNotUdp},
        {"multicast src mac", false, [](std::vector<uint8_t>& f) { f[6] = 0x01; }, false, Drop::kBadSource},
        {"src 0.0.0.0", false, [](std::vector<uint8_t>& f) { std::fill_n(f.begin() + 26, 4, 0); }, true, Drop::kBadSource},
        {"src loopback", false, [](std::vector<uint8_t>& f) { f[26] = 127; }, true, Drop::kBadSource},
        {"src multicast", false, [](std::vector<uint8_t>& f) { f[26] = 224; }, true, Drop::kBadSource},
        {"src broadcast", false, [](std::vector<uint8_t>& f) { std::fill_n(f.begin() + 26, 4, 255); }, true, Drop::kBadSource},
        {"src port 0", false, [](std::vector<uint8_t>& f) { store_be16(&f[34], 0); }, true, Drop::kBadSource},
        {"v6 src ::", true, [](std::vector<uint8_t>& f) { std::fill_n(f.begin() + 22, 16, 0); }, true, Drop::kBadSource},
        {"v6 src ::1", true, [](std::vector<uint8_t>& f) { std::fill_n(f.begin() + 22, 16, 0); f[37] = 1; }, true, Drop::kBadSource},
        {"v6 src multicast", true, [](std::vector<uint8_t>& f) { f[22] = 0xFF; }, true, Drop::kBadSource},
        {"v6 src port 0", true, [](std::vector<uint8_t>& f) { store_be16(&f[54], 0); }, true, Drop::kBadSource},
        {"other ip", false, [](std::vector<uint8_t>& f) { f[33] = 3; }, true, Drop::kNotOurAddress},
        {"dst broadcast", false, [](std::vector<uint8_t>& f) { std::fill_n(f.begin() + 30, 4, 255); }, true, Drop::kNotOurAddress},
        {"v6 other ip", true, [](std::vector<uint8_t>& f) { f[53] = 3; }, true, Drop::kNotOurAddress},
        {"other port", false, [](std::vector<uint8_t>& f) { store_be16(&f[36], 51821); }, true, Drop::kNotOurPort},
        {"v6 other port", true, [](std::vector<uint8_t>& f) { store_be16(&f[56], 1); }, true, Drop::kNotOurPort},
        {"udp checksum", false, [](std::vector<uint8_t>& f) { f.back() ^= 0x01; }, false, Drop::kBadUdpChecksum},
        {"v6 udp checksum", true, [](std::vector<uint8_t>& f) { f.back() ^= 0x80; }, false, Drop::kBadUdpChecksum},
    };
    std::set<Drop> seen;
    for (const Case& c : cases) {
        auto f = hosts::frame_a_to_b(c.v6, kRefPayload);
        c.mutate(f);
        if (c.refix) hosts::refix(f);
        EXPECT_EQ(parse(f), c.expect) << c.name << ": got " << drop_name(parse(f));
        seen.insert(c.expect);
    }
    EXPECT_EQ(seen.size(), std::size_t(Drop::kCount));
    for (std::size_t d = 0; d <= std::size_t(Drop::kCount); ++d) {
        EXPECT_NE(drop_name(Drop(d)), "") << d;
    }
    EXPECT_EQ(drop_name(Drop::kCount), "unknown");
}

TEST(Frame, TruncationAtEveryOffsetNeverDelivers) {
    for (bool v6 : {false, true}) {
        auto const full = hosts::frame_a_to_b(v6, test::random_bytes(100));
        for (std::size_t len = 0; len < full.size(); ++len) {
            // An exact-size heap copy: one byte past it is outside the allocation.
            std::unique_ptr<uint8_t[]> cut(new uint8_t[len + (len == 0 ? 1 : 0)]);
            std::copy_n(full.begin(), len, cut.get());
            ParsedUdp p;
            for (bool verify : {true, false}) {
                Drop const d = parse_udp({cut.get(), len}, host_b(), verify, &p);
                ASSERT_NE(d, Drop::kNone) << "len " << len;
                ASSERT_TRUE(d == Drop::kShort || d == Drop::kBadLength) << "len " << len << " " << drop_name(d);
            }
        }
    }
}

TEST(Frame, RandomBytesNeverDeliverOutOfBounds) {
    // Random headers on a valid Ethernet/IP prefix: whatever parses must point inside the frame.
    LocalAddrs const local = host_b();
    for (int round = 0; round < 20000; ++round) {
        auto f = hosts::frame_a_to_b(round % 2 == 1, test::random_bytes(randombytes_uniform(64)));
        std::size_t const flips = 1 + randombytes_uniform(4);
        for (std::size_t i = 0; i < flips; ++i) f[14 + randombytes_uniform(uint32_t(f.size() - 14))] = uint8_t(randombytes_random());
        f.resize(randombytes_uniform(uint32_t(f.size() + 1)) + (round % 3 == 0 ? 0 : f.size() / 2));
        ParsedUdp p;
        if (parse_udp(f, local, round % 5 != 0, &p) == Drop::kNone) {
            ASSERT_LE(p.payload_offset + p.payload_len, f.size());
        }
    }
}

TEST(Frame, LocalAddrsLimits) {
    LocalAddrs l;
    EXPECT_FALSE(l.add(Endpoint::sim(3)));
    for (std::size_t i = 0; i < kLocalAddrsMax; ++i) EXPECT_TRUE(l.add(ep("10.0.0.9", uint16_t(1000 + i))));
    EXPECT_FALSE(l.add(ep("10.0.0.10", 1)));
    EXPECT_EQ(l.find_ip(Endpoint::Family::kIpv4, ep("10.0.0.9", 0).addr.data()), 0);
    EXPECT_EQ(l.find_ip(Endpoint::Family::kIpv6, ep("10.0.0.9", 0).addr.data()), -1);
    // The same IP on several ports: each port is delivered with its index.
    l.mac = kMacB;
    std::vector<uint8_t> payload(4, 1);
    Endpoint const from = ep("10.0.0.1", 5);
    Endpoint const to = ep("10.0.0.9", 1005);
    std::vector<uint8_t> f(42 + 4);
    write_udp_headers({f.data(), 42}, kMacA, kMacB, from, to, {f.data() + 42, 4}, ChecksumMode::kSoftware);
    ParsedUdp p;
    ASSERT_EQ(parse_udp(f, l, true, &p), Drop::kNone);
    EXPECT_EQ(p.local_index, 5);
}

}  // namespace
}  // namespace voxa::netstack
