#include "io/dpdk_eal.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace voxa::io {
namespace {

std::mutex g_eal_mutex;
bool g_eal_up = false;
std::vector<std::string> g_eal_args;   // kept for the process's life: EAL may keep argv pointers

std::mutex g_telemetry_mutex;
TelemetrySource g_telemetry_source;
bool g_telemetry_registered = false;

bool is_vdev(const std::string& device) { return device.rfind("net_", 0) == 0; }

// The name EAL gives the port: the vdev name before its first ',' (or the PCI address).
std::string port_name(const std::string& device) { return device.substr(0, device.find(',')); }

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += ' ';
        out += s;
    }
    return out;
}

int telemetry_stats(const char*, const char*, rte_tel_data* d) {
    std::lock_guard lock(g_telemetry_mutex);
    rte_tel_data_start_dict(d);
    if (!g_telemetry_source) return 0;
    for (const auto& [name, value] : g_telemetry_source()) rte_tel_data_add_dict_u64(d, name.c_str(), value);
    return 0;
}

bool prefix_contains(const Endpoint& net, uint8_t prefix, const Endpoint& ip) noexcept {
    if (net.family != ip.family || net.family == Endpoint::Family::kNone) return false;
    std::size_t const bits = prefix;
    for (std::size_t i = 0; i < bits / 8; ++i) {
        if (net.addr[i] != ip.addr[i]) return false;
    }
    if (bits % 8 != 0) {
        uint8_t const mask = uint8_t(0xFF << (8 - bits % 8));
        if ((net.addr[bits / 8] & mask) != (ip.addr[bits / 8] & mask)) return false;
    }
    return true;
}

// The value of `key` in a device string's "k=v" list ("net_af_packet0,iface=eth0,framecnt=4096"); empty if absent.
std::string device_arg(const std::string& device, const std::string& key) {
    std::size_t pos = device.find(',');
    while (pos != std::string::npos) {
        std::size_t const start = pos + 1;
        std::size_t const end = device.find(',', start);
        std::string const kv = device.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
        pos = end;
    }
    return {};
}

}  // namespace

std::string device_argument(const std::string& device, uint32_t rx_desc) {
    if (rx_desc == 0 || device.rfind("net_af_packet", 0) != 0 || !device_arg(device, "framecnt").empty()) {
        return device;
    }
    // The PMD asks the kernel for framecnt / (blocksz / framesz) blocks of blocksz / framesz frames each; the kernel
    // refuses a frame count that is not exactly that product. A malformed blocksz/framesz is left for the PMD to
    // refuse with its own message.
    auto number = [](const std::string& v, uint64_t dflt) {
        if (v.empty()) return dflt;
        uint64_t n = 0;
        for (char c : v) {
            if (c < '0' || c > '9' || n > (1u << 30)) return dflt;
            n = n * 10 + uint64_t(c - '0');
        }
        return n == 0 ? dflt : n;
    };
    long const page = sysconf(_SC_PAGESIZE);
    uint64_t const block = number(device_arg(device, "blocksz"), page > 0 ? uint64_t(page) : 4096u);
    uint64_t const frame = number(device_arg(device, "framesz"), 2048u);
    uint64_t const per_block = frame <= block ? block / frame : 1;
    uint64_t const framecnt = (uint64_t(rx_desc) + per_block - 1) / per_block * per_block;
    return device + ",framecnt=" + std::to_string(framecnt);
}

bool DpdkPort::on_link(const Endpoint& ip) const noexcept {
    return prefix_contains(ipv4, ipv4_prefix, ip) || prefix_contains(ipv6, ipv6_prefix, ip);
}

std::vector<std::string> eal_arguments(const DpdkEalConfig& c) {
    std::vector<std::string> a = {"voxa-dataplane"};
    int const main_core = c.cores.empty() ? 0 : c.cores[0];
    a.insert(a.end(), {"-l", std::to_string(main_core), "--main-lcore", std::to_string(main_core)});
    a.insert(a.end(), {"--file-prefix", c.file_prefix});
    // EAL refuses --in-memory with --no-huge (no-huge implies its legacy memory mode); --no-shconf is what
    // in-memory means without hugepages: no shared config files.
    if (c.in_memory && !c.no_huge) a.push_back("--in-memory");
    if (c.no_huge) a.push_back("--no-huge");
    if (c.in_memory && c.no_huge) a.push_back("--no-shconf");
    if (c.memory_mb > 0) a.insert(a.end(), {"-m", std::to_string(c.memory_mb)});
    bool pci = false;
    for (const auto& d : c.devices) {
        a.insert(a.end(), {is_vdev(d) ? "--vdev" : "-a", device_argument(d, c.rx_desc)});
        pci = pci || !is_vdev(d);
    }
    // Only virtual ports: keep EAL away from the PCI bus (it would otherwise probe every NIC it can bind).
    if (!pci) a.push_back("--no-pci");
    a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
    return a;
}

