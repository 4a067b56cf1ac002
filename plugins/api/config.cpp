// create()/reload() input -> Config. Messages name the key (as written in settings.json) and what was expected,
// because the host shows them to the operator as the reason the node did not start.
#include "api.h"

#include <arpa/inet.h>

namespace voxa::api {

namespace {

// Integer in [lo, hi] or a message. JSON booleans and floats are refused: 2.5 threads is a typo, not a request.
std::string get_uint(const nlohmann::json& obj, const char* key, const std::string& where, uint64_t lo, uint64_t hi,
                     uint64_t& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return "";
    bool ok = it->is_number_integer() && (it->is_number_unsigned() || it->get<int64_t>() >= 0);
    if (!ok || it->get<uint64_t>() < lo || it->get<uint64_t>() > hi) {
        return "settings.json: " + where + key + ": expected an integer in " + std::to_string(lo) + ".." +
               std::to_string(hi) + ", got " + it->dump();
    }
    out = it->get<uint64_t>();
    return "";
}

}  // namespace

bool is_loopback_host(const std::string& host) {
    if (host == "localhost") return true;
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

std::string parse_config(const nlohmann::json& config, Config& out) {
    if (!config.is_object()) return "plugin config: expected a JSON object";
    Config c;
    auto data_dir = config.find("data_dir");
    if (data_dir == config.end() || !data_dir->is_string() || data_dir->get<std::string>().empty())
        return "plugin config: data_dir: expected a non-empty string";
    c.data_dir = data_dir->get<std::string>();

    static const nlohmann::json kEmpty = nlohmann::json::object();
    auto settings_it = config.find("settings");
    const nlohmann::json& settings = settings_it != config.end() ? *settings_it : kEmpty;
    if (!settings.is_object()) return "plugin config: settings: expected an object";

    auto server_it = settings.find("server-settings");
    if (server_it != settings.end()) {
        if (!server_it->is_object()) return "settings.json: server-settings: expected an object";
        auto host = server_it->find("host");
        if (host != server_it->end()) {
            if (!host->is_string() || host->get<std::string>().empty())
                return "settings.json: server-settings.host: expected a non-empty string (an IP address)";
            c.host = host->get<std::string>();
        }
        uint64_t port = c.port;
        if (auto e = get_uint(*server_it, "port", "server-settings.", 0, 65535, port); !e.empty()) return e;
        c.port = uint16_t(port);
    }
    auto reads = settings.find("api-token-required-for-reads");
    if (reads != settings.end()) {
        if (!reads->is_boolean()) return "settings.json: api-token-required-for-reads: expected true or false";
        c.token_for_reads = reads->get<bool>();
    }
    // A token that only guards writes is fine on loopback; anywhere else reads leak the node's topology.
    if (!is_loopback_host(c.host)) c.token_for_reads = true;

    auto plugin_it = config.find("plugin");
    const nlohmann::json& plugin = plugin_it != config.end() && !plugin_it->is_null() ? *plugin_it : kEmpty;
    if (!plugin.is_object()) return "settings.json: plugin-settings.api: expected an object";
    for (const auto& [key, value] : plugin.items()) {
        if (key != "threads" && key != "max_body_bytes")
            return "settings.json: plugin-settings.api." + key + ": unknown key (known: threads, max_body_bytes)";
    }
    uint64_t threads = c.threads;
    if (auto e = get_uint(plugin, "threads", "plugin-settings.api.", 1, kThreadsMax, threads); !e.empty()) return e;
    c.threads = uint32_t(threads);
    uint64_t body = c.max_body_bytes;
    if (auto e = get_uint(plugin, "max_body_bytes", "plugin-settings.api.", 1, kMaxBodyBytesMax, body); !e.empty())
        return e;
    c.max_body_bytes = std::size_t(body);
    out = std::move(c);
    return "";
}

}  // namespace voxa::api
