// The io_uring backend over real sockets on 127.0.0.1 and ::1: both families, GSO runs that arrive as separate
// datagrams through GRO, no wrong coalescing, the doorbell and the timeout of wait(), steering across two
// backends, and buffers that are always recycled.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/steering.h"
#include "io/udp_socket.h"
#include "io/uring_backend.h"

namespace voxa::io {
namespace {

struct Received {
    Endpoint from;
    std::vector<uint8_t> data;
};

class Collect final : public RxHandler {
public:
    void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept override {
        if (keep) got.push_back(Received{from, std::vector<uint8_t>(data, data + len)});
        ++count;
        if (len > 0) data[0] ^= 0xff;   // the buffer is writable (the engine decrypts in place)
    }
    std::vector<Received> got;
    std::size_t count = 0;
    bool keep = true;
};

Endpoint ep(const std::string& text) {
    Endpoint e;
    EXPECT_TRUE(parse_endpoint(text, &e)) << text;
    return e;
}

// A backend, or a skip when io_uring itself is unavailable.
std::unique_ptr<Backend> make(UringConfig c, const std::string& bind) {
    c.bind = ep(bind);
    std::string err;
    auto b = make_uring_backend(c, &err);
    if (!b) ADD_FAILURE() << err;
    return b;
}

bool uring_available() {
    UringConfig c;
    c.bind = ep("127.0.0.1:0");
    c.rx_buffers = 4;
    std::string err;
    auto b = make_uring_backend(c, &err);
    return b != nullptr || err.rfind("io_uring unavailable", 0) != 0;
}

#define REQUIRE_URING()                                                              \
    do {                                                                             \
        if (!uring_available()) GTEST_SKIP() << "io_uring is unavailable here";     \
    } while (0)

// Polls until `want` datagrams arrived or two seconds passed.
void poll_until(Backend& b, Collect& h, std::size_t want, std::size_t budget = 64) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (h.count < want && std::chrono::steady_clock::now() < deadline) {
        if (b.poll(h, budget) == 0) b.wait(1'000'000);
    }
}

Endpoint to_self(const Backend& b, const char* host) { return ep(std::string(host) + ":" + std::to_string(b.local_port())); }

std::vector<uint8_t> numbered(std::size_t len, uint32_t n) {
    std::vector<uint8_t> d(len);
    for (std::size_t i = 0; i < len; ++i) d[i] = uint8_t(n * 31 + i);
    for (std::size_t i = 0; i < len && i < 4; ++i) d[i] = uint8_t(n >> (8 * i));   // the number leads
    return d;
}

TEST(Uring, FeaturesOnThisKernel) {
    REQUIRE_URING();
    UringConfig c;
    auto b = make(c, "127.0.0.1:0");
    ASSERT_TRUE(b);
    const std::string f = b->features();
    EXPECT_NE(f.find("multishot"), std::string::npos) << f;
    EXPECT_NE(f.find("gso"), std::string::npos) << f;
    EXPECT_NE(f.find("gro"), std::string::npos) << f;
    EXPECT_NE(b->local_port(), 0);
}

TEST(Uring, RejectsBadConfig) {
    UringConfig c;
    c.bind = ep("127.0.0.1:0");
    c.worker = 2;
    c.workers = 2;
    std::string err;
    EXPECT_EQ(make_uring_backend(c, &err), nullptr);
    EXPECT_FALSE(err.empty());
    c.worker = 0;
    c.rx_buffer_bytes = 100;   // smaller than a cell
    err.clear();
    EXPECT_EQ(make_uring_backend(c, &err), nullptr);
    EXPECT_FALSE(err.empty());
}

void round_trip(const char* bind, const char* host, bool multishot) {
    UringConfig c;
    c.multishot = multishot;
    auto a = make(c, std::string(bind) + ":0");
    auto b = make(c, std::string(bind) + ":0");
    ASSERT_TRUE(a && b);
    if (!multishot) {
        EXPECT_NE(b->features().find("single-shot"), std::string::npos);
    }
    const auto msg = numbered(300, 7);
    a->transmit(to_self(*b, host), msg);
    EXPECT_TRUE(a->tx_pending());
    a->flush();
    EXPECT_FALSE(a->tx_pending());
    Collect h;
    poll_until(*b, h, 1);
    ASSERT_EQ(h.got.size(), 1u);
    EXPECT_EQ(h.got[0].data, msg);
    EXPECT_EQ(h.got[0].from, to_self(*a, host));   // the source, as a v4 endpoint when it was v4
    // And back, to the address the datagram came from.
    b->transmit(h.got[0].from, msg);
    b->flush();
    Collect back;
    poll_until(*a, back, 1);
    ASSERT_EQ(back.got.size(), 1u);
    EXPECT_EQ(back.got[0].data, msg);
    // Reap the send completions, then the counters add up.
    Collect none;
    a->poll(none, 16);
    b->poll(none, 16);
    EXPECT_EQ(a->stats().tx_packets, 1u);
    EXPECT_EQ(a->stats().tx_bytes, 300u);
    EXPECT_EQ(b->stats().rx_packets, 1u);
    EXPECT_EQ(b->stats().rx_bytes, 300u);
    EXPECT_EQ(a->stats().tx_errors + b->stats().rx_errors, 0u);
}

TEST(Uring, RoundTripIpv4) {
    REQUIRE_URING();
    round_trip("127.0.0.1", "127.0.0.1", true);
}
TEST(Uring, RoundTripIpv6) {
    REQUIRE_URING();
    round_trip("[::1]", "[::1]", true);
}
TEST(Uring, DualStackReportsV4PeersAsV4) {
    REQUIRE_URING();
    round_trip("[::]", "127.0.0.1", true);
}
TEST(Uring, SingleShotFallbackRoundTrip) {
    REQUIRE_URING();
    round_trip("127.0.0.1", "127.0.0.1", false);
    round_trip("[::1]", "[::1]", false);
}

// 40 cells to one peer: one GSO send, and on the other side 40 datagrams of exactly cell_bytes, in order.
void gso_run(bool receiver_gro, bool receiver_multishot, std::size_t budget) {
    UringConfig c;
    auto a = make(c, "127.0.0.1:0");
    UringConfig rc;
    rc.gro = receiver_gro;
    rc.multishot = receiver_multishot;
    auto b = make(rc, "127.0.0.1:0");
    ASSERT_TRUE(a && b);
    constexpr std::size_t kRun = 40;
    for (uint32_t i = 0; i < kRun; ++i) a->transmit(to_self(*b, "127.0.0.1"), numbered(c.cell_bytes, i));
    a->flush();
    Collect h;
    poll_until(*b, h, kRun, budget);
    ASSERT_EQ(h.got.size(), kRun);
    for (uint32_t i = 0; i < kRun; ++i) {
        ASSERT_EQ(h.got[i].data.size(), c.cell_bytes) << i;
        EXPECT_EQ(h.got[i].data, numbered(c.cell_bytes, i)) << i;
    }
    Collect none;
    a->poll(none, 1);
    EXPECT_EQ(a->stats().tx_gso_batches, 1u);
    EXPECT_EQ(a->stats().tx_packets, kRun);
    EXPECT_EQ(a->stats().tx_submits, 1u);
    if (receiver_gro) {
        EXPECT_GE(b->stats().rx_gro_batches, 1u);
        EXPECT_LT(b->stats().rx_completions, kRun);
    } else {
        EXPECT_EQ(b->stats().rx_completions, kRun);
    }
    EXPECT_EQ(b->stats().rx_packets, kRun);
    EXPECT_EQ(b->poll(none, 64), 0u);   // nothing more: no datagram twice
}

TEST(Uring, GsoRunArrivesAsSeparateDatagramsThroughGro) {
    REQUIRE_URING();
    gso_run(true, true, 64);
}
TEST(Uring, GroBatchSplitAcrossSmallBudgets) {
    REQUIRE_URING();
    gso_run(true, true, 3);   // a batch cut by the budget resumes where it stopped
}
TEST(Uring, GsoRunWithoutGroOnTheReceiver) {
    REQUIRE_URING();
    gso_run(false, true, 64);
}
TEST(Uring, GsoRunIntoTheSingleShotFallback) {
    REQUIRE_URING();
    gso_run(true, false, 64);
}

TEST(Uring, MixedSizesAndDestinationsAreNotCoalescedWrongly) {
    REQUIRE_URING();
    UringConfig c;
    auto a = make(c, "127.0.0.1:0");
    auto b = make(c, "127.0.0.1:0");
    auto d = make(c, "[::1]:0");
    ASSERT_TRUE(a && b && d);
    auto a6 = make(c, "[::]:0");   // a dual-stack sender reaches both
    ASSERT_TRUE(a6);
    const Endpoint tb = to_self(*b, "127.0.0.1"), td = to_self(*d, "[::1]");
    // to B: 3 x 1280 | to D: 2 x 1280 | to B: 600 | to B: 2 x 1280 | to B: 1280 at the end, after a 100
    struct Send {
        bool to_b;
        std::size_t len;
    };
    const Send plan[] = {{true, 1280}, {true, 1280}, {true, 1280}, {false, 1280}, {false, 1280}, {true, 600},
                         {true, 1280}, {true, 1280}, {true, 100},  {true, 100},   {true, 1280}};
    std::vector<std::vector<uint8_t>> want_b, want_d;
    uint32_t n = 0;
    for (const Send& s : plan) {
        auto msg = numbered(s.len, n++);
        a6->transmit(s.to_b ? tb : td, msg);
        (s.to_b ? want_b : want_d).push_back(std::move(msg));
    }
    a6->flush();
    Collect hb, hd;
    poll_until(*b, hb, want_b.size());
    poll_until(*d, hd, want_d.size());
    ASSERT_EQ(hb.got.size(), want_b.size());
    ASSERT_EQ(hd.got.size(), want_d.size());
    for (std::size_t i = 0; i < want_b.size(); ++i) EXPECT_EQ(hb.got[i].data, want_b[i]) << i;
    for (std::size_t i = 0; i < want_d.size(); ++i) EXPECT_EQ(hd.got[i].data, want_d[i]) << i;
    Collect none;
    a6->poll(none, 1);
    // Runs: B x3 (gso), D x2 (gso), B 600, B x2 (gso), B 100 x2 (gso), B 1280.
    EXPECT_EQ(a6->stats().tx_gso_batches, 4u);
    EXPECT_EQ(a6->stats().tx_packets, std::size(plan));
    EXPECT_EQ(a6->stats().tx_errors, 0u);
}

TEST(Uring, OversizeAndEmptyDatagramsAreDroppedAndCounted) {
    REQUIRE_URING();
    UringConfig c;
    auto a = make(c, "127.0.0.1:0");
    ASSERT_TRUE(a);
    const std::vector<uint8_t> big(c.cell_bytes + 1, 1);
    a->transmit(ep("127.0.0.1:9"), big);
    a->transmit(ep("127.0.0.1:9"), std::span<const uint8_t>());
    EXPECT_EQ(a->stats().tx_dropped_size, 2u);
    EXPECT_FALSE(a->tx_pending());
    // An IPv6 destination cannot be reached from an IPv4 socket.
    a->transmit(ep("[::1]:9"), std::vector<uint8_t>(10, 1));
    EXPECT_EQ(a->stats().tx_errors, 1u);
}

TEST(Uring, RunsLongerThanTheGsoLimitAreSplit) {
    REQUIRE_URING();
    UringConfig c;
    c.tx_batch = 1000;
    auto a = make(c, "127.0.0.1:0");
    UringConfig rc;
    rc.socket_buffer_bytes = 16 << 20;
    auto b = make(rc, "127.0.0.1:0");
    ASSERT_TRUE(a && b);
    constexpr uint32_t kRun = 120;   // 1280-byte cells: at most 51 fit one 64 KiB send
    for (uint32_t i = 0; i < kRun; ++i) a->transmit(to_self(*b, "127.0.0.1"), numbered(1280, i));
    a->flush();
    Collect h;
    poll_until(*b, h, kRun);
    ASSERT_EQ(h.got.size(), kRun);
    for (uint32_t i = 0; i < kRun; ++i) EXPECT_EQ(h.got[i].data, numbered(1280, i)) << i;
    Collect none;
    a->poll(none, 1);
    EXPECT_EQ(a->stats().tx_gso_batches, 3u);   // 51 + 51 + 18
}

TEST(Uring, WaitReturnsOnTheDoorbellAndOnTimeout) {
    REQUIRE_URING();
    const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(wake, 0);
    UringConfig c;
    c.wake_fd = wake;
    auto b = make(c, "127.0.0.1:0");
    ASSERT_TRUE(b);
    using Clock = std::chrono::steady_clock;
    // Timeout: about 50 ms.
    auto t0 = Clock::now();
    b->wait(50'000'000);
    auto took = Clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds(45));
    EXPECT_LT(took, std::chrono::milliseconds(1000));
    // Doorbell: rung 50 ms into a 5 s wait, twice in a row (the poll re-arms itself).
    Collect none;
    for (int round = 0; round < 2; ++round) {
        b->poll(none, 16);   // consume the previous doorbell completion
        std::thread ringer([wake] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const uint64_t one = 1;
            EXPECT_EQ(write(wake, &one, sizeof one), 8);
        });
        t0 = Clock::now();
        b->wait(5'000'000'000);
        took = Clock::now() - t0;
        ringer.join();
        EXPECT_LT(took, std::chrono::milliseconds(2000)) << "round " << round;
        uint64_t v = 0;
        EXPECT_EQ(read(wake, &v, sizeof v), 8);   // the reactor drains its own doorbell
    }
    // A datagram also ends a wait.
    auto a = make(UringConfig{}, "127.0.0.1:0");
    ASSERT_TRUE(a);
    b->poll(none, 16);
    a->transmit(to_self(*b, "127.0.0.1"), numbered(64, 1));
    a->flush();
    t0 = Clock::now();
    b->wait(5'000'000'000);
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2000));
    EXPECT_EQ(b->poll(none, 16), 1u);
    close(wake);
}

