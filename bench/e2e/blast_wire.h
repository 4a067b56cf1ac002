// voxa-blast's two ends of the wire: how the in-process origin and destination (two real voxa::node::Node
// engines) reach the relay under test, and how a pool of prebuilt forward cells is pushed at it as fast as
// the port takes them.
//
//   KernelWire  two non-blocking UDP sockets (origin, destination) on one kernel address; the blast is
//   sendmmsg
//               batches of 64 from the origin socket (for a relay on io_uring or on DPDK net_af_packet, both
//               reached through a veth).
//   DpdkWire    one EAL process with two net_memif servers (origin side, destination side) that the relay's
//   two
//               memif clients attach to; our own Ethernet/IPv4/UDP headers (dataplane/netstack) and static
//               MACs (memif has no ARP); the blast is rte_eth_tx_burst of mbufs filled from the pool. memif
//               applies back-pressure (a full ring takes nothing), so the generator never outruns the relay
//               there.
//
// The pool is one contiguous buffer of frames at a fixed stride: header_bytes() of link headers (0 for the
// kernel wire, 42 for memif: Ethernet + IPv4 + UDP with the UDP checksum already computed) and the 1280-byte
// datagram. During blast() the destination side only counts what arrives. Everything runs on the thread that
// made the wire (the generator core); nothing here is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/endpoint.h"

namespace voxa::bench {

enum class Side : uint8_t { kOrigin = 0, kDestination = 1 };

struct BlastResult {
    uint64_t sent = 0;        // frames the port accepted
    uint64_t arrived = 0;     // frames the destination side received during the blast
    uint64_t full_polls = 0;  // tx calls that took nothing (port full: back-pressure or EAGAIN)
    uint64_t ns = 0;          // first transmit to the end of the blast
};

class Wire {
  public:
    using Receive = std::function<void(Side side, const Endpoint& from, uint8_t* data, std::size_t len)>;
    virtual ~Wire() = default;

    // The endpoint the relay knows each side by, and the relay's endpoint as that side reaches it.
    virtual Endpoint local(Side side) const = 0;
    virtual Endpoint relay(Side side) const = 0;
    // One datagram from a side (handshakes, circuit build, warm-up messages). Dropped silently on a full
    // port.
    virtual void send(Side side, const Endpoint& to, std::span<const uint8_t> datagram) = 0;
    // Hands every datagram waiting on either side to `fn` (buffers valid during the call only).
    virtual void poll(const Receive& fn) = 0;

    // Bytes in front of each datagram in the pool, and writes them for an origin -> relay datagram.
    virtual std::size_t header_bytes() const = 0;
    virtual void write_headers(uint8_t* headers, std::span<const uint8_t> datagram) const = 0;
    // Sends pool frames [0, count) in order (stride bytes apart, each header_bytes() + datagram_bytes) until
    // all went or `deadline_ns` (CLOCK_MONOTONIC) passed; counts the destination side's arrivals meanwhile.
    virtual BlastResult blast(const uint8_t* pool, std::size_t count, std::size_t stride,
                              std::size_t datagram_bytes, uint64_t deadline_ns) = 0;
    // Receives and discards for `ms` milliseconds (between runs: what the relay still sends). Returns the
    // count.
    virtual uint64_t drain(int ms) = 0;
    // Port counters of interest (imissed etc.) as JSON text, "{}" when none.
    virtual std::string port_stats_json() const { return "{}"; }
    // Whether the ports are up (memif: a peer is connected on both); the kernel wire always is.
    virtual bool ready() const { return true; }
};

struct KernelWireOptions {
    Endpoint origin, destination;  // local addresses to bind (same IP, different ports)
    Endpoint relay;                // the relay's address
    std::size_t socket_bytes = 64u << 20;
};
// nullptr and `error` on failure.
std::unique_ptr<Wire> make_kernel_wire(const KernelWireOptions& o, std::string& error);

struct MemifWireOptions {
    std::string dir;  // the memif sockets: dir/a.sock (origin side), dir/b.sock (destination side)
    int core = 0;     // the EAL lcore (the generator's core)
    Endpoint origin, destination;                                       // our addresses, one per memif
    Endpoint relay_a, relay_b;                                          // the relay's address on each memif
    std::string origin_mac, destination_mac, relay_a_mac, relay_b_mac;  // "02:76:6d:..."
    uint32_t mbufs = 32767;
};
// Starts EAL (once per process) and the two memif servers. nullptr and `error` on failure or without DPDK.
std::unique_ptr<Wire> make_memif_wire(const MemifWireOptions& o, std::string& error);

}  // namespace voxa::bench
