#include "netstack/frame.h"

#include <cstring>

#include "netstack/checksum.h"
#include "voxa/assert.h"

namespace voxa::netstack {
namespace {

using Family = Endpoint::Family;

// A source we would answer must be a single host: not unspecified (0/8), loopback (127/8), multicast (224/4)
// or reserved/broadcast (240/4).
bool ipv4_source_ok(const uint8_t* a) noexcept { return a[0] != 0 && a[0] != 127 && a[0] < 224; }

// Not unspecified (::), not loopback (::1), not multicast (ff00::/8).
bool ipv6_source_ok(const uint8_t* a) noexcept {
    if (a[0] == 0xFF) return false;
    static constexpr uint8_t kZero[15] = {};
    return !(std::memcmp(a, kZero, 15) == 0 && (a[15] == 0 || a[15] == 1));
}

bool ipv6_ext_header(uint8_t next) noexcept {
    switch (next) {
        case 0:     // hop-by-hop options
        case 43:    // routing
        case 50:    // ESP
        case 51:    // AH
        case 60:    // destination options
        case 135:   // mobility
        case 139:   // HIP
        case 140:   // shim6
        case 253:
        case 254:   // experimental
            return true;
        default:
            return false;
    }
}

// Matches the destination (IP, port) against our addresses: kNotOurAddress when no IP matches, kNotOurPort when
// an IP matches but none of its entries has the port.
Drop match_local(const LocalAddrs& local, Family family, const uint8_t* ip, uint16_t port, uint8_t* index) noexcept {
    bool ip_seen = false;
    std::size_t const len = family == Family::kIpv4 ? 4 : 16;
    for (std::size_t i = 0; i < local.count; ++i) {
        const Endpoint& e = local.addrs[i];
        if (e.family != family || std::memcmp(e.addr.data(), ip, len) != 0) continue;
        ip_seen = true;
        if (e.port == port) {
            *index = uint8_t(i);
            return Drop::kNone;
        }
    }
    return ip_seen ? Drop::kNotOurPort : Drop::kNotOurAddress;
}

void fill_endpoint(Endpoint* e, Family family, const uint8_t* ip, uint16_t port) noexcept {
    e->family = family;
    e->port = port;
    e->addr = {};
    std::memcpy(e->addr.data(), ip, family == Family::kIpv4 ? 4 : 16);
}

// What both IP versions check from the UDP header on (the caller checked udp_len against the IP length).
Drop finish_udp(const LocalAddrs& local, Family family, const uint8_t* src_ip, const uint8_t* dst_ip,
                const uint8_t* udp, std::size_t udp_len, bool verify, ParsedUdp* out) noexcept {
    // `verify`: check the UDP checksum.
    uint16_t const src_port = load_be16(udp);
    uint16_t const dst_port = load_be16(udp + 2);
    if (src_port == 0) return Drop::kBadSource;
    uint8_t index = 0;
    if (Drop const d = match_local(local, family, dst_ip, dst_port, &index); d != Drop::kNone) return d;
    if (load_be16(udp + 6) == 0) {
        // "No checksum": allowed on IPv4 (RFC 768); IPv6 has no header checksum, so the UDP checksum is
        // mandatory there (RFC 8200 §8.1), even when the NIC verifies.
        if (family == Family::kIpv6) return Drop::kBadUdpChecksum;
    } else if (verify) {
        // A correct checksum makes the whole region, the checksum field included, sum to 0xFFFF.
        uint64_t const pseudo = family == Family::kIpv4
                                    ? pseudo_sum_v4(src_ip, dst_ip, kIpProtoUdp, uint16_t(udp_len))
                                    : pseudo_sum_v6(src_ip, dst_ip, kIpProtoUdp, uint32_t(udp_len));
        if (fold(sum({udp, udp_len}, pseudo)) != 0xFFFF) return Drop::kBadUdpChecksum;
    }
    fill_endpoint(&out->from, family, src_ip, src_port);
    fill_endpoint(&out->to, family, dst_ip, dst_port);
    out->local_index = index;
    out->payload_offset = header_bytes(family);
    out->payload_len = udp_len - kUdpHeaderBytes;
    return Drop::kNone;
}

Drop parse_ipv4(std::span<const uint8_t> frame, const LocalAddrs& local, RxVerify verify, ParsedUdp* out) noexcept {
    if (frame.size() < kEthHeaderBytes + kIpv4HeaderBytes) return Drop::kShort;
    const uint8_t* ip = frame.data() + kEthHeaderBytes;
    if ((ip[0] >> 4) != 4) return Drop::kBadIpVersion;
    std::size_t const ihl = ip[0] & 0x0F;
    if (ihl < 5) return Drop::kBadIpHeader;
    if (ihl > 5) return Drop::kIpOptions;
    std::size_t const total = load_be16(ip + 2);
    if (total < kIpv4HeaderBytes || total > frame.size() - kEthHeaderBytes) return Drop::kBadLength;
    uint16_t const flags_offset = load_be16(ip + 6);
    if ((flags_offset & 0x8000) != 0) return Drop::kBadIpHeader;
    if ((flags_offset & 0x3FFF) != 0) return Drop::kFragment;
    if (ip[9] != kIpProtoUdp) return Drop::kNotUdp;
    if (verify != RxVerify::kNone && !ipv4_header_ok({ip, kIpv4HeaderBytes})) return Drop::kBadIpChecksum;
    if (!ipv4_source_ok(ip + 12)) return Drop::kBadSource;
    if (total < kIpv4HeaderBytes + kUdpHeaderBytes) return Drop::kBadLength;
    const uint8_t* udp = ip + kIpv4HeaderBytes;
    std::size_t const udp_len = load_be16(udp + 4);
    if (udp_len != total - kIpv4HeaderBytes) return Drop::kBadLength;
    return finish_udp(local, Family::kIpv4, ip + 12, ip + 16, udp, udp_len, verify == RxVerify::kAll, out);
}

Drop parse_ipv6(std::span<const uint8_t> frame, const LocalAddrs& local, RxVerify verify, ParsedUdp* out) noexcept {
    // The caller checked the size and the version.
    const uint8_t* ip = frame.data() + kEthHeaderBytes;
    std::size_t const payload = load_be16(ip + 4);
    if (payload > frame.size() - kEthHeaderBytes - kIpv6HeaderBytes) return Drop::kBadLength;
    uint8_t const next = ip[6];
    if (next == kIpv6NextFragment) return Drop::kFragment;
    if (ipv6_ext_header(next)) return Drop::kIpv6ExtHeader;
    if (next != kIpProtoUdp) return Drop::kNotUdp;
    if (!ipv6_source_ok(ip + 8)) return Drop::kBadSource;
    if (payload < kUdpHeaderBytes) return Drop::kBadLength;
    const uint8_t* udp = ip + kIpv6HeaderBytes;
    std::size_t const udp_len = load_be16(udp + 4);
    if (udp_len != payload) return Drop::kBadLength;
    // kIpHeader verifies the UDP checksum here: IPv6 has no header checksum, the UDP one covers the addresses.
    return finish_udp(local, Family::kIpv6, ip + 8, ip + 24, udp, udp_len, verify != RxVerify::kNone, out);
}

}  // namespace

IpAddr IpAddr::v4(const uint8_t* four) noexcept {
    IpAddr a;
    a.family = Family::kIpv4;
    std::memcpy(a.b.data(), four, 4);
    return a;
}

IpAddr IpAddr::v6(const uint8_t* sixteen) noexcept {
    IpAddr a;
    a.family = Family::kIpv6;
    std::memcpy(a.b.data(), sixteen, 16);
    return a;
}

IpAddr IpAddr::of(const Endpoint& e) noexcept {
    VOXA_ASSERT(e.family == Family::kIpv4 || e.family == Family::kIpv6);
    return e.family == Family::kIpv4 ? v4(e.addr.data()) : v6(e.addr.data());
}

bool LocalAddrs::add(const Endpoint& e) noexcept {
    if (count == kLocalAddrsMax || (e.family != Family::kIpv4 && e.family != Family::kIpv6)) return false;
    addrs[count] = e;
    if (e.family == Family::kIpv4) std::memset(addrs[count].addr.data() + 4, 0, 12);
    ++count;
    return true;
}

int LocalAddrs::find_ip(Family family, const uint8_t* ip) const noexcept {
    std::size_t const len = family == Family::kIpv4 ? 4 : 16;
    for (std::size_t i = 0; i < count; ++i) {
        if (addrs[i].family == family && std::memcmp(addrs[i].addr.data(), ip, len) == 0) return int(i);
    }
    return -1;
}

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kShort: return "short";
        case Drop::kVlan: return "vlan";
        case Drop::kArp: return "arp";
        case Drop::kIcmpv6: return "icmpv6";
        case Drop::kNotIp: return "not_ip";
        case Drop::kNotOurMac: return "not_our_mac";
        case Drop::kBadIpVersion: return "bad_ip_version";
        case Drop::kBadIpHeader: return "bad_ip_header";
        case Drop::kIpOptions: return "ip_options";
        case Drop::kBadIpChecksum: return "bad_ip_checksum";
        case Drop::kFragment: return "fragment";
        case Drop::kIpv6ExtHeader: return "ipv6_ext_header";
        case Drop::kBadLength: return "bad_length";
        case Drop::kNotUdp: return "not_udp";
        case Drop::kBadSource: return "bad_source";
        case Drop::kNotOurAddress: return "not_our_address";
        case Drop::kNotOurPort: return "not_our_port";
        case Drop::kBadUdpChecksum: return "bad_udp_checksum";
        case Drop::kCount: break;
    }
    return "unknown";
}

