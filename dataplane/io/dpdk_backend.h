// The DPDK poll-mode backend: one per worker, on the ports that dpdk_eal.h's DpdkPorts set up for the process.
//
// Receive (poll): rte_eth_rx_burst on this worker's RX queue of every port (a worker without an RX queue on a port
// receives nothing from it: worker 0 does, and the worker mesh hands datagrams over). Each frame is parsed in place
// by netstack::parse_udp and handed up as a span INTO THE MBUF (the engine decrypts in place); ARP and ICMPv6 go
// to netstack::handle_control (answers for our addresses are transmitted); everything else is dropped and counted
// by reason (BackendStats::frame_drops / control_drops). The burst's mbufs are freed in bulk after the burst (a
// frame that transmit() took for a relayed cell holds a second reference and lives on until the port sent it).
// Frames the port flagged with a bad IPv4 or UDP checksum (RX checksum offload) are counted as such; without the
// offload the parser verifies in software.
// Checksums follow each port's policy (DpdkBackendConfig::checksum, netstack::ChecksumPolicy; dataplane.json
// dpdk.ports[].checksum): auto = the port's offload where offered, else software, but off on net_memif (a
// shared-memory link: nothing corrupts a frame there, and the link AEAD authenticates every datagram); software
// = our own code both ways; off = IPv4 datagrams go out with UDP checksum 0 and the IPv4 header checksum, and
// received IPv4 datagrams have only their header checksum checked (IPv6 keeps its mandatory UDP checksum both
// ways). features() ends with ",csum=<mode>" per port ("offload", "software" or "off"; ports joined by '/').
//
// Transmit: transmit() takes an mbuf from the port's pool, copies the datagram behind room for the headers,
// writes Ethernet/IP/UDP (netstack::write_udp_headers) and sets the checksum-offload flags when the port offers
// them (else checksums in software). Frames are buffered per port and sent with rte_eth_tx_burst when tx_batch
// are queued or on flush().
// Zero-copy relay: the engine decrypts a relayed cell in place, reseals it in place (fixed cell size: same length)
// and transmits it from inside the buffer poll() handed up. When transmit() sees a datagram that lies inside the
// mbuf being delivered right now (handle_frame -> on_datagram), that mbuf has room for the new headers in front
// of it (the old ones and the headroom) and nobody else holds it, it sends THAT mbuf: reference count + 1 (the
// burst's bulk free drops the receive side's reference), data_off moved to the new header start, RX flags cleared,
// headers written in front of the datagram. No allocation, no copy (BackendStats::tx_zero_copy). Once per received
// frame; any other datagram (handshakes, a second datagram from the same buffer, handed-over datagrams) is copied.
// The next hop's MAC comes from the neighbour table: static entries from the config, and answers to our own ARP
// requests / neighbour solicitations. A datagram to an unresolved next hop waits (parked, tx_queued_unresolved):
// its frame is built (mbuf held, destination MAC zero) and a solicitation sent (at most once per second per
// address); when the answer arrives (on this worker: at once; on another: found in the process-wide table within
// ~1 ms by poll()) the waiting frames go out in order, with the MAC filled in. At most unresolved_per_neighbour
// per next hop and unresolved_max per worker wait, each at most unresolved_timeout_ns; beyond that they are
// dropped and counted (tx_unresolved). Only on-link destinations are reachable (no gateway): the destination
// must be on one of a port's prefixes, else the first port of the destination's family is used.
//
// Neighbours: each backend keeps its own table (no lock on the send path); a miss also consults a process-wide
// table under a mutex (rare: only while an address is unresolved), which every backend feeds with the answers it
// receives, so a worker learns a MAC even when the answer to its solicitation arrived on another worker's queue.
//
// wait(): DPDK has no interrupt here; the reactor spins idle_spins times before calling wait(), which then sleeps
// on the worker's doorbell fd (control commands and handovers wake it at once). The first idle wait sleeps at most
// idle_sleep_ns (default 100 µs); each further consecutive idle wait doubles that, up to 16x, and never beyond the
// reactor's timeout (dataplane.sleep_max_us, default 1 ms, or the next timer); a received frame resets it. So a
// busy node sleeps at most ~100 µs between bursts (a 1024-descriptor ring absorbs 100 µs of ~10 Mpps), and an
// idle one wakes ~1000 times a second: about 3 % of a core (measured on this machine, af_packet port), instead
// of the 100 % of a pure poll loop. The price: the first frame after a long idle period waits up to sleep_max.
//
// Threads: created on the control thread, then used by one worker thread only; the first poll() registers that
// thread with DPDK (rte_thread_register) so it gets an lcore id and the mempool cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/backend.h"
#include "io/dpdk_eal.h"

namespace voxa::io {

struct DpdkBackendConfig {
    DpdkPorts* ports = nullptr;       // the process's ports; outlives the backend
    uint32_t worker = 0, workers = 1;
    int wake_fd = -1;                 // the worker's doorbell eventfd; a write wakes wait()
    std::size_t cell_bytes = 1280;    // the largest datagram transmit() accepts
    std::size_t tx_batch = 32;        // frames per port before transmit() sends by itself (1..512)
    std::size_t neighbours_max = 1024;   // this worker's neighbour table capacity
    uint64_t idle_sleep_ns = 100'000; // the longest wait() sleeps
    bool port_stats = false;          // this backend reports the ports' rte_eth_stats (one worker per process)
    uint64_t port_stats_ns = 50'000'000;   // how often it reads them
    // Datagrams waiting for a next hop's MAC (mbufs held): per next hop, per worker, and for how long.
    std::size_t unresolved_per_neighbour = 64, unresolved_max = 1024;
    uint64_t unresolved_timeout_ns = 1'000'000'000;
    // Checksum policy per port (index as in ports->ports()); ports beyond the vector's end use kAuto.
    std::vector<netstack::ChecksumPolicy> checksum;
};

// nullptr + *error when the configuration is unusable (no ports, tx_batch out of range). The caller owns it.
std::unique_ptr<Backend> make_dpdk_backend(const DpdkBackendConfig& config, std::string* error);

}  // namespace voxa::io
