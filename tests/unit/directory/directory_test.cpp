// The directory: merge rules (newer wins, self ignored, bootstrap replaced), expiry, the table bound, gossip bodies
// split at the size limit and merged on another node into the same directory, a line of nodes that learns every
// relay by gossip alone, and garbage bodies counted without harm.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "directory/directory.h"
#include "support/test_support.h"
#include "voxa/wire.h"

namespace voxa::directory {
namespace {

constexpr uint64_t kNow = 1'700'000'000;
// The body of a DIRECTORY cell at the default cell size: the cell minus link overhead and cell header.
constexpr std::size_t kCellBody = wire::cell_payload_bytes(wire::kCellBytesDefault) - wire::kCellHeaderBytes;
static_assert(gossip_capacity(kCellBody) == 9);

crypto::Identity identity(uint32_t tag) {
    std::array<uint8_t, 32> seed{};
    std::memcpy(seed.data(), &tag, sizeof tag);
    seed[31] = 0x5a;
    return crypto::Identity::from_seed(seed);
}

Endpoint v4(uint32_t host, uint16_t port) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv4;
    e.addr[0] = 10;
    e.addr[1] = uint8_t(host >> 16);
    e.addr[2] = uint8_t(host >> 8);
    e.addr[3] = uint8_t(host);
    e.port = port;
    return e;
}

std::array<uint8_t, kDescriptorBytes> desc(const crypto::Identity& id, uint64_t issued_at_s, uint16_t port = 7000,
                                           uint32_t capacity = 10) {
    return sign_descriptor(id, v4(1, port), capacity, true, issued_at_s);
}

uint64_t total_drops(const Directory& d) {
    return std::accumulate(d.drops(), d.drops() + std::size_t(Drop::kCount), uint64_t(0));
}

using Merge = Directory::Merge;

TEST(Directory, MergeNewUpdatedUnchangedOlder) {
    auto const self = identity(0);
    auto const a = identity(1);
    Directory dir(self.id());
    Descriptor out;
    EXPECT_EQ(dir.merge(desc(a, kNow - 100, 7001), kNow, &out), Merge::kNew);
    EXPECT_EQ(out.id, a.id());
    EXPECT_EQ(out.endpoint.port, 7001);
    EXPECT_EQ(dir.size(), 1u);

    EXPECT_EQ(dir.merge(desc(a, kNow - 100, 7001), kNow), Merge::kUnchanged);   // the same bytes again
    EXPECT_EQ(dir.merge(desc(a, kNow - 200, 7002), kNow, &out), Merge::kUnchanged);   // older
    EXPECT_EQ(out.endpoint.port, 7001) << "out holds the entry kept";
    EXPECT_EQ(dir.merge(desc(a, kNow - 100, 7003), kNow), Merge::kUnchanged);   // same age, other content: first wins

    EXPECT_EQ(dir.merge(desc(a, kNow - 10, 7004), kNow, &out), Merge::kUpdated);
    EXPECT_EQ(out.endpoint.port, 7004);
    Descriptor held;
    ASSERT_TRUE(dir.find(a.id(), &held));
    EXPECT_EQ(held.endpoint.port, 7004);
    EXPECT_EQ(held.issued_at_s, kNow - 10);
    EXPECT_EQ(held.x25519, a.peer().x25519);
    EXPECT_EQ(dir.size(), 1u);
    EXPECT_EQ(total_drops(dir), 0u);
}

TEST(Directory, SelfIsIgnored) {
    auto const self = identity(0);
    Directory dir(self.id());
    Descriptor out;
    out.capacity = 42;
    EXPECT_EQ(dir.merge(desc(self, kNow), kNow, &out), Merge::kUnchanged);
    EXPECT_EQ(out.capacity, 42u);
    EXPECT_EQ(dir.size(), 0u);
    EXPECT_FALSE(dir.add_bootstrap(self.peer().ed25519, v4(1, 1)));
    EXPECT_EQ(dir.size(), 0u);
}

TEST(Directory, RejectionsCountedByReason) {
    auto const a = identity(1);
    Directory dir(identity(0).id());
    auto forged = desc(a, kNow);
    forged[kOffSignature] ^= 1;
    EXPECT_EQ(dir.merge(forged, kNow), Merge::kRejected);
    EXPECT_EQ(dir.merge(desc(a, kNow + 1000), kNow), Merge::kRejected);
    EXPECT_EQ(dir.merge(desc(a, kNow - 4000), kNow), Merge::kRejected);
    EXPECT_EQ(dir.merge(std::span(forged).first(100), kNow), Merge::kRejected);
    EXPECT_EQ(dir.size(), 0u);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kBadSignature)], 1u);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kFromFuture)], 1u);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kExpired)], 1u);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kBadSize)], 1u);

    // A forged newer descriptor does not displace the signed one.
    ASSERT_EQ(dir.merge(desc(a, kNow - 5, 7001), kNow), Merge::kNew);
    auto newer_forged = desc(a, kNow, 6666);
    newer_forged[kOffSignature + 10] ^= 0x40;
    EXPECT_EQ(dir.merge(newer_forged, kNow), Merge::kRejected);
    Descriptor held;
    ASSERT_TRUE(dir.find(a.id(), &held));
    EXPECT_EQ(held.endpoint.port, 7001);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kBadSignature)], 2u);
}

