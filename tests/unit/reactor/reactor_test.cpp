// Doorbell (no lost wakeup under a producer/consumer race), Reactor (sources polled, timers fired, sleeps when
// idle with little CPU, wakes promptly on ring(), stops), and thread pinning and naming.
#include <gtest/gtest.h>

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "reactor/doorbell.h"
#include "reactor/reactor.h"
#include "reactor/spsc_ring.h"
#include "reactor/thread.h"

namespace voxa::reactor {
namespace {

// Sanitizer builds run fewer iterations (set by meson.build).
constexpr bool kSanitized = VOXA_TEST_SANITIZED != 0;

uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

TEST(Doorbell, RingWritesOnlyWhenArmedAndOncePerSleep) {
    Doorbell bell;
    ASSERT_GE(bell.fd(), 0);
    bell.ring();  // not armed: no write
    EXPECT_FALSE(readable(bell.fd()));
    EXPECT_EQ(bell.wakes(), 0u);
    bell.arm();
    bell.ring();
    bell.ring();  // the first ring took the armed flag
    EXPECT_TRUE(readable(bell.fd()));
    EXPECT_EQ(bell.wakes(), 1u);
    bell.disarm();
    bell.drain();
    EXPECT_FALSE(readable(bell.fd()));
    bell.ring();  // disarmed again
    EXPECT_FALSE(readable(bell.fd()));
    EXPECT_EQ(bell.wakes(), 1u);
}

// The consumer sleeps with an effectively infinite timeout (5 s) whenever its queue looks empty; a lost wakeup
// shows up as a sleep that ends by timeout with an item waiting. The producer pauses at random so that the
// consumer really goes to sleep thousands of times, racing with pushes.
TEST(Doorbell, NoLostWakeupUnderRace) {
    uint64_t const items = kSanitized ? 5'000 : 30'000;
    SpscRing<uint64_t> queue(64);
    Doorbell bell;
    std::vector<uint32_t> pauses(items);
    for (auto& p : pauses) p = randombytes_uniform(4) == 0 ? randombytes_uniform(30) : 0;  // microseconds

    uint64_t timeouts = 0;
    uint64_t sleeps = 0;
    uint64_t arms = 0;
    uint64_t bad = 0;
    std::thread consumer([&] {
        uint64_t expected = 0;
        uint64_t v = 0;
        while (expected < items) {
            if (queue.try_pop(&v)) {
                bad += v != expected;
                expected += 1;
                continue;
            }
            bell.arm();
            arms += 1;
            if (queue.try_pop(&v)) {  // the re-check after arming
                bell.disarm();
                bad += v != expected;
                expected += 1;
                continue;
            }
            pollfd p{bell.fd(), POLLIN, 0};
            // After one lost wakeup the test has failed; stop waiting so that it also ends quickly.
            if (::poll(&p, 1, timeouts == 0 ? 5000 : 0) == 0) timeouts += 1;
            sleeps += 1;
            bell.disarm();
            bell.drain();
        }
    });
    for (uint64_t i = 0; i < items; ++i) {
        while (!queue.try_push(i)) std::this_thread::yield();
        bell.ring();
        if (pauses[i] != 0) std::this_thread::sleep_for(std::chrono::microseconds(pauses[i]));
    }
    consumer.join();
    EXPECT_EQ(timeouts, 0u) << "a wakeup was lost";
    EXPECT_EQ(bad, 0u);
    EXPECT_GT(sleeps, items / 100) << "the race was not exercised";
    EXPECT_LE(bell.wakes(), arms);
    std::printf("doorbell: %llu items, %llu arms, %llu sleeps, %llu eventfd writes\n",
                static_cast<unsigned long long>(items), static_cast<unsigned long long>(arms),
                static_cast<unsigned long long>(sleeps), static_cast<unsigned long long>(bell.wakes()));
}

// Records the order and the time of each poll; reports `work` units of work each time.
struct RecordingSource final : PollSource {
    std::vector<int>* order = nullptr;
    int id = 0;
    std::size_t work = 0;
    uint64_t last_now_ns = 0;
    std::size_t poll(uint64_t now_ns) noexcept override {
        order->push_back(id);
        last_now_ns = now_ns;
        return work;
    }
};

// A source that moves the clock while it works (time passing during a burst) and records what the loop clock
// says before and after.
struct ClockReadingSource final : PollSource {
    ManualClock* clock = nullptr;
    const Clock* loop = nullptr;
    uint64_t before_ns = 0, after_ns = 0;
    std::size_t poll(uint64_t) noexcept override {
        before_ns = loop->now_ns();
        clock->advance_ns(70'000);   // the burst took 70 µs
        after_ns = loop->now_ns();
        return 1;
    }
};

// The engine's clock: one reading per iteration inside run_once(), the underlying clock outside it; never
// backwards.
TEST(Reactor, LoopClockIsTheIterationsTimeInsideRunOnce) {
    ManualClock clock(5'000'000);
    Doorbell bell;
    Reactor reactor(clock, ReactorConfig{}, bell);
    ClockReadingSource s;
    s.clock = &clock;
    s.loop = &reactor.loop_clock();
    reactor.add_source(s);
    EXPECT_EQ(reactor.loop_clock().now_ns(), 5'000'000u);   // outside: the clock itself
    clock.advance_ns(1'000);
    EXPECT_EQ(reactor.loop_clock().now_ns(), 5'001'000u);
    EXPECT_EQ(reactor.run_once(), 1u);
    EXPECT_EQ(s.before_ns, 5'001'000u);
    EXPECT_EQ(s.after_ns, 5'001'000u) << "one reading per iteration";
    EXPECT_EQ(reactor.loop_clock().now_ns(), 5'071'000u) << "outside run_once again: live";
    EXPECT_EQ(reactor.run_once(), 1u);
    EXPECT_EQ(s.before_ns, 5'071'000u);
    EXPECT_GE(reactor.loop_clock().now_ns(), s.after_ns);
}

TEST(Reactor, RunOncePollsSourcesInOrderAndFiresTimers) {
    ManualClock clock(5'000'000);
    Doorbell bell;
    Reactor reactor(clock, ReactorConfig{}, bell);
    std::vector<int> order;
    RecordingSource a, b;
    a.order = b.order = &order;
    a.id = 1;
    b.id = 2;
    b.work = 3;
    reactor.add_source(a);
    reactor.add_source(b);

    int fired = 0;
    Timer timer([](Timer& t, uint64_t) noexcept { *static_cast<int*>(t.context) += 1; }, &fired);
    reactor.timers().schedule(timer, clock.now_ns() + 5 * kNsPerMs);

    EXPECT_EQ(reactor.run_once(), 3u);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_EQ(a.last_now_ns, 5'000'000u);
    b.work = 0;
    clock.advance_ns(5 * kNsPerMs - 1);
    EXPECT_EQ(reactor.run_once(), 0u);
    EXPECT_EQ(fired, 0);
    clock.advance_ns(1);
    EXPECT_EQ(reactor.run_once(), 1u);  // the timer counts as work
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(order.size(), 6u);
    const ReactorStats& s = reactor.stats();
    EXPECT_EQ(s.loops, 3u);
    EXPECT_EQ(s.busy_loops, 2u);
    EXPECT_EQ(s.timers_fired, 1u);
    EXPECT_EQ(s.sleeps, 0u);
}

// A Waiter that does not sleep: it records how many loops ran before each wait and stops the reactor after a few.
struct ScriptedWaiter final : Waiter {
    const Reactor* reactor = nullptr;
    std::atomic<bool>* stop = nullptr;
    std::vector<uint64_t> loops_at_wait;
    std::vector<uint64_t> timeouts_ns;
    void wait(uint64_t timeout_ns) noexcept override {
        loops_at_wait.push_back(reactor->stats().loops);
        timeouts_ns.push_back(timeout_ns);
        if (loops_at_wait.size() == 3) stop->store(true);
    }
};

TEST(Reactor, SpinsBeforeSleepingThenSleepsUntilTheNextTimer) {
    ManualClock clock(1'000'000'000);
    Doorbell bell;
    ReactorConfig config;
    config.idle_spins = 50;
    config.sleep_max_ns = 2 * kNsPerMs;
    Reactor reactor(clock, config, bell);
    std::atomic<bool> stop{false};
    ScriptedWaiter waiter;
    waiter.reactor = &reactor;
    waiter.stop = &stop;
    reactor.set_waiter(waiter);
    Timer timer([](Timer&, uint64_t) noexcept {}, nullptr);
    reactor.timers().schedule(timer, clock.now_ns() + 700'000);
    reactor.run(stop);
    ASSERT_EQ(waiter.loops_at_wait.size(), 3u);
    // 1 + idle_spins empty loops, then the re-check after arming, then the first sleep.
    EXPECT_EQ(waiter.loops_at_wait[0], 1u + config.idle_spins + 1u);
    // Already sleepy: each later sleep follows one plain poll and one re-check.
    EXPECT_EQ(waiter.loops_at_wait[1], waiter.loops_at_wait[0] + 2);
    EXPECT_EQ(waiter.timeouts_ns[0], 700'000u);  // the timer is sooner than sleep_max
    EXPECT_EQ(reactor.stats().sleeps, 3u);
    reactor.timers().cancel(timer);
}

struct ReactorThread {
    SteadyClock clock;
    Doorbell bell;
    Reactor reactor;
    std::atomic<bool> stop{false};
    uint64_t cpu_ns = 0;
    std::thread thread;

    explicit ReactorThread(const ReactorConfig& config) : reactor(clock, config, bell) {}
    ~ReactorThread() {
        if (thread.joinable()) finish();  // a failed ASSERT left early
    }
    void start() {
        thread = std::thread([this] {
            uint64_t const cpu0 = thread_cpu_ns();
            reactor.run(stop);
            cpu_ns = thread_cpu_ns() - cpu0;
        });
    }
    void finish() {
        stop.store(true);
        bell.ring();
        thread.join();
    }
};

TEST(Reactor, SleepsWhenIdleAndStaysCheap) {
    ReactorThread rt(ReactorConfig{});  // defaults: 200 spins, 1 ms sleeps
    rt.start();
    auto const t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rt.finish();
    double const wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    double const cpu_ms = static_cast<double>(rt.cpu_ns) / 1e6;
    const ReactorStats& s = rt.reactor.stats();
    std::printf("idle reactor: %.1f ms wall, %.2f ms cpu (%.1f%%), %llu loops, %llu sleeps\n", wall_ms, cpu_ms,
                100.0 * cpu_ms / wall_ms, static_cast<unsigned long long>(s.loops),
                static_cast<unsigned long long>(s.sleeps));
    EXPECT_GE(s.sleeps, 50u);  // ~1 ms sleeps over 200 ms (fewer when the machine is loaded)
    EXPECT_EQ(s.busy_loops, 0u);
    EXPECT_LT(cpu_ms, 0.10 * wall_ms) << "an idle worker must not burn its core";
}

// Pushes timestamps into the reactor's queue; the source records how long each took to be seen.
struct QueueSource final : PollSource {
    SpscRing<uint64_t> queue{64};
    std::atomic<uint64_t> received{0};
    std::vector<uint64_t> latencies_ns;  // written by the reactor thread only
    std::size_t poll(uint64_t now_ns) noexcept override {
        uint64_t sent_ns = 0;
        std::size_t n = 0;
        while (queue.try_pop(&sent_ns)) {
            latencies_ns.push_back(now_ns - sent_ns);
            n += 1;
        }
        if (n != 0) received.fetch_add(n, std::memory_order_release);
        return n;
    }
};

// Forwards to an FdWaiter and tells the test when the reactor is about to sleep.
struct SignallingWaiter final : Waiter {
    FdWaiter inner;
    std::atomic<uint64_t> waits{0};
    explicit SignallingWaiter(int fd) : inner(fd) {}
    void wait(uint64_t timeout_ns) noexcept override {
        waits.fetch_add(1, std::memory_order_release);
        inner.wait(timeout_ns);
    }
};

TEST(Reactor, WakesPromptlyOnRing) {
    ReactorConfig config;
    config.sleep_max_ns = 10 * kNsPerS;  // only a ring() can wake it in time
    ReactorThread rt(config);
    QueueSource source;
    source.latencies_ns.reserve(64);
    SignallingWaiter waiter(rt.bell.fd());
    rt.reactor.add_source(source);
    rt.reactor.set_waiter(waiter);
    rt.start();
    constexpr int kRounds = 20;
    // No ASSERT inside the loop: the reactor thread uses `source` and `waiter`, so it must stop before they go.
    const char* failure = nullptr;
    uint64_t waits_at_push = 0;
    for (int i = 0; i < kRounds && failure == nullptr; ++i) {
        // Wait until the reactor has gone to sleep after handling the previous push, then give it a moment to be
        // inside ppoll.
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (waiter.waits.load(std::memory_order_acquire) == waits_at_push && failure == nullptr) {
            if (std::chrono::steady_clock::now() > deadline) failure = "the reactor never went to sleep";
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        waits_at_push = waiter.waits.load(std::memory_order_acquire);
        if (!source.queue.try_push(rt.clock.now_ns())) failure = "queue full";
        rt.bell.ring();
        while (failure == nullptr && source.received.load(std::memory_order_acquire) != static_cast<uint64_t>(i + 1)) {
            if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(5)) failure = "never woke";
            std::this_thread::yield();
        }
    }
    rt.finish();
    ASSERT_EQ(failure, nullptr) << failure;
    std::vector<uint64_t> lat = source.latencies_ns;
    ASSERT_EQ(lat.size(), static_cast<std::size_t>(kRounds));
    std::sort(lat.begin(), lat.end());
    std::printf("wake on ring: median %.1f us, max %.1f us\n", static_cast<double>(lat[lat.size() / 2]) / 1e3,
                static_cast<double>(lat.back()) / 1e3);
    EXPECT_LT(lat[lat.size() / 2], 20 * kNsPerMs);
    EXPECT_LT(lat.back(), 500 * kNsPerMs);  // against a 10 s sleep: the ring woke it
    EXPECT_GE(rt.reactor.stats().sleeps, static_cast<uint64_t>(kRounds));
    EXPECT_GE(rt.bell.wakes(), 1u);
}

TEST(Reactor, TimerWakesASleepingReactor) {
    ReactorConfig config;
    config.sleep_max_ns = 10 * kNsPerS;
    ReactorThread rt(config);
    struct Ctx {
        std::atomic<bool>* stop;
        std::atomic<uint64_t> fired_ns{0};
    } ctx{&rt.stop};
    Timer timer(
        [](Timer& t, uint64_t now_ns) noexcept {
            auto* c = static_cast<Ctx*>(t.context);
            c->fired_ns.store(now_ns);
            c->stop->store(true);
        },
        &ctx);
    uint64_t const deadline_ns = rt.clock.now_ns() + 30 * kNsPerMs;
    rt.reactor.timers().schedule(timer, deadline_ns);  // before the thread starts: a setup-time schedule
    rt.start();
    rt.thread.join();
    uint64_t const fired_ns = ctx.fired_ns.load();
    EXPECT_GE(fired_ns, deadline_ns);
    EXPECT_LT(fired_ns - deadline_ns, 200 * kNsPerMs);
    EXPECT_GE(rt.reactor.stats().sleeps, 1u);
    EXPECT_EQ(rt.reactor.stats().timers_fired, 1u);
}

TEST(Reactor, StopAndRingEndsASleepPromptly) {
    ReactorConfig config;
    config.sleep_max_ns = 10 * kNsPerS;
    ReactorThread rt(config);
    rt.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto const t0 = std::chrono::steady_clock::now();
    rt.finish();
    auto const took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, std::chrono::seconds(1));
    EXPECT_GE(rt.reactor.stats().sleeps, 1u);
}

TEST(Thread, PinToCpu0) {
    bool allowed = false;
    bool pinned = false;
    std::string error;
    std::vector<int> after;
    int cpu = -1;
    std::thread t([&] {
        std::vector<int> const cpus = allowed_cpus();
        allowed = std::find(cpus.begin(), cpus.end(), 0) != cpus.end();
        if (!allowed) return;
        pinned = pin_current_thread(0, &error);
        after = allowed_cpus();
        std::this_thread::yield();
        cpu = current_cpu();
    });
    t.join();
    if (!allowed) GTEST_SKIP() << "cpu 0 is not in this process's affinity mask";
    EXPECT_TRUE(pinned) << error;
    EXPECT_EQ(after, std::vector<int>{0});
    EXPECT_EQ(cpu, 0);
}

TEST(Thread, PinToMissingCpuFailsWithAClearError) {
    std::string error;
    std::string error_negative;
    bool ok = true;
    bool ok_negative = true;
    std::vector<int> before, after;
    std::thread t([&] {
        before = allowed_cpus();
        ok = pin_current_thread(9999, &error);
        ok_negative = pin_current_thread(-1, &error_negative);
        after = allowed_cpus();
    });
    t.join();
    EXPECT_FALSE(ok);
    EXPECT_NE(error.find("cpu 9999"), std::string::npos) << error;
    EXPECT_NE(error.find("Invalid argument"), std::string::npos) << error;  // the errno text
    EXPECT_NE(error.find("may use cpus"), std::string::npos) << error;
    std::printf("error: %s\n", error.c_str());
    EXPECT_FALSE(ok_negative);
    EXPECT_NE(error_negative.find("cpu -1"), std::string::npos) << error_negative;
    EXPECT_EQ(before, after);  // a failed pin leaves the affinity alone
    EXPECT_FALSE(before.empty());
    EXPECT_FALSE(pin_current_thread(9999, nullptr));  // no error string wanted
}

TEST(Thread, NameIsTruncatedTo15Bytes) {
    char name[32] = {};
    std::thread t([&] {
        set_current_thread_name("voxa-worker-0123456789");
        pthread_getname_np(pthread_self(), name, sizeof name);
    });
    t.join();
    EXPECT_STREQ(name, "voxa-worker-012");
}

}  // namespace
}  // namespace voxa::reactor
