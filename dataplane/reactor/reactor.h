// The worker's poll loop. voxa-dataplane runs one worker thread per configured core, pinned, each running one
// Reactor: every iteration polls each source once (command ring, backend completions, handover rings), in the
// order they were added, then fires the due timers of its timing wheel.
//
// Idling: the machines this runs on are shared (a dev network puts 8 daemons on 2 cores), so an idle worker must
// not burn its core. After idle_spins empty iterations the reactor arms its doorbell, polls everything once more
// (work published before the arm is found now; work published after it rings the doorbell), and then sleeps in
// its Waiter until input, a ring(), or min(next timer, sleep_max_ns). It keeps sleeping, without spinning again,
// until an iteration finds work.
//
// Everything here runs on the worker's own thread, except Doorbell::ring() (any thread) and the stop flag.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/clock.h"
#include "reactor/doorbell.h"
#include "reactor/timing_wheel.h"
#include "reactor/waiter.h"

namespace voxa::reactor {

// The default Waiter: ppoll(2) on the doorbell's fd plus any extra fds (nanosecond timeout). It only waits; the
// sources read the fds.
class FdWaiter final : public Waiter {
public:
    // fds: copied (setup only); none may be negative.
    explicit FdWaiter(std::span<const int> fds);
    explicit FdWaiter(int fd) : FdWaiter(std::span<const int>(&fd, 1)) {}
    // Returns when any fd is readable, timeout_ns passes, or a signal arrives.
    void wait(uint64_t timeout_ns) noexcept override;

private:
    std::vector<pollfd> fds_;
};

struct ReactorConfig {
    uint32_t idle_spins = 200;           // empty iterations before sleeping
    uint64_t sleep_max_ns = 1'000'000;   // longest sleep when no timer is due sooner
    uint64_t tick_ns = 100'000;          // timing wheel bucket width
    std::size_t wheel_slots = 4096;      // a power of two; one rotation = tick_ns * wheel_slots
};

struct ReactorStats {
    uint64_t loops = 0;         // run_once() calls
    uint64_t busy_loops = 0;    // of which found work or fired a timer
    uint64_t sleeps = 0;        // Waiter::wait() calls
    uint64_t timers_fired = 0;
};

// The time of the reactor's current iteration, for the engine: inside run_once() (on the worker's thread) now_ns()
// is the one reading run_once() took at its start, so relaying a burst of cells costs one clock_gettime instead
// of several per cell (link receive, circuit use, link send: ~65 ns per cell measured). Outside run_once() it
// reads the underlying clock. Never goes backwards (every cached value came from the underlying clock). The
// staleness is one iteration (at most rx_budget datagrams, ~100 µs under full load); the engine's timeouts and
// ages are milliseconds to minutes. Worker thread only (the flag is not synchronised).
class LoopClock final : public Clock {
public:
    explicit LoopClock(const Clock& source) noexcept : source_(source) {}
    uint64_t now_ns() const noexcept override { return in_loop_ ? now_ns_ : source_.now_ns(); }

private:
    friend class Reactor;
    const Clock& source_;
    uint64_t now_ns_ = 0;
    bool in_loop_ = false;
};

class Reactor {
public:
    // clock and doorbell are borrowed and must outlive the reactor. The wheel starts at clock.now_ns().
    Reactor(const Clock& clock, const ReactorConfig& config, Doorbell& doorbell);
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // Setup only, before run(): s is borrowed (must outlive the reactor) and polled every iteration, in the
    // order added.
    void add_source(PollSource& s);
    // Setup only: w is borrowed. Default: an FdWaiter on the doorbell's fd. A custom waiter must also return
    // when the doorbell's fd becomes readable.
    void set_waiter(Waiter& w);
    // The worker's timers; use from the worker's thread only.
    TimingWheel& timers() noexcept { return wheel_; }

    // Polls every source once, then advances the timers (with one clock reading); returns the work the sources
    // reported plus the timers fired (0 = idle). Never sleeps.
    std::size_t run_once() noexcept;
    // Loops until stop is true, idling as described above. To stop a sleeping reactor promptly, set stop and
    // then ring() the doorbell (otherwise it notices within sleep_max_ns).
    void run(const std::atomic<bool>& stop) noexcept;

    // The iteration's time (LoopClock); lives as long as the reactor.
    const Clock& loop_clock() const noexcept { return loop_clock_; }

    // Read on the worker's thread, or after run() returned.
    const ReactorStats& stats() const noexcept { return stats_; }
    const ReactorConfig& config() const noexcept { return config_; }

private:
    // Arms the doorbell, polls once more, and sleeps if still idle. Returns the work found by that last poll.
    std::size_t sleep_once() noexcept;

    const Clock& clock_;
    LoopClock loop_clock_;
    ReactorConfig const config_;
    Doorbell& doorbell_;
    TimingWheel wheel_;
    FdWaiter default_waiter_;
    Waiter* waiter_;
    std::vector<PollSource*> sources_;
    ReactorStats stats_;
};

}  // namespace voxa::reactor
