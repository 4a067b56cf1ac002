// Configuration loading: the shipped files, defaults, one test per validation rule (the message must name the
// file, the key and the expectation), environment overrides, bootstrap nodes, and the to_json round trip.
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "crypto/identity.h"

namespace voxa::config {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifndef VOXA_SOURCE_DIR
#error "the test needs VOXA_SOURCE_DIR (set by tests/unit/config/meson.build)"
#endif
fs::path shipped_dir() { return fs::path(VOXA_SOURCE_DIR) / "config"; }

// A fresh, empty folder under the system temp dir, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        uint8_t r[8];
        randombytes_buf(r, sizeof r);
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        path_ = fs::temp_directory_path() / (std::string("voxa-config-test-") + hex);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }

private:
    fs::path path_;
};

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto const it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}
EnvLookup no_env() { return env_of({}); }

struct Peer {
    std::string id, key;
};
Peer make_peer() {
    crypto::Identity const identity = crypto::Identity::generate();
    return {to_hex(identity.id()), to_hex(identity.peer().ed25519)};
}
json bootstrap_json(const Peer& p, const std::string& host, int port) {
    return {{"id", p.id}, {"public_key", p.key}, {"host", host}, {"port", port}};
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text(fs::file_size(path), '\0');
    in.read(text.data(), std::streamsize(text.size()));
    return text;
}

// The error of parsing `text` as the file `file` ("settings", "p2p" or "dataplane"), labelled config/<file>.json.
std::string error_of(const std::string& file, const std::string& text) {
    std::string error;
    std::string const label = "config/" + file + ".json";
    bool ok = false;
    if (file == "settings") ok = parse_settings(text, label, &error).has_value();
    if (file == "p2p") ok = parse_p2p(text, label, &error).has_value();
    if (file == "dataplane") ok = parse_dataplane(text, label, &error).has_value();
    return ok ? "(accepted)" : error;
}

// ---- shipped files and defaults ----

