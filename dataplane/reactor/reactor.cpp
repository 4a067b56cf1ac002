#include "reactor/reactor.h"

#include <cerrno>
#include <ctime>

#include "voxa/assert.h"

namespace voxa::reactor {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}
}  // namespace

FdWaiter::FdWaiter(std::span<const int> fds) {
    fds_.reserve(fds.size());
    for (int const fd : fds) {
        VOXA_CHECK(fd >= 0);
        fds_.push_back(pollfd{fd, POLLIN, 0});
    }
}

void FdWaiter::wait(uint64_t timeout_ns) noexcept {
    timespec const timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                           static_cast<long>(timeout_ns % 1'000'000'000)};
    // The result does not matter: readiness is discovered by polling the sources, and EINTR is a spurious
    // return, which Waiter allows.
    int const n = ::ppoll(fds_.data(), fds_.size(), &timeout, nullptr);
    (void)n;
}

Reactor::Reactor(const Clock& clock, const ReactorConfig& config, Doorbell& doorbell)
    : clock_(clock),
      loop_clock_(clock),
      config_(config),
      doorbell_(doorbell),
      wheel_(config.tick_ns, config.wheel_slots, clock.now_ns()),
      default_waiter_(doorbell.fd()),
      waiter_(&default_waiter_) {
    VOXA_CHECK(config.sleep_max_ns >= 1);
}

void Reactor::add_source(PollSource& s) { sources_.push_back(&s); }

void Reactor::set_waiter(Waiter& w) { waiter_ = &w; }

std::size_t Reactor::run_once() noexcept {
    uint64_t const now_ns = clock_.now_ns();
    loop_clock_.now_ns_ = now_ns;
    loop_clock_.in_loop_ = true;
    std::size_t work = 0;
    for (PollSource* s : sources_) work += s->poll(now_ns);
    std::size_t const fired = wheel_.advance(now_ns);
    loop_clock_.in_loop_ = false;
    stats_.loops += 1;
    stats_.timers_fired += fired;
    if (work + fired != 0) stats_.busy_loops += 1;
    return work + fired;
}

std::size_t Reactor::sleep_once() noexcept {
    doorbell_.arm();
    // The re-check that makes the doorbell safe: anything pushed before arm() is found here.
    std::size_t const work = run_once();
    if (work != 0) {
        doorbell_.disarm();
        return work;
    }
    uint64_t const now_ns = clock_.now_ns();
    uint64_t const next_ns = wheel_.next_deadline_ns();
    uint64_t timeout_ns = config_.sleep_max_ns;
    if (next_ns <= now_ns) {
        timeout_ns = 0;
    } else if (next_ns - now_ns < timeout_ns) {
        timeout_ns = next_ns - now_ns;
    }
    if (timeout_ns == 0) {  // a timer is due right now: no sleep
        doorbell_.disarm();
        return 0;
    }
    waiter_->wait(timeout_ns);
    stats_.sleeps += 1;
    doorbell_.disarm();
    doorbell_.drain();
    return 0;
}

void Reactor::run(const std::atomic<bool>& stop) noexcept {
    uint32_t idle = 0;
    while (!stop.load(std::memory_order_acquire)) {
        if (run_once() != 0) {
            idle = 0;
            continue;
        }
        if (idle < config_.idle_spins) {
            idle += 1;
            cpu_relax();
            continue;
        }
        // Still idle after a sleep: sleep again at once rather than spinning idle_spins more times.
        if (sleep_once() != 0) idle = 0;
    }
}

}  // namespace voxa::reactor
