// Prometheus text exposition format 0.0.4 from node.stats/node.health. The Stat table arrives in the answer
// ("counters": name and kind in index order), so a counter added to include/voxa/shm.h shows up here without a
// rebuild of the plugin.
#include "api.h"

#include <charconv>
#include <string_view>

namespace voxa::api {

namespace {

// Metric names allow [a-zA-Z0-9_:]; anything else in a stat name becomes '_' rather than breaking the scrape.
std::string metric_name(std::string_view stat) {
    std::string out = "voxa_";
    for (char c : stat) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out;
}

// A sample value: JSON numbers as they are, booleans as 1/0, anything else as 0.
std::string sample_value(const nlohmann::json& v) {
    if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
    if (v.is_number_integer()) return v.dump();
    if (v.is_number_float()) return v.dump();
    return "0";
}

// Prometheus wants base units in names ("_seconds", not "_ns"): a stat counted in ns/us/ms is exposed in
// seconds, the value scaled. Returns the divisor (1 when the name has no time suffix) and trims `name`.
double time_unit_divisor(std::string& name) {
    static constexpr std::pair<std::string_view, double> kUnits[] = {{"_ns", 1e9}, {"_us", 1e6}, {"_ms", 1e3}};
    for (auto [suffix, divisor] : kUnits) {
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            name.resize(name.size() - suffix.size());
            name += "_seconds";
            return divisor;
        }
    }
    return 1;
}

std::string scaled_value(const nlohmann::json& v, double divisor) {
    if (divisor == 1 || !v.is_number()) return sample_value(v);
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v.get<double>() / divisor);   // shortest exact form
    return std::string(buf, res.ptr);
}

const nlohmann::json& field(const nlohmann::json& obj, const char* key) {
    static const nlohmann::json kNull;
    if (!obj.is_object()) return kNull;
    auto it = obj.find(key);
    return it == obj.end() ? kNull : *it;
}

void family(std::string& out, const std::string& name, const char* type, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n";
    out += "# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string render_metrics(const nlohmann::json& stats, const nlohmann::json& health,
                           const std::vector<std::pair<int, uint64_t>>& requests_by_code) {
    std::string out;
    out.reserve(16384);
    const nlohmann::json& counters = field(stats, "counters");
    const nlohmann::json& workers = field(stats, "workers");
    if (counters.is_array()) {
        for (const auto& info : counters) {
            const nlohmann::json& name_j = field(info, "name");
            if (!name_j.is_string()) continue;
            const std::string stat = name_j.get<std::string>();
            const bool counter = field(info, "kind") == "counter";
            std::string name = metric_name(stat);
            const double divisor = time_unit_divisor(name);
            if (counter) name += "_total";
            family(out, name, counter ? "counter" : "gauge",
                   "Data plane stat " + stat + (divisor != 1 ? " in seconds" : "") + " per worker (" +
                       (counter ? "counter" : "gauge") + ").");
            if (!workers.is_array()) continue;
            for (const auto& w : workers) {
                const nlohmann::json& value = field(field(w, "values"), stat.c_str());
                const nlohmann::json& worker = field(w, "worker");
                if (value.is_null() || !worker.is_number_integer()) continue;
                out += name + "{worker=\"" + worker.dump() + "\"} " + scaled_value(value, divisor) + "\n";
            }
        }
    }

    const nlohmann::json& dp_health = field(health, "dataplane");
    const nlohmann::json& dp = dp_health.is_object() ? dp_health : field(stats, "dataplane");
    family(out, "voxa_dataplane_up", "gauge", "1 when the data plane heartbeats and is attached, else 0.");
    out += "voxa_dataplane_up " + sample_value(field(dp, "up")) + "\n";
    family(out, "voxa_dataplane_epoch", "gauge", "Attach count of the data plane (grows on each restart).");
    out += "voxa_dataplane_epoch " + sample_value(field(dp, "epoch")) + "\n";
    family(out, "voxa_control_uptime_seconds", "gauge", "Seconds since voxa-control started.");
    out += "voxa_control_uptime_seconds " + sample_value(field(field(health, "control"), "uptime_s")) + "\n";
    family(out, "voxa_api_requests_total", "counter", "HTTP requests answered by the REST API, by status code.");
    for (const auto& [code, n] : requests_by_code)
        out += "voxa_api_requests_total{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    return out;
}

}  // namespace voxa::api
