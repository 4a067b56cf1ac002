// The channel between two real processes: millions of messages through one ring (none lost, none torn, order
// kept), and restarts of either side (state and unread messages survive, epochs go up).
#include <signal.h>

#include <cstring>

#include "shm/messages.h"
#include "shm/stats.h"
#include "shm_fixture.h"

namespace voxa::shm::test {
namespace {

using TwoProcessTest = ShmTest;

// FNV-1a 64: a checksum the consumer recomputes over the body it received.
uint64_t fnv1a(const uint8_t* p, std::size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

// Body of message i: | i u64 | payload (i % 181 bytes, derived from i) | fnv1a of the two before u64 |
std::size_t fill_message(uint64_t i, std::span<uint8_t> out) {
    std::size_t const payload = i % 181;
    std::memcpy(out.data(), &i, 8);
    for (std::size_t k = 0; k < payload; ++k) out[8 + k] = uint8_t((i >> (k % 8)) + k);
    uint64_t const sum = fnv1a(out.data(), 8 + payload);
    std::memcpy(out.data() + 8 + payload, &sum, 8);
    return 16 + payload;
}

TEST_F(TwoProcessTest, MillionsOfMessagesNoneLostNoneTornOrderKept) {
    constexpr uint64_t kMessages = VOXA_TEST_SANITIZED ? 200'000 : 2'000'000;
    SegmentConfig config = small_config();
    config.ring_slots = 1024;
    auto control = open_ok(Side::kControl, config);
    ASSERT_NE(control, nullptr);
    pid_t const pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // The producer: the data plane's side of worker 1's event ring, in its own mapping.
        std::string error;
        auto data = Segment::open(path_, config, Side::kData, &error);
        if (!data) ::_exit(2);
        RingProducer p = data->event_producer(1);
        for (uint64_t i = 0; i < kMessages;) {
            std::span<uint8_t> s = p.reserve();
            if (s.empty()) {
                ::sched_yield();
                continue;
            }
            p.commit(uint16_t(0x7000 | (i & 0xff)), fill_message(i, s));
            ++i;
        }
        ::_exit(0);
    }
    RingConsumer c = control->event_consumer(1);
    uint64_t lost_or_reordered = 0, torn = 0, empty_polls = 0;
    uint64_t const t0 = monotonic_ns();
    for (uint64_t i = 0; i < kMessages;) {
        SlotView v;
        if (!c.peek(&v)) {
            if (++empty_polls % 64 == 0) ::sched_yield();
            continue;
        }
        uint64_t got = 0;
        if (v.body.size() >= 16) std::memcpy(&got, v.body.data(), 8);
        lost_or_reordered += got != i || v.seq != i;
        uint64_t sum = 0;
        if (v.body.size() != 16 + got % 181 || v.type != uint16_t(0x7000 | (got & 0xff))) {
            ++torn;
        } else {
            std::memcpy(&sum, v.body.data() + v.body.size() - 8, 8);
            torn += sum != fnv1a(v.body.data(), v.body.size() - 8);
        }
        c.release();
        ++i;
    }
    uint64_t const elapsed_ns = monotonic_ns() - t0;
    ASSERT_EQ(wait_child(pid), 0);
    EXPECT_EQ(lost_or_reordered, 0u);
    EXPECT_EQ(torn, 0u);
    SlotView v;
    EXPECT_FALSE(c.peek(&v));   // nothing extra
    for (uint64_t d : c.stats().drops) EXPECT_EQ(d, 0u);
    std::printf("two-process ring: %llu messages in %.3f s (%.2f M msg/s)\n", (unsigned long long)kMessages,
                double(elapsed_ns) / 1e9, double(kMessages) / (double(elapsed_ns) / 1e3));
}

// Child 1 attaches as the data plane, reads one of two commands, publishes stats and five events, then is killed.
// The control plane reads two events. Child 2 attaches: epoch 2, sees child 1's counters and the second command,
// adds three events and detaches cleanly. The control plane restarts too and finds everything in order.
TEST_F(TwoProcessTest, EitherSideRestartsWithoutLosingTheOthersState) {
    auto control = open_ok(Side::kControl, small_config());
    ASSERT_NE(control, nullptr);
    RingProducer cmd = control->command_producer(0);
    ASSERT_TRUE(push_command(cmd, SetLogLevel{0}));
    ASSERT_TRUE(push_command(cmd, CircuitPolicy{3, 5, 3, 120}));

    auto node = [](uint8_t i) {
        NodeId n{};
        n.fill(i);
        return n;
    };
    pid_t const first = ::fork();
    ASSERT_GE(first, 0);
    if (first == 0) {
        std::string error;
        auto data = Segment::open(path_, small_config(), Side::kData, &error);
        if (!data || data->epoch() != 1) ::_exit(2);
        RingConsumer in = data->command_consumer(0);
        SlotView v;
        Command c;
        if (!in.peek(&v) || decode_command(v.type, v.body, &c) != DecodeError::kNone) ::_exit(3);
        if (!std::holds_alternative<SetLogLevel>(c)) ::_exit(4);
        in.release();
        StatsWriter w(data->stats_block(0), data->epoch());
        uint64_t const values[3] = {11, 22, 33};
        w.publish(values, monotonic_ns());
        RingProducer out = data->event_producer(0);
        for (uint8_t i = 0; i < 5; ++i)
            if (!push_event(out, SessionUp{node(i)})) ::_exit(5);
        data->heartbeat(monotonic_ns());
        ::raise(SIGKILL);   // no clean detach
        ::_exit(6);
    }
    ASSERT_EQ(wait_child(first), 128 + SIGKILL);
    EXPECT_EQ(control->status(Side::kData).epoch, 1u);
    EXPECT_EQ(control->status(Side::kData).pid, uint32_t(first));
    EXPECT_FALSE(control->peer_alive(monotonic_ns(), 10'000'000'000ULL));   // the process is gone

    // The control plane keeps consuming events from the dead data plane.
    uint8_t next_node = 0;
    auto expect_events = [&](RingConsumer& ev, int n) {
        for (int i = 0; i < n; ++i) {
            SlotView v;
            ASSERT_TRUE(ev.peek(&v)) << "event " << int(next_node);
            Event e;
            ASSERT_EQ(decode_event(v.type, v.body, &e), DecodeError::kNone);
            ASSERT_TRUE(std::holds_alternative<SessionUp>(e));
            EXPECT_EQ(std::get<SessionUp>(e).peer, node(next_node));
            ++next_node;
            ev.release();
        }
    };
    {
        RingConsumer ev = control->event_consumer(0);
        expect_events(ev, 2);
    }

    pid_t const second = ::fork();
    ASSERT_GE(second, 0);
    if (second == 0) {
        int code = 0;
        {
            std::string error;
            auto data = Segment::open(path_, small_config(), Side::kData, &error);
            if (!data) ::_exit(2);
            if (data->epoch() != 2) code = 3;
            StatsWriter w(data->stats_block(0), data->epoch());
            if (w.value(0) != 11 || w.value(2) != 33) code = 4;
            RingConsumer in = data->command_consumer(0);
            SlotView v;
            Command c;
            if (!in.peek(&v) || decode_command(v.type, v.body, &c) != DecodeError::kNone) code = 5;
            if (code == 0 && (!std::holds_alternative<CircuitPolicy>(c) || std::get<CircuitPolicy>(c).rotation_s != 120))
                code = 6;
            if (code == 0) in.release();
            uint64_t const values[3] = {w.value(0) + 1, w.value(1) + 1, w.value(2) + 1};
            w.publish(values, monotonic_ns());
            RingProducer out = data->event_producer(0);
            for (uint8_t i = 5; i < 8; ++i)
                if (!push_event(out, SessionUp{node(i)})) code = 7;
        }   // clean detach
        ::_exit(code);
    }
    ASSERT_EQ(wait_child(second), 0);
    EXPECT_EQ(control->status(Side::kData).epoch, 2u);
    EXPECT_EQ(control->status(Side::kData).pid, 0u);

    // Now the control plane restarts: its epoch goes up, the unread events and the stats are still there.
    control.reset();
    control = open_ok(Side::kControl, small_config());
    ASSERT_NE(control, nullptr);
    EXPECT_EQ(control->epoch(), 2u);
    RingConsumer ev = control->event_consumer(0);
    expect_events(ev, 6);
    SlotView v;
    EXPECT_FALSE(ev.peek(&v));
    StatsSnapshot s;
    ASSERT_EQ(read_stats(*control->stats_block(0), &s), StatsRead::kOk);
    EXPECT_EQ(s.epoch, 2u);
    EXPECT_EQ(s.counters[0], 12u);
    EXPECT_EQ(s.counters[2], 34u);
    RingConsumer none;
    EXPECT_FALSE(none.valid());
    RingProducer cmd2 = control->command_producer(0);
    EXPECT_EQ(cmd2.size_approx(), 0u);   // both commands consumed, one by each data plane
}

}  // namespace
}  // namespace voxa::shm::test
