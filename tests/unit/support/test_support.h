// What every unit test binary shares: libsodium is initialised once before any test (a global GoogleTest
// environment in test_support.cpp, compiled into each binary through `test_deps`), random test inputs come
// from the CSPRNG, and waits for another thread's work are bounded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace voxa::test {

// `n` random bytes (n may be 0).
std::vector<uint8_t> random_bytes(std::size_t n);

// Crash durability: runs write(1), ..., write(count) in a forked child that tells the parent after each call
// returned true, then exits as if killed (no destructor, no close, no checkpoint). Returns the last write the child
// acknowledged, or -1 when it failed or did not exit cleanly. `write` opens what it writes to on its first call,
// inside the child.
int acknowledged_writes_of_killed_child(int count, const std::function<bool(int)>& write);

// Polls `done` every 10 ms (real time) until it holds or `timeout` passes. Returns done() as last seen: false
// means it never held in time. Calls `done` on the calling thread only.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace voxa::test
