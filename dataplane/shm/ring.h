// The two ends of one shared-memory SPSC ring of fixed-size slots (include/voxa/shm.h: RingHeader, SlotHeader).
//
// The ring lives in a segment mapped by two processes; exactly one thread of one process produces and exactly one
// thread of the other consumes. Each end is a small handle holding pointers into its own process's mapping and a
// cached copy of the other end's index, so a push or pop touches the other side's cache line only when the cached
// view says full or empty (as reactor::SpscRing). Only acquire/release ordering: the producer's release store of
// tail publishes the slots below it; the consumer's release store of head hands them back.
//
// Restarts: the indices live in the segment, so a handle built after a restart resumes where the previous process
// of that side stopped. A producer that died between reserve() and commit() published nothing; a consumer that
// died between peek() and release() sees that slot again (delivery is at-least-once across a consumer crash).
//
// The other process is trusted to follow the protocol but not to be bug-free: the consumer checks every slot's
// header (len within the body, seq equal to the slot's position) and skips and counts a slot that fails, never
// reading outside the ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "voxa/shm.h"

namespace voxa::shm {

// Why the consumer skipped a slot.
enum class RingDrop : uint8_t { kNone, kBadLength, kBadSeq, kBadReserved, kCount };

struct RingStats {
    uint64_t drops[std::size_t(RingDrop::kCount)] = {};
};

// Bytes of one ring (header and slots) for a geometry; a multiple of 64.
std::size_t ring_bytes(uint32_t slot_count, uint32_t slot_bytes) noexcept;

// Lays out a fresh ring at `ring` (zero indices, geometry copied in). Creator of the segment only, before anyone
// else can see it. `ring` must be 64-byte aligned with ring_bytes(slot_count, slot_bytes) writable bytes.
void ring_init(void* ring, uint32_t slot_count, uint32_t slot_bytes) noexcept;

class RingProducer {
public:
    RingProducer() = default;
    // `ring` is a laid-out ring inside a mapping that outlives this handle. Resumes at the ring's current tail.
    explicit RingProducer(RingHeader* ring) noexcept;

    // Producer thread only. The body of the next free slot (body_bytes_max() writable bytes, owned by the caller
    // until commit()), or an empty span when the ring is full. Calling it again before commit() returns the same
    // slot.
    std::span<uint8_t> reserve() noexcept;

    // Producer thread only. Publishes the slot reserve() returned, with this type and len (<= body_bytes_max(),
    // VOXA_CHECK). Returns the slot's sequence number.
    uint64_t commit(uint16_t type, std::size_t len) noexcept;

    // Producer thread only. Copies body into the next slot and publishes it; false (nothing written) when full
    // or body is larger than body_bytes_max().
    bool try_push(uint16_t type, std::span<const uint8_t> body) noexcept;

    std::size_t body_bytes_max() const noexcept { return slot_bytes_ - kSlotHeaderBytes; }
    uint32_t capacity() const noexcept { return uint32_t(mask_ + 1); }
    // Any thread: messages published and not yet released, a snapshot.
    std::size_t size_approx() const noexcept;
    bool valid() const noexcept { return ring_ != nullptr; }

private:
    RingHeader* ring_ = nullptr;
    uint8_t* slots_ = nullptr;
    uint64_t mask_ = 0;
    uint32_t slot_bytes_ = 0;
    uint64_t tail_ = 0;          // our own index (we are its only writer)
    uint64_t head_cache_ = 0;    // last head we read
};

// One message as the consumer sees it: `body` points into the ring and is valid until release().
struct SlotView {
    uint16_t type = 0;
    uint64_t seq = 0;
    std::span<const uint8_t> body;
};

class RingConsumer {
public:
    RingConsumer() = default;
    // `ring` is a laid-out ring inside a mapping that outlives this handle. Resumes at the ring's current head.
    explicit RingConsumer(RingHeader* ring) noexcept;

    // Consumer thread only. Fills *out with the oldest well-formed message and returns true; false when the ring
    // is empty. Malformed slots on the way are released and counted in stats(). Calling it again before release()
    // returns the same message.
    bool peek(SlotView* out) noexcept;

    // Consumer thread only. Hands the slot peek() returned back to the producer. Needs a successful peek() first.
    void release() noexcept;

    uint32_t capacity() const noexcept { return uint32_t(mask_ + 1); }
    std::size_t size_approx() const noexcept;
    const RingStats& stats() const noexcept { return stats_; }
    bool valid() const noexcept { return ring_ != nullptr; }

private:
    RingHeader* ring_ = nullptr;
    const uint8_t* slots_ = nullptr;
    uint64_t mask_ = 0;
    uint32_t slot_bytes_ = 0;
    uint64_t head_ = 0;          // our own index
    uint64_t tail_cache_ = 0;    // last tail we read
    bool peeked_ = false;
    RingStats stats_;
};

}  // namespace voxa::shm
