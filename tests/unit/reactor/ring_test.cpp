// SpscRing and SlotRing: single-thread semantics (full, empty, wrap, batches) and two-thread stress runs that check
// the order and contents of millions of items.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "reactor/slot_ring.h"
#include "reactor/spsc_ring.h"

namespace voxa::reactor {
namespace {

// Sanitizer builds run fewer iterations (set by meson.build).
constexpr bool kSanitized = VOXA_TEST_SANITIZED != 0;

TEST(SpscRing, FullEmptyAndWrap) {
    SpscRing<uint64_t> ring(4);
    EXPECT_EQ(ring.capacity(), 4u);
    uint64_t out = 99;
    EXPECT_FALSE(ring.try_pop(&out));
    EXPECT_EQ(out, 99u);  // untouched when empty
    uint64_t next_in = 0;
    uint64_t next_out = 0;
    // Many rounds of fill-to-full then drain, so the indices wrap the slots many times.
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.try_push(next_in++));
        EXPECT_EQ(ring.size_approx(), 4u);
        uint64_t const rejected = 12345;
        EXPECT_FALSE(ring.try_push(rejected));
        for (int i = 0; i < 4; ++i) {
            ASSERT_TRUE(ring.try_pop(&out));
            ASSERT_EQ(out, next_out++);
        }
        EXPECT_FALSE(ring.try_pop(&out));
        EXPECT_EQ(ring.size_approx(), 0u);
    }
    // Interleaved: never more than 3 in flight, wrapping at odd offsets.
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(ring.try_push(next_in++));
        if (i % 3 != 0) {
            ASSERT_TRUE(ring.try_pop(&out));
            ASSERT_EQ(out, next_out++);
        }
        ASSERT_LE(ring.size_approx(), 4u);
        if (ring.size_approx() == 4) {
            ASSERT_TRUE(ring.try_pop(&out));
            ASSERT_EQ(out, next_out++);
        }
    }
    while (ring.try_pop(&out)) ASSERT_EQ(out, next_out++);
    EXPECT_EQ(next_in, next_out);
}

TEST(SpscRing, CapacityOneWorks) {
    SpscRing<int> ring(1);
    int out = 0;
    EXPECT_TRUE(ring.try_push(7));
    EXPECT_FALSE(ring.try_push(8));
    EXPECT_TRUE(ring.try_pop(&out));
    EXPECT_EQ(out, 7);
    EXPECT_TRUE(ring.try_push(9));
    EXPECT_TRUE(ring.try_pop(&out));
    EXPECT_EQ(out, 9);
}

TEST(SpscRing, PopBatchTakesWhatIsThereInOrder) {
    SpscRing<uint32_t> ring(8);
    uint32_t out[16] = {};
    EXPECT_EQ(ring.pop_batch(out, 16), 0u);
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    for (int round = 0; round < 100; ++round) {
        uint32_t const pushes = 1 + static_cast<uint32_t>(round % 8);
        for (uint32_t i = 0; i < pushes; ++i) ASSERT_TRUE(ring.try_push(next_in++));
        std::size_t const max = 1 + static_cast<std::size_t>(round % 5);
        std::size_t got = 0;
        while (std::size_t n = ring.pop_batch(out, max)) {
            ASSERT_LE(n, max);
            for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], next_out++);
            got += n;
        }
        ASSERT_EQ(got, pushes);
    }
    EXPECT_EQ(ring.pop_batch(out, 0), 0u);
}

TEST(SpscRing, MovesMoveOnlyItems) {
    SpscRing<std::unique_ptr<int>> ring(2);
    EXPECT_TRUE(ring.try_push(std::make_unique<int>(1)));
    EXPECT_TRUE(ring.try_push(std::make_unique<int>(2)));
    auto third = std::make_unique<int>(3);
    EXPECT_FALSE(ring.try_push(std::move(third)));
    ASSERT_NE(third, nullptr);  // a failed push leaves the item with the caller
    std::unique_ptr<int> out;
    ASSERT_TRUE(ring.try_pop(&out));
    EXPECT_EQ(*out, 1);
    EXPECT_TRUE(ring.try_push(std::move(third)));
    ASSERT_TRUE(ring.try_pop(&out));
    EXPECT_EQ(*out, 2);
    ASSERT_TRUE(ring.try_pop(&out));
    EXPECT_EQ(*out, 3);
}

// A value the consumer can check without knowing anything but its sequence number.
uint64_t mix(uint64_t i) noexcept { return i * 0x9E3779B97F4A7C15ull ^ (i >> 7); }

struct Item {
    uint64_t seq = 0;
    uint64_t check = 0;
};

// One producer, one consumer, each on its own thread; the consumer checks that every item arrives once, in order,
// intact. Either side yields when the ring is full or empty so the test also progresses on a single busy core.
void spsc_stress(std::size_t capacity, uint64_t items, bool batch) {
    SpscRing<Item> ring(capacity);
    auto const start = std::chrono::steady_clock::now();
    std::thread producer([&] {
        for (uint64_t i = 0; i < items; ++i) {
            Item const item{i, mix(i)};
            while (!ring.try_push(item)) std::this_thread::yield();
        }
    });
    uint64_t expected = 0;
    uint64_t bad = 0;
    Item out[64];
    while (expected < items) {
        std::size_t n = 0;
        if (batch) {
            n = ring.pop_batch(out, 64);
        } else {
            n = ring.try_pop(&out[0]) ? 1 : 0;
        }
        if (n == 0) {
            std::this_thread::yield();
            continue;
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (out[i].seq != expected || out[i].check != mix(expected)) bad += 1;
            expected += 1;
        }
    }
    producer.join();
    double const s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(expected, items);
    Item extra;
    EXPECT_FALSE(ring.try_pop(&extra));
    std::printf("spsc capacity %zu %s: %.1f M items/s\n", capacity, batch ? "batch" : "single",
                static_cast<double>(items) / s / 1e6);
}

