#include <gtest/gtest.h>
#include <sodium.h>

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "circuit/circuit_table.h"

namespace voxa::circuit {
namespace {

TEST(CircuitTable, InsertFindBothDirections) {
    CircuitTable t(16);
    RelayCircuit* c = t.insert(3, 77);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->prev_peer, 3u);
    EXPECT_EQ(c->prev_id, 77u);
    EXPECT_EQ(c->next_peer, kNoPeer);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.find_prev(3, 77), c);
    EXPECT_EQ(t.find_prev(3, 78), nullptr);
    EXPECT_EQ(t.find_prev(4, 77), nullptr);
    EXPECT_EQ(t.find_next(3, 77), nullptr);   // the prev key does not answer backward lookups
    ASSERT_TRUE(t.set_next(c, 9, 1234));
    EXPECT_EQ(t.find_next(9, 1234), c);
    EXPECT_EQ(c->next_peer, 9u);
    EXPECT_EQ(c->next_id, 1234u);
    EXPECT_EQ(t.find_prev(9, 1234), nullptr);
    EXPECT_EQ(t.find_next(kNoPeer, 0), nullptr);
}

TEST(CircuitTable, RefusesDuplicatesAndInvalidKeys) {
    CircuitTable t(8);
    ASSERT_NE(t.insert(1, 5), nullptr);
    EXPECT_EQ(t.insert(1, 5), nullptr);
    EXPECT_NE(t.insert(2, 5), nullptr);   // same id on another link is another circuit
    EXPECT_EQ(t.insert(1, 0), nullptr);
    EXPECT_EQ(t.insert(kNoPeer, 5), nullptr);
    EXPECT_EQ(t.size(), 2u);
}

TEST(CircuitTable, FullThenEraseFreesASlot) {
    CircuitTable t(4);
    std::vector<RelayCircuit*> cs;
    for (uint32_t i = 1; i <= 4; ++i) cs.push_back(t.insert(1, i));
    for (auto* c : cs) ASSERT_NE(c, nullptr);
    EXPECT_EQ(t.insert(1, 5), nullptr);
    EXPECT_EQ(t.size(), 4u);
    t.erase(cs[1]);
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.find_prev(1, 2), nullptr);
    RelayCircuit* again = t.insert(1, 5);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(t.find_prev(1, 5), again);
    // Survivors are where they were.
    EXPECT_EQ(t.find_prev(1, 1), cs[0]);
    EXPECT_EQ(t.find_prev(1, 3), cs[2]);
    EXPECT_EQ(t.find_prev(1, 4), cs[3]);
}

TEST(CircuitTable, EraseRemovesBothKeysAndTheCrypto) {
    CircuitTable t(4);
    RelayCircuit* c = t.insert(1, 5);
    ASSERT_TRUE(t.set_next(c, 2, 6));
    HopSecrets s;
    c->crypto = std::make_unique<HopCrypto>(s, crypto::Provider::kSodium);
    c->extending = true;
    c->created_ns = 42;
    t.erase(c);
    EXPECT_EQ(t.find_prev(1, 5), nullptr);
    EXPECT_EQ(t.find_next(2, 6), nullptr);
    EXPECT_EQ(t.size(), 0u);
    RelayCircuit* d = t.insert(7, 8);   // the slot is reused clean
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->crypto, nullptr);
    EXPECT_FALSE(d->extending);
    EXPECT_EQ(d->created_ns, 0u);
    EXPECT_EQ(d->next_peer, kNoPeer);
}

TEST(CircuitTable, SetNextConflictsAndReplacement) {
    CircuitTable t(8);
    RelayCircuit* a = t.insert(1, 1);
    RelayCircuit* b = t.insert(1, 2);
    ASSERT_TRUE(t.set_next(a, 5, 100));
    EXPECT_FALSE(t.set_next(b, 5, 100));
    EXPECT_EQ(b->next_peer, kNoPeer);
    EXPECT_TRUE(t.set_next(a, 5, 100));   // idempotent
    EXPECT_FALSE(t.set_next(b, kNoPeer, 100));
    EXPECT_FALSE(t.set_next(b, 5, 0));
    ASSERT_TRUE(t.set_next(a, 6, 200));   // replaces a's next
    EXPECT_EQ(t.find_next(5, 100), nullptr);
    EXPECT_EQ(t.find_next(6, 200), a);
    EXPECT_TRUE(t.set_next(b, 5, 100));   // the old key is free again
    EXPECT_EQ(t.find_next(5, 100), b);
}

