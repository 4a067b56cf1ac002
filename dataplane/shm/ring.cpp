#include "shm/ring.h"

#include <cstring>
#include <new>

#include "voxa/assert.h"

namespace voxa::shm {

namespace {
// Messages published and not yet released, clamped to the capacity (the other side may be mid-update or broken).
std::size_t published(const RingHeader& ring, uint64_t mask) noexcept {
    // Head first: tail only grows, so a tail read afterwards is never behind this head.
    uint64_t const head = ring.head.load(std::memory_order_acquire);
    uint64_t const tail = ring.tail.load(std::memory_order_acquire);
    return tail - head > mask + 1 ? std::size_t(mask + 1) : std::size_t(tail - head);
}
}  // namespace

std::size_t ring_bytes(uint32_t slot_count, uint32_t slot_bytes) noexcept {
    return sizeof(RingHeader) + std::size_t(slot_count) * slot_bytes;
}

void ring_init(void* ring, uint32_t slot_count, uint32_t slot_bytes) noexcept {
    VOXA_CHECK(slot_count >= 1 && (slot_count & (slot_count - 1)) == 0);
    VOXA_CHECK(slot_bytes % kCacheLineBytes == 0 && slot_bytes >= kSlotBytesMin && slot_bytes <= kSlotBytesMax);
    VOXA_CHECK(reinterpret_cast<uintptr_t>(ring) % kCacheLineBytes == 0);
    auto* r = new (ring) RingHeader{};
    r->head.store(0, std::memory_order_relaxed);
    r->tail.store(0, std::memory_order_relaxed);
    r->slot_count = slot_count;
    r->slot_bytes = slot_bytes;
    // Slot headers start zeroed (a fresh ftruncate'd file); nothing else to do: a slot means nothing until the
    // producer publishes it.
}

RingProducer::RingProducer(RingHeader* ring) noexcept
    : ring_(ring),
      slots_(reinterpret_cast<uint8_t*>(ring) + sizeof(RingHeader)),
      mask_(uint64_t(ring->slot_count) - 1),
      slot_bytes_(ring->slot_bytes),
      tail_(ring->tail.load(std::memory_order_relaxed)),
      head_cache_(ring->head.load(std::memory_order_acquire)) {
    VOXA_CHECK(ring->slot_count >= 1 && (ring->slot_count & (ring->slot_count - 1)) == 0);
    VOXA_CHECK(slot_bytes_ >= kSlotBytesMin && slot_bytes_ <= kSlotBytesMax);
}

std::span<uint8_t> RingProducer::reserve() noexcept {
    VOXA_ASSERT(ring_ != nullptr);
    if (tail_ - head_cache_ > mask_) {
        head_cache_ = ring_->head.load(std::memory_order_acquire);
        if (tail_ - head_cache_ > mask_) return {};
    }
    uint8_t* slot = slots_ + (tail_ & mask_) * slot_bytes_;
    return {slot + kSlotHeaderBytes, body_bytes_max()};
}

uint64_t RingProducer::commit(uint16_t type, std::size_t len) noexcept {
    VOXA_CHECK(len <= body_bytes_max());
    VOXA_ASSERT(tail_ - head_cache_ <= mask_);   // reserve() found room
    uint8_t* slot = slots_ + (tail_ & mask_) * slot_bytes_;
    SlotHeader const h{type, uint16_t(len), 0, tail_};
    std::memcpy(slot, &h, sizeof h);
    uint64_t const seq = tail_;
    tail_ += 1;
    ring_->tail.store(tail_, std::memory_order_release);
    return seq;
}

bool RingProducer::try_push(uint16_t type, std::span<const uint8_t> body) noexcept {
    if (body.size() > body_bytes_max()) return false;
    std::span<uint8_t> const space = reserve();
    if (space.empty()) return false;
    if (!body.empty()) std::memcpy(space.data(), body.data(), body.size());
    commit(type, body.size());
    return true;
}

std::size_t RingProducer::size_approx() const noexcept { return published(*ring_, mask_); }

RingConsumer::RingConsumer(RingHeader* ring) noexcept
    : ring_(ring),
      slots_(reinterpret_cast<const uint8_t*>(ring) + sizeof(RingHeader)),
      mask_(uint64_t(ring->slot_count) - 1),
      slot_bytes_(ring->slot_bytes),
      head_(ring->head.load(std::memory_order_relaxed)),
      tail_cache_(head_) {   // the first peek() loads (and bounds) the tail
    VOXA_CHECK(ring->slot_count >= 1 && (ring->slot_count & (ring->slot_count - 1)) == 0);
    VOXA_CHECK(slot_bytes_ >= kSlotBytesMin && slot_bytes_ <= kSlotBytesMax);
}

bool RingConsumer::peek(SlotView* out) noexcept {
    VOXA_ASSERT(out != nullptr && ring_ != nullptr);
    // Bounded: each round either returns or skips one slot; at most capacity() slots are skipped per call.
    for (uint64_t round = 0; round <= mask_; ++round) {
        if (head_ == tail_cache_) {
            tail_cache_ = ring_->tail.load(std::memory_order_acquire);
            if (head_ == tail_cache_) return false;
            // A tail more than a ring ahead is a broken producer; trust only what fits.
            if (tail_cache_ - head_ > mask_ + 1) tail_cache_ = head_ + mask_ + 1;
        }
        const uint8_t* slot = slots_ + (head_ & mask_) * slot_bytes_;
        // Copy the header out once, so a misbehaving writer cannot change len between the check and the use.
        SlotHeader h;
        std::memcpy(&h, slot, sizeof h);
        RingDrop why = RingDrop::kNone;
        if (h.len > slot_bytes_ - kSlotHeaderBytes) {
            why = RingDrop::kBadLength;
        } else if (h.seq != head_) {
            why = RingDrop::kBadSeq;
        } else if (h.rsv != 0) {
            why = RingDrop::kBadReserved;
        }
        if (why == RingDrop::kNone) [[likely]] {
            out->type = h.type;
            out->seq = h.seq;
            out->body = {slot + kSlotHeaderBytes, h.len};
            peeked_ = true;
            return true;
        }
        stats_.drops[std::size_t(why)] += 1;
        head_ += 1;
        ring_->head.store(head_, std::memory_order_release);
    }
    return false;
}

void RingConsumer::release() noexcept {
    VOXA_CHECK(peeked_);
    peeked_ = false;
    head_ += 1;
    ring_->head.store(head_, std::memory_order_release);
}

std::size_t RingConsumer::size_approx() const noexcept { return published(*ring_, mask_); }

}  // namespace voxa::shm