bool eal_running() noexcept {
    std::lock_guard lock(g_eal_mutex);
    return g_eal_up;
}

bool eal_init(const DpdkEalConfig& config, std::string* error) {
    std::lock_guard lock(g_eal_mutex);
    if (g_eal_up) {
        // Already up (a test process, or a second start): hot-plug the vdevs it lacks.
        for (const auto& d : config.devices) {
            if (!is_vdev(d)) continue;
            uint16_t id = 0;
            std::string const name = port_name(d);
            if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) continue;
            std::string const full = device_argument(d, config.rx_desc);
            std::size_t const comma = full.find(',');
            std::string const args = comma == std::string::npos ? std::string() : full.substr(comma + 1);
            if (rte_eal_hotplug_add("vdev", name.c_str(), args.c_str()) != 0) {
                *error = "dpdk: cannot create vdev \"" + d + "\" (rte_eal_hotplug_add failed)";
                return false;
            }
        }
        return true;
    }
    if (config.file_prefix.empty()) {
        *error = "dpdk.file_prefix: empty";
        return false;
    }
    g_eal_args = eal_arguments(config);
    std::vector<char*> argv;
    for (auto& s : g_eal_args) argv.push_back(s.data());
    argv.push_back(nullptr);
    cpu_set_t before;
    bool const have_before = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
    int const rc = rte_eal_init(int(argv.size() - 1), argv.data());
    if (rc < 0) {
        *error = std::string("dpdk: EAL initialisation failed: ") + rte_strerror(rte_errno) +
                 " (arguments: " + join(g_eal_args) +
                 "; check dpdk.eal_args, dpdk.no_huge / hugepages (voxa-dataplane --doctor), dpdk.ports[].device)";
        return false;
    }
    // rte_eal_init pinned this (control) thread to the main lcore: undo it, workers pin themselves.
    if (have_before) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    g_eal_up = true;
    return true;
}

bool set_telemetry_source(TelemetrySource source) {
    if (!eal_running()) return false;
    std::lock_guard lock(g_telemetry_mutex);
    g_telemetry_source = std::move(source);
    if (!g_telemetry_registered) {
        if (rte_telemetry_register_cmd("/voxa/stats", telemetry_stats,
                                       "The voxa node's counters (summed over its workers). No parameters.") != 0) {
            return false;
        }
        g_telemetry_registered = true;
    }
    return true;
}

std::unique_ptr<DpdkPorts> DpdkPorts::open(const DpdkPortsConfig& config, std::string* error) {
    std::unique_ptr<DpdkPorts> p(new DpdkPorts(config));
    if (!p->setup(error)) return nullptr;
    return p;
}

DpdkPorts::~DpdkPorts() {
    // Stopped, not closed: a closed vdev is gone for good, and a process (a test) may set the port up again.
    for (uint16_t id : started_) (void)rte_eth_dev_stop(id);
    for (auto& port : ports_) {
        if (port.tx_ring != nullptr) {
            // Frames still queued by workers that stopped: give the mbufs back before the ring goes.
            void* m = nullptr;
            while (rte_ring_dequeue(port.tx_ring, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
            rte_ring_free(port.tx_ring);
        }
    }
    for (auto& [socket, pool] : pools_) rte_mempool_free(pool);
}

rte_mempool* DpdkPorts::pool_for(int socket, std::string* error) {
    for (auto& [s, pool] : pools_) {
        if (s == socket) return pool;
    }
    // A frame is at most Ethernet + IPv6 + UDP + a cell; one segment per frame.
    std::size_t const frame = netstack::header_bytes(Endpoint::Family::kIpv6) + config_.cell_bytes;
    std::size_t const room = std::max<std::size_t>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + frame);
    // A distinct name per pool: several DpdkPorts may exist in one process over time (tests).
    static int generation = 0;
    std::string const name = "voxa_pool_" + std::to_string(socket) + "_" + std::to_string(generation++);
    rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), config_.mempool_mbufs, config_.mbuf_cache, 0,
                                                uint16_t(room), socket);
    if (pool == nullptr) {
        *error = "dpdk.mempool_mbufs: cannot create a pool of " + std::to_string(config_.mempool_mbufs) +
                 " mbufs of " + std::to_string(room) + " bytes on socket " + std::to_string(socket) + ": " +
                 rte_strerror(rte_errno) + " (fewer mbufs, or more memory: dpdk.hugepages / hugepages reserved)";
        return nullptr;
    }
    pools_.emplace_back(socket, pool);
    return pool;
}

