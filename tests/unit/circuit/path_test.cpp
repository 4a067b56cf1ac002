#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "circuit/onion.h"
#include "circuit/path.h"

namespace voxa::circuit {
namespace {

NodeId node(uint32_t i) {
    NodeId id{};
    std::memcpy(id.data(), &i, 4);
    id[31] = 0xa5;
    return id;
}

std::vector<RelayInfo> sim_relays(std::size_t n) {
    std::vector<RelayInfo> r(n);
    for (std::size_t i = 0; i < n; ++i) {
        r[i].id = node(uint32_t(i));
        r[i].endpoint = Endpoint::sim(uint32_t(i));
    }
    return r;
}

Endpoint ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv4;
    e.port = 9000;
    e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
    return e;
}

TEST(Path, DisjointLiveAndNeverExcludedOverManyDraws) {
    auto relays = sim_relays(40);
    for (std::size_t i : {3u, 9u, 27u}) relays[i].live = false;
    relays[11].capacity = 0;
    const std::vector<NodeId> exclude = {node(0), node(5)};
    for (int draw = 0; draw < 500; ++draw) {
        std::string why;
        auto paths = choose_disjoint_paths(relays, 5, 3, exclude, &why);
        ASSERT_TRUE(paths.has_value()) << why;
        ASSERT_EQ(paths->size(), 5u);
        std::set<std::size_t> seen;
        for (const auto& path : *paths) {
            ASSERT_EQ(path.size(), 3u);
            for (std::size_t i : path) {
                ASSERT_LT(i, relays.size());
                EXPECT_TRUE(relays[i].live) << i;
                EXPECT_NE(relays[i].capacity, 0u) << i;
                EXPECT_NE(i, 0u);
                EXPECT_NE(i, 5u);
                EXPECT_TRUE(seen.insert(i).second) << "relay " << i << " used twice";
            }
        }
    }
}

TEST(Path, RefusesWhenFiveRelaysCannotGiveTwoDisjointThreeHopPaths) {
    const auto relays = sim_relays(5);
    std::string why;
    EXPECT_FALSE(choose_disjoint_paths(relays, 2, 3, {}, &why).has_value());
    EXPECT_NE(why.find("not enough"), std::string::npos) << why;
    // One more relay is enough; and one of six dead, or excluded, is not.
    auto six = sim_relays(6);
    EXPECT_TRUE(choose_disjoint_paths(six, 2, 3, {}, nullptr).has_value());
    six[2].live = false;
    EXPECT_FALSE(choose_disjoint_paths(six, 2, 3, {}, nullptr).has_value());
    six[2].live = true;
    const NodeId dest = node(4);
    EXPECT_FALSE(choose_disjoint_paths(six, 2, 3, std::span(&dest, 1), nullptr).has_value());
}

TEST(Path, ARelayListedTwiceIsOneRelay) {
    auto relays = sim_relays(5);
    relays.push_back(relays[0]);   // same node id again
    relays.back().endpoint = Endpoint::sim(99);
    EXPECT_FALSE(choose_disjoint_paths(relays, 2, 3, {}, nullptr).has_value());
    for (int draw = 0; draw < 200; ++draw) {
        auto paths = choose_disjoint_paths(relays, 1, 5, {}, nullptr);
        ASSERT_TRUE(paths.has_value());
        std::set<NodeId> ids;
        for (std::size_t i : (*paths)[0]) EXPECT_TRUE(ids.insert(relays[i].id).second);
    }
}

TEST(Path, RefusesInvalidRequests) {
    const auto relays = sim_relays(100);
    std::string why;
    EXPECT_FALSE(choose_disjoint_paths(relays, 0, 3, {}, &why).has_value());
    EXPECT_FALSE(why.empty());
    EXPECT_FALSE(choose_disjoint_paths(relays, 2, 0, {}, &why).has_value());
    EXPECT_FALSE(choose_disjoint_paths(relays, 2, kHopsMax + 1, {}, &why).has_value());
    EXPECT_TRUE(choose_disjoint_paths(relays, 2, kHopsMax, {}, &why).has_value());
    EXPECT_FALSE(choose_disjoint_paths({}, 1, 1, {}, &why).has_value());
}

TEST(Path, WeightedByCapacity) {
    auto relays = sim_relays(10);
    relays[4].capacity = 10;   // expected share 10/19 = 53%, every other relay 1/19 = 5.3%
    std::vector<int> count(relays.size(), 0);
    constexpr int kDraws = 4000;
    for (int draw = 0; draw < kDraws; ++draw) {
        auto paths = choose_disjoint_paths(relays, 1, 1, {}, nullptr);
        ASSERT_TRUE(paths.has_value());
        ++count[(*paths)[0][0]];
    }
    EXPECT_GT(count[4], kDraws * 40 / 100);
    EXPECT_LT(count[4], kDraws * 66 / 100);
    for (std::size_t i = 0; i < relays.size(); ++i) {
        if (i == 4) continue;
        EXPECT_GT(count[i], kDraws / 60) << i;   // everyone still gets chosen
        EXPECT_GT(count[4], 5 * count[i]) << i;
    }
}

TEST(Path, CapacitiesBeyondThirtyTwoBits) {
    auto relays = sim_relays(8);
    for (auto& r : relays) r.capacity = UINT32_MAX;
    auto paths = choose_disjoint_paths(relays, 2, 4, {}, nullptr);
    ASSERT_TRUE(paths.has_value());
    std::set<std::size_t> all;
    for (const auto& p : *paths) all.insert(p.begin(), p.end());
    EXPECT_EQ(all.size(), 8u);
}

TEST(Path, PrefersDistinctSlash24WhenAvailable) {
    // Six relays crowd one /24 (and carry most capacity); six others sit in six different /24s.
    std::vector<RelayInfo> relays;
    for (uint8_t i = 0; i < 6; ++i) relays.push_back({node(i), ipv4(10, 0, 0, uint8_t(1 + i)), 50, true});
    for (uint8_t i = 0; i < 6; ++i) relays.push_back({node(100 + i), ipv4(10, 0, uint8_t(1 + i), 1), 1, true});
    for (int draw = 0; draw < 300; ++draw) {
        auto paths = choose_disjoint_paths(relays, 2, 3, {}, nullptr);
        ASSERT_TRUE(paths.has_value());
        std::set<uint32_t> nets;
        for (const auto& p : *paths) {
            for (std::size_t i : p) nets.insert(uint32_t(relays[i].endpoint.addr[2]));
        }
        EXPECT_EQ(nets.size(), 6u) << "two chosen relays share a /24 although seven /24s exist";
    }
}

TEST(Path, KeepsEachPathDiverseWhenTheNetworkIsNot) {
    // Three /24s with two relays each: two paths of three hops cannot all differ, but each path can.
    std::vector<RelayInfo> relays;
    for (uint8_t net = 0; net < 3; ++net) {
        for (uint8_t host = 1; host <= 2; ++host) {
            relays.push_back({node(uint32_t(net * 10 + host)), ipv4(192, 168, net, host), 1, true});
        }
    }
    for (int draw = 0; draw < 300; ++draw) {
        auto paths = choose_disjoint_paths(relays, 2, 3, {}, nullptr);
        ASSERT_TRUE(paths.has_value());
        for (const auto& p : *paths) {
            std::set<uint8_t> nets;
            for (std::size_t i : p) nets.insert(relays[i].endpoint.addr[2]);
            EXPECT_EQ(nets.size(), 3u);
        }
    }
    // With a single /24 it still answers (diversity is a preference, not a requirement).
    for (auto& r : relays) r.endpoint.addr[2] = 7;
    EXPECT_TRUE(choose_disjoint_paths(relays, 2, 3, {}, nullptr).has_value());
}

TEST(Path, Ipv6SameSlash48IsOneNetwork) {
    std::vector<RelayInfo> relays;
    auto v6 = [](uint8_t b5, uint8_t b6) {
        Endpoint e;
        e.family = Endpoint::Family::kIpv6;
        e.addr = {0x20, 0x01, 0x0d, 0xb8, 0x00, b5, b6, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return e;
    };
    relays.push_back({node(1), v6(1, 0), 1000, true});   // these two share 2001:db8:1::/48
    relays.push_back({node(2), v6(1, 9), 1000, true});
    relays.push_back({node(3), v6(2, 0), 1, true});
    relays.push_back({node(4), v6(3, 0), 1, true});
    for (int draw = 0; draw < 300; ++draw) {
        auto paths = choose_disjoint_paths(relays, 1, 3, {}, nullptr);
        ASSERT_TRUE(paths.has_value());
        const auto& p = (*paths)[0];
        const bool both = std::count(p.begin(), p.end(), 0u) + std::count(p.begin(), p.end(), 1u) == 2;
        EXPECT_FALSE(both) << "two relays of one /48 on a path although three /48s exist";
    }
}

}  // namespace
}  // namespace voxa::circuit

