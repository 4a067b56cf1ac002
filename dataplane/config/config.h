// The node's configuration: config/settings.json, config/p2p.json and config/dataplane.json (DESIGN §6), with
// environment overrides, validated completely at start-up.
//
// Rules. Every key is checked for type and range; an unknown key is an error (a typo must not pass silently); a
// missing file means that file's defaults; a missing key means that key's default. A bad file or value yields ONE
// error string naming the file, the key path and what was expected, e.g.
//   config/p2p.json: "port": expected an integer 1..65535, got "abc"
//   config/p2p.json: line 4, column 3: invalid JSON: syntax error while parsing object ...
// Environment: VOXA_CONFIG_PATH (folder, default "config"), VOXA_DATA_PATH (default "data"), and
// VOXA_<FILE>_<KEY> replaces the top-level KEY of settings/p2p/dataplane (FILE and KEY upper-cased, '-' -> '_'),
// e.g. VOXA_P2P_PORT=9001, VOXA_DATAPLANE_CORES=0,1, VOXA_SETTINGS_NODE_NETWORK_LEVEL=2. The value is read as the
// key's type (integers, true/false, strings as is, lists comma-separated or as a JSON array, objects as JSON);
// an error in it names the variable.
//
// settings.json keeps the original system's dashed key names ("node-network-level", "server-settings",
// "features": {"enable-dns", ...}); p2p.json and dataplane.json use underscores (as the original p2p.json did).
// The reference table of every key is docs/OPERATIONS.md ("Configuration").
//
// Start-up code only: everything here allocates and may be slow; no function throws. Thread-safe (no shared
// state) except that process_environment() reads the process environment.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/endpoint.h"
#include "netstack/frame.h"
#include "voxa/types.h"

