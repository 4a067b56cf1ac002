// Counts heap allocations (operator new) made by the calling thread, for tests that check a path allocates
// nothing. Link alloc_counter.cpp into a test binary to replace the global operator new in that binary.
#pragma once

#include <cstddef>

namespace voxa::test {

std::size_t allocations_on_this_thread() noexcept;

}  // namespace voxa::test