std::string_view checksum_policy_name(ChecksumPolicy p) noexcept {
    switch (p) {
        case ChecksumPolicy::kAuto: return "auto";
        case ChecksumPolicy::kSoftware: return "software";
        case ChecksumPolicy::kOff: return "off";
    }
    return "unknown";
}

bool parse_checksum_policy(std::string_view s, ChecksumPolicy* out) noexcept {
    for (ChecksumPolicy const p : {ChecksumPolicy::kAuto, ChecksumPolicy::kSoftware, ChecksumPolicy::kOff}) {
        if (s == checksum_policy_name(p)) {
            *out = p;
            return true;
        }
    }
    return false;
}

Drop parse_udp(std::span<const uint8_t> frame, const LocalAddrs& local, RxVerify verify, ParsedUdp* out) noexcept {
    VOXA_ASSERT(out != nullptr);
    if (frame.size() < kEthHeaderBytes) return Drop::kShort;
    const uint8_t* eth = frame.data();
    uint16_t const type = load_be16(eth + 12);
    if (type == kEtherTypeVlan || type == kEtherTypeQinQ) return Drop::kVlan;
    if (type == kEtherTypeArp) return Drop::kArp;
    if (type != kEtherTypeIpv4 && type != kEtherTypeIpv6) return Drop::kNotIp;
    if (type == kEtherTypeIpv6) {
        if (frame.size() < kEthHeaderBytes + kIpv6HeaderBytes) return Drop::kShort;
        if ((eth[kEthHeaderBytes] >> 4) != 6) return Drop::kBadIpVersion;
        // Neighbour solicitations arrive on a multicast MAC: ICMPv6 is dispatched before the MAC filter.
        if (eth[kEthHeaderBytes + 6] == kIpProtoIcmpv6) return Drop::kIcmpv6;
    }
    if (std::memcmp(eth, local.mac.b.data(), 6) != 0) return Drop::kNotOurMac;
    std::memcpy(out->src_mac.b.data(), eth + 6, 6);
    if (out->src_mac.is_multicast()) return Drop::kBadSource;
    return type == kEtherTypeIpv4 ? parse_ipv4(frame, local, verify, out) : parse_ipv6(frame, local, verify, out);
}

