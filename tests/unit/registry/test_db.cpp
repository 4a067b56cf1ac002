// The registry's SQLite store: newest sequence wins (replays refused), the record bound, liveness and purge by
// the clock, name records, durability across reopen and a crash, the private file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "control/control_test_util.h"
#include "registry/registry_db.h"
#include "support/test_support.h"

namespace voxa::registry {
namespace {

using cp::test::TempDir;

NodeId id_of(uint8_t n) {
    NodeId id{};
    id.fill(n);
    return id;
}

std::vector<uint8_t> bytes_of(uint8_t tag, std::size_t n = 40) { return std::vector<uint8_t>(n, tag); }

std::unique_ptr<RegistryDb> open_db(const TempDir& dir, std::size_t max_records = 1000) {
    std::string error;
    auto d = RegistryDb::open(dir.path() / "registry.db", max_records, &error);
    EXPECT_TRUE(d) << error;
    return d;
}

TEST(RegistryDb, PrivateFileAndErrorsNameTheFile) {
    TempDir dir;
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    struct stat st {};
    ASSERT_EQ(::stat((dir.path() / "registry.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // A write makes the WAL file: it must be private too.
    ASSERT_EQ(d->put_record(Kind::kNode, id_of(1), 1, 100, bytes_of(1), 10), PutResult::kNew);
    ASSERT_EQ(::stat((dir.path() / "registry.db-wal").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u);

    std::string error;
    auto const missing = dir.path() / "no-such-dir" / "registry.db";
    EXPECT_FALSE(RegistryDb::open(missing, 10, &error));
    EXPECT_NE(error.find(missing.string()), std::string::npos) << error;
}

TEST(RegistryDb, ANewerSchemaIsRefused) {
    TempDir dir;
    { ASSERT_TRUE(open_db(dir)); }
    ASSERT_TRUE(cp::test::set_user_version(dir.path() / "registry.db", kRegistryDbSchemaVersion + 1));
    std::string error;
    EXPECT_FALSE(RegistryDb::open(dir.path() / "registry.db", 10, &error));
    EXPECT_NE(error.find("newer"), std::string::npos) << error;
}

TEST(RegistryDb, NewestSequenceWinsAndReplaysAreRefused) {
    TempDir dir;
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    NodeId const id = id_of(7);
    EXPECT_EQ(d->put_record(Kind::kNode, id, 5, 1000, bytes_of(5), 10), PutResult::kNew);
    EXPECT_EQ(d->put_record(Kind::kNode, id, 5, 1000, bytes_of(5), 11), PutResult::kUnchanged);
    // Same sequence, other bytes: a second record for one sequence is a replay, not an update.
    EXPECT_EQ(d->put_record(Kind::kNode, id, 5, 1000, bytes_of(9), 12), PutResult::kReplayed);
    EXPECT_EQ(d->put_record(Kind::kNode, id, 4, 2000, bytes_of(4), 13), PutResult::kReplayed);
    auto held = d->get_record(Kind::kNode, id);
    ASSERT_TRUE(held);
    EXPECT_EQ(held->sequence, 5u);
    EXPECT_EQ(held->bytes, bytes_of(5));

    EXPECT_EQ(d->put_record(Kind::kNode, id, 6, 3000, bytes_of(6), 20), PutResult::kUpdated);
    held = d->get_record(Kind::kNode, id);
    ASSERT_TRUE(held);
    EXPECT_EQ(held->sequence, 6u);
    EXPECT_EQ(held->expires_s, 3000u);
    EXPECT_EQ(held->bytes, bytes_of(6));
    EXPECT_EQ(held->stored_s, 20u);
    EXPECT_EQ(held->last_seen_s, 20u);
    EXPECT_EQ(held->liveness, Liveness::kLive);
    EXPECT_EQ(d->put_record(Kind::kNode, id, 5, 1000, bytes_of(5), 21), PutResult::kReplayed);

    // The kinds are separate: an RRI of the same id has its own sequence.
    EXPECT_EQ(d->put_record(Kind::kRelay, id, 1, 3000, bytes_of(1), 22), PutResult::kNew);
    EXPECT_EQ(d->list_records(Kind::kNode, false).size(), 1u);
    EXPECT_EQ(d->list_records(Kind::kRelay, false).size(), 1u);
    EXPECT_FALSE(d->get_record(Kind::kRelay, id_of(8)));
    EXPECT_EQ(put_result_name(PutResult::kReplayed), "replayed");
}

TEST(RegistryDb, MaxRecordsRefusesNewOnesButNotUpdates) {
    TempDir dir;
    auto d = open_db(dir, 3);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(1), 1, 1000, bytes_of(1), 1), PutResult::kNew);
    EXPECT_EQ(d->put_record(Kind::kRelay, id_of(1), 1, 1000, bytes_of(1), 1), PutResult::kNew);
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(2), 1, 1000, bytes_of(2), 1), PutResult::kNew);
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(3), 1, 1000, bytes_of(3), 1), PutResult::kFull);
    EXPECT_FALSE(d->get_record(Kind::kNode, id_of(3)));
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(2), 2, 1000, bytes_of(4), 1), PutResult::kUpdated);
    ASSERT_TRUE(d->remove_record(Kind::kNode, id_of(2)));
    EXPECT_FALSE(d->remove_record(Kind::kNode, id_of(2)));
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(3), 1, 1000, bytes_of(3), 1), PutResult::kNew);
}

