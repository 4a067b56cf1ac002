// A bounded single-producer single-consumer ring of T: how one worker hands work to another without locks.
//
// Exactly one thread pushes and exactly one thread pops (they may be the same thread). The capacity is a power of
// two fixed at construction; the storage is allocated there and never again. Head (written by the consumer) and
// tail (written by the producer) live on separate cache lines, and each side keeps a cached copy of the other's
// index beside its own, so a push or pop touches the shared line only when the cached view says full or empty.
// Only acquire/release ordering is used: the release store of an index publishes the slot it covers.
//
// T must be default-constructible and move-assignable (slots are constructed once, then assigned); trivially
// copyable types are the intended use (cell handles, indices, small commands).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "voxa/assert.h"

namespace voxa::reactor {

inline constexpr std::size_t kCacheLineBytes = 64;

template <class T>
class SpscRing {
    static_assert(std::is_default_constructible_v<T> && std::is_move_assignable_v<T>,
                  "SpscRing slots are constructed once and then assigned");
    static_assert(std::atomic<std::size_t>::is_always_lock_free);

public:
    // capacity_pow2: number of slots, a power of two >= 1 (VOXA_CHECK). Allocates once; setup only.
    explicit SpscRing(std::size_t capacity_pow2)
        : mask_(capacity_pow2 - 1), slots_(std::make_unique<T[]>(capacity_pow2)) {
        VOXA_CHECK(capacity_pow2 >= 1 && (capacity_pow2 & (capacity_pow2 - 1)) == 0);
    }

    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    // Producer thread only. Moves (or copies) v into the ring; returns false, leaving v untouched, when full.
    bool try_push(T&& v) noexcept { return push_impl(std::move(v)); }
    bool try_push(const T& v) noexcept { return push_impl(v); }

    // Consumer thread only. Moves the oldest item into *out; returns false (and leaves *out alone) when empty.
    bool try_pop(T* out) noexcept {
        VOXA_ASSERT(out != nullptr);
        std::size_t const head = head_.load(std::memory_order_relaxed);
        if (head == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head == tail_cache_) return false;
        }
        *out = std::move(slots_[head & mask_]);
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    // Consumer thread only. Moves up to max of the oldest items into out[0..n) in order; returns n (0 = empty).
    // One release store for the whole batch.
    std::size_t pop_batch(T* out, std::size_t max) noexcept {
        VOXA_ASSERT(out != nullptr || max == 0);
        std::size_t const head = head_.load(std::memory_order_relaxed);
        std::size_t avail = tail_cache_ - head;
        if (avail < max) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            avail = tail_cache_ - head;
        }
        std::size_t const n = avail < max ? avail : max;
        for (std::size_t i = 0; i < n; ++i) out[i] = std::move(slots_[(head + i) & mask_]);
        if (n != 0) head_.store(head + n, std::memory_order_release);
        return n;
    }

    // Any thread. A snapshot of the number of items, exact only when neither side is moving; <= capacity().
    std::size_t size_approx() const noexcept {
        // Head first: tail only grows, so a tail read afterwards is never behind this head.
        std::size_t const head = head_.load(std::memory_order_acquire);
        std::size_t const tail = tail_.load(std::memory_order_acquire);
        std::size_t const n = tail - head;
        return n > capacity() ? capacity() : n;
    }

    std::size_t capacity() const noexcept { return mask_ + 1; }

private:
    template <class U>
    bool push_impl(U&& v) noexcept {
        std::size_t const tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_cache_ == capacity()) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail - head_cache_ == capacity()) return false;
        }
        slots_[tail & mask_] = std::forward<U>(v);
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Indices count forever (64-bit: no wrap in practice); slot = index & mask_.
    alignas(kCacheLineBytes) std::atomic<std::size_t> head_{0};  // next item to pop; written by the consumer
    std::size_t tail_cache_ = 0;                                  // consumer's last view of tail_
    alignas(kCacheLineBytes) std::atomic<std::size_t> tail_{0};  // next slot to fill; written by the producer
    std::size_t head_cache_ = 0;                                  // producer's last view of head_
    alignas(kCacheLineBytes) std::size_t const mask_;             // read-only after construction
    std::unique_ptr<T[]> const slots_;
};

}  // namespace voxa::reactor
