// One data-plane worker: a thread pinned to its core that owns a protocol engine (node::Node), a backend (its
// own io_uring and SO_REUSEPORT socket) and a reactor, and shares nothing else. It talks to the control thread
// through two SPSC rings (commands in, events out) and to the other workers through handover rings:
//   - datagrams the kernel delivered to the wrong worker (no steering program, or one the kernel refused) go to
//     the worker their receiver index names (io::steer_worker), raw;
//   - relay messages that belong to another worker's message or circuit (node::Handoff).
// Each ring has one producer thread and one consumer thread; every consumer has a doorbell its producers ring.
//
// Hot path (datagram in -> engine -> datagram out): no allocation, no lock, no system call per packet (the
// backend batches), no exception, no log line. Commands and events carry heap objects (messages to send,
// messages received, gossip bodies) whose ownership passes through the ring: they are allocated and freed on the
// control thread side of the message's life, or by the engine's per-message state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "crypto/identity.h"
#include "directory/descriptor.h"
#include "io/backend.h"
#include "io/uring_backend.h"
#include "netstack/frame.h"
#include "node/node.h"
#include "reactor/doorbell.h"
#include "reactor/reactor.h"
#include "reactor/slot_ring.h"
#include "reactor/spsc_ring.h"
#include "shm/stats.h"

namespace voxa::io {
class DpdkPorts;   // io/dpdk_eal.h (built only with DPDK)
}

namespace voxa::daemon {

// Control thread -> worker. Pointers are owned by the command until the worker consumes it.
struct Command {
    enum class Kind : uint8_t { kSend, kReply, kStatus, kAddNodes, kSetGossip, kConnect, kPolicy, kForget };
    Kind kind = Kind::kSend;
    bool report = false;                              // kSend/kReply: emit kResult when delivered or failed
    uint64_t token = 0;                               // echoed in the answering event
    NodeId node{};                                    // kSend: destination; kConnect, kForget: the node
    MessageId message{};                              // kReply: the request; kStatus: the message
    std::vector<uint8_t>* bytes = nullptr;            // kSend/kReply: the message (the worker frees it)
    std::vector<directory::Descriptor>* nodes = nullptr;         // kAddNodes (the worker frees it)
    std::vector<std::vector<uint8_t>>* gossip = nullptr;         // kSetGossip (the worker frees it)
    node::CircuitPolicy policy;                       // kPolicy: for circuits built from now on
};

// What a worker shows the control thread about itself every snapshot_ns (sessions, origin circuits), for the
// local STATS JSON and the shm SessionUp/SessionDown events (the control thread diffs consecutive snapshots).
struct WorkerSnapshot {
    std::vector<node::SessionInfo> sessions;
    std::vector<node::CircuitInfo> circuits;          // at most kSnapshotCircuitsMax
    node::CircuitPolicy policy;
    std::size_t outgoing_messages = 0;                // messages this worker's engine still sends
};
inline constexpr std::size_t kSnapshotCircuitsMax = 1000;

// Worker -> control thread.
struct Event {
    enum class Kind : uint8_t {
        kAccepted, kRejected, kResult, kState, kReceived, kGossip,
        kCircuitUp, kCircuitDown,   // token: circuit id (node::CircuitRef::key()); state: hops; message[0..4): reason
        kSnapshot,                  // snapshot
        kPolicyRefused,             // error: why the node refused a kPolicy command
    };
    Kind kind = Kind::kAccepted;
    uint8_t worker = 0;
    uint8_t state = 0;                                // kResult/kState: node::SendState
    uint64_t token = 0;
    MessageId message{};
    std::string* error = nullptr;                     // kRejected/kResult(failed) (control frees)
    node::Received* received = nullptr;               // kReceived (control frees)
    std::vector<uint8_t>* gossip = nullptr;           // kGossip (control frees)
    WorkerSnapshot* snapshot = nullptr;               // kSnapshot (control frees)
};

// Counters a worker publishes every few milliseconds, read by the control thread under a sequence lock.
struct WorkerStats {
    node::NodeStats node;
    link::LinkStats link;
    reassembly::ReassemblyStats reassembly;
    io::BackendStats backend;
    reactor::ReactorStats reactor;
    uint64_t relay_circuits = 0, origin_circuits = 0, known_nodes = 0;
    uint64_t handover_datagrams_out = 0, handover_datagrams_in = 0, handover_drops = 0;
    uint64_t command_count = 0, event_drops = 0;      // event_drops: its own ring's and the shm event ring's
    uint64_t cpu_ns = 0;                              // this thread's CPU time
};

struct WorkerConfig {
    uint8_t index = 0, workers = 1;
    int cpu = -1;                                     // pin to this cpu; -1: do not pin
    node::NodeConfig node;
    io::UringConfig backend;
    // "io_uring" (above) or "dpdk": a DpdkBackend on the process's ports (dpdk_ports, owned by the daemon and
    // outliving the worker); worker 0 also reports the ports' own counters. "dpdk" fails in a build without DPDK.
    std::string backend_kind = "io_uring";
    io::DpdkPorts* dpdk_ports = nullptr;
    uint64_t dpdk_idle_sleep_ns = 100'000;
    std::vector<netstack::ChecksumPolicy> dpdk_checksum;   // per DPDK port (dataplane.json dpdk.ports[].checksum)
    reactor::ReactorConfig reactor;
    std::size_t rx_budget = 64;
    std::size_t ring_slots = 4096;                    // command and event rings
    std::size_t handover_slots = 1024;                // each inter-worker ring
    uint64_t tick_ns = 2'000'000;                     // node timers
    uint64_t tx_flush_ns = 50'000;                    // under load, queued sends wait at most this long
    uint64_t stats_ns = 50'000'000;                   // stats publication
    node::FaultInjection faults;                      // tests of the protocol's defences only
    uint64_t snapshot_ns = 250'000'000;               // WorkerSnapshot to the control thread
    // The worker's block in the node's shm segment (include/voxa/shm.h), written from the worker's thread at every
    // stats publication; null: no segment (tools). shm_epoch: the data side's epoch (Segment::epoch()).
    shm::StatsBlock* stats_block = nullptr;
    uint64_t shm_epoch = 0;
};

class Worker;

// The rings between every pair of workers, made before any worker starts.
class Mesh {
public:
    Mesh(std::size_t workers, std::size_t slots, std::size_t cell_bytes);
    reactor::SlotRing& datagrams(std::size_t from, std::size_t to) { return *datagrams_[from * n_ + to]; }
    reactor::SlotRing& handoffs(std::size_t from, std::size_t to) { return *handoffs_[from * n_ + to]; }
    reactor::Doorbell& doorbell(std::size_t worker) { return *doorbells_[worker]; }
    std::size_t workers() const noexcept { return n_; }

private:
    std::size_t n_;
    std::vector<std::unique_ptr<reactor::SlotRing>> datagrams_, handoffs_;
    std::vector<std::unique_ptr<reactor::Doorbell>> doorbells_;
};

class Worker final : private reactor::PollSource, private io::RxHandler, private node::HandoffSink {
public:
    // Creates the backend (binds the socket) and the engine; nullptr + error when the backend cannot start.
    // `identity`, `mesh` and `control_bell` outlive the worker.
    static std::unique_ptr<Worker> create(const WorkerConfig& config, const crypto::Identity& identity, Mesh& mesh,
                                          reactor::Doorbell& control_bell, std::string* error);
    ~Worker() override;

