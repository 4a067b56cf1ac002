// What every unit test binary shares: libsodium is initialised once before any test (a global GoogleTest
// environment in test_support.cpp, compiled into each binary through `test_deps`), and random test inputs come
// from the CSPRNG.
#pragma once

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

}  // namespace voxa::test
