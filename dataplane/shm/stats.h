// The stats segment: one StatsBlock per data-plane worker (include/voxa/shm.h), written only by that worker and
// read by the control plane (or anyone mapping the segment) with a sequence lock, as VPP's stats segment.
//
// Writer: seq becomes odd, every counter is stored, seq becomes even again. Reader: read seq (even), copy the
// counters, read seq again; equal means the copy is one publication, not a mix of two. All fields are atomics
// (relaxed cost on x86: plain moves) with release stores on the writer side and acquire loads on the reader side,
// which is enough for the seqlock without standalone fences (so TSan understands it too).
//
// Counters are named by index through kStatInfo (shm.h), the same table in both processes. A restarted worker
// stores its new epoch in the block; a reader that sees the epoch change knows counters may have restarted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "voxa/shm.h"

namespace voxa::shm {

// The writing end of one block. One thread (the worker) per block.
class StatsWriter {
public:
    StatsWriter() = default;
    // `block` lives in a mapping that outlives the writer; `epoch` is the data side's epoch (Segment::epoch()).
    // A block left odd by a writer that died mid-publication is made even again; the previous counters are kept
    // (value() returns them), so a restarted worker can continue from them or publish fresh ones.
    StatsWriter(StatsBlock* block, uint64_t epoch) noexcept;

    // Worker thread only. Publishes values[0..n) as counters 0..n (n <= kStatsCounters, VOXA_CHECK); counters
    // beyond n keep their values. now_ns: CLOCK_MONOTONIC, stored as updated_ns. No allocation, no system call.
    void publish(std::span<const uint64_t> values, uint64_t now_ns) noexcept;

    // The counter as this writer last published it (or as found at construction).
    uint64_t value(std::size_t i) const noexcept;
    bool valid() const noexcept { return block_ != nullptr; }

private:
    StatsBlock* block_ = nullptr;
    uint64_t seq_ = 0;   // the block's seq (we are its only writer)
    uint64_t epoch_ = 0;
};

struct StatsSnapshot {
    uint64_t seq = 0;            // the even sequence number the copy was taken at (publications * 2)
    uint64_t epoch = 0;          // the writer's data-side epoch
    uint64_t updated_ns = 0;     // the writer's last publication, CLOCK_MONOTONIC
    std::array<uint64_t, kStatsCounters> counters{};
};

enum class StatsRead : uint8_t {
    kOk,           // *out is one consistent publication
    kWriterGone,   // seq stayed odd for every retry: the writer died (or stalled) mid-publication
    kBusy,         // the writer published faster than we could copy for every retry (try again later)
};

// Any thread, any process. Copies one consistent publication of `block` into *out, retrying up to retries_max
// times (yielding the CPU between later retries); *out is unspecified unless kOk.
StatsRead read_stats(const StatsBlock& block, StatsSnapshot* out, uint32_t retries_max = 1000) noexcept;

}  // namespace voxa::shm
