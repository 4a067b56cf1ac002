// Our own Ethernet II / IPv4 / IPv6 / UDP layer for the DPDK backend: parse a received frame in place and write
// the headers of a frame to send in front of a payload that is already in place. No DPDK here: plain bytes, so
// the layer is unit-tested and fuzzed without EAL.
//
// What is accepted (everything else is dropped and counted by reason, see Drop):
//   Ethernet II, untagged, destination = our MAC (the NIC strips VLAN tags or we are not on a VLAN);
//   IPv4 without options (IHL 5: our peers, the io_uring nodes, never send options; rejecting them keeps the
//     parser small), not fragmented (MF clear, offset 0), protocol UDP;
//   IPv6 with next header UDP directly (no extension headers; a Fragment header is counted as kFragment);
//   UDP whose length equals the IP payload length, to one of our (address, port) pairs, from a unicast source
//     and a non-zero port. A zero UDP checksum is accepted on IPv4 only (RFC 768), never on IPv6 (RFC 8200).
//   Ethernet padding after the IP datagram (frames shorter than 60 bytes are padded) is ignored.
// ARP frames and ICMPv6 go to control.h: parse_udp reports them as kArp / kIcmpv6 so that one parse dispatches.
//
// Frames we send (write_udp_headers): IPv4 DSCP/ECN 0, identification 0 with DF set (an atomic datagram, RFC
// 6864: the ID is unused, and a counter would leak our packet rate), TTL 64; IPv6 traffic class 0, flow label 0,
// hop limit 64.
//
// Thread safety: every function is pure on its arguments; LocalAddrs is read-only while packets are parsed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/endpoint.h"

namespace voxa::netstack {

inline constexpr std::size_t kEthHeaderBytes = 14;
inline constexpr std::size_t kIpv4HeaderBytes = 20;
inline constexpr std::size_t kIpv6HeaderBytes = 40;
inline constexpr std::size_t kUdpHeaderBytes = 8;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;    // 802.1Q
inline constexpr uint16_t kEtherTypeQinQ = 0x88A8;    // 802.1ad
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIpv6NextFragment = 44;
inline constexpr uint8_t kTtlDefault = 64;

struct MacAddr {
    std::array<uint8_t, 6> b{};

