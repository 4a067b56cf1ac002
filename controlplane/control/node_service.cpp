#include "node_service.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/log.h"
#include "dataplane_link.h"
#include "local/client.h"
#include "plugin_host.h"
#include "shm/stats.h"
#include "store.h"
#include "voxa/plugin_abi.h"

#ifndef VOXA_VERSION
#define VOXA_VERSION "0.1.0"
#endif
#ifndef VOXA_BUILDTYPE
#define VOXA_BUILDTYPE "unknown"
#endif

namespace voxa::cp {

using nlohmann::json;

namespace {

double seconds_since(uint64_t then_ns, uint64_t now_ns) {
    return now_ns > then_ns ? double(now_ns - then_ns) / 1e9 : 0.0;
}

// Reads a whole small file (/proc); "" when it cannot.
std::string read_small(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// utime + stime of a process from /proc/<pid>/stat, in ns; 0 when unknown.
uint64_t process_cpu_ns(const std::string& pid) {
    std::string const stat = read_small("/proc/" + pid + "/stat");
    std::size_t const close = stat.rfind(')');   // the command name may hold spaces and parentheses
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    long const hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (utime + stime) * (1'000'000'000ull / uint64_t(hz)) : 0;
}

uint64_t process_rss_bytes(const std::string& pid) {
    std::istringstream in(read_small("/proc/" + pid + "/statm"));
    uint64_t size = 0, resident = 0;
    if (!(in >> size >> resident)) return 0;
    return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

uint64_t meminfo_bytes(const std::string& meminfo, const std::string& key) {
    std::size_t const at = meminfo.find(key + ":");
    if (at == std::string::npos) return 0;
    return std::strtoull(meminfo.c_str() + at + key.size() + 1, nullptr, 10) * 1024;
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Fails unless `in` is an object with only the allowed keys.
bool only_fields(const json& in, std::initializer_list<const char*> allowed, json* out) {
    for (const auto& item : in.items()) {
        if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return item.key() == a; })) {
            *out = json::parse(error_json("bad_field", "\"" + item.key() + "\": unknown field"));
            return false;
        }
    }
    return true;
}

// "10.0.0.1:9000" or "[::1]:9000" -> host, port.
void split_endpoint(const std::string& text, std::string* host, int* port) {
    std::size_t const colon = text.rfind(':');
    if (colon == std::string::npos) {
        *host = text;
        *port = 0;
        return;
    }
    std::string h = text.substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    *host = h;
    *port = std::atoi(text.c_str() + colon + 1);
}

// The node ids of the data plane's sessions, from whatever shape its "sessions" key has (ids, or objects with
// "peer", "node_id" or "id").
std::set<std::string> session_ids(const json& dp) {
    std::set<std::string> out;
    auto it = dp.find("sessions");
    if (it == dp.end()) return out;
    const json* list = &*it;
    if (list->is_object()) {
        for (const char* k : {"list", "sessions", "peers"})
            if (auto l = list->find(k); l != list->end() && l->is_array()) list = &*l;
    }
    if (!list->is_array()) return out;
    for (const json& s : *list) {
        if (s.is_string()) out.insert(s.get<std::string>());
        if (!s.is_object()) continue;
        for (const char* k : {"peer", "node_id", "id"})
            if (auto v = s.find(k); v != s.end() && v->is_string()) {
                out.insert(v->get<std::string>());
                break;
            }
    }
    return out;
}

const json* directory_entries(const json& dp) {
    auto d = dp.find("directory");
    if (d == dp.end() || !d->is_object()) return nullptr;
    auto e = d->find("entries");
    if (e == d->end()) return nullptr;
    if (e->is_array()) return &*e;
    if (e->is_object()) {
        auto inner = e->find("entries");
        if (inner != e->end() && inner->is_array()) return &*inner;
    }
    return nullptr;
}

uint64_t u64_at(const json& j, std::initializer_list<const char*> path) {
    const json* at = &j;
    for (const char* k : path) {
        if (!at->is_object()) return 0;
        auto it = at->find(k);
        if (it == at->end()) return 0;
        at = &*it;
    }
    return at->is_number_unsigned() ? at->get<uint64_t>() : (at->is_number_integer() ? uint64_t(std::max<int64_t>(0, at->get<int64_t>())) : 0);
}

}  // namespace

std::string error_json(std::string_view code, std::string_view message) {
    return json{{"error", {{"code", code}, {"message", message}}}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

json redact_secrets(const json& v) {
    if (v.is_object()) {
        json out = json::object();
        for (const auto& item : v.items()) {
            std::string const k = lower(item.key());
            bool const secret = k.find("token") != std::string::npos || k.find("password") != std::string::npos ||
                                k.find("secret") != std::string::npos || k.find("private") != std::string::npos;
            // A boolean flag such as "api-token-required-for-reads" names a token but holds none.
            out[item.key()] = secret && !item.value().is_boolean() ? json("<redacted>") : redact_secrets(item.value());
        }
        return out;
    }
    if (v.is_array()) {
        json out = json::array();
        for (const json& e : v) out.push_back(redact_secrets(e));
        return out;
    }
    return v;
}

std::string plugin_config_json(const config::Config& c, std::string_view name) {
    json plugin = json::object();
    auto it = c.settings.plugin_settings.find(std::string(name));
    if (it != c.settings.plugin_settings.end()) plugin = json::parse(it->second, nullptr, false);
    if (plugin.is_discarded()) plugin = json::object();
    return json{{"name", name},
                {"config_dir", c.config_dir.string()},
                {"data_dir", c.data_dir.string()},
                {"settings", config::to_json(c.settings)},
                {"plugin", plugin}}
        .dump();
}

NodeService::NodeService(NodeContext context, config::Config config)
    : context_(std::move(context)), config_(std::move(config)) {}

config::Config NodeService::config() const {
    std::lock_guard lock(config_mutex_);
    return config_;
}

int NodeService::handle(std::string_view method, std::string_view json_in, std::string* json_out) {
    json in = json_in.empty() ? json::object() : json::parse(json_in, nullptr, false);
    if (in.is_discarded() || !in.is_object()) {
        *json_out = error_json("bad_json", "node." + std::string(method) + ": the input must be a JSON object");
        return -EINVAL;
    }
    json out;
    int rc = 0;
    try {
        auto no_input = [&](int (NodeService::*fn)(json*)) {
            if (!only_fields(in, {}, &out)) return -EINVAL;
            return (this->*fn)(&out);
        };
        static const std::map<std::string_view, int (NodeService::*)(json*)> kPlain = {
            {"health", &NodeService::health},       {"ready", &NodeService::ready},
            {"status", &NodeService::status},       {"version", &NodeService::version},
            {"settings", &NodeService::settings},   {"system", &NodeService::system},
            {"stats", &NodeService::stats},         {"peers", &NodeService::peers},
            {"circuits", &NodeService::circuits},   {"paths", &NodeService::paths},
            {"overview", &NodeService::overview},   {"local_nri", &NodeService::local_nri},
            {"local_rri", &NodeService::local_rri}, {"reload", &NodeService::reload},
        };
        if (auto it = kPlain.find(method); it != kPlain.end()) {
            rc = no_input(it->second);
        } else if (method == "drain") {
            rc = drain(in, &out);
        } else if (method == "log_level") {
            rc = log_level(in, &out);
        } else {
            out = json::parse(error_json("not_found", "the node service has no method \"" + std::string(method) + "\""));
            rc = -ENOENT;
        }
    } catch (const std::exception& e) {
        out = json::parse(error_json("unavailable", std::string("node.") + std::string(method) + ": " + e.what()));
        rc = -EIO;
    }
    *json_out = out.dump(-1, ' ', false, json::error_handler_t::replace);
    return rc;
}

// ---- pieces ----

json NodeService::dataplane_json(uint64_t now_ns) const {
    json d = {{"up", false}, {"pid", 0}, {"epoch", 0}, {"heartbeat_age_ms", nullptr}};
    if (context_.link == nullptr) return d;
    shm::SideStatus const s = context_.link->status(shm::Side::kData);
    d["up"] = context_.link->dataplane_up(now_ns);
    d["pid"] = s.pid;
    d["epoch"] = s.epoch;
    if (s.heartbeat_ns != 0) d["heartbeat_age_ms"] = now_ns > s.heartbeat_ns ? (now_ns - s.heartbeat_ns) / 1'000'000 : 0;
    return d;
}

std::optional<json> NodeService::dataplane_stats(std::string* error) const {
    std::string why;
    auto client = local::Client::connect(context_.socket_path, &why);
    if (!client) {
        *error = "the data plane is not reachable at " + context_.socket_path.string() + ": " + why;
        return std::nullopt;
    }
    client->set_reply_timeout_ms(kDataplaneSocketTimeoutMs);
    std::optional<std::string> text = client->stats_json(&why);
    if (!text) {
        *error = "the data plane did not answer STATS on " + context_.socket_path.string() + ": " + why;
        return std::nullopt;
    }
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object()) {
        *error = "the data plane's STATS reply is not a JSON object";
        return std::nullopt;
    }
    return j;
}

std::optional<json> NodeService::required_dataplane_stats(json* out) const {
    std::string why;
    std::optional<json> dp = dataplane_stats(&why);
    if (!dp) *out = json::parse(error_json("unavailable", why));
    return dp;
}

json NodeService::stats_from_segment(uint64_t now_ns) const {
    json workers = json::array();
    std::vector<uint64_t> totals(std::size(shm::kStatInfo), 0);
    if (context_.link != nullptr) {
        const shm::Segment& seg = context_.link->segment();
        for (uint32_t w = 0; w < seg.config().workers; ++w) {
            shm::StatsSnapshot snap;
            shm::StatsRead const r = shm::read_stats(*seg.stats_block(w), &snap, 100);
            json entry = {{"worker", w}};
            if (r != shm::StatsRead::kOk) {
                entry["state"] = r == shm::StatsRead::kWriterGone ? "writer_gone" : "busy";
                workers.push_back(entry);
                continue;
            }
            entry["epoch"] = snap.epoch;
            entry["updated_age_ms"] =
                snap.updated_ns == 0 ? json(nullptr) : json(now_ns > snap.updated_ns ? (now_ns - snap.updated_ns) / 1'000'000 : 0);
            json values = json::object();
            for (std::size_t i = 0; i < totals.size(); ++i) {
                values[shm::kStatInfo[i].name] = snap.counters[i];
                totals[i] += snap.counters[i];
            }
            entry["values"] = values;
            workers.push_back(entry);
        }
    }
    json counters = json::array(), sum = json::object();
    for (std::size_t i = 0; i < totals.size(); ++i) {
        counters.push_back({{"name", shm::kStatInfo[i].name},
                            {"kind", shm::kStatInfo[i].kind == shm::StatKind::kCounter ? "counter" : "gauge"}});
        sum[shm::kStatInfo[i].name] = totals[i];
    }
    return {{"counters", counters}, {"workers", workers}, {"totals", sum}};
}

json NodeService::policy_json(const config::Config& c) const {
    return {{"hops", c.p2p.hops},
            {"n", c.p2p.n},
            {"k", c.p2p.k},
            {"parts_per_relay_max", c.p2p.parts_per_relay_max},
            {"rotation_s", c.p2p.circuit_lifetime_s}};
}

json NodeService::peers_list(const json& dp, const config::Config& c) const {
    json out = json::array();
    const json* entries = directory_entries(dp);
    if (entries == nullptr) return out;
    std::set<std::string> const sessions = session_ids(dp);
    for (const json& e : *entries) {
        if (!e.is_object()) continue;
        std::string const id = e.value("id", e.value("node_id", std::string()));
        std::string host;
        int port = 0;
        split_endpoint(e.value("endpoint", std::string()), &host, &port);
        if (e.contains("host") && e["host"].is_string()) host = e["host"].get<std::string>();
        if (e.contains("port") && e["port"].is_number_integer()) port = e["port"].get<int>();
        std::string public_key = e.value("public_key", std::string());
        bool bootstrap = e.value("bootstrap", false);
        for (const config::BootstrapNode& b : c.p2p.bootstrap_nodes) {
            if (to_hex(b.id) != id) continue;
            bootstrap = true;
            if (public_key.empty()) public_key = to_hex(b.ed25519);
        }
        if (id == context_.node_id_hex && public_key.empty()) public_key = context_.public_key_hex;
        out.push_back({{"node_id", id},
                       {"public_key", public_key},
                       {"host", host},
                       {"port", port},
                       {"relay", e.value("relay", false)},
                       {"capacity", e.value("capacity", 0)},
                       {"session", sessions.count(id) != 0 ? "up" : "none"},
                       {"source", id == context_.node_id_hex ? "self" : (bootstrap ? "bootstrap" : "gossip")}});
    }
    return out;
}

json NodeService::circuits_list(const json& dp) const {
    json out = json::array();
    auto it = dp.find("circuits");
    if (it == dp.end()) return out;
    const json* list = &*it;
    if (list->is_object()) {
        for (const char* k : {"list", "circuits", "origin"})
            if (auto l = list->find(k); l != list->end() && l->is_array()) {
                list = &*l;
                break;
            }
    }
    if (!list->is_array()) return out;
    for (const json& c : *list) {
        if (!c.is_object()) continue;
        if (out.size() >= std::size_t(kCircuitsListedMax)) break;
        json e = c;
        // The contract's fields, whatever the data plane left out.
        for (const char* k : {"id", "worker", "hops", "age_ms", "cells_sent"})
            if (!e.contains(k)) e[k] = 0;
        if (!e.contains("destination")) e["destination"] = "";
        if (!e.contains("path")) e["path"] = json::array();
        if (!e.contains("state")) e["state"] = "unknown";
        out.push_back(std::move(e));
    }
    return out;
}

// ---- methods ----

int NodeService::health(json* out) {
    uint64_t const now = shm::monotonic_ns();
    *out = {{"status", "ok"},
            {"control",
             {{"pid", getpid()},
              {"epoch", context_.link != nullptr ? context_.link->segment().epoch() : 0},
              {"uptime_s", seconds_since(context_.started_ns, now)}}},
            {"dataplane", dataplane_json(now)}};
    return 0;
}

int NodeService::ready(json* out) {
    uint64_t const now = shm::monotonic_ns();
    json reasons = json::array();
    if (context_.link == nullptr) reasons.push_back("the control plane is not attached to the shm segment");
    else if (!context_.link->dataplane_up(now))
        reasons.push_back("the data plane is down (no heartbeat within 2 s)");
    if (!plugins_started_.load()) reasons.push_back("the plugins are not started");
    if (draining_.load()) reasons.push_back("the node is draining");
    *out = {{"ready", reasons.empty()}, {"reasons", reasons}};
    return 0;
}

int NodeService::status(json* out) {
    uint64_t const now = shm::monotonic_ns();
    config::Config const c = config();
    json const seg = stats_from_segment(now);
    const json& totals = seg["totals"];
    std::string why;
    std::optional<json> const dp = dataplane_stats(&why);
    uint64_t known = 0;
    for (const json& w : seg["workers"])
        if (w.contains("values")) known = std::max<uint64_t>(known, w["values"]["known_nodes"].get<uint64_t>());
    uint64_t relays = 0;
    if (dp) {
        if (u64_at(*dp, {"directory", "known"}) != 0) known = u64_at(*dp, {"directory", "known"});
        relays = u64_at(*dp, {"directory", "relays"});
    }
    std::string advertise = c.p2p.advertise.family == Endpoint::Family::kNone ? "" : c.p2p.advertise.to_string();
    if (dp && dp->contains("advertise") && (*dp)["advertise"].is_string()) advertise = (*dp)["advertise"];
    std::string listen = c.p2p.listen.to_string();
    if (dp && dp->contains("listen") && (*dp)["listen"].is_string()) listen = (*dp)["listen"];
    json policy = policy_json(c);
    if (dp && dp->contains("policy") && (*dp)["policy"].is_object()) policy.update((*dp)["policy"]);
    uint64_t sessions = totals["sessions_up"].get<uint64_t>();
    if (dp && dp->contains("sessions")) sessions = std::max<uint64_t>(sessions, session_ids(*dp).size());
    *out = {{"node_id", context_.node_id_hex},
            {"node_name", c.settings.node_name},
            {"version", VOXA_VERSION},
            {"uptime_s", seconds_since(context_.started_ns, now)},
            {"draining", draining_.load() || (dp && dp->value("draining", false))},
            {"dataplane", dataplane_json(now)},
            {"workers", c.dataplane.cores.size()},
            {"sessions", sessions},
            {"known_nodes", known},
            {"relays", relays},
            {"relay", c.p2p.relay},
            {"listen", listen},
            {"advertise", advertise},
            {"policy", policy},
            {"totals", totals}};
    return 0;
}

int NodeService::version(json* out) {
    json plugins = json::array();
    for (const PluginInfo& p : context_.host->plugins())
        plugins.push_back({{"name", p.name}, {"version", p.version}, {"description", p.description}});
    *out = {{"name", kProgramName},
            {"version", VOXA_VERSION},
            {"program_version", VOXA_VERSION},
            {"abi", {{"shm", shm::kAbiVersion}, {"plugin_major", VOXA_PLUGIN_ABI_MAJOR}, {"plugin_minor", VOXA_PLUGIN_ABI_MINOR}}},
            {"build", {{"compiler", std::string("gcc ") + __VERSION__}, {"buildtype", VOXA_BUILDTYPE}}},
            {"plugins", plugins}};
    return 0;
}

int NodeService::settings(json* out) {
    json const all = config::to_json(config());
    *out = redact_secrets(all);
    return 0;
}

void NodeService::tick(uint64_t now_ns) {
    std::lock_guard lock(sample_mutex_);
    if (last_sample_.at_ns != 0 && now_ns - last_sample_.at_ns < 900'000'000) return;
    CpuSample s;
    s.at_ns = now_ns;
    s.control_cpu_ns = process_cpu_ns("self");
    if (context_.link != nullptr) {
        shm::SideStatus const d = context_.link->status(shm::Side::kData);
        s.dataplane_pid = d.pid;
        if (d.pid != 0) s.dataplane_cpu_ns = process_cpu_ns(std::to_string(d.pid));
    }
    json const seg = stats_from_segment(now_ns);
    json workers = json::array();
    double const wall = last_sample_.at_ns != 0 ? double(now_ns - last_sample_.at_ns) : 0.0;
    for (const json& w : seg["workers"]) {
        uint64_t cpu = 0, loops = 0, busy = 0, rx = 0, tx = 0;
        if (w.contains("values")) {
            cpu = w["values"]["cpu_ns"];
            loops = w["values"]["reactor_loops"];
            busy = w["values"]["reactor_busy_loops"];
            rx = w["values"]["rx_packets"];
            tx = w["values"]["tx_packets"];
        }
        std::size_t const i = s.worker_cpu_ns.size();
        s.worker_cpu_ns.push_back(cpu);
        s.worker_loops.push_back(loops);
        s.worker_busy.push_back(busy);
        double cpu_percent = 0, busy_percent = 0;
        if (wall > 0 && i < last_sample_.worker_cpu_ns.size()) {
            if (cpu >= last_sample_.worker_cpu_ns[i]) cpu_percent = double(cpu - last_sample_.worker_cpu_ns[i]) / wall * 100;
            uint64_t const dl = loops >= last_sample_.worker_loops[i] ? loops - last_sample_.worker_loops[i] : 0;
            uint64_t const db = busy >= last_sample_.worker_busy[i] ? busy - last_sample_.worker_busy[i] : 0;
            if (dl > 0) busy_percent = double(db) / double(dl) * 100;
        }
        workers.push_back({{"worker", w["worker"]},
                           {"cpu_percent", cpu_percent},
                           {"busy_percent", busy_percent},
                           {"rx_packets", rx},
                           {"tx_packets", tx}});
    }
    double control_percent = 0, dataplane_percent = 0;
    if (wall > 0) {
        if (s.control_cpu_ns >= last_sample_.control_cpu_ns)
            control_percent = double(s.control_cpu_ns - last_sample_.control_cpu_ns) / wall * 100;
        if (s.dataplane_pid != 0 && s.dataplane_pid == last_sample_.dataplane_pid &&
            s.dataplane_cpu_ns >= last_sample_.dataplane_cpu_ns)
            dataplane_percent = double(s.dataplane_cpu_ns - last_sample_.dataplane_cpu_ns) / wall * 100;
    }
    cpu_now_ = {{"control_cpu_percent", control_percent}, {"dataplane_cpu_percent", dataplane_percent}};
    workers_now_ = workers;
    last_sample_ = std::move(s);
}

int NodeService::system(json* out) {
    uint64_t const now = shm::monotonic_ns();
    tick(now);
    double uptime = 0;
    std::istringstream(read_small("/proc/uptime")) >> uptime;
    double load[3] = {0, 0, 0};
    std::istringstream(read_small("/proc/loadavg")) >> load[0] >> load[1] >> load[2];
    std::string const meminfo = read_small("/proc/meminfo");
    uint32_t dp_pid = 0;
    if (context_.link != nullptr) dp_pid = context_.link->status(shm::Side::kData).pid;
    json cpu = {{"cores", sysconf(_SC_NPROCESSORS_ONLN)}, {"load1", load[0]}, {"load5", load[1]}, {"load15", load[2]}};
    json workers;
    {
        std::lock_guard lock(sample_mutex_);
        cpu.update(cpu_now_);
        workers = workers_now_;
    }
    *out = {{"uptime_s", uptime},
            {"cpu", cpu},
            {"memory",
             {{"total_bytes", meminfo_bytes(meminfo, "MemTotal")},
              {"available_bytes", meminfo_bytes(meminfo, "MemAvailable")},
              {"control_rss_bytes", process_rss_bytes("self")},
              {"dataplane_rss_bytes", dp_pid != 0 ? process_rss_bytes(std::to_string(dp_pid)) : 0}}},
            {"workers", workers}};
    return 0;
}

int NodeService::stats(json* out) {
    uint64_t const now = shm::monotonic_ns();
    json seg = stats_from_segment(now);
    *out = {{"dataplane", dataplane_json(now)},
            {"counters", std::move(seg["counters"])},
            {"workers", std::move(seg["workers"])},
            {"totals", std::move(seg["totals"])}};
    return 0;
}

int NodeService::peers(json* out) {
    std::optional<json> const dp = required_dataplane_stats(out);
    if (!dp) return -EAGAIN;
    json list = peers_list(*dp, config());
    std::size_t const n = list.size();
    *out = {{"peers", std::move(list)}, {"total", n}};
    return 0;
}

int NodeService::circuits(json* out) {
    std::optional<json> const dp = required_dataplane_stats(out);
    if (!dp) return -EAGAIN;
    json const totals = stats_from_segment(shm::monotonic_ns())["totals"];
    uint64_t origin = u64_at(*dp, {"node", "origin_circuits"}), relay = u64_at(*dp, {"node", "relay_circuits"});
    if (origin == 0) origin = totals["origin_circuits"].get<uint64_t>();
    if (relay == 0) relay = totals["relay_circuits"].get<uint64_t>();
    *out = {{"circuits", circuits_list(*dp)}, {"origin_circuits", origin}, {"relay_circuits", relay}};
    return 0;
}

int NodeService::paths(json* out) {
    std::optional<json> const dp = required_dataplane_stats(out);
    if (!dp) return -EAGAIN;
    std::map<std::string, std::pair<uint64_t, std::vector<std::string>>> by_destination;
    for (const json& c : circuits_list(*dp)) {
        if (!c["destination"].is_string() || c["destination"].get<std::string>().empty()) continue;
        auto& [count, relays] = by_destination[c["destination"].get<std::string>()];
        ++count;
        if (!c["path"].is_array()) continue;
        for (const json& r : c["path"])
            if (r.is_string() && std::find(relays.begin(), relays.end(), r.get<std::string>()) == relays.end())
                relays.push_back(r.get<std::string>());
    }
    json paths = json::array();
    for (const auto& [destination, v] : by_destination)
        paths.push_back({{"destination", destination}, {"circuits", v.first}, {"relays", v.second}});
    *out = {{"paths", paths}};
    return 0;
}

int NodeService::overview(json* out) {
    std::optional<json> const dp = required_dataplane_stats(out);
    if (!dp) return -EAGAIN;
    json nodes = peers_list(*dp, config());
    uint64_t relays = 0, sessions = 0;
    for (const json& n : nodes) {
        relays += n["relay"].get<bool>() ? 1 : 0;
        sessions += n["session"] == "up" ? 1 : 0;
    }
    *out = {{"success", true},
            {"node_id", context_.node_id_hex},
            {"known_nodes", nodes.size()},
            {"relays", relays},
            {"sessions", sessions},
            {"nodes", std::move(nodes)}};
    return 0;
}

int NodeService::local_nri(json* out) {
    config::Config const c = config();
    std::string host = c.p2p.advertise_host.empty() ? c.p2p.host : c.p2p.advertise_host;
    json capabilities = json::array({"voxa/1"});
    if (c.p2p.relay) capabilities.push_back("relay");
    if (c.settings.enable_dns) capabilities.push_back("dns");
    if (c.settings.enable_app_deployment) capabilities.push_back("app_deployment");
    if (c.settings.enable_kytan_vpn) capabilities.push_back("kytan_vpn");
    if (c.settings.enable_upnpc_port_forwarding) capabilities.push_back("upnpc_port_forwarding");
    *out = {{"success", true},
            {"nri",
             {{"node_id", context_.node_id_hex},
              {"node_ip", host},
              {"node_port", c.p2p.port},
              {"node_type", c.settings.node_network_level},
              {"capabilities", capabilities},
              {"metadata", {{"node_name", c.settings.node_name}, {"relay", c.p2p.relay}, {"capacity", c.p2p.capacity}}},
              {"public_key", context_.public_key_hex},
              {"public_key_hash", context_.node_id_hex},
              {"program_version", VOXA_VERSION}}}};
    return 0;
}

int NodeService::local_rri(json* out) {
    config::Config const c = config();
    if (!c.p2p.relay) {
        *out = json::parse(error_json("not_found", "this node is not a relay (p2p.json \"relay\" is false)"));
        return -ENOENT;
    }
    std::string host = c.p2p.advertise_host.empty() ? c.p2p.host : c.p2p.advertise_host;
    *out = {{"success", true},
            {"rri",
             {{"relay_id", context_.node_id_hex},
              {"relay_ip", host},
              {"relay_port", c.p2p.port},
              {"relay_type", "standard"},
              {"supported_protocols", {"voxa/1"}},
              {"routing_info", {{"capacity", c.p2p.capacity}, {"hops_max", shm::kPolicyHopsMax}}},
              {"metadata", json::object()},
              {"public_key", context_.public_key_hex},
              {"public_key_hash", context_.node_id_hex},
              {"program_version", VOXA_VERSION}}}};
    return 0;
}

int NodeService::reload(json* out) {
    std::lock_guard one(reload_mutex_);
    config::Config const old = config();
    std::string error;
    config::EnvLookup const env = context_.env ? context_.env : config::process_environment();
    std::optional<config::Config> next = config::load(old.config_dir, old.data_dir, env, &error);
    if (!next) {
        voxa::log(LogLevel::kError, "reload refused: the configuration is invalid; the old one stays", {{"error", error}});
        *out = json::parse(error_json("bad_field", error));
        return -EINVAL;
    }
    // Which top-level keys changed, and which of them take effect without a restart.
    static const std::set<std::string> kLive = {"settings.log-level", "settings.plugin-settings", "p2p.hops", "p2p.n",
                                                "p2p.k", "p2p.circuit_lifetime_s"};
    json const a = config::to_json(old), b = config::to_json(*next);
    json applied = json::array(), restart = json::array();
    for (const char* file : {"settings", "p2p", "dataplane"}) {
        std::set<std::string> keys;
        for (const auto& item : a[file].items()) keys.insert(item.key());
        for (const auto& item : b[file].items()) keys.insert(item.key());
        for (const std::string& k : keys) {
            if (a[file].value(k, json()) == b[file].value(k, json())) continue;
            std::string const name = std::string(file) + "." + k;
            (kLive.count(name) != 0 ? applied : restart).push_back(name);
        }
    }
    {
        std::lock_guard lock(config_mutex_);
        config_ = *next;
    }
    bool const policy_changed = old.p2p.hops != next->p2p.hops || old.p2p.n != next->p2p.n ||
                                old.p2p.k != next->p2p.k || old.p2p.circuit_lifetime_s != next->p2p.circuit_lifetime_s;
    bool policy_sent = false;
    if (policy_changed && context_.link != nullptr) {
        policy_sent = context_.link->command(shm::CircuitPolicy{next->p2p.hops, next->p2p.n, next->p2p.k,
                                                                 next->p2p.circuit_lifetime_s}) == 0;
    }
    std::string plugin_errors;
    config::Config const& fresh = *next;
    int const rc = context_.host->run_on_main([&] {
        plugin_errors = context_.host->reload_all([&](std::string_view name) { return plugin_config_json(fresh, name); });
    });
    if (rc != 0) plugin_errors = "the plugins were not reloaded: the host is stopping";
    *out = {{"success", true}, {"applied", applied}, {"restart_required", restart}};
    if (policy_changed) (*out)["policy_sent"] = policy_sent;
    if (!plugin_errors.empty()) (*out)["plugin_errors"] = plugin_errors;
    // Logged before the new level applies, so a reload that raises the level still leaves its line.
    voxa::log(LogLevel::kInfo, "configuration reloaded", *out);
    LogLevel level{};
    if (parse_log_level(next->settings.log_level, &level)) {
        set_log_level(level);
        if (context_.link != nullptr) context_.link->command(shm::SetLogLevel{uint8_t(level)});
    }
    if (context_.store != nullptr) context_.store->record_action("reload", *out);
    context_.host->publish("control.reload", out->dump());
    return 0;
}

int NodeService::drain(const json& in, json* out) {
    if (!only_fields(in, {"deadline_s"}, out)) return -EINVAL;
    uint64_t deadline_s = config().settings.drain_deadline_s;
    if (auto it = in.find("deadline_s"); it != in.end()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3600) {
            *out = json::parse(error_json("bad_field", "\"deadline_s\": expected an integer 1..3600, got " + it->dump()));
            return -EINVAL;
        }
        deadline_s = it->get<uint64_t>();
    }
    if (context_.link == nullptr || context_.link->command(shm::Drain{uint32_t(deadline_s * 1000)}) != 0) {
        *out = json::parse(error_json("unavailable", "the data plane is down or its command ring is full"));
        return -EAGAIN;
    }
    draining_.store(true);
    *out = {{"success", true}, {"draining", true}, {"deadline_s", deadline_s}};
    voxa::log(LogLevel::kWarn, "drain requested", {{"deadline_s", deadline_s}});
    if (context_.store != nullptr) context_.store->record_action("drain", {{"deadline_s", deadline_s}});
    return 0;
}

int NodeService::log_level(const json& in, json* out) {
    if (!only_fields(in, {"level"}, out)) return -EINVAL;
    auto it = in.find("level");
    LogLevel level{};
    if (it == in.end() || !it->is_string() || !parse_log_level(it->get<std::string>(), &level)) {
        *out = json::parse(error_json(
            "bad_field", "\"level\": expected one of \"debug\", \"info\", \"warn\", \"error\", got " +
                             (it == in.end() ? std::string("nothing") : it->dump())));
        return -EINVAL;
    }
    set_log_level(level);
    bool const dataplane = context_.link != nullptr && context_.link->command(shm::SetLogLevel{uint8_t(level)}) == 0;
    *out = {{"success", true}, {"level", it->get<std::string>()}, {"dataplane", dataplane}};
    voxa::log(LogLevel::kInfo, "log level set", {{"level", it->get<std::string>()}, {"dataplane", dataplane}});
    return 0;
}

}  // namespace voxa::cp