TEST(ConfigShipped, EachShippedFileLoadsAndHoldsTheDefaults) {
    std::string error;
    auto const c = load(shipped_dir(), "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    // The shipped node runs the REST api plugin; everything else is the defaults.
    EXPECT_EQ(c->settings.plugins, std::vector<std::string>{"api"});
    Settings shipped_defaults;
    shipped_defaults.plugins = {"api"};
    EXPECT_EQ(to_json(c->settings), to_json(shipped_defaults));
    EXPECT_EQ(to_json(c->p2p), to_json(P2p{}));
    EXPECT_EQ(to_json(c->dataplane), to_json(Dataplane{}));
    EXPECT_EQ(c->config_dir, shipped_dir());
    EXPECT_EQ(c->data_dir, fs::path("data"));
    // Each file also parses on its own, and every key of the effective configuration is written in it, so the
    // shipped files double as a complete example.
    for (std::string file : {"settings", "p2p", "dataplane"}) {
        std::string const text = read_text(shipped_dir() / (file + ".json"));
        EXPECT_EQ(error_of(file, text), "(accepted)") << file;
        json const written = json::parse(text);
        json const effective = to_json(*c)[file];
        for (const auto& item : effective.items()) EXPECT_TRUE(written.contains(item.key())) << file << ": " << item.key();
        EXPECT_EQ(written.size(), effective.size()) << file;
    }
}

TEST(ConfigShipped, EmptyFolderGivesDefaults) {
    TempDir dir;
    std::string error;
    auto const c = load(dir.path(), dir.path() / "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->settings, Settings{});
    EXPECT_EQ(c->settings.api_port, 9999);
    EXPECT_EQ(c->p2p.port, 9000);
    EXPECT_EQ(c->p2p.n, 5);
    EXPECT_EQ(c->p2p.k, 3);
    EXPECT_EQ(c->p2p.hops, 3);
    EXPECT_EQ(c->p2p.cell_bytes, 1280u);
    EXPECT_EQ(c->p2p.listen.to_string(), "0.0.0.0:9000");
    EXPECT_EQ(c->p2p.advertise.family, Endpoint::Family::kNone);   // wildcard listen, nothing to announce
    EXPECT_EQ(c->dataplane, Dataplane{});
    EXPECT_EQ(c->dataplane.cores, std::vector<int>{0});
}

TEST(ConfigShipped, OneMissingFileMeansDefaultsForThatFileOnly) {
    TempDir dir;
    dir.write("p2p.json", R"({"port": 9100})");
    std::string error;
    auto const c = load(dir.path(), "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->p2p.port, 9100);
    EXPECT_EQ(c->p2p.hops, 3);   // missing key: default
    EXPECT_EQ(c->settings, Settings{});
    EXPECT_EQ(c->dataplane, Dataplane{});
}

TEST(ConfigShipped, MissingFolderIsAnError) {
    TempDir dir;
    std::string error;
    EXPECT_FALSE(load(dir.path() / "nope", "data", no_env(), &error));
    EXPECT_NE(error.find("nope"), std::string::npos) << error;
    EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
}

// ---- the shape of a file ----

TEST(ConfigFile, ParseErrorNamesFileLineAndColumn) {
    TempDir dir;
    dir.write("p2p.json", "{\n  \"port\": 9000,\n  \"host\" \"10.0.0.1\"\n}\n");
    std::string error;
    EXPECT_FALSE(load(dir.path(), "data", no_env(), &error));
    // The position is where the parser stopped: the last character of the unexpected token.
    std::string const prefix = (dir.path() / "p2p.json").string() + ": line 3, column 19: invalid JSON: ";
    EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
}

TEST(ConfigFile, EmptyFileIsAnError) {
    EXPECT_NE(error_of("p2p", "").find("config/p2p.json: line 1, column 1: invalid JSON"), std::string::npos)
        << error_of("p2p", "");
}

TEST(ConfigFile, TopLevelMustBeAnObject) {
    EXPECT_EQ(error_of("dataplane", "[1, 2]"),
              "config/dataplane.json: expected a JSON object ({...}) at the top level, got [1,2]");
}

TEST(ConfigFile, DuplicateKeyIsAnError) {
    EXPECT_EQ(error_of("p2p", R"({"port": 9000, "hops": 2, "port": 9001})"),
              "config/p2p.json: \"port\": key appears more than once in its object");
    EXPECT_EQ(error_of("settings", R"({"server-settings": {"host": "127.0.0.1", "host": "::1"}})"),
              "config/settings.json: \"server-settings.host\": key appears more than once in its object");
    EXPECT_EQ(error_of("dataplane", R"({"dpdk": {"ports": []}, "cores": [1, 2], "pin": true, "pin": false})"),
              "config/dataplane.json: \"pin\": key appears more than once in its object");
}

TEST(ConfigFile, UnknownKeySuggestsTheClosest) {
    EXPECT_EQ(error_of("p2p", R"({"prot": 9000})"), "config/p2p.json: \"prot\": unknown key; did you mean \"port\"?");
    EXPECT_EQ(error_of("settings", R"({"server-settings": {"hots": "127.0.0.1"}})"),
              "config/settings.json: \"server-settings.hots\": unknown key; did you mean \"host\"?");
    EXPECT_EQ(error_of("settings", R"({"node_network_level": 1})"),
              "config/settings.json: \"node_network_level\": unknown key; did you mean \"node-network-level\"?");
}

TEST(ConfigFile, UnknownKeyFarFromAnyListsTheKnownKeys) {
    std::string const e = error_of("dataplane", R"({"dpdk": {"whatever": 1}})");
    EXPECT_EQ(e, "config/dataplane.json: \"dpdk.whatever\": unknown key (known keys: eal_args, ports, mempool_mbufs, "
                 "mbuf_cache, rx_desc, tx_desc, file_prefix, in_memory, no_huge, hugepages)");
}

TEST(ConfigFile, DeepNestingIsRefused) {
    std::string const deep = "{\"plugins\": " + std::string(10000, '[') + std::string(10000, ']') + "}";
    EXPECT_EQ(error_of("settings", deep), "config/settings.json: values nested more than 16 levels deep");
    EXPECT_EQ(error_of("settings", R"({"plugins": [[[]]]})"),
              "config/settings.json: \"plugins[0]\": expected a non-empty string of at most 64 bytes, got [[]]");
}

TEST(ConfigFile, OversizedFileIsRefused) {
    std::string const text = "{\"port\": 9000" + std::string(kFileBytesMax, ' ') + "}";
    EXPECT_NE(error_of("p2p", text).find("config/p2p.json: file too large"), std::string::npos);
}

TEST(ConfigFile, AFolderInPlaceOfAFileIsAnError) {
    TempDir dir;
    fs::create_directory(dir.path() / "settings.json");
    std::string error;
    EXPECT_FALSE(load(dir.path(), "data", no_env(), &error));
    EXPECT_EQ(error, (dir.path() / "settings.json").string() + ": not a regular file");
}

// Every key the effective configuration writes is a key the reader accepts, and has an override variable.
TEST(ConfigFile, EveryWrittenKeyIsAcceptedAndOverridable) {
    Config c;
    json const all = to_json(c);
    for (std::string file : {"settings", "p2p", "dataplane"}) {
        for (const auto& item : all[file].items()) {
            json one = json::object();
            one[item.key()] = item.value();
            EXPECT_EQ(error_of(file, one.dump()), "(accepted)") << file << ": " << item.key();
            std::string variable = "VOXA_";
            for (char ch : file) variable += char(std::toupper(static_cast<unsigned char>(ch)));
            variable += '_';
            for (char ch : item.key()) variable += ch == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(ch)));
            EXPECT_EQ(unknown_override({variable}), "") << variable;
        }
    }
}

// ---- one test per validation rule: the exact message, naming file, key and expectation ----

struct Rule {
    const char* file;
    const char* text;
    const char* error;
};

void expect_rules(std::initializer_list<Rule> rules) {
    for (const Rule& r : rules) EXPECT_EQ(error_of(r.file, r.text), r.error) << r.text;
}

TEST(ConfigRules, TheExampleFromTheBrief) {
    EXPECT_EQ(error_of("p2p", R"({"port": "abc"})"),
              "config/p2p.json: \"port\": expected an integer 1..65535, got \"abc\"");
}

TEST(ConfigRules, P2pListenAddressAndPort) {
    expect_rules({
        {"p2p", R"({"port": 0})", "config/p2p.json: \"port\": expected an integer 1..65535, got 0"},
        {"p2p", R"({"port": 65536})", "config/p2p.json: \"port\": expected an integer 1..65535, got 65536"},
        {"p2p", R"({"port": 9000.5})", "config/p2p.json: \"port\": expected an integer 1..65535, got 9000.5"},
        {"p2p", R"({"port": null})", "config/p2p.json: \"port\": expected an integer 1..65535, got null"},
        {"p2p", R"({"host": "localhost"})",
         "config/p2p.json: \"host\": expected a numeric IPv4 or IPv6 address such as \"10.0.0.1\", \"0.0.0.0\" or "
         "\"::\" (no host names), got \"localhost\""},
        {"p2p", R"({"host": 10})",
         "config/p2p.json: \"host\": expected a numeric IPv4 or IPv6 address such as \"10.0.0.1\", \"0.0.0.0\" or "
         "\"::\" (no host names), got 10"},
        {"p2p", R"({"advertise_host": "0.0.0.0"})",
         "config/p2p.json: \"advertise_host\": expected a numeric IPv4 or IPv6 address such as \"10.0.0.1\" or "
         "\"fd00::1\", not a wildcard (no host names), got \"0.0.0.0\""},
        {"p2p", R"({"host": "10.0.0.1", "advertise_host": "fd00::1"})",
         "config/p2p.json: \"advertise_host\": expected an IPv4 address, like \"host\" (10.0.0.1; listen on \"::\" "
         "for both families), got \"fd00::1\""},
    });
    std::string error;
    auto const p = parse_p2p(R"({"host": "::", "port": 9001, "advertise_host": "192.0.2.7"})", "p2p", &error);
    ASSERT_TRUE(p) << error;   // "::" is dual-stack: either family may be advertised
    EXPECT_EQ(p->listen.to_string(), "[::]:9001");
    EXPECT_EQ(p->advertise.to_string(), "192.0.2.7:9001");
    auto const q = parse_p2p(R"({"host": "10.1.2.3"})", "p2p", &error);
    ASSERT_TRUE(q) << error;
    EXPECT_EQ(q->advertise_host, "10.1.2.3");   // defaults to a non-wildcard host
    EXPECT_EQ(q->advertise.to_string(), "10.1.2.3:9000");
}

TEST(ConfigRules, P2pAdvertiseHostRequiredWithWildcardAndBootstrapNodes) {
    Peer const peer = make_peer();
    json j = {{"host", "0.0.0.0"}, {"bootstrap_nodes", {bootstrap_json(peer, "10.0.0.1", 9000)}}};
    EXPECT_EQ(error_of("p2p", j.dump()),
              "config/p2p.json: \"advertise_host\": expected the numeric address other nodes dial to reach this node "
              "(required because \"host\" is the wildcard \"0.0.0.0\" and \"bootstrap_nodes\" is not empty)");
    j["advertise_host"] = "10.0.0.9";
    EXPECT_EQ(error_of("p2p", j.dump()), "(accepted)");
}

TEST(ConfigRules, P2pCircuitAndSplitting) {
    expect_rules({
        {"p2p", R"({"relay": "yes"})", "config/p2p.json: \"relay\": expected true or false, got \"yes\""},
        {"p2p", R"({"capacity": 0})", "config/p2p.json: \"capacity\": expected an integer 1..1000000, got 0"},
        {"p2p", R"({"capacity": 1000001})",
         "config/p2p.json: \"capacity\": expected an integer 1..1000000, got 1000001"},
        {"p2p", R"({"hops": 0})", "config/p2p.json: \"hops\": expected an integer 1..8, got 0"},
        {"p2p", R"({"hops": 9})", "config/p2p.json: \"hops\": expected an integer 1..8, got 9"},
        {"p2p", R"({"n": 17})", "config/p2p.json: \"n\": expected an integer 1..16, got 17"},
        {"p2p", R"({"k": 0})", "config/p2p.json: \"k\": expected an integer 1..16, got 0"},
        {"p2p", R"({"n": 4, "k": 5})",
         "config/p2p.json: \"k\": expected an integer 1..n (\"n\" is 4): any k of the n parts rebuild a message, got 5"},
        {"p2p", R"({"n": 2})",   // k keeps its default 3
         "config/p2p.json: \"k\": expected an integer 1..n (\"n\" is 2): any k of the n parts rebuild a message, got 3"},
        {"p2p", R"({"parts_per_relay_max": 0})",
         "config/p2p.json: \"parts_per_relay_max\": expected an integer 1..16, got 0"},
        {"p2p", R"({"parts_per_relay_max": 3})",
         "config/p2p.json: \"parts_per_relay_max\": expected 1, or less than \"k\" (3) so that no relay ever carries "
         "k parts of a message, got 3"},
        {"p2p", R"({"k": 1, "parts_per_relay_max": 2})",
         "config/p2p.json: \"parts_per_relay_max\": expected 1, or less than \"k\" (1) so that no relay ever carries "
         "k parts of a message, got 2"},
        {"p2p", R"({"parts_per_relay_max": 2})", "(accepted)"},
        {"p2p", R"({"n": 16, "k": 16, "hops": 8, "parts_per_relay_max": 15})", "(accepted)"},
        {"p2p", R"({"cell_bytes": 1000})",
         "config/p2p.json: \"cell_bytes\": expected an integer 512..8192, a multiple of 16, got 1000"},
        {"p2p", R"({"cell_bytes": 496})",
         "config/p2p.json: \"cell_bytes\": expected an integer 512..8192, a multiple of 16, got 496"},
        {"p2p", R"({"cell_bytes": 8208})",
         "config/p2p.json: \"cell_bytes\": expected an integer 512..8192, a multiple of 16, got 8208"},
        {"p2p", R"({"cell_bytes": 512})", "(accepted)"},
        {"p2p", R"({"max_message_bytes": 1023})",
         "config/p2p.json: \"max_message_bytes\": expected an integer 1024..1073741824, got 1023"},
        {"p2p", R"({"max_message_bytes": 1073741825})",
         "config/p2p.json: \"max_message_bytes\": expected an integer 1024..1073741824, got 1073741825"},
        {"p2p", R"({"max_message_bytes": 18446744073709551615})",
         "config/p2p.json: \"max_message_bytes\": expected an integer 1024..1073741824, got 18446744073709551615"},
    });
}

TEST(ConfigRules, P2pTimersAndOriginalKeys) {
    expect_rules({
        {"p2p", R"({"gossip_interval_s": 0})",
         "config/p2p.json: \"gossip_interval_s\": expected an integer 1..3600, got 0"},
        {"p2p", R"({"circuit_lifetime_s": 5})",
         "config/p2p.json: \"circuit_lifetime_s\": expected an integer 10..86400, got 5"},
        {"p2p", R"({"connection_timeout": 0})",
         "config/p2p.json: \"connection_timeout\": expected an integer 1..3600, got 0"},
        {"p2p", R"({"max_peers": -1})", "config/p2p.json: \"max_peers\": expected an integer 1..1000000, got -1"},
        {"p2p", R"({"connection_timeout": 10, "max_peers": 50})", "(accepted)"},
    });
}

TEST(ConfigRules, SettingsKeys) {
    expect_rules({
        {"settings", R"({"node-name": ""})",
         "config/settings.json: \"node-name\": expected a name of 1..64 printable characters, got \"\""},
        {"settings", "{\"node-name\": \"a\\u0001b\"}",
         "config/settings.json: \"node-name\": expected a name of 1..64 printable characters, got \"a\\u0001b\""},
        {"settings", R"({"node-network-level": 256})",
         "config/settings.json: \"node-network-level\": expected an integer 0..255, got 256"},
        {"settings", R"({"server-settings": 9999})",
         "config/settings.json: \"server-settings\": expected an object {...}, got 9999"},
        {"settings", R"({"server-settings": {"port": -1}})",
         "config/settings.json: \"server-settings.port\": expected an integer 0..65535, got -1"},
        {"settings", R"({"server-settings": {"port": 0}})", "(accepted)"},
        {"settings", R"({"server-settings": {"host": "api.example"}})",
         "config/settings.json: \"server-settings.host\": expected a numeric IPv4 or IPv6 address such as "
         "\"10.0.0.1\", \"0.0.0.0\" or \"::\" (no host names), got \"api.example\""},
        {"settings", R"({"features": {"enable-dns": 1}})",
         "config/settings.json: \"features.enable-dns\": expected true or false, got 1"},
        {"settings", R"({"features": {"enable-dnz": true}})",
         "config/settings.json: \"features.enable-dnz\": unknown key; did you mean \"enable-dns\"?"},
        {"settings", R"({"plugins": "api"})",
         "config/settings.json: \"plugins\": expected an array of at most 64 strings, got \"api\""},
        {"settings", R"({"plugins": ["api", ""]})",
         "config/settings.json: \"plugins[1]\": expected a non-empty string of at most 64 bytes, got \"\""},
        {"settings", R"({"plugins": ["../../tmp/evil"]})",
         "config/settings.json: \"plugins[0]\": expected a plugin name of 1..32 of a-z, 0-9 and '_' (a name, not a "
         "path), got \"../../tmp/evil\""},
        {"settings", R"({"plugins": ["Api"]})",
         "config/settings.json: \"plugins[0]\": expected a plugin name of 1..32 of a-z, 0-9 and '_' (a name, not a "
         "path), got \"Api\""},
        {"settings", R"({"plugin-settings": []})",
         "config/settings.json: \"plugin-settings\": expected an object {\"<plugin name>\": {...}, ...}, got []"},
        {"settings", R"({"plugin-settings": {"api": 5}})",
         "config/settings.json: \"plugin-settings.api\": expected an object of the plugin's settings, got 5"},
        {"settings", R"({"plugin-settings": {"../x": {}}})",
         "config/settings.json: \"plugin-settings.../x\": expected a plugin name of 1..32 of a-z, 0-9 and '_' as "
         "the key"},
        {"settings", R"({"drain-deadline-s": 0})",
         "config/settings.json: \"drain-deadline-s\": expected an integer 1..3600, got 0"},
        {"settings", R"({"drain-deadline-s": 3601})",
         "config/settings.json: \"drain-deadline-s\": expected an integer 1..3600, got 3601"},
        {"settings", R"({"api-token-required-for-reads": "yes"})",
         "config/settings.json: \"api-token-required-for-reads\": expected true or false, got \"yes\""},
        {"settings", R"({"plugins": ["api", "dns", "api"]})",
         "config/settings.json: \"plugins[2]\": \"api\" is listed twice"},
        {"settings", R"({"log-level": "verbose"})",
         "config/settings.json: \"log-level\": expected one of \"debug\", \"info\", \"warn\", \"error\", got "
         "\"verbose\""},
    });
    std::string error;
    auto const s = parse_settings(
        R"({"node-name": "relay-7", "node-network-level": 2, "server-settings": {"host": "::1", "port": 8080},
            "features": {"enable-dns": true, "enable-app-deployment": true}, "plugins": ["api", "dns_store"],
            "log-level": "debug"})",
        "settings", &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->node_name, "relay-7");
    EXPECT_EQ(s->node_network_level, 2);
    EXPECT_EQ(s->api_host, "::1");
    EXPECT_EQ(s->api_port, 8080);
    EXPECT_TRUE(s->enable_dns);
    EXPECT_FALSE(s->enable_upnpc_port_forwarding);
    EXPECT_TRUE(s->enable_app_deployment);
    EXPECT_EQ(s->plugins, (std::vector<std::string>{"api", "dns_store"}));
    EXPECT_EQ(s->log_level, "debug");
}

