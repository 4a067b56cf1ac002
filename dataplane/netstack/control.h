// ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861) for OUR addresses only: answer who-has for our IPv4
// addresses and neighbour solicitations for our IPv6 addresses, learn a neighbour's MAC from the answer to a
// solicitation we sent, and build those solicitations. Nothing else: other ICMPv6 (echo, router advertisements,
// redirects, MLD), other ARP opcodes and ethertypes are dropped and counted (ControlDrop).
//
// Learning follows the anti-poisoning rule of neighbour.h: only answers to our own solicitations (ARP replies
// unicast to us, neighbour advertisements with the Solicited flag unicast to us) are learned, through
// NeighbourTable::learn. Requests never touch the table: the reply goes to the MAC that asked (the ARP sender
// hardware address, or the NS source link-layer address option / Ethernet source). A frame that claims one of
// OUR addresses from another MAC (address conflict, or our own frame looped back) is dropped as kBadSender.
//
// Frames built here (replies and solicitations) are not padded to 60 bytes; the NIC pads short frames.
//   ARP frame (42 bytes): | eth dst | eth src | 0x0806 | htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op u16 |
//                         | sender MAC | sender IP | target MAC | target IP |         (all big-endian)
//   NS/NA frame (86 bytes): | eth 14 | IPv6 40, hop limit 255, next header 58 | ICMPv6 type, code 0, checksum |
//                         | NS: reserved u32 / NA: flags R|S|O u32 | target address 16 | option type 1 (source)
//                         | or 2 (target link-layer address), length 1 (8 bytes), MAC 6 |
//
// Thread safety: the table is the calling worker's; frames and buffers are borrowed for the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "netstack/frame.h"
#include "netstack/neighbour.h"

namespace voxa::netstack {

inline constexpr std::size_t kArpFrameBytes = 42;
inline constexpr std::size_t kNdFrameBytes = 86;
inline constexpr std::size_t kControlFrameMax = kNdFrameBytes;   // the smallest reply buffer to pass
inline constexpr uint8_t kIcmpv6NeighbourSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighbourAdvertisement = 136;

// Why a control frame was not answered or learned from. The caller counts each; control_drop_name() names them.
enum class ControlDrop : uint8_t {
    kNone,               // handled: a reply was written (*reply_len > 0) or a neighbour learned
    kShort,              // too short for its headers
    kVlan,               // tagged frame
    kNotControl,         // neither ARP nor IPv6 carrying ICMPv6 directly
    kNotOurMac,          // Ethernet destination is not ours, broadcast (ARP) or our all-nodes/solicited-node group
    kBadArp,             // hardware/protocol type or sizes other than Ethernet/IPv4
    kArpOp,              // ARP opcode other than request (1) or reply (2)
    kBadIpv6,            // IPv6 version or payload length inconsistent with the frame
    kNotNd,              // ICMPv6 other than neighbour solicitation/advertisement (echo, RA, redirect, MLD, ...)
    kBadHopLimit,        // ND with hop limit != 255 (not from this link, RFC 4861 §7.1)
    kBadIcmpChecksum,    // ICMPv6 checksum wrong
    kBadNd,              // code != 0, too short, malformed option, multicast target, wrong destination
    kBadSender,          // multicast sender MAC, ARP sender MAC != Ethernet source, bad sender IP, claims our IP
    kNotForUs,           // target address is none of ours (requests), or an answer not sent to our address
    kUnsolicited,        // an answer we did not ask for (gratuitous ARP, unsolicited NA, late or repeated answer)
    kStaticKept,         // an answer for a static neighbour: the table keeps the configured MAC
    kCount
};
std::string_view control_drop_name(ControlDrop d) noexcept;

// ARP: answers a request for one of our IPv4 addresses into `reply` (>= kArpFrameBytes), or learns from a reply
// to our request. *reply_len is set to the bytes written (0 when there is nothing to send). `frame` and `reply`
// are borrowed and must not overlap.
ControlDrop handle_arp(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                       uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept;

// IPv6 ND: answers a neighbour solicitation for one of our IPv6 addresses with a neighbour advertisement into
// `reply` (>= kNdFrameBytes; unicast to the solicitor, or to all-nodes for duplicate address detection), or
// learns from a solicited advertisement. Same conventions as handle_arp.
ControlDrop handle_nd(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                      uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept;

// Dispatches on the ethertype (and IPv6 next header) to handle_arp or handle_nd; for frames parse_udp reported as
// Drop::kArp or Drop::kIcmpv6.
ControlDrop handle_control(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                           uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept;

// Writes an ARP request "who has `target` (IPv4), tell `ours` (IPv4) at `our_mac`" into `out` (>= kArpFrameBytes);
// broadcast, or unicast to *unicast_to (a refresh of a stale entry, RFC 1122 §2.3.2.1) when not null. Returns
// kArpFrameBytes.
std::size_t build_arp_request(std::span<uint8_t> out, const MacAddr& our_mac, const IpAddr& ours,
                              const IpAddr& target, const MacAddr* unicast_to) noexcept;

// Writes a neighbour solicitation for `target` (IPv6) from `ours` (IPv6) with our MAC in a source link-layer
// address option into `out` (>= kNdFrameBytes). Sent to the target's solicited-node multicast address
// ff02::1:ffXX:XXXX on MAC 33:33:ff:XX:XX:XX, or unicast to `target` on *unicast_to (a refresh) when not null.
// Returns kNdFrameBytes.
std::size_t build_neighbour_solicitation(std::span<uint8_t> out, const MacAddr& our_mac, const IpAddr& ours,
                                         const IpAddr& target, const MacAddr* unicast_to) noexcept;

// The solicitation to send when NeighbourTable::resolve says kSolicit/kFoundStale: ARP or NS by the target's
// family, from the first of our addresses of that family. Returns the frame length, or 0 when we have no
// address of that family.
std::size_t build_solicitation(std::span<uint8_t> out, const LocalAddrs& local, const IpAddr& target,
                               const MacAddr* unicast_to) noexcept;

// The solicited-node multicast address (ff02::1:ff00:0/104 + low 24 bits) of an IPv6 address, and its MAC.
IpAddr solicited_node(const IpAddr& ip6) noexcept;
MacAddr multicast_mac(const IpAddr& group6) noexcept;

}  // namespace voxa::netstack