TEST(Directory, BootstrapReplacedBySignedAndRestoredOnExpiry) {
    auto const a = identity(1);
    Directory dir(identity(0).id(), 600);
    ASSERT_TRUE(dir.add_bootstrap(a.peer().ed25519, v4(99, 5000)));
    auto list = dir.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].id, a.id());
    EXPECT_EQ(list[0].x25519, a.peer().x25519);
    EXPECT_EQ(list[0].endpoint, v4(99, 5000));
    EXPECT_EQ(list[0].issued_at_s, 0u);
    EXPECT_TRUE(list[0].relay);
    // Bootstrap-only entries carry no signature, so they are not gossiped.
    EXPECT_TRUE(dir.gossip_bodies({}, kCellBody).empty());

    EXPECT_EQ(dir.merge(desc(a, kNow, 7100), kNow), Merge::kUpdated);
    list = dir.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].endpoint, v4(1, 7100));
    EXPECT_EQ(list[0].issued_at_s, kNow);
    EXPECT_EQ(dir.gossip_bodies({}, kCellBody).size(), 1u);

    // Re-adding the configured peer does not override what it signed.
    EXPECT_TRUE(dir.add_bootstrap(a.peer().ed25519, v4(98, 5001)));
    ASSERT_TRUE(dir.find(a.id(), &list[0]));
    EXPECT_EQ(list[0].endpoint, v4(1, 7100));

    EXPECT_EQ(dir.expire(kNow + 600), 0u);
    EXPECT_EQ(dir.expire(kNow + 601), 1u);
    list = dir.entries();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].endpoint, v4(98, 5001)) << "back to the configured address";
    EXPECT_EQ(list[0].issued_at_s, 0u);
    EXPECT_EQ(dir.expire(kNow + 100000), 0u) << "bootstrap entries never expire";
    EXPECT_EQ(dir.size(), 1u);
}

TEST(Directory, AddBootstrapRefusesBadKey) {
    Directory dir(identity(0).id());
    PublicKey zero{};
    EXPECT_FALSE(dir.add_bootstrap(zero, v4(1, 1)));
    EXPECT_EQ(dir.size(), 0u);
}

TEST(Directory, ExpireDropsOldSignedEntries) {
    Directory dir(identity(0).id(), 100);
    for (uint32_t i = 1; i <= 6; ++i) ASSERT_EQ(dir.merge(desc(identity(i), kNow + i * 10), kNow), Merge::kNew);
    // Entries issued at kNow+10 .. kNow+60; at kNow+135 those older than 100 s (issued before kNow+35) go.
    EXPECT_EQ(dir.expire(kNow + 135), 3u);
    EXPECT_EQ(dir.size(), 3u);
    for (const auto& d : dir.entries()) EXPECT_GE(d.issued_at_s, kNow + 40);
    EXPECT_EQ(dir.expire(kNow + 1000), 3u);
    EXPECT_EQ(dir.size(), 0u);
}

TEST(Directory, TableBound) {
    Directory dir(identity(0).id(), kTtlDefaultS, 3);
    for (uint32_t i = 1; i <= 3; ++i) ASSERT_EQ(dir.merge(desc(identity(i), kNow - 50), kNow), Merge::kNew);
    EXPECT_EQ(dir.merge(desc(identity(4), kNow - 50), kNow), Merge::kRejected);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kFull)], 1u);
    EXPECT_FALSE(dir.add_bootstrap(identity(5).peer().ed25519, v4(5, 5)));
    EXPECT_EQ(dir.merge(desc(identity(2), kNow - 10, 7777), kNow), Merge::kUpdated) << "known ids still update";
    EXPECT_EQ(dir.size(), 3u);
}

