// The SQLite store: WAL, the plugin KV table, the bounded control log, durability across reopen and crashes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "control_test_util.h"
#include "store.h"
#include "support/test_support.h"

namespace voxa::cp {
namespace {

using nlohmann::json;
using test::TempDir;

// prefix + i; appended rather than operator+ (GCC 12 warns falsely on "literal" + std::string at -O3).
std::string named(const char* prefix, int i) {
    std::string out(prefix);
    out += std::to_string(i);
    return out;
}

TEST(Store, OpensInWalModeWithPrivateFileAndSchemaVersion) {
    TempDir dir;
    std::string error;
    auto s = Store::open(dir.path() / "voxa.db", &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->journal_mode(), "wal");
    struct stat st {};
    ASSERT_EQ(::stat((dir.path() / "voxa.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(s->put("p", "k", "1"), 0);
    s.reset();
    auto again = Store::open(dir.path() / "voxa.db", &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(again->journal_mode(), "wal");
}

TEST(Store, PutGetListDeleteArePerPluginAndValidated) {
    TempDir dir;
    std::string error;
    auto s = Store::open(dir.path() / "voxa.db", &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->put("a", "user/2", R"({"n":2})"), 0);
    EXPECT_EQ(s->put("a", "user/1", R"({"n":1})"), 0);
    EXPECT_EQ(s->put("a", "other", "[1,2]"), 0);
    EXPECT_EQ(s->put("b", "user/1", "\"b's\""), 0);
    EXPECT_EQ(s->put("a", "user/1", R"({"n":11})"), 0);   // overwrite

    std::string v;
    ASSERT_EQ(s->get("a", "user/1", &v), 0);
    EXPECT_EQ(json::parse(v), json::parse(R"({"n":11})"));
    ASSERT_EQ(s->get("b", "user/1", &v), 0);
    EXPECT_EQ(json::parse(v), "b's");
    EXPECT_EQ(s->get("a", "missing", &v), -ENOENT);
    EXPECT_EQ(s->get("c", "user/1", &v), -ENOENT);   // another plugin's table is invisible

    std::string list;
    ASSERT_EQ(s->list("a", "user/", &list), 0);
    EXPECT_EQ(json::parse(list), json::parse(R"([{"key":"user/1","value":{"n":11}},{"key":"user/2","value":{"n":2}}])"));
    ASSERT_EQ(s->list("a", "", &list), 0);
    EXPECT_EQ(json::parse(list).size(), 3u);
    ASSERT_EQ(s->list("a", "zzz", &list), 0);
    EXPECT_EQ(json::parse(list), json::array());

    EXPECT_EQ(s->remove("a", "user/2"), 0);
    EXPECT_EQ(s->remove("a", "user/2"), -ENOENT);
    EXPECT_EQ(s->get("a", "user/2", &v), -ENOENT);

    // Bad keys and values are -EINVAL, never stored.
    EXPECT_EQ(s->put("a", "", "1"), -EINVAL);
    EXPECT_EQ(s->put("a", std::string(257, 'k'), "1"), -EINVAL);
    EXPECT_EQ(s->put("a", std::string(256, 'k'), "1"), 0);
    EXPECT_EQ(s->put("a", "bad\xff", "1"), -EINVAL);
    EXPECT_EQ(s->put("a", "k", "{not json"), -EINVAL);
    EXPECT_EQ(s->put("a", "k", std::string(kStoreValueBytesMax + 1, ' ')), -EINVAL);
    std::string big(kStoreValueBytesMax, 'x');   // a JSON string of exactly 1 MiB with its quotes
    big.front() = '"';
    big.back() = '"';
    EXPECT_EQ(s->put("a", "big", big), 0);
    ASSERT_EQ(s->get("a", "big", &v), 0);
    EXPECT_EQ(v.size(), kStoreValueBytesMax);
}

TEST(Store, SurvivesReopen) {
    TempDir dir;
    std::string error;
    {
        auto s = Store::open(dir.path() / "voxa.db", &error);
        ASSERT_TRUE(s) << error;
        for (int i = 0; i < 50; ++i) ASSERT_EQ(s->put("p", named("k", i), std::to_string(i)), 0);
        s->record_action("start", {{"pid", 1}});
    }
    auto s = Store::open(dir.path() / "voxa.db", &error);
    ASSERT_TRUE(s) << error;
    std::string v;
    ASSERT_EQ(s->get("p", "k49", &v), 0);
    EXPECT_EQ(v, "49");
    json const actions = s->recent_actions(10);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(actions[0]["action"], "start");
    EXPECT_EQ(actions[0]["detail"]["pid"], 1);
}

TEST(Store, ACrashLosesNothingCommitted) {
    TempDir dir;
    std::string error;
    auto const path = dir.path() / "voxa.db";
    { ASSERT_TRUE(Store::open(path, &error)) << error; }
    std::unique_ptr<Store> child_store;   // opened in the child, never closed
    int const last = voxa::test::acknowledged_writes_of_killed_child(200, [&](int i) {
        std::string e;
        if (!child_store) child_store = Store::open(path, &e);
        return child_store && child_store->put("crash", named("key", i), std::to_string(i)) == 0;
    });
    ASSERT_EQ(last, 200);

    auto s = Store::open(path, &error);
    ASSERT_TRUE(s) << error;
    for (int i = 1; i <= last; ++i) {
        std::string v;
        ASSERT_EQ(s->get("crash", named("key", i), &v), 0) << i;
        EXPECT_EQ(v, std::to_string(i));
    }
}

TEST(Store, ControlLogIsBounded) {
    TempDir dir;
    std::string error;
    auto s = Store::open(dir.path() / "voxa.db", &error);
    ASSERT_TRUE(s) << error;
    for (int i = 0; i < int(kControlLogRowsMax) + 25; ++i) s->record_action("reload", {{"i", i}});
    json const all = s->recent_actions(int(kControlLogRowsMax) * 2);
    EXPECT_EQ(all.size(), std::size_t(kControlLogRowsMax));
    EXPECT_EQ(all[0]["detail"]["i"], int(kControlLogRowsMax) + 24);   // newest first
    EXPECT_EQ(all.back()["detail"]["i"], 25);                        // the 25 oldest are gone
}

TEST(Store, RefusesADatabaseFromANewerVoxa) {
    TempDir dir;
    std::string error;
    auto const path = dir.path() / "voxa.db";
    {
        auto s = Store::open(path, &error);
        ASSERT_TRUE(s) << error;
    }
    ASSERT_TRUE(test::set_user_version(path, 99));
    EXPECT_FALSE(Store::open(path, &error));
    EXPECT_NE(error.find(path.string()), std::string::npos) << error;
    EXPECT_NE(error.find("schema version 99"), std::string::npos) << error;
}

TEST(Store, Utf8Validation) {
    EXPECT_TRUE(valid_utf8("plain"));
    EXPECT_TRUE(valid_utf8("\xc3\xa9t\xc3\xa9"));
    EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));
    EXPECT_FALSE(valid_utf8("\xc3"));               // truncated
    EXPECT_FALSE(valid_utf8("\xc0\xaf"));           // overlong
    EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));       // surrogate
    EXPECT_FALSE(valid_utf8("\xff"));
}

}  // namespace
}  // namespace voxa::cp
