// What every unit test binary shares: libsodium is initialised once before any test (a global GoogleTest
// environment in test_support.cpp, compiled into each binary through `test_deps`), and random test inputs come
// from the CSPRNG.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace voxa::test {

// `n` random bytes (n may be 0).
std::vector<uint8_t> random_bytes(std::size_t n);

}  // namespace voxa::test