    void start();                                     // spawns the thread
    void stop();                                      // asks the thread to end and joins it

    // Control thread side. push() returns false when the command ring is full (the caller answers "busy").
    bool push(const Command& c);
    bool pop(Event* e) { return events_.try_pop(e); }
    WorkerStats read_stats() const;                   // a consistent snapshot
    uint16_t port() const noexcept { return backend_->local_port(); }
    std::string features() const { return backend_->features(); }
    uint8_t index() const noexcept { return config_.index; }
    // Any thread: the control thread dropped one of this worker's shm events (full ring); published as event_drops.
    void count_shm_event_drop() noexcept { shm_event_drops_.fetch_add(1, std::memory_order_relaxed); }
    // Any thread: fill level of the command ring, 0..1000 permille.
    uint32_t command_ring_permille() const noexcept;

private:
    Worker(const WorkerConfig& config, const crypto::Identity& identity, Mesh& mesh, reactor::Doorbell& control_bell,
           std::unique_ptr<io::Backend> backend);
    void run();
    std::size_t poll(uint64_t now_ns) noexcept override;                                     // PollSource
    void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept override;  // RxHandler
    bool handoff(uint8_t to, const node::Handoff& h, std::span<const uint8_t> data) noexcept override;
    std::size_t poll_commands() noexcept;
    std::size_t poll_handovers() noexcept;
    void poll_engine_output() noexcept;
    void track_results() noexcept;
    void emit(const Event& e) noexcept;
    void publish_stats() noexcept;
    void publish_shm_stats(const WorkerStats& s, uint64_t now_ns) noexcept;
    void send_snapshot() noexcept;
    static void on_tick(reactor::Timer& t, uint64_t now_ns) noexcept;

    WorkerConfig config_;
    Mesh& mesh_;
    reactor::Doorbell& control_bell_;
    reactor::Doorbell& bell_;
    SteadyClock clock_;
    SystemWallClock wall_;
    std::unique_ptr<io::Backend> backend_;
    std::unique_ptr<node::Node> node_;
    reactor::Reactor reactor_;
    reactor::SpscRing<Command> commands_;
    reactor::SpscRing<Event> events_;
    reactor::Timer tick_timer_;
    std::vector<std::pair<MessageId, uint64_t>> tracked_;   // messages whose outcome a client awaits (token)
    uint64_t last_stats_ns_ = 0, last_flush_ns_ = 0, last_snapshot_ns_ = 0;
    shm::StatsWriter shm_stats_;
    std::atomic<uint64_t> shm_event_drops_{0};
    uint64_t handover_out_ = 0, handover_in_ = 0, handover_drops_ = 0, command_count_ = 0, event_drops_ = 0;

    // Sequence-locked stats: odd while being written.
    mutable std::atomic<uint64_t> stats_seq_{0};
    WorkerStats stats_;

    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace voxa::daemon