// Reads a gossip body's descriptors back, checking its framing.
std::vector<std::array<uint8_t, kDescriptorBytes>> unpack(const std::vector<uint8_t>& body) {
    std::vector<std::array<uint8_t, kDescriptorBytes>> out;
    EXPECT_GE(body.size(), kGossipHeaderBytes);
    std::size_t const n = body[0];
    EXPECT_EQ(body.size(), kGossipHeaderBytes + n * kDescriptorBytes);
    EXPECT_EQ(body[1] | body[2] | body[3], 0);
    for (std::size_t i = 0; i < n; ++i) {
        out.emplace_back();
        std::memcpy(out.back().data(), body.data() + kGossipHeaderBytes + i * kDescriptorBytes, kDescriptorBytes);
    }
    return out;
}

TEST(Directory, GossipBodiesSplitAtTheLimit) {
    auto const self = identity(0);
    Directory dir(self.id());
    for (uint32_t i = 1; i <= 26; ++i) ASSERT_EQ(dir.merge(desc(identity(i), kNow - i), kNow), Merge::kNew);
    ASSERT_TRUE(dir.add_bootstrap(identity(100).peer().ed25519, v4(100, 100)));   // not sent: unsigned
    auto const mine = desc(self, kNow);

    struct Case {
        std::size_t body_bytes, per_body;
    };
    for (Case c : {Case{kCellBody, 9}, Case{4 + 9 * 132, 9}, Case{4 + 9 * 132 - 1, 8}, Case{4 + 132, 1},
                   Case{100000, 27}}) {
        auto const bodies = dir.gossip_bodies(mine, c.body_bytes);
        ASSERT_EQ(bodies.size(), (27 + c.per_body - 1) / c.per_body) << c.body_bytes;
        std::map<NodeId, int> seen;
        for (std::size_t b = 0; b < bodies.size(); ++b) {
            EXPECT_LE(bodies[b].size(), c.body_bytes);
            auto const descs = unpack(bodies[b]);
            EXPECT_EQ(descs.size(), b + 1 < bodies.size() ? c.per_body : 27 - b * c.per_body);
            if (b == 0) {
                EXPECT_EQ(descs.at(0), mine) << "our own descriptor first";
            }
            for (const auto& d : descs) {
                Descriptor v;
                ASSERT_EQ(verify_descriptor(d, kNow, kTtlDefaultS, &v), Drop::kNone);
                seen[v.id] += 1;
            }
        }
        EXPECT_EQ(seen.size(), 27u);
        for (const auto& [id, times] : seen) EXPECT_EQ(times, 1);
        EXPECT_EQ(seen.count(identity(100).id()), 0u);
    }
    // The count byte caps a body at 255 descriptors.
    static_assert(gossip_capacity(1u << 20) == 255);
    // Nothing to send: no body (a body needs count >= 1).
    Directory empty(self.id());
    EXPECT_TRUE(empty.gossip_bodies({}, kCellBody).empty());
    EXPECT_EQ(empty.gossip_bodies(mine, kCellBody).size(), 1u);
}

