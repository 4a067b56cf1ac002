// What a DPDK process sets up once, before any worker runs: the EAL, one mempool per NUMA socket, the ports
// (configured with one RX/TX queue pair per worker where the port has them), and the telemetry command
// "/voxa/stats". The per-worker part is dataplane/io/dpdk_backend.h.
//
// EAL arguments (eal_arguments(), pure): "voxa-dataplane", then
//   -l <cores[0]> --main-lcore <cores[0]>      the control thread is the EAL main lcore;
//   --file-prefix <prefix>                     one per node, so several nodes share a machine;
//   --in-memory / --no-huge, -m <MiB>          when asked (EAL refuses both together: in_memory with no_huge
//                                              becomes --no-huge --no-shconf; tests run that way);
//   --vdev <device> for each port whose device starts with "net_", -a <device> for the others (PCI addresses;
//   with at least one -a, EAL probes nothing else; with none, --no-pci);
//   then the configured extra eal_args, verbatim.
// net_af_packet ignores the RX descriptor count a port is configured with: its ring is `framecnt` frames (default
// 512). A net_af_packet device without framecnt= gets framecnt=<rx_desc rounded up to what the PMD accepts> (a
// multiple of blocksz / framesz: whole blocks) appended (device_argument(), pure), so dpdk.rx_desc sizes it too.
// Workers are NOT EAL lcores: they are our own pinned threads (reactor, doorbells, handover rings as for io_uring)
// and each registers itself with rte_thread_register() on its first poll (it gets an lcore id, so the mempool's
// per-lcore cache works). rte_eal_init() pins the calling thread to the main lcore; eal_init() restores the
// thread's previous affinity afterwards, so the control thread and threads it starts later are not confined.
//
// The EAL can be initialised once per process (DPDK cannot re-initialise after rte_eal_cleanup). A second
// eal_init() with the EAL already up hot-plugs vdevs it does not have yet (rte_eal_hotplug_add) and ignores the rest.
//
// Ports: a port's queue count is min(workers, max_rx_queues, max_tx_queues) for RX and TX; with more than one RX
// queue RSS spreads UDP (and IP) flows. A worker w >= rx_queues has no RX queue on that port: worker 0 receives
// for it and the worker mesh hands datagrams over (io::steer_worker). A worker w >= tx_queues has no TX queue:
// it enqueues its frames on the port's multi-producer ring, which worker 0 drains into its own queue.
// TX checksum offload (IPv4 header + UDP) is enabled when the port offers it, RX checksum offload likewise.
//
// Threads: eal_init(), DpdkPorts::open() and the destructor run on the control thread before the workers start
// and after they stopped. port_counters() and xstats() may be called from any thread (they only read the port).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/endpoint.h"
#include "netstack/frame.h"
#include "netstack/neighbour.h"

struct rte_mempool;
struct rte_ring;

