// Fuzz target for the shm channel's message codec (dataplane/shm/messages.h) and the ring consumer's slot checks.
// Input: | type u16 | body ... |. The body goes through decode_command and decode_event (in an exact-size copy, so
// a read past it is an ASan error); whatever decodes must re-encode to the same bytes. Then the same input is laid
// out as raw ring slots (a misbehaving producer) and drained through a RingConsumer: it must return only slots
// whose len fits and whose seq is their position, and terminate.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "shm/messages.h"
#include "shm/ring.h"
#include "voxa/assert.h"

using namespace voxa;
using namespace voxa::shm;

namespace {

void check_messages(uint16_t type, const std::vector<uint8_t>& body) {
    Command c;
    if (decode_command(type, body, &c) == DecodeError::kNone) {
        VOXA_CHECK(uint16_t(command_type(c)) == type);
        std::vector<uint8_t> again(body.size() + 1);
        std::size_t const n = encode_command(c, again);
        VOXA_CHECK(n == body.size());
        VOXA_CHECK(n == 0 || std::memcmp(again.data(), body.data(), n) == 0);
    }
    Event e;
    if (decode_event(type, body, &e) == DecodeError::kNone) {
        VOXA_CHECK(uint16_t(event_type(e)) == type);
        std::vector<uint8_t> again(body.size() + 1);
        std::size_t const n = encode_event(e, again);
        VOXA_CHECK(n == body.size());
        VOXA_CHECK(n == 0 || std::memcmp(again.data(), body.data(), n) == 0);
    }
}

void check_ring(const uint8_t* data, std::size_t size) {
    constexpr uint32_t kSlots = 8, kSlotBytes = kSlotBytesMin;
    alignas(64) static uint8_t ring_mem[sizeof(RingHeader) + kSlots * kSlotBytes];
    std::memset(ring_mem, 0, sizeof ring_mem);
    ring_init(ring_mem, kSlots, kSlotBytes);
    auto* ring = reinterpret_cast<RingHeader*>(ring_mem);
    // The input becomes the slots' bytes and, from its first 8 bytes, a claimed tail (anything, even absurd).
    std::size_t const n = std::min(size, std::size_t(kSlots) * kSlotBytes);
    if (n != 0) std::memcpy(ring_mem + sizeof(RingHeader), data, n);
    uint64_t tail = 0;
    if (size >= 8) tail = load_u64(data);
    ring->tail.store(tail, std::memory_order_relaxed);
    RingConsumer consumer(ring);
    uint64_t taken = 0, expect_seq = 0;
    for (int calls = 0; calls < 4 * int(kSlots); ++calls) {
        SlotView v;
        if (!consumer.peek(&v)) continue;
        VOXA_CHECK(v.body.size() <= kSlotBytes - kSlotHeaderBytes);
        VOXA_CHECK(v.seq >= expect_seq);
        expect_seq = v.seq + 1;
        Command c;
        Event e;
        (void)decode_command(v.type, v.body, &c);
        (void)decode_event(v.type, v.body, &e);
        consumer.release();
        ++taken;
    }
    uint64_t skipped = 0;
    for (uint64_t d : consumer.stats().drops) skipped += d;
    VOXA_CHECK(taken + skipped <= 4ull * kSlots * (kSlots + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    uint16_t const type = load_u16(data);
    std::vector<uint8_t> const body(data + 2, data + size);
    check_messages(type, body);
    check_ring(data, size);
    return 0;
}
