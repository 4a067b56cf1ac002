// UDP send paths on loopback, 1280-byte datagrams, a receiver draining in another thread:
//   BM_UdpSendmmsg     the baseline: plain sendmmsg, 64 datagrams per call
//   BM_UringSendGso    the io_uring backend: 64 transmit() + flush(), coalesced into UDP GSO sends
//   BM_UringSendPlain  the io_uring backend with GSO off: one sendmsg SQE per datagram, submitted together
// items/s counts datagrams the sender handed to the kernel (real time: the loopback receive path runs partly in
// the sender's context); the counter rx_per_s is what the receiver got.
#include <benchmark/benchmark.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "io/udp_socket.h"
#include "io/uring_backend.h"

namespace {

constexpr std::size_t kCell = 1280;
constexpr std::size_t kBurst = 64;

// A plain socket with UDP_GRO, drained by recvmmsg in its own thread until stopped.
class Receiver {
public:
    Receiver() {
        voxa::io::UdpSocketOptions o;
        voxa::io::parse_endpoint("127.0.0.1:0", &o.bind);
        o.reuseport = false;
        o.gro = true;
        o.buffer_bytes = 32 << 20;
        std::string err;
        fd_ = voxa::io::open_udp_socket(o, &err).fd;
        timeval tv{0, 100'000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        voxa::io::parse_endpoint("127.0.0.1:" + std::to_string(voxa::io::socket_port(fd_)), &to_);
        thread_ = std::thread([this] { run(); });
    }
    ~Receiver() {
        stop_.store(true);
        thread_.join();
        close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    const voxa::Endpoint& to() const { return to_; }
    uint64_t datagrams() const { return bytes_.load(std::memory_order_relaxed) / kCell; }

private:
    void run() {
        constexpr std::size_t kN = 32, kBuf = 65536;
        std::vector<uint8_t> mem(kN * kBuf);
        std::vector<iovec> iov(kN);
        std::vector<mmsghdr> msgs(kN);
        while (!stop_.load(std::memory_order_relaxed)) {
            for (std::size_t i = 0; i < kN; ++i) {
                iov[i] = iovec{mem.data() + i * kBuf, kBuf};
                msgs[i].msg_hdr = msghdr{};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            const int got = recvmmsg(fd_, msgs.data(), kN, MSG_WAITFORONE, nullptr);
            uint64_t bytes = 0;
            for (int i = 0; i < got; ++i) bytes += msgs[std::size_t(i)].msg_len;
            if (got > 0) bytes_.fetch_add(bytes, std::memory_order_relaxed);
        }
    }
    int fd_ = -1;
    voxa::Endpoint to_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> bytes_{0};
    std::thread thread_;
};

void finish(benchmark::State& state, const Receiver& rx, uint64_t rx0, std::chrono::steady_clock::time_point t0) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kBurst));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBurst * kCell));
    state.counters["rx_per_s"] = double(rx.datagrams() - rx0) / s;
}

void BM_UdpSendmmsg(benchmark::State& state) {
    Receiver rx;
    voxa::io::UdpSocketOptions o;
    voxa::io::parse_endpoint("127.0.0.1:0", &o.bind);
    o.reuseport = false;
    o.buffer_bytes = 8 << 20;
    std::string err;
    const int fd = voxa::io::open_udp_socket(o, &err).fd;
    if (!rx.ok() || fd < 0) {
        state.SkipWithError("socket set-up failed");
        return;
    }
    sockaddr_in6 sa{};
    const socklen_t len = voxa::io::to_sockaddr(rx.to(), AF_INET, &sa);
    std::vector<uint8_t> mem(kBurst * kCell, 0x5a);
    std::vector<iovec> iov(kBurst);
    std::vector<mmsghdr> msgs(kBurst);
    for (std::size_t i = 0; i < kBurst; ++i) {
        iov[i] = iovec{mem.data() + i * kCell, kCell};
        msgs[i].msg_hdr = msghdr{};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &sa;
        msgs[i].msg_hdr.msg_namelen = len;
    }
    const uint64_t rx0 = rx.datagrams();
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::size_t done = 0;
        while (done < kBurst) {
            const int n = sendmmsg(fd, msgs.data() + done, unsigned(kBurst - done), 0);
            if (n <= 0) break;
            done += std::size_t(n);
        }
    }
    finish(state, rx, rx0, t0);
    close(fd);
}
BENCHMARK(BM_UdpSendmmsg)->UseRealTime()->MinTime(1.0);

class Discard final : public voxa::io::RxHandler {
public:
    void on_datagram(const voxa::Endpoint&, uint8_t*, std::size_t) noexcept override {}
};

void uring_send(benchmark::State& state, bool gso) {
    Receiver rx;
    voxa::io::UringConfig c;
    voxa::io::parse_endpoint("127.0.0.1:0", &c.bind);
    c.gso = gso;
    c.rx_buffers = 8;
    c.tx_batch = kBurst;
    std::string err;
    auto b = voxa::io::make_uring_backend(c, &err);
    if (!rx.ok() || !b) {
        state.SkipWithError(("set-up failed: " + err).c_str());
        return;
    }
    std::vector<uint8_t> cell(kCell, 0x5a);
    Discard none;
    const uint64_t rx0 = rx.datagrams();
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        for (std::size_t i = 0; i < kBurst; ++i) b->transmit(rx.to(), cell);
        b->flush();
        b->poll(none, 0);   // reap send completions: frees TX slots
    }
    finish(state, rx, rx0, t0);
    state.counters["gso_batches"] = double(b->stats().tx_gso_batches);
    state.counters["dropped_full"] = double(b->stats().tx_dropped_full);
}

void BM_UringSendGso(benchmark::State& state) { uring_send(state, true); }
void BM_UringSendPlain(benchmark::State& state) { uring_send(state, false); }
BENCHMARK(BM_UringSendGso)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_UringSendPlain)->UseRealTime()->MinTime(1.0);

}  // namespace