namespace voxa::io {

struct DpdkEalConfig {
    std::vector<int> cores;                 // the workers' cpus; cores[0] becomes the main lcore
    std::string file_prefix;                // required (the caller derives "voxa-<id prefix>" when unset)
    bool in_memory = false, no_huge = false;
    uint32_t memory_mb = 0;                 // -m; 0 leaves EAL's default (with no_huge EAL's default is 64 MiB)
    std::vector<std::string> devices;       // each port's device string
    std::vector<std::string> extra_args;    // appended verbatim
    uint32_t rx_desc = 0;                   // dpdk.rx_desc: sizes net_af_packet's ring (0: the PMD's default)
};

// The device string as EAL gets it: `device` itself, except a net_af_packet device without framecnt= when
// rx_desc > 0: ",framecnt=N" appended, N = rx_desc rounded up to a multiple of the frames per block (blocksz=
// (default the page size) / framesz= (default 2048), as given in the device string; at least one block). Pure.
std::string device_argument(const std::string& device, uint32_t rx_desc);

// The argv (program name first) that eal_init() passes to rte_eal_init. Pure.
std::vector<std::string> eal_arguments(const DpdkEalConfig& config);

// Initialises the EAL once per process (see above). false + *error ("dpdk: EAL: <rte_strerror>; arguments: ...")
// when it fails. Thread: the control thread, before any worker starts.
bool eal_init(const DpdkEalConfig& config, std::string* error);
bool eal_running() noexcept;

// One port as the configuration gives it.
struct DpdkPortConfig {
    std::string device;                     // "net_af_packet0,iface=veth0" or "0000:03:00.0"
    Endpoint ipv4{}, ipv6{};                // this node's addresses on the port (family kNone when absent); port 0
    uint8_t ipv4_prefix = 0, ipv6_prefix = 0;
    std::optional<netstack::MacAddr> mac;   // overrides the port's own MAC (the port is then set promiscuous if it
                                            // refuses the new address)
    std::vector<std::pair<netstack::IpAddr, netstack::MacAddr>> neighbours;   // static
};

struct DpdkPortsConfig {
    std::vector<DpdkPortConfig> ports;
    uint32_t workers = 1;
    uint16_t udp_port = 0;                  // the node's UDP port on every address (must be non-zero)
    std::size_t cell_bytes = 1280;          // the largest datagram; sizes the mbufs
    uint32_t mempool_mbufs = 8191, mbuf_cache = 256, rx_desc = 1024, tx_desc = 1024;
    uint32_t tx_ring_slots = 4096;          // the ring of a port with fewer TX queues than workers
    uint16_t queues_max = 0;                // at most this many queue pairs per port (0: as many as workers)
};

// A port after open(); read-only while the workers run (the workers' backends point into it).
struct DpdkPort {
    uint16_t port_id = 0;
    std::string device, name, driver;       // name: what EAL calls it ("net_af_packet0", "0000:03:00.0")
    int socket = 0;                         // NUMA socket of the port (0 when unknown)
    netstack::LocalAddrs local;             // our MAC and (IP, udp_port) pairs on this port
    Endpoint ipv4{}, ipv6{};                // for on-link checks; family kNone when absent
    uint8_t ipv4_prefix = 0, ipv6_prefix = 0;
    std::vector<std::pair<netstack::IpAddr, netstack::MacAddr>> neighbours;
    uint16_t rx_queues = 1, tx_queues = 1;
    bool rss = false;
    bool tx_csum_v4 = false, tx_csum_v6 = false;   // IPv4 header + UDP (v4), UDP (v6) checksum offload
    bool rx_csum = false;                   // the port flags bad IPv4/UDP checksums in the mbuf
    rte_mempool* pool = nullptr;            // the mempool of the port's socket (shared by ports on one socket)
    rte_ring* tx_ring = nullptr;            // workers without a TX queue enqueue here (tx_queues < workers)
    // Is `ip` on one of this port's prefixes?
    bool on_link(const Endpoint& ip) const noexcept;
};

// Counters of rte_eth_stats for one port.
struct DpdkPortCounters {
    uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0, imissed = 0, ierrors = 0, oerrors = 0,
             rx_nombuf = 0;
};

// A port's process-wide neighbour table: every worker's backend feeds it the ARP / ND answers it receives and
// consults it when its own table misses (see dpdk_backend.h). Only on those rare paths, under the mutex.
struct SharedNeighbours {
    explicit SharedNeighbours(std::size_t capacity) : table(capacity) {}
    std::mutex mutex;
    netstack::NeighbourTable table;
};

class DpdkPorts {
public:
    // Looks the ports up (hot-plugging vdevs the EAL does not have), creates the mempools, configures and starts
    // every port. nullptr + *error naming the key ("dpdk.ports[1].device: no such port ...", "dpdk.mempool_mbufs:
    // ...") when something fails. The EAL must be running.
    static std::unique_ptr<DpdkPorts> open(const DpdkPortsConfig& config, std::string* error);
    ~DpdkPorts();   // stops the ports (not closed: a vdev could not come back), frees rings and mempools
    DpdkPorts(const DpdkPorts&) = delete;
    DpdkPorts& operator=(const DpdkPorts&) = delete;

    std::vector<DpdkPort>& ports() noexcept { return ports_; }
    const std::vector<DpdkPort>& ports() const noexcept { return ports_; }
    const DpdkPortsConfig& config() const noexcept { return config_; }
    // rte_eth_stats_get of port i (zeros if it fails). Any thread.
    DpdkPortCounters port_counters(std::size_t i) const noexcept;
    // rte_eth_xstats of port i as (name, value), non-zero values only unless all_values. Any thread; allocates.
    std::vector<std::pair<std::string, uint64_t>> xstats(std::size_t i, bool all_values = false) const;
    SharedNeighbours& shared_neighbours(std::size_t i) noexcept { return *shared_[i]; }
    // e.g. "dpdk,net_af_packet,rxq=1,txq=1,rss=0,csum-offload=0" for port 0.
    std::string features() const;

private:
    explicit DpdkPorts(const DpdkPortsConfig& config) : config_(config) {}
    bool setup(std::string* error);
    bool setup_port(std::size_t index, std::string* error);
    rte_mempool* pool_for(int socket, std::string* error);

    DpdkPortsConfig config_;
    std::vector<DpdkPort> ports_;
    std::vector<std::pair<int, rte_mempool*>> pools_;   // socket -> pool
    std::vector<uint16_t> started_;
    std::vector<std::unique_ptr<SharedNeighbours>> shared_;   // per port
};

// The "/voxa/stats" telemetry command (dpdk-telemetry.py -f <file_prefix>, then /voxa/stats) answers with a dict
// of the counters `source` returns (called on DPDK's telemetry thread: it must be thread-safe). Registered once per
// process; set_telemetry_source(nullptr) before the source's owner goes away. Returns false when the EAL is not
// running or telemetry refused the command.
using TelemetrySource = std::function<std::vector<std::pair<std::string, uint64_t>>()>;
bool set_telemetry_source(TelemetrySource source);

}  // namespace voxa::io