// Two workers in one group: the last one attaches the program, and each datagram lands on the worker its
// receiver index names.
TEST(Uring, TwoWorkersAreSteeredByTheProgram) {
    REQUIRE_URING();
    UringConfig c;
    c.workers = 2;
    c.worker = 0;
    auto w0 = make(c, "127.0.0.1:0");
    ASSERT_TRUE(w0);
    c.worker = 1;
    auto w1 = make(c, "127.0.0.1:" + std::to_string(w0->local_port()));
    ASSERT_TRUE(w1);
    EXPECT_EQ(w0->local_port(), w1->local_port());
    EXPECT_NE(w1->features().find("bpf-steering"), std::string::npos) << w1->features();
    auto client = make(UringConfig{}, "127.0.0.1:0");
    ASSERT_TRUE(client);
    const Endpoint group = to_self(*w0, "127.0.0.1");
    std::size_t want[2] = {0, 0};
    for (uint32_t i = 0; i < 20; ++i) {
        auto d = numbered(200, i);
        d[0] = 4;                   // transport
        d[7] = uint8_t(i * 7);      // owner byte of the receiver index
        want[steer_worker(d.data(), d.size(), 2)] += 1;
        client->transmit(group, d);
        client->flush();            // one send each: no GSO run decides for all of them
    }
    Collect h0, h1;
    poll_until(*w0, h0, want[0]);
    poll_until(*w1, h1, want[1]);
    EXPECT_EQ(h0.count, want[0]);
    EXPECT_EQ(h1.count, want[1]);
    for (const auto& r : h0.got) EXPECT_EQ(steer_worker(r.data.data(), r.data.size(), 2), 0u);
    for (const auto& r : h1.got) EXPECT_EQ(steer_worker(r.data.data(), r.data.size(), 2), 1u);
}

