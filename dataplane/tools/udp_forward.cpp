// voxa-udp-forward: the plain-UDP baseline the relay is measured against (recvmmsg/sendmmsg in batches of 64,
// no crypto, no GSO/GRO).
//
//   --mode forward --listen HOST:PORT --to HOST:PORT     receive, send every datagram on to --to
//   --mode blast   --to HOST:PORT [--size 1280] [--rate PPS|0] [--seconds S]   generate datagrams
//   --mode sink    --listen HOST:PORT                    count what arrives
//
// Every second, and once more at SIGINT/SIGTERM (or the end of a blast), it prints one JSON line:
//   {"mode":..,"packets":..,"bytes":..,"cpu_ns":..,"cpu_ns_per_packet":..,"elapsed_s":..}
// where packets/bytes are what it forwarded, sent or received, and cpu_ns is RUSAGE_SELF user + system time.
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "io/udp_socket.h"

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kBufferBytes = 65536;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

uint64_t cpu_ns() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto ns = [](const timeval& tv) { return uint64_t(tv.tv_sec) * 1'000'000'000u + uint64_t(tv.tv_usec) * 1000u; };
    return ns(ru.ru_utime) + ns(ru.ru_stime);
}

struct Counters {
    uint64_t packets = 0, bytes = 0;
};

void report(const char* mode, const Counters& c, uint64_t cpu0, uint64_t t0) {
    const uint64_t cpu = cpu_ns() - cpu0;
    std::printf("{\"mode\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"cpu_ns\":%llu,\"cpu_ns_per_packet\":%.1f,"
                "\"elapsed_s\":%.3f}\n",
                mode, (unsigned long long)c.packets, (unsigned long long)c.bytes, (unsigned long long)cpu,
                c.packets ? double(cpu) / double(c.packets) : 0.0, double(now_ns() - t0) / 1e9);
    std::fflush(stdout);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "voxa-udp-forward: %s\n"
                 "usage: voxa-udp-forward --mode forward --listen HOST:PORT --to HOST:PORT\n"
                 "       voxa-udp-forward --mode blast --to HOST:PORT [--size 1280] [--rate PPS|0] [--seconds S]\n"
                 "       voxa-udp-forward --mode sink --listen HOST:PORT\n",
                 why);
    std::exit(2);
}

