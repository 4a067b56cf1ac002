#include "link/replay_window.h"

#include <algorithm>
#include <cstring>

namespace voxa::link {

void ReplayWindow::reset() noexcept {
    next_ = 0;
    std::memset(blocks_, 0, sizeof blocks_);
}

ReplayWindow::Verdict ReplayWindow::check(uint64_t counter) const noexcept {
    if (counter >= kRejectAfterMessages) return Verdict::kCounterWrap;
    uint64_t const c = counter + 1;   // shifted by one so that next_ == 0 can mean "nothing yet"
    if (c > next_) return Verdict::kAccept;
    if (next_ - c >= kWindowBits) return Verdict::kTooOld;
    uint64_t const bit = uint64_t(1) << (c & (kBlockBits - 1));
    return (blocks_[(c / kBlockBits) & (kBlocks - 1)] & bit) ? Verdict::kDuplicate : Verdict::kAccept;
}

ReplayWindow::Verdict ReplayWindow::update(uint64_t counter) noexcept {
    if (counter >= kRejectAfterMessages) return Verdict::kCounterWrap;
    uint64_t const c = counter + 1;
    if (c <= next_ && next_ - c >= kWindowBits) return Verdict::kTooOld;
    uint64_t const index = c / kBlockBits;
    if (c > next_) {
        // Clear the blocks the window slides over; at most the whole ring, so the loop is bounded by kBlocks.
        uint64_t const index_current = next_ / kBlockBits;
        uint64_t const top = std::min(index - index_current, kBlocks);
        for (uint64_t i = 1; i <= top; ++i) blocks_[(index_current + i) & (kBlocks - 1)] = 0;
        next_ = c;
    }
    uint64_t& block = blocks_[index & (kBlocks - 1)];
    uint64_t const bit = uint64_t(1) << (c & (kBlockBits - 1));
    if (block & bit) return Verdict::kDuplicate;
    block |= bit;
    return Verdict::kAccept;
}

}  // namespace voxa::link
