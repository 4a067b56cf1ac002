// voxa-dataplane's control thread: it owns the configuration, the identity, the directory and the local delivery
// socket, starts one Worker per configured core, and moves work between local programs and the workers:
//   SEND   -> the worker that owns circuits to that destination (hash of the destination id)
//   REPLY  -> the worker that delivered the request (its message's owner)
//   STATUS -> the message's owner worker (node::message_owner)
//   gossip -> verified and merged here; new entries go to every worker, fresh gossip bodies too
// It never touches a packet. It sleeps in epoll on the local socket and a doorbell the workers ring.
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
#include "local/server.h"
#include "reactor/doorbell.h"

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
    nlohmann::json stats_json() const;

private:
    struct Pending {          // a SEND or REPLY waiting for its worker's answer
        local::ClientId client = 0;
        uint32_t request_id = 0;
        bool report = false;
    };

    Daemon(const config::Config& config, crypto::Identity identity);
    bool start_workers(std::string* error);
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
    std::unique_ptr<Mesh> mesh_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<local::Server> server_;

    uint64_t next_token_ = 1;
    std::unordered_map<uint64_t, Pending> pending_;                   // by token; kept for RESULT if report
    std::unordered_map<std::string, uint8_t> delivered_by_;           // message id (raw) -> worker, for REPLY
    std::deque<std::string> delivered_order_;                         // bounds delivered_by_
    uint64_t last_gossip_refresh_ns_ = 0;
    uint64_t started_ns_ = 0;
};

}  // namespace voxa::daemon
