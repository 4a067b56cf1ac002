// voxactl's REST verbs: each one GET or POST to voxa-control's api plugin (docs/API.md, "REST"), printed as a small
// table or key/value list, or with --json as the raw body. The route table and field names are the contract of
// issue 4 (api_contract.md); a field this version does not know is ignored, a missing one prints "-".
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "http/http_client.h"

namespace voxa::ctl {
namespace {

using nlohmann::json;

// ---- help ----

struct VerbInfo {
    const char* name;
    const char* help;
};

constexpr VerbInfo kVerbs[] = {
    {"status", "usage: voxactl [globals] status\n"
               "  The node as voxa-control sees it: identity, both processes (pid, epoch, uptime), workers, sessions,\n"
               "  known nodes, circuit policy and counter totals. GET /status (and /status/health).\n"
               "  (`status <message-id-hex>` is the old local verb, now message-status.)\n"},
    {"health", "usage: voxactl [globals] health\n"
               "  Liveness of the control plane and the data plane (up, pid, epoch, heartbeat). GET /status/health.\n"},
    {"ready", "usage: voxactl [globals] ready\n"
              "  Whether the node serves traffic; prints the reasons when not. Exit 0 when ready, 1 when not.\n"
              "  GET /status/ready.\n"},
    {"version", "usage: voxactl [globals] version\n  Program, ABI and plugin versions. GET /info/version.\n"},
    {"settings", "usage: voxactl [globals] settings\n"
                 "  The effective configuration, secrets redacted. GET /info/settings.\n"},
    {"peers", "usage: voxactl [globals] peers\n  Known nodes with their session state. GET /peers.\n"},
    {"circuits", "usage: voxactl [globals] circuits\n  Circuits of this node (at most 1000 listed). GET /circuits.\n"},
    {"paths", "usage: voxactl [globals] paths\n  Origin circuits grouped by destination. GET /paths.\n"},
    {"stats", "usage: voxactl [globals] stats [--watch] [--interval S] [--count N]\n"
              "  Counter totals over all workers from the shared-memory stats blocks. GET /stats.\n"
              "  --watch       refresh in place every --interval seconds (default 1) with rates per second, until\n"
              "                Ctrl-C or --count samples; with --json one JSON line per sample\n"},
    {"metrics", "usage: voxactl [globals] metrics\n  The Prometheus text exposition. GET /metrics.\n"},
    {"reload", "usage: voxactl [globals] reload\n"
               "  Re-reads config/*.json; prints what was applied and what needs a restart. Needs the API token.\n"
               "  POST /control/reload.\n"},
    {"drain", "usage: voxactl [globals] drain [--deadline S]\n"
              "  Drains the data plane (finish what is in flight, accept no new circuits) within S seconds\n"
              "  (1..3600; default settings.json drain-deadline-s). Needs the API token. POST /control/drain.\n"},
    {"log-level", "usage: voxactl [globals] log-level debug|info|warn|error\n"
                  "  Sets the log level of both processes. Needs the API token. POST /control/log_level.\n"},
};

// ---- where the API is ----

std::optional<std::string> slurp(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string trimmed(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

}  // namespace

// ---- shared with registry_verbs.cpp (declared in cli.h) ----

// --api, else <data>/run/api_port with the host of settings.json, else settings.json "server-settings", else
// 127.0.0.1:9999 (the default of server-settings). A wildcard listen address is reached through loopback.
std::optional<Api> locate(const Globals& g, std::string* error) {
    Api api;
    api.timeout_ms = g.timeout_ms;
    api.token_path = g.data_dir / "local" / "api_token";
    if (auto t = slurp(api.token_path)) api.token = trimmed(*t);
    if (g.api) {
        auto url = parse_url(*g.api, error);
        if (!url) return std::nullopt;
        api.url = *url;
        return api;
    }
    std::string host = "127.0.0.1";
    unsigned port = 9999;
    if (auto text = slurp(g.config_dir / "settings.json")) {
        json const j = json::parse(*text, nullptr, false);
        if (j.is_object() && j.contains("server-settings") && j["server-settings"].is_object()) {
            json const& s = j["server-settings"];
            if (s.contains("host") && s["host"].is_string()) host = s["host"].get<std::string>();
            if (s.contains("port") && s["port"].is_number_unsigned()) port = s["port"].get<unsigned>();
        }
    }
    if (auto text = slurp(g.data_dir / "run" / "api_port")) {
        std::string const t = trimmed(*text);
        char* end = nullptr;
        unsigned long const v = std::strtoul(t.c_str(), &end, 10);
        if (!t.empty() && end == t.c_str() + t.size() && v > 0 && v <= 65535) port = unsigned(v);
    }
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (port == 0 || port > 65535) {
        *error = "no API port: " + (g.data_dir / "run" / "api_port").string() + " is missing and " +
                 (g.config_dir / "settings.json").string() + " server-settings.port is 0 (give --api URL)";
        return std::nullopt;
    }
    api.url.host = host;
    api.url.port = uint16_t(port);
    return api;
}

// ---- one call ----

// Performs one request. A transport failure, or a status not in `accepted`, prints the reason (naming the URL
// and the server's error message) and returns nullopt.
std::optional<Reply> call(const Api& api, const std::string& method, const std::string& path,
                          const std::optional<json>& body, std::initializer_list<int> accepted) {
    Request req;
    req.method = method;
    req.path = path;
    req.bearer_token = api.token;
    req.timeout_ms = api.timeout_ms;
    if (body) req.body = body->dump();
    std::string const what = method + " " + api.url.text() + path;
    std::string error;
    auto const resp = perform(api.url, req, &error);
    if (!resp) {
        failure(what + ": " + error + " (is voxa-control running with the api plugin?)");
        return std::nullopt;
    }
    Reply r;
    r.status = resp->status;
    r.text = resp->body;
    r.body = json::parse(resp->body, nullptr, false);
    if (std::find(accepted.begin(), accepted.end(), resp->status) != accepted.end()) return r;
    std::string message = std::to_string(resp->status) + " " + resp->reason;
    if (r.body.is_object() && r.body.contains("error") && r.body["error"].is_object()) {
        json const& e = r.body["error"];
        if (e.contains("code") && e["code"].is_string()) message += ": " + e["code"].get<std::string>();
        if (e.contains("message") && e["message"].is_string()) message += ": " + e["message"].get<std::string>();
    } else if (!resp->body.empty()) {
        message += ": " + resp->body.substr(0, 200);
    }
    if (resp->status == 401)
        message += api.token.empty() ? " (no token: " + api.token_path.string() + " is missing or unreadable)"
                                     : " (token from " + api.token_path.string() + ")";
    failure(what + ": " + message);
    return std::nullopt;
}

// ---- printing ----

std::string text_of(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_number_float()) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.1f", v.get<double>());
        return buf;
    }
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : ",") + text_of(e);
        return out.empty() ? "-" : out;
    }
    return v.dump();
}

