#include "shm/stats.h"

#include <sched.h>

#include "voxa/assert.h"

namespace voxa::shm {

namespace {
// Spin this many times before yielding: a publication is ~50 stores, far shorter than a scheduler slice.
constexpr uint32_t kSpinRetries = 64;
}  // namespace

StatsWriter::StatsWriter(StatsBlock* block, uint64_t epoch) noexcept : block_(block), epoch_(epoch) {
    VOXA_CHECK(block != nullptr);
    seq_ = block->seq.load(std::memory_order_acquire);
    if (seq_ & 1) {
        // The previous writer died inside publish(): its counters are a mix; one more increment makes the block
        // readable again, and the next publish() overwrites them.
        seq_ += 1;
        block->seq.store(seq_, std::memory_order_release);
    }
    block->epoch.store(epoch_, std::memory_order_release);
}

void StatsWriter::publish(std::span<const uint64_t> values, uint64_t now_ns) noexcept {
    VOXA_ASSERT(block_ != nullptr);
    VOXA_CHECK(values.size() <= kStatsCounters);
    // Odd first; every later store is a release, so no reader can see one of them without also seeing odd seq.
    block_->seq.store(seq_ + 1, std::memory_order_relaxed);
    block_->epoch.store(epoch_, std::memory_order_release);
    block_->updated_ns.store(now_ns, std::memory_order_release);
    for (std::size_t i = 0; i < values.size(); ++i) block_->counters[i].store(values[i], std::memory_order_release);
    seq_ += 2;
    block_->seq.store(seq_, std::memory_order_release);
}

uint64_t StatsWriter::value(std::size_t i) const noexcept {
    VOXA_CHECK(i < kStatsCounters);
    return block_->counters[i].load(std::memory_order_relaxed);
}

StatsRead read_stats(const StatsBlock& block, StatsSnapshot* out, uint32_t retries_max) noexcept {
    VOXA_ASSERT(out != nullptr);
    bool saw_even = false;
    uint64_t first_odd = 0;
    bool odd_moved = false;
    for (uint32_t attempt = 0; attempt <= retries_max; ++attempt) {
        if (attempt > kSpinRetries) ::sched_yield();
        uint64_t const before = block.seq.load(std::memory_order_acquire);
        if (before & 1) {
            if (first_odd == 0) {
                first_odd = before;
            } else if (before != first_odd) {
                odd_moved = true;
            }
            continue;
        }
        saw_even = true;
        // Acquire loads: none of them, nor the second seq load, can be satisfied before the first seq load, and
        // a counter stored after the writer's odd store carries that odd store with it.
        out->epoch = block.epoch.load(std::memory_order_acquire);
        out->updated_ns = block.updated_ns.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < kStatsCounters; ++i)
            out->counters[i] = block.counters[i].load(std::memory_order_acquire);
        if (block.seq.load(std::memory_order_acquire) == before) {
            out->seq = before;
            return StatsRead::kOk;
        }
    }
    return (saw_even || odd_moved) ? StatsRead::kBusy : StatsRead::kWriterGone;
}

}  // namespace voxa::shm
