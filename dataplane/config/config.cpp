#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "circuit/onion.h"
#include "config/json_reader.h"
#include "crypto/identity.h"
#include "netstack/frame.h"
#include "voxa/wire.h"

namespace voxa::config {

using detail::index_path;
using detail::json;
using detail::key_path;
using detail::Reader;

namespace {

// ---- the top-level keys of each file, with the type an environment override is read as ----

enum class Kind : uint8_t { kInteger, kBoolean, kString, kIntegerList, kStringList, kObject, kObjectList };
struct KeySpec {
    std::string_view name;
    Kind kind;
};

constexpr KeySpec kSettingsSpec[] = {
    {"node-name", Kind::kString},       {"node-network-level", Kind::kInteger}, {"server-settings", Kind::kObject},
    {"features", Kind::kObject},        {"plugins", Kind::kStringList},         {"log-level", Kind::kString},
    {"plugin-settings", Kind::kObject}, {"drain-deadline-s", Kind::kInteger},
    {"api-token-required-for-reads", Kind::kBoolean},
};
constexpr KeySpec kP2pSpec[] = {
    {"host", Kind::kString},
    {"port", Kind::kInteger},
    {"advertise_host", Kind::kString},
    {"bootstrap_nodes", Kind::kObjectList},
    {"relay", Kind::kBoolean},
    {"capacity", Kind::kInteger},
    {"hops", Kind::kInteger},
    {"n", Kind::kInteger},
    {"k", Kind::kInteger},
    {"parts_per_relay_max", Kind::kInteger},
    {"cell_bytes", Kind::kInteger},
    {"max_message_bytes", Kind::kInteger},
    {"gossip_interval_s", Kind::kInteger},
    {"circuit_lifetime_s", Kind::kInteger},
    {"connection_timeout", Kind::kInteger},
    {"max_peers", Kind::kInteger},
    {"discovery", Kind::kString},
};
constexpr KeySpec kDataplaneSpec[] = {
    {"backend", Kind::kString},        {"cores", Kind::kIntegerList},         {"pin", Kind::kBoolean},
    {"rx_batch", Kind::kInteger},      {"tx_batch", Kind::kInteger},          {"tx_flush_us", Kind::kInteger},
    {"rx_buffers", Kind::kInteger},    {"rx_buffer_bytes", Kind::kInteger},   {"tx_slots", Kind::kInteger},
    {"ring_entries", Kind::kInteger},  {"sqpoll", Kind::kBoolean},            {"gso", Kind::kBoolean},
    {"gro", Kind::kBoolean},           {"bpf_steering", Kind::kBoolean},      {"idle_spins", Kind::kInteger},
    {"sleep_max_us", Kind::kInteger},  {"circuits_max", Kind::kInteger},      {"reassembly_bytes_max", Kind::kInteger},
    {"handover_slots", Kind::kInteger}, {"dpdk", Kind::kObject},
};

struct FileSpec {
    std::string_view name;       // "p2p": the file is <name>.json, variables VOXA_<NAME>_<KEY>
    std::span<const KeySpec> keys;
};
constexpr FileSpec kSettingsFile{"settings", kSettingsSpec};
constexpr FileSpec kP2pFile{"p2p", kP2pSpec};
constexpr FileSpec kDataplaneFile{"dataplane", kDataplaneSpec};
constexpr FileSpec kFiles[] = {kSettingsFile, kP2pFile, kDataplaneFile};

std::vector<std::string_view> names_of(std::span<const KeySpec> keys) {
    std::vector<std::string_view> out;
    for (const KeySpec& k : keys) out.push_back(k.name);
    return out;
}

constexpr std::string_view kServerKeys[] = {"host", "port"};
constexpr std::string_view kFeatureKeys[] = {"enable-dns", "enable-upnpc-port-forwarding", "enable-kytan-vpn",
                                             "enable-app-deployment"};
constexpr std::string_view kBootstrapKeys[] = {"id", "public_key", "host", "port", "api_port", "dht_port"};
constexpr std::string_view kBootstrapRequiredKeys[] = {"id", "public_key", "host", "port"};
constexpr std::string_view kDpdkKeys[] = {"eal_args", "ports", "mempool_mbufs", "mbuf_cache", "rx_desc", "tx_desc",
                                          "file_prefix", "in_memory", "no_huge", "hugepages"};
constexpr std::string_view kDpdkPortKeys[] = {"device", "ipv4", "ipv6", "mac", "neighbours", "checksum"};
constexpr std::string_view kDpdkNeighbourKeys[] = {"ip", "mac"};

constexpr std::size_t kNameBytesMax = 64;
constexpr std::size_t kPluginsMax = 64;
constexpr std::size_t kPluginNameBytesMax = 32;
constexpr std::size_t kCoresMax = 64;
constexpr int64_t kCpuMax = 1023;   // CPU_SETSIZE - 1

// ---- small helpers ----

std::string variable_name(std::string_view file, std::string_view key) {
    std::string out = "VOXA_";
    for (char c : file) out += char(std::toupper(static_cast<unsigned char>(c)));
    out += '_';
    for (char c : key) out += c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool is_integer_text(std::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    return !s.empty() && s.size() <= 20 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An integer-looking word becomes a JSON integer; anything else stays a string, so the typed reader reports
// it as "expected an integer ..., got "abc"" under the variable's name.
json integer_or_string(std::string_view s) {
    s = trim(s);
    if (is_integer_text(s)) {
        try {
            return json::parse(s);
        } catch (const json::exception&) {
        }
    }
    return json(std::string(s));
}

bool parse_hex32(std::string_view hex, std::array<uint8_t, 32>* out) {
    if (hex.size() != 64) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 32; ++i) {
        int const hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        (*out)[i] = uint8_t(hi << 4 | lo);
    }
    return true;
}

bool printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

// [a-z0-9_]{1,32}: the plugin ABI's rule (include/voxa/plugin_abi.h); the name becomes the file voxa_<name>.so.
bool plugin_name_ok(std::string_view s) {
    return !s.empty() && s.size() <= kPluginNameBytesMax && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// Turns the value of VOXA_<FILE>_<KEY> into the JSON the file would hold. Returns false (and sets *error,
// naming the variable) only for a list or object given as JSON that does not parse.
bool override_value(Kind kind, const std::string& variable, const std::string& text, json* out, std::string* error) {
    std::string_view const t = trim(text);
    auto parse_json = [&]() {
        try {
            *out = json::parse(t);
            return true;
        } catch (const json::exception& e) {
            *error = variable + ": invalid JSON value: " + e.what();
            return false;
        }
    };
    switch (kind) {
        case Kind::kInteger:
            *out = integer_or_string(t);
            return true;
        case Kind::kBoolean: {
            std::string lower;
            for (char c : t) lower += char(std::tolower(static_cast<unsigned char>(c)));
            if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
                *out = true;
            } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
                *out = false;
            } else {
                *out = text;
            }
            return true;
        }
        case Kind::kString:
            *out = text;
            return true;
        case Kind::kIntegerList:
        case Kind::kStringList: {
            if (!t.empty() && t.front() == '[') return parse_json();
            *out = json::array();
            if (t.empty()) return true;
            std::size_t at = 0;
            while (true) {
                std::size_t const comma = t.find(',', at);
                std::string_view const item = t.substr(at, comma == std::string_view::npos ? t.npos : comma - at);
                out->push_back(kind == Kind::kIntegerList ? integer_or_string(item) : json(std::string(trim(item))));
                if (comma == std::string_view::npos) break;
                at = comma + 1;
            }
            return true;
        }
        case Kind::kObject:
        case Kind::kObjectList:
            return parse_json();
    }
    return true;
}

// Applies every VOXA_<FILE>_<KEY> that `env` knows to `root` and tells `reader` which keys they replaced.
bool apply_overrides(const FileSpec& file, const EnvLookup& env, json* root, Reader* reader, std::string* error) {
    if (!env) return true;
    for (const KeySpec& key : file.keys) {
        std::string const variable = variable_name(file.name, key.name);
        std::optional<std::string> const text = env(variable);
        if (!text) continue;
        json value;
        if (!override_value(key.kind, variable, *text, &value, error)) return false;
        (*root)[std::string(key.name)] = std::move(value);
        reader->set_override(key.name, variable);
    }
    return true;
}

// Reads an integer with an extra rule: a power of two, or a multiple of `multiple`.
template <class T>
void constrained(Reader& r, const json& obj, std::string_view key, int64_t lo, int64_t hi, bool power_of_two,
                 int64_t multiple, T* out) {
    const json* v = r.find(obj, key);
    if (v == nullptr) return;
    std::optional<int64_t> const i = Reader::as_int64(*v);
    bool good = i && *i >= lo && *i <= hi;
    if (good && power_of_two) good = (*i & (*i - 1)) == 0;
    if (good && multiple > 1) good = *i % multiple == 0;
    if (!good) {
        std::string expected = power_of_two ? "a power of two " : "an integer ";
        expected += std::to_string(lo) + ".." + std::to_string(hi);
        if (multiple > 1) expected += ", a multiple of " + std::to_string(multiple);
        r.fail(std::string(key), expected, v);
        return;
    }
    *out = T(*i);
}

// A numeric host (no names: the data plane never resolves DNS); a wildcard only where `wildcard_ok`.
void numeric_host(Reader& r, const json& obj, const std::string& parent, std::string_view key, bool wildcard_ok,
                  std::string* out) {
    const json* v = r.find(obj, key);
    if (v == nullptr) return;
    std::optional<Endpoint> const e =
        v->is_string() ? parse_numeric_endpoint(v->get_ref<const std::string&>(), 0) : std::nullopt;
    if (!e || (!wildcard_ok && is_wildcard(*e))) {
        r.fail(key_path(parent, key),
               wildcard_ok ? "a numeric IPv4 or IPv6 address such as \"10.0.0.1\", \"0.0.0.0\" or \"::\" (no host names)"
                           : "a numeric IPv4 or IPv6 address such as \"10.0.0.1\" or \"fd00::1\", not a wildcard "
                             "(no host names)",
               v);
        return;
    }
    *out = v->get<std::string>();
}

// ---- settings.json ----

Settings read_settings(const json& root, Reader& r) {
    Settings s;
    std::vector<std::string_view> const known = names_of(kSettingsSpec);
    if (!r.object(root, "", known)) return s;
    if (const json* v = r.find(root, "node-name")) {
        if (!v->is_string() || v->get_ref<const std::string&>().empty() ||
            v->get_ref<const std::string&>().size() > kNameBytesMax || !printable(v->get_ref<const std::string&>())) {
            r.fail("node-name", "a name of 1..64 printable characters", v);
        } else {
            s.node_name = v->get<std::string>();
        }
    }
    r.number(root, "", "node-network-level", 0, 255, &s.node_network_level);
    if (const json* v = r.find(root, "server-settings"); v != nullptr && r.object(*v, "server-settings", kServerKeys)) {
        numeric_host(r, *v, "server-settings", "host", true, &s.api_host);
        // 0 asks for an ephemeral port: the api plugin writes the bound one to <data>/run/api_port.
        r.number(*v, "server-settings", "port", 0, 65535, &s.api_port);
    }
    if (const json* v = r.find(root, "features"); v != nullptr && r.object(*v, "features", kFeatureKeys)) {
        r.boolean(*v, "features", "enable-dns", &s.enable_dns);
        r.boolean(*v, "features", "enable-upnpc-port-forwarding", &s.enable_upnpc_port_forwarding);
        r.boolean(*v, "features", "enable-kytan-vpn", &s.enable_kytan_vpn);
        r.boolean(*v, "features", "enable-app-deployment", &s.enable_app_deployment);
    }
    r.strings(root, "", "plugins", kPluginsMax, kNameBytesMax, &s.plugins);
    for (std::size_t i = 0; r.ok() && i < s.plugins.size(); ++i) {
        // Plugin names are joined into file paths by the loader: letters, digits, '_' and '-' only.
        if (!plugin_name_ok(s.plugins[i])) {
            r.fail(index_path("plugins", i), "a plugin name of 1..32 of a-z, 0-9 and '_' (a name, not a path)",
                   &(*r.find(root, "plugins"))[i]);
        }
        for (std::size_t j = 0; r.ok() && j < i; ++j) {
            if (s.plugins[j] == s.plugins[i])
                r.fail_message(index_path("plugins", i), "\"" + s.plugins[i] + "\" is listed twice");
        }
    }
    r.choice(root, "", "log-level", {"debug", "info", "warn", "error"}, &s.log_level);
    if (const json* v = r.find(root, "plugin-settings")) {
        if (!v->is_object()) {
            r.fail("plugin-settings", "an object {\"<plugin name>\": {...}, ...}", v);
        } else {
            for (auto it = v->begin(); r.ok() && it != v->end(); ++it) {
                std::string const path = key_path("plugin-settings", it.key());
                if (!plugin_name_ok(it.key())) {
                    r.fail_message(path, "expected a plugin name of 1..32 of a-z, 0-9 and '_' as the key");
                } else if (!it.value().is_object()) {
                    r.fail(path, "an object of the plugin's settings", &it.value());
                } else {
                    s.plugin_settings[it.key()] = it.value().dump();
                }
            }
        }
    }
    r.number(root, "", "drain-deadline-s", 1, 3600, &s.drain_deadline_s);
    r.boolean(root, "", "api-token-required-for-reads", &s.api_token_required_for_reads);
    return s;
}

// ---- p2p.json ----

void read_bootstrap(Reader& r, const json& e, const std::string& path, BootstrapNode* out) {
    if (e.is_string()) {
        std::string const& text = e.get_ref<const std::string&>();
        if (text.find('$') != std::string::npos) {
            r.fail_message(path, "the original's \"host:port$SSU\" form (" + detail::show(e) +
                                     ") is not accepted: it carries no key, and voxa trusts keys, not addresses. "
                                     "Write {\"id\": \"<64 hex>\", \"public_key\": \"<64 hex Ed25519 key>\", "
                                     "\"host\": \"10.0.0.1\", \"port\": 9000} with the id and public key that node "
                                     "reports");
        } else {
            r.fail(path, "an object {\"id\", \"public_key\", \"host\", \"port\"}", &e);
        }
        return;
    }
    if (!r.object(e, path, kBootstrapKeys)) return;
    for (std::string_view key : kBootstrapRequiredKeys) {
        if (r.ok() && r.find(e, key) == nullptr) r.fail_message(key_path(path, key), "missing (required)");
    }
    if (!r.ok()) return;
    const json& id = e["id"];
    if (!id.is_string() || !parse_hex32(id.get_ref<const std::string&>(), &out->id)) {
        r.fail(key_path(path, "id"), "64 hex digits (the node id)", &id);
        return;
    }
    const json& key = e["public_key"];
    if (!key.is_string() || !parse_hex32(key.get_ref<const std::string&>(), &out->ed25519)) {
        r.fail(key_path(path, "public_key"), "64 hex digits (the node's Ed25519 public key)", &key);
        return;
    }
    std::optional<crypto::PeerIdentity> const peer = crypto::PeerIdentity::from_ed25519(out->ed25519);
    if (!peer) {
        r.fail(key_path(path, "public_key"), "a valid Ed25519 public key", &key);
        return;
    }
    if (peer->id != out->id) {
        r.fail_message(key_path(path, "id"), "does not match \"public_key\": the id of that key (BLAKE2b-256) is " +
                                                 to_hex(peer->id) + "; check both values");
        return;
    }
    numeric_host(r, e, path, "host", false, &out->host);
    r.number(e, path, "port", 1, 65535, &out->port);
    r.number(e, path, "api_port", 1, 65535, &out->api_port);
    r.number(e, path, "dht_port", 1, 65535, &out->dht_port);
    if (!r.ok()) return;
    out->endpoint = *parse_numeric_endpoint(out->host, out->port);
}

P2p read_p2p(const json& root, Reader& r) {
    P2p p;
    std::vector<std::string_view> const known = names_of(kP2pSpec);
    if (!r.object(root, "", known)) return p;
    numeric_host(r, root, "", "host", true, &p.host);
    r.number(root, "", "port", 1, 65535, &p.port);
    if (const json* v = r.find(root, "advertise_host"); v != nullptr && !(v->is_string() && v->get<std::string>().empty()))
        numeric_host(r, root, "", "advertise_host", false, &p.advertise_host);
    if (const json* v = r.find(root, "bootstrap_nodes")) {
        if (!v->is_array() || v->size() > kBootstrapNodesMax) {
            r.fail("bootstrap_nodes",
                   "an array of at most " + std::to_string(kBootstrapNodesMax) +
                       " objects {\"id\", \"public_key\", \"host\", \"port\"}",
                   v);
        } else {
            for (std::size_t i = 0; r.ok() && i < v->size(); ++i) {
                BootstrapNode node;
                std::string const path = index_path("bootstrap_nodes", i);
                read_bootstrap(r, (*v)[i], path, &node);
                for (std::size_t j = 0; r.ok() && j < p.bootstrap_nodes.size(); ++j) {
                    if (p.bootstrap_nodes[j].id == node.id)
                        r.fail_message(key_path(path, "id"), "the same node as bootstrap_nodes[" + std::to_string(j) + "]");
                    else if (p.bootstrap_nodes[j].endpoint == node.endpoint)
                        r.fail_message(path, "the same address and port as bootstrap_nodes[" + std::to_string(j) +
                                                 "] (" + node.endpoint.to_string() + ")");
                }
                p.bootstrap_nodes.push_back(node);
            }
        }
    }
    r.boolean(root, "", "relay", &p.relay);
    r.number(root, "", "capacity", 1, 1000000, &p.capacity);
    r.number(root, "", "hops", 1, int64_t(circuit::kHopsMax), &p.hops);
    r.number(root, "", "n", 1, int64_t(wire::kPartsMax), &p.n);
    r.number(root, "", "k", 1, int64_t(wire::kPartsMax), &p.k);
    r.number(root, "", "parts_per_relay_max", 1, int64_t(wire::kPartsMax), &p.parts_per_relay_max);
    constrained(r, root, "cell_bytes", int64_t(wire::kCellBytesMin), int64_t(wire::kCellBytesMax), false, 16,
                &p.cell_bytes);
    r.number(root, "", "max_message_bytes", 1024, int64_t(1) << 30, &p.max_message_bytes);
    r.number(root, "", "gossip_interval_s", 1, 3600, &p.gossip_interval_s);
    r.number(root, "", "circuit_lifetime_s", 10, 86400, &p.circuit_lifetime_s);
    r.number(root, "", "connection_timeout", 1, 3600, &p.connection_timeout);
    r.number(root, "", "max_peers", 1, 1000000, &p.max_peers);
    r.choice(root, "", "discovery", {"gossip", "registry"}, &p.discovery);
    if (!r.ok()) return p;

    // Rules across keys of this file.
    if (p.k > p.n) {
        json const got = p.k;
        r.fail("k", "an integer 1..n (\"n\" is " + std::to_string(p.n) + "): any k of the n parts rebuild a message",
               &got);
        return p;
    }
    if (p.parts_per_relay_max != 1 && p.parts_per_relay_max >= p.k) {
        json const got = p.parts_per_relay_max;
        r.fail("parts_per_relay_max",
               "1, or less than \"k\" (" + std::to_string(p.k) + ") so that no relay ever carries k parts of a message",
               &got);
        return p;
    }
    p.listen = *parse_numeric_endpoint(p.host, p.port);
    if (p.advertise_host.empty() && !is_wildcard(p.listen)) p.advertise_host = p.host;
    if (p.advertise_host.empty() && !p.bootstrap_nodes.empty()) {
        r.fail("advertise_host",
               "the numeric address other nodes dial to reach this node (required because \"host\" is the wildcard \"" +
                   p.host + "\" and \"bootstrap_nodes\" is not empty)",
               nullptr);
        return p;
    }
    if (!p.advertise_host.empty()) {
        p.advertise = *parse_numeric_endpoint(p.advertise_host, p.port);
        bool const dual_stack = p.listen.family == Endpoint::Family::kIpv6 && is_wildcard(p.listen);
        if (!dual_stack && p.advertise.family != p.listen.family) {
            json const got = p.advertise_host;
            r.fail("advertise_host",
                   std::string("an ") + (p.listen.family == Endpoint::Family::kIpv4 ? "IPv4" : "IPv6") +
                       " address, like \"host\" (" + p.host + "; listen on \"::\" for both families)",
                   &got);
        }
    }
    return p;
}

// ---- dataplane.json ----

// A string key that must satisfy `good`; `expected` describes it.
void checked_string(Reader& r, const json& obj, const std::string& parent, std::string_view key,
                    bool (*good)(std::string_view), std::string_view expected, std::string* out) {
    const json* v = r.find(obj, key);
    if (v == nullptr) return;
    if (!v->is_string() || !good(v->get_ref<const std::string&>())) {
        r.fail(key_path(parent, key), expected, v);
        return;
    }
    *out = v->get<std::string>();
}

bool ipv4_prefix_ok(std::string_view s) {
    auto p = parse_prefix(s);
    return p && p->first.family == Endpoint::Family::kIpv4 && !is_wildcard(p->first);
}
bool ipv6_prefix_ok(std::string_view s) {
    auto p = parse_prefix(s);
    return p && p->first.family == Endpoint::Family::kIpv6 && !is_wildcard(p->first);
}
bool unicast_mac_ok(std::string_view s) {
    auto m = parse_mac(s);
    return m && ((*m)[0] & 1) == 0 && *m != std::array<uint8_t, 6>{};
}
bool ip_ok(std::string_view s) {
    auto e = parse_numeric_endpoint(s, 0);
    return e && !is_wildcard(*e);
}
// Printable, no spaces (an EAL device argument or file prefix is one argv word).
bool word_ok(std::string_view s) {
    return !s.empty() && s.size() <= 256 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}
// "" means the default prefix (derived from the node id).
bool prefix_ok(std::string_view s) {
    return s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

void read_dpdk(const json& v, Reader& r, Dataplane::Dpdk* out) {
    r.strings(v, "dpdk", "eal_args", 256, 256, &out->eal_args);
    if (const json* ports = r.find(v, "ports")) {
        if (!ports->is_array() || ports->size() > kDpdkPortsMax) {
            r.fail("dpdk.ports", "an array of at most 16 port objects {\"device\", \"ipv4\", ...}", ports);
            return;
        }
        for (std::size_t i = 0; r.ok() && i < ports->size(); ++i) {
            const json& e = (*ports)[i];
            std::string const path = index_path("dpdk.ports", i);
            if (!e.is_object()) {
                r.fail(path, "an object {\"device\": \"net_af_packet0,iface=eth0\" or a PCI address, \"ipv4\": "
                             "\"10.77.0.12/24\", \"ipv6\"?, \"mac\"?, \"neighbours\"?}",
                       &e);
                return;
            }
            if (!r.object(e, path, kDpdkPortKeys)) return;
            Dataplane::DpdkPort port;
            checked_string(r, e, path, "device", word_ok,
                           "a vdev such as \"net_af_packet0,iface=eth0\" or a PCI address such as \"0000:03:00.0\"",
                           &port.device);
            checked_string(r, e, path, "ipv4", ipv4_prefix_ok, "an IPv4 address with its prefix, e.g. \"10.77.0.12/24\"",
                           &port.ipv4);
            checked_string(r, e, path, "ipv6", ipv6_prefix_ok, "an IPv6 address with its prefix, e.g. \"fd00::12/64\"",
                           &port.ipv6);
            checked_string(r, e, path, "mac", unicast_mac_ok, "a unicast MAC address such as \"02:00:00:00:00:01\"",
                           &port.mac);
            if (const json* c = r.find(e, "checksum")) {
                if (!c->is_string() ||
                    !netstack::parse_checksum_policy(c->get_ref<const std::string&>(), &port.checksum)) {
                    r.fail(key_path(path, "checksum"), "\"auto\", \"software\" or \"off\"", c);
                }
            }
            if (!r.ok()) return;
            if (port.device.empty()) {
                r.fail_message(path, "\"device\" is required (a vdev name or a PCI address)");
                return;
            }
            if (port.ipv4.empty() && port.ipv6.empty()) {
                r.fail_message(path, "\"ipv4\" or \"ipv6\" is required (this node's address on that port)");
                return;
            }
            if (const json* ns = r.find(e, "neighbours")) {
                std::string const npath = key_path(path, "neighbours");
                if (!ns->is_array() || ns->size() > kDpdkNeighboursMax) {
                    r.fail(npath, "an array of at most 256 objects {\"ip\": \"10.77.0.1\", \"mac\": \"02:..\"}", ns);
                    return;
                }
                for (std::size_t j = 0; r.ok() && j < ns->size(); ++j) {
                    const json& n = (*ns)[j];
                    std::string const jpath = index_path(npath, j);
                    if (!n.is_object()) {
                        r.fail(jpath, "an object {\"ip\", \"mac\"}", &n);
                        return;
                    }
                    if (!r.object(n, jpath, kDpdkNeighbourKeys)) return;
                    Dataplane::DpdkNeighbour nb;
                    checked_string(r, n, jpath, "ip", ip_ok, "a numeric IPv4 or IPv6 address", &nb.ip);
                    checked_string(r, n, jpath, "mac", unicast_mac_ok, "a unicast MAC address such as \"02:00:00:00:00:01\"",
                                   &nb.mac);
                    if (r.ok() && (nb.ip.empty() || nb.mac.empty())) {
                        r.fail_message(jpath, "both \"ip\" and \"mac\" are required");
                        return;
                    }
                    port.neighbours.push_back(std::move(nb));
                }
            }
            out->ports.push_back(std::move(port));
        }
    }
    r.number(v, "dpdk", "mempool_mbufs", 1023, 1048575, &out->mempool_mbufs);
    r.number(v, "dpdk", "mbuf_cache", 0, 512, &out->mbuf_cache);
    for (auto [key, field] : {std::pair{std::string_view("rx_desc"), &out->rx_desc},
                              std::pair{std::string_view("tx_desc"), &out->tx_desc}}) {
        if (const json* d = r.find(v, key)) {
            std::optional<int64_t> const i = Reader::as_int64(*d);
            if (!i || *i < 64 || *i > 16384 || (*i & (*i - 1)) != 0) {
                r.fail(key_path("dpdk", key), "a power of two 64..16384", d);
            } else {
                *field = uint32_t(*i);
            }
        }
    }
    checked_string(r, v, "dpdk", "file_prefix", prefix_ok, "0..64 of letters, digits, '-' and '_' (\"\": voxa-<node id prefix>)",
                   &out->file_prefix);
    r.boolean(v, "dpdk", "in_memory", &out->in_memory);
    r.boolean(v, "dpdk", "no_huge", &out->no_huge);
    r.number(v, "dpdk", "hugepages", 0, 1 << 20, &out->hugepages);
}

Dataplane read_dataplane(const json& root, Reader& r) {
    Dataplane d;
    std::vector<std::string_view> const known = names_of(kDataplaneSpec);
    if (!r.object(root, "", known)) return d;
    r.choice(root, "", "backend", {"io_uring", "dpdk"}, &d.backend);
    if (const json* v = r.find(root, "cores")) {
        if (!v->is_array() || v->empty() || v->size() > kCoresMax) {
            r.fail("cores", "an array of 1..64 cpu numbers (one worker per entry), e.g. [0, 1]", v);
        } else {
            std::vector<int> cores;
            for (std::size_t i = 0; r.ok() && i < v->size(); ++i) {
                std::optional<int64_t> const cpu = Reader::as_int64((*v)[i]);
                if (!cpu || *cpu < 0 || *cpu > kCpuMax) {
                    r.fail(index_path("cores", i), "a cpu number 0.." + std::to_string(kCpuMax), &(*v)[i]);
                } else if (std::find(cores.begin(), cores.end(), int(*cpu)) != cores.end()) {
                    r.fail_message(index_path("cores", i),
                                   "cpu " + std::to_string(*cpu) + " is listed twice (one worker per cpu)");
                }
                cores.push_back(int(cpu.value_or(0)));
            }
            if (r.ok()) d.cores = std::move(cores);
        }
    }
    r.boolean(root, "", "pin", &d.pin);
    r.number(root, "", "rx_batch", 1, 1024, &d.rx_batch);
    r.number(root, "", "tx_batch", 1, 1024, &d.tx_batch);
    r.number(root, "", "tx_flush_us", 0, 100000, &d.tx_flush_us);
    constrained(r, root, "rx_buffers", 1, 32768, true, 1, &d.rx_buffers);
    r.number(root, "", "rx_buffer_bytes", int64_t(wire::kCellBytesMin), int64_t(1) << 20, &d.rx_buffer_bytes);
    r.number(root, "", "tx_slots", 1, int64_t(1) << 20, &d.tx_slots);
    constrained(r, root, "ring_entries", 8, 32768, true, 1, &d.ring_entries);
    r.boolean(root, "", "sqpoll", &d.sqpoll);
    r.boolean(root, "", "gso", &d.gso);
    r.boolean(root, "", "gro", &d.gro);
    r.boolean(root, "", "bpf_steering", &d.bpf_steering);
    r.number(root, "", "idle_spins", 0, 1000000, &d.idle_spins);
    r.number(root, "", "sleep_max_us", 1, 1000000, &d.sleep_max_us);
    r.number(root, "", "circuits_max", 1, int64_t(1) << 24, &d.circuits_max);
    r.number(root, "", "reassembly_bytes_max", int64_t(1) << 20, int64_t(1) << 40, &d.reassembly_bytes_max);
    constrained(r, root, "handover_slots", 2, 65536, true, 1, &d.handover_slots);
    if (const json* v = r.find(root, "dpdk"); v != nullptr && r.object(*v, "dpdk", kDpdkKeys)) read_dpdk(*v, r, &d.dpdk);
    if (!r.ok()) return d;
    if (d.backend == "dpdk" && d.dpdk.ports.empty()) {
        r.fail_message("dpdk.ports", "at least one port is needed when \"backend\" is \"dpdk\" (e.g. {\"device\": "
                                     "\"net_af_packet0,iface=eth0\", \"ipv4\": \"10.77.0.12/24\"})");
        return d;
    }
    if (d.tx_batch > d.tx_slots) {
        json const got = d.tx_slots;
        r.fail("tx_slots", "at least \"tx_batch\" (" + std::to_string(d.tx_batch) + ")", &got);
    }
    return d;
}

// ---- files ----

std::string read_file_text(const std::filesystem::path& path, const std::string& label, bool* exists,
                           std::string* error) {
    std::error_code ec;
    auto const status = std::filesystem::status(path, ec);
    *exists = false;
    if (ec || status.type() == std::filesystem::file_type::not_found) return {};
    *exists = true;
    if (status.type() != std::filesystem::file_type::regular) {
        *error = label + ": not a regular file";
        return {};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *error = label + ": cannot be read (check its permissions)";
        return {};
    }
    std::string text;
    char buffer[4096];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, std::size_t(in.gcount()));
        if (text.size() > kFileBytesMax) break;   // parse_object_text reports the size
    }
    return text;
}

// Reads one file (or {} when it is missing) with its overrides applied. `reader` gets the overridden keys.
std::optional<json> load_file(const std::filesystem::path& dir, const FileSpec& file, const EnvLookup& env,
                              Reader* reader, std::string* error) {
    std::filesystem::path const path = dir / (std::string(file.name) + ".json");
    std::string const label = path.string();
    bool exists = false;
    std::string const text = read_file_text(path, label, &exists, error);
    if (!error->empty()) return std::nullopt;
    json root = json::object();
    if (exists) {
        std::optional<json> parsed = detail::parse_object_text(text, label, error);
        if (!parsed) return std::nullopt;
        root = std::move(*parsed);
    }
    if (!apply_overrides(file, env, &root, reader, error)) return std::nullopt;
    return root;
}

template <class T>
std::optional<T> parse_text(std::string_view text, std::string_view label, std::string* error,
                            T (*read)(const json&, Reader&)) {
    try {
        std::string message;
        std::optional<json> const root = detail::parse_object_text(text, label, &message);
        if (root) {
            Reader r(label);
            T value = read(*root, r);
            if (r.ok()) return value;
            message = r.error();
        }
        if (error != nullptr) *error = message;
    } catch (const std::exception& e) {
        if (error != nullptr) *error = std::string(label) + ": " + e.what();
    }
    return std::nullopt;
}

std::optional<Config> load_checked(const std::filesystem::path& config_dir, const std::filesystem::path& data_dir,
                                   const EnvLookup& env, std::string* error) {
    std::error_code ec;
    if (!std::filesystem::is_directory(config_dir, ec)) {
        *error = config_dir.string() + ": the configuration folder does not exist or is not a folder (set " +
                 "VOXA_CONFIG_PATH or create it; a missing file inside it means that file's defaults)";
        return std::nullopt;
    }
    Config c;
    c.config_dir = config_dir;
    c.data_dir = data_dir;

    Reader settings_reader((config_dir / "settings.json").string());
    Reader p2p_reader((config_dir / "p2p.json").string());
    Reader dataplane_reader((config_dir / "dataplane.json").string());
    auto const settings_json = load_file(config_dir, kSettingsFile, env, &settings_reader, error);
    if (!settings_json) return std::nullopt;
    auto const p2p_json = load_file(config_dir, kP2pFile, env, &p2p_reader, error);
    if (!p2p_json) return std::nullopt;
    auto const dataplane_json = load_file(config_dir, kDataplaneFile, env, &dataplane_reader, error);
    if (!dataplane_json) return std::nullopt;

    c.settings = read_settings(*settings_json, settings_reader);
    if (!settings_reader.ok()) {
        *error = settings_reader.error();
        return std::nullopt;
    }
    c.p2p = read_p2p(*p2p_json, p2p_reader);
    if (!p2p_reader.ok()) {
        *error = p2p_reader.error();
        return std::nullopt;
    }
    c.dataplane = read_dataplane(*dataplane_json, dataplane_reader);

    // Rules across files; each error is reported against dataplane.json, whose value must fit p2p.json's.
    Reader& r = dataplane_reader;
    if (r.ok() && c.dataplane.reassembly_bytes_max < c.p2p.max_message_bytes) {
        json const got = c.dataplane.reassembly_bytes_max;
        r.fail("reassembly_bytes_max",
               "at least p2p \"max_message_bytes\" (" + std::to_string(c.p2p.max_message_bytes) +
                   "), or no message of the largest size could be reassembled",
               &got);
    }
    if (r.ok() && c.dataplane.rx_buffer_bytes < c.p2p.cell_bytes) {
        json const got = c.dataplane.rx_buffer_bytes;
        r.fail("rx_buffer_bytes", "at least p2p \"cell_bytes\" (" + std::to_string(c.p2p.cell_bytes) + ")", &got);
    }
    if (r.ok() && c.dataplane.circuits_max < c.p2p.n) {
        json const got = c.dataplane.circuits_max;
        r.fail("circuits_max", "at least p2p \"n\" (" + std::to_string(c.p2p.n) + "): one message uses n circuits",
               &got);
    }
    if (!r.ok()) {
        *error = r.error();
        return std::nullopt;
    }

    // Legal but doubtful.
    long const cpus = sysconf(_SC_NPROCESSORS_CONF);
    for (int cpu : c.dataplane.cores) {
        if (cpus > 0 && cpu >= cpus)
            c.warnings.push_back((config_dir / "dataplane.json").string() + ": \"cores\": cpu " + std::to_string(cpu) +
                                 " does not exist on this machine (it has " + std::to_string(cpus) + ")");
    }
    std::optional<Endpoint> const api = parse_numeric_endpoint(c.settings.api_host, c.settings.api_port);
    bool const loopback = api && ((api->family == Endpoint::Family::kIpv4 && api->addr[0] == 127) ||
                                  (api->family == Endpoint::Family::kIpv6 &&
                                   std::all_of(api->addr.begin(), api->addr.end() - 1, [](uint8_t b) { return b == 0; }) &&
                                   api->addr[15] == 1));
    if (!loopback) {
        c.warnings.push_back((config_dir / "settings.json").string() + ": \"server-settings.host\": " +
                             c.settings.api_host + " is not a loopback address: the API is reachable from the network");
        // Reachable from the network: every route wants the token, whatever the file says.
        c.settings.api_token_required_for_reads = true;
    }
    return c;
}

}  // namespace

EnvLookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

std::optional<Config> load(const std::filesystem::path& config_dir, const std::filesystem::path& data_dir,
                           const EnvLookup& env, std::string* error) {
    std::string message;
    try {
        std::optional<Config> c = load_checked(config_dir, data_dir, env, &message);
        if (c) return c;
    } catch (const std::exception& e) {
        message = config_dir.string() + ": " + e.what();
    }
    if (error != nullptr) *error = message;
    return std::nullopt;
}

std::string unknown_override(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
        for (const FileSpec& file : kFiles) {
            std::string const prefix = variable_name(file.name, "");
            if (name.compare(0, prefix.size(), prefix) != 0) continue;
            std::vector<std::string> variables;
            for (const KeySpec& k : file.keys) variables.push_back(variable_name(file.name, k.name));
            if (std::find(variables.begin(), variables.end(), name) != variables.end()) continue;
            std::vector<std::string_view> const views(variables.begin(), variables.end());
            std::string const guess = detail::closest(name, views);
            return "environment variable " + name + " names no key of " + std::string(file.name) + ".json" +
                   (guess.empty() ? std::string(" (see docs/OPERATIONS.md)") : "; did you mean " + guess + "?");
        }
    }
    return {};
}

std::optional<Config> load_from_environment(const std::string& config_dir_override,
                                            const std::string& data_dir_override, std::string* error) {
    try {
        std::vector<std::string> names;
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
            std::string_view const entry(*e);
            names.emplace_back(entry.substr(0, entry.find('=')));
        }
        std::string const unknown = unknown_override(names);
        if (!unknown.empty()) {
            if (error != nullptr) *error = unknown;
            return std::nullopt;
        }
        EnvLookup const env = process_environment();
        auto folder = [&env](const std::string& override_value, std::string_view variable, const char* fallback) {
            if (!override_value.empty()) return std::filesystem::path(override_value);
            std::optional<std::string> const v = env(variable);
            return std::filesystem::path(v && !v->empty() ? *v : fallback);
        };
        return load(folder(config_dir_override, "VOXA_CONFIG_PATH", "config"),
                    folder(data_dir_override, "VOXA_DATA_PATH", "data"), env, error);
    } catch (const std::exception& e) {
        if (error != nullptr) *error = std::string("configuration: ") + e.what();
        return std::nullopt;
    }
}