const json& field(const json& obj, const char* key) {
    static const json kNull;
    if (!obj.is_object()) return kNull;
    auto const it = obj.find(key);
    return it == obj.end() ? kNull : *it;
}

std::string f(const json& obj, const char* key) { return text_of(field(obj, key)); }

std::string short_id(const std::string& id) { return id.size() > 16 ? id.substr(0, 16) : id; }

static bool numeric(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
}

// Prints rows under a header, columns padded to their widths; numbers right-aligned.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
    for (const auto& row : rows)
        for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
    auto line = [&](const std::vector<std::string>& row, bool is_header) {
        std::string out;
        for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
            std::string const& cell = row[c];
            std::string const pad(width[c] - cell.size(), ' ');
            bool const right = !is_header && c > 0 && numeric(cell);
            out += right ? pad + cell : cell + (c + 1 < row.size() ? pad : "");
            if (c + 1 < row.size()) out += "  ";
        }
        std::printf("%s\n", out.c_str());
    };
    line(header, true);
    for (const auto& row : rows) line(row, false);
}

void print_kv(const std::vector<std::pair<std::string, std::string>>& kv) {
    std::size_t w = 0;
    for (const auto& [k, v] : kv) w = std::max(w, k.size());
    for (const auto& [k, v] : kv) std::printf("%-*s  %s\n", int(w), k.c_str(), v.c_str());
}

int print_json(const Reply& r) {
    if (r.body.is_discarded()) std::printf("%s\n", r.text.c_str());
    else std::printf("%s\n", r.body.dump().c_str());
    return kExitOk;
}