TEST(ConfigRules, ControlPlaneKeysOfIssue4) {
    std::string error;
    auto const s = parse_settings(
        R"({"plugins": ["api", "echo_2"], "plugin-settings": {"api": {"max_body_bytes": 1024, "x": [1, 2]}},
            "drain-deadline-s": 30, "api-token-required-for-reads": true, "server-settings": {"port": 0}})",
        "settings", &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->drain_deadline_s, 30u);
    EXPECT_TRUE(s->api_token_required_for_reads);
    EXPECT_EQ(s->api_port, 0);
    ASSERT_EQ(s->plugin_settings.count("api"), 1u);
    EXPECT_EQ(json::parse(s->plugin_settings.at("api")), json::parse(R"({"max_body_bytes": 1024, "x": [1, 2]})"));
    // Written back, the section loads to an equal value.
    auto const again = parse_settings(to_json(*s).dump(), "settings", &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(*again, *s);

    Settings const defaults;
    EXPECT_EQ(defaults.drain_deadline_s, 10u);
    EXPECT_FALSE(defaults.api_token_required_for_reads);
    EXPECT_TRUE(defaults.plugin_settings.empty());
    EXPECT_EQ(to_json(defaults)["plugin-settings"], json::object());
}

TEST(ConfigRules, TokenForReadsIsForcedWhenTheApiIsNotOnLoopback) {
    TempDir dir;
    std::string error;
    dir.write("settings.json", R"({"server-settings": {"host": "127.0.0.1", "port": 9999}})");
    auto c = load(dir.path(), "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_FALSE(c->settings.api_token_required_for_reads);
    dir.write("settings.json", R"({"server-settings": {"host": "0.0.0.0", "port": 9999},
                                   "api-token-required-for-reads": false})");
    c = load(dir.path(), "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_TRUE(c->settings.api_token_required_for_reads);
}

TEST(ConfigRules, DataplaneKeys) {
    expect_rules({
        {"dataplane", R"({"backend": "xdp"})",
         "config/dataplane.json: \"backend\": expected one of \"io_uring\", \"dpdk\", got \"xdp\""},
        {"dataplane", R"({"cores": []})",
         "config/dataplane.json: \"cores\": expected an array of 1..64 cpu numbers (one worker per entry), e.g. "
         "[0, 1], got []"},
        {"dataplane", R"({"cores": "0,1"})",
         "config/dataplane.json: \"cores\": expected an array of 1..64 cpu numbers (one worker per entry), e.g. "
         "[0, 1], got \"0,1\""},
        {"dataplane", R"({"cores": [0, -1]})",
         "config/dataplane.json: \"cores[1]\": expected a cpu number 0..1023, got -1"},
        {"dataplane", R"({"cores": [2, 3, 2]})",
         "config/dataplane.json: \"cores[2]\": cpu 2 is listed twice (one worker per cpu)"},
        {"dataplane", R"({"pin": 1})", "config/dataplane.json: \"pin\": expected true or false, got 1"},
        {"dataplane", R"({"rx_batch": 0})", "config/dataplane.json: \"rx_batch\": expected an integer 1..1024, got 0"},
        {"dataplane", R"({"tx_batch": 1025})",
         "config/dataplane.json: \"tx_batch\": expected an integer 1..1024, got 1025"},
        {"dataplane", R"({"tx_flush_us": 100001})",
         "config/dataplane.json: \"tx_flush_us\": expected an integer 0..100000, got 100001"},
        {"dataplane", R"({"rx_buffers": 100})",
         "config/dataplane.json: \"rx_buffers\": expected a power of two 1..32768, got 100"},
        {"dataplane", R"({"rx_buffer_bytes": 100})",
         "config/dataplane.json: \"rx_buffer_bytes\": expected an integer 512..1048576, got 100"},
        {"dataplane", R"({"tx_slots": 0})", "config/dataplane.json: \"tx_slots\": expected an integer 1..1048576, got 0"},
        {"dataplane", R"({"tx_batch": 64, "tx_slots": 32})",
         "config/dataplane.json: \"tx_slots\": expected at least \"tx_batch\" (64), got 32"},
        {"dataplane", R"({"ring_entries": 65536})",
         "config/dataplane.json: \"ring_entries\": expected a power of two 8..32768, got 65536"},
        {"dataplane", R"({"sqpoll": "false"})", "config/dataplane.json: \"sqpoll\": expected true or false, got \"false\""},
        {"dataplane", R"({"gso": null})", "config/dataplane.json: \"gso\": expected true or false, got null"},
        {"dataplane", R"({"gro": 0})", "config/dataplane.json: \"gro\": expected true or false, got 0"},
        {"dataplane", R"({"bpf_steering": []})",
         "config/dataplane.json: \"bpf_steering\": expected true or false, got []"},
        {"dataplane", R"({"idle_spins": -1})",
         "config/dataplane.json: \"idle_spins\": expected an integer 0..1000000, got -1"},
        {"dataplane", R"({"sleep_max_us": 1000001})",
         "config/dataplane.json: \"sleep_max_us\": expected an integer 1..1000000, got 1000001"},
        {"dataplane", R"({"circuits_max": 0})",
         "config/dataplane.json: \"circuits_max\": expected an integer 1..16777216, got 0"},
        {"dataplane", R"({"reassembly_bytes_max": 1000})",
         "config/dataplane.json: \"reassembly_bytes_max\": expected an integer 1048576..1099511627776, got 1000"},
        {"dataplane", R"({"handover_slots": 1000})",
         "config/dataplane.json: \"handover_slots\": expected a power of two 2..65536, got 1000"},
        {"dataplane", R"({"dpdk": {"eal_args": ["-l", 1]}})",
         "config/dataplane.json: \"dpdk.eal_args[1]\": expected a non-empty string of at most 256 bytes, got 1"},
        {"dataplane", R"({"dpdk": {"ports": [{"device": "0000:01:00.0", "ipv4": "10.0.0.2/24"}], "eal_args": ["-n", "4"]}})",
         "(accepted)"},
        {"dataplane", R"({"dpdk": {"ports": ["0000:01:00.0"]}})",
         "config/dataplane.json: \"dpdk.ports[0]\": expected an object {\"device\": \"net_af_packet0,iface=eth0\" or a "
         "PCI address, \"ipv4\": \"10.77.0.12/24\", \"ipv6\"?, \"mac\"?, \"neighbours\"?}, got \"0000:01:00.0\""},
        {"dataplane", R"({"dpdk": {"ports": [{"device": "net_null0", "ipv4": "10.0.0.2"}]}})",
         "config/dataplane.json: \"dpdk.ports[0].ipv4\": expected an IPv4 address with its prefix, e.g. "
         "\"10.77.0.12/24\", got \"10.0.0.2\""},
        {"dataplane", R"({"dpdk": {"ports": [{"device": "net_null0"}]}})",
         "config/dataplane.json: \"dpdk.ports[0]\": \"ipv4\" or \"ipv6\" is required (this node's address on that "
         "port)"},
        {"dataplane", R"({"dpdk": {"ports": [{"device": "net_null0", "ipv4": "10.0.0.2/24", "mac": "01:00:00:00:00:01"}]}})",
         "config/dataplane.json: \"dpdk.ports[0].mac\": expected a unicast MAC address such as "
         "\"02:00:00:00:00:01\", got \"01:00:00:00:00:01\""},
        {"dataplane",
         R"({"dpdk": {"ports": [{"device": "net_null0", "ipv4": "10.0.0.2/24", "neighbours": [{"ip": "10.0.0.1"}]}]}})",
         "config/dataplane.json: \"dpdk.ports[0].neighbours[0]\": both \"ip\" and \"mac\" are required"},
        {"dataplane", R"({"dpdk": {"ports": [{"device": "net_memif0", "ipv4": "10.0.0.2/24", "checksum": "none"}]}})",
         "config/dataplane.json: \"dpdk.ports[0].checksum\": expected \"auto\", \"software\" or \"off\", got \"none\""},
        {"dataplane", R"({"dpdk": {"rx_desc": 1000}})",
         "config/dataplane.json: \"dpdk.rx_desc\": expected a power of two 64..16384, got 1000"},
        {"dataplane", R"({"dpdk": {"file_prefix": "a/b"}})",
         "config/dataplane.json: \"dpdk.file_prefix\": expected 0..64 of letters, digits, '-' and '_' (\"\": "
         "voxa-<node id prefix>), got \"a/b\""},
        {"dataplane", R"({"backend": "dpdk"})",
         "config/dataplane.json: \"dpdk.ports\": at least one port is needed when \"backend\" is \"dpdk\" (e.g. "
         "{\"device\": \"net_af_packet0,iface=eth0\", \"ipv4\": \"10.77.0.12/24\"})"},
    });
}

TEST(ConfigRules, AcrossFilesNameTheOtherFile) {
    struct Case {
        const char* p2p;
        const char* dataplane;
        const char* error;   // after "<dir>/dataplane.json: "
    };
    for (const Case& k : {
             Case{R"({"max_message_bytes": 16777216})", R"({"reassembly_bytes_max": 8388608})",
                  "\"reassembly_bytes_max\": expected at least p2p \"max_message_bytes\" (16777216), or no message of "
                  "the largest size could be reassembled, got 8388608"},
             Case{R"({"cell_bytes": 4096})", R"({"rx_buffer_bytes": 2048})",
                  "\"rx_buffer_bytes\": expected at least p2p \"cell_bytes\" (4096), got 2048"},
             Case{R"({"n": 8, "k": 4})", R"({"circuits_max": 4})",
                  "\"circuits_max\": expected at least p2p \"n\" (8): one message uses n circuits, got 4"},
         }) {
        TempDir dir;
        dir.write("p2p.json", k.p2p);
        dir.write("dataplane.json", k.dataplane);
        std::string error;
        EXPECT_FALSE(load(dir.path(), "data", no_env(), &error));
        EXPECT_EQ(error, (dir.path() / "dataplane.json").string() + ": " + k.error);
    }
}

TEST(ConfigRules, DoubtfulValuesAreWarningsNotErrors) {
    TempDir dir;
    dir.write("dataplane.json", R"({"cores": [0, 1023]})");
    dir.write("settings.json", R"({"server-settings": {"host": "0.0.0.0"}})");
    std::string error;
    auto const c = load(dir.path(), "data", no_env(), &error);
    ASSERT_TRUE(c) << error;
    ASSERT_EQ(c->warnings.size(), 2u);
    EXPECT_NE(c->warnings[0].find("\"cores\": cpu 1023 does not exist"), std::string::npos) << c->warnings[0];
    EXPECT_NE(c->warnings[1].find("reachable from the network"), std::string::npos) << c->warnings[1];
    TempDir quiet;
    auto const d = load(quiet.path(), "data", no_env(), &error);
    ASSERT_TRUE(d) << error;
    EXPECT_TRUE(d->warnings.empty());
}

// ---- bootstrap nodes ----

TEST(ConfigBootstrap, ValidNodeIsRead) {
    Peer const a = make_peer(), b = make_peer();
    json const j = {{"advertise_host", "10.0.0.2"},
                    {"bootstrap_nodes", {bootstrap_json(a, "10.0.0.1", 9000), bootstrap_json(b, "fd00::7", 9001)}}};
    std::string error;
    auto const p = parse_p2p(j.dump(), "p2p.json", &error);
    ASSERT_TRUE(p) << error;
    ASSERT_EQ(p->bootstrap_nodes.size(), 2u);
    EXPECT_EQ(to_hex(p->bootstrap_nodes[0].id), a.id);
    EXPECT_EQ(to_hex(p->bootstrap_nodes[0].ed25519), a.key);
    EXPECT_EQ(p->bootstrap_nodes[0].endpoint.to_string(), "10.0.0.1:9000");
    EXPECT_EQ(p->bootstrap_nodes[1].endpoint.to_string(), "[fd00::7]:9001");
    EXPECT_EQ(p->bootstrap_nodes[1].port, 9001);
    // Upper-case hex is the same key.
    json upper = j;
    std::string id = a.id;
    for (char& c : id) c = char(std::toupper(static_cast<unsigned char>(c)));
    upper["bootstrap_nodes"][0]["id"] = id;
    auto const q = parse_p2p(upper.dump(), "p2p.json", &error);
    ASSERT_TRUE(q) << error;
    EXPECT_EQ(q->bootstrap_nodes[0].id, p->bootstrap_nodes[0].id);
}

TEST(ConfigBootstrap, IdThatDoesNotMatchTheKeyIsRejected) {
    Peer const a = make_peer(), b = make_peer();
    json const j = {{"advertise_host", "10.0.0.2"},
                    {"bootstrap_nodes", {{{"id", b.id}, {"public_key", a.key}, {"host", "10.0.0.1"}, {"port", 9000}}}}};
    EXPECT_EQ(error_of("p2p", j.dump()), "config/p2p.json: \"bootstrap_nodes[0].id\": does not match \"public_key\": "
                                         "the id of that key (BLAKE2b-256) is " + a.id + "; check both values");
}

TEST(ConfigBootstrap, OriginalHostPortSsuStringIsRejectedWithAnExplanation) {
    std::string const e =
        error_of("p2p", R"({"advertise_host": "10.0.0.2", "bootstrap_nodes": ["203.0.113.5:9000$SSU"]})");
    EXPECT_EQ(e.rfind("config/p2p.json: \"bootstrap_nodes[0]\": the original's \"host:port$SSU\" form "
                      "(\"203.0.113.5:9000$SSU\") is not accepted: it carries no key",
                      0),
              0u)
        << e;
    EXPECT_NE(e.find("\"public_key\""), std::string::npos) << e;
    EXPECT_EQ(error_of("p2p", R"({"advertise_host": "10.0.0.2", "bootstrap_nodes": ["10.0.0.1"]})"),
              "config/p2p.json: \"bootstrap_nodes[0]\": expected an object {\"id\", \"public_key\", \"host\", "
              "\"port\"}, got \"10.0.0.1\"");
}

TEST(ConfigBootstrap, EachFieldIsChecked) {
    Peer const a = make_peer(), b = make_peer();
    auto with = [&](json node) {
        return json{{"advertise_host", "10.0.0.2"}, {"bootstrap_nodes", {std::move(node)}}}.dump();
    };
    json node = bootstrap_json(a, "10.0.0.1", 9000);
    json missing = node;
    missing.erase("public_key");
    EXPECT_EQ(error_of("p2p", with(missing)), "config/p2p.json: \"bootstrap_nodes[0].public_key\": missing (required)");
    json extra = node;
    extra["name"] = "x";
    EXPECT_EQ(error_of("p2p", with(extra)),
              "config/p2p.json: \"bootstrap_nodes[0].name\": unknown key (known keys: id, public_key, host, port, api_port, "
              "dht_port)");
    json short_id = node;
    short_id["id"] = a.id.substr(2);
    EXPECT_EQ(error_of("p2p", with(short_id)), "config/p2p.json: \"bootstrap_nodes[0].id\": expected 64 hex digits "
                                               "(the node id), got \"" + a.id.substr(2, 59) + "...");
    json bad_hex = node;
    bad_hex["public_key"] = std::string(63, 'a') + "g";
    EXPECT_NE(error_of("p2p", with(bad_hex))
                  .find("\"bootstrap_nodes[0].public_key\": expected 64 hex digits (the node's Ed25519 public key)"),
              std::string::npos);
    json bad_point = node;   // the identity point (small order); the id matches, so the key itself is refused
    PublicKey small_order{};
    small_order[0] = 1;
    bad_point["public_key"] = to_hex(small_order);
    bad_point["id"] = to_hex(crypto::node_id_of(small_order));
    EXPECT_EQ(error_of("p2p", with(bad_point)),
              "config/p2p.json: \"bootstrap_nodes[0].public_key\": expected a valid Ed25519 public key, got \"" +
                  to_hex(small_order).substr(0, 59) + "...");
    json name_host = node;
    name_host["host"] = "relay.example";
    EXPECT_NE(error_of("p2p", with(name_host)).find("\"bootstrap_nodes[0].host\": expected a numeric"), std::string::npos);
    json wildcard_host = node;
    wildcard_host["host"] = "::";
    EXPECT_NE(error_of("p2p", with(wildcard_host)).find("not a wildcard"), std::string::npos);
    json bad_port = node;
    bad_port["port"] = 0;
    EXPECT_EQ(error_of("p2p", with(bad_port)),
              "config/p2p.json: \"bootstrap_nodes[0].port\": expected an integer 1..65535, got 0");

    json const same_id = {{"advertise_host", "10.0.0.2"},
                          {"bootstrap_nodes", {node, bootstrap_json(a, "10.0.0.3", 9000)}}};
    EXPECT_EQ(error_of("p2p", same_id.dump()),
              "config/p2p.json: \"bootstrap_nodes[1].id\": the same node as bootstrap_nodes[0]");
    json const same_address = {{"advertise_host", "10.0.0.2"},
                               {"bootstrap_nodes", {node, bootstrap_json(b, "10.0.0.1", 9000)}}};
    EXPECT_EQ(error_of("p2p", same_address.dump()),
              "config/p2p.json: \"bootstrap_nodes[1]\": the same address and port as bootstrap_nodes[0] (10.0.0.1:9000)");
    json const not_array = {{"bootstrap_nodes", node}};
    EXPECT_NE(error_of("p2p", not_array.dump()).find("\"bootstrap_nodes\": expected an array of at most 1024 objects"),
              std::string::npos);
}

TEST(ConfigBootstrap, RegistryPortsAreOptionalAndChecked) {
    Peer const a = make_peer();
    auto with = [&](json node) {
        return json{{"advertise_host", "10.0.0.2"}, {"bootstrap_nodes", {std::move(node)}}}.dump();
    };
    json node = bootstrap_json(a, "10.0.0.1", 9000);
    std::string error;
    auto const plain = parse_p2p(with(node), "p2p.json", &error);
    ASSERT_TRUE(plain) << error;
    EXPECT_EQ(plain->bootstrap_nodes[0].api_port, 0);   // absent: not a registry
    EXPECT_EQ(plain->bootstrap_nodes[0].dht_port, 0);
    json both = node;
    both["api_port"] = 9999;
    both["dht_port"] = 65535;
    auto const p = parse_p2p(with(both), "p2p.json", &error);
    ASSERT_TRUE(p) << error;
    EXPECT_EQ(p->bootstrap_nodes[0].api_port, 9999);
    EXPECT_EQ(p->bootstrap_nodes[0].dht_port, 65535);
    EXPECT_EQ(to_json(*p)["bootstrap_nodes"][0]["api_port"], 9999);
    EXPECT_FALSE(to_json(*plain)["bootstrap_nodes"][0].contains("api_port"));
    for (const char* key : {"api_port", "dht_port"}) {
        for (json bad : {json(0), json(65536), json("9999"), json(1.5), json(nullptr)}) {
            json n = node;
            n[key] = bad;
            EXPECT_EQ(error_of("p2p", with(n)), std::string("config/p2p.json: \"bootstrap_nodes[0].") + key +
                                                    "\": expected an integer 1..65535, got " + bad.dump());
        }
    }
}

TEST(ConfigRules, P2pDiscovery) {
    std::string error;
    auto const d = parse_p2p("{}", "p2p.json", &error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->discovery, "gossip");
    auto const r = parse_p2p(R"({"discovery": "registry"})", "p2p.json", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->discovery, "registry");
    for (const char* bad : {R"({"discovery": "dht"})", R"({"discovery": "Gossip"})", R"({"discovery": ""})",
                            R"({"discovery": 1})"}) {
        std::string const e = error_of("p2p", bad);
        EXPECT_EQ(e.rfind("config/p2p.json: \"discovery\": expected ", 0), 0u) << e;
        EXPECT_NE(e.find("gossip"), std::string::npos) << e;
    }
    std::string const env_error = [] {
        TempDir dir;
        std::string load_error;
        auto const c = load(dir.path(), "data", env_of({{"VOXA_P2P_DISCOVERY", "registry"}}), &load_error);
        return c ? c->p2p.discovery : load_error;
    }();
    EXPECT_EQ(env_error, "registry");
}

// ---- environment ----

TEST(ConfigEnv, OverridesReplaceTopLevelKeysWithTheKeysType) {
    TempDir dir;
    dir.write("p2p.json", R"({"port": 9100, "hops": 2})");
    Peer const a = make_peer();
    json const nodes = {bootstrap_json(a, "10.0.0.1", 9000)};
    std::string error;
    auto const c = load(dir.path(), "data",
                        env_of({
                            {"VOXA_P2P_PORT", "9001"},
                            {"VOXA_P2P_HOST", "10.0.0.2"},
                            {"VOXA_P2P_RELAY", "no"},
                            {"VOXA_P2P_BOOTSTRAP_NODES", nodes.dump()},
                            {"VOXA_DATAPLANE_CORES", "0, 1"},
                            {"VOXA_DATAPLANE_GSO", "false"},
                            {"VOXA_DATAPLANE_DPDK", R"({"ports": [{"device": "0000:01:00.0", "ipv6": "fd00::2/64"}]})"},
                            {"VOXA_SETTINGS_NODE_NETWORK_LEVEL", "2"},
                            {"VOXA_SETTINGS_NODE_NAME", "relay 7"},
                            {"VOXA_SETTINGS_PLUGINS", "api,dns"},
                            {"VOXA_SETTINGS_SERVER_SETTINGS", R"({"host": "::1", "port": 8080})"},
                        }),
                        &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->p2p.port, 9001);   // the variable beats the file
    EXPECT_EQ(c->p2p.hops, 2);      // the rest of the file stays
    EXPECT_EQ(c->p2p.host, "10.0.0.2");
    EXPECT_EQ(c->p2p.listen.to_string(), "10.0.0.2:9001");
    EXPECT_FALSE(c->p2p.relay);
    ASSERT_EQ(c->p2p.bootstrap_nodes.size(), 1u);
    EXPECT_EQ(to_hex(c->p2p.bootstrap_nodes[0].id), a.id);
    EXPECT_EQ(c->dataplane.cores, (std::vector<int>{0, 1}));
    EXPECT_FALSE(c->dataplane.gso);
    ASSERT_EQ(c->dataplane.dpdk.ports.size(), 1u);
    EXPECT_EQ(c->dataplane.dpdk.ports[0].device, "0000:01:00.0");
    EXPECT_EQ(c->dataplane.dpdk.ports[0].ipv6, "fd00::2/64");
    EXPECT_EQ(c->settings.node_network_level, 2);
    EXPECT_EQ(c->settings.node_name, "relay 7");
    EXPECT_EQ(c->settings.plugins, (std::vector<std::string>{"api", "dns"}));
    EXPECT_EQ(c->settings.api_host, "::1");
    EXPECT_EQ(c->settings.api_port, 8080);
}

TEST(ConfigEnv, ListsAlsoTakeJsonAndEmpty) {
    TempDir dir;
    std::string error;
    auto const c = load(dir.path(), "data", env_of({{"VOXA_DATAPLANE_CORES", "[3]"}, {"VOXA_SETTINGS_PLUGINS", ""}}),
                        &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->dataplane.cores, std::vector<int>{3});
    EXPECT_TRUE(c->settings.plugins.empty());
}

TEST(ConfigEnv, BadOverrideNamesTheVariable) {
    TempDir dir;
    std::string const p2p = (dir.path() / "p2p.json").string();
    std::string const dataplane = (dir.path() / "dataplane.json").string();
    std::string const settings = (dir.path() / "settings.json").string();
    struct Case {
        std::string name, value, error;
    };
    for (const Case& k : std::initializer_list<Case>{
             {"VOXA_P2P_PORT", "abc",
              "VOXA_P2P_PORT (overrides " + p2p + "): \"port\": expected an integer 1..65535, got \"abc\""},
             {"VOXA_P2P_PORT", "70000",
              "VOXA_P2P_PORT (overrides " + p2p + "): \"port\": expected an integer 1..65535, got 70000"},
             {"VOXA_P2P_HOST", "localhost",
              "VOXA_P2P_HOST (overrides " + p2p +
                  "): \"host\": expected a numeric IPv4 or IPv6 address such as \"10.0.0.1\", \"0.0.0.0\" or \"::\" "
                  "(no host names), got \"localhost\""},
             {"VOXA_P2P_RELAY", "maybe",
              "VOXA_P2P_RELAY (overrides " + p2p + "): \"relay\": expected true or false, got \"maybe\""},
             {"VOXA_DATAPLANE_CORES", "0,x",
              "VOXA_DATAPLANE_CORES (overrides " + dataplane + "): \"cores[1]\": expected a cpu number 0..1023, got \"x\""},
             {"VOXA_SETTINGS_SERVER_SETTINGS", R"({"port": "x"})",
              "VOXA_SETTINGS_SERVER_SETTINGS (overrides " + settings +
                  "): \"server-settings.port\": expected an integer 0..65535, got \"x\""},
         }) {
        std::string error;
        EXPECT_FALSE(load(dir.path(), "data", env_of({{k.name, k.value}}), &error)) << k.name;
        EXPECT_EQ(error, k.error);
    }
    std::string error;
    EXPECT_FALSE(load(dir.path(), "data", env_of({{"VOXA_P2P_BOOTSTRAP_NODES", "[{"}}), &error));
    EXPECT_EQ(error.rfind("VOXA_P2P_BOOTSTRAP_NODES: invalid JSON value: ", 0), 0u) << error;
}

TEST(ConfigEnv, ABadValueInTheFileIsStillReportedAgainstTheFile) {
    TempDir dir;
    dir.write("p2p.json", R"({"port": 9000, "hops": 0})");
    std::string error;
    EXPECT_FALSE(load(dir.path(), "data", env_of({{"VOXA_P2P_PORT", "9001"}}), &error));
    EXPECT_EQ(error, (dir.path() / "p2p.json").string() + ": \"hops\": expected an integer 1..8, got 0");
}

TEST(ConfigEnv, UnknownOverrideVariableIsAnError) {
    EXPECT_EQ(unknown_override({"HOME", "VOXA_P2P_PORT", "VOXA_CONFIG_PATH", "VOXA_DATA_PATH", "VOXA_OTHER_THING"}),
              "");
    EXPECT_EQ(unknown_override({"VOXA_P2P_PORT", "VOXA_P2P_PROT"}),
              "environment variable VOXA_P2P_PROT names no key of p2p.json; did you mean VOXA_P2P_PORT?");
    EXPECT_EQ(unknown_override({"VOXA_DATAPLANE_CORE"}),
              "environment variable VOXA_DATAPLANE_CORE names no key of dataplane.json; did you mean "
              "VOXA_DATAPLANE_CORES?");
    EXPECT_EQ(unknown_override({"VOXA_SETTINGS_ZZZZZZZZZZZZ"}),
              "environment variable VOXA_SETTINGS_ZZZZZZZZZZZZ names no key of settings.json (see docs/OPERATIONS.md)");
}

// load_from_environment reads the real process environment; the variables are restored at the end.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) {
            setenv(name_, old_->c_str(), 1);
        } else {
            unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(ConfigEnv, LoadFromEnvironmentUsesThePathVariablesAndOverrides) {
    TempDir dir, other;
    dir.write("p2p.json", R"({"port": 9100})");
    other.write("p2p.json", R"({"port": 9200})");
    ScopedEnv const config_path("VOXA_CONFIG_PATH", dir.path().string());
    ScopedEnv const data_path("VOXA_DATA_PATH", (dir.path() / "state").string());
    std::string error;
    auto c = load_from_environment("", "", &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->config_dir, dir.path());
    EXPECT_EQ(c->data_dir, dir.path() / "state");
    EXPECT_EQ(c->p2p.port, 9100);
    {
        ScopedEnv const port("VOXA_P2P_PORT", "9001");
        c = load_from_environment("", "", &error);
        ASSERT_TRUE(c) << error;
        EXPECT_EQ(c->p2p.port, 9001);
    }
    c = load_from_environment(other.path().string(), "elsewhere", &error);   // explicit folders win
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->p2p.port, 9200);
    EXPECT_EQ(c->data_dir, fs::path("elsewhere"));
    {
        ScopedEnv const typo("VOXA_P2P_PROT", "9001");
        EXPECT_FALSE(load_from_environment("", "", &error));
        EXPECT_NE(error.find("VOXA_P2P_PROT"), std::string::npos) << error;
    }
}

