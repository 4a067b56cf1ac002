// KernelWire (blast_wire.h): the generator's ends on two non-blocking UDP sockets; the blast is sendmmsg
// batches.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "bench_util.h"
#include "blast_wire.h"
#include "io/udp_socket.h"

namespace voxa::bench {
namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kRxBytes = 2048;

class KernelWire final : public Wire {
  public:
    explicit KernelWire(const KernelWireOptions& o) : o_(o) {}
    ~KernelWire() override {
        for (int fd : fds_) {
            if (fd >= 0)
                ::close(fd);
        }
    }

    bool open(std::string& error) {
        const Endpoint binds[2] = {o_.origin, o_.destination};
        for (int i = 0; i < 2; ++i) {
            io::UdpSocketOptions so;
            so.bind = binds[i];
            so.reuseport = false;
            so.nonblocking = true;
            so.buffer_bytes = o_.socket_bytes;
            auto r = io::open_udp_socket(so, &error);
            if (r.fd < 0)
                return false;
            fds_[i] = r.fd;
            family_[i] = binds[i].family == Endpoint::Family::kIpv6 ? AF_INET6 : AF_INET;
        }
        relay_len_ = io::to_sockaddr(o_.relay, family_[0], &relay_sa_);
        if (relay_len_ == 0) {
            error = "relay address " + o_.relay.to_string() + " not reachable from the origin socket";
            return false;
        }
        return true;
    }

    Endpoint local(Side side) const override { return side == Side::kOrigin ? o_.origin : o_.destination; }
    Endpoint relay(Side) const override { return o_.relay; }

    void send(Side side, const Endpoint& to, std::span<const uint8_t> datagram) override {
        sockaddr_in6 sa{};
        const socklen_t len = io::to_sockaddr(to, family_[int(side)], &sa);
        if (len == 0)
            return;
        (void)::sendto(fds_[int(side)], datagram.data(), datagram.size(), MSG_DONTWAIT,
                       reinterpret_cast<const sockaddr*>(&sa), len);
    }

    void poll(const Receive& fn) override {
        for (int i = 0; i < 2; ++i) {
            for (int n = 0; n < 256; ++n) {
                sockaddr_in6 sa{};
                socklen_t len = sizeof sa;
                const ssize_t got = ::recvfrom(fds_[i], rx_[0].data(), kRxBytes, MSG_DONTWAIT,
                                               reinterpret_cast<sockaddr*>(&sa), &len);
                if (got < 0)
                    break;
                fn(Side(i), io::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len), rx_[0].data(),
                   std::size_t(got));
            }
        }
    }

    std::size_t header_bytes() const override { return 0; }
    void write_headers(uint8_t*, std::span<const uint8_t>) const override {}

    BlastResult blast(const uint8_t* pool, std::size_t count, std::size_t stride, std::size_t datagram_bytes,
                      uint64_t deadline_ns) override {
        BlastResult r;
        std::array<mmsghdr, kBatch> msgs{};
        std::array<iovec, kBatch> iov{};
        const uint64_t t0 = now_ns();
        std::size_t next = 0;
        while (next < count) {
            const std::size_t n = std::min(kBatch, count - next);
            for (std::size_t i = 0; i < n; ++i) {
                iov[i].iov_base = const_cast<uint8_t*>(pool + (next + i) * stride);
                iov[i].iov_len = datagram_bytes;
                msgs[i].msg_hdr = msghdr{};
                msgs[i].msg_hdr.msg_name = &relay_sa_;
                msgs[i].msg_hdr.msg_namelen = relay_len_;
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            const int sent = ::sendmmsg(fds_[0], msgs.data(), unsigned(n), MSG_DONTWAIT);
            if (sent > 0) {
                next += std::size_t(sent);
                r.sent += uint64_t(sent);
            } else {
                r.full_polls += 1;
            }
            r.arrived += count_arrivals();
            if (now_ns() >= deadline_ns)
                break;
        }
        r.ns = now_ns() - t0;
        return r;
    }

    uint64_t drain(int ms) override {
        uint64_t n = 0;
        const uint64_t end = now_ns() + uint64_t(ms) * 1'000'000;
        while (now_ns() < end) {
            uint64_t got = count_arrivals();
            poll([&](Side, const Endpoint&, uint8_t*, std::size_t) { got += 1; });
            n += got;
            if (got == 0)
                ::usleep(1000);
        }
        return n;
    }

  private:
    // recvmmsg on the destination socket until empty: only the count matters.
    uint64_t count_arrivals() {
        std::array<mmsghdr, kBatch> msgs{};
        std::array<iovec, kBatch> iov{};
        for (std::size_t i = 0; i < kBatch; ++i) {
            iov[i].iov_base = rx_[i].data();
            iov[i].iov_len = kRxBytes;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        uint64_t n = 0;
        for (int round = 0; round < 16; ++round) {
            const int got = ::recvmmsg(fds_[1], msgs.data(), unsigned(kBatch), MSG_DONTWAIT, nullptr);
            if (got <= 0)
                break;
            n += uint64_t(got);
            if (std::size_t(got) < kBatch)
                break;
        }
        return n;
    }

    KernelWireOptions o_;
    int fds_[2] = {-1, -1};
    int family_[2] = {AF_INET, AF_INET};
    sockaddr_in6 relay_sa_{};
    socklen_t relay_len_ = 0;
    std::array<std::array<uint8_t, kRxBytes>, kBatch> rx_{};
};

}  // namespace

std::unique_ptr<Wire> make_kernel_wire(const KernelWireOptions& o, std::string& error) {
    auto w = std::make_unique<KernelWire>(o);
    if (!w->open(error))
        return nullptr;
    return w;
}

}  // namespace voxa::bench