namespace {

std::string process_line(const json& p, bool control) {
    if (!p.is_object()) return "-";
    std::string s;
    if (!control) s = field(p, "up").is_boolean() ? (field(p, "up").get<bool>() ? "up" : "DOWN") : "?";
    else s = "up";
    s += ", pid " + f(p, "pid") + ", epoch " + f(p, "epoch");
    if (control) s += ", uptime " + f(p, "uptime_s") + " s";
    else s += ", heartbeat " + f(p, "heartbeat_age_ms") + " ms ago";
    return s;
}

// ---- verbs ----

int verb_status(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/status", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    json const& s = r->body;
    std::optional<Reply> health = call(api, "GET", "/status/health", std::nullopt);
    json const& pol = field(s, "policy");
    std::vector<std::pair<std::string, std::string>> kv = {
        {"node", f(s, "node_name") + " " + f(s, "node_id")},
        {"version", f(s, "version")},
        {"control", health ? process_line(field(health->body, "control"), true) : "?"},
        {"dataplane", process_line(field(s, "dataplane"), false)},
        {"draining", f(s, "draining")},
        {"listen", f(s, "listen") + " (advertise " + f(s, "advertise") + ")"},
        {"relay", f(s, "relay")},
        {"workers", f(s, "workers")},
        {"sessions", f(s, "sessions")},
        {"known nodes", f(s, "known_nodes") + " (" + f(s, "relays") + " relays)"},
        {"policy", "hops " + f(pol, "hops") + ", n " + f(pol, "n") + ", k " + f(pol, "k") + ", parts/relay " +
                       f(pol, "parts_per_relay_max") + ", rotation " + f(pol, "rotation_s") + " s"},
    };
    std::string totals;
    if (field(s, "totals").is_object())
        for (const auto& [k, v] : field(s, "totals").items())
            if (v.is_number() && v.get<double>() != 0) totals += (totals.empty() ? "" : ", ") + k + " " + text_of(v);
    kv.emplace_back("totals", totals.empty() ? "all zero" : totals);
    print_kv(kv);
    return kExitOk;
}

int verb_health(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/status/health", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    print_kv({{"status", f(r->body, "status")},
              {"control", process_line(field(r->body, "control"), true)},
              {"dataplane", process_line(field(r->body, "dataplane"), false)}});
    return kExitOk;
}

int verb_ready(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/status/ready", std::nullopt, {200, 503});
    if (!r) return kExitFail;
    bool const ready = field(r->body, "ready").is_boolean() && field(r->body, "ready").get<bool>();
    if (g.json) {
        print_json(*r);
    } else if (ready) {
        std::printf("ready\n");
    } else {
        std::printf("not ready: %s\n", f(r->body, "reasons").c_str());
    }
    return ready ? kExitOk : kExitFail;
}

int verb_version(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/info/version", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    json const& v = r->body;
    json const& abi = field(v, "abi");
    json const& build = field(v, "build");
    print_kv({{"name", f(v, "name")},
              {"version", f(v, "version") + " (program " + f(v, "program_version") + ")"},
              {"abi", "shm " + f(abi, "shm") + ", plugin " + f(abi, "plugin_major") + "." + f(abi, "plugin_minor")},
              {"build", f(build, "compiler") + ", " + f(build, "buildtype")}});
    std::vector<std::vector<std::string>> rows;
    if (field(v, "plugins").is_array())
        for (const auto& p : field(v, "plugins")) rows.push_back({f(p, "name"), f(p, "version"), f(p, "description")});
    if (!rows.empty()) {
        std::printf("\n");
        print_table({"PLUGIN", "VERSION", "DESCRIPTION"}, rows);
    }
    return kExitOk;
}

int verb_settings(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/info/settings", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::printf("%s\n", r->body.is_discarded() ? r->text.c_str() : r->body.dump(2).c_str());
    return kExitOk;
}

int verb_peers(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/peers", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::vector<std::vector<std::string>> rows;
    if (field(r->body, "peers").is_array())
        for (const auto& p : field(r->body, "peers"))
            rows.push_back({short_id(f(p, "node_id")), f(p, "host") + ":" + f(p, "port"), f(p, "relay"),
                            f(p, "capacity"), f(p, "session"), f(p, "source")});
    print_table({"NODE", "ADDRESS", "RELAY", "CAPACITY", "SESSION", "SOURCE"}, rows);
    std::printf("%s peers\n", f(r->body, "total").c_str());
    return kExitOk;
}

int verb_circuits(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/circuits", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::vector<std::vector<std::string>> rows;
    if (field(r->body, "circuits").is_array())
        for (const auto& c : field(r->body, "circuits")) {
            std::string path;
            if (field(c, "path").is_array())
                for (const auto& hop : field(c, "path")) path += (path.empty() ? "" : ">") + short_id(text_of(hop)).substr(0, 8);
            rows.push_back({f(c, "id"), f(c, "worker"), short_id(f(c, "destination")), f(c, "hops"),
                            path.empty() ? "-" : path, f(c, "state"), f(c, "age_ms"), f(c, "cells_sent")});
        }
    print_table({"ID", "WORKER", "DESTINATION", "HOPS", "PATH", "STATE", "AGE_MS", "CELLS"}, rows);
    std::printf("%s origin circuits, %s relay circuits\n", f(r->body, "origin_circuits").c_str(),
                f(r->body, "relay_circuits").c_str());
    return kExitOk;
}

