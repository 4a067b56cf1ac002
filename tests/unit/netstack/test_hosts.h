// The two hosts of the netstack tests (the same as in ref_frames.h) and small frame helpers.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "netstack/checksum.h"
#include "netstack/frame.h"

namespace voxa::netstack::hosts {

inline Endpoint ep(const char* ip, uint16_t port) {
    Endpoint e;
    e.port = port;
    if (inet_pton(AF_INET, ip, e.addr.data()) == 1) {
        e.family = Endpoint::Family::kIpv4;
    } else if (inet_pton(AF_INET6, ip, e.addr.data()) == 1) {
        e.family = Endpoint::Family::kIpv6;
    }
    return e;
}
inline IpAddr ip(const char* text) { return IpAddr::of(ep(text, 0)); }

inline const MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x01}};
inline const MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x02}};

// Host A: 10.0.0.1 / fd00::1 port 40000; host B: 10.0.0.2 / fd00::2 port 51820.
inline LocalAddrs host_a() {
    LocalAddrs l;
    l.mac = kMacA;
    l.add(ep("10.0.0.1", 40000));
    l.add(ep("fd00::1", 40000));
    return l;
}
inline LocalAddrs host_b() {
    LocalAddrs l;
    l.mac = kMacB;
    l.add(ep("10.0.0.2", 51820));
    l.add(ep("fd00::2", 51820));
    return l;
}

// A frame from A to B with `payload`, built by write_udp_headers.
inline std::vector<uint8_t> frame_a_to_b(bool v6, const std::vector<uint8_t>& payload,
                                         ChecksumMode mode = ChecksumMode::kSoftware) {
    Endpoint const from = v6 ? ep("fd00::1", 40000) : ep("10.0.0.1", 40000);
    Endpoint const to = v6 ? ep("fd00::2", 51820) : ep("10.0.0.2", 51820);
    std::size_t const h = header_bytes(from.family);
    std::vector<uint8_t> f(h + payload.size());
    if (!payload.empty()) std::memcpy(f.data() + h, payload.data(), payload.size());
    write_udp_headers({f.data(), h}, kMacA, kMacB, from, to, {f.data() + h, payload.size()}, mode);
    return f;
}

// Recomputes the IPv4 header checksum (v4) and the UDP checksum after a test changed header bytes. Lengths are
// taken from the IP header, clamped to the frame.
inline void refix(std::vector<uint8_t>& f) {
    uint8_t* ip = f.data() + kEthHeaderBytes;
    if ((ip[0] >> 4) == 4) {
        std::size_t const ihl = std::size_t(ip[0] & 15) * 4;
        store_be16(ip + 10, 0);
        store_be16(ip + 10, ipv4_header_checksum({ip, ihl}));
        uint8_t* udp = ip + ihl;
        std::size_t const len = std::min<std::size_t>(load_be16(udp + 4), f.size() - kEthHeaderBytes - ihl);
        store_be16(udp + 6, 0);
        store_be16(udp + 6, udp_checksum_v4(ip + 12, ip + 16, {udp, len}));
    } else {
        uint8_t* udp = ip + kIpv6HeaderBytes;
        std::size_t const len = std::min<std::size_t>(load_be16(udp + 4), f.size() - kEthHeaderBytes - 40);
        store_be16(udp + 6, 0);
        store_be16(udp + 6, udp_checksum_v6(ip + 8, ip + 24, {udp, len}));
    }
}

}  // namespace voxa::netstack::hosts