TEST(SpscRing, TwoThreadStressSingle) { spsc_stress(1024, kSanitized ? 1'000'000 : 3'000'000, false); }
TEST(SpscRing, TwoThreadStressBatch) { spsc_stress(256, kSanitized ? 1'000'000 : 3'000'000, true); }
TEST(SpscRing, TwoThreadStressTinyRing) { spsc_stress(2, kSanitized ? 20'000 : 100'000, false); }

TEST(SlotRing, FullEmptyWrapAndLengths) {
    SlotRing ring(4, 100);
    EXPECT_EQ(ring.slot_bytes(), 100u);
    EXPECT_EQ(ring.slots(), 4u);
    std::size_t len = 7;
    EXPECT_EQ(ring.peek(&len), nullptr);
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    for (int round = 0; round < 30; ++round) {
        for (int i = 0; i < 4; ++i) {
            uint8_t* slot = ring.reserve();
            ASSERT_NE(slot, nullptr);
            EXPECT_EQ(reinterpret_cast<uintptr_t>(slot) % 64, 0u);
            std::size_t const n = next_in % 101;  // 0..100 bytes, both ends included
            std::memset(slot, static_cast<int>(next_in & 0xff), n);
            ring.commit(n);
            next_in += 1;
        }
        EXPECT_EQ(ring.reserve(), nullptr);
        EXPECT_EQ(ring.size_approx(), 4u);
        for (int i = 0; i < 4; ++i) {
            const uint8_t* rec = ring.peek(&len);
            ASSERT_NE(rec, nullptr);
            ASSERT_EQ(len, next_out % 101);
            EXPECT_EQ(ring.peek(&len), rec);  // peek again: the same record
            for (std::size_t b = 0; b < len; ++b) ASSERT_EQ(rec[b], next_out & 0xff);
            ring.release();
            next_out += 1;
        }
        EXPECT_EQ(ring.peek(&len), nullptr);
    }
}

TEST(SlotRing, ReserveTwiceIsTheSameSlotAndFullSlotFits) {
    SlotRing ring(2, 1280);
    uint8_t* a = ring.reserve();
    uint8_t* b = ring.reserve();
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a, b);
    std::memset(a, 0xAB, 1280);  // the whole slot is writable (ASan checks the bounds)
    ring.commit(1280);
    uint8_t* c = ring.reserve();
    ASSERT_NE(c, nullptr);
    EXPECT_NE(c, a);
    std::memset(c, 0xCD, 1280);
    ring.commit(1280);
    EXPECT_EQ(ring.reserve(), nullptr);
    std::size_t len = 0;
    const uint8_t* r = ring.peek(&len);
    ASSERT_EQ(len, 1280u);
    EXPECT_EQ(r[0], 0xAB);
    EXPECT_EQ(r[1279], 0xAB);  // the length stored after the record did not overwrite it
    ring.release();
    r = ring.peek(&len);
    ASSERT_EQ(len, 1280u);
    EXPECT_EQ(r[1279], 0xCD);
    ring.release();
}

TEST(SlotRing, TwoThreadStress) {
    uint64_t const records = kSanitized ? 300'000 : 1'000'000;
    constexpr std::size_t kSlotBytes = 1280;
    SlotRing ring(256, kSlotBytes);
    auto const start = std::chrono::steady_clock::now();
    std::thread producer([&] {
        for (uint64_t i = 0; i < records; ++i) {
            uint8_t* slot = nullptr;
            while ((slot = ring.reserve()) == nullptr) std::this_thread::yield();
            std::size_t const len = 8 + mix(i) % (kSlotBytes - 7);  // 8..1280
            std::memcpy(slot, &i, 8);
            std::memset(slot + 8, static_cast<int>(mix(i) & 0xff), len - 8);
            ring.commit(len);
        }
    });
    uint64_t expected = 0;
    uint64_t bad = 0;
    while (expected < records) {
        std::size_t len = 0;
        const uint8_t* rec = ring.peek(&len);
        if (rec == nullptr) {
            std::this_thread::yield();
            continue;
        }
        uint64_t seq = 0;
        std::memcpy(&seq, rec, 8);
        if (seq != expected || len != 8 + mix(expected) % (kSlotBytes - 7)) {
            bad += 1;
        } else {
            uint8_t const fill = static_cast<uint8_t>(mix(expected) & 0xff);
            // Spot-check the first, middle and last bytes of the body.
            if (len > 8 && (rec[8] != fill || rec[len / 2 + 4] != fill || rec[len - 1] != fill)) bad += 1;
        }
        ring.release();
        expected += 1;
    }
    producer.join();
    double const s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(bad, 0u);
    std::size_t len = 0;
    EXPECT_EQ(ring.peek(&len), nullptr);
    std::printf("slot ring 256 x 1280 B: %.2f M records/s\n", static_cast<double>(records) / s / 1e6);
}

}  // namespace
}  // namespace voxa::reactor