std::optional<Settings> parse_settings(std::string_view text, std::string_view file_label, std::string* error) {
    return parse_text<Settings>(text, file_label, error, &read_settings);
}
std::optional<P2p> parse_p2p(std::string_view text, std::string_view file_label, std::string* error) {
    return parse_text<P2p>(text, file_label, error, &read_p2p);
}
std::optional<Dataplane> parse_dataplane(std::string_view text, std::string_view file_label, std::string* error) {
    return parse_text<Dataplane>(text, file_label, error, &read_dataplane);
}

namespace {
json plugin_settings_json(const Settings& s) {
    json out = json::object();
    // The texts were dumped from parsed JSON by read_settings (or set by code that owns them); a text that does
    // not parse becomes an empty object rather than an exception.
    for (const auto& [name, text] : s.plugin_settings) out[name] = json::parse(text, nullptr, false);
    for (auto& [name, value] : out.items())
        if (value.is_discarded()) value = json::object();
    return out;
}
}  // namespace

json to_json(const Settings& s) {
    return json{
        {"node-name", s.node_name},
        {"node-network-level", s.node_network_level},
        {"server-settings", {{"host", s.api_host}, {"port", s.api_port}}},
        {"features",
         {{"enable-dns", s.enable_dns},
          {"enable-upnpc-port-forwarding", s.enable_upnpc_port_forwarding},
          {"enable-kytan-vpn", s.enable_kytan_vpn},
          {"enable-app-deployment", s.enable_app_deployment}}},
        {"plugins", s.plugins},
        {"log-level", s.log_level},
        {"plugin-settings", plugin_settings_json(s)},
        {"drain-deadline-s", s.drain_deadline_s},
        {"api-token-required-for-reads", s.api_token_required_for_reads},
    };
}

