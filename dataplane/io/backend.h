// What every data-plane backend (io_uring now, DPDK later) offers a worker: receive in bursts into buffers the
// backend owns, transmit by copy into TX slots that are submitted in batches, and a place to sleep.
//
// One backend per worker thread; not thread-safe. Every call comes from the worker's thread (the thread that
// created it may hand it over once, before the first poll()). Nothing here throws, logs or allocates after
// construction; a datagram that cannot be handled is dropped and counted in stats().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/endpoint.h"
#include "link/endpoint.h"
#include "reactor/waiter.h"

namespace voxa::io {

// Counters written only by the owning worker. Packets are datagrams (a GRO batch counts each datagram in it).
struct BackendStats {
    uint64_t rx_packets = 0, rx_bytes = 0;
    uint64_t rx_completions = 0;     // receive completions that carried data (one per datagram or GRO batch)
    uint64_t rx_gro_batches = 0;     // completions that carried more than one datagram
    uint64_t rx_no_buffer = 0;       // the kernel found the provided-buffer ring empty (datagrams were dropped)
    uint64_t rx_errors = 0;          // failed receive completions, truncated datagrams
    uint64_t tx_packets = 0, tx_bytes = 0;   // datagrams the kernel accepted
    uint64_t tx_submits = 0;         // io_uring_submit calls that carried sends
    uint64_t tx_gso_batches = 0;     // sends of more than one datagram with UDP_SEGMENT
    uint64_t tx_dropped_full = 0;    // transmit() found every TX slot in flight
    uint64_t tx_errors = 0;          // datagrams in sends that failed
    // Added beyond the agreed API:
    uint64_t tx_dropped_size = 0;    // transmit() of an empty datagram or one larger than a TX slot (cell_bytes)
    uint64_t rx_rearms = 0;          // receive requests re-armed (multishot ended: no buffer, CQ overflow)
    // DPDK backend only (zero for io_uring). Frames that parse_udp did not deliver, by netstack::Drop, and ARP /
    // neighbour-discovery frames not answered or learned from, by netstack::ControlDrop (index = reason).
    static constexpr std::size_t kFrameDropsMax = 24, kControlDropsMax = 20;
    uint64_t frame_drops[kFrameDropsMax] = {};
    uint64_t control_drops[kControlDropsMax] = {};
    uint64_t control_replies = 0;    // ARP replies and neighbour advertisements sent
    uint64_t solicitations = 0;      // ARP requests and neighbour solicitations sent
    uint64_t neighbours_learned = 0; // answers to our solicitations taken into the neighbour table
    uint64_t tx_unresolved = 0;      // datagrams dropped: no MAC for the next hop (waited too long, or the
                                     // per-neighbour / per-worker wait queue or the neighbour table was full)
    uint64_t tx_no_route = 0;        // datagrams dropped: no port has an address of the destination's family
    uint64_t rx_multi_segment = 0;   // frames in more than one mbuf (larger than the mbuf): dropped
    uint64_t tx_queued_unresolved = 0;   // datagrams that waited for the next hop's MAC (sent when the answer
                                         // came, or later counted in tx_unresolved)
    uint64_t tx_zero_copy = 0;       // datagrams sent (tx_packets) from the mbuf they arrived in: a relayed cell
                                     // resealed in place; tx_packets - tx_zero_copy were copied into a fresh mbuf
    // The port's own counters (rte_eth_stats), reported by the worker that owns the port's statistics (worker 0)
    // and already folded into rx_no_buffer (imissed + rx_nombuf), rx_errors (ierrors), tx_errors (oerrors).
    uint64_t port_ipackets = 0, port_opackets = 0, port_imissed = 0, port_rx_nombuf = 0, port_ierrors = 0,
             port_oerrors = 0;
};

// Receives datagrams from Backend::poll(). `data` is writable (the engine decrypts in place) and valid only
// during the call; `from` likewise. The handler may transmit() a datagram that lies inside `data` (a relayed cell
// resealed in place): a backend may then send that very buffer without copying it (DPDK: the received mbuf). The
// handler must not write to those bytes again after that transmit() (it may transmit other datagrams, from
// anywhere, including again from `data`: those are copied).
class RxHandler {
public:
    virtual ~RxHandler() = default;
    virtual void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept = 0;
};

class Backend : public link::TxSink, public reactor::Waiter {
public:
    // Reaps completions and hands up to `budget` datagrams to `h` (each in a writable buffer valid during the
    // call; a GRO batch is split into its datagrams, and a batch cut by the budget resumes at the next poll).
    // Re-arms receive as needed. `h` may call transmit() from inside on_datagram(). Returns datagrams handled.
    virtual std::size_t poll(RxHandler& h, std::size_t budget) noexcept = 0;
    // transmit() (from link::TxSink): copies the datagram into a TX slot (DPDK: or sends the received buffer it
    // lies in, see RxHandler); consecutive datagrams to the same
    // endpoint with the same size are coalesced into one UDP GSO send (up to 64 segments / 64 KiB); flushes by
    // itself when tx_batch datagrams are queued. Never blocks; drops and counts when every slot is in flight.
    virtual void flush() noexcept = 0;                        // submit everything queued
    virtual bool tx_pending() const noexcept = 0;             // datagrams queued and not yet submitted
    // Sleeps until a completion (receive, send, the wake fd) or timeout_ns; returns at once if one is ready.
    void wait(uint64_t timeout_ns) noexcept override = 0;
    virtual uint16_t local_port() const noexcept = 0;         // the bound UDP port (host order)
    virtual std::string features() const = 0;                 // e.g. "multishot,bufring,gso,gro,bpf-steering"
    virtual const BackendStats& stats() const noexcept = 0;
};

}  // namespace voxa::io
