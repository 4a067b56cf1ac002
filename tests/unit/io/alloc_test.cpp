// The io_uring datagram path allocates nothing: once the backends are up, receiving (multishot into the provided
// buffer ring, GRO batches split into cells), transmitting (copy into a TX slot, GSO runs) and flushing make no
// heap allocation at all (DESIGN §4). Checked by counting operator new on this thread.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "io/udp_socket.h"
#include "io/uring_backend.h"
#include "support/alloc_counter.h"

namespace voxa::io {
namespace {

struct Count final : RxHandler {
    std::size_t datagrams = 0, bytes = 0;
    void on_datagram(const Endpoint&, uint8_t* data, std::size_t len) noexcept override {
        ++datagrams;
        bytes += len;
        data[0] ^= 1;   // writable, as the engine needs
    }
};

std::unique_ptr<Backend> backend() {
    UringConfig c;
    EXPECT_TRUE(parse_endpoint("127.0.0.1:0", &c.bind));
    std::string error;
    return make_uring_backend(c, &error);
}

// Sends `count` cells from a to b in runs of 32 and receives them; returns the datagrams received.
std::size_t exchange(Backend& a, Backend& b, const Endpoint& to, std::size_t count, Count& rx) {
    uint8_t cell[1280] = {1};
    const std::size_t start = rx.datagrams;
    for (std::size_t sent = 0; sent < count;) {
        for (int i = 0; i < 32 && sent < count; ++i, ++sent) a.transmit(to, std::span<const uint8_t>(cell));
        a.flush();
        a.poll(rx, 64);   // reaps a's send completions (it receives nothing)
        b.poll(rx, 64);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (rx.datagrams - start < count && std::chrono::steady_clock::now() < deadline) {
        a.poll(rx, 64);
        if (b.poll(rx, 64) == 0) b.wait(1'000'000);
    }
    return rx.datagrams - start;
}

TEST(UringPath, SendingAndReceivingAllocatesNothing) {
    auto a = backend();
    auto b = backend();
    if (!a || !b) GTEST_SKIP() << "io_uring is unavailable here";
    ASSERT_GT(test::allocations_on_this_thread(), 0u) << "the counter sees the backends' set-up allocations";
    Endpoint to;
    ASSERT_TRUE(parse_endpoint("127.0.0.1:" + std::to_string(b->local_port()), &to));
    Count rx;
    ASSERT_GT(exchange(*a, *b, to, 256, rx), 200u);   // warm-up: lazily sized state, if any
    const std::size_t before = test::allocations_on_this_thread();
    const std::size_t got = exchange(*a, *b, to, 20000, rx);
    const std::size_t allocations = test::allocations_on_this_thread() - before;
    EXPECT_GT(got, 19000u) << "loopback lost more than 5%";
    EXPECT_GT(a->stats().tx_gso_batches, 0u);
    EXPECT_EQ(allocations, 0u) << "allocations while moving " << got << " datagrams";
}

}  // namespace
}  // namespace voxa::io