void write_udp_headers(std::span<uint8_t> headers, const MacAddr& src, const MacAddr& dst, const Endpoint& from,
                       const Endpoint& to, std::span<const uint8_t> payload, ChecksumMode mode) noexcept {
    VOXA_ASSERT(from.family == to.family);
    VOXA_ASSERT(from.family == Family::kIpv4 || from.family == Family::kIpv6);
    VOXA_ASSERT(headers.size() == header_bytes(from.family));
    VOXA_ASSERT(payload.data() == headers.data() + headers.size());
    VOXA_ASSERT(payload.size() <= kUdpPayloadMax);
    uint8_t* p = headers.data();
    std::memcpy(p, dst.b.data(), 6);
    std::memcpy(p + 6, src.b.data(), 6);
    uint16_t const udp_len = uint16_t(kUdpHeaderBytes + payload.size());
    uint8_t* udp;
    uint64_t pseudo;
    if (from.family == Family::kIpv4) {
        store_be16(p + 12, kEtherTypeIpv4);
        uint8_t* ip = p + kEthHeaderBytes;
        ip[0] = 0x45;                                   // version 4, IHL 5
        ip[1] = 0;                                      // DSCP 0, ECN not-ECT
        store_be16(ip + 2, uint16_t(kIpv4HeaderBytes + udp_len));
        store_be16(ip + 4, 0);                          // identification (atomic datagram, RFC 6864)
        store_be16(ip + 6, 0x4000);                     // DF, offset 0
        ip[8] = kTtlDefault;
        ip[9] = kIpProtoUdp;
        store_be16(ip + 10, 0);
        std::memcpy(ip + 12, from.addr.data(), 4);
        std::memcpy(ip + 16, to.addr.data(), 4);
        if (mode != ChecksumMode::kOffload) store_be16(ip + 10, ipv4_header_checksum({ip, kIpv4HeaderBytes}));
        udp = ip + kIpv4HeaderBytes;
        pseudo = pseudo_sum_v4(ip + 12, ip + 16, kIpProtoUdp, udp_len);
    } else {
        store_be16(p + 12, kEtherTypeIpv6);
        uint8_t* ip = p + kEthHeaderBytes;
        ip[0] = 0x60;                                   // version 6, traffic class 0, flow label 0
        ip[1] = ip[2] = ip[3] = 0;
        store_be16(ip + 4, udp_len);
        ip[6] = kIpProtoUdp;
        ip[7] = kTtlDefault;
        std::memcpy(ip + 8, from.addr.data(), 16);
        std::memcpy(ip + 24, to.addr.data(), 16);
        udp = ip + kIpv6HeaderBytes;
        pseudo = pseudo_sum_v6(ip + 8, ip + 24, kIpProtoUdp, udp_len);
    }
    store_be16(udp, from.port);
    store_be16(udp + 2, to.port);
    store_be16(udp + 4, udp_len);
    store_be16(udp + 6, 0);
    if (mode == ChecksumMode::kOffload) {
        store_be16(udp + 6, fold(pseudo));
    } else if (mode == ChecksumMode::kNoUdp && from.family == Family::kIpv4) {
        // "No checksum" (RFC 768): the field stays 0.
    } else {
        uint16_t const c = uint16_t(~fold(sum(payload, sum({udp, kUdpHeaderBytes}, pseudo))));
        store_be16(udp + 6, c == 0 ? 0xFFFF : c);
    }
}

}  // namespace voxa::netstack