int verb_paths(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/paths", std::nullopt);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::vector<std::vector<std::string>> rows;
    if (field(r->body, "paths").is_array())
        for (const auto& p : field(r->body, "paths")) {
            std::string relays;
            if (field(p, "relays").is_array())
                for (const auto& id : field(p, "relays")) relays += (relays.empty() ? "" : ",") + text_of(id).substr(0, 8);
            rows.push_back({short_id(f(p, "destination")), f(p, "circuits"), relays.empty() ? "-" : relays});
        }
    print_table({"DESTINATION", "CIRCUITS", "RELAYS"}, rows);
    return kExitOk;
}

int verb_metrics(const Api& api) {
    auto const r = call(api, "GET", "/metrics", std::nullopt);
    if (!r) return kExitFail;
    std::fputs(r->text.c_str(), stdout);   // Prometheus text, with or without --json
    return kExitOk;
}

int verb_reload(const Globals& g, const Api& api) {
    auto const r = call(api, "POST", "/control/reload", json::object());
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::printf("reloaded\n");
    print_kv({{"applied", f(r->body, "applied")}, {"restart required", f(r->body, "restart_required")}});
    return kExitOk;
}

int verb_drain(const Globals& g, const Api& api, std::optional<unsigned> deadline_s) {
    json body = json::object();
    if (deadline_s) body["deadline_s"] = *deadline_s;
    auto const r = call(api, "POST", "/control/drain", body);
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::printf("draining (deadline %s s)\n", f(r->body, "deadline_s").c_str());
    return kExitOk;
}

int verb_log_level(const Globals& g, const Api& api, const std::string& level) {
    auto const r = call(api, "POST", "/control/log_level", json{{"level", level}});
    if (!r) return kExitFail;
    if (g.json) return print_json(*r);
    std::printf("log level %s\n", f(r->body, "level").c_str());
    return kExitOk;
}

// ---- stats, once or live ----

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Sample {
    std::chrono::steady_clock::time_point at;
    json body;
};

void print_stats(const json& s, const Sample* previous, const Sample& now) {
    json const& dp = field(s, "dataplane");
    std::printf("dataplane %s\n", process_line(dp, false).c_str());
    double const dt = previous ? std::chrono::duration<double>(now.at - previous->at).count() : 0;
    std::map<std::string, std::string> kind;
    std::vector<std::string> order;
    if (field(s, "counters").is_array())
        for (const auto& c : field(s, "counters")) {
            order.push_back(f(c, "name"));
            kind[order.back()] = f(c, "kind");
        }
    json const& totals = field(s, "totals");
    if (order.empty() && totals.is_object())
        for (const auto& [k, v] : totals.items()) order.push_back(k);
    json const& prev_totals = previous ? field(previous->body, "totals") : json();
    std::vector<std::vector<std::string>> rows;
    for (const auto& name : order) {
        json const& v = field(totals, name.c_str());
        std::string rate = "-";
        if (dt > 0 && kind[name] != "gauge" && v.is_number() && field(prev_totals, name.c_str()).is_number()) {
            double const d = v.get<double>() - field(prev_totals, name.c_str()).get<double>();
            char buf[32];
            std::snprintf(buf, sizeof(buf), "%.1f", d / dt);
            rate = buf;
        }
        rows.push_back({name, text_of(v), rate, kind.count(name) ? kind[name] : "-"});
    }
    print_table({"COUNTER", "TOTAL", "PER_S", "KIND"}, rows);
    std::vector<std::vector<std::string>> workers;
    if (field(s, "workers").is_array())
        for (const auto& w : field(s, "workers"))
            workers.push_back({f(w, "worker"), f(w, "epoch"), f(w, "updated_age_ms")});
    if (!workers.empty()) {
        std::printf("\n");
        print_table({"WORKER", "EPOCH", "UPDATED_MS_AGO"}, workers);
    }
}

