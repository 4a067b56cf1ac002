// The one place voxa-bench touches the local delivery client (dataplane/local/client.h): a blocking connection to
// a node's data/run/voxa.sock that sends messages, receives MESSAGE and RESULT events, and reads STATS. Keeping the
// client behind this small type lets the rest of the bench read as measurement code. Not thread-safe: one
// BenchClient per thread (the bench uses one for the sender and one for the receiver).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxa/types.h"

namespace voxa::local {
class Client;
}

namespace voxa::bench {

class BenchClient {
public:
    BenchClient();
    ~BenchClient();
    BenchClient(const BenchClient&) = delete;
    BenchClient& operator=(const BenchClient&) = delete;

    // Connects to the socket at `path`. false and `error` on failure.
    bool connect(const std::string& path, std::string& error);
    // Sends `bytes` to `destination` with a delivery report requested; returns once the daemon ACCEPTED it.
    // false and `error` if refused (the message is then not in flight).
    bool send(const NodeId& destination, std::span<const uint8_t> bytes, std::string& error);
    // Asks for this node's incoming messages on this connection.
    bool subscribe(std::string& error);

    enum class Kind : uint8_t { kNone, kMessage, kResult, kClosed };
    struct Event {
        Kind kind = Kind::kNone;
        int state = 0;                    // kResult: 3 delivered, 4 failed
        std::string error;                // kResult: why it failed; kClosed: why the connection ended
        std::span<const uint8_t> bytes;   // kMessage: the message, valid until the next call on this client
    };
    // Waits up to timeout_ms for the next event; kNone on timeout.
    Event next(int timeout_ms);
    // The daemon's STATS JSON, or nullopt (and `error`).
    std::optional<std::string> stats_json(std::string& error);

private:
    std::unique_ptr<local::Client> client_;
    std::vector<uint8_t> last_message_;   // the bytes of the last kMessage event
};

// The STATS document of the node behind `socket` (one connection, opened and closed here), checked to hold a
// "node" object; nullopt and `error` otherwise.
std::optional<nlohmann::json> node_stats(const std::string& socket, std::string& error);
// cells_relayed_forward + cells_relayed_backward of a node_stats() document.
double cells_relayed(const nlohmann::json& stats);

}  // namespace voxa::bench