    bool is_multicast() const noexcept { return (b[0] & 1) != 0; }   // broadcast included
    bool is_broadcast() const noexcept {
        return b == std::array<uint8_t, 6>{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    }
    bool is_zero() const noexcept { return b == std::array<uint8_t, 6>{}; }
    static MacAddr broadcast() noexcept { return MacAddr{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}; }
    friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

// An IP address without a port: the key of the neighbour table. IPv4 in the first 4 bytes, the rest zero.
struct IpAddr {
    Endpoint::Family family = Endpoint::Family::kNone;
    std::array<uint8_t, 16> b{};

    static IpAddr v4(const uint8_t* four) noexcept;
    static IpAddr v6(const uint8_t* sixteen) noexcept;
    static IpAddr of(const Endpoint& e) noexcept;   // the address of a kIpv4/kIpv6 endpoint, port dropped
    std::size_t size() const noexcept { return family == Endpoint::Family::kIpv4 ? 4 : 16; }
    friend bool operator==(const IpAddr&, const IpAddr&) = default;
};

// Our own addresses on this port: the MAC and up to kLocalAddrsMax (IP, UDP port) pairs. IPv6 neighbour
// discovery answers for every IPv6 address here, so list the link-local address too (its port may be 0).
inline constexpr std::size_t kLocalAddrsMax = 8;
struct LocalAddrs {
    MacAddr mac{};
    std::array<Endpoint, kLocalAddrsMax> addrs{};
    std::size_t count = 0;

    // Adds an address; false when full or when `e` is not IPv4/IPv6.
    bool add(const Endpoint& e) noexcept;
    // Index of the first address with this family and IP (`ip` holds 4 or 16 bytes), or -1.
    int find_ip(Endpoint::Family family, const uint8_t* ip) const noexcept;
    bool has_ip(const IpAddr& ip) const noexcept { return find_ip(ip.family, ip.b.data()) >= 0; }
};

// Why parse_udp did not deliver a frame. kArp and kIcmpv6 are not drops: they say "give this frame to
// control.h". The caller counts every other value, one counter per reason; drop_name() gives metric names.
enum class Drop : uint8_t {
    kNone,
    kShort,             // shorter than the fixed headers its type needs
    kVlan,              // 802.1Q / 802.1ad tagged
    kArp,               // ethertype ARP: hand to handle_arp()           (not a drop)
    kIcmpv6,            // IPv6 carrying ICMPv6: hand to handle_nd()     (not a drop)
    kNotIp,             // another ethertype (LLDP, ...)
    kNotOurMac,         // destination MAC is not ours (multicast, broadcast or another host)
    kBadIpVersion,      // version nibble does not match the ethertype
    kBadIpHeader,       // IPv4 IHL < 5 or the reserved flag set
    kIpOptions,         // IPv4 with options (IHL > 5)
    kBadIpChecksum,     // IPv4 header checksum wrong
    kFragment,          // IPv4 MF or offset != 0, IPv6 Fragment header
    kIpv6ExtHeader,     // another IPv6 extension header (hop-by-hop, routing, destination options, ...)
    kBadLength,         // IP length beyond the frame or below its header, UDP length != IP payload length
    kNotUdp,            // another transport protocol (ICMPv4, TCP, ...)
    kBadSource,         // multicast source MAC, source IP unspecified/multicast/broadcast/loopback, port 0
    kNotOurAddress,     // destination IP is none of ours
    kNotOurPort,        // our IP but not our UDP port
    kBadUdpChecksum,    // UDP checksum wrong, or zero on IPv6
    kCount
};
std::string_view drop_name(Drop d) noexcept;

// A delivered UDP datagram. Offsets are into the caller's frame: the payload is frame[payload_offset ..
// payload_offset + payload_len), processed in place.
struct ParsedUdp {
    Endpoint from;                 // source IP and port
    Endpoint to;                   // our IP and port it was sent to
    MacAddr src_mac;               // the sender's MAC (the next hop back)
    std::size_t payload_offset = 0;
    std::size_t payload_len = 0;
    uint8_t local_index = 0;       // index in LocalAddrs::addrs of `to`
};

// Which checksums parse_udp verifies in software.
enum class RxVerify : uint8_t {
    kNone,       // neither: the NIC did (the caller drops frames the NIC flagged bad and counts them as
                 // kBadIpChecksum / kBadUdpChecksum)
    kIpHeader,   // IPv4: the header checksum only, not the UDP checksum (checksum policy "off": the link AEAD
                 // authenticates every payload byte anyway, see ChecksumPolicy). IPv6: the UDP checksum (it is
                 // the only one covering the addresses; a zero one is refused whatever the mode).
    kAll,        // the IPv4 header and the UDP checksum
};

// Parses one received frame. `frame` is borrowed for the call (not kept). Returns kNone with *out filled, or why
// not (*out then undefined).
Drop parse_udp(std::span<const uint8_t> frame, const LocalAddrs& local, RxVerify verify, ParsedUdp* out) noexcept;
// The same with `verify_checksums` true = RxVerify::kAll, false = RxVerify::kNone.
inline Drop parse_udp(std::span<const uint8_t> frame, const LocalAddrs& local, bool verify_checksums,
                      ParsedUdp* out) noexcept {
    return parse_udp(frame, local, verify_checksums ? RxVerify::kAll : RxVerify::kNone, out);
}

// Bytes of Ethernet + IP + UDP headers in front of a payload.
constexpr std::size_t header_bytes(Endpoint::Family family) noexcept {
    return kEthHeaderBytes + (family == Endpoint::Family::kIpv6 ? kIpv6HeaderBytes : kIpv4HeaderBytes) +
           kUdpHeaderBytes;
}
static_assert(header_bytes(Endpoint::Family::kIpv4) == 42 && header_bytes(Endpoint::Family::kIpv6) == 62);

// Largest UDP payload write_udp_headers accepts: the IPv4 total length and IPv6 payload length are 16 bits.
inline constexpr std::size_t kUdpPayloadMax = 65535 - kIpv4HeaderBytes - kUdpHeaderBytes;

enum class ChecksumMode : uint8_t {
    // We fill the IPv4 header checksum and the full UDP checksum.
    kSoftware,
    // For NIC checksum offload (DPDK RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM, with l2_len/l3_len set):
    // the IPv4 checksum field is 0 and the UDP checksum field holds the folded pseudo-header sum, not complemented
    // (what rte_ipv4_phdr_cksum / rte_ipv6_phdr_cksum return for non-TSO packets). The NIC computes the IPv4
    // header checksum and adds the UDP header and payload into the UDP field, then complements it.
    kOffload,
    // Checksum policy "off" (see ChecksumPolicy): IPv4 gets its header checksum and UDP checksum 0 ("no
    // checksum", RFC 768); IPv6 gets the full UDP checksum as in kSoftware (mandatory there, RFC 8200 §8.1).
    kNoUdp,
};

// A DPDK port's checksum policy (dataplane.json dpdk.ports[].checksum; the DPDK backend applies it).
//   kAuto:     the port's checksum offload where it offers it (TX and RX separately), else kSoftware, except on
//              net_memif, where it means kOff.
//   kSoftware: our own code computes and verifies every checksum (a NIC's offload is not used).
//   kOff:      UDP checksums are neither computed (IPv4: 0) nor verified; IPv4 header checksums still are, and
//              IPv6 keeps its mandatory UDP checksum both ways.
// Why kOff is safe where it applies: the UDP checksum only catches accidental corruption, and every voxa datagram
// is authenticated end to end on the link by its AEAD tag (16 bytes, a forgery or a flipped bit is refused with
// probability 1 - 2^-128), so a corrupted datagram is dropped one layer up instead of at the parser: same
// outcome, one extra decryption attempt. The checksum adds no security (anyone can recompute it). What it still
// does is filter junk cheaply before the AEAD; on a shared-memory link (memif) nothing corrupts frames, so that
// costs ~115 ns per cell (two passes over 1.3 kB) for nothing. The IPv4 header checksum stays: it protects the
// addresses and lengths the parser acts on, and costs 20 bytes. On real wires use kAuto (offload) or kSoftware:
// an off-path router or a NIC without offload may corrupt, and a datagram with a corrupted address or port would
// then be misdelivered before any AEAD sees it.
enum class ChecksumPolicy : uint8_t { kAuto, kSoftware, kOff };
std::string_view checksum_policy_name(ChecksumPolicy p) noexcept;   // "auto", "software", "off"
// Parses "auto" | "software" | "off"; false for anything else.
bool parse_checksum_policy(std::string_view s, ChecksumPolicy* out) noexcept;

// Writes Ethernet, IP and UDP headers into `headers`, which must be exactly header_bytes(from.family) long and
// be followed in the same buffer by `payload` (payload.data() == headers.data() + headers.size()); the payload
// is read (for the UDP checksum in kSoftware mode), never moved or written. `from` and `to` have the same family
// (kIpv4 or kIpv6); payload.size() <= kUdpPayloadMax. Violations are bugs (VOXA_ASSERT).
void write_udp_headers(std::span<uint8_t> headers, const MacAddr& src, const MacAddr& dst, const Endpoint& from,
                       const Endpoint& to, std::span<const uint8_t> payload, ChecksumMode mode) noexcept;

}  // namespace voxa::netstack