namespace voxa::config {

// A peer this node contacts first. JSON: {"id": "<64 hex>", "public_key": "<64 hex ed25519>",
// "host": "10.0.0.1" or "::1", "port": 9000, "api_port"?: 9999, "dht_port"?: 4222}. `id` must equal
// BLAKE2b-256(public_key); hosts are numeric. api_port (that node's REST API: a central registry this node becomes a
// member of) and dht_port (its OpenDHT port) are optional; 0 means absent. The registry plugin reads them; the
// data plane ignores them.
struct BootstrapNode {
    NodeId id{};
    PublicKey ed25519{};
    std::string host;
    uint16_t port = 0;
    uint16_t api_port = 0;   // 1..65535 when given
    uint16_t dht_port = 0;   // 1..65535 when given
    Endpoint endpoint{};   // derived from host and port
    friend bool operator==(const BootstrapNode&, const BootstrapNode&) = default;
};

struct Settings {                                          // settings.json
    std::string node_name = "voxa";                        // "node-name"
    int node_network_level = 0;                            // "node-network-level" (original; 0..255)
    std::string api_host = "127.0.0.1";                    // "server-settings": {"host", "port"}
    uint16_t api_port = 9999;                              // 0: an ephemeral port (the api plugin reports it)
    bool enable_dns = false, enable_upnpc_port_forwarding = false, enable_kytan_vpn = false,
         enable_app_deployment = false;                    // "features": {"enable-dns", ...} (original names)
    std::vector<std::string> plugins;                      // "plugins": plugin names, [a-z0-9_]{1,32}
    std::string log_level = "info";                        // "log-level": debug|info|warn|error
    // "plugin-settings": plugin name -> that plugin's settings object, kept as compact JSON text (the plugin
    // host parses it; this header stays free of nlohmann's full definition). Names follow the plugin rule.
    std::map<std::string, std::string> plugin_settings;
    uint32_t drain_deadline_s = 10;                        // "drain-deadline-s": 1..3600
    // "api-token-required-for-reads"; load() forces it to true when server-settings.host is not loopback.
    bool api_token_required_for_reads = false;
    friend bool operator==(const Settings&, const Settings&) = default;
};

struct P2p {                                               // p2p.json
    std::string host = "0.0.0.0";                          // listen address, numeric; "::" = dual-stack
    uint16_t port = 9000;
    // What other nodes dial. Default: `host`, unless that is a wildcard; then it stays empty, which is allowed
    // only while bootstrap_nodes is empty (a node that announces itself must say where it can be reached).
    std::string advertise_host;
    std::vector<BootstrapNode> bootstrap_nodes;            // at most kBootstrapNodesMax, distinct ids and endpoints
    bool relay = true;                                     // offer to relay for others
    uint32_t capacity = 100;                               // path-selection weight, 1..1e6
    uint8_t hops = 3;                                      // relays per circuit, 1..8
    uint8_t n = 5, k = 3;                                  // 1 <= k <= n <= 16
    uint8_t parts_per_relay_max = 1;                       // 1 = relay-disjoint circuits; otherwise < k
    uint32_t cell_bytes = 1280;                            // 512..8192, a multiple of 16
    uint64_t max_message_bytes = 64ull << 20;              // 1 KiB..1 GiB
    uint32_t gossip_interval_s = 30, circuit_lifetime_s = 600;
    uint32_t connection_timeout = 30, max_peers = 4096;    // original keys (connection_timeout in seconds)
    // "gossip" (default): nodes learn one another by DIRECTORY gossip over link sessions. "registry": the data
    // plane sends no gossip and ignores received gossip (counted as drop "gossip_off"); its directory holds the
    // bootstrap peers and what the control plane's registry plugin pushes (PeerUpdate/PeerRemove).
    std::string discovery = "gossip";
    Endpoint listen{};                                     // derived: host and port
    Endpoint advertise{};                                  // derived: advertise_host and port; kNone if unset
    friend bool operator==(const P2p&, const P2p&) = default;
};

struct Dataplane {                                         // dataplane.json
    std::string backend = "io_uring";                      // io_uring | dpdk
    std::vector<int> cores = {0};                          // one worker per entry, pinned; 1..64 distinct cpus
    bool pin = true;
    uint32_t rx_batch = 64, tx_batch = 64, tx_flush_us = 50;
    uint32_t rx_buffers = 256, rx_buffer_bytes = 65536, tx_slots = 4096, ring_entries = 1024;
    bool sqpoll = false, gso = true, gro = true, bpf_steering = true;
    uint32_t idle_spins = 200, sleep_max_us = 1000;
    uint32_t circuits_max = 8192;
    uint64_t reassembly_bytes_max = 1ull << 30;
    uint32_t handover_slots = 1024;
    // The DPDK backend (backend "dpdk"; dataplane/io/dpdk_eal.h says how each key becomes an EAL argument).
    struct DpdkNeighbour {                                 // a static neighbour: never learned, never changed
        std::string ip;                                    // "10.77.0.1" or "fd00::1"
        std::string mac;                                   // "02:00:00:00:00:01"
        friend bool operator==(const DpdkNeighbour&, const DpdkNeighbour&) = default;
    };
    struct DpdkPort {
        std::string device;                                // a vdev ("net_af_packet0,iface=veth0") or a PCI address
        std::string ipv4;                                  // "10.77.0.12/24"; ipv4 or ipv6 (or both) required
        std::string ipv6;                                  // "fd00::12/64" (optional)
        std::string mac;                                   // optional: overrides the port's own MAC
        std::vector<DpdkNeighbour> neighbours;             // at most kDpdkNeighboursMax
        // UDP checksums: "auto" (the port's offload, else software; off on net_memif) | "software" | "off"
        // (IPv4 UDP checksums neither sent nor checked; netstack::ChecksumPolicy says why that is safe).
        netstack::ChecksumPolicy checksum = netstack::ChecksumPolicy::kAuto;
        friend bool operator==(const DpdkPort&, const DpdkPort&) = default;
    };
    struct Dpdk {
        std::vector<std::string> eal_args;                 // appended after the generated ones (expert use)
        std::vector<DpdkPort> ports;                       // at most 16; required when backend is "dpdk"
        uint32_t mempool_mbufs = 8191;                     // mbufs per NUMA socket's pool, 1023..1048575
        uint32_t mbuf_cache = 256;                         // per-lcore mempool cache, 0..512
        uint32_t rx_desc = 1024, tx_desc = 1024;           // ring descriptors per queue, 64..16384, powers of two
        std::string file_prefix;                           // EAL --file-prefix; "" = "voxa-<first 8 hex of node id>"
        bool in_memory = false;                            // --in-memory: no shared files (one process per node)
        bool no_huge = false;                              // --no-huge: ordinary pages (tests, no hugepages set up)
        uint32_t hugepages = 0;                            // EAL memory in MiB (-m); 0 = EAL's default
        friend bool operator==(const Dpdk&, const Dpdk&) = default;
    } dpdk;
    friend bool operator==(const Dataplane&, const Dataplane&) = default;
};

struct Config {
    std::filesystem::path config_dir, data_dir;
    Settings settings;
    P2p p2p;
    Dataplane dataplane;
    std::vector<std::string> warnings;   // legal but doubtful (e.g. a core this machine does not have)
};

inline constexpr std::size_t kBootstrapNodesMax = 1024;
inline constexpr std::size_t kDpdkPortsMax = 16;
inline constexpr std::size_t kDpdkNeighboursMax = 256;

// "a.b.c.d/len" or "x::y/len" (len 0..32 / 0..128). nullopt for anything else. The endpoint's port is 0.
std::optional<std::pair<Endpoint, uint8_t>> parse_prefix(std::string_view text);
// "02:00:00:00:00:01" (six hex pairs, ':' or '-'); nullopt for anything else.
std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view text);
inline constexpr std::size_t kFileBytesMax = 1u << 20;   // a config file larger than this is refused

// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// getenv() of this process.
EnvLookup process_environment();

// Loads config_dir/{settings,p2p,dataplane}.json (a missing file means its defaults; a missing config_dir is an
// error), applies VOXA_<FILE>_<KEY> overrides found through `env`, and validates each file and the rules across
// files. Returns the configuration, or nullopt with one message in *error (if non-null). Never throws.
std::optional<Config> load(const std::filesystem::path& config_dir, const std::filesystem::path& data_dir,
                           const EnvLookup& env, std::string* error);

// The folders from the non-empty overrides, else VOXA_CONFIG_PATH / VOXA_DATA_PATH, else "config" / "data";
// then load() with the process environment. Also refuses a VOXA_SETTINGS_* / VOXA_P2P_* / VOXA_DATAPLANE_*
// variable that names no key (see unknown_override()).
std::optional<Config> load_from_environment(const std::string& config_dir_override,
                                            const std::string& data_dir_override, std::string* error);

// The first of `names` (environment variable names) that starts with VOXA_SETTINGS_, VOXA_P2P_ or
// VOXA_DATAPLANE_ but names no top-level key of that file, as an error message with a suggestion; or "".
std::string unknown_override(const std::vector<std::string>& names);

// One file's text, validated, without environment or cross-file rules; `file_label` starts every error
// message (normally the file's path). These are what load() uses, and what the fuzz target drives.
std::optional<Settings> parse_settings(std::string_view text, std::string_view file_label, std::string* error);
std::optional<P2p> parse_p2p(std::string_view text, std::string_view file_label, std::string* error);
std::optional<Dataplane> parse_dataplane(std::string_view text, std::string_view file_label, std::string* error);

// The effective configuration with the files' key names: {"config_path", "data_path", "settings": {...},
// "p2p": {...}, "dataplane": {...}}. Each section, written to its file, loads back to an equal value.
nlohmann::json to_json(const Config& c);
nlohmann::json to_json(const Settings& s);
nlohmann::json to_json(const P2p& p);
nlohmann::json to_json(const Dataplane& d);

// An IPv4 ("10.0.0.1") or IPv6 ("::1", no brackets, no zone) literal and a port; nullopt for anything else
// (names included: the data plane never resolves DNS).
std::optional<Endpoint> parse_numeric_endpoint(std::string_view host, uint16_t port);

// True for 0.0.0.0 and ::.
bool is_wildcard(const Endpoint& e) noexcept;

}  // namespace voxa::config