// ---- to_json ----

TEST(ConfigJson, RoundTripThroughFiles) {
    Peer const a = make_peer(), b = make_peer();
    TempDir src;
    src.write("settings.json", R"({"node-name": "edge-1", "node-network-level": 3,
        "server-settings": {"host": "::1", "port": 8443}, "features": {"enable-kytan-vpn": true},
        "plugins": ["api"], "log-level": "warn"})");
    json const p2p = {{"host", "::"},         {"port", 9443},     {"advertise_host", "2001:db8::5"},
                      {"relay", false},       {"capacity", 250},  {"hops", 4},
                      {"n", 7},               {"k", 4},           {"parts_per_relay_max", 2},
                      {"cell_bytes", 1504},   {"max_message_bytes", 1 << 20},
                      {"gossip_interval_s", 10}, {"circuit_lifetime_s", 120},
                      {"connection_timeout", 5}, {"max_peers", 64}, {"discovery", "registry"},
                      {"bootstrap_nodes", {bootstrap_json(a, "2001:db8::1", 9000), bootstrap_json(b, "192.0.2.1", 9001)}}};
    json p2p_ports = p2p;
    p2p_ports["bootstrap_nodes"][0]["api_port"] = 9999;
    p2p_ports["bootstrap_nodes"][1]["dht_port"] = 4222;
    src.write("p2p.json", p2p_ports.dump(2));
    src.write("dataplane.json", R"({"cores": [1, 0], "pin": false, "rx_batch": 32, "tx_batch": 16,
        "tx_flush_us": 0, "rx_buffers": 512, "rx_buffer_bytes": 9216, "tx_slots": 2048, "ring_entries": 256,
        "sqpoll": true, "gso": false, "gro": false, "bpf_steering": false, "idle_spins": 0, "sleep_max_us": 5,
        "circuits_max": 16, "reassembly_bytes_max": 2097152, "handover_slots": 64,
        "dpdk": {"eal_args": ["-n", "4"], "mempool_mbufs": 4095, "mbuf_cache": 64, "rx_desc": 512, "tx_desc": 256,
                 "file_prefix": "voxa-test", "in_memory": true, "no_huge": true, "hugepages": 128,
                 "ports": [{"device": "net_af_packet0,iface=veth0", "ipv4": "10.77.0.12/24", "ipv6": "fd00::12/64",
                            "mac": "02:00:00:00:00:0c", "checksum": "off",
                            "neighbours": [{"ip": "10.77.0.1", "mac": "02:00:00:00:00:01"}]}]}})");
    std::string error;
    auto const first = load(src.path(), "data", no_env(), &error);
    ASSERT_TRUE(first) << error;
    EXPECT_EQ(first->p2p.n, 7);
    EXPECT_EQ(first->p2p.discovery, "registry");
    EXPECT_EQ(first->p2p.bootstrap_nodes[0].api_port, 9999);
    EXPECT_EQ(first->p2p.bootstrap_nodes[1].dht_port, 4222);
    EXPECT_EQ(first->dataplane.cores, (std::vector<int>{1, 0}));
    EXPECT_EQ(first->settings.api_port, 8443);
    EXPECT_EQ(first->dataplane.dpdk.ports[0].checksum, netstack::ChecksumPolicy::kOff);

    json const effective = to_json(*first);
    EXPECT_EQ(effective["config_path"], src.path().string());
    EXPECT_EQ(effective["dataplane"]["dpdk"]["ports"][0]["checksum"], "off");
    TempDir copy;
    for (std::string file : {"settings", "p2p", "dataplane"}) copy.write(file + ".json", effective[file].dump(2));
    auto const second = load(copy.path(), "data", no_env(), &error);
    ASSERT_TRUE(second) << error;
    EXPECT_EQ(second->settings, first->settings);
    EXPECT_EQ(second->p2p, first->p2p);
    EXPECT_EQ(second->dataplane, first->dataplane);
    json again = to_json(*second);
    again["config_path"] = effective["config_path"];
    EXPECT_EQ(again, effective);
}