TEST(Directory, MergeGossipReproducesTheDirectoryOnAnotherNode) {
    auto const a_self = identity(0);
    auto const b_self = identity(1);
    Directory a(a_self.id());
    for (uint32_t i = 1; i <= 40; ++i)   // includes b itself, which b must ignore
        ASSERT_EQ(a.merge(desc(identity(i), kNow - i, uint16_t(7000 + i), i), kNow), Merge::kNew);

    Directory b(b_self.id());
    auto const a_desc = desc(a_self, kNow, 6000, 500);
    std::size_t changed = 0;
    for (auto body : a.gossip_bodies(a_desc, kCellBody)) {
        // The receiver sees the whole cell body: the descriptors, then padding.
        auto const pad = test::random_bytes(kCellBody - body.size());
        body.insert(body.end(), pad.begin(), pad.end());
        changed += b.merge_gossip(body, kNow + 1).size();
    }
    EXPECT_EQ(changed, 40u);   // a, and 2..40
    EXPECT_EQ(total_drops(b), 0u);

    auto expected = a.entries();
    std::erase_if(expected, [&](const Descriptor& d) { return d.id == b_self.id(); });
    Descriptor ad;
    ASSERT_EQ(verify_descriptor(a_desc, kNow, kTtlDefaultS, &ad), Drop::kNone);
    expected.push_back(ad);
    std::sort(expected.begin(), expected.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
    EXPECT_EQ(b.entries(), expected);

    // A second round changes nothing.
    for (const auto& body : a.gossip_bodies(a_desc, kCellBody)) EXPECT_TRUE(b.merge_gossip(body, kNow + 2).empty());
    EXPECT_EQ(b.size(), 40u);
}

TEST(Directory, LineOfNodesLearnsEveryRelayByGossip) {
    // Node i knows only node i+1 from its bootstrap list; each round every node gossips to both neighbours.
    constexpr uint32_t kNodes = 6;
    std::vector<crypto::Identity> ids;
    std::vector<Directory> dirs;
    std::vector<std::array<uint8_t, kDescriptorBytes>> own;
    for (uint32_t i = 0; i < kNodes; ++i) {
        ids.push_back(identity(1000 + i));
        own.push_back(desc(ids.back(), kNow, uint16_t(8000 + i)));
    }
    for (uint32_t i = 0; i < kNodes; ++i) {
        dirs.emplace_back(ids[i].id());
        if (i + 1 < kNodes) {
            ASSERT_TRUE(dirs[i].add_bootstrap(ids[i + 1].peer().ed25519, v4(1, uint16_t(8001 + i))));
        }
    }
    for (uint32_t round = 0; round < kNodes; ++round) {
        std::vector<std::vector<std::vector<uint8_t>>> out;
        for (uint32_t i = 0; i < kNodes; ++i) out.push_back(dirs[i].gossip_bodies(own[i], kCellBody));
        for (uint32_t i = 0; i < kNodes; ++i) {
            for (uint32_t j : {i - 1, i + 1}) {
                if (j >= kNodes) continue;
                for (const auto& body : out[i]) dirs[j].merge_gossip(body, kNow + round);
            }
        }
    }
    for (uint32_t i = 0; i < kNodes; ++i) {
        EXPECT_EQ(dirs[i].size(), kNodes - 1) << i;
        for (const auto& d : dirs[i].entries()) {
            EXPECT_EQ(d.issued_at_s, kNow) << "every entry signed, bootstrap ones replaced";
            EXPECT_NE(d.id, ids[i].id());
        }
        EXPECT_EQ(total_drops(dirs[i]), 0u);
    }
}

TEST(Directory, MalformedBodiesCounted) {
    auto const a = identity(1);
    Directory dir(identity(0).id());
    auto const good = Directory(identity(9).id()).gossip_bodies(desc(a, kNow), kCellBody).at(0);

    auto expect_bad_body = [&](std::vector<uint8_t> body) {
        uint64_t const before = dir.drops()[std::size_t(Drop::kBadBody)];
        EXPECT_TRUE(dir.merge_gossip(body, kNow).empty());
        EXPECT_EQ(dir.drops()[std::size_t(Drop::kBadBody)], before + 1);
    };
    auto with_byte = [&](std::size_t at, uint8_t value) {
        std::vector<uint8_t> b(good);
        if (at < b.size()) b[at] = value;
        return b;
    };
    expect_bad_body({});
    expect_bad_body({1, 0, 0});
    expect_bad_body(with_byte(0, 0));   // count 0
    expect_bad_body(with_byte(2, 1));   // reserved
    expect_bad_body(with_byte(0, 2));   // count larger than the body
    expect_bad_body(std::vector<uint8_t>(good.begin(), good.end() - 1));   // truncated
    EXPECT_EQ(dir.size(), 0u);

    // One bad descriptor in a good body is skipped and counted on its own; the rest merge.
    Directory source(identity(9).id());
    for (uint32_t i = 1; i <= 3; ++i) ASSERT_EQ(source.merge(desc(identity(i), kNow), kNow), Merge::kNew);
    auto const intact = source.gossip_bodies({}, kCellBody).at(0);
    auto body = intact;
    body[kGossipHeaderBytes + kDescriptorBytes + kOffSignature] ^= 1;   // the second descriptor
    EXPECT_EQ(dir.merge_gossip(body, kNow).size(), 2u);
    EXPECT_EQ(dir.size(), 2u);
    EXPECT_EQ(dir.drops()[std::size_t(Drop::kBadSignature)], 1u);
    auto const later = dir.merge_gossip(intact, kNow);   // the skipped one, intact this time
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(0, std::memcmp(later[0].ed25519.data(), &intact[kGossipHeaderBytes + kDescriptorBytes + kOffPublicKey],
                             kPublicKeyBytes));
    EXPECT_EQ(dir.size(), 3u);
}

TEST(Directory, GarbageBodiesNeverMergeAnything) {
    Directory dir(identity(0).id());
    constexpr int kBodies = 3000;
    for (int i = 0; i < kBodies; ++i) {
        auto body = test::random_bytes(randombytes_uniform(2 * kCellBody));
        // Half the time make the framing plausible so the descriptor checks run too.
        if (i % 2 == 0 && body.size() >= kGossipHeaderBytes) {
            body[0] = uint8_t(1 + randombytes_uniform(uint32_t(std::max<std::size_t>(gossip_capacity(body.size()), 1))));
            body[1] = body[2] = body[3] = 0;
            for (std::size_t at = kGossipHeaderBytes; at + kDescriptorBytes <= body.size(); at += kDescriptorBytes) {
                body[at + kOffVersion] = kDescriptorVersion;
                if (i % 4 == 0) {   // every cheap field valid: only the signature can fail
                    body[at + kOffFlags] = 1;
                    body[at + kOffFamily] = 6;
                    body[at + kOffRsv1] = 0;
                    body[at + kOffRsv2] = body[at + kOffRsv2 + 1] = 0;
                    body[at + kOffPort] |= 1;
                    uint32_t const cap = 1 + randombytes_uniform(kCapacityMax);
                    std::memcpy(&body[at + kOffCapacity], &cap, 4);
                    uint64_t const t = kNow - randombytes_uniform(3000);
                    std::memcpy(&body[at + kOffIssuedAt], &t, 8);
                }
            }
        }
        EXPECT_TRUE(dir.merge_gossip(body, kNow).empty());
    }
    EXPECT_EQ(dir.size(), 0u);
    EXPECT_GE(total_drops(dir), uint64_t(kBodies));
    EXPECT_GT(dir.drops()[std::size_t(Drop::kBadSignature)], 0u);
    EXPECT_GT(dir.drops()[std::size_t(Drop::kBadBody)], 0u);
}

TEST(Directory, JsonForStats) {
    auto const a = identity(1);
    Directory dir(identity(0).id());
    ASSERT_EQ(dir.merge(desc(a, kNow - 30, 7001, 55), kNow), Merge::kNew);
    ASSERT_TRUE(dir.add_bootstrap(identity(2).peer().ed25519, v4(2, 7002)));
    auto forged = desc(identity(3), kNow);
    forged[100] ^= 1;
    dir.merge(forged, kNow);
    dir.expire(kNow + 10);

    auto const j = dir.to_json();
    EXPECT_EQ(j["size"], 2);
    ASSERT_EQ(j["entries"].size(), 2u);
    bool found_signed = false;
    for (const auto& e : j["entries"]) {
        if (e["id"] == to_hex(a.id())) {
            found_signed = true;
            EXPECT_EQ(e["endpoint"], "10.0.0.1:7001");
            EXPECT_EQ(e["capacity"], 55);
            EXPECT_EQ(e["relay"], true);
            EXPECT_EQ(e["signed"], true);
            EXPECT_EQ(e["age_s"], 40);
        } else {
            EXPECT_EQ(e["id"], to_hex(identity(2).id()));
            EXPECT_EQ(e["signed"], false);
            EXPECT_EQ(e["bootstrap"], true);
            EXPECT_EQ(e["endpoint"], "10.0.0.2:7002");
        }
    }
    EXPECT_TRUE(found_signed);
    EXPECT_EQ(j["drops"]["bad_signature"], 1);
    EXPECT_EQ(j["drops"]["expired"], 0);
}

TEST(DirectoryDeathTest, GossipBodyTooSmallForOneDescriptor) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Directory dir(identity(0).id());
    auto const mine = desc(identity(0), kNow);
    EXPECT_DEATH(dir.gossip_bodies(mine, 4 + 131), "invariant");
    EXPECT_DEATH(dir.gossip_bodies(std::span(mine).first(100), kCellBody), "invariant");
}

}  // namespace
}  // namespace voxa::directory
