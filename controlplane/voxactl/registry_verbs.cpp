// voxactl's registry verbs: `registry ...` (records, sessions, accounts, tokens) and `names ...` (the name
// records), each one or two calls of the registry plugin's REST routes (docs/API.md, "Registry routes"),
// printed as tables or key/value lines, or with --json as the raw body.
//
// Credentials: the node's API token (<data>/local/api_token) as for every REST verb, or, when
// VOXA_REGISTRY_TOKEN is set, that registry token (vxr_..., from `registry login`) for the registry's admin
// routes. Passwords come from VOXA_PASSWORD or stdin (prompted without echo on a terminal), never from argv:
// a command line is visible to every user in /proc. `names claim` signs with this node's key and always
// presents the API token.
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"

namespace voxa::ctl {
namespace {

using nlohmann::json;

constexpr const char* kRegistryHelp =
    "usage: voxactl [globals] registry <command> [--json]\n"
    "  status                       backend, role, record counts, refusals by reason. GET /registry/status\n"
    "  nodes | relays               every stored node / relay record with its liveness.\n"
    "                               GET /data/fetch_nri/, /data/fetch_rri/\n"
    "  fetch <id>                   one node's records (NRI and, for a relay, RRI)\n"
    "  sessions                     open registration sessions. GET /registry/sessions\n"
    "  accounts                     operator accounts. GET /registry/accounts\n"
    "  accounts add NAME [--role R] create one; the password from VOXA_PASSWORD or stdin (12..1024 bytes)\n"
    "  accounts delete NAME         delete one and revoke its tokens\n"
    "  login NAME [--scopes read,write,admin] [--ttl S]\n"
    "                               trade the password (VOXA_PASSWORD or stdin) for a registry token; prints "
    "it\n"
    "  tokens                       registry tokens (no secrets). GET /registry/tokens\n"
    "  tokens issue ACCOUNT --scopes LIST [--ttl S] [--label L]\n"
    "  tokens revoke ID\n"
    "  remove nri|rri ID            delete a stored record. POST /registry/records/remove\n"
    "Admin commands present the node's API token, or VOXA_REGISTRY_TOKEN when set (a token from `login`).\n";

constexpr const char* kNamesHelp =
    "usage: voxactl [globals] names <command> [--json]\n"
    "  list                         every name record. GET /registry/names\n"
    "  resolve NAME                 the record and the node it points to. GET /registry/names?name=NAME\n"
    "  claim NAME [--target NODE_ID] [--service S] [--ttl S] [--transfer-to PUBLIC_KEY]\n"
    "                               sign NAME with this node's key (the next sequence) and publish it; the\n"
    "                               target defaults to this node. Needs the API token. POST "
    "/registry/names/claim\n";

// Query values: RFC 3986 unreserved characters as they are, everything else percent-encoded.
std::string query_escape(const std::string& v) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : v) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            out += char(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

// The password: VOXA_PASSWORD, else one line of stdin (echo off on a terminal). nullopt when none was given.
std::optional<std::string> read_password(const std::string& prompt) {
    if (const char* env = std::getenv("VOXA_PASSWORD"); env != nullptr && *env != '\0')
        return std::string(env);
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty) {
        std::fprintf(stderr, "%s", prompt.c_str());
        if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
            termios quiet = saved;
            quiet.c_lflag &= ~tcflag_t(ECHO);
            ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        }
    }
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        std::fprintf(stderr, "\n");
    }
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (!got || line.empty())
        return std::nullopt;
    return line;
}

void wipe(std::string& secret) {
    if (!secret.empty())
        sodium_memzero(secret.data(), secret.size());
    secret.clear();
}

// "read,write" -> ["read","write"]; nullopt when a scope is not one of read, write, admin.
std::optional<json> parse_scopes(const std::string& list) {
    json out = json::array();
    std::size_t pos = 0;
    while (pos <= list.size()) {
        std::size_t comma = list.find(',', pos);
        if (comma == std::string::npos)
            comma = list.size();
        std::string s = list.substr(pos, comma - pos);
        if (s != "read" && s != "write" && s != "admin")
            return std::nullopt;
        out.push_back(s);
        pos = comma + 1;
    }
    return out;
}

std::optional<uint64_t> parse_seconds(const std::string& s, uint64_t max) {
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    uint64_t const v = std::strtoull(s.c_str(), nullptr, 10);
    if (v < 1 || v > max)
        return std::nullopt;
    return v;
}

