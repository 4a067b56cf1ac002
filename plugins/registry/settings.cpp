// Parsing of the registry plugin's settings (settings.h). Defaults that depend on other keys (down_after_s,
// record_lifetime_s) are filled after every given key has been read.
#include "registry/settings.h"

#include <limits>

#include "config/config.h"

namespace voxa::registry {
namespace {

using json = nlohmann::json;

std::string shown(const json& v) {
    std::string s = v.dump();
    if (s.size() > 64)
        s = s.substr(0, 61) + "...";
    return s;
}

// Reads an optional integer key of `obj` into *out; "" or the error text.
std::string read_uint(const json& obj, const std::string& prefix, const char* key, uint64_t lo, uint64_t hi,
                      uint32_t* out, bool* given = nullptr) {
    auto it = obj.find(key);
    if (it == obj.end())
        return "";
    bool const non_negative =
        it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0);
    bool const ok = non_negative && it->get<uint64_t>() >= lo && it->get<uint64_t>() <= hi;
    if (!ok)
        return prefix + key + ": expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
               ", got " + shown(*it);
    *out = uint32_t(it->get<uint64_t>());
    if (given != nullptr)
        *given = true;
    return "";
}

std::string unknown_key(const json& obj, const std::string& prefix,
                        std::initializer_list<const char*> known) {
    for (const auto& item : obj.items()) {
        bool found = false;
        for (const char* k : known) found = found || item.key() == k;
        if (!found) {
            std::string list;
            for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
            return prefix + item.key() + ": unknown key (expected one of " + list + ")";
        }
    }
    return "";
}

std::string parse(const json& j, Settings* s) {
    if (j.is_null())
        return "";
    if (!j.is_object())
        return "registry: expected an object, got " + shown(j);
    const std::string p = "registry.";
    if (auto e = unknown_key(
            j, p,
            {"backend", "heartbeat_interval_s", "down_after_s", "purge_after_s", "record_lifetime_s",
             "poll_interval_s", "session_ttl_s", "max_records", "rate_limits", "dht"});
        !e.empty())
        return e;
    if (auto it = j.find("backend"); it != j.end()) {
        if (*it == "embedded")
            s->backend = Backend::kEmbedded;
        else if (*it == "dht")
            s->backend = Backend::kDht;
        else
            return p + "backend: expected \"embedded\" or \"dht\", got " + shown(*it);
    }
    bool down_given = false, lifetime_given = false;
    std::string e;
    if (!(e = read_uint(j, p, "heartbeat_interval_s", 1, 3600, &s->heartbeat_interval_s)).empty())
        return e;
    if (!(e = read_uint(j, p, "down_after_s", s->heartbeat_interval_s, 86400, &s->down_after_s, &down_given))
             .empty())
        return e;
    if (!down_given)
        s->down_after_s = 3 * s->heartbeat_interval_s;
    if (!(e = read_uint(j, p, "purge_after_s", s->down_after_s, 365u * 86400, &s->purge_after_s)).empty())
        return e;
    if (!(e = read_uint(j, p, "record_lifetime_s", 10, 30u * 86400, &s->record_lifetime_s, &lifetime_given))
             .empty())
        return e;
    if (!lifetime_given)
        s->record_lifetime_s = s->backend == Backend::kDht ? 30 : 3600;
    if (!(e = read_uint(j, p, "poll_interval_s", 1, 3600, &s->poll_interval_s)).empty())
        return e;
    if (!(e = read_uint(j, p, "session_ttl_s", 60, 86400, &s->session_ttl_s)).empty())
        return e;
    if (!(e = read_uint(j, p, "max_records", 1, 10'000'000, &s->max_records)).empty())
        return e;
    if (auto it = j.find("rate_limits"); it != j.end()) {
        if (!it->is_object())
            return p + "rate_limits: expected an object, got " + shown(*it);
        const std::string q = p + "rate_limits.";
        if (!(e = unknown_key(
                  *it, q,
                  {"login_per_minute", "register_per_minute", "writes_per_minute", "reads_per_minute"}))
                 .empty())
            return e;
        RateLimits& r = s->rate_limits;
        if (!(e = read_uint(*it, q, "login_per_minute", 1, 1'000'000, &r.login_per_minute)).empty())
            return e;
        if (!(e = read_uint(*it, q, "register_per_minute", 1, 1'000'000, &r.register_per_minute)).empty())
            return e;
        if (!(e = read_uint(*it, q, "writes_per_minute", 1, 1'000'000, &r.writes_per_minute)).empty())
            return e;
        if (!(e = read_uint(*it, q, "reads_per_minute", 1, 1'000'000, &r.reads_per_minute)).empty())
            return e;
    }
    if (auto it = j.find("dht"); it != j.end()) {
        if (!it->is_object())
            return p + "dht: expected an object, got " + shown(*it);
        const std::string q = p + "dht.";
        if (!(e = unknown_key(*it, q, {"port", "bind", "network_id"})).empty())
            return e;
        uint32_t port = s->dht.port;
        if (!(e = read_uint(*it, q, "port", 0, 65535, &port)).empty())
            return e;
        s->dht.port = uint16_t(port);
        if (auto b = it->find("bind"); b != it->end()) {
            if (!b->is_string() || !config::parse_numeric_endpoint(b->get<std::string>(), 1))
                return q + "bind: expected a numeric IPv4 or IPv6 address, got " + shown(*b);
            s->dht.bind = b->get<std::string>();
        }
        if (!(e = read_uint(*it, q, "network_id", 0, std::numeric_limits<uint32_t>::max(),
                            &s->dht.network_id))
                 .empty())
            return e;
    }
    return "";
}

}  // namespace

std::string_view backend_name(Backend b) noexcept {
    return b == Backend::kDht ? "dht" : "embedded";
}

std::optional<Settings> parse_settings(const nlohmann::json& j, std::string* error) {
    Settings s;
    std::string e = parse(j, &s);
    if (!e.empty()) {
        if (error != nullptr)
            *error = std::move(e);
        return std::nullopt;
    }
    return s;
}

nlohmann::json to_json(const Settings& s) {
    return {{"backend", backend_name(s.backend)},
            {"heartbeat_interval_s", s.heartbeat_interval_s},
            {"down_after_s", s.down_after_s},
            {"purge_after_s", s.purge_after_s},
            {"record_lifetime_s", s.record_lifetime_s},
            {"poll_interval_s", s.poll_interval_s},
            {"session_ttl_s", s.session_ttl_s},
            {"max_records", s.max_records},
            {"rate_limits",
             {{"login_per_minute", s.rate_limits.login_per_minute},
              {"register_per_minute", s.rate_limits.register_per_minute},
              {"writes_per_minute", s.rate_limits.writes_per_minute},
              {"reads_per_minute", s.rate_limits.reads_per_minute}}},
            {"dht", {{"port", s.dht.port}, {"bind", s.dht.bind}, {"network_id", s.dht.network_id}}}};
}

}  // namespace voxa::registry
