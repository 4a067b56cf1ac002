// Time for the protocol: every timer (rekey, reject, cookie rotation, reassembly age, retransmission) reads an
// injected clock, so tests move time by hand and the simulated network runs faster than real time.
#pragma once

#include <cstdint>

namespace voxa {

// Monotonic nanoseconds. Implementations must never go backwards.
class Clock {
public:
    virtual ~Clock() = default;
    virtual uint64_t now_ns() const noexcept = 0;
};

// CLOCK_MONOTONIC; what the running data plane uses.
class SteadyClock final : public Clock {
public:
    uint64_t now_ns() const noexcept override;
};

// A clock that moves only when told; for tests and the simulated network.
class ManualClock final : public Clock {
public:
    explicit ManualClock(uint64_t start_ns = 1'000'000'000) noexcept : now_ns_(start_ns) {}
    uint64_t now_ns() const noexcept override { return now_ns_; }
    void advance_ns(uint64_t delta_ns) noexcept { now_ns_ += delta_ns; }
    void set_ns(uint64_t t_ns) noexcept {
        if (t_ns > now_ns_) now_ns_ = t_ns;
    }

private:
    uint64_t now_ns_;
};

inline constexpr uint64_t kNsPerMs = 1'000'000;
inline constexpr uint64_t kNsPerS = 1'000'000'000;

// Wall-clock TAI64N-like timestamp (seconds since the epoch, nanoseconds) used only in link handshakes to
// reject replayed initiations; separate from the monotonic Clock so tests can inject both.
class WallClock {
public:
    virtual ~WallClock() = default;
    virtual uint64_t unix_ns() const noexcept = 0;
};

class SystemWallClock final : public WallClock {
public:
    uint64_t unix_ns() const noexcept override;
};

}  // namespace voxa
