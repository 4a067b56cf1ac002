#include "netstack/control.h"

#include <cstring>

#include "netstack/checksum.h"
#include "voxa/assert.h"

namespace voxa::netstack {
namespace {

using Family = Endpoint::Family;

constexpr std::size_t kArpBytes = 28;
constexpr std::size_t kNdMinBytes = 24;         // type, code, checksum, u32, target
constexpr std::size_t kNdMessageBytes = 32;     // what we send: + one 8-byte link-layer address option
constexpr uint8_t kOptSourceLl = 1;
constexpr uint8_t kOptTargetLl = 2;
constexpr uint8_t kNaFlagSolicited = 0x40;
constexpr uint8_t kNaFlagOverride = 0x20;
constexpr uint8_t kAllNodes[16] = {0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

bool is_zero(const uint8_t* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != 0) return false;
    }
    return true;
}

MacAddr mac_at(const uint8_t* p) noexcept {
    MacAddr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
}

ControlDrop map_learn(Learn l) noexcept {
    switch (l) {
        case Learn::kLearned: return ControlDrop::kNone;
        case Learn::kStaticKept: return ControlDrop::kStaticKept;
        case Learn::kNotAsked: return ControlDrop::kUnsolicited;
    }
    return ControlDrop::kUnsolicited;
}

void write_eth(uint8_t* p, const MacAddr& dst, const MacAddr& src, uint16_t type) noexcept {
    std::memcpy(p, dst.b.data(), 6);
    std::memcpy(p + 6, src.b.data(), 6);
    store_be16(p + 12, type);
}

void write_arp(uint8_t* out, const MacAddr& eth_dst, uint16_t op, const MacAddr& sha, const uint8_t* spa,
               const MacAddr& tha, const uint8_t* tpa) noexcept {
    write_eth(out, eth_dst, sha, kEtherTypeArp);
    uint8_t* a = out + kEthHeaderBytes;
    store_be16(a, 1);
    store_be16(a + 2, kEtherTypeIpv4);
    a[4] = 6;
    a[5] = 4;
    store_be16(a + 6, op);
    std::memcpy(a + 8, sha.b.data(), 6);
    std::memcpy(a + 14, spa, 4);
    std::memcpy(a + 18, tha.b.data(), 6);
    std::memcpy(a + 24, tpa, 4);
}

// An 86-byte NS or NA: IPv6 header with hop limit 255, the ICMPv6 message with one link-layer address option,
// checksum filled.
void write_nd(uint8_t* out, const MacAddr& eth_dst, const MacAddr& our_mac, const uint8_t* src_ip,
              const uint8_t* dst_ip, uint8_t type, uint8_t flags, const uint8_t* target, uint8_t option) noexcept {
    write_eth(out, eth_dst, our_mac, kEtherTypeIpv6);
    uint8_t* ip = out + kEthHeaderBytes;
    ip[0] = 0x60;
    ip[1] = ip[2] = ip[3] = 0;
    store_be16(ip + 4, uint16_t(kNdMessageBytes));
    ip[6] = kIpProtoIcmpv6;
    ip[7] = 255;
    std::memcpy(ip + 8, src_ip, 16);
    std::memcpy(ip + 24, dst_ip, 16);
    uint8_t* icmp = ip + kIpv6HeaderBytes;
    icmp[0] = type;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    icmp[4] = flags;
    icmp[5] = icmp[6] = icmp[7] = 0;
    std::memcpy(icmp + 8, target, 16);
    icmp[24] = option;
    icmp[25] = 1;
    std::memcpy(icmp + 26, our_mac.b.data(), 6);
    store_be16(icmp + 2, icmpv6_checksum(src_ip, dst_ip, {icmp, kNdMessageBytes}));
}

ControlDrop check_ethertype(std::span<const uint8_t> frame, uint16_t expected) noexcept {
    if (frame.size() < kEthHeaderBytes) return ControlDrop::kShort;
    uint16_t const type = load_be16(frame.data() + 12);
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) return ControlDrop::kVlan;
    return type == expected ? ControlDrop::kNone : ControlDrop::kNotControl;
}

bool ipv4_sender_ok(const uint8_t* a) noexcept { return a[0] != 127 && a[0] < 224; }

}  // namespace

