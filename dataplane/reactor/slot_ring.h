// A single-producer single-consumer ring of variable-length byte records, each up to slot_bytes long: how cells
// and relay messages move between workers without copying them twice or allocating.
//
// Every slot has the same stride, fixed at construction: the record's bytes (64-byte aligned) followed by its
// length. The producer reserve()s the next free slot, writes the record straight into it, and commit()s its
// length, which publishes it; the consumer peek()s the oldest record, uses it in place, and release()s it. Head
// and tail are on separate cache lines with cached opposite indices, acquire/release only, as in SpscRing.
// All memory is allocated by the constructor.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "reactor/spsc_ring.h"
#include "voxa/assert.h"

namespace voxa::reactor {

class SlotRing {
public:
    // slots_pow2: number of records the ring holds, a power of two >= 1; slot_bytes: the largest record, >= 1.
    // Both checked (VOXA_CHECK). Allocates slots_pow2 * stride bytes once; setup only.
    SlotRing(std::size_t slots_pow2, std::size_t slot_bytes)
        : mask_(slots_pow2 - 1),
          slot_bytes_(slot_bytes),
          len_offset_(round_up(slot_bytes, sizeof(uint32_t))),
          stride_(round_up(len_offset_ + sizeof(uint32_t), kCacheLineBytes)),
          storage_(new (std::align_val_t(kCacheLineBytes)) uint8_t[slots_pow2 * stride_]) {
        VOXA_CHECK(slots_pow2 >= 1 && (slots_pow2 & (slots_pow2 - 1)) == 0);
        VOXA_CHECK(slot_bytes >= 1 && slot_bytes <= UINT32_MAX);
    }

    SlotRing(const SlotRing&) = delete;
    SlotRing& operator=(const SlotRing&) = delete;

    // Producer thread only. Returns the next free slot (slot_bytes() writable bytes, 64-byte aligned, owned by the
    // producer until commit()), or nullptr when the ring is full. Calling reserve() again before commit() returns
    // the same slot.
    uint8_t* reserve() noexcept {
        std::size_t const tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_cache_ == slots()) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail - head_cache_ == slots()) return nullptr;
        }
        reserved_ = true;
        return slot(tail);
    }

    // Producer thread only, after a successful reserve(). Publishes the slot as a record of len bytes
    // (len <= slot_bytes(), VOXA_CHECK); the slot then belongs to the consumer.
    void commit(std::size_t len) noexcept {
        VOXA_ASSERT(reserved_);
        VOXA_CHECK(len <= slot_bytes_);
        std::size_t const tail = tail_.load(std::memory_order_relaxed);
        uint32_t const len32 = static_cast<uint32_t>(len);
        std::memcpy(slot(tail) + len_offset_, &len32, sizeof len32);
        reserved_ = false;
        tail_.store(tail + 1, std::memory_order_release);
    }

    // Consumer thread only. Returns the oldest record and stores its length in *len, or returns nullptr when the
    // ring is empty. The bytes stay valid (and may be modified in place) until release(); peek() again before
    // release() returns the same record.
    const uint8_t* peek(std::size_t* len) noexcept {
        VOXA_ASSERT(len != nullptr);
        std::size_t const head = head_.load(std::memory_order_relaxed);
        if (head == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head == tail_cache_) return nullptr;
        }
        uint8_t* const p = slot(head);
        uint32_t len32 = 0;
        std::memcpy(&len32, p + len_offset_, sizeof len32);
        *len = len32;
        peeked_ = true;
        return p;
    }

    // Consumer thread only, after a successful peek(). Returns the slot to the producer.
    void release() noexcept {
        VOXA_ASSERT(peeked_);
        peeked_ = false;
        head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    // Any thread. A snapshot of the number of committed records not yet released; <= slots().
    std::size_t size_approx() const noexcept {
        std::size_t const head = head_.load(std::memory_order_acquire);
        std::size_t const n = tail_.load(std::memory_order_acquire) - head;
        return n > slots() ? slots() : n;
    }

    std::size_t slot_bytes() const noexcept { return slot_bytes_; }
    std::size_t slots() const noexcept { return mask_ + 1; }

private:
    static constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }
    uint8_t* slot(std::size_t index) const noexcept { return storage_.get() + (index & mask_) * stride_; }

    struct AlignedDelete {
        void operator()(uint8_t* p) const noexcept { ::operator delete[](p, std::align_val_t(kCacheLineBytes)); }
    };

    alignas(kCacheLineBytes) std::atomic<std::size_t> head_{0};  // oldest record; written by the consumer
    std::size_t tail_cache_ = 0;                                  // consumer's last view of tail_
    bool peeked_ = false;                                         // consumer: a peek() awaits release() (asserts)
    alignas(kCacheLineBytes) std::atomic<std::size_t> tail_{0};  // next slot to fill; written by the producer
    std::size_t head_cache_ = 0;                                  // producer's last view of head_
    bool reserved_ = false;                                       // producer: a reserve() awaits commit() (asserts)
    alignas(kCacheLineBytes) std::size_t const mask_;             // read-only after construction
    std::size_t const slot_bytes_;
    std::size_t const len_offset_;  // the record's uint32_t length sits right after its bytes
    std::size_t const stride_;      // a multiple of the cache line
    std::unique_ptr<uint8_t[], AlignedDelete> const storage_;
};

}  // namespace voxa::reactor
