// The data plane's name table (directory/names.h): spelling rules, replace, remove, expiry, the bound.
#include <string>

#include <gtest/gtest.h>

#include "directory/names.h"

namespace voxa::directory {
namespace {

NodeId node(uint8_t b) {
    NodeId n{};
    n.fill(b);
    return n;
}

TEST(Names, Spelling) {
    EXPECT_TRUE(valid_name("a"));
    EXPECT_TRUE(valid_name("alice.voxa"));
    EXPECT_TRUE(valid_name("x-1.y-2"));
    EXPECT_TRUE(valid_name(std::string(253, 'a')));
    EXPECT_FALSE(valid_name(""));
    EXPECT_FALSE(valid_name(std::string(254, 'a')));
    EXPECT_FALSE(valid_name("Alice"));
    EXPECT_FALSE(valid_name("a_b"));
    EXPECT_FALSE(valid_name("a b"));
    EXPECT_FALSE(valid_name("a/b"));
    EXPECT_FALSE(valid_name(std::string_view("a\0b", 3)));
    EXPECT_FALSE(valid_name("caf\xc3\xa9"));
}

TEST(Names, SetReplacesRemoveDeletes) {
    NameTable t;
    EXPECT_EQ(t.set("a.b", {node(1), 200}, 100), NameTable::SetResult::kNew);
    ASSERT_TRUE(t.find("a.b", 100));
    EXPECT_EQ(t.find("a.b", 100)->node, node(1));
    EXPECT_EQ(t.set("a.b", {node(2), 300}, 100), NameTable::SetResult::kReplaced);
    EXPECT_EQ(t.find("a.b", 100)->node, node(2));
    EXPECT_EQ(t.find("a.b", 100)->expires_s, 300u);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_FALSE(t.find("a.c", 100));
    EXPECT_TRUE(t.remove("a.b"));
    EXPECT_FALSE(t.remove("a.b"));
    EXPECT_FALSE(t.find("a.b", 100));
}

TEST(Names, ExpiredEntriesAreNotAnsweredAndSwept) {
    NameTable t;
    t.set("old", {node(1), 150}, 100);
    t.set("new", {node(2), 500}, 100);
    EXPECT_TRUE(t.find("old", 149));
    EXPECT_FALSE(t.find("old", 150));   // expires_s is the first second it is not answered
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.sweep(150), 1u);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_TRUE(t.find("new", 150));
    // A set that is already expired removes the name instead of storing it.
    EXPECT_EQ(t.set("new", {node(3), 150}, 150), NameTable::SetResult::kRemoved);
    EXPECT_FALSE(t.find("new", 150));
    EXPECT_EQ(t.size(), 0u);
}

TEST(Names, FullTableRefusesNewNamesCountsThemAndMakesRoomFromExpiredOnes) {
    NameTable t(3);
    EXPECT_EQ(t.set("a", {node(1), 200}, 100), NameTable::SetResult::kNew);
    EXPECT_EQ(t.set("b", {node(1), 120}, 100), NameTable::SetResult::kNew);
    EXPECT_EQ(t.set("c", {node(1), 200}, 100), NameTable::SetResult::kNew);
    EXPECT_EQ(t.set("d", {node(1), 200}, 100), NameTable::SetResult::kFull);
    EXPECT_EQ(t.refused(), 1u);
    EXPECT_FALSE(t.find("d", 100));
    EXPECT_EQ(t.set("a", {node(2), 250}, 100), NameTable::SetResult::kReplaced);   // a held name still updates
    EXPECT_EQ(t.set("d", {node(1), 200}, 130), NameTable::SetResult::kNew);      // "b" expired at 120: room
    EXPECT_FALSE(t.find("b", 130));
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(t.refused(), 1u);
    EXPECT_EQ(NameTable().capacity(), kNamesMax);
}

}  // namespace
}  // namespace voxa::directory
