// `voxa-bench e2e` and `voxa-bench relay`: messages sent end to end through a running devnet, and what they cost.
//
// One measurement (run_voxa) connects a client to the sending node's socket and one to the receiving node's
// socket (subscribed), and keeps at most `concurrency` messages in flight (sent and neither arrived nor reported
// failed). Every message starts with | run tag u64 | seq u64 | send_ns u64 | (CLOCK_MONOTONIC; all nodes share
// the host clock), so the receiver computes latency = arrival - send_ns without matching message ids, and ignores
// stragglers of an earlier run. Around the measurement it samples the CPU time of every node's process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.h"

namespace voxa::bench {

struct VoxaRun {
    bool ok = false;
    std::string error;
    uint64_t sent = 0, arrived = 0, failed = 0;
    uint64_t bytes = 0;                   // payload bytes arrived
    double seconds = 0;                   // first send to last arrival
    double goodput_gbps = 0, msgs_per_s = 0;
    double p50_ms = 0, p99_ms = 0, p999_ms = 0;
    double loss = 0;                      // (sent - arrived) / sent
    std::vector<double> cpu_s;            // per node: CPU seconds used during the run
    std::vector<double> cpu_s_per_gb;     // per node: cpu_s / (bytes / 1e9)
};

// Sends `count` messages (or, if count == 0, as many as fit in `seconds`) of `size` bytes from node `from` to node
// `to`. Gives up on messages that make no progress for `stall_s` seconds (they count as lost).
VoxaRun run_voxa(const Devnet& devnet, int from, int to, uint64_t size, uint64_t count, double seconds,
                 int concurrency, double stall_s = 30);

int e2e_main(const Args& args);
int relay_main(const Args& args);
int baseline_main(const Args& args);   // `voxa-bench baseline`: only the TCP baseline, for scripts/run.sh

}  // namespace voxa::bench
