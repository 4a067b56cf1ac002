// The REST API plugin: an HTTP/1.1 server (Pistache) that exposes the host's "node" service as JSON routes,
// the data plane's stats as Prometheus text, and the OpenAPI document of itself.
//
// Ownership: the host owns voxa_host and keeps it valid until destroy(); the plugin instance (entry.cpp) owns one
// Server, which owns the Pistache endpoint and a shared Core. Pistache clones the request handler once per worker
// thread; every clone holds the same Core, so Core is immutable except for its atomics (live-reloadable settings
// and the per-status request counters).
//
// Threads: create/start/reload/stop/destroy on the host's main thread; Core::handle on Pistache's worker threads,
// concurrently. Nothing here throws across the C ABI: entry.cpp catches everything.
#ifndef VOXA_PLUGINS_API_API_H
#define VOXA_PLUGINS_API_API_H

#include <voxa/plugin_abi.h>

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxa::api {

extern const char kOpenApiJson[];           // openapi.json, embedded at build time (embed.py)
extern const std::size_t kOpenApiJsonBytes;

inline constexpr uint32_t kThreadsDefault = 2;
inline constexpr uint32_t kThreadsMax = 16;
inline constexpr std::size_t kMaxBodyBytesDefault = 65536;
inline constexpr std::size_t kMaxBodyBytesMax = 16u << 20;

// What create()/reload() take from config_json. parse_config returns "" on success, else a message naming the
// key and what was expected.
struct Config {
    std::string data_dir;
    std::string host = "127.0.0.1";
    uint16_t port = 9999;
    bool token_for_reads = false;          // forced true when host is not a loopback address
    uint32_t threads = kThreadsDefault;
    std::size_t max_body_bytes = kMaxBodyBytesDefault;
};
std::string parse_config(const nlohmann::json& config, Config& out);
bool is_loopback_host(const std::string& host);

// The bearer token in <data_dir>/local/api_token: 64 hex characters from randombytes_buf, file 0600 in a 0700
// directory. Loads it, or creates it when absent. Returns "" on success with *token set, else a message (a file
// readable by group or others is refused, with the chmod to run).
std::string load_or_create_token(const std::string& data_dir, std::string* token);

// Renders Prometheus text 0.0.4 from node.stats and node.health answers plus the API's own request counters
// (code -> count, codes with a zero count omitted). Pure; exposed for tests.
std::string render_metrics(const nlohmann::json& stats, const nlohmann::json& health,
                           const std::vector<std::pair<int, uint64_t>>& requests_by_code);

// One HTTP answer.
struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;   // extra headers (Allow, WWW-Authenticate)
};

// What every handler clone shares. handle() is the whole request pipeline: route, auth, size, parse, call.
class Core {
public:
    Core(const voxa_host* host, const Config& config, const std::string& token);

    // Any Pistache thread. Never throws. `authorization` is the raw Authorization header value ("" if absent);
    // `query` the query parameters as an object of strings (forwarded to registry/appmgr routes only); `peer` the
    // client's address as the server saw it (the socket's, never a header), given to the registry for its rate
    // limits.
    Reply handle(const std::string& method, const std::string& path, const std::string& authorization,
                 const nlohmann::json& query, const std::string& body, const std::string& peer = "") noexcept;

    // Main thread (reload): settings that apply without a restart.
    void apply(const Config& config) noexcept;
    void count(int status) noexcept;
    void log(int level, const std::string& message, const nlohmann::json& fields = nullptr) const noexcept;

private:
    Reply route(const std::string& method, const std::string& path, const std::string& authorization,
                const nlohmann::json& query, const std::string& body, const std::string& peer);
    // True when `credential` (a bearer's, see bearer_of) is this node's API token. Costs one BLAKE2b.
    bool is_api_token(std::string_view credential) const noexcept;
    Reply call_node(const char* node_method, const nlohmann::json& input);
    // Which mapping turns a service's errno and error body into a reply: error_from_service (the contract's codes)
    // or error_from_registry (the registry's own codes, kept).
    enum class Errors : uint8_t { kService, kRegistry };
    // service.<method>(input). When no plugin provides `service` (-ENOENT without a body): 503 with
    // `missing_message`, and *absent set (when given). Other errors map as `errors` says; `anonymous` (no
    // credential, on a route where one could change the answer) turns the registry's -EPERM into 401, not 403.
    Reply call_service(const char* service, const char* method, const nlohmann::json& input,
                       const char* missing_message, Errors errors, bool anonymous = false, bool* absent = nullptr);
    Reply metrics();
    Reply error_from_service(int rc, char* out);
    Reply error_from_registry(int rc, char* out, bool anonymous);
    std::vector<std::pair<int, uint64_t>> request_counts() const;

    const voxa_host* host_;                                // owned by the host
    std::array<uint8_t, 32> token_hash_{};                 // BLAKE2b-256 of the token; compared in constant time
    std::atomic<bool> token_for_reads_;
    std::atomic<std::size_t> max_body_bytes_;
    std::array<std::atomic<uint64_t>, 600> requests_by_code_{};   // index = HTTP status
};

// The Pistache endpoint around a Core. start() binds and serves on `threads` threads and writes the bound port
// to <data_dir>/run/api_port; stop() shuts the endpoint down (joins its threads: no host call after it returns)
// and removes the port file. Main thread only.
class Server {
public:
    Server(const voxa_host* host, Config config, const std::string& token);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::string start();                   // "" or what failed (bind address and reason)
    void stop() noexcept;
    std::string reload(const Config& config);   // "" or why not; host/port/threads changes are logged as needing a restart
    uint16_t port() const noexcept { return port_; }

private:
    struct Impl;
    const voxa_host* host_;
    Config config_;
    std::shared_ptr<Core> core_;
    std::unique_ptr<Impl> impl_;
    uint16_t port_ = 0;
};

}  // namespace voxa::api

#endif  // VOXA_PLUGINS_API_API_H
