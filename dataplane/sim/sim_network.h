// An in-process network of voxa nodes for tests and the demo: N real protocol engines (voxa::node::Node) joined
// by in-memory links with seeded impairment (loss, reordering, duplication, corruption, delay), on a simulated
// clock. Everything above the socket runs for real: handshakes, circuits, splitting, relaying, reassembly.
//
// Determinism: impairment decisions and node keys come from `seed`; the protocol's own randomness (ephemeral
// keys, nonces, path choice) stays on the CSPRNG, so runs differ in detail but not in what they must deliver.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "crypto/identity.h"
#include "node/node.h"
#include "sim/port.h"

namespace voxa::sim {

struct Impairment {
    double loss = 0.0;                  // probability a datagram is dropped
    double reorder = 0.0;               // probability it is held back by reorder_delay_ns
    double duplicate = 0.0;             // probability it is delivered twice
    double corrupt = 0.0;               // probability one bit of it is flipped
    uint64_t delay_ns = 500'000;        // one-way base delay
    uint64_t jitter_ns = 100'000;       // uniform extra delay in [0, jitter_ns]; keeps the link's order
    uint64_t reorder_delay_ns = 3'000'000;
};

struct NetworkStats {
    uint64_t sent = 0, delivered = 0, lost = 0, reordered = 0, duplicated = 0, corrupted = 0, blackholed = 0;
    uint64_t bytes_delivered = 0;
};

class SimNetwork {
public:
    explicit SimNetwork(uint64_t seed, const Impairment& impairment = {});
    ~SimNetwork();

    // Adds a node; its identity is derived from the seed and its index. Returns its index.
    std::size_t add_node(const node::NodeConfig& config, bool is_relay, uint32_t capacity = 1);
    // Tells every node about every other node (the static directory of this stage).
    void share_directory();

    node::Node& node(std::size_t index);
    const crypto::Identity& identity(std::size_t index) const;
    std::size_t size() const noexcept { return nodes_.size(); }

    void set_impairment(const Impairment& impairment) noexcept { impairment_ = impairment; }
    // A node that has "crashed": everything sent to or from it vanishes.
    void set_blackhole(std::size_t index, bool on) noexcept;

    // Runs the network until `done()` is true or `limit_ns` of simulated time passes; returns done().
    bool run_until(const std::function<bool()>& done, uint64_t limit_ns);
    void run_for(uint64_t ns) { run_until([] { return false; }, ns); }

    ManualClock& clock() noexcept { return clock_; }
    const NetworkStats& stats() const noexcept { return stats_; }

private:
    struct Datagram {
        uint64_t at_ns;
        uint64_t seq;
        uint32_t to;
        uint32_t from;
        std::vector<uint8_t> bytes;
    };
    struct Later {
        bool operator()(const Datagram& a, const Datagram& b) const noexcept {
            return a.at_ns != b.at_ns ? a.at_ns > b.at_ns : a.seq > b.seq;
        }
    };
    friend class Port<SimNetwork>;
    struct SimNode;
    class SimWallClock final : public WallClock {
    public:
        explicit SimWallClock(const Clock& c) : clock_(c) {}
        uint64_t unix_ns() const noexcept override { return 1'700'000'000ull * kNsPerS + clock_.now_ns(); }

    private:
        const Clock& clock_;
    };

    void transmit(uint32_t from, const Endpoint& to, std::span<const uint8_t> bytes);
    // In-order arrival on the (from, to) link unless `reordered`: jitter alone never overtakes, as on a real path.
    void schedule(uint32_t from, uint32_t to, std::vector<uint8_t> bytes, uint64_t delay_ns, bool reordered);

    uint64_t seed_;
    Impairment impairment_;
    ManualClock clock_;
    SimWallClock wall_{clock_};
    std::mt19937_64 rng_;
    std::vector<std::unique_ptr<SimNode>> nodes_;
    std::priority_queue<Datagram, std::vector<Datagram>, Later> queue_;
    uint64_t seq_ = 0;
    std::unordered_map<uint64_t, uint64_t> link_last_ns_;   // (from, to) -> latest in-order arrival scheduled
    NetworkStats stats_;
    static constexpr uint64_t kTickNs = 1'000'000;   // node timers run every simulated millisecond
};

}  // namespace voxa::sim
