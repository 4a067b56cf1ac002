// Assertions for voxa: two kinds, each for its kind of condition.
//
//   VOXA_CHECK(cond)   always on; a broken invariant that must never ship silently. Aborts with file and line.
//   VOXA_ASSERT(cond)  debug builds only (NDEBUG removes it); documents what the caller already guarantees.
//
// Neither is for input validation: a bad packet is dropped and counted, a bad config is a returned error.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace voxa::detail {
[[noreturn]] inline void check_failed(const char* expr, const char* file, int line) noexcept {
    std::fprintf(stderr, "voxa: invariant broken: %s at %s:%d\n", expr, file, line);
    std::abort();
}
}  // namespace voxa::detail

#define VOXA_CHECK(cond)                                                  \
    do {                                                                  \
        if (!(cond)) [[unlikely]]                                         \
            ::voxa::detail::check_failed(#cond, __FILE__, __LINE__);      \
    } while (0)

#ifdef NDEBUG
#define VOXA_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define VOXA_ASSERT(cond) VOXA_CHECK(cond)
#endif
