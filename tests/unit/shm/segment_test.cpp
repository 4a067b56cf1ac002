// The segment file: creation (mode, header), attach by the other side, epochs, refusal of mismatched geometry,
// bad files and permissions, one live process per side, liveness.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "shm/messages.h"
#include "shm_fixture.h"

namespace voxa::shm::test {
namespace {

using SegmentTest = ShmTest;

TEST_F(SegmentTest, CreateWritesHeaderAndMode0600EvenWithPermissiveUmask) {
    mode_t const old = ::umask(0);
    auto s = open_ok(Side::kControl, small_config());
    ::umask(old);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->created());
    EXPECT_EQ(s->epoch(), 1u);

    struct stat st{};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    SegmentLayout layout;
    ASSERT_EQ(segment_layout(small_config(), &layout), "");
    EXPECT_EQ(std::size_t(st.st_size), layout.total_bytes);

    const SegmentHeader& h = s->header();
    EXPECT_EQ(std::memcmp(h.magic, "VOXASHM1", 8), 0);
    EXPECT_EQ(h.abi_version, kAbiVersion);
    EXPECT_EQ(h.ready.load(), kReadyValue);
    EXPECT_EQ(h.worker_count, 2u);
    EXPECT_EQ(h.ring_slots, 64u);
    EXPECT_EQ(h.slot_bytes, 256u);
    EXPECT_EQ(h.total_bytes, layout.total_bytes);
    EXPECT_EQ(h.stats_offset, layout.stats_offset);
    // Rings and stats are disjoint, in order, inside the file.
    EXPECT_EQ(h.rings[0].command_offset, kHeaderBytes);
    EXPECT_EQ(h.rings[0].event_offset, kHeaderBytes + layout.ring_bytes);
    EXPECT_EQ(h.rings[1].event_offset + layout.ring_bytes, h.stats_offset);
    EXPECT_LE(h.stats_offset + 2 * sizeof(StatsBlock), h.total_bytes);
    EXPECT_EQ(s->status(Side::kControl).pid, uint32_t(::getpid()));
    EXPECT_EQ(s->status(Side::kData).epoch, 0u);
}

TEST_F(SegmentTest, OtherSideAttachesAndSharesRings) {
    auto control = open_ok(Side::kControl, small_config());
    auto data = open_ok(Side::kData, small_config());
    ASSERT_TRUE(control && data);
    EXPECT_FALSE(data->created());
    EXPECT_EQ(data->epoch(), 1u);
    EXPECT_EQ(control->status(Side::kData).epoch, 1u);

    RingProducer cmd = control->command_producer(1);
    ASSERT_TRUE(push_command(cmd, Drain{2500}));
    RingConsumer in = data->command_consumer(1);
    SlotView v;
    ASSERT_TRUE(in.peek(&v));
    Command c;
    ASSERT_EQ(decode_command(v.type, v.body, &c), DecodeError::kNone);
    ASSERT_TRUE(std::holds_alternative<Drain>(c));
    EXPECT_EQ(std::get<Drain>(c).deadline_ms, 2500u);
    in.release();
    // Worker 0's ring is a different ring.
    RingConsumer other = data->command_consumer(0);
    EXPECT_FALSE(other.peek(&v));
}

TEST_F(SegmentTest, ReattachBumpsEpochAndKeepsState) {
    {
        auto control = open_ok(Side::kControl, small_config());
        RingProducer cmd = control->command_producer(0);
        ASSERT_TRUE(push_command(cmd, SetLogLevel{2}));
        EXPECT_EQ(control->status(Side::kControl).pid, uint32_t(::getpid()));
    }
    auto control = open_ok(Side::kControl, small_config());
    ASSERT_NE(control, nullptr);
    EXPECT_FALSE(control->created());
    EXPECT_EQ(control->epoch(), 2u);
    auto data = open_ok(Side::kData, small_config());
    RingConsumer in = data->command_consumer(0);
    SlotView v;
    ASSERT_TRUE(in.peek(&v));   // the command sent before the restart is still there
    EXPECT_EQ(v.type, uint16_t(MsgType::kLogLevel));
    EXPECT_EQ(v.seq, 0u);
}

TEST_F(SegmentTest, DetachClearsPid) {
    auto control = open_ok(Side::kControl, small_config());
    { auto data = open_ok(Side::kData, small_config()); }
    EXPECT_EQ(control->status(Side::kData).pid, 0u);
    EXPECT_EQ(control->status(Side::kData).epoch, 1u);
}

TEST_F(SegmentTest, GeometryMismatchIsRefusedNamingFileAndField) {
    auto control = open_ok(Side::kControl, small_config());
    struct Case {
        SegmentConfig config;
        const char* expect;
    };
    SegmentConfig workers = small_config(), slots = small_config(), bytes = small_config();
    workers.workers = 4;
    slots.ring_slots = 128;
    bytes.slot_bytes = 512;
    for (const Case& c : {Case{workers, "worker count is 2 in the segment but 4 is configured"},
                          Case{slots, "ring slot count is 64 in the segment but 128"},
                          Case{bytes, "ring slot bytes is 256 in the segment but 512"}}) {
        std::string error;
        auto s = Segment::open(path_, c.config, Side::kData, &error);
        EXPECT_EQ(s, nullptr);
        EXPECT_NE(error.find(path_), std::string::npos) << error;
        EXPECT_NE(error.find(c.expect), std::string::npos) << error;
    }
    // The refusals did not count as attaches.
    EXPECT_EQ(control->status(Side::kData).epoch, 0u);
}

TEST_F(SegmentTest, AbiVersionAndMagicMismatchRefused) {
    { auto control = open_ok(Side::kControl, small_config()); }
    int fd = ::open(path_.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint32_t const v2 = kAbiVersion + 1;
    ASSERT_EQ(::pwrite(fd, &v2, 4, offsetof(SegmentHeader, abi_version)), 4);
    std::string error;
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kData, &error), nullptr);
    EXPECT_NE(error.find("ABI version is 2 in the segment but 1"), std::string::npos) << error;
    ASSERT_EQ(::pwrite(fd, "NOTVOXA!", 8, 0), 8);
    ::close(fd);
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kData, &error), nullptr);
    EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
}