json to_json(const P2p& p) {
    json nodes = json::array();
    for (const BootstrapNode& b : p.bootstrap_nodes) {
        json node = {{"id", to_hex(b.id)}, {"public_key", to_hex(b.ed25519)}, {"host", b.host}, {"port", b.port}};
        if (b.api_port != 0) node["api_port"] = b.api_port;
        if (b.dht_port != 0) node["dht_port"] = b.dht_port;
        nodes.push_back(std::move(node));
    }
    return json{
        {"host", p.host},
        {"port", p.port},
        {"advertise_host", p.advertise_host},
        {"bootstrap_nodes", nodes},
        {"relay", p.relay},
        {"capacity", p.capacity},
        {"hops", p.hops},
        {"n", p.n},
        {"k", p.k},
        {"parts_per_relay_max", p.parts_per_relay_max},
        {"cell_bytes", p.cell_bytes},
        {"max_message_bytes", p.max_message_bytes},
        {"gossip_interval_s", p.gossip_interval_s},
        {"circuit_lifetime_s", p.circuit_lifetime_s},
        {"connection_timeout", p.connection_timeout},
        {"max_peers", p.max_peers},
        {"discovery", p.discovery},
    };
}

static json to_json_dpdk(const Dataplane::Dpdk& k) {
    json ports = json::array();
    for (const auto& p : k.ports) {
        json o = {{"device", p.device}};
        if (!p.ipv4.empty()) o["ipv4"] = p.ipv4;
        if (!p.ipv6.empty()) o["ipv6"] = p.ipv6;
        if (!p.mac.empty()) o["mac"] = p.mac;
        if (p.checksum != netstack::ChecksumPolicy::kAuto) o["checksum"] = netstack::checksum_policy_name(p.checksum);
        json ns = json::array();
        for (const auto& n : p.neighbours) ns.push_back({{"ip", n.ip}, {"mac", n.mac}});
        o["neighbours"] = std::move(ns);
        ports.push_back(std::move(o));
    }
    return json{{"eal_args", k.eal_args},       {"ports", std::move(ports)}, {"mempool_mbufs", k.mempool_mbufs},
                {"mbuf_cache", k.mbuf_cache},   {"rx_desc", k.rx_desc},      {"tx_desc", k.tx_desc},
                {"file_prefix", k.file_prefix}, {"in_memory", k.in_memory},  {"no_huge", k.no_huge},
                {"hugepages", k.hugepages}};
}