bool DpdkPorts::setup(std::string* error) {
    if (config_.udp_port == 0) {
        *error = "p2p.port: the dpdk backend needs a fixed UDP port (0 is not allowed)";
        return false;
    }
    if (config_.workers == 0 || config_.ports.empty()) {
        *error = "dpdk.ports: no port configured";
        return false;
    }
    for (std::size_t i = 0; i < config_.ports.size(); ++i) {
        if (!setup_port(i, error)) return false;
    }
    return true;
}

bool DpdkPorts::setup_port(std::size_t index, std::string* error) {
    const DpdkPortConfig& pc = config_.ports[index];
    std::string const key = "dpdk.ports[" + std::to_string(index) + "]";
    DpdkPort port;
    port.device = pc.device;
    port.name = port_name(pc.device);
    if (rte_eth_dev_get_port_by_name(port.name.c_str(), &port.port_id) != 0) {
        *error = key + ".device: no DPDK port \"" + port.name + "\" (" + pc.device +
                 "): is the driver loaded and the device bound to vfio-pci / the vdev arguments right? "
                 "(voxa-dataplane --doctor)";
        return false;
    }
    for (const auto& other : ports_) {
        if (other.port_id == port.port_id) {
            *error = key + ".device: \"" + port.name + "\" is listed twice";
            return false;
        }
    }
    uint16_t const id = port.port_id;
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
        *error = key + ": rte_eth_dev_info_get: " + rte_strerror(-rc);
        return false;
    }
    port.driver = info.driver_name != nullptr ? info.driver_name : "?";
    int const socket = rte_eth_dev_socket_id(id);
    port.socket = socket < 0 ? 0 : socket;
    port.pool = pool_for(port.socket, error);
    if (port.pool == nullptr) return false;

    uint16_t want = uint16_t(config_.workers);
    if (config_.queues_max > 0 && want > config_.queues_max) want = config_.queues_max;
    port.rx_queues = std::max<uint16_t>(1, std::min<uint16_t>(want, info.max_rx_queues));
    port.tx_queues = std::max<uint16_t>(1, std::min<uint16_t>(want, info.max_tx_queues));
    rte_eth_conf conf{};
    if (port.rx_queues > 1) {
        uint64_t const hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
        if (hf != 0) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
            port.rss = true;
        }
        // Without RSS the PMD spreads frames its own way (af_packet: the kernel's fanout hash); the worker
        // mesh hands misdelivered datagrams over either way.
    }
    uint64_t const tx_v4 = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    port.tx_csum_v4 = (info.tx_offload_capa & tx_v4) == tx_v4;
    port.tx_csum_v6 = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
    if (port.tx_csum_v4) conf.txmode.offloads |= tx_v4;
    if (port.tx_csum_v6) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    uint64_t const rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    port.rx_csum = (info.rx_offload_capa & rx_csum) == rx_csum;
    if (port.rx_csum) conf.rxmode.offloads |= rx_csum;

    if (int rc = rte_eth_dev_configure(id, port.rx_queues, port.tx_queues, &conf); rc != 0) {
        *error = key + ": rte_eth_dev_configure(" + std::to_string(port.rx_queues) + " rx, " +
                 std::to_string(port.tx_queues) + " tx queues): " + rte_strerror(-rc);
        return false;
    }
    uint16_t rxd = uint16_t(config_.rx_desc), txd = uint16_t(config_.tx_desc);
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd); rc != 0) {
        *error = key + ": dpdk.rx_desc/tx_desc: " + rte_strerror(-rc);
        return false;
    }
    // Every RX descriptor holds an mbuf, TX descriptors hold mbufs until completion, and each lcore cache some.
    std::size_t const need = std::size_t(rxd) * port.rx_queues + std::size_t(txd) * port.tx_queues +
                             std::size_t(config_.mbuf_cache) * (config_.workers + 1) + 64 * config_.workers;
    if (need >= config_.mempool_mbufs) {
        *error = "dpdk.mempool_mbufs: " + std::to_string(config_.mempool_mbufs) + " mbufs are too few for " + key +
                 " (" + std::to_string(need) + " needed by its descriptors and caches): raise it or lower "
                 "dpdk.rx_desc / dpdk.tx_desc";
        return false;
    }
    for (uint16_t q = 0; q < port.rx_queues; ++q) {
        rte_eth_rxconf rxconf = info.default_rxconf;
        rxconf.offloads = conf.rxmode.offloads;
        if (int rc = rte_eth_rx_queue_setup(id, q, rxd, unsigned(port.socket), &rxconf, port.pool); rc != 0) {
            *error = key + ": rx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
            return false;
        }
    }
    for (uint16_t q = 0; q < port.tx_queues; ++q) {
        rte_eth_txconf txconf = info.default_txconf;
        txconf.offloads = conf.txmode.offloads;
        if (int rc = rte_eth_tx_queue_setup(id, q, txd, unsigned(port.socket), &txconf); rc != 0) {
            *error = key + ": tx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
            return false;
        }
    }
    if (port.tx_queues < config_.workers) {
        static int generation = 0;
        std::string const name = "voxa_tx_" + std::to_string(id) + "_" + std::to_string(generation++);
        port.tx_ring = rte_ring_create(name.c_str(), config_.tx_ring_slots, port.socket, RING_F_SC_DEQ);
        if (port.tx_ring == nullptr) {
            *error = key + ": tx handover ring: " + rte_strerror(rte_errno);
            return false;
        }
    }

    // Our MAC: the configured one, else the port's.
    rte_ether_addr mac{};
    if (pc.mac) {
        std::memcpy(mac.addr_bytes, pc.mac->b.data(), 6);
        if (rte_eth_dev_default_mac_addr_set(id, &mac) != 0) (void)rte_eth_promiscuous_enable(id);
    } else if (int rc = rte_eth_macaddr_get(id, &mac); rc != 0) {
        *error = key + ": rte_eth_macaddr_get: " + rte_strerror(-rc);
        return false;
    }
    std::memcpy(port.local.mac.b.data(), mac.addr_bytes, 6);
    if (port.local.mac.is_zero() || port.local.mac.is_multicast()) {
        *error = key + ".mac: the port has no usable MAC address of its own (" + port.name + "): set one";
        return false;
    }
    if (pc.ipv4.family == Endpoint::Family::kIpv4) {
        port.ipv4 = pc.ipv4;
        port.ipv4_prefix = pc.ipv4_prefix;
        Endpoint e = pc.ipv4;
        e.port = config_.udp_port;
        port.local.add(e);
    }
    if (pc.ipv6.family == Endpoint::Family::kIpv6) {
        port.ipv6 = pc.ipv6;
        port.ipv6_prefix = pc.ipv6_prefix;
        Endpoint e = pc.ipv6;
        e.port = config_.udp_port;
        port.local.add(e);
        // Neighbour solicitations go to solicited-node multicast groups.
        (void)rte_eth_allmulticast_enable(id);
    }
    port.neighbours = pc.neighbours;

    if (int rc = rte_eth_dev_start(id); rc != 0) {
        *error = key + ": rte_eth_dev_start: " + rte_strerror(-rc);
        return false;
    }
    started_.push_back(id);
    auto shared = std::make_unique<SharedNeighbours>(4096);
    for (const auto& [ip, m] : port.neighbours) shared->table.add_static(ip, m);
    shared_.push_back(std::move(shared));
    ports_.push_back(std::move(port));
    return true;
}

