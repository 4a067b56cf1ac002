// The member role: this node belongs to a central registry (a bootstrap node with api_port) and talks to it
// over its REST API (voxa_http, plain HTTP):
//   POST /registry/challenge {"public_key"}            -> nonce, registry_key (must be the bootstrap entry's
//   key) POST /registry/register  {public_key, nonce, timestamp, signature, nri, rri?} -> session POST
//   /registry/heartbeat {session, nri?, rri?}     every heartbeat_interval_s; records when they changed GET
//   /data/discover_relays/, /data/discover_nodes/ every poll_interval_s; each record verified here and cached
//        in the local store (Registry::ingest_record), so the feed works from what this node checked itself.
// A refused session (401/403/404 on heartbeat) re-registers at once; an unreachable registry backs off (1 s
// doubling to 30 s) and moves to the next central registry in the list.
//
// stop() deregisters (POST /registry/deregister, 1 s at most) so the central registry drops this node at
// once.
//
// Runs on its own thread (blocking HTTP with short timeouts never touches the host's main thread). Owned by
// the Registry, which outlives it; stop() joins the thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxa/types.h"

namespace voxa::registry {

class Registry;

struct Central {
    std::string host;  // numeric address from p2p.json
    uint16_t api_port = 0;
    PublicKey key{};  // its Ed25519 key from p2p.json: the registry_key a challenge must name
};

class Member {
public:
    Member(Registry& registry, std::vector<Central> centrals);
    ~Member();
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;

    void start();
    void stop();
    // Own records changed: send them with the next heartbeat, now.
    void wake();
    // {"central": "host:port", "registered": bool, "session_expires", "last_error", "polls", "registrations"}
    nlohmann::json status() const;

    // One pass of the loop (register if needed, heartbeat when due, poll when due); returns the seconds to
    // wait. Public for tests, which drive it without the thread.
    uint32_t step();

private:
    bool do_register();
    bool do_heartbeat();
    void do_poll();   // a failure is logged and counted in status()
    void sync_names(const Central& c);   // both ways, after each poll (names are network-wide)
    void failed(const std::string& error);
    void run();

    Registry& registry_;
    std::vector<Central> centrals_;
    std::size_t current_ = 0;

    mutable std::mutex mutex_;  // guards everything below
    std::condition_variable cv_;
    bool stop_ = false, wake_ = false;
    std::string session_;
    uint64_t session_expires_s_ = 0, last_heartbeat_s_ = 0, last_poll_s_ = 0, last_sent_records_s_ = 0;
    uint64_t sent_nri_sequence_ = 0, sent_rri_sequence_ = 0;
    uint32_t backoff_s_ = 0;
    uint64_t polls_ = 0, registrations_ = 0;
    std::string last_error_;
    std::thread thread_;
};

}  // namespace voxa::registry