int open_socket(const voxa::Endpoint& bind) {
    voxa::io::UdpSocketOptions o;
    o.bind = bind;
    o.reuseport = false;
    o.buffer_bytes = 8 << 20;
    std::string err;
    const voxa::io::UdpSocketResult r = voxa::io::open_udp_socket(o, &err);
    if (r.fd < 0) {
        std::fprintf(stderr, "voxa-udp-forward: %s\n", err.c_str());
        std::exit(1);
    }
    // A receive timeout lets the loop print every second and notice signals.
    timeval tv{0, 200'000};
    setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return r.fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode, listen_text, to_text;
    std::size_t size = 1280;
    uint64_t rate = 0;
    double seconds = 10;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value after " + a).c_str());
        const char* v = argv[++i];
        if (a == "--mode") mode = v;
        else if (a == "--listen") listen_text = v;
        else if (a == "--to") to_text = v;
        else if (a == "--size") size = std::strtoul(v, nullptr, 10);
        else if (a == "--rate") rate = std::strtoull(v, nullptr, 10);
        else if (a == "--seconds") seconds = std::strtod(v, nullptr);
        else usage(("unknown option " + a).c_str());
    }
    voxa::Endpoint listen_ep, to_ep;
    const bool need_listen = mode == "forward" || mode == "sink";
    const bool need_to = mode == "forward" || mode == "blast";
    if (!need_listen && !need_to) usage("--mode must be forward, blast or sink");
    if (need_listen && !voxa::io::parse_endpoint(listen_text, &listen_ep)) usage("--listen needs HOST:PORT");
    if (need_to && !voxa::io::parse_endpoint(to_text, &to_ep)) usage("--to needs HOST:PORT");
    if (size == 0 || size > 65507) usage("--size must be 1..65507");

    struct sigaction sa {};
    sa.sa_handler = on_signal;   // no SA_RESTART: a blocked recvmmsg returns at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    if (mode == "blast") {
        voxa::Endpoint any;
        any.family = to_ep.family;
        listen_ep = any;
    }
    const int fd = open_socket(listen_ep);
    const int family = listen_ep.family == voxa::Endpoint::Family::kIpv6 ? AF_INET6 : AF_INET;
    sockaddr_in6 to_sa{};
    socklen_t to_len = 0;
    if (need_to) {
        to_len = voxa::io::to_sockaddr(to_ep, family, &to_sa);
        if (to_len == 0) usage("--to is not reachable from the --listen address family");
    }

    // Buffers and headers for one batch, set up once.
    const std::size_t slot = mode == "blast" ? size : kBufferBytes;
    std::vector<uint8_t> mem(kBatch * slot, 0x5a);
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<sockaddr_in6> from(kBatch);
    auto reset = [&](std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            iov[i] = iovec{mem.data() + i * slot, slot};
            msgs[i].msg_hdr = msghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = mode == "sink" || mode == "forward" ? static_cast<void*>(&from[i]) : nullptr;
            msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
        }
    };

    Counters c;
    const uint64_t t0 = now_ns(), cpu0 = cpu_ns();
    uint64_t next_report = t0 + 1'000'000'000u;
    if (mode == "blast") {
        const uint64_t end = t0 + uint64_t(seconds * 1e9);
        for (std::size_t i = 0; i < kBatch; ++i) {
            iov[i] = iovec{mem.data() + i * slot, size};
            msgs[i].msg_hdr = msghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &to_sa;
            msgs[i].msg_hdr.msg_namelen = to_len;
        }
        while (!g_stop.load() && (seconds <= 0 || now_ns() < end)) {
            std::size_t n = kBatch;
            if (rate > 0) {   // pace: never ahead of rate * elapsed
                const uint64_t allowed = uint64_t(double(now_ns() - t0) * double(rate) / 1e9);
                if (allowed <= c.packets) {
                    usleep(50);
                    continue;
                }
                if (allowed - c.packets < n) n = std::size_t(allowed - c.packets);
            }
            const int sent = sendmmsg(fd, msgs.data(), unsigned(n), 0);
            if (sent > 0) {
                c.packets += uint64_t(sent);
                c.bytes += uint64_t(sent) * size;
            }
            if (now_ns() >= next_report) {
                report("blast", c, cpu0, t0);
                next_report += 1'000'000'000u;
            }
        }
    } else {
        while (!g_stop.load()) {
            reset(kBatch);
            const int got = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
            if (got > 0) {
                if (mode == "forward") {
                    for (int i = 0; i < got; ++i) {
                        iov[std::size_t(i)].iov_len = msgs[std::size_t(i)].msg_len;
                        msgs[std::size_t(i)].msg_hdr.msg_name = &to_sa;
                        msgs[std::size_t(i)].msg_hdr.msg_namelen = to_len;
                    }
                    int done = 0;
                    while (done < got) {
                        const int sent = sendmmsg(fd, msgs.data() + done, unsigned(got - done), 0);
                        if (sent <= 0) break;   // a send error drops the rest of the batch (plain UDP)
                        for (int i = done; i < done + sent; ++i) c.bytes += msgs[std::size_t(i)].msg_len;
                        done += sent;
                    }
                    c.packets += uint64_t(done);
                } else {
                    c.packets += uint64_t(got);
                    for (int i = 0; i < got; ++i) c.bytes += msgs[std::size_t(i)].msg_len;
                }
            }
            if (now_ns() >= next_report) {
                report(mode.c_str(), c, cpu0, t0);
                next_report += 1'000'000'000u;
            }
        }
    }
    report(mode.c_str(), c, cpu0, t0);
    close(fd);
    return 0;
}