json to_json(const Dataplane& d) {
    return json{
        {"backend", d.backend},
        {"cores", d.cores},
        {"pin", d.pin},
        {"rx_batch", d.rx_batch},
        {"tx_batch", d.tx_batch},
        {"tx_flush_us", d.tx_flush_us},
        {"rx_buffers", d.rx_buffers},
        {"rx_buffer_bytes", d.rx_buffer_bytes},
        {"tx_slots", d.tx_slots},
        {"ring_entries", d.ring_entries},
        {"sqpoll", d.sqpoll},
        {"gso", d.gso},
        {"gro", d.gro},
        {"bpf_steering", d.bpf_steering},
        {"idle_spins", d.idle_spins},
        {"sleep_max_us", d.sleep_max_us},
        {"circuits_max", d.circuits_max},
        {"reassembly_bytes_max", d.reassembly_bytes_max},
        {"handover_slots", d.handover_slots},
        {"dpdk", to_json_dpdk(d.dpdk)},
    };
}

json to_json(const Config& c) {
    return json{
        {"config_path", c.config_dir.string()},
        {"data_path", c.data_dir.string()},
        {"settings", to_json(c.settings)},
        {"p2p", to_json(c.p2p)},
        {"dataplane", to_json(c.dataplane)},
    };
}

