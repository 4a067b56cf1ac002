// TimingWheel: timers never fire early and fire at the first advance() that reaches their deadline, in deadline
// order (also across jumps of many rotations), cancel and reschedule (also from callbacks), and next_deadline_ns()
// is never later than the earliest deadline.
#include <gtest/gtest.h>

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "reactor/timing_wheel.h"

namespace voxa::reactor {
namespace {

// Sanitizer builds run fewer iterations (set by meson.build).
constexpr bool kSanitized = VOXA_TEST_SANITIZED != 0;

struct Fired {
    std::size_t id;
    uint64_t deadline_ns;
    uint64_t now_ns;
};

// What the timers of one test report to: the fire log and the now of the previous advance().
struct Log {
    std::vector<Fired> fired;
    uint64_t prev_now_ns = 0;
};

struct TestTimer {
    Timer timer;
    std::size_t id = 0;
    Log* log = nullptr;
};

void record(Timer& t, uint64_t now_ns) noexcept {
    auto* self = static_cast<TestTimer*>(t.context);
    EXPECT_FALSE(t.scheduled());  // unscheduled before its callback runs
    self->log->fired.push_back(Fired{self->id, t.deadline_ns(), now_ns});
}

std::vector<TestTimer> make_timers(std::size_t n, Log* log) {
    std::vector<TestTimer> timers(n);
    for (std::size_t i = 0; i < n; ++i) {
        timers[i].id = i;
        timers[i].log = log;
        timers[i].timer.fire = record;
        timers[i].timer.context = &timers[i];
    }
    return timers;
}

uint64_t uniform(uint64_t bound) {
    // randombytes_uniform takes 32 bits; compose two for larger bounds.
    if (bound <= UINT32_MAX) return randombytes_uniform(static_cast<uint32_t>(bound));
    uint64_t const v = (uint64_t{randombytes_random()} << 32) | randombytes_random();
    return v % bound;
}

// Every fired timer: not early, not late (the previous advance was before its deadline), and the whole log in
// deadline order.
void expect_exact_and_ordered(const Log& log) {
    for (std::size_t i = 0; i < log.fired.size(); ++i) {
        const Fired& f = log.fired[i];
        ASSERT_GE(f.now_ns, f.deadline_ns) << "timer " << f.id << " fired early";
        if (i > 0) {
            ASSERT_LE(log.fired[i - 1].deadline_ns, f.deadline_ns) << "out of order at " << i;
        }
    }
}

constexpr uint64_t kStart = 1'000'000;

TEST(TimingWheel, RandomDeadlinesFireExactlyOnTimeAndInOrder) {
    // 64 slots of 100 ns: one rotation is 6.4 us, the deadlines span ~8 rotations.
    TimingWheel wheel(100, 64, kStart);
    Log log;
    auto timers = make_timers(2000, &log);
    for (auto& t : timers) wheel.schedule(t.timer, kStart + 1 + uniform(50'000));  // after the first now
    EXPECT_EQ(wheel.size(), timers.size());
    uint64_t now = kStart;
    std::size_t total = 0;
    while (wheel.size() != 0) {
        uint64_t const prev = now;
        now += 1 + uniform(300);
        std::size_t const before = log.fired.size();
        std::size_t const n = wheel.advance(now);
        ASSERT_EQ(n, log.fired.size() - before);
        for (std::size_t i = before; i < log.fired.size(); ++i) {
            ASSERT_GT(log.fired[i].deadline_ns, prev) << "should have fired in the previous advance";
            ASSERT_EQ(log.fired[i].now_ns, now);
        }
        total += n;
        ASSERT_LT(now, kStart + 100'000);
    }
    EXPECT_EQ(total, timers.size());
    expect_exact_and_ordered(log);
}

TEST(TimingWheel, JumpOverManyRotationsFiresDueTimersInOrder) {
    TimingWheel wheel(1000, 16, kStart);  // one rotation = 16 us
    Log log;
    auto timers = make_timers(500, &log);
    for (auto& t : timers) wheel.schedule(t.timer, kStart + uniform(2'000'000));  // ~125 rotations
    uint64_t const now = kStart + 1'000'000;
    std::size_t const due = static_cast<std::size_t>(std::count_if(
        timers.begin(), timers.end(), [&](const TestTimer& t) { return t.timer.deadline_ns() <= now; }));
    EXPECT_EQ(wheel.advance(now), due);
    EXPECT_EQ(wheel.size(), timers.size() - due);
    for (const auto& t : timers) EXPECT_EQ(t.timer.scheduled(), t.timer.deadline_ns() > now);
    EXPECT_EQ(wheel.advance(kStart + 3'000'000), timers.size() - due);
    EXPECT_EQ(wheel.size(), 0u);
    expect_exact_and_ordered(log);
}

TEST(TimingWheel, EqualDeadlinesFireInSchedulingOrder) {
    TimingWheel wheel(100, 64, kStart);
    Log log;
    auto timers = make_timers(10, &log);
    for (std::size_t i = 0; i < timers.size(); ++i) wheel.schedule(timers[i].timer, kStart + 500);
    EXPECT_EQ(wheel.advance(kStart + 499), 0u);
    EXPECT_EQ(wheel.advance(kStart + 500), 10u);
    for (std::size_t i = 0; i < log.fired.size(); ++i) EXPECT_EQ(log.fired[i].id, i);
}

TEST(TimingWheel, CancelRemovesOnlyTheCancelled) {
    TimingWheel wheel(100, 64, kStart);
    Log log;
    auto timers = make_timers(100, &log);
    Timer never;  // cancelling an unscheduled timer is a no-op
    wheel.cancel(never);
    for (auto& t : timers) wheel.schedule(t.timer, kStart + 100 + t.id * 37);
    for (auto& t : timers) {
        if (t.id % 2 == 1) wheel.cancel(t.timer);
    }
    for (auto& t : timers) EXPECT_EQ(t.timer.scheduled(), t.id % 2 == 0);
    wheel.cancel(timers[1].timer);  // twice: still a no-op
    EXPECT_EQ(wheel.size(), 50u);
    EXPECT_EQ(wheel.advance(kStart + 100'000), 50u);
    for (const Fired& f : log.fired) EXPECT_EQ(f.id % 2, 0u);
    EXPECT_EQ(wheel.size(), 0u);
    EXPECT_EQ(wheel.next_deadline_ns(), UINT64_MAX);
}

TEST(TimingWheel, RescheduleMovesTheDeadline) {
    TimingWheel wheel(100, 64, kStart);
    Log log;
    auto timers = make_timers(2, &log);
    wheel.schedule(timers[0].timer, kStart + 1000);
    wheel.schedule(timers[0].timer, kStart + 50'000);  // later, several rotations away
    wheel.schedule(timers[1].timer, kStart + 50'000);
    wheel.schedule(timers[1].timer, kStart + 300);  // earlier
    EXPECT_EQ(wheel.size(), 2u);
    EXPECT_EQ(wheel.next_deadline_ns(), kStart + 300);
    EXPECT_EQ(wheel.advance(kStart + 299), 0u);
    EXPECT_EQ(wheel.advance(kStart + 300), 1u);
    EXPECT_EQ(wheel.advance(kStart + 49'999), 0u);
    EXPECT_EQ(wheel.advance(kStart + 50'000), 1u);
    ASSERT_EQ(log.fired.size(), 2u);
    EXPECT_EQ(log.fired[0].id, 1u);
    EXPECT_EQ(log.fired[1].id, 0u);
    EXPECT_EQ(log.fired[1].now_ns, kStart + 50'000);
}

TEST(TimingWheel, DeadlinesFarBeyondOneRotation) {
    constexpr uint64_t kMs = 1'000'000;
    constexpr uint64_t kS = 1'000 * kMs;
    TimingWheel wheel(kMs, 64, kStart);  // one rotation = 64 ms
    Log log;
    auto timers = make_timers(3, &log);
    wheel.schedule(timers[0].timer, kStart + 1 * kS + 7);
    wheel.schedule(timers[1].timer, kStart + 10 * kS);
    wheel.schedule(timers[2].timer, kStart + 3600 * kS);
    // Step 1 ms at a time for 2 s (31 rotations): only the 1 s timer fires, at the first step past it.
    for (uint64_t now = kStart + kMs; now <= kStart + 2 * kS; now += kMs) {
        uint64_t const earliest = timers[0].timer.scheduled() ? kStart + 1 * kS + 7 : kStart + 10 * kS;
        ASSERT_LE(wheel.next_deadline_ns(), earliest);  // a lower bound even while the timers are rotations away
        wheel.advance(now);
    }
    ASSERT_EQ(log.fired.size(), 1u);
    EXPECT_EQ(log.fired[0].id, 0u);
    EXPECT_EQ(log.fired[0].now_ns, kStart + 1001 * kMs);
    EXPECT_LE(wheel.next_deadline_ns(), kStart + 10 * kS);
    EXPECT_EQ(wheel.advance(kStart + 10 * kS - 1), 0u);
    EXPECT_EQ(wheel.advance(kStart + 10 * kS), 1u);
    EXPECT_EQ(wheel.advance(kStart + 3600 * kS - 1), 0u);
    EXPECT_EQ(wheel.size(), 1u);
    EXPECT_EQ(wheel.next_deadline_ns(), kStart + 3600 * kS);  // now within one rotation: exact
    EXPECT_EQ(wheel.advance(kStart + 3600 * kS), 1u);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimingWheel, PastDeadlineFiresAtTheNextAdvance) {
    TimingWheel wheel(100, 64, kStart);
    Log log;
    auto timers = make_timers(2, &log);
    wheel.advance(kStart + 10'000);
    wheel.schedule(timers[0].timer, kStart + 20);  // long past
    wheel.schedule(timers[1].timer, 0);            // before the wheel existed
    EXPECT_LE(wheel.next_deadline_ns(), kStart + 10'000);
    EXPECT_EQ(wheel.advance(kStart + 10'000), 2u);
    ASSERT_EQ(log.fired.size(), 2u);
    EXPECT_EQ(log.fired[0].id, 1u);  // deadline order
}

// A periodic timer that re-arms itself at a deadline already passed, and cancels a victim due in the same advance.
struct Periodic {
    Timer timer;
    TimingWheel* wheel = nullptr;
    Timer* victim = nullptr;
    int fired = 0;
};

TEST(TimingWheel, CallbacksMayCancelAndRescheduleWithoutLivelock) {
    TimingWheel wheel(100, 64, kStart);
    Periodic p;
    p.wheel = &wheel;
    Log log;
    auto timers = make_timers(1, &log);
    p.victim = &timers[0].timer;
    p.timer.context = &p;
    p.timer.fire = [](Timer& t, uint64_t now_ns) noexcept {
        auto* self = static_cast<Periodic*>(t.context);
        self->fired += 1;
        self->wheel->cancel(*self->victim);
        self->wheel->schedule(t, now_ns);  // due at once: fires in the next advance, not this one
    };
    wheel.schedule(p.timer, kStart + 100);
    wheel.schedule(timers[0].timer, kStart + 200);  // later than p, same advance
    EXPECT_EQ(wheel.advance(kStart + 1000), 1u);
    EXPECT_EQ(p.fired, 1);
    EXPECT_TRUE(log.fired.empty());
    EXPECT_FALSE(timers[0].timer.scheduled());
    EXPECT_EQ(wheel.advance(kStart + 1000), 1u);
    EXPECT_EQ(p.fired, 2);
    EXPECT_EQ(wheel.size(), 1u);
    wheel.cancel(p.timer);
}

TEST(TimingWheel, NextDeadlineIsNeverLaterThanTheEarliest) {
    TimingWheel wheel(1000, 32, kStart);  // one rotation = 32 us
    EXPECT_EQ(wheel.next_deadline_ns(), UINT64_MAX);
    Log log;
    auto timers = make_timers(64, &log);
    uint64_t now = kStart;
    for (int step = 0; step < 3000; ++step) {
        TestTimer& t = timers[uniform(timers.size())];
        if (uniform(4) == 0) {
            wheel.cancel(t.timer);
        } else {
            wheel.schedule(t.timer, now + uniform(100'000));
        }
        if (uniform(3) == 0) {
            now += uniform(5'000);
            wheel.advance(now);
        }
        uint64_t earliest = UINT64_MAX;
        for (const auto& x : timers) {
            if (x.timer.scheduled()) earliest = std::min(earliest, x.timer.deadline_ns());
        }
        uint64_t const next = wheel.next_deadline_ns();
        ASSERT_LE(next, earliest);
        if (earliest == UINT64_MAX) {
            ASSERT_EQ(next, UINT64_MAX);
        } else if (earliest < now + 31'000) {
            ASSERT_EQ(next, earliest) << "exact within one rotation";
        }
    }
    for (auto& t : timers) wheel.cancel(t.timer);
}

TEST(TimingWheel, ManyTimersWithCancellations) {
    std::size_t const n = kSanitized ? 30'000 : 200'000;
    constexpr uint64_t kMs = 1'000'000;
    TimingWheel wheel(100'000, 4096, kStart);  // the reactor's defaults: 100 us ticks, 0.41 s per rotation
    Log log;
    log.fired.reserve(n);
    auto timers = make_timers(n, &log);
    for (auto& t : timers) wheel.schedule(t.timer, kStart + uniform(10'000 * kMs));
    std::size_t cancelled = 0;
    for (auto& t : timers) {
        if (uniform(3) == 0) {
            wheel.cancel(t.timer);
            cancelled += 1;
        }
    }
    EXPECT_EQ(wheel.size(), n - cancelled);
    uint64_t now = kStart;
    std::size_t fired = 0;
    while (now < kStart + 10'001 * kMs) {
        now += kMs;
        fired += wheel.advance(now);
    }
    EXPECT_EQ(fired, n - cancelled);
    EXPECT_EQ(wheel.size(), 0u);
    expect_exact_and_ordered(log);
    for (const Fired& f : log.fired) ASSERT_LT(f.now_ns - f.deadline_ns, kMs) << "late by a whole step";
}

TEST(TimingWheel, DestructionUnschedulesRemainingTimers) {
    Log log;
    auto timers = make_timers(3, &log);
    {
        TimingWheel wheel(100, 8, kStart);
        for (auto& t : timers) wheel.schedule(t.timer, kStart + 1'000'000);
        EXPECT_TRUE(timers[2].timer.scheduled());
    }
    for (const auto& t : timers) EXPECT_FALSE(t.timer.scheduled());
    EXPECT_TRUE(log.fired.empty());
}

}  // namespace
}  // namespace voxa::reactor
