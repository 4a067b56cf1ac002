// Fuzz target for our Ethernet/IP/UDP layer (dataplane/netstack): parse_udp, ARP and IPv6 neighbour discovery on
// arbitrary bytes. The first input byte holds flags, the rest is the frame:
//   bit 0: parse_udp does not verify checksums (as with NIC offload)     bit 1: the table asked nobody
// The local host is B of tests/unit/netstack (10.0.0.2 / fd00::2 port 51820, 02:00:00:00:00:02); unless bit 1 is
// set, B has solicited A (10.0.0.1, fd00::1), so answers from A reach the learning code. Properties checked:
// a delivered payload lies inside the frame, rebuilding its headers and parsing again gives the same endpoints,
// and every reply is a well-formed frame (ARP 42 bytes, NA 86 bytes with a valid ICMPv6 checksum).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "netstack/checksum.h"
#include "netstack/control.h"
#include "netstack/frame.h"
#include "voxa/assert.h"

namespace {

using namespace voxa;
using namespace voxa::netstack;

Endpoint make(Endpoint::Family family, const uint8_t* ip, uint16_t port) {
    Endpoint e;
    e.family = family;
    e.port = port;
    std::memcpy(e.addr.data(), ip, family == Endpoint::Family::kIpv4 ? 4 : 16);
    return e;
}

const LocalAddrs& local_b() {
    static const LocalAddrs l = [] {
        LocalAddrs x;
        x.mac = MacAddr{{0x02, 0, 0, 0, 0, 0x02}};
        const uint8_t v4[4] = {10, 0, 0, 2};
        const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        x.add(make(Endpoint::Family::kIpv4, v4, 51820));
        x.add(make(Endpoint::Family::kIpv6, v6, 51820));
        return x;
    }();
    return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    uint8_t const flags = data[0];
    // An exact-size copy, so a read past the frame is a read past the allocation.
    std::vector<uint8_t> frame(data + 1, data + size);
    const LocalAddrs& local = local_b();

    ParsedUdp p;
    Drop const d = parse_udp(frame, local, (flags & 1) == 0, &p);
    VOXA_CHECK(d < Drop::kCount);
    if (d == Drop::kNone) {
        VOXA_CHECK(p.payload_offset == header_bytes(p.from.family));
        VOXA_CHECK(p.payload_offset + p.payload_len <= frame.size());
        VOXA_CHECK(p.local_index < local.count && local.addrs[p.local_index] == p.to);
        // Rebuild the headers around the same payload (software checksums) and parse again.
        std::vector<uint8_t> again(frame.begin(), frame.begin() + long(p.payload_offset + p.payload_len));
        write_udp_headers({again.data(), p.payload_offset}, p.src_mac, local.mac, p.from, p.to,
                          {again.data() + p.payload_offset, p.payload_len}, ChecksumMode::kSoftware);
        ParsedUdp q;
        VOXA_CHECK(parse_udp(again, local, true, &q) == Drop::kNone);
        VOXA_CHECK(q.from == p.from && q.to == p.to && q.payload_len == p.payload_len);
    }

    NeighbourTable table(4);
    if ((flags & 2) == 0) {
        MacAddr mac;
        const uint8_t a4[4] = {10, 0, 0, 1};
        const uint8_t a6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        table.resolve(IpAddr::v4(a4), 1'000'000'000, &mac);
        table.resolve(IpAddr::v6(a6), 1'000'000'000, &mac);
    }
    uint8_t reply[kControlFrameMax];
    std::size_t reply_len = 0;
    ControlDrop const c = handle_control(frame, local, table, 1'000'000'001, reply, &reply_len);
    VOXA_CHECK(c < ControlDrop::kCount);
    VOXA_CHECK(reply_len == 0 || c == ControlDrop::kNone);
    if (reply_len == kNdFrameBytes) {
        const uint8_t* ip = reply + kEthHeaderBytes;
        VOXA_CHECK(ip[7] == 255 && load_be16(ip + 4) == 32);
        VOXA_CHECK(fold(sum({ip + 40, 32}, pseudo_sum_v6(ip + 8, ip + 24, 58, 32))) == 0xFFFF);
    } else {
        VOXA_CHECK(reply_len == 0 || reply_len == kArpFrameBytes);
    }
    // The two handlers directly, whatever the ethertype (their own type checks run).
    std::size_t ignored = 0;
    (void)handle_arp(frame, local, table, 1'000'000'002, reply, &ignored);
    (void)handle_nd(frame, local, table, 1'000'000'002, reply, &ignored);
    return 0;
}
