// The registry plugin's settings: settings.json "plugin-settings"."registry", every key optional. Parsed and
// checked in full before anything starts; an unknown key or a bad value is ONE error naming the key and what
// was expected, e.g.  registry.heartbeat_interval_s: expected an integer 1..3600, got 0 Pure functions,
// thread-safe; the values are plain data owned by whoever holds them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace voxa::registry {

enum class Backend : uint8_t { kEmbedded, kDht };

struct RateLimits {  // requests per minute per peer address (the burst is the same number)
    uint32_t login_per_minute = 10;
    uint32_t register_per_minute = 60;
    uint32_t writes_per_minute = 600;
    uint32_t reads_per_minute = 6000;
    friend bool operator==(const RateLimits&, const RateLimits&) = default;
};

struct DhtSettings {
    uint16_t port = 4222;  // 0 = ephemeral
    std::string bind = "0.0.0.0";
    uint32_t network_id = 0x766f7861;  // "voxa": test networks pick their own so they never meet
    friend bool operator==(const DhtSettings&, const DhtSettings&) = default;
};

struct Settings {
    Backend backend = Backend::kEmbedded;
    uint32_t heartbeat_interval_s = 10;  // 1..3600
    uint32_t down_after_s = 30;          // heartbeat_interval_s..86400; default 3 x heartbeat_interval_s
    uint32_t purge_after_s = 3600;       // >= down_after_s
    uint32_t record_lifetime_s = 3600;   // own records' expiry; default 3600 (embedded), 30 (dht)
    uint32_t poll_interval_s = 5;        // member: live-set fetch period, 1..3600
    uint32_t session_ttl_s = 3600;       // 60..86400
    uint32_t max_records = 100000;       // 1..10'000'000
    RateLimits rate_limits;
    DhtSettings dht;
    friend bool operator==(const Settings&, const Settings&) = default;
};

std::string_view backend_name(Backend b) noexcept;  // "embedded" | "dht"

// `j` is the plugin's settings object ({} or absent keys = defaults). nullopt with *error ("registry.<key>:
// ...").
std::optional<Settings> parse_settings(const nlohmann::json& j, std::string* error);

nlohmann::json to_json(const Settings& s);

}  // namespace voxa::registry