std::optional<Endpoint> parse_numeric_endpoint(std::string_view host, uint16_t port) {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (host.empty() || host.size() >= sizeof buffer || host.find('\0') != std::string_view::npos) return std::nullopt;
    std::copy(host.begin(), host.end(), buffer);
    Endpoint e;
    e.port = port;
    if (host.find(':') == std::string_view::npos) {
        if (inet_pton(AF_INET, buffer, e.addr.data()) != 1) return std::nullopt;
        e.family = Endpoint::Family::kIpv4;
    } else {
        if (inet_pton(AF_INET6, buffer, e.addr.data()) != 1) return std::nullopt;
        e.family = Endpoint::Family::kIpv6;
    }
    return e;
}

bool is_wildcard(const Endpoint& e) noexcept {
    std::size_t const bytes = e.family == Endpoint::Family::kIpv4 ? 4 : e.family == Endpoint::Family::kIpv6 ? 16 : 0;
    return bytes != 0 && std::all_of(e.addr.begin(), e.addr.begin() + bytes, [](uint8_t b) { return b == 0; });
}

}  // namespace voxa::config

namespace voxa::config {

std::optional<std::pair<Endpoint, uint8_t>> parse_prefix(std::string_view text) {
    std::size_t const slash = text.find('/');
    if (slash == std::string_view::npos || slash + 1 >= text.size() || text.size() - slash - 1 > 3) return std::nullopt;
    std::optional<Endpoint> const e = parse_numeric_endpoint(text.substr(0, slash), 0);
    if (!e) return std::nullopt;
    unsigned len = 0;
    for (char c : text.substr(slash + 1)) {
        if (c < '0' || c > '9') return std::nullopt;
        len = len * 10 + unsigned(c - '0');
    }
    if (len > (e->family == Endpoint::Family::kIpv4 ? 32u : 128u)) return std::nullopt;
    return std::pair{*e, uint8_t(len)};
}

std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    std::array<uint8_t, 6> m{};
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 6; ++i) {
        int const hi = nibble(text[3 * i]), lo = nibble(text[3 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[3 * i + 2] != ':' && text[3 * i + 2] != '-') return std::nullopt;
        m[i] = uint8_t(hi << 4 | lo);
    }
    return m;
}

}  // namespace voxa::config
