#include "baseline.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

namespace voxa::bench {
namespace {

constexpr std::size_t kHeaderBytes = 24;   // length, seq, send_ns

bool split_host_port(const std::string& text, sockaddr_in& out) {
    auto const colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    out = {};
    out.sin_family = AF_INET;
    int const port = std::atoi(text.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return false;
    out.sin_port = htons(uint16_t(port));
    return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out.sin_addr) == 1;
}

bool read_exact(int fd, void* buf, std::size_t n) {
    auto* p = static_cast<uint8_t*>(buf);
    while (n > 0) {
        ssize_t const r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= std::size_t(r);
    }
    return true;
}

bool write_exact(int fd, const void* buf, std::size_t n) {
    auto const* p = static_cast<const uint8_t*>(buf);
    while (n > 0) {
        ssize_t const r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= std::size_t(r);
    }
    return true;
}

void set_buffers(int fd) {
    int const bytes = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    int const one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

int baseline_sink_main(const Args& args) {
    sockaddr_in addr{};
    if (!split_host_port(args.get_or("listen", ""), addr)) {
        std::fprintf(stderr, "baseline-sink: --listen HOST:PORT (numeric IPv4) required\n");
        return 2;
    }
    int const listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int const one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 1) != 0) {
        std::fprintf(stderr, "baseline-sink: listen %s: %s\n", args.get_or("listen", "").c_str(),
                     std::strerror(errno));
        return 1;
    }
    std::printf("{\"ready\":true}\n");
    std::fflush(stdout);
    int const fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
    if (fd < 0) return 1;
    set_buffers(fd);

