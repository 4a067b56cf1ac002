// A worker's doorbell: an eventfd plus an "armed" flag, the classic sleep/wake handshake without lost wakeups and
// with at most one system call per sleep (not one per message).
//
// Consumer (the worker that owns the doorbell), before sleeping:
//   arm();  re-check every queue;  if still nothing: sleep until fd() is readable (poll, or io_uring watching
//   it);  disarm();  drain();
// Producers (any thread, any number): push into the worker's queue, then ring(). ring() writes the eventfd only
// when the worker is armed, and only the first ring() of a sleep writes (it takes the armed flag).
//
// Why nothing is lost: every operation on the armed flag is an atomic read-modify-write, so they form one total
// order. If a producer's exchange comes before the consumer's arm(), the arm reads from it (RMWs extend the
// producer's release sequence) and so the consumer's re-check sees the push; if it comes after, the producer reads
// "armed" and writes the eventfd (unless another producer already did, or the consumer already disarmed). No
// standalone fences: ThreadSanitizer can check this handshake as written.
#pragma once

#include <atomic>
#include <cstdint>

#include "reactor/spsc_ring.h"

namespace voxa::reactor {

class Doorbell {
public:
    // Creates the eventfd (non-blocking, close-on-exec); aborts with the errno text if the system has none to
    // give (file descriptors exhausted), which only happens at start-up.
    Doorbell();
    // Closes the eventfd.
    ~Doorbell();
    Doorbell(const Doorbell&) = delete;
    Doorbell& operator=(const Doorbell&) = delete;

    // The eventfd; readable once ring() has written since the last drain(). Owned by the doorbell.
    int fd() const noexcept { return fd_; }

    // Consumer thread. Announces that the consumer is about to sleep; the caller must re-check its queues after.
    void arm() noexcept;
    // Consumer thread. Ends the armed phase (whether or not it slept). A ring() that raced with it may still
    // leave the eventfd readable: the next sleep then returns at once and its drain() clears it.
    void disarm() noexcept;
    // Any producer thread, after publishing work. Wakes the consumer if it is armed (one eventfd write per
    // sleep); otherwise costs one atomic exchange. Ring once per batch of pushes, not per item.
    void ring() noexcept;
    // Consumer thread, after a sleep and disarm(). Resets the eventfd (one non-blocking read).
    void drain() noexcept;

    // Number of eventfd writes so far (one per woken sleep); for tests and stats.
    uint64_t wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

private:
    int fd_ = -1;
    alignas(kCacheLineBytes) std::atomic<bool> armed_{false};  // only ever changed by exchange()
    std::atomic<uint64_t> wakes_{0};
};

}  // namespace voxa::reactor