DpdkPortCounters DpdkPorts::port_counters(std::size_t i) const noexcept {
    DpdkPortCounters c;
    if (i >= ports_.size()) return c;
    rte_eth_stats s{};
    if (rte_eth_stats_get(ports_[i].port_id, &s) != 0) return c;
    c.ipackets = s.ipackets;
    c.opackets = s.opackets;
    c.ibytes = s.ibytes;
    c.obytes = s.obytes;
    c.imissed = s.imissed;
    c.ierrors = s.ierrors;
    c.oerrors = s.oerrors;
    c.rx_nombuf = s.rx_nombuf;
    return c;
}

std::vector<std::pair<std::string, uint64_t>> DpdkPorts::xstats(std::size_t i, bool all_values) const {
    std::vector<std::pair<std::string, uint64_t>> out;
    if (i >= ports_.size()) return out;
    uint16_t const id = ports_[i].port_id;
    int const n = rte_eth_xstats_get(id, nullptr, 0);
    if (n <= 0) return out;
    std::vector<rte_eth_xstat> values(static_cast<std::size_t>(n));
    std::vector<rte_eth_xstat_name> names(static_cast<std::size_t>(n));
    if (rte_eth_xstats_get_names(id, names.data(), unsigned(n)) != n) return out;
    int const got = rte_eth_xstats_get(id, values.data(), unsigned(n));
    if (got <= 0) return out;
    for (int k = 0; k < got && k < n; ++k) {
        const rte_eth_xstat& x = values[std::size_t(k)];
        if (x.id >= uint64_t(n) || (x.value == 0 && !all_values)) continue;
        out.emplace_back(names[std::size_t(x.id)].name, x.value);
    }
    return out;
}

std::string DpdkPorts::features() const {
    if (ports_.empty()) return "dpdk";
    const DpdkPort& p = ports_[0];
    std::string driver = p.driver;
    return "dpdk," + driver + ",rxq=" + std::to_string(p.rx_queues) + ",txq=" + std::to_string(p.tx_queues) +
           ",rss=" + std::to_string(int(p.rss)) + ",csum-offload=" + std::to_string(int(p.tx_csum_v4)) +
           ",ports=" + std::to_string(ports_.size());
}

}  // namespace voxa::io