int verb_stats(const Globals& g, const Api& api, bool watch, double interval_s, std::optional<uint64_t> count) {
    uint64_t const samples = watch ? count.value_or(0) : 1;   // 0 = until Ctrl-C
    if (watch) {
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        ::sigaction(SIGINT, &sa, nullptr);
        ::sigaction(SIGTERM, &sa, nullptr);
    }
    bool const tty = ::isatty(STDOUT_FILENO) == 1;
    std::optional<Sample> previous;
    for (uint64_t i = 0; (samples == 0 || i < samples) && !g_stop; ++i) {
        if (i > 0) {
            // Sleep in short steps so Ctrl-C ends the loop promptly.
            auto const until = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval_s);
            while (!g_stop && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (g_stop) break;
        }
        auto const r = call(api, "GET", "/stats", std::nullopt);
        if (!r) return kExitFail;
        Sample const now{std::chrono::steady_clock::now(), r->body};
        if (g.json) {
            print_json(*r);
        } else {
            if (watch && tty) std::printf("\033[H\033[J");   // refresh in place
            else if (i > 0) std::printf("\n");
            print_stats(r->body, previous ? &*previous : nullptr, now);
        }
        std::fflush(stdout);
        previous = now;
    }
    return kExitOk;
}

std::optional<double> parse_number(const std::string& s) {
    char* end = nullptr;
    double const v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

}  // namespace

bool is_rest_verb(const std::string& verb) { return rest_verb_help(verb) != nullptr; }

const char* rest_verb_help(const std::string& verb) {
    for (const auto& v : kVerbs)
        if (verb == v.name) return v.help;
    return nullptr;
}

int run_rest_verb(const Globals& g, const std::string& verb, std::vector<std::string> args) {
    const char* const help = rest_verb_help(verb);
    if (help == nullptr) return usage_error("unknown verb " + verb, nullptr);
    if (wants_help(args)) {
        std::fputs(help, stdout);
        return kExitOk;
    }
    Globals local = g;
    // --json is accepted after the verb too.
    args.erase(std::remove_if(args.begin(), args.end(), [&](const std::string& a) {
                   if (a != "--json") return false;
                   local.json = true;
                   return true;
               }),
               args.end());

    // Arguments first: a usage error must not depend on whether a server runs.
    bool watch = false;
    double interval_s = 1;
    std::optional<uint64_t> count;
    std::optional<unsigned> deadline_s;
    std::string level;
    if (verb == "stats") {
        for (std::size_t i = 0; i < args.size(); ++i) {
            bool const has_value = i + 1 < args.size();
            if (args[i] == "--watch") {
                watch = true;
            } else if (args[i] == "--interval" && has_value) {
                auto const v = parse_number(args[++i]);
                if (!v || *v < 0.05 || *v > 3600) return usage_error("--interval wants seconds, 0.05..3600", help);
                interval_s = *v;
            } else if (args[i] == "--count" && has_value) {
                auto const v = parse_number(args[++i]);
                if (!v || *v < 1 || *v != std::floor(*v) || *v > 1e9) return usage_error("--count wants a number >= 1", help);
                count = uint64_t(*v);
            } else {
                return usage_error("unknown or incomplete option " + args[i], help);
            }
        }
        if (count && !watch) watch = true;   // --count implies --watch
    } else if (verb == "drain") {
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == "--deadline" && i + 1 < args.size()) {
                auto const v = parse_number(args[++i]);
                if (!v || *v < 1 || *v > 3600 || *v != std::floor(*v))
                    return usage_error("--deadline wants whole seconds, 1..3600", help);
                deadline_s = unsigned(*v);
            } else {
                return usage_error("unknown or incomplete option " + args[i], help);
            }
        }
    } else if (verb == "log-level") {
        if (args.size() != 1) return usage_error("log-level wants one level", help);
        level = args[0];
        if (level != "debug" && level != "info" && level != "warn" && level != "error")
            return usage_error("bad level " + level + " (want debug, info, warn or error)", help);
    } else if (!args.empty()) {
        return usage_error(verb + " takes no arguments (got " + args[0] + ")", help);
    }

    std::string error;
    auto const api = locate(local, &error);
    if (!api) return usage_error(error, help);

    if (verb == "status") return verb_status(local, *api);
    if (verb == "health") return verb_health(local, *api);
    if (verb == "ready") return verb_ready(local, *api);
    if (verb == "version") return verb_version(local, *api);
    if (verb == "settings") return verb_settings(local, *api);
    if (verb == "peers") return verb_peers(local, *api);
    if (verb == "circuits") return verb_circuits(local, *api);
    if (verb == "paths") return verb_paths(local, *api);
    if (verb == "metrics") return verb_metrics(*api);
    if (verb == "reload") return verb_reload(local, *api);
    if (verb == "drain") return verb_drain(local, *api, deadline_s);
    if (verb == "log-level") return verb_log_level(local, *api, level);
    return verb_stats(local, *api, watch, interval_s, count);
}

}  // namespace voxa::ctl
