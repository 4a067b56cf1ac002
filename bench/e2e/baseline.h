// The direct baselines voxa-bench sets beside every voxa figure, measured on the same topology in the same run:
//
//   TCP (e2e): the same messages (size, count or duration, concurrency) sent over one plain TCP connection
//   straight from the sending endpoint's namespace to the receiving endpoint's namespace: no relays, no crypto.
//   Each message is | length u64 | seq u64 | send_ns u64 | payload |; the sink answers each one with its seq
//   (8 bytes), and the sender keeps at most `concurrency` messages unanswered, like voxa's in-flight window.
//   Latency = the sink's CLOCK_MONOTONIC at the last byte minus send_ns (one host, one clock).
//
//   UDP forwarding (relay): voxa-udp-forward as the middle box in the relay's namespace, fed by a blaster in the
//   origin's namespace and drained by a sink in the destination's namespace; packets/s and CPU ns per packet.
//
// The sink and sender run as child processes (`voxa-bench baseline-sink|baseline-send`, re-executed under
// `ip netns exec`); the functions below start them, wait, and parse their one-line JSON results.
#pragma once

#include <cstdint>
#include <string>

#include "bench_util.h"

namespace voxa::bench {

struct TcpBaseline {
    bool ok = false;
    std::string error;
    uint64_t messages = 0;
    uint64_t bytes = 0;        // payload bytes received
    double seconds = 0;        // first send to last arrival
    double goodput_gbps = 0;   // payload bits per second / 1e9
    double msgs_per_s = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0;
};

// Sends `count` messages (or, if count == 0, for `seconds`) of `size` bytes from `from` to `to` over TCP, at most
// `concurrency` unanswered. Blocks until done (bounded: seconds + 60 s).
TcpBaseline run_tcp_baseline(const DevnetNode& from, const DevnetNode& to, uint64_t size, uint64_t count,
                             double seconds, int concurrency, uint16_t port);

struct UdpForwardBaseline {
    bool ok = false;
    std::string error;
    double packets_per_s = 0;      // through the forwarder
    double cpu_ns_per_packet = 0;  // the forwarder's CPU time per forwarded packet
    double gbps = 0;               // packets_per_s * size * 8 / 1e9
};

// Runs voxa-udp-forward (`tool`) as blast (in `origin`'s namespace) -> forward (in `relay`'s) -> sink (in
// `destination`'s) for `seconds` with `size`-byte datagrams; figures are the forwarder's.
UdpForwardBaseline run_udp_forward_baseline(const std::string& tool, const DevnetNode& origin,
                                            const DevnetNode& relay, const DevnetNode& destination, uint64_t size,
                                            double seconds, uint16_t port);

// The child sides, as subcommands of voxa-bench (exit status 0 on success).
//   baseline-sink --listen HOST:PORT         prints {"ready":true}, then after the sender closes one JSON result
//   baseline-send --to HOST:PORT --size B (--count C | --seconds S) --concurrency Q
int baseline_sink_main(const Args& args);
int baseline_send_main(const Args& args);

}  // namespace voxa::bench