std::string_view control_drop_name(ControlDrop d) noexcept {
    switch (d) {
        case ControlDrop::kNone: return "none";
        case ControlDrop::kShort: return "short";
        case ControlDrop::kVlan: return "vlan";
        case ControlDrop::kNotControl: return "not_control";
        case ControlDrop::kNotOurMac: return "not_our_mac";
        case ControlDrop::kBadArp: return "bad_arp";
        case ControlDrop::kArpOp: return "arp_op";
        case ControlDrop::kBadIpv6: return "bad_ipv6";
        case ControlDrop::kNotNd: return "not_nd";
        case ControlDrop::kBadHopLimit: return "bad_hop_limit";
        case ControlDrop::kBadIcmpChecksum: return "bad_icmp_checksum";
        case ControlDrop::kBadNd: return "bad_nd";
        case ControlDrop::kBadSender: return "bad_sender";
        case ControlDrop::kNotForUs: return "not_for_us";
        case ControlDrop::kUnsolicited: return "unsolicited";
        case ControlDrop::kStaticKept: return "static_kept";
        case ControlDrop::kCount: break;
    }
    return "unknown";
}

IpAddr solicited_node(const IpAddr& ip6) noexcept {
    VOXA_ASSERT(ip6.family == Family::kIpv6);
    uint8_t g[16] = {0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, ip6.b[13], ip6.b[14], ip6.b[15]};
    return IpAddr::v6(g);
}

MacAddr multicast_mac(const IpAddr& group6) noexcept {
    return MacAddr{{0x33, 0x33, group6.b[12], group6.b[13], group6.b[14], group6.b[15]}};
}