TEST(RegistryDb, LivenessAndPurgeFollowTheClock) {
    TempDir dir;
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    uint64_t const down_after = 30, purge_after = 100;
    NodeId const self = id_of(0x5e);   // this node: never marked down, however long since it was seen
    ASSERT_EQ(d->put_record(Kind::kNode, self, 1, 100000, bytes_of(0x5e), 1000), PutResult::kNew);
    ASSERT_EQ(d->put_record(Kind::kNode, id_of(1), 1, 100000, bytes_of(1), 1000), PutResult::kNew);
    ASSERT_EQ(d->put_record(Kind::kRelay, id_of(1), 1, 100000, bytes_of(1), 1000), PutResult::kNew);
    ASSERT_EQ(d->put_record(Kind::kNode, id_of(2), 1, 100000, bytes_of(2), 1000), PutResult::kNew);
    ASSERT_EQ(d->put_record(Kind::kNode, id_of(3), 1, 1050, bytes_of(3), 1000), PutResult::kNew);   // expires

    EXPECT_FALSE(d->mark_seen(id_of(2), 1020)) << "it was live: the live set did not change";
    EXPECT_TRUE(d->mark_down(1029, down_after, self).empty());
    // id 1 (both kinds) was last seen at 1000: down at 1030, reported once.
    auto down = d->mark_down(1030, down_after, self);
    ASSERT_EQ(down.size(), 2u);   // ids 1 and 3
    EXPECT_NE(std::find(down.begin(), down.end(), id_of(1)), down.end());
    EXPECT_NE(std::find(down.begin(), down.end(), id_of(3)), down.end());
    EXPECT_TRUE(d->mark_down(1031, down_after, self).empty());   // already down: not reported again
    EXPECT_EQ(d->get_record(Kind::kRelay, id_of(1))->liveness, Liveness::kDown);
    EXPECT_EQ(d->list_records(Kind::kNode, true).size(), 2u);   // id 2 and this node
    EXPECT_EQ(d->count_records(Kind::kNode, false), 4u);

    // A heartbeat revives both kinds.
    EXPECT_TRUE(d->mark_seen(id_of(1), 1040)) << "it was down: the live set changed";
    EXPECT_EQ(d->get_record(Kind::kNode, id_of(1))->liveness, Liveness::kLive);
    EXPECT_EQ(d->get_record(Kind::kRelay, id_of(1))->liveness, Liveness::kLive);
    EXPECT_EQ(d->get_record(Kind::kRelay, id_of(1))->last_seen_s, 1040u);

    // id 3 expires at 1050: purged then, whatever its liveness.
    EXPECT_EQ(d->purge(1049, purge_after), 0u);
    EXPECT_EQ(d->purge(1050, purge_after), 1u);
    EXPECT_FALSE(d->get_record(Kind::kNode, id_of(3)));

    // id 2 last seen 1020: down at 1050, purged at 1020 + 100 and not before.
    ASSERT_EQ(d->mark_down(1050, down_after, self).size(), 1u);
    EXPECT_EQ(d->purge(1119, purge_after), 0u);
    EXPECT_EQ(d->purge(1120, purge_after), 1u);
    EXPECT_FALSE(d->get_record(Kind::kNode, id_of(2)));
    // id 1 is live: never purged for silence (mark_down must come first).
    EXPECT_EQ(d->purge(5000, purge_after), 0u);
    EXPECT_TRUE(d->get_record(Kind::kNode, id_of(1)));
    EXPECT_EQ(d->get_record(Kind::kNode, self)->liveness, Liveness::kLive);
    // A fresh put of a down record makes it live again.
    ASSERT_EQ(d->mark_down(5000, down_after, self).size(), 1u);
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(1), 2, 100000, bytes_of(9), 5001), PutResult::kUpdated);
    EXPECT_EQ(d->get_record(Kind::kNode, id_of(1))->liveness, Liveness::kLive);
    EXPECT_EQ(d->get_record(Kind::kRelay, id_of(1))->liveness, Liveness::kDown);
}

