// The neighbour table: capacity (no growth), states and times (incomplete, reachable, stale, expiry), the
// anti-poisoning rule, static entries, and a model-based test of the open-addressing table with deletions.
#include <gtest/gtest.h>
#include <sodium.h>

#include <map>
#include <vector>

#include "netstack/neighbour.h"
#include "test_hosts.h"

namespace voxa::netstack {
namespace {

using hosts::ip;

constexpr uint64_t kT0 = 5'000 * kNsPerS;
const MacAddr kMac1{{0x02, 1, 1, 1, 1, 1}};
const MacAddr kMac2{{0x02, 2, 2, 2, 2, 2}};

IpAddr nth(uint32_t i) {
    uint8_t a[4] = {10, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    return IpAddr::v4(a);
}

TEST(Neighbour, CapacityIsFixed) {
    NeighbourTable t(4);
    MacAddr mac;
    for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(t.resolve(nth(i), kT0, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(t.resolve(nth(4), kT0, &mac), Resolve::kFull);
    EXPECT_FALSE(t.add_static(nth(5), kMac1));
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(t.capacity(), 4u);
    EXPECT_GE(t.slots().size(), 8u);
    // Existing entries still work when full, and a static entry may overwrite one of them.
    EXPECT_TRUE(t.add_static(nth(2), kMac1));
    EXPECT_EQ(t.resolve(nth(2), kT0, &mac), Resolve::kFound);
    // Incomplete entries expire and make room.
    EXPECT_EQ(t.expire(kT0 + 3 * kNsPerS), 3u);
    EXPECT_EQ(t.resolve(nth(4), kT0 + 3 * kNsPerS, &mac), Resolve::kSolicit);
}

TEST(Neighbour, IncompleteRetriesAndExpires) {
    NeighbourTable t(8);
    MacAddr mac;
    IpAddr const a = ip("10.0.0.2");
    EXPECT_EQ(t.resolve(a, kT0, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.resolve(a, kT0 + kNsPerS / 2, &mac), Resolve::kWait);     // one solicitation per second
    EXPECT_EQ(t.resolve(a, kT0 + kNsPerS, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.find(a)->state, NeighbourState::kIncomplete);
    // An answer later than incomplete_ns after the last solicitation is not accepted.
    EXPECT_EQ(t.learn(a, kMac1, kT0 + 4 * kNsPerS), Learn::kNotAsked);
    EXPECT_EQ(t.find(a), nullptr);
    EXPECT_EQ(t.resolve(a, kT0 + 5 * kNsPerS, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.learn(a, kMac1, kT0 + 6 * kNsPerS), Learn::kLearned);
    EXPECT_EQ(t.resolve(a, kT0 + 6 * kNsPerS, &mac), Resolve::kFound);
    EXPECT_EQ(mac, kMac1);
}

TEST(Neighbour, ReachableGoesStaleThenExpires) {
    NeighbourTable t(8);
    MacAddr mac;
    IpAddr const a = ip("fd00::2");
    ASSERT_EQ(t.resolve(a, kT0, &mac), Resolve::kSolicit);
    ASSERT_EQ(t.learn(a, kMac1, kT0 + 1000), Learn::kLearned);
    uint64_t const learned = kT0 + 1000;
    EXPECT_EQ(t.resolve(a, learned + 299 * kNsPerS, &mac), Resolve::kFound);
    EXPECT_EQ(t.expire(learned + 299 * kNsPerS), 0u);
    // Stale: still used, and one refresh per second is asked for.
    EXPECT_EQ(t.resolve(a, learned + 300 * kNsPerS, &mac), Resolve::kFoundStale);
    EXPECT_EQ(mac, kMac1);
    EXPECT_EQ(t.resolve(a, learned + 300 * kNsPerS + 10, &mac), Resolve::kFound);
    EXPECT_EQ(t.resolve(a, learned + 301 * kNsPerS, &mac), Resolve::kFoundStale);
    // No answer within 3 s of going stale: forgotten, even though we kept asking.
    EXPECT_EQ(t.resolve(a, learned + 303 * kNsPerS, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.find(a)->state, NeighbourState::kIncomplete);
    // A refresh that is answered (possibly with a new MAC, since we asked) renews the entry.
    ASSERT_EQ(t.learn(a, kMac2, learned + 303 * kNsPerS + 5), Learn::kLearned);
    uint64_t const renewed = learned + 303 * kNsPerS + 5;
    EXPECT_EQ(t.resolve(a, renewed + 300 * kNsPerS, &mac), Resolve::kFoundStale);
    EXPECT_EQ(t.learn(a, kMac1, renewed + 301 * kNsPerS), Learn::kLearned);
    EXPECT_EQ(t.resolve(a, renewed + 302 * kNsPerS, &mac), Resolve::kFound);
    EXPECT_EQ(mac, kMac1);
    // expire() forgets an unused entry after reachable + incomplete.
    EXPECT_EQ(t.expire(renewed + 301 * kNsPerS + 303 * kNsPerS), 1u);
    EXPECT_EQ(t.size(), 0u);
}

TEST(Neighbour, LearnsOnlyWhatWasAsked) {
    NeighbourTable t(8);
    MacAddr mac;
    IpAddr const a = ip("10.0.0.7");
    EXPECT_EQ(t.learn(a, kMac1, kT0), Learn::kNotAsked);
    EXPECT_EQ(t.size(), 0u);
    ASSERT_EQ(t.resolve(a, kT0, &mac), Resolve::kSolicit);
    EXPECT_EQ(t.learn(a, kMac1, kT0 + 1), Learn::kLearned);
    EXPECT_EQ(t.learn(a, kMac2, kT0 + 2), Learn::kNotAsked);   // first answer wins
    EXPECT_EQ(t.find(a)->mac, kMac1);
    EXPECT_EQ(t.learn(ip("10.0.0.8"), kMac2, kT0 + 2), Learn::kNotAsked);
}

TEST(Neighbour, StaticEntriesAreProtected) {
    NeighbourTable t(8);
    MacAddr mac;
    IpAddr const a = ip("10.0.0.9");
    ASSERT_TRUE(t.add_static(a, kMac1));
    EXPECT_EQ(t.learn(a, kMac2, kT0), Learn::kStaticKept);
    EXPECT_EQ(t.expire(kT0 + 10'000 * kNsPerS), 0u);
    EXPECT_EQ(t.resolve(a, kT0 + 10'000 * kNsPerS, &mac), Resolve::kFound);
    EXPECT_EQ(mac, kMac1);
    // Config may replace a learned entry; then it is static.
    IpAddr const b = ip("10.0.0.10");
    ASSERT_EQ(t.resolve(b, kT0, &mac), Resolve::kSolicit);
    ASSERT_TRUE(t.add_static(b, kMac2));
    EXPECT_EQ(t.learn(b, kMac1, kT0 + 1), Learn::kStaticKept);
    EXPECT_EQ(t.find(b)->state, NeighbourState::kStatic);
    EXPECT_TRUE(t.remove(b));
    EXPECT_FALSE(t.remove(b));
}

// Random operations against a std::map model: the backward-shift deletion must never lose or duplicate an entry.
TEST(Neighbour, MatchesModelUnderChurn) {
    NeighbourTable t(64);
    std::map<uint32_t, MacAddr> model;
    MacAddr mac;
    for (int round = 0; round < 50000; ++round) {
        uint32_t const k = randombytes_uniform(200);
        uint32_t const op = randombytes_uniform(3);
        if (op == 0) {
            MacAddr m{{0x02, 0, 0, 0, uint8_t(k), uint8_t(round)}};
            bool const ok = t.add_static(nth(k), m);
            if (model.count(k) != 0 || model.size() < 64) {
                ASSERT_TRUE(ok);
                model[k] = m;
            } else {
                ASSERT_FALSE(ok);
            }
        } else if (op == 1) {
            ASSERT_EQ(t.remove(nth(k)), model.erase(k) == 1);
        } else {
            const Neighbour* n = t.find(nth(k));
            auto const it = model.find(k);
            ASSERT_EQ(n != nullptr, it != model.end());
            if (n != nullptr) {
                ASSERT_EQ(n->mac, it->second);
                ASSERT_EQ(t.resolve(nth(k), kT0, &mac), Resolve::kFound);
            }
        }
        ASSERT_EQ(t.size(), model.size());
    }
}

}  // namespace
}  // namespace voxa::netstack
