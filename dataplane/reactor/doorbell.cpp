#include "reactor/doorbell.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "voxa/assert.h"

namespace voxa::reactor {

Doorbell::Doorbell() {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd_ < 0) {
        std::fprintf(stderr, "voxa: cannot create the worker doorbell (eventfd): %s\n", std::strerror(errno));
    }
    VOXA_CHECK(fd_ >= 0);
}

Doorbell::~Doorbell() {
    if (fd_ >= 0) ::close(fd_);
}

void Doorbell::arm() noexcept {
    // An exchange, not a store: reading the flag through an RMW is what orders a producer's push (made before its
    // own exchange) before the caller's re-check of its queues.
    armed_.exchange(true, std::memory_order_seq_cst);
}

void Doorbell::disarm() noexcept {
    // Also an RMW, so that it does not break the release sequence of a producer's exchange that precedes it.
    armed_.exchange(false, std::memory_order_acq_rel);
}

void Doorbell::ring() noexcept {
    // Only the first producer after an arm() reads true: one eventfd write per sleep.
    if (!armed_.exchange(false, std::memory_order_acq_rel)) return;
    uint64_t const one = 1;
    // EAGAIN (counter at its maximum) still leaves the fd readable; nothing else can fail on a valid eventfd.
    ssize_t const n = ::write(fd_, &one, sizeof one);
    (void)n;
    wakes_.fetch_add(1, std::memory_order_relaxed);
}

void Doorbell::drain() noexcept {
    uint64_t value = 0;
    // Non-blocking: EAGAIN when someone (an io_uring read, say) already consumed the count.
    ssize_t const n = ::read(fd_, &value, sizeof value);
    (void)n;
}

}  // namespace voxa::reactor