TEST(RegistryDb, NameRecords) {
    TempDir dir;
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    PublicKey owner{};
    owner.fill(3);
    EXPECT_FALSE(d->get_name("a.example"));
    ASSERT_TRUE(d->put_name("b.example", owner, 1, 2000, bytes_of(0xb1)));
    ASSERT_TRUE(d->put_name("a.example", owner, 1, 1000, bytes_of(0xa1)));
    ASSERT_TRUE(d->put_name("a.example", owner, 2, 1000, bytes_of(0xa2)));
    EXPECT_EQ(*d->get_name("a.example"), bytes_of(0xa2));
    auto const all = d->list_names();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0], bytes_of(0xa2));   // name order
    EXPECT_EQ(d->count_names(), 2u);
    EXPECT_EQ(d->purge(1000, 3600), 1u);   // a.example expired
    EXPECT_FALSE(d->get_name("a.example"));
    EXPECT_TRUE(d->get_name("b.example"));
}

TEST(RegistryDb, ReopenKeepsRecordsNamesAndLiveness) {
    TempDir dir;
    PublicKey owner{};
    {
        auto d = open_db(dir);
        ASSERT_TRUE(d);
        ASSERT_EQ(d->put_record(Kind::kNode, id_of(1), 3, 9000, bytes_of(1), 100), PutResult::kNew);
        ASSERT_EQ(d->put_record(Kind::kRelay, id_of(2), 4, 9000, bytes_of(2), 100), PutResult::kNew);
        ASSERT_EQ(d->mark_down(200, 50, id_of(0x5e)).size(), 2u);
        d->mark_seen(id_of(1), 210);
        ASSERT_TRUE(d->put_name("n.example", owner, 1, 9000, bytes_of(5)));
    }
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    auto const r = d->get_record(Kind::kNode, id_of(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->sequence, 3u);
    EXPECT_EQ(r->bytes, bytes_of(1));
    EXPECT_EQ(r->liveness, Liveness::kLive);
    EXPECT_EQ(r->last_seen_s, 210u);
    EXPECT_EQ(d->get_record(Kind::kRelay, id_of(2))->liveness, Liveness::kDown);
    EXPECT_EQ(*d->get_name("n.example"), bytes_of(5));
    EXPECT_EQ(d->put_record(Kind::kNode, id_of(1), 3, 9000, bytes_of(7), 300), PutResult::kReplayed);
}

TEST(RegistryDb, ConcurrentWritersOfOneIdKeepTheNewest) {
    TempDir dir;
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (uint64_t s = 1; s <= 50; ++s) d->put_record(Kind::kNode, id_of(1), s * 4 + uint64_t(t), 9000,
                                                               bytes_of(uint8_t(t)), 1);
        });
    }
    for (auto& th : threads) th.join();
    auto const r = d->get_record(Kind::kNode, id_of(1));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->sequence, 50u * 4 + 3);
    EXPECT_EQ(r->bytes, bytes_of(3));
}

TEST(RegistryDb, ACrashLosesNothingAcknowledged) {
    TempDir dir;
    auto const path = dir.path() / "registry.db";
    { ASSERT_TRUE(open_db(dir)); }
    std::unique_ptr<RegistryDb> child_db;   // opened in the child, never closed
    int const last = voxa::test::acknowledged_writes_of_killed_child(100, [&](int i) {
        std::string e;
        if (!child_db) child_db = RegistryDb::open(path, 1000, &e);
        return child_db &&
               child_db->put_record(Kind::kNode, id_of(uint8_t(i)), 1, 9000, bytes_of(uint8_t(i)), 1) == PutResult::kNew;
    });
    ASSERT_EQ(last, 100);
    auto d = open_db(dir);
    ASSERT_TRUE(d);
    for (int i = 1; i <= last; ++i) {
        auto const r = d->get_record(Kind::kNode, id_of(uint8_t(i)));
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->bytes, bytes_of(uint8_t(i)));
    }
}

}  // namespace
}  // namespace voxa::registry
