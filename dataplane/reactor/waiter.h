// The two seams between a worker's reactor and what it drives: a PollSource is polled every loop iteration and
// says how much work it did; a Waiter is where an idle reactor sleeps (the io_uring backend waits on its
// completion queue, which also watches the worker's doorbell). Both are called only from the worker's thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxa::reactor {

struct PollSource {
    virtual ~PollSource() = default;
    // Does whatever work is ready (never blocks); returns how much (0 = idle).
    virtual std::size_t poll(uint64_t now_ns) noexcept = 0;
};

struct Waiter {
    virtual ~Waiter() = default;
    // Sleeps until input may be ready, the doorbell rings, or timeout_ns passes (spurious returns allowed).
    virtual void wait(uint64_t timeout_ns) noexcept = 0;
};

}  // namespace voxa::reactor