// 100k datagrams through a small buffer ring: if any buffer were not recycled the ring would run dry.
TEST(Uring, HundredThousandDatagramsRecycleEveryBuffer) {
    REQUIRE_URING();
    UringConfig sc;
    sc.gso = false;                 // one datagram per receive: every datagram takes a buffer
    auto a = make(sc, "127.0.0.1:0");
    UringConfig rc;
    rc.rx_buffers = 64;
    rc.rx_buffer_bytes = 2048;
    auto b = make(rc, "127.0.0.1:0");
    ASSERT_TRUE(a && b);
    const Endpoint to = to_self(*b, "127.0.0.1");
    Collect h;
    h.keep = false;
    Collect none;
    constexpr std::size_t kTotal = 100'000, kBurst = 32;
    const auto msg = numbered(64, 5);
    for (std::size_t sent = 0; sent < kTotal; sent += kBurst) {
        for (std::size_t i = 0; i < kBurst; ++i) a->transmit(to, msg);
        a->flush();
        poll_until(*b, h, sent + kBurst, 64);
        a->poll(none, 1);
    }
    EXPECT_EQ(h.count, kTotal);
    EXPECT_EQ(b->stats().rx_no_buffer, 0u);
    EXPECT_EQ(b->stats().rx_packets, kTotal);
    EXPECT_EQ(b->stats().rx_errors, 0u);
    EXPECT_EQ(a->stats().tx_dropped_full, 0u);
}