// ---- addresses ----

TEST(ConfigEndpoint, NumericLiteralsOnly) {
    auto const v4 = parse_numeric_endpoint("10.0.0.1", 9000);
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->family, Endpoint::Family::kIpv4);
    EXPECT_EQ(v4->to_string(), "10.0.0.1:9000");
    auto const v6 = parse_numeric_endpoint("::1", 443);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->family, Endpoint::Family::kIpv6);
    EXPECT_EQ(v6->addr[15], 1);
    EXPECT_EQ(v6->to_string(), "[::1]:443");
    for (std::string_view bad : {"", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[::1]", "fe80::1%eth0",
                                 " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:9000", "::g"}) {
        EXPECT_FALSE(parse_numeric_endpoint(bad, 1)) << bad;
    }
    EXPECT_FALSE(parse_numeric_endpoint(std::string_view("1.2.3.4\0x", 9), 1));
    EXPECT_FALSE(parse_numeric_endpoint(std::string(100, '1'), 1));
    EXPECT_TRUE(is_wildcard(*parse_numeric_endpoint("0.0.0.0", 1)));
    EXPECT_TRUE(is_wildcard(*parse_numeric_endpoint("::", 1)));
    EXPECT_FALSE(is_wildcard(*v4));
    EXPECT_FALSE(is_wildcard(*v6));
    EXPECT_FALSE(is_wildcard(Endpoint{}));
}

}  // namespace
}  // namespace voxa::config
