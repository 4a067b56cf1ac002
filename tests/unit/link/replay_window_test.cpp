// RFC 6479 window: what the transport path relies on (accept once, in any order inside the window, never twice,
// never too old, never near the counter limit).
#include <gtest/gtest.h>

#include "link/replay_window.h"

namespace voxa::link {
namespace {

using V = ReplayWindow::Verdict;

TEST(ReplayWindow, InOrderAcceptedOnce) {
    ReplayWindow w;
    for (uint64_t c = 0; c < 20000; ++c) ASSERT_EQ(w.update(c), V::kAccept) << c;
    for (uint64_t c = 20000 - 100; c < 20000; ++c) EXPECT_EQ(w.update(c), V::kDuplicate) << c;
}

TEST(ReplayWindow, OutOfOrderInsideWindow) {
    ReplayWindow w;
    EXPECT_EQ(w.update(5000), V::kAccept);
    // Everything in [5000 - kWindowBits + 1, 5000) is still acceptable, in any order, exactly once.
    for (int64_t c = 4999; c > 0; c -= 7) EXPECT_EQ(w.update(uint64_t(c)), V::kAccept) << c;
    for (int64_t c = 4999; c > 0; c -= 7) EXPECT_EQ(w.update(uint64_t(c)), V::kDuplicate) << c;
    EXPECT_EQ(w.update(0), V::kAccept);
    EXPECT_EQ(w.update(5001), V::kAccept);
    EXPECT_EQ(w.update(5000), V::kDuplicate);
}

TEST(ReplayWindow, TooOldRejected) {
    ReplayWindow w;
    uint64_t const top = 100000;
    EXPECT_EQ(w.update(top), V::kAccept);
    EXPECT_EQ(w.update(top - ReplayWindow::kWindowBits + 1), V::kAccept);
    EXPECT_EQ(w.update(top - ReplayWindow::kWindowBits), V::kTooOld);
    EXPECT_EQ(w.update(0), V::kTooOld);
    EXPECT_GE(ReplayWindow::kWindowBits, 2048u);
}

TEST(ReplayWindow, JumpClearsStaleBits) {
    // After a jump by more than the ring, a counter landing on a reused bit must not look like a duplicate.
    ReplayWindow w;
    EXPECT_EQ(w.update(64), V::kAccept);
    EXPECT_EQ(w.update(64 + ReplayWindow::kBitsTotal), V::kAccept);
    EXPECT_EQ(w.update(64 + 2 * ReplayWindow::kBitsTotal), V::kAccept);
    EXPECT_EQ(w.update(64 + 2 * ReplayWindow::kBitsTotal - 1), V::kAccept);
    EXPECT_EQ(w.update(64 + ReplayWindow::kBitsTotal), V::kTooOld);
}

TEST(ReplayWindow, CheckDoesNotUpdate) {
    ReplayWindow w;
    EXPECT_EQ(w.check(10), V::kAccept);
    EXPECT_EQ(w.check(10), V::kAccept);
    EXPECT_EQ(w.update(10), V::kAccept);
    EXPECT_EQ(w.check(10), V::kDuplicate);
    EXPECT_EQ(w.check(9), V::kAccept);
    EXPECT_EQ(w.greatest_plus_one(), 11u);
}

TEST(ReplayWindow, CounterWrap) {
    ReplayWindow w;
    uint64_t const limit = ReplayWindow::kRejectAfterMessages;
    EXPECT_EQ(limit, ~uint64_t(0) - 8191);   // 2^64 - 2^13
    EXPECT_EQ(w.check(limit), V::kCounterWrap);
    EXPECT_EQ(w.update(limit), V::kCounterWrap);
    EXPECT_EQ(w.update(~uint64_t(0)), V::kCounterWrap);
    EXPECT_EQ(w.update(limit - 1), V::kAccept);
    EXPECT_EQ(w.update(limit - 1), V::kDuplicate);
    EXPECT_EQ(w.update(limit - 2), V::kAccept);
}

TEST(ReplayWindow, RandomAgainstModel) {
    // Differential check against an exact set model within the window.
    ReplayWindow w;
    std::vector<bool> seen(40000, false);
    uint64_t top = 0;
    bool any = false;
    uint32_t x = 12345;
    for (int i = 0; i < 200000; ++i) {
        x = x * 1103515245u + 12345u;
        uint64_t const c = (x >> 8) % 40000;
        V expect;
        if (any && c + ReplayWindow::kWindowBits <= top) {
            expect = V::kTooOld;
        } else if (seen[c]) {
            expect = V::kDuplicate;
        } else {
            expect = V::kAccept;
        }
        ASSERT_EQ(w.update(c), expect) << i << " " << c;
        if (expect == V::kAccept) {
            seen[c] = true;
            if (!any || c > top) top = c;
            any = true;
        }
    }
}

}  // namespace
}  // namespace voxa::link