TEST(CircuitTable, MatchesAReferenceModelUnderChurn) {
    // Few peers and ids so that probe runs collide and backward-shift deletion is exercised hard.
    constexpr std::size_t kMax = 64;
    CircuitTable t(kMax);
    using Key = std::pair<PeerHandle, uint32_t>;
    std::map<Key, RelayCircuit*> prev;
    std::map<Key, RelayCircuit*> next;
    std::map<RelayCircuit*, Key> next_of;
    for (int step = 0; step < 40000; ++step) {
        const PeerHandle peer = randombytes_uniform(4);
        const uint32_t id = 1 + randombytes_uniform(48);
        switch (randombytes_uniform(4)) {
            case 0: {
                RelayCircuit* c = t.insert(peer, id);
                const bool expect = prev.size() < kMax && !prev.count({peer, id});
                ASSERT_EQ(c != nullptr, expect) << step;
                if (c) prev[{peer, id}] = c;
                break;
            }
            case 1: {
                auto it = prev.find({peer, id});
                if (it == prev.end()) break;
                RelayCircuit* c = it->second;
                t.erase(c);
                prev.erase(it);
                if (next_of.count(c)) {
                    next.erase(next_of[c]);
                    next_of.erase(c);
                }
                break;
            }
            case 2: {
                if (prev.empty()) break;
                auto it = prev.begin();
                std::advance(it, randombytes_uniform(uint32_t(prev.size())));
                RelayCircuit* c = it->second;
                auto owner = next.find({peer, id});
                const bool expect = owner == next.end() || owner->second == c;
                ASSERT_EQ(t.set_next(c, peer, id), expect) << step;
                if (expect) {
                    if (next_of.count(c)) next.erase(next_of[c]);
                    next[{peer, id}] = c;
                    next_of[c] = {peer, id};
                }
                break;
            }
            default: {
                auto p = prev.find({peer, id});
                ASSERT_EQ(t.find_prev(peer, id), p == prev.end() ? nullptr : p->second) << step;
                auto n = next.find({peer, id});
                ASSERT_EQ(t.find_next(peer, id), n == next.end() ? nullptr : n->second) << step;
            }
        }
        ASSERT_EQ(t.size(), prev.size());
    }
    for (auto& [key, c] : prev) EXPECT_EQ(t.find_prev(key.first, key.second), c);
    for (auto& [key, c] : next) EXPECT_EQ(t.find_next(key.first, key.second), c);
}

TEST(CircuitTable, AllocateIdAvoidsEveryIdInUseOnThatLink) {
    CircuitTable t(2048);
    std::set<uint32_t> used;
    // 1000 circuits from peer 1 (ids it chose) and 1000 of ours towards peer 1 (ids we chose).
    for (int i = 0; i < 1000; ++i) {
        const uint32_t id = t.allocate_id(1);
        ASSERT_NE(id, 0u);
        ASSERT_FALSE(used.count(id)) << "allocate_id returned an id already in use";
        RelayCircuit* c = t.insert(1, id);
        ASSERT_NE(c, nullptr);
        used.insert(id);
        const uint32_t out = t.allocate_id(1);
        ASSERT_NE(out, 0u);
        ASSERT_FALSE(used.count(out));
        ASSERT_TRUE(t.set_next(c, 1, out));
        used.insert(out);
    }
    EXPECT_EQ(used.size(), 2000u);
}

TEST(CircuitTable, ForEachVisitsAllAndAllowsErase) {
    CircuitTable t(32);
    for (uint32_t i = 1; i <= 20; ++i) {
        RelayCircuit* c = t.insert(1, i);
        c->last_used_ns = i;
    }
    std::size_t seen = 0;
    t.for_each([&](RelayCircuit&) { ++seen; });
    EXPECT_EQ(seen, 20u);
    // Expire the even ones during the walk, as a timer would.
    t.for_each([&](RelayCircuit& c) {
        if (c.last_used_ns % 2 == 0) t.erase(&c);
    });
    EXPECT_EQ(t.size(), 10u);
    for (uint32_t i = 1; i <= 20; ++i) EXPECT_EQ(t.find_prev(1, i) != nullptr, i % 2 == 1) << i;
    seen = 0;
    t.for_each([&](RelayCircuit& c) {
        EXPECT_EQ(c.last_used_ns % 2, 1u);
        ++seen;
    });
    EXPECT_EQ(seen, 10u);
}

TEST(CircuitTable, CapacityIsWhatWasAskedFor) {
    CircuitTable t(1);
    EXPECT_EQ(t.capacity(), 1u);
    EXPECT_NE(t.insert(1, 1), nullptr);
    EXPECT_EQ(t.insert(1, 2), nullptr);
}

}  // namespace
}  // namespace voxa::circuit