TEST(UdpSocket, ParseEndpoint) {
    Endpoint e;
    ASSERT_TRUE(parse_endpoint("10.1.2.3:4500", &e));
    EXPECT_EQ(e.family, Endpoint::Family::kIpv4);
    EXPECT_EQ(e.port, 4500);
    EXPECT_EQ(e.addr[0], 10);
    EXPECT_EQ(e.addr[3], 3);
    ASSERT_TRUE(parse_endpoint("[fe80::1]:1", &e));
    EXPECT_EQ(e.family, Endpoint::Family::kIpv6);
    EXPECT_EQ(e.addr[0], 0xfe);
    EXPECT_EQ(e.addr[15], 1);
    for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "[::1:5", "[::1]5", "host:5", "1.2.3.4:x"})
        EXPECT_FALSE(parse_endpoint(bad, &e)) << bad;
}

TEST(UdpSocket, SockaddrRoundTripAndV4Mapping) {
    sockaddr_in6 sa{};
    const Endpoint v4 = ep("192.0.2.7:53");
    ASSERT_EQ(to_sockaddr(v4, AF_INET6, &sa), socklen_t(sizeof sa));
    EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&sa.sin6_addr));
    EXPECT_EQ(from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa), v4);
    ASSERT_EQ(to_sockaddr(v4, AF_INET, &sa), socklen_t(sizeof(sockaddr_in)));
    EXPECT_EQ(from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof(sockaddr_in)), v4);
    EXPECT_EQ(to_sockaddr(ep("[::1]:1"), AF_INET, &sa), 0u);
}

}  // namespace
}  // namespace voxa::io