    std::vector<uint8_t> payload;
    std::vector<double> latencies_us;
    uint64_t messages = 0, bytes = 0, first_send_ns = 0, last_arrival_ns = 0;
    uint64_t header[3];
    while (read_exact(fd, header, kHeaderBytes)) {
        uint64_t const length = header[0];
        if (length > (uint64_t(1) << 32)) return 1;
        payload.resize(length);
        if (!read_exact(fd, payload.data(), length)) break;
        uint64_t const arrival_ns = now_ns();
        if (messages == 0) first_send_ns = header[2];
        ++messages;
        bytes += length;
        last_arrival_ns = arrival_ns;
        latencies_us.push_back(double(arrival_ns - header[2]) / 1e3);
        if (!write_exact(fd, &header[1], 8)) break;
    }
    close(fd);
    double const seconds = messages ? double(last_arrival_ns - first_send_ns) / 1e9 : 0;
    nlohmann::json out = {{"messages", messages},
                          {"bytes", bytes},
                          {"seconds", seconds},
                          {"p50_us", percentile(latencies_us, 0.50)},
                          {"p99_us", percentile(latencies_us, 0.99)},
                          {"p999_us", percentile(latencies_us, 0.999)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

int baseline_send_main(const Args& args) {
    sockaddr_in addr{};
    auto const size = parse_size(args.get_or("size", ""));
    auto const count = int_option(args, "count", 0, 0, int64_t(1) << 40);
    auto const concurrency = int_option(args, "concurrency", 1, 1, 1 << 16);
    double const seconds = std::atof(args.get_or("seconds", "0").c_str());
    if (!split_host_port(args.get_or("to", ""), addr) || !size || !count || !concurrency ||
        (*count == 0 && seconds <= 0)) {
        std::fprintf(stderr, "baseline-send: --to HOST:PORT --size B (--count C | --seconds S) [--concurrency Q]\n");
        return 2;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100; ++attempt) {   // the sink may still be starting: retry for 5 s
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        set_buffers(fd);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
        close(fd);
        fd = -1;
        usleep(50'000);
    }
    if (fd < 0) {
        std::fprintf(stderr, "baseline-send: connect %s: %s\n", args.get_or("to", "").c_str(), std::strerror(errno));
        return 1;
    }
    std::vector<uint8_t> payload(*size);
    randombytes_buf(payload.data(), payload.size());
    uint64_t const end_ns = now_ns() + uint64_t(seconds * 1e9);
    uint64_t sent = 0, acked = 0;
    while (*count ? sent < uint64_t(*count) : now_ns() < end_ns) {
        if (sent - acked >= uint64_t(*concurrency)) {
            uint64_t seq = 0;
            if (!read_exact(fd, &seq, 8)) return 1;
            ++acked;
        }
        uint64_t const header[3] = {*size, sent, now_ns()};
        if (!write_exact(fd, header, kHeaderBytes) || !write_exact(fd, payload.data(), payload.size())) return 1;
        ++sent;
    }
    while (acked < sent) {
        uint64_t seq = 0;
        if (!read_exact(fd, &seq, 8)) return 1;
        ++acked;
    }
    close(fd);
    std::printf("{\"sent\":%llu}\n", static_cast<unsigned long long>(sent));
    return 0;
}

TcpBaseline run_tcp_baseline(const DevnetNode& from, const DevnetNode& to, uint64_t size, uint64_t count,
                             double seconds, int concurrency, uint16_t port) {
    TcpBaseline result;
    std::string const target = to.host + ":" + std::to_string(port);
    Child sink, sender;
    if (!sink.start({self_exe(), "baseline-sink", "--listen", target}, to.netns, result.error)) return result;
    auto const ready = sink.read_line(5000);
    if (!ready || ready->find("ready") == std::string::npos) {
        result.error = "baseline-sink did not start on " + target;
        return result;
    }
    std::vector<std::string> argv = {self_exe(),    "baseline-send", "--to",
                                     target,        "--size",        std::to_string(size),
                                     "--concurrency", std::to_string(concurrency)};
    if (count) {
        argv.insert(argv.end(), {"--count", std::to_string(count)});
    } else {
        argv.insert(argv.end(), {"--seconds", std::to_string(seconds)});
    }
    if (!sender.start(argv, from.netns, result.error)) return result;
    int const budget_ms = int((seconds + 60) * 1000);
    std::string sender_out, sink_out;
    int const sender_rc = sender.finish(sender_out, budget_ms);
    int const sink_rc = sink.finish(sink_out, 10'000);
    if (sender_rc != 0 || sink_rc != 0) {
        result.error = "baseline-send exited " + std::to_string(sender_rc) + ", baseline-sink " + std::to_string(sink_rc);
        return result;
    }
    auto const doc = nlohmann::json::parse(sink_out, nullptr, false);
    if (!doc.is_object() || !doc.contains("bytes")) {
        result.error = "baseline-sink printed no result: " + sink_out;
        return result;
    }
    result.messages = doc["messages"].get<uint64_t>();
    result.bytes = doc["bytes"].get<uint64_t>();
    result.seconds = doc["seconds"].get<double>();
    result.p50_us = doc["p50_us"].get<double>();
    result.p99_us = doc["p99_us"].get<double>();
    result.p999_us = doc["p999_us"].get<double>();
    if (result.seconds > 0) {
        result.goodput_gbps = double(result.bytes) * 8 / result.seconds / 1e9;
        result.msgs_per_s = double(result.messages) / result.seconds;
    }
    result.ok = result.messages > 0;
    if (!result.ok) result.error = "baseline-sink received nothing";
    return result;
}

UdpForwardBaseline run_udp_forward_baseline(const std::string& tool, const DevnetNode& origin,
                                            const DevnetNode& relay, const DevnetNode& destination, uint64_t size,
                                            double seconds, uint16_t port) {
    UdpForwardBaseline result;
    std::string const p = std::to_string(port);
    Child sink, forward, blast;
    if (!sink.start({tool, "--mode", "sink", "--listen", destination.host + ":" + p}, destination.netns,
                    result.error) ||
        !forward.start({tool, "--mode", "forward", "--listen", relay.host + ":" + p, "--to",
                        destination.host + ":" + p},
                       relay.netns, result.error)) {
        return result;
    }
    usleep(300'000);   // both bound before the first datagram
    uint64_t const start_ns = now_ns();
    if (!blast.start({tool, "--mode", "blast", "--to", relay.host + ":" + p, "--size", std::to_string(size),
                      "--rate", "0", "--seconds", std::to_string(seconds)},
                     origin.netns, result.error)) {
        return result;
    }
    std::string blast_out, forward_out, sink_out;
    blast.finish(blast_out, int((seconds + 10) * 1000));
    double const wall_s = double(now_ns() - start_ns) / 1e9;
    usleep(200'000);   // the tail drains
    forward.stop();
    forward.finish(forward_out, 3000);
    sink.stop();
    sink.finish(sink_out, 3000);
    // The forwarder's last JSON line (printed at SIGTERM) has its totals.
    nlohmann::json last;
    std::size_t pos = 0;
    while (pos < forward_out.size()) {
        auto const nl = forward_out.find('\n', pos);
        auto const line = forward_out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        auto doc = nlohmann::json::parse(line, nullptr, false);
        if (doc.is_object() && doc.contains("packets")) last = std::move(doc);
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    if (!last.is_object()) {
        result.error = "voxa-udp-forward printed no totals: " + forward_out.substr(0, 200);
        return result;
    }
    double const packets = last["packets"].get<double>();
    result.packets_per_s = packets / (wall_s < seconds ? wall_s : seconds);   // the blast runs `seconds`
    result.cpu_ns_per_packet = last.contains("cpu_ns_per_packet") ? last["cpu_ns_per_packet"].get<double>()
                               : packets > 0 ? last.value("cpu_ns", 0.0) / packets
                                             : 0;
    result.gbps = result.packets_per_s * double(size) * 8 / 1e9;
    result.ok = packets > 0;
    if (!result.ok) result.error = "voxa-udp-forward forwarded nothing";
    return result;
}

}  // namespace voxa::bench
