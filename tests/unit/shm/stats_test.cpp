// The stats blocks: the name table, publish and read, a dead writer detected and repaired, and the seqlock never
// yielding a torn snapshot, between two threads (for TSan) and between two processes.
#include <signal.h>

#include <atomic>
#include <cctype>
#include <set>
#include <string>
#include <thread>

#include "shm/stats.h"
#include "shm_fixture.h"

namespace voxa::shm::test {
namespace {

using StatsTest = ShmTest;

TEST(ShmStatsNames, TableIsCompleteUniqueAndSnakeCase) {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < std::size_t(Stat::kCount); ++i) {
        std::string_view const n = stat_name(i);
        ASSERT_FALSE(n.empty()) << i;
        EXPECT_TRUE(seen.insert(n).second) << n;
        for (char ch : n) EXPECT_TRUE(std::islower(uint8_t(ch)) || ch == '_') << n;
    }
    EXPECT_EQ(stat_name(std::size_t(Stat::kCount)), "");
    EXPECT_EQ(stat_name(kStatsCounters - 1), "");
    EXPECT_EQ(stat_name(std::size_t(Stat::kRxPackets)), "rx_packets");
    EXPECT_EQ(stat_name(std::size_t(Stat::kCpuNs)), "cpu_ns");
    EXPECT_EQ(kStatInfo[std::size_t(Stat::kSessionsUp)].kind, StatKind::kGauge);
}

TEST_F(StatsTest, PublishThenReadBackByNameWithEpoch) {
    auto control = open_ok(Side::kControl, small_config());
    auto data = open_ok(Side::kData, small_config());
    StatsWriter w(data->stats_block(1), data->epoch());
    std::array<uint64_t, std::size_t(Stat::kCount)> v{};
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 1000 + i;
    w.publish(v, 123);
    StatsSnapshot s;
    ASSERT_EQ(read_stats(*control->stats_block(1), &s), StatsRead::kOk);
    EXPECT_EQ(s.epoch, 1u);
    EXPECT_EQ(s.updated_ns, 123u);
    EXPECT_EQ(s.seq, 2u);
    EXPECT_EQ(s.counters[std::size_t(Stat::kTxBytes)], 1000 + std::size_t(Stat::kTxBytes));
    EXPECT_EQ(s.counters[kStatsCounters - 1], 0u);
    // Worker 0's block is separate and untouched.
    ASSERT_EQ(read_stats(*control->stats_block(0), &s), StatsRead::kOk);
    EXPECT_EQ(s.counters[0], 0u);
    EXPECT_EQ(s.seq, 0u);
}

TEST_F(StatsTest, WriterDeadMidPublicationIsReportedThenRepaired) {
    auto data = open_ok(Side::kData, small_config());
    StatsBlock* b = data->stats_block(0);
    {
        StatsWriter w(b, 1);
        uint64_t const v[3] = {7, 8, 9};
        w.publish(v, 1);
    }
    b->seq.store(b->seq.load() + 1);   // a writer killed inside publish()
    StatsSnapshot s;
    EXPECT_EQ(read_stats(*b, &s, 200), StatsRead::kWriterGone);
    StatsWriter again(b, 2);            // the restarted worker
    EXPECT_EQ(again.value(1), 8u);      // sees what was there
    ASSERT_EQ(read_stats(*b, &s), StatsRead::kOk);
    EXPECT_EQ(s.epoch, 2u);
    EXPECT_EQ(s.counters[2], 9u);
    EXPECT_EQ(s.seq % 2, 0u);
}

// Counters are always written as v,v,...,v: any snapshot with two different values is torn.
uint64_t torn_reads(const StatsBlock& b, const std::atomic<bool>& done, uint64_t* reads, uint64_t* last) {
    uint64_t torn = 0;
    while (!done.load(std::memory_order_acquire)) {
        StatsSnapshot s;
        if (read_stats(b, &s) != StatsRead::kOk) continue;
        ++*reads;
        for (uint64_t c : s.counters) torn += c != s.counters[0];
        torn += s.counters[0] < *last;   // publications never go backwards
        *last = s.counters[0];
    }
    return torn;
}

TEST_F(StatsTest, TwoThreadsNeverSeeATornSnapshot) {
    auto data = open_ok(Side::kData, small_config());
    StatsBlock* b = data->stats_block(0);
    constexpr uint64_t kPublications = VOXA_TEST_SANITIZED ? 20'000 : 500'000;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        StatsWriter w(b, data->epoch());
        std::array<uint64_t, kStatsCounters> v{};
        for (uint64_t i = 1; i <= kPublications; ++i) {
            v.fill(i);
            w.publish(v, i);
        }
        done.store(true, std::memory_order_release);
    });
    uint64_t reads = 0, last = 0;
    uint64_t const torn = torn_reads(*b, done, &reads, &last);
    writer.join();
    EXPECT_EQ(torn, 0u);
    EXPECT_GT(reads, 0u);
    StatsSnapshot s;
    ASSERT_EQ(read_stats(*b, &s), StatsRead::kOk);
    EXPECT_EQ(s.counters[kStatsCounters - 1], kPublications);
}

TEST_F(StatsTest, TwoProcessesNeverSeeATornSnapshot) {
    auto control = open_ok(Side::kControl, small_config());
    constexpr uint64_t kPublications = VOXA_TEST_SANITIZED ? 50'000 : 2'000'000;
    StatsBlock* b = control->stats_block(1);
    SharedFlag done;
    pid_t const pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string error;
        auto data = Segment::open(path_, small_config(), Side::kData, &error);
        if (!data) ::_exit(2);
        StatsWriter w(data->stats_block(1), data->epoch());
        std::array<uint64_t, kStatsCounters> v{};
        for (uint64_t i = 1; i <= kPublications; ++i) {
            v.fill(i);
            w.publish(v, monotonic_ns());
        }
        done->store(1, std::memory_order_release);
        ::_exit(0);
    }
    uint64_t torn = 0, reads = 0, last = 0, distinct = 0;
    while (done->load(std::memory_order_acquire) == 0) {
        StatsSnapshot s;
        StatsRead const r = read_stats(*b, &s);
        if (r != StatsRead::kOk) continue;
        ++reads;
        for (uint64_t c : s.counters) torn += c != s.counters[0];
        torn += s.counters[0] < last;
        distinct += s.counters[0] != last;
        last = s.counters[0];
    }
    ASSERT_EQ(wait_child(pid), 0);
    EXPECT_EQ(torn, 0u);
    EXPECT_GT(reads, 0u);
    StatsSnapshot s;
    ASSERT_EQ(read_stats(*b, &s), StatsRead::kOk);
    EXPECT_EQ(s.counters[0], kPublications);
    EXPECT_EQ(s.epoch, 1u);
    std::printf("stats seqlock across processes: %llu consistent reads, %llu distinct publications seen\n",
                (unsigned long long)reads, (unsigned long long)distinct);
}

}  // namespace
}  // namespace voxa::shm::test
