// Ring semantics on a real segment mapping: order, sequence numbers, full and empty, zero-copy reserve/commit,
// malformed slots skipped and counted, resumption of handles (restart), and a two-thread run for TSan.
#include <cstring>
#include <thread>
#include <vector>

#include "shm/ring.h"
#include "shm_fixture.h"

namespace voxa::shm::test {
namespace {

class RingTest : public ShmTest {
protected:
    void SetUp() override {
        ShmTest::SetUp();
        control_ = open_ok(Side::kControl, small_config());
        data_ = open_ok(Side::kData, small_config());
        ASSERT_TRUE(control_ && data_);
    }
    // The raw slot i of worker 0's command ring, to play a misbehaving producer.
    uint8_t* raw_slot(uint64_t i) {
        auto* base = reinterpret_cast<uint8_t*>(const_cast<SegmentHeader*>(&control_->header()));
        return base + control_->header().rings[0].command_offset + sizeof(RingHeader) + (i % 64) * 256;
    }
    std::unique_ptr<Segment> control_, data_;
};

std::vector<uint8_t> pattern(uint64_t seq, std::size_t n) {
    std::vector<uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = uint8_t(seq * 7 + i);
    return b;
}

TEST_F(RingTest, DeliversInOrderWithTypeLengthAndSequence) {
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    EXPECT_EQ(p.capacity(), 64u);
    EXPECT_EQ(p.body_bytes_max(), 240u);
    for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(p.try_push(uint16_t(100 + i), pattern(i, i * 4)));
    EXPECT_EQ(p.size_approx(), 50u);
    for (uint64_t i = 0; i < 50; ++i) {
        SlotView v;
        ASSERT_TRUE(c.peek(&v));
        EXPECT_EQ(v.type, 100 + i);
        EXPECT_EQ(v.seq, i);
        ASSERT_EQ(v.body.size(), i * 4);
        auto const want = pattern(i, i * 4);
        EXPECT_TRUE(std::equal(v.body.begin(), v.body.end(), want.begin()));
        c.release();
    }
    SlotView v;
    EXPECT_FALSE(c.peek(&v));
    EXPECT_EQ(c.size_approx(), 0u);
}

TEST_F(RingTest, FullRefusesUntilConsumerReleases) {
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    uint8_t const b[4] = {1, 2, 3, 4};
    for (uint32_t i = 0; i < p.capacity(); ++i) ASSERT_TRUE(p.try_push(1, b));
    EXPECT_FALSE(p.try_push(1, b));
    EXPECT_TRUE(p.reserve().empty());
    SlotView v;
    ASSERT_TRUE(c.peek(&v));
    EXPECT_FALSE(p.try_push(1, b));   // peeked but not released: the slot still belongs to the consumer
    c.release();
    EXPECT_TRUE(p.try_push(2, b));
    EXPECT_FALSE(p.try_push(2, b));
    EXPECT_EQ(c.size_approx(), p.capacity());
}

TEST_F(RingTest, OversizeBodyRefusedAndNothingPublished) {
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    std::vector<uint8_t> big(p.body_bytes_max() + 1, 0xaa);
    EXPECT_FALSE(p.try_push(1, big));
    big.pop_back();
    EXPECT_TRUE(p.try_push(1, big));   // exactly body_bytes_max fits
    SlotView v;
    ASSERT_TRUE(c.peek(&v));
    EXPECT_EQ(v.body.size(), p.body_bytes_max());
    c.release();
    EXPECT_FALSE(c.peek(&v));
}

TEST_F(RingTest, ReserveCommitWritesInPlace) {
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    std::span<uint8_t> s = p.reserve();
    ASSERT_EQ(s.size(), p.body_bytes_max());
    EXPECT_EQ(p.reserve().data(), s.data());   // same slot until commit
    std::memcpy(s.data(), "hello", 5);
    EXPECT_EQ(p.commit(9, 5), 0u);
    SlotView v;
    ASSERT_TRUE(c.peek(&v));
    // The consumer reads where the producer wrote (same offset in its own mapping of the file): no copy.
    auto const offset = [](const void* at, const Segment& seg) {
        return reinterpret_cast<const uint8_t*>(at) - reinterpret_cast<const uint8_t*>(&seg.header());
    };
    EXPECT_EQ(offset(v.body.data(), *data_), offset(s.data(), *control_));
    EXPECT_EQ(std::memcmp(v.body.data(), "hello", 5), 0);
}

TEST_F(RingTest, MalformedSlotsAreSkippedAndCounted) {
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    uint8_t const b[8] = {};
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.try_push(uint16_t(i), b));
    SlotHeader h;
    // Slot 0: len beyond the body; slot 1: wrong sequence number; slot 2: reserved bits set. Slot 3 is good.
    std::memcpy(&h, raw_slot(0), sizeof h);
    h.len = 241;
    std::memcpy(raw_slot(0), &h, sizeof h);
    std::memcpy(&h, raw_slot(1), sizeof h);
    h.seq = 77;
    std::memcpy(raw_slot(1), &h, sizeof h);
    std::memcpy(&h, raw_slot(2), sizeof h);
    h.rsv = 1;
    std::memcpy(raw_slot(2), &h, sizeof h);
    SlotView v;
    ASSERT_TRUE(c.peek(&v));
    EXPECT_EQ(v.type, 3);
    EXPECT_EQ(v.seq, 3u);
    EXPECT_EQ(c.stats().drops[std::size_t(RingDrop::kBadLength)], 1u);
    EXPECT_EQ(c.stats().drops[std::size_t(RingDrop::kBadSeq)], 1u);
    EXPECT_EQ(c.stats().drops[std::size_t(RingDrop::kBadReserved)], 1u);
    c.release();
    EXPECT_FALSE(c.peek(&v));
}

TEST_F(RingTest, RunawayTailIsClampedToOneRing) {
    // A broken producer that claims far more than a ring: the consumer never reads beyond one ring's worth.
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    uint8_t const b[1] = {1};
    ASSERT_TRUE(p.try_push(1, b));
    SlotView v;
    ASSERT_TRUE(c.peek(&v));
    c.release();
    auto* ring = reinterpret_cast<RingHeader*>(raw_slot(0) - sizeof(RingHeader));
    ring->tail.store(1'000'000);
    EXPECT_FALSE(c.peek(&v));   // every slot fails its seq check; bounded work per call, no crash
    EXPECT_EQ(c.stats().drops[std::size_t(RingDrop::kBadSeq)], 64u);
}

TEST_F(RingTest, WrapsAroundManyTimes) {
    RingProducer p = control_->command_producer(1);
    RingConsumer c = data_->command_consumer(1);
    uint64_t next_in = 0, next_out = 0;
    while (next_out < 10'000) {
        while (next_in < 10'000 && p.try_push(5, pattern(next_in, next_in % 200))) ++next_in;
        SlotView v;
        int n = 0;
        while (n < 17 && c.peek(&v)) {
            ASSERT_EQ(v.seq, next_out);
            ASSERT_EQ(v.body.size(), next_out % 200);
            auto const want = pattern(next_out, next_out % 200);
            ASSERT_TRUE(std::equal(v.body.begin(), v.body.end(), want.begin()));
            c.release();
            ++next_out;
            ++n;
        }
    }
    EXPECT_EQ(next_in, 10'000u);
}

TEST_F(RingTest, NewHandlesResumeWhereTheOldOnesStopped) {
    {
        RingProducer p = control_->command_producer(0);
        uint8_t const b[1] = {1};
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.try_push(uint16_t(i), b));
        // A producer "dies" between reserve and commit: nothing is published.
        ASSERT_FALSE(p.reserve().empty());
    }
    SlotView v;
    {
        RingConsumer c = data_->command_consumer(0);
        ASSERT_TRUE(c.peek(&v));
        c.release();
        ASSERT_TRUE(c.peek(&v));
        EXPECT_EQ(v.seq, 1u);
        // The consumer "dies" after peek, before release: the next one sees the message again.
    }
    RingConsumer c = data_->command_consumer(0);
    RingProducer p = control_->command_producer(0);
    uint8_t const b[1] = {2};
    ASSERT_TRUE(p.try_push(3, b));
    for (uint64_t want = 1; want <= 3; ++want) {
        ASSERT_TRUE(c.peek(&v));
        EXPECT_EQ(v.seq, want);
        EXPECT_EQ(v.type, want);
        c.release();
    }
    EXPECT_FALSE(c.peek(&v));
}

// Two threads in one process on the shared mapping: under TSan this checks the ordering of the ring's atomics.
TEST_F(RingTest, TwoThreadsNothingLostOrTorn) {
    constexpr uint64_t kMessages = VOXA_TEST_SANITIZED ? 20'000 : 300'000;
    RingProducer p = control_->command_producer(0);
    RingConsumer c = data_->command_consumer(0);
    std::thread producer([&] {
        for (uint64_t i = 0; i < kMessages;) {
            std::span<uint8_t> s = p.reserve();
            if (s.empty()) {
                std::this_thread::yield();
                continue;
            }
            std::size_t const n = 8 + i % 64;
            for (std::size_t k = 0; k < n; ++k) s[k] = uint8_t(i + k);
            std::memcpy(s.data(), &i, 8);
            p.commit(uint16_t(i), n);
            ++i;
        }
    });
    uint64_t bad = 0;
    for (uint64_t i = 0; i < kMessages;) {
        SlotView v;
        if (!c.peek(&v)) {
            std::this_thread::yield();
            continue;
        }
        uint64_t got;
        std::memcpy(&got, v.body.data(), 8);
        bad += got != i || v.seq != i || v.type != uint16_t(i) || v.body.size() != 8 + i % 64;
        for (std::size_t k = 8; k < v.body.size(); ++k) bad += v.body[k] != uint8_t(i + k);
        c.release();
        ++i;
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace voxa::shm::test
