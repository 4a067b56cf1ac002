#include "common/clock.h"

#include <ctime>

namespace voxa {

uint64_t SteadyClock::now_ns() const noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

uint64_t SystemWallClock::unix_ns() const noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

}  // namespace voxa