ControlDrop handle_arp(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                       uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept {
    VOXA_ASSERT(reply.size() >= kArpFrameBytes);
    *reply_len = 0;
    if (ControlDrop const d = check_ethertype(frame, kEtherTypeArp); d != ControlDrop::kNone) return d;
    const uint8_t* eth = frame.data();
    if (frame.size() < kEthHeaderBytes + kArpBytes) return ControlDrop::kShort;
    MacAddr const eth_dst = mac_at(eth);
    if (!(eth_dst == local.mac) && !eth_dst.is_broadcast()) return ControlDrop::kNotOurMac;
    const uint8_t* a = eth + kEthHeaderBytes;
    if (load_be16(a) != 1 || load_be16(a + 2) != kEtherTypeIpv4 || a[4] != 6 || a[5] != 4) {
        return ControlDrop::kBadArp;
    }
    uint16_t const op = load_be16(a + 6);
    if (op != 1 && op != 2) return ControlDrop::kArpOp;
    MacAddr const sha = mac_at(a + 8);
    const uint8_t* spa = a + 14;
    const uint8_t* tpa = a + 24;
    if (sha.is_multicast() || sha.is_zero() || std::memcmp(eth + 6, sha.b.data(), 6) != 0) {
        return ControlDrop::kBadSender;
    }
    // 0.0.0.0 is the sender of an address probe (RFC 5227) and allowed in requests only.
    bool const probe = is_zero(spa, 4);
    if (!ipv4_sender_ok(spa) || (spa[0] == 0 && !(probe && op == 1))) return ControlDrop::kBadSender;
    // Someone else (or our own frame looped back) speaking for one of our addresses.
    if (local.find_ip(Family::kIpv4, spa) >= 0) return ControlDrop::kBadSender;
    if (local.find_ip(Family::kIpv4, tpa) < 0) return ControlDrop::kNotForUs;
    if (op == 1) {
        // Answered to the asker's MAC; a probe gets the same reply (the prober sees its address is taken).
        write_arp(reply.data(), sha, 2, local.mac, tpa, sha, spa);
        *reply_len = kArpFrameBytes;
        return ControlDrop::kNone;
    }
    // A reply: only one sent to us (not a broadcast "gratuitous" one) and naming our MAC as the target.
    if (!(eth_dst == local.mac) || std::memcmp(a + 18, local.mac.b.data(), 6) != 0) return ControlDrop::kUnsolicited;
    return map_learn(table.learn(IpAddr::v4(spa), sha, now_ns));
}

ControlDrop handle_nd(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                      uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept {
    VOXA_ASSERT(reply.size() >= kNdFrameBytes);
    *reply_len = 0;
    if (ControlDrop const d = check_ethertype(frame, kEtherTypeIpv6); d != ControlDrop::kNone) return d;
    const uint8_t* eth = frame.data();
    if (frame.size() < kEthHeaderBytes + kIpv6HeaderBytes) return ControlDrop::kShort;
    const uint8_t* ip = eth + kEthHeaderBytes;
    if ((ip[0] >> 4) != 6) return ControlDrop::kBadIpv6;
    if (ip[6] != kIpProtoIcmpv6) return ControlDrop::kNotControl;
    std::size_t const len = load_be16(ip + 4);
    if (len > frame.size() - kEthHeaderBytes - kIpv6HeaderBytes) return ControlDrop::kBadIpv6;
    const uint8_t* src = ip + 8;
    const uint8_t* dst = ip + 24;

    // Ethernet destination: our MAC, all-nodes, or the solicited-node group of one of our addresses.
    MacAddr const eth_dst = mac_at(eth);
    bool mac_ok = eth_dst == local.mac || eth_dst == MacAddr{{0x33, 0x33, 0, 0, 0, 1}};
    for (std::size_t i = 0; i < local.count && !mac_ok; ++i) {
        if (local.addrs[i].family != Family::kIpv6) continue;
        mac_ok = eth_dst == multicast_mac(solicited_node(IpAddr::of(local.addrs[i])));
    }
    if (!mac_ok) return ControlDrop::kNotOurMac;
    MacAddr const eth_src = mac_at(eth + 6);
    if (eth_src.is_multicast() || eth_src == local.mac) return ControlDrop::kBadSender;

    if (len < 4) return ControlDrop::kShort;
    const uint8_t* icmp = ip + kIpv6HeaderBytes;
    if (icmp[0] != kIcmpv6NeighbourSolicitation && icmp[0] != kIcmpv6NeighbourAdvertisement) {
        return ControlDrop::kNotNd;
    }
    if (ip[7] != 255) return ControlDrop::kBadHopLimit;
    if (fold(sum({icmp, len}, pseudo_sum_v6(src, dst, kIpProtoIcmpv6, uint32_t(len)))) != 0xFFFF) {
        return ControlDrop::kBadIcmpChecksum;
    }
    if (icmp[1] != 0 || len < kNdMinBytes) return ControlDrop::kBadNd;
    const uint8_t* target = icmp + 8;
    if (target[0] == 0xFF) return ControlDrop::kBadNd;

    // Options: type u8, length u8 in units of 8 bytes (0 is invalid), bounded by the message.
    const uint8_t* source_ll = nullptr;
    const uint8_t* target_ll = nullptr;
    for (std::size_t o = kNdMinBytes; o < len;) {
        if (len - o < 2 || icmp[o + 1] == 0) return ControlDrop::kBadNd;
        std::size_t const opt_len = std::size_t(icmp[o + 1]) * 8;
        if (opt_len > len - o) return ControlDrop::kBadNd;
        if (icmp[o + 1] == 1 && icmp[o] == kOptSourceLl) source_ll = icmp + o + 2;
        if (icmp[o + 1] == 1 && icmp[o] == kOptTargetLl) target_ll = icmp + o + 2;
        o += opt_len;
    }

    if (src[0] == 0xFF) return ControlDrop::kBadSender;
    if (local.find_ip(Family::kIpv6, src) >= 0) return ControlDrop::kBadSender;
    IpAddr const target_ip = IpAddr::v6(target);
    if (icmp[0] == kIcmpv6NeighbourSolicitation) {
        bool const dad = is_zero(src, 16);
        IpAddr const group = solicited_node(target_ip);
        bool const to_group = std::memcmp(dst, group.b.data(), 16) == 0;
        // RFC 4861 §7.1.1: sent to the target itself or its solicited-node group; DAD only to the group and
        // without a source link-layer address option.
        if (!to_group && (dad || std::memcmp(dst, target, 16) != 0)) return ControlDrop::kBadNd;
        if (dad && source_ll != nullptr) return ControlDrop::kBadNd;
        if (source_ll != nullptr && mac_at(source_ll).is_multicast()) return ControlDrop::kBadSender;
        if (!local.has_ip(target_ip)) return ControlDrop::kNotForUs;
        if (dad) {
            // §7.2.4: the defender answers all-nodes, Solicited flag clear.
            write_nd(reply.data(), MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, local.mac, target, kAllNodes,
                     kIcmpv6NeighbourAdvertisement, kNaFlagOverride, target, kOptTargetLl);
        } else {
            MacAddr const to = source_ll != nullptr ? mac_at(source_ll) : eth_src;
            write_nd(reply.data(), to, local.mac, target, src, kIcmpv6NeighbourAdvertisement,
                     kNaFlagSolicited | kNaFlagOverride, target, kOptTargetLl);
        }
        *reply_len = kNdFrameBytes;
        return ControlDrop::kNone;
    }

    // A neighbour advertisement.
    if (local.has_ip(target_ip)) return ControlDrop::kBadSender;   // someone claims our address
    if ((icmp[4] & kNaFlagSolicited) == 0) return ControlDrop::kUnsolicited;
    if (local.find_ip(Family::kIpv6, dst) < 0) return ControlDrop::kNotForUs;
    MacAddr const mac = target_ll != nullptr ? mac_at(target_ll) : eth_src;
    if (mac.is_multicast() || mac.is_zero()) return ControlDrop::kBadNd;
    return map_learn(table.learn(target_ip, mac, now_ns));
}

ControlDrop handle_control(std::span<const uint8_t> frame, const LocalAddrs& local, NeighbourTable& table,
                           uint64_t now_ns, std::span<uint8_t> reply, std::size_t* reply_len) noexcept {
    *reply_len = 0;
    if (frame.size() >= kEthHeaderBytes && load_be16(frame.data() + 12) == kEtherTypeArp) {
        return handle_arp(frame, local, table, now_ns, reply, reply_len);
    }
    return handle_nd(frame, local, table, now_ns, reply, reply_len);
}

std::size_t build_arp_request(std::span<uint8_t> out, const MacAddr& our_mac, const IpAddr& ours,
                              const IpAddr& target, const MacAddr* unicast_to) noexcept {
    VOXA_ASSERT(out.size() >= kArpFrameBytes);
    VOXA_ASSERT(ours.family == Family::kIpv4 && target.family == Family::kIpv4);
    write_arp(out.data(), unicast_to != nullptr ? *unicast_to : MacAddr::broadcast(), 1, our_mac, ours.b.data(),
              MacAddr{}, target.b.data());
    return kArpFrameBytes;
}

std::size_t build_neighbour_solicitation(std::span<uint8_t> out, const MacAddr& our_mac, const IpAddr& ours,
                                         const IpAddr& target, const MacAddr* unicast_to) noexcept {
    VOXA_ASSERT(out.size() >= kNdFrameBytes);
    VOXA_ASSERT(ours.family == Family::kIpv6 && target.family == Family::kIpv6);
    IpAddr const group = solicited_node(target);
    if (unicast_to != nullptr) {
        write_nd(out.data(), *unicast_to, our_mac, ours.b.data(), target.b.data(), kIcmpv6NeighbourSolicitation,
                 0, target.b.data(), kOptSourceLl);
    } else {
        write_nd(out.data(), multicast_mac(group), our_mac, ours.b.data(), group.b.data(),
                 kIcmpv6NeighbourSolicitation, 0, target.b.data(), kOptSourceLl);
    }
    return kNdFrameBytes;
}

std::size_t build_solicitation(std::span<uint8_t> out, const LocalAddrs& local, const IpAddr& target,
                               const MacAddr* unicast_to) noexcept {
    for (std::size_t i = 0; i < local.count; ++i) {
        if (local.addrs[i].family != target.family) continue;
        IpAddr const ours = IpAddr::of(local.addrs[i]);
        return target.family == Family::kIpv4 ? build_arp_request(out, local.mac, ours, target, unicast_to)
                                              : build_neighbour_solicitation(out, local.mac, ours, target, unicast_to);
    }
    return 0;
}

}  // namespace voxa::netstack