namespace voxa::circuit {
namespace {

// A small network (6 relays) cannot give 5 disjoint 2-relay paths; allowing each relay on 2 paths can, and then no
// relay is on more than 2 paths (below k = 3) nor twice on one path, and every relay is used before any is reused.
TEST(Path, SmallNetworkSharesRelaysWithinTheLimit) {
    std::vector<RelayInfo> relays(6);
    for (std::size_t i = 0; i < relays.size(); ++i) {
        relays[i].id.fill(uint8_t(i + 1));
        relays[i].endpoint = Endpoint::sim(uint32_t(i));
    }
    std::string why;
    EXPECT_FALSE(choose_disjoint_paths(relays, 5, 2, {}, &why).has_value());
    EXPECT_NE(why.find("need 10 live relays"), std::string::npos) << why;
    EXPECT_FALSE(choose_disjoint_paths(relays, 5, 3, {}, &why, 2).has_value());   // 15 > 6 * 2
    for (int round = 0; round < 200; ++round) {
        auto paths = choose_disjoint_paths(relays, 5, 2, {}, &why, 2);
        ASSERT_TRUE(paths.has_value()) << why;
        std::vector<int> uses(relays.size());
        for (const auto& p : *paths) {
            ASSERT_EQ(p.size(), 2u);
            EXPECT_NE(p[0], p[1]);
            for (std::size_t i : p) ++uses[i];
        }
        for (int u : uses) {
            EXPECT_GE(u, 1);   // every relay used before any is used twice
            EXPECT_LE(u, 2);
        }
    }
}

}  // namespace
}  // namespace voxa::circuit
