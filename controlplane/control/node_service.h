// The host's own service "node" (api_contract.md, "The host's own service"): health, readiness, status, version,
// settings, system, stats, peers, circuits, paths, overview, local_nri, local_rri, reload, drain, log_level.
//
// Sources: the configuration (replaced by reload), the node's identity (public half only), the shm segment's
// header and stats blocks (work while the data plane is down: the last published values), the data plane's STATS
// JSON over <data>/run/voxa.sock (peers, circuits, paths: -EAGAIN when the data plane cannot be reached; absent
// keys degrade to empty lists), and /proc for system numbers.
//
// Threads: handle() from any thread, concurrently (the api plugin calls from its request threads). reload runs the
// plugins' reload() on the host's main thread (PluginHost::run_on_main) and waits for it. tick() from the main
// loop refreshes the ~1 s CPU samples behind "system".
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace voxa::cp {

class DataplaneLink;
class PluginHost;
class Store;

inline constexpr const char* kProgramName = "voxa";
inline constexpr int kCircuitsListedMax = 1000;
inline constexpr int kDataplaneSocketTimeoutMs = 1000;

// {"name", "config_dir", "data_dir", "settings": <settings.json effective>, "plugin": <plugin-settings.<name> or {}>}
std::string plugin_config_json(const config::Config& config, std::string_view name);

// A copy of `v` where the value of every key containing "token", "password", "secret" or "private" (any case)
// is "<redacted>", at any depth.
nlohmann::json redact_secrets(const nlohmann::json& v);

// {"error": {"code": code, "message": message}}
std::string error_json(std::string_view code, std::string_view message);

struct NodeContext {
    PluginHost* host = nullptr;          // required; outlives the service
    DataplaneLink* link = nullptr;       // nullptr: not attached (the data plane then reads as down)
    Store* store = nullptr;              // operator actions are recorded when set
    std::string node_id_hex;             // BLAKE2b-256 of public_key, as crypto::node_id_of
    std::string public_key_hex;          // Ed25519
    std::filesystem::path socket_path;   // the data plane's local socket (<data>/run/voxa.sock)
    uint64_t started_ns = 0;             // CLOCK_MONOTONIC at voxa-control's start
    // Environment lookup for reload (tests inject; voxa-control passes config::process_environment()).
    config::EnvLookup env;
};

class NodeService {
public:
    NodeService(NodeContext context, config::Config config);

    // Any thread. One method of the contract; 0 or a negative errno with *json_out the result or an error object.
    int handle(std::string_view method, std::string_view json_in, std::string* json_out);

    // Main thread: refreshes the CPU samples when the last is >= ~1 s old. Cheap otherwise.
    void tick(uint64_t now_ns);

    // Main thread flags the service reports.
    void set_plugins_started(bool started) noexcept { plugins_started_.store(started); }
    void set_draining(bool draining) noexcept { draining_.store(draining); }
    bool draining() const noexcept { return draining_.load(); }

    config::Config config() const;

private:
    using json = nlohmann::json;
    int health(json* out);
    int ready(json* out);
    int status(json* out);
    int version(json* out);
    int settings(json* out);
    int system(json* out);
    int stats(json* out);
    int peers(json* out);
    int circuits(json* out);
    int paths(json* out);
    int overview(json* out);
    int local_nri(json* out);
    int local_rri(json* out);
    int reload(json* out);
    int drain(const json& in, json* out);
    int log_level(const json& in, json* out);

    json dataplane_json(uint64_t now_ns) const;
    // The data plane's STATS JSON; nullopt with *error when it cannot be reached.
    std::optional<json> dataplane_stats(std::string* error) const;
    // The same, or nullopt with *out set to the "unavailable" error (for methods that need the data plane).
    std::optional<json> required_dataplane_stats(json* out) const;
    // Per-worker snapshots of the stats blocks and their sums.
    json stats_from_segment(uint64_t now_ns) const;
    json peers_list(const json& dp, const config::Config& c) const;
    json circuits_list(const json& dp) const;
    json policy_json(const config::Config& c) const;

    NodeContext context_;
    mutable std::mutex config_mutex_;
    config::Config config_;
    std::mutex reload_mutex_;            // one reload at a time
    std::atomic<bool> plugins_started_{false};
    std::atomic<bool> draining_{false};

    struct CpuSample {
        uint64_t at_ns = 0;
        uint64_t control_cpu_ns = 0, dataplane_cpu_ns = 0;
        uint32_t dataplane_pid = 0;
        std::vector<uint64_t> worker_cpu_ns, worker_loops, worker_busy;
    };
    mutable std::mutex sample_mutex_;
    CpuSample last_sample_;
    json cpu_now_ = json::object();      // the percentages of the last interval
    json workers_now_ = json::array();
};

}  // namespace voxa::cp