TEST_F(SegmentTest, UnfinishedSegmentRefusedAfterBoundedWait) {
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 8192), 0);   // a creator that died before `ready`
    ::close(fd);
    std::string error;
    uint64_t const t0 = monotonic_ns();
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kData, &error), nullptr);
    EXPECT_LT(monotonic_ns() - t0, 5'000'000'000u);
    EXPECT_NE(error.find("never finished"), std::string::npos) << error;
}

TEST_F(SegmentTest, WrongPermissionsRefused) {
    { auto control = open_ok(Side::kControl, small_config()); }
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
    std::string error;
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kControl, &error), nullptr);
    EXPECT_NE(error.find("mode 0644"), std::string::npos) << error;
    EXPECT_NE(error.find("expected mode 0600"), std::string::npos) << error;
    ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
    EXPECT_NE(Segment::open(path_, small_config(), Side::kControl, &error), nullptr) << error;
}

TEST_F(SegmentTest, SymlinkAndMissingDirectoryRefused) {
    std::string error;
    std::string const missing = dir_ + "/no/such/dir/voxa.shm";
    EXPECT_EQ(Segment::open(missing, small_config(), Side::kControl, &error), nullptr);
    EXPECT_NE(error.find(missing), std::string::npos) << error;
    // O_NOFOLLOW: a link planted where the segment should be is not followed.
    std::string const target = dir_ + "/elsewhere";
    ASSERT_EQ(::symlink(target.c_str(), path_.c_str()), 0);
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kControl, &error), nullptr);
    EXPECT_FALSE(std::filesystem::exists(target));
}

