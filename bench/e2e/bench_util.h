// voxa-bench helpers: the running devnet as devnet.sh describes it (D/nodes.json), per-process CPU time from
// /proc, child processes (optionally inside a node's network namespace), percentiles and medians, and the small
// parsers for the command line. Nothing here is on a hot path; everything runs on the bench's own threads and
// reports failure as an empty optional or false plus a message (no exceptions leave these functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "voxa/types.h"

namespace voxa::bench {

// One node of a devnet (an entry of nodes.json).
struct DevnetNode {
    int index = 0;
    NodeId id{};
    std::string id_hex;
    std::string host;      // numeric address the node listens on
    uint16_t port = 0;
    std::string netns;     // "" in loopback mode
    std::string backend;   // "io_uring" or "dpdk" (nodes.json "backend"; "io_uring" when absent)
    bool relay = false;
    pid_t pid = 0;
    std::string data;      // the node's data dir
    std::string socket;    // its local delivery socket
};

struct Devnet {
    std::string dir;
    std::vector<DevnetNode> nodes;
    bool netns() const { return !nodes.empty() && !nodes[0].netns.empty(); }
};

// Reads dir/nodes.json. On failure returns nullopt and sets `error`.
std::optional<Devnet> load_devnet(const std::string& dir, std::string& error);

// CLOCK_MONOTONIC in ns: the clock every voxa-bench process stamps with (namespaces share it).
uint64_t now_ns() noexcept;

// utime + stime of a whole process (all threads) in ns, from /proc/PID/stat; nullopt if the process is gone.
std::optional<uint64_t> process_cpu_ns(pid_t pid);
// utime + stime in ns from one /proc stat file (a process's or a thread's, /proc/PID/task/TID/stat).
std::optional<uint64_t> stat_cpu_ns(const std::string& stat_path);

// A child process with its stdout on a pipe. Runs `argv` directly, or under `ip netns exec NS` when `netns` is
// non-empty. The destructor ends the child (SIGTERM, then SIGKILL after 2 s) if it is still running.
class Child {
public:
    Child() = default;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child();

    // Starts the child; false (and `error`) if fork/exec failed.
    bool start(const std::vector<std::string>& argv, const std::string& netns, std::string& error);
    // Reads one line of the child's stdout (without the newline); nullopt at EOF or after timeout_ms.
    std::optional<std::string> read_line(int timeout_ms);
    // Reads stdout to EOF (at most timeout_ms), then waits for the exit. Returns the exit status (-1: killed or
    // timeout); `out` receives what was read.
    int finish(std::string& out, int timeout_ms);
    // SIGTERM to the child (by its pid), then waits up to 2 s and SIGKILLs it.
    void stop();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string pending_;   // read but not yet returned as a line
};

// Path of this executable (for re-executing itself inside a namespace).
std::string self_exe();
// The build directory an executable under <build>/bench/e2e/ lives in ("." if the path is shorter).
std::string build_dir();

// The p-quantile (0..1) of `values` by nearest rank; 0 for an empty vector. Sorts its argument.
double percentile(std::vector<double>& values, double p);
// The median of `values`; 0 for an empty vector.
double median(std::vector<double> values);

// "64K" -> 65536, "1M", "16M", "1G", or plain bytes. nullopt for anything else.
std::optional<uint64_t> parse_size(std::string_view text);
// "64K,1M" -> sizes. Empty on any bad element.
std::vector<uint64_t> parse_sizes(std::string_view text);
// 65536 -> "64K", 1048576 -> "1M" (exact multiples only; otherwise bytes).
std::string size_name(uint64_t bytes);
// Hex of exactly 2*N digits -> bytes.
std::optional<NodeId> parse_node_id(std::string_view hex);

// A minimal argument reader: --name value pairs and flags after the subcommand.
class Args {
public:
    Args(int argc, char** argv, int first);
    bool has(std::string_view name) const;
    std::optional<std::string> get(std::string_view name) const;
    std::string get_or(std::string_view name, std::string fallback) const;
    // Names given on the command line that `known` does not list; for "unknown option" errors.
    std::vector<std::string> unknown(std::initializer_list<std::string_view> known) const;

private:
    std::vector<std::pair<std::string, std::string>> items_;   // value "" for a flag
};

// Integer option with range check. On a bad value prints to stderr and returns nullopt.
std::optional<int64_t> int_option(const Args& args, std::string_view name, int64_t fallback, int64_t min,
                                  int64_t max);

}  // namespace voxa::bench