bool is_hex64(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Options after the positional words: --name VALUE pairs from `allowed`. Returns "" or the usage error.
std::string take_options(const std::vector<std::string>& args, std::size_t from,
                         std::initializer_list<const char*> allowed,
                         std::map<std::string, std::string>* out) {
    for (std::size_t i = from; i < args.size(); ++i) {
        bool known = false;
        for (const char* a : allowed) known = known || args[i] == a;
        if (!known)
            return "unknown option " + args[i];
        if (i + 1 >= args.size())
            return "option " + args[i] + " wants a value";
        (*out)[args[i]] = args[i + 1];
        ++i;
    }
    return "";
}

// ---- registry ----

std::string address_of(const json& r) {
    std::string host = f(r, "ipv4");
    if (host == "-" || host.empty())
        host = "[" + f(r, "ipv6") + "]";
    return host + ":" + f(r, "port");
}

int list_records(const Globals& g, const Api& api, bool relays) {
    auto const r = call(api, "GET", relays ? "/data/fetch_rri/" : "/data/fetch_nri/", std::nullopt);
    if (!r)
        return kExitFail;
    if (g.json)
        return print_json(*r);
    const char* id_key = relays ? "relay_id" : "node_id";
    std::vector<std::vector<std::string>> rows;
    const json& list = field(r->body, relays ? "rris" : "nris");
    std::size_t live = 0;
    if (list.is_array())
        for (const auto& rec : list) {
            bool const is_live = field(rec, "live").is_boolean() && field(rec, "live").get<bool>();
            live += is_live ? 1 : 0;
            rows.push_back({short_id(f(rec, id_key)), address_of(rec),
                            f(rec, relays ? "relay_type" : "node_type"), f(rec, "capacity"),
                            is_live ? "live" : "DOWN", f(rec, "sequence"), text_of(field(rec, "expires")),
                            text_of(field(rec, "last_seen"))});
        }
    print_table(
        {relays ? "RELAY" : "NODE", "ADDRESS", "TYPE", "CAPACITY", "STATE", "SEQ", "EXPIRES", "LAST_SEEN"},
        rows);
    std::printf("%zu %s, %zu live\n", rows.size(), relays ? "relays" : "nodes", live);
    return kExitOk;
}

void print_record(const char* title, const json& rec) {
    std::printf("%s\n", title);
    std::vector<std::pair<std::string, std::string>> kv;
    for (const auto& [k, v] : rec.items()) {
        if (k == "link_descriptor" || k == "signature")
            continue;  // long hex; --json shows them
        kv.emplace_back("  " + k, v.is_object() ? v.dump() : text_of(v));
    }
    print_kv(kv);
}

int registry_fetch(const Globals& g, const Api& api, const std::string& id) {
    auto const n = call(api, "GET", "/data/fetch_nri/?node_id=" + query_escape(id), std::nullopt, {200, 404});
    if (!n)
        return kExitFail;
    auto const r =
        call(api, "GET", "/data/fetch_rri/?relay_id=" + query_escape(id), std::nullopt, {200, 404});
    if (!r)
        return kExitFail;
    if (n->status == 404 && r->status == 404)
        return failure("no record of " + id + " in the registry");
    if (g.json) {
        std::printf("%s\n", json{{"nri", n->status == 200 ? field(n->body, "nri") : json(nullptr)},
                                 {"rri", r->status == 200 ? field(r->body, "rri") : json(nullptr)}}
                                .dump()
                                .c_str());
        return kExitOk;
    }
    if (n->status == 200)
        print_record("node record (NRI)", field(n->body, "nri"));
    if (r->status == 200)
        print_record("relay record (RRI)", field(r->body, "rri"));
    return kExitOk;
}

int registry_status(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/registry/status", std::nullopt);
    if (!r)
        return kExitFail;
    if (g.json)
        return print_json(*r);
    const json& s = r->body;
    const json& rec = field(s, "records");
    std::string refused;
    if (field(s, "refused").is_object())
        for (const auto& [k, v] : field(s, "refused").items())
            if (v.is_number() && v.get<double>() != 0)
                refused += (refused.empty() ? "" : ", ") + k + " " + text_of(v);
    std::vector<std::pair<std::string, std::string>> kv = {
        {"backend", f(s, "backend")},
        {"role", f(s, "role")},
        {"records", "nri " + f(rec, "nri") + ", rri " + f(rec, "rri") + " (live " + f(rec, "live") +
                        ", down " + f(rec, "down") + ")"},
        {"names", f(s, "names")},
        {"sessions", f(s, "sessions")},
        {"refused", refused.empty() ? "none" : refused},
    };
    if (field(s, "dht").is_object()) {
        const json& d = field(s, "dht");
        kv.emplace_back("dht", "port " + f(d, "port") + ", good nodes " + f(d, "good_nodes") + ", network " +
                                   f(d, "network_id") + ", values received " + f(d, "values_received"));
    }
    if (field(s, "central").is_array() && !field(s, "central").empty()) {
        std::string central;
        for (const auto& c : field(s, "central"))
            central += (central.empty() ? "" : "; ") + (c.is_object() ? c.dump() : text_of(c));
        kv.emplace_back("central", central);
    }
    print_kv(kv);
    return kExitOk;
}

int registry_sessions(const Globals& g, const Api& api) {
    auto const r = call(api, "GET", "/registry/sessions", std::nullopt);
    if (!r)
        return kExitFail;
    if (g.json)
        return print_json(*r);
    std::vector<std::vector<std::string>> rows;
    if (field(r->body, "sessions").is_array())
        for (const auto& s : field(r->body, "sessions"))
            rows.push_back(
                {short_id(f(s, "node_id")), text_of(field(s, "expires")), text_of(field(s, "last_seen"))});
    print_table({"NODE", "EXPIRES", "LAST_SEEN"}, rows);
    return kExitOk;
}

int registry_accounts(const Globals& g, const Api& api, const std::vector<std::string>& args) {
    if (args.size() == 1) {
        auto const r = call(api, "GET", "/registry/accounts", std::nullopt);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::vector<std::vector<std::string>> rows;
        if (field(r->body, "accounts").is_array())
            for (const auto& a : field(r->body, "accounts"))
                rows.push_back({f(a, "name"), f(a, "role"), text_of(field(a, "created"))});
        print_table({"ACCOUNT", "ROLE", "CREATED"}, rows);
        return kExitOk;
    }
    const std::string& sub = args[1];
    if (sub == "add") {
        std::map<std::string, std::string> opt;
        if (std::string e = take_options(args, 3, {"--role"}, &opt); !e.empty() || args.size() < 3)
            return usage_error(e.empty() ? "accounts add wants a NAME" : e, kRegistryHelp);
        auto password = read_password("password for " + args[2] + ": ");
        if (!password)
            return failure("no password: set VOXA_PASSWORD or give it on stdin");
        json body = {{"name", args[2]}, {"password", *password}};
        wipe(*password);
        if (opt.count("--role"))
            body["role"] = opt["--role"];
        auto const r = call(api, "POST", "/registry/accounts", body);
        wipe(body["password"].get_ref<std::string&>());
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("account %s created\n", f(r->body, "name").c_str());
        return kExitOk;
    }
    if (sub == "delete") {
        if (args.size() != 3)
            return usage_error("accounts delete wants one NAME", kRegistryHelp);
        auto const r = call(api, "POST", "/registry/accounts/delete", json{{"name", args[2]}});
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("account %s deleted\n", args[2].c_str());
        return kExitOk;
    }
    return usage_error("accounts: unknown command " + sub, kRegistryHelp);
}

int registry_login(const Globals& g, const Api& api, const std::vector<std::string>& args) {
    std::map<std::string, std::string> opt;
    if (std::string e = take_options(args, 2, {"--scopes", "--ttl"}, &opt); !e.empty() || args.size() < 2)
        return usage_error(e.empty() ? "login wants a NAME" : e, kRegistryHelp);
    json body = {{"name", args[1]}};
    if (opt.count("--scopes")) {
        auto scopes = parse_scopes(opt["--scopes"]);
        if (!scopes)
            return usage_error("--scopes wants a list of read, write, admin", kRegistryHelp);
        body["scopes"] = *scopes;
    }
    if (opt.count("--ttl")) {
        auto ttl = parse_seconds(opt["--ttl"], 365ull * 86400);
        if (!ttl)
            return usage_error("--ttl wants seconds, 1..31536000", kRegistryHelp);
        body["ttl_s"] = *ttl;
    }
    auto password = read_password("password for " + args[1] + ": ");
    if (!password)
        return failure("no password: set VOXA_PASSWORD or give it on stdin");
    body["password"] = *password;
    wipe(*password);
    auto const r = call(api, "POST", "/registry/login", body);
    wipe(body["password"].get_ref<std::string&>());
    if (!r)
        return kExitFail;
    if (g.json)
        return print_json(*r);
    std::printf("%s\n", f(r->body, "token").c_str());
    std::fprintf(stderr, "token id %s, scopes %s, expires %s (use it as VOXA_REGISTRY_TOKEN)\n",
                 f(r->body, "id").c_str(), f(r->body, "scopes").c_str(),
                 text_of(field(r->body, "expires")).c_str());
    return kExitOk;
}

int registry_tokens(const Globals& g, const Api& api, const std::vector<std::string>& args) {
    if (args.size() == 1) {
        auto const r = call(api, "GET", "/registry/tokens", std::nullopt);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::vector<std::vector<std::string>> rows;
        if (field(r->body, "tokens").is_array())
            for (const auto& t : field(r->body, "tokens"))
                rows.push_back({f(t, "id"), f(t, "account"), f(t, "scopes"), text_of(field(t, "expires")),
                                f(t, "revoked"), f(t, "label")});
        print_table({"ID", "ACCOUNT", "SCOPES", "EXPIRES", "REVOKED", "LABEL"}, rows);
        return kExitOk;
    }
    const std::string& sub = args[1];
    if (sub == "issue") {
        std::map<std::string, std::string> opt;
        if (std::string e = take_options(args, 3, {"--scopes", "--ttl", "--label"}, &opt);
            !e.empty() || args.size() < 3)
            return usage_error(e.empty() ? "tokens issue wants an ACCOUNT" : e, kRegistryHelp);
        if (!opt.count("--scopes"))
            return usage_error("tokens issue wants --scopes", kRegistryHelp);
        auto scopes = parse_scopes(opt["--scopes"]);
        if (!scopes)
            return usage_error("--scopes wants a list of read, write, admin", kRegistryHelp);
        auto ttl = parse_seconds(opt.count("--ttl") ? opt["--ttl"] : "86400", 365ull * 86400);
        if (!ttl)
            return usage_error("--ttl wants seconds, 1..31536000", kRegistryHelp);
        json body = {{"account", args[2]}, {"scopes", *scopes}, {"ttl_s", *ttl}};
        if (opt.count("--label"))
            body["label"] = opt["--label"];
        auto const r = call(api, "POST", "/registry/tokens", body);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("%s\n", f(r->body, "token").c_str());
        std::fprintf(stderr, "token id %s, scopes %s, expires %s (shown once)\n", f(r->body, "id").c_str(),
                     f(r->body, "scopes").c_str(), text_of(field(r->body, "expires")).c_str());
        return kExitOk;
    }
    if (sub == "revoke") {
        if (args.size() != 3)
            return usage_error("tokens revoke wants one ID", kRegistryHelp);
        auto const r = call(api, "POST", "/registry/tokens/revoke", json{{"id", args[2]}});
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("token %s revoked\n", args[2].c_str());
        return kExitOk;
    }
    return usage_error("tokens: unknown command " + sub, kRegistryHelp);
}

int run_registry(const Globals& g, Api api, const std::vector<std::string>& args) {
    if (args.empty())
        return usage_error("registry wants a command", kRegistryHelp);
    const std::string& cmd = args[0];
    auto no_more = [&](std::size_t n) { return args.size() == n; };
    // Usage first: a usage error must not depend on whether a server runs.
    if ((cmd == "status" || cmd == "nodes" || cmd == "relays" || cmd == "sessions") && !no_more(1))
        return usage_error("registry " + cmd + " takes no arguments", kRegistryHelp);
    if (cmd == "fetch" && (!no_more(2) || !is_hex64(args[1])))
        return usage_error("registry fetch wants one node id (64 lowercase hex)", kRegistryHelp);
    if (cmd == "remove" && (!no_more(3) || (args[1] != "nri" && args[1] != "rri") || !is_hex64(args[2])))
        return usage_error("registry remove wants nri|rri and an id (64 lowercase hex)", kRegistryHelp);
    // A registry token (from `registry login`) replaces the API token for the registry's routes.
    if (const char* t = std::getenv("VOXA_REGISTRY_TOKEN"); t != nullptr && *t != '\0')
        api.token = t;

    if (cmd == "status")
        return registry_status(g, api);
    if (cmd == "nodes")
        return list_records(g, api, false);
    if (cmd == "relays")
        return list_records(g, api, true);
    if (cmd == "fetch")
        return registry_fetch(g, api, args[1]);
    if (cmd == "sessions")
        return registry_sessions(g, api);
    if (cmd == "accounts")
        return registry_accounts(g, api, args);
    if (cmd == "login")
        return registry_login(g, api, args);
    if (cmd == "tokens")
        return registry_tokens(g, api, args);
    if (cmd == "remove") {
        auto const r =
            call(api, "POST", "/registry/records/remove", json{{"kind", args[1]}, {"id", args[2]}});
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("%s %s removed\n", args[1].c_str(), args[2].c_str());
        return kExitOk;
    }
    return usage_error("registry: unknown command " + cmd, kRegistryHelp);
}

// ---- names ----

int run_names(const Globals& g, const Api& api, const std::vector<std::string>& args) {
    if (args.empty())
        return usage_error("names wants a command", kNamesHelp);
    const std::string& cmd = args[0];
    if (cmd == "list") {
        if (args.size() != 1)
            return usage_error("names list takes no arguments", kNamesHelp);
        auto const r = call(api, "GET", "/registry/names", std::nullopt);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::vector<std::vector<std::string>> rows;
        if (field(r->body, "names").is_array())
            for (const auto& n : field(r->body, "names"))
                rows.push_back({f(n, "name"), short_id(f(n, "target")),
                                f(n, "service").empty() ? "-" : f(n, "service"), f(n, "ttl"),
                                f(n, "sequence"), short_id(f(n, "owner")), text_of(field(n, "expires"))});
        print_table({"NAME", "TARGET", "SERVICE", "TTL", "SEQ", "OWNER", "EXPIRES"}, rows);
        return kExitOk;
    }
    if (cmd == "resolve") {
        if (args.size() != 2)
            return usage_error("names resolve wants one NAME", kNamesHelp);
        auto const r = call(api, "GET", "/registry/names?name=" + query_escape(args[1]), std::nullopt);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        const json& n = field(r->body, "name");
        const json& t = field(r->body, "target");
        std::string where = "-";
        if (t.is_object())
            where = address_of(t);
        print_kv({{"name", f(n, "name")},
                  {"target", f(n, "target")},
                  {"address", where},
                  {"service", f(n, "service").empty() ? "-" : f(n, "service")},
                  {"ttl", f(n, "ttl") + " s"},
                  {"owner", f(n, "owner")},
                  {"sequence", f(n, "sequence")},
                  {"expires", text_of(field(n, "expires"))},
                  {"transfer to", f(n, "transfer_to")}});
        return kExitOk;
    }
    if (cmd == "claim") {
        std::map<std::string, std::string> opt;
        if (std::string e = take_options(args, 2, {"--target", "--service", "--ttl", "--transfer-to"}, &opt);
            !e.empty() || args.size() < 2)
            return usage_error(e.empty() ? "names claim wants a NAME" : e, kNamesHelp);
        json body = {{"name", args[1]}};
        if (opt.count("--target")) {
            if (!is_hex64(opt["--target"]))
                return usage_error("--target wants a node id (64 lowercase hex)", kNamesHelp);
            body["target"] = opt["--target"];
        }
        if (opt.count("--service"))
            body["service"] = opt["--service"];
        if (opt.count("--ttl")) {
            auto ttl = parse_seconds(opt["--ttl"], 86400);
            if (!ttl)
                return usage_error("--ttl wants seconds, 1..86400", kNamesHelp);
            body["ttl_s"] = *ttl;
        }
        if (opt.count("--transfer-to")) {
            if (!is_hex64(opt["--transfer-to"]))
                return usage_error("--transfer-to wants an Ed25519 public key (64 lowercase hex)",
                                   kNamesHelp);
            body["transfer_to"] = opt["--transfer-to"];
        }
        auto const r = call(api, "POST", "/registry/names/claim", body);
        if (!r)
            return kExitFail;
        if (g.json)
            return print_json(*r);
        std::printf("%s: %s\n", args[1].c_str(), f(r->body, "result").c_str());
        return kExitOk;
    }
    return usage_error("names: unknown command " + cmd, kNamesHelp);
}

}  // namespace

bool is_registry_verb(const std::string& verb) {
    return verb == "registry" || verb == "names";
}

int run_registry_verb(const Globals& g, const std::string& verb, std::vector<std::string> args) {
    const char* help = verb == "names" ? kNamesHelp : kRegistryHelp;
    if (wants_help(args)) {
        std::fputs(help, stdout);
        return kExitOk;
    }
    Globals local = g;
    // --json is accepted after the verb too.
    std::erase_if(args, [&](const std::string& a) {
        if (a != "--json")
            return false;
        local.json = true;
        return true;
    });
    std::string error;
    auto api = locate(local, &error);
    if (!api)
        return usage_error(error, help);
    return verb == "names" ? run_names(local, *api, args) : run_registry(local, *api, args);
}

}  // namespace voxa::ctl