TEST_F(SegmentTest, InvalidGeometryRefused) {
    SegmentConfig c = small_config();
    std::string error;
    c.slot_bytes = 300;   // not a multiple of 64
    EXPECT_EQ(Segment::open(path_, c, Side::kControl, &error), nullptr);
    EXPECT_NE(error.find("slot_bytes is 300"), std::string::npos) << error;
    c = small_config();
    c.ring_slots = 100;   // not a power of two
    EXPECT_EQ(Segment::open(path_, c, Side::kControl, &error), nullptr);
    EXPECT_NE(error.find("ring_slots is 100"), std::string::npos) << error;
    c = small_config();
    c.workers = kWorkersMax + 1;
    EXPECT_EQ(Segment::open(path_, c, Side::kControl, &error), nullptr);
    EXPECT_NE(error.find("workers is 65"), std::string::npos) << error;
    EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(SegmentTest, SecondLiveProcessOfTheSameSideRefused) {
    auto control = open_ok(Side::kControl, small_config());
    int ready[2], go[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    pid_t const pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string error;
        auto data = Segment::open(path_, small_config(), Side::kData, &error);
        char b = data ? 'y' : 'n';
        if (::write(ready[1], &b, 1) != 1) ::_exit(3);
        if (::read(go[0], &b, 1) != 1) ::_exit(4);
        ::_exit(data ? 0 : 2);   // no clean detach: as if killed
    }
    char b = 0;
    ASSERT_EQ(::read(ready[0], &b, 1), 1);
    ASSERT_EQ(b, 'y');
    std::string error;
    EXPECT_EQ(Segment::open(path_, small_config(), Side::kData, &error), nullptr);
    EXPECT_NE(error.find("already attached by running process " + std::to_string(pid)), std::string::npos) << error;
    EXPECT_TRUE(control->peer_alive(monotonic_ns(), 1'000'000'000));
    ASSERT_EQ(::write(go[1], &b, 1), 1);
    EXPECT_EQ(wait_child(pid), 0);
    for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);

    // The child died without detaching: its pid stays, but it is gone, so the peer is down and a new one may attach.
    EXPECT_EQ(control->status(Side::kData).pid, uint32_t(pid));
    EXPECT_FALSE(control->peer_alive(monotonic_ns(), 1'000'000'000));
    auto data = open_ok(Side::kData, small_config());
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(data->epoch(), 2u);
}

// kill -9 leaves a zombie until the parent reaps it; kill(pid, 0) still succeeds on it. A restart in that window
// (a supervisor restarting at once, or voxa-control's tests) must not be refused as "already attached".
TEST_F(SegmentTest, KilledButUnreapedProcessCountsAsGone) {
    auto control = open_ok(Side::kControl, small_config());
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t const pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::string error;
        auto data = Segment::open(path_, small_config(), Side::kData, &error);
        char b = data ? 'y' : 'n';
        if (::write(ready[1], &b, 1) != 1) ::_exit(3);
        for (;;) ::pause();
    }
    char b = 0;
    ASSERT_EQ(::read(ready[0], &b, 1), 1);
    ASSERT_EQ(b, 'y');
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT), 0);   // dead, deliberately not reaped
    EXPECT_EQ(::kill(pid, 0), 0);                                         // still "exists" to kill()
    EXPECT_FALSE(control->peer_alive(monotonic_ns(), 1'000'000'000));
    auto data = open_ok(Side::kData, small_config());
    EXPECT_NE(data, nullptr);
    EXPECT_EQ(wait_child(pid), 128 + SIGKILL);
    for (int fd : {ready[0], ready[1]}) ::close(fd);
}

TEST_F(SegmentTest, PeerAliveFollowsHeartbeat) {
    auto control = open_ok(Side::kControl, small_config());
    EXPECT_FALSE(control->peer_alive(monotonic_ns(), 1'000'000'000));   // never attached
    auto data = open_ok(Side::kData, small_config());
    uint64_t const now = monotonic_ns();
    data->heartbeat(now);
    EXPECT_TRUE(control->peer_alive(now + 500'000'000, 1'000'000'000));
    EXPECT_FALSE(control->peer_alive(now + 2'000'000'000, 1'000'000'000));   // stale heartbeat
    EXPECT_EQ(control->status(Side::kData).heartbeat_ns, now);
    EXPECT_TRUE(data->peer_alive(monotonic_ns(), 1'000'000'000));
    data.reset();
    EXPECT_FALSE(control->peer_alive(now, 1'000'000'000));   // detached
}

}  // namespace
}  // namespace voxa::shm::test
