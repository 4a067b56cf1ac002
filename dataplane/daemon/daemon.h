// voxa-dataplane's control thread: it owns the configuration, the identity, the directory and the local delivery
// socket, starts one Worker per configured core, and moves work between local programs and the workers:
//   SEND   -> the worker that owns circuits to that destination (hash of the destination id)
//   REPLY  -> the worker that delivered the request (its message's owner)
//   STATUS -> the message's owner worker (node::message_owner)
//   gossip -> verified and merged here; new entries go to every worker, fresh gossip bodies too. With p2p
//             "discovery": "registry" there is no gossip: none is handed to the workers (so none is sent), and
//             received bodies are dropped here, counted as directory drop "gossip_off"; the directory then holds
//             the bootstrap peers and what voxa-control pushes (PeerUpdate / PeerRemove).
// It never touches a packet. It sleeps in epoll on the local socket and a doorbell the workers ring.
//
// It is also the data plane's end of the node's shm segment (<data>/run/voxa.shm, include/voxa/shm.h), shared
// with voxa-control: it stores a heartbeat every 100 ms, is the single consumer of every worker's command ring
// (polled at least every 10 ms: there is no doorbell between processes) and the single producer of every event
// ring (ring w carries worker w's events). Each worker writes its own stats block from its own thread.
// Commands: PeerUpdate (verified, merged, new nodes to every worker), PeerRemove, CircuitPolicy (to every worker's
// engine, for new circuits), Drain (SEND refused with "draining"), SetLogLevel, Shutdown (drain, then run() returns
// when nothing is in flight or at the deadline), NameSet / NameRemove (the name table that local RESOLVE frames read,
// here on the control thread; full -> Error event; expired names are swept every second). A malformed slot or a refused
// command is counted, logged at most once per second, and answered with an Error event; never fatal.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "crypto/identity.h"
#include "daemon/worker.h"
#include "directory/directory.h"
#include "directory/names.h"
#include "local/server.h"
#include "reactor/doorbell.h"
#include "shm/messages.h"
#include "shm/segment.h"

namespace voxa::daemon {

class Daemon final : private local::Handler {
public:
    // Binds sockets and starts nothing yet; nullptr + error (naming what failed) when it cannot.
    static std::unique_ptr<Daemon> create(const config::Config& config, std::string* error);
    ~Daemon() override;

    // Runs until `stop` is set (by a signal handler, which then calls wake()). Returns the process exit code.
    int run(const std::atomic<bool>& stop);
    void wake() noexcept { bell_.ring(); }

    const crypto::Identity& identity() const noexcept { return identity_; }
    // Control thread (or a test, after run() returned or between runs): the local STATS JSON.
    nlohmann::json stats_json() const;
    const shm::Segment& segment() const noexcept { return *segment_; }
    uint16_t port() const noexcept { return workers_[0]->port(); }
    // Counters of the shm command path (control thread; tests read them after run() returned).
    uint64_t shm_commands() const noexcept { return shm_commands_; }
    uint64_t shm_command_errors() const noexcept { return shm_command_errors_; }

private:
    struct Pending {          // a SEND or REPLY waiting for its worker's answer
        local::ClientId client = 0;
        uint32_t request_id = 0;
        bool report = false;
    };

    Daemon(const config::Config& config, crypto::Identity identity);
    bool check_udp_port(std::string* error);
    bool open_segment(std::string* error);
    bool start_workers(std::string* error);
    bool start_dpdk(std::string* error);          // EAL and ports (backend "dpdk")
    std::vector<std::pair<std::string, uint64_t>> telemetry_counters() const;   // any thread
    // shm (daemon_shm.cpp)
    void poll_shm_commands();
    void apply(std::size_t ring, const shm::Command& c);
    void refuse(std::size_t ring, uint32_t code, const std::string& text);
    void push_event(std::size_t worker, const shm::Event& e);
    void on_snapshot(std::size_t worker, std::unique_ptr<WorkerSnapshot> snap);
    void shm_tick(uint64_t now_ns);
    bool shutdown_complete(uint64_t now_ns) const;
    void add_shm_json(nlohmann::json* j) const;
    void on_frame(local::ClientId client, const local::FrameView& frame) override;
    void on_disconnect(local::ClientId client) override;
    void drain_events();
    void refresh_gossip();
    void add_nodes(const std::vector<directory::Descriptor>& nodes);
    bool push(std::size_t worker, const Command& c);
    std::size_t worker_for(const NodeId& destination) const noexcept;

    config::Config config_;
    crypto::Identity identity_;
    Endpoint advertised_{};
    directory::Directory directory_;
    reactor::Doorbell bell_;
    // The DPDK backend's process-wide ports (backend "dpdk"); declared before the workers, whose backends point
    // into it, so it is destroyed after them.
    struct DpdkPortsDeleter {
        void operator()(io::DpdkPorts* p) const noexcept;
    };
    std::unique_ptr<io::DpdkPorts, DpdkPortsDeleter> dpdk_ports_;
    std::unique_ptr<Mesh> mesh_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<local::Server> server_;

    uint64_t next_token_ = 1;
    std::unordered_map<uint64_t, Pending> pending_;                   // by token; kept for RESULT if report
    std::unordered_map<std::string, uint8_t> delivered_by_;           // message id (raw) -> worker, for REPLY
    std::deque<std::string> delivered_order_;                         // bounds delivered_by_
    uint64_t last_gossip_refresh_ns_ = 0;
    bool gossip_on_ = true;   // p2p "discovery" is "gossip"
    uint64_t started_ns_ = 0;

    // The shm channel (control thread only, except the stats blocks, which belong to the workers).
    std::unique_ptr<shm::Segment> segment_;
    std::vector<shm::RingConsumer> commands_in_;                      // per worker
    std::vector<shm::RingProducer> events_out_;                       // per worker
    std::vector<uint64_t> ring_drops_seen_;                           // per worker: malformed slots already counted
    std::vector<std::unique_ptr<WorkerSnapshot>> snapshots_;          // per worker: the latest
    std::vector<uint64_t> snapshot_at_ns_;                            // per worker: when it arrived
    struct Overload {
        uint64_t last_ns[std::size_t(shm::OverloadResource::kCount)] = {};
        uint64_t tx_dropped_seen = 0, tx_packets_seen = 0;
    };
    std::vector<Overload> overload_;                                  // per worker
    node::CircuitPolicy policy_;                                      // what the last accepted CircuitPolicy set
    uint64_t shm_commands_ = 0, shm_command_errors_ = 0, shm_event_drops_ = 0;
    directory::NameTable names_;                                      // NameSet / NameRemove; read by RESOLVE
    uint64_t last_name_sweep_ns_ = 0;
    uint64_t last_error_log_ns_ = 0, errors_unlogged_ = 0;
    uint64_t last_heartbeat_ns_ = 0;
    bool draining_ = false, shutdown_ = false;
    uint64_t drain_started_ns_ = 0, drain_deadline_ns_ = 0, shutdown_deadline_ns_ = 0;
};

}  // namespace voxa::daemon
