// The DPDK backend on virtual ports, with the EAL started once for the whole binary (--no-huge --in-memory):
//   net_ring (a port whose TX ring is its own RX ring: every frame sent comes back) for frame round trips, ARP,
//   malformed frames and the statistics;
//   net_af_packet on a veth pair inside a network namespace this process makes for itself, with the kernel's UDP
//   stack on the other end: ARP resolution both ways and datagrams both ways between DPDK and a kernel socket
//   (what an io_uring node on the same L2 segment sees).
// When the EAL cannot start at all the binary exits 77 (skipped) with the reason.
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "crypto/identity.h"
#include "io/dpdk_backend.h"
#include "io/dpdk_eal.h"
#include "netstack/checksum.h"
#include "netstack/control.h"
#include "netstack/frame.h"
#include "node/node.h"

namespace voxa::io {
namespace {

bool g_netns = false;   // this process has its own network namespace with veth0 <-> veth1

// Turns TX checksum offload off on a kernel interface (what `ethtool -K <if> tx off` does). Over veth the kernel
// leaves UDP checksums for the "hardware" to fill, and a packet socket (net_af_packet) on the peer sees them
// unfinished: the DPDK node would drop every datagram as kBadUdpChecksum. Real NICs fill them on the wire.
bool tx_checksum_off(const char* ifname) {
    int const fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return false;
    ethtool_value v{};
    v.cmd = ETHTOOL_STXCSUM;
    v.data = 0;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&v);
    bool const ok = ioctl(fd, SIOCETHTOOL, &ifr) == 0;
    ::close(fd);
    return ok;
}

Endpoint v4(const char* ip, uint16_t port) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv4;
    e.port = port;
    inet_pton(AF_INET, ip, e.addr.data());
    return e;
}

class EalEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        // A private network namespace first (before the EAL starts threads: a namespace is per thread, and threads
        // inherit the creator's): the veth pair for the af_packet tests lives and dies with this process.
        if (unshare(CLONE_NEWNET) == 0 &&
            std::system("ip link add veth0 type veth peer name veth1 && ip link set veth0 up && "
                        "ip link set veth1 up && ip addr add 10.99.0.1/24 dev veth1 && ip link set lo up") == 0) {
            g_netns = tx_checksum_off("veth1");
            if (!g_netns) std::fprintf(stderr, "dpdk_test: cannot turn TX checksum offload off on veth1\n");
        } else {
            std::fprintf(stderr, "dpdk_test: no private network namespace with a veth pair (not root?): the "
                                 "af_packet tests will be skipped\n");
        }
        DpdkEalConfig c;
        c.cores = {0};
        c.file_prefix = "voxa-test-" + std::to_string(getpid());
        c.in_memory = true;
        c.no_huge = true;
        c.memory_mb = 256;
        c.devices = {"net_ring0"};
        c.extra_args = {"--log-level", "lib.eal:error", "--no-telemetry"};
        std::string error;
        if (!eal_init(c, &error)) {
            std::fprintf(stderr, "dpdk_test: SKIP: the DPDK EAL cannot start here: %s\n", error.c_str());
            std::exit(77);
        }
    }
};
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

// Collects what the backend hands up.
struct Collector : RxHandler {
    struct Got {
        Endpoint from;
        std::vector<uint8_t> bytes;
    };
    std::vector<Got> got;
    void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept override {
        got.push_back({from, std::vector<uint8_t>(data, data + len)});
    }
};

const netstack::MacAddr kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};

// net_ring0 with our address 10.88.0.2/24:9000, for `workers` workers (queue pairs limited to queues_max when
// non-zero); with self_neighbour, our own MAC is the static neighbour of 10.88.0.2, so frames to ourselves resolve.
DpdkPortsConfig ring_ports_config(uint32_t workers = 1, uint16_t queues_max = 0, bool self_neighbour = false) {
    DpdkPortsConfig pc;
    pc.workers = workers;
    pc.queues_max = queues_max;
    pc.udp_port = 9000;
    pc.mempool_mbufs = 4095;
    pc.mbuf_cache = 32;
    pc.rx_desc = 256;
    pc.tx_desc = 256;
    DpdkPortConfig port;
    port.device = "net_ring0";
    port.ipv4 = v4("10.88.0.2", 0);
    port.ipv4_prefix = 24;
    port.mac = netstack::MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};   // net_ring has none of its own
    if (self_neighbour) port.neighbours = {{netstack::IpAddr::of(v4("10.88.0.2", 0)), *port.mac}};
    pc.ports.push_back(port);
    return pc;
}

std::unique_ptr<DpdkPorts> open_ring_port(std::string* error) { return DpdkPorts::open(ring_ports_config(), error); }

std::unique_ptr<Backend> ring_backend(DpdkPorts& ports, bool self_neighbour) {
    if (self_neighbour) {
        ports.ports()[0].neighbours = {{netstack::IpAddr::of(v4("10.88.0.2", 0)), ports.ports()[0].local.mac}};
    }
    DpdkBackendConfig bc;
    bc.ports = &ports;
    bc.port_stats = true;
    bc.port_stats_ns = 0;   // read the port's counters at every poll
    std::string error;
    auto b = make_dpdk_backend(bc, &error);
    EXPECT_TRUE(b) << error;
    return b;
}

// Workers 0 and 1 of a two-worker node on the port.
std::pair<std::unique_ptr<Backend>, std::unique_ptr<Backend>> two_workers(DpdkPorts& ports, std::string* error) {
    DpdkBackendConfig bc;
    bc.ports = &ports;
    bc.workers = 2;
    auto w0 = make_dpdk_backend(bc, error);
    bc.worker = 1;
    return {std::move(w0), make_dpdk_backend(bc, error)};
}

// Puts a raw frame on queue 0 of the ring port (it comes back on RX queue 0); returns its mbuf, or nullptr (and
// nothing leaked) when it could not.
rte_mbuf* inject_mbuf(const DpdkPorts& ports, std::span<const uint8_t> frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(ports.ports()[0].pool);
    if (m == nullptr) return nullptr;
    char* out = rte_pktmbuf_append(m, uint16_t(frame.size()));
    if (out != nullptr) std::memcpy(out, frame.data(), frame.size());
    if (out == nullptr || rte_eth_tx_burst(ports.ports()[0].port_id, 0, &m, 1) != 1) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    return m;
}

void inject(const DpdkPorts& ports, std::span<const uint8_t> frame) { ASSERT_NE(inject_mbuf(ports, frame), nullptr); }

// An Ethernet/IP/UDP frame carrying `payload`, checksums computed in software.
std::vector<uint8_t> udp_frame(const netstack::MacAddr& src, const netstack::MacAddr& dst, const Endpoint& from,
                               const Endpoint& to, std::span<const uint8_t> payload) {
    std::size_t const h = netstack::header_bytes(from.family);
    std::vector<uint8_t> f(h + payload.size());
    std::copy(payload.begin(), payload.end(), f.begin() + std::ptrdiff_t(h));
    netstack::write_udp_headers({f.data(), h}, src, dst, from, to, {f.data() + h, payload.size()},
                                netstack::ChecksumMode::kSoftware);
    return f;
}

// Takes every frame waiting on the ring port's RX queue 0 (what the backend transmitted).
std::vector<std::vector<uint8_t>> drain(const DpdkPorts& ports) {
    std::vector<std::vector<uint8_t>> out;
    std::array<rte_mbuf*, 32> b;
    while (uint16_t n = rte_eth_rx_burst(ports.ports()[0].port_id, 0, b.data(), 32)) {
        for (uint16_t i = 0; i < n; ++i) {
            auto* d = rte_pktmbuf_mtod(b[i], uint8_t*);
            out.emplace_back(d, d + rte_pktmbuf_data_len(b[i]));
        }
        rte_pktmbuf_free_bulk(b.data(), n);
    }
    return out;
}

TEST(DpdkEal, ArgumentsFollowTheConfig) {
    DpdkEalConfig c;
    c.cores = {3, 5};
    c.file_prefix = "voxa-abcd1234";
    c.in_memory = true;
    c.no_huge = true;
    c.memory_mb = 128;
    c.devices = {"net_af_packet0,iface=veth0", "0000:03:00.0"};
    c.extra_args = {"-n", "4"};
    std::vector<std::string> const want = {"voxa-dataplane", "-l", "3", "--main-lcore", "3", "--file-prefix",
                                           "voxa-abcd1234", "--no-huge", "--no-shconf", "-m", "128", "--vdev",
                                           "net_af_packet0,iface=veth0", "-a", "0000:03:00.0", "-n", "4"};
    // (no --no-pci: a PCI port is listed)
    EXPECT_EQ(eal_arguments(c), want);
    c.no_huge = false;
    c.memory_mb = 0;
    c.devices.clear();
    c.extra_args.clear();
    EXPECT_EQ(eal_arguments(c), (std::vector<std::string>{"voxa-dataplane", "-l", "3", "--main-lcore", "3",
                                                          "--file-prefix", "voxa-abcd1234", "--in-memory",
                                                          "--no-pci"}));
    EXPECT_TRUE(eal_running());
}

// net_af_packet's ring is framecnt frames, not rx_desc: dpdk.rx_desc becomes framecnt, rounded up to whole blocks
// (blocksz / framesz frames each), unless the device string sets framecnt itself.
TEST(DpdkEal, AfPacketRingFollowsRxDesc) {
    long const page = sysconf(_SC_PAGESIZE);
    ASSERT_GE(page, 2048);
    uint32_t const per_block = uint32_t(page / 2048);   // frames per block with the PMD's defaults
    DpdkEalConfig c;
    c.cores = {0};
    c.file_prefix = "p";
    c.rx_desc = 1001;
    c.devices = {"net_af_packet0,iface=veth0", "net_af_packet1,iface=eth1,framecnt=4096", "net_ring0",
                 "net_tap0,iface=dtap0", "0000:03:00.0"};
    uint32_t const want = (1001 + per_block - 1) / per_block * per_block;
    std::vector<std::string> const args = eal_arguments(c);
    std::vector<std::string> const devices = {args[8], args[10], args[12], args[14], args[16]};
    EXPECT_EQ(devices, (std::vector<std::string>{"net_af_packet0,iface=veth0,framecnt=" + std::to_string(want),
                                                 "net_af_packet1,iface=eth1,framecnt=4096", "net_ring0",
                                                 "net_tap0,iface=dtap0", "0000:03:00.0"}));
    EXPECT_EQ(device_argument("net_af_packet0,iface=veth0", 256), "net_af_packet0,iface=veth0,framecnt=256");
    // Explicit geometry: 16 KiB blocks of 2 KiB frames hold 8 frames; 1 KiB frames in 4 KiB blocks hold 4.
    EXPECT_EQ(device_argument("net_af_packet0,iface=veth0,blocksz=16384", 100),
              "net_af_packet0,iface=veth0,blocksz=16384,framecnt=104");
    EXPECT_EQ(device_argument("net_af_packet0,iface=veth0,blocksz=4096,framesz=1024", 5),
              "net_af_packet0,iface=veth0,blocksz=4096,framesz=1024,framecnt=8");
    EXPECT_EQ(device_argument("net_af_packet0,iface=veth0", 0), "net_af_packet0,iface=veth0");   // PMD default
    EXPECT_EQ(device_argument("net_af_packet0,iface=veth0,framecnt=64", 1024), "net_af_packet0,iface=veth0,framecnt=64");
}

TEST(DpdkPorts, UnknownDeviceNamesTheKey) {
    DpdkPortsConfig pc;
    pc.udp_port = 9000;
    DpdkPortConfig port;
    port.device = "net_nosuch7";
    port.ipv4 = v4("10.0.0.1", 0);
    port.ipv4_prefix = 24;
    pc.ports.push_back(port);
    std::string error;
    EXPECT_EQ(DpdkPorts::open(pc, &error), nullptr);
    EXPECT_NE(error.find("dpdk.ports[0].device"), std::string::npos) << error;
    pc.udp_port = 0;
    EXPECT_EQ(DpdkPorts::open(pc, &error), nullptr);
    EXPECT_NE(error.find("p2p.port"), std::string::npos) << error;
}

TEST(DpdkPorts, TooFewMbufsNamesTheKey) {
    DpdkPortsConfig pc;
    pc.udp_port = 9000;
    pc.mempool_mbufs = 1023;
    pc.rx_desc = 1024;
    DpdkPortConfig port;
    port.device = "net_ring0";
    port.ipv4 = v4("10.88.0.2", 0);
    port.ipv4_prefix = 24;
    pc.ports.push_back(port);
    std::string error;
    EXPECT_EQ(DpdkPorts::open(pc, &error), nullptr);
    EXPECT_NE(error.find("dpdk.mempool_mbufs"), std::string::npos) << error;
}

TEST(DpdkPorts, PortWithoutAMacNamesTheKey) {
    DpdkPortsConfig pc;
    pc.udp_port = 9000;
    pc.mempool_mbufs = 4095;
    pc.rx_desc = 256;
    pc.tx_desc = 256;
    DpdkPortConfig port;
    port.device = "net_ring0";   // net_ring's own MAC is all zeros
    port.ipv4 = v4("10.88.0.2", 0);
    port.ipv4_prefix = 24;
    pc.ports.push_back(port);
    std::string error;
    EXPECT_EQ(DpdkPorts::open(pc, &error), nullptr);
    EXPECT_NE(error.find("dpdk.ports[0].mac"), std::string::npos) << error;
}

TEST(DpdkBackend, FrameRoundTripThroughTheRingPort) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, true);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->local_port(), 9000);
    EXPECT_NE(b->features().find("dpdk,net_ring"), std::string::npos) << b->features();
    Collector c;
    std::vector<uint8_t> cell(1280);
    for (std::size_t i = 0; i < cell.size(); ++i) cell[i] = uint8_t(i * 7);
    for (int i = 0; i < 10; ++i) {
        cell[0] = uint8_t(i);
        b->transmit(v4("10.88.0.2", 9000), cell);
    }
    EXPECT_TRUE(b->tx_pending());
    b->flush();
    EXPECT_FALSE(b->tx_pending());
    EXPECT_EQ(b->poll(c, 64), 10u);
    ASSERT_EQ(c.got.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(c.got[std::size_t(i)].from, v4("10.88.0.2", 9000));
        cell[0] = uint8_t(i);
        EXPECT_EQ(c.got[std::size_t(i)].bytes, cell);
    }
    const BackendStats& s = b->stats();
    EXPECT_EQ(s.tx_packets, 10u);
    EXPECT_EQ(s.tx_bytes, 12800u);
    EXPECT_EQ(s.rx_packets, 10u);
    EXPECT_EQ(s.port_ipackets, 10u);   // the port's own counters, read at that poll
    EXPECT_EQ(s.port_opackets, 10u);
    // Budget: a poll hands up at most `budget`, the rest comes at the next.
    for (int i = 0; i < 5; ++i) b->transmit(v4("10.88.0.2", 9000), cell);
    b->flush();
    Collector c2;
    EXPECT_EQ(b->poll(c2, 3), 3u);
    EXPECT_EQ(b->poll(c2, 64), 2u);
}

Endpoint v6(const char* ip, uint16_t port) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv6;
    e.port = port;
    inet_pton(AF_INET6, ip, e.addr.data());
    return e;
}

// The ring port with 10.88.0.2/24 and fd00::2/64, both its own static neighbours (frames to ourselves resolve),
// and a backend with checksum policy `policy`.
struct PolicyRing {
    std::unique_ptr<DpdkPorts> ports;
    std::unique_ptr<Backend> b;
};
PolicyRing policy_ring(netstack::ChecksumPolicy policy) {
    DpdkPortsConfig pc = ring_ports_config(1, 0, true);
    pc.ports[0].ipv6 = v6("fd00::2", 0);
    pc.ports[0].ipv6_prefix = 64;
    pc.ports[0].neighbours.emplace_back(netstack::IpAddr::of(v6("fd00::2", 0)), *pc.ports[0].mac);
    PolicyRing r;
    std::string error;
    r.ports = DpdkPorts::open(pc, &error);
    EXPECT_TRUE(r.ports) << error;
    if (!r.ports) return r;
    DpdkBackendConfig bc;
    bc.ports = r.ports.get();
    bc.checksum = {policy};
    r.b = make_dpdk_backend(bc, &error);
    EXPECT_TRUE(r.b) << error;
    return r;
}

// A frame from the peer 10.88.0.1:9000 to us (10.88.0.2:9000) whose UDP checksum is wrong (one payload bit
// flipped after it was computed), or whose IPv4 header checksum is wrong.
std::vector<uint8_t> frame_to_us(const DpdkPorts& ports, bool bad_udp, bool bad_ip) {
    std::size_t const h = netstack::header_bytes(Endpoint::Family::kIpv4);
    std::vector<uint8_t> f = udp_frame(kPeerMac, ports.ports()[0].local.mac, v4("10.88.0.1", 9000),
                                       v4("10.88.0.2", 9000), std::vector<uint8_t>(1280, 0x5C));
    if (bad_udp) f[h + 100] ^= 0x01;
    if (bad_ip) f[netstack::kEthHeaderBytes + 8] = 63;   // TTL changed, checksum not
    return f;
}

// Checksum policy "off" (what auto means on net_memif): IPv4 frames leave with UDP checksum 0 and a correct IPv4
// header checksum, IPv6 frames keep their UDP checksum; "software" fills both. features() says which.
TEST(DpdkChecksum, OffSendsIpv4WithoutUdpChecksumButIpv6With) {
    for (auto policy : {netstack::ChecksumPolicy::kOff, netstack::ChecksumPolicy::kSoftware}) {
        bool const off = policy == netstack::ChecksumPolicy::kOff;
        PolicyRing r = policy_ring(policy);
        ASSERT_TRUE(r.b);
        EXPECT_NE(r.b->features().find(off ? ",csum=off" : ",csum=software"), std::string::npos) << r.b->features();
        std::vector<uint8_t> cell(1280, 0x17);
        r.b->transmit(v4("10.88.0.2", 9000), cell);
        r.b->transmit(v6("fd00::2", 9000), cell);
        r.b->flush();
        auto const sent = drain(*r.ports);
        ASSERT_EQ(sent.size(), 2u);
        const uint8_t* ip = sent[0].data() + netstack::kEthHeaderBytes;
        EXPECT_TRUE(netstack::ipv4_header_ok({ip, netstack::kIpv4HeaderBytes}));
        uint16_t const udp4 = netstack::load_be16(ip + netstack::kIpv4HeaderBytes + 6);
        if (off) {
            EXPECT_EQ(udp4, 0) << "IPv4 UDP checksum";
        } else {
            EXPECT_NE(udp4, 0);
        }
        // IPv6: the mandatory UDP checksum, correct, under either policy.
        netstack::LocalAddrs me = r.ports->ports()[0].local;
        netstack::ParsedUdp p;
        EXPECT_NE(netstack::load_be16(sent[1].data() + 60), 0);
        EXPECT_EQ(netstack::parse_udp(sent[1], me, netstack::RxVerify::kAll, &p), netstack::Drop::kNone);
        EXPECT_EQ(netstack::parse_udp(sent[0], me, netstack::RxVerify::kAll, &p), netstack::Drop::kNone)
            << "a verifying receiver accepts both";
    }
}

// RX: "off" delivers an IPv4 datagram with a wrong UDP checksum (the link AEAD refuses it one layer up) but
// still drops a wrong IPv4 header checksum; "software" drops both. auto on a port without offload (net_ring,
// not memif) is software.
TEST(DpdkChecksum, OffSkipsUdpVerificationSoftwareDoesNot) {
    for (auto policy : {netstack::ChecksumPolicy::kOff, netstack::ChecksumPolicy::kSoftware,
                        netstack::ChecksumPolicy::kAuto}) {
        bool const off = policy == netstack::ChecksumPolicy::kOff;
        PolicyRing r = policy_ring(policy);
        ASSERT_TRUE(r.b);
        if (policy == netstack::ChecksumPolicy::kAuto) {
            EXPECT_NE(r.b->features().find(",csum=software"), std::string::npos) << r.b->features();
        }
        inject(*r.ports, frame_to_us(*r.ports, true, false));
        inject(*r.ports, frame_to_us(*r.ports, false, true));
        inject(*r.ports, frame_to_us(*r.ports, false, false));
        Collector c;
        EXPECT_EQ(r.b->poll(c, 64), 3u);
        const BackendStats& s = r.b->stats();
        EXPECT_EQ(c.got.size(), off ? 2u : 1u) << netstack::checksum_policy_name(policy);
        EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kBadUdpChecksum)], off ? 0u : 1u);
        EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kBadIpChecksum)], 1u);
    }
}

// Two workers on a port limited to one queue pair: worker 1 has neither an RX nor a TX queue; its frames go
// through the port's ring and worker 0 sends them, and worker 0 receives everything (the worker mesh hands
// datagrams over). Without the limit each worker has its own pair (net_ring has 16).
TEST(DpdkBackend, WorkerWithoutQueuesSendsThroughWorkerZero) {
    std::string error;
    auto ports = DpdkPorts::open(ring_ports_config(2, 1, true), &error);
    ASSERT_TRUE(ports) << error;
    EXPECT_EQ(ports->ports()[0].rx_queues, 1);
    EXPECT_NE(ports->ports()[0].tx_ring, nullptr);
    auto [w0, w1] = two_workers(*ports, &error);
    ASSERT_TRUE(w0 && w1) << error;
    std::vector<uint8_t> cell(1280, 0x42);
    for (int i = 0; i < 3; ++i) w1->transmit(v4("10.88.0.2", 9000), cell);
    w1->flush();
    EXPECT_EQ(w1->stats().tx_packets, 3u);   // handed to the ring
    Collector c1, c0;
    EXPECT_EQ(w1->poll(c1, 64), 0u);         // no RX queue of its own
    w0->flush();                             // worker 0 drains the ring into its queue
    EXPECT_EQ(w0->poll(c0, 64), 3u);
    ASSERT_EQ(c0.got.size(), 3u);
    EXPECT_EQ(c0.got[0].bytes, cell);
}

TEST(DpdkBackend, EachWorkerHasItsOwnQueuePairWhereThePortHasThem) {
    std::string error;
    auto ports = DpdkPorts::open(ring_ports_config(2, 0, true), &error);
    ASSERT_TRUE(ports) << error;
    EXPECT_EQ(ports->ports()[0].rx_queues, 2);
    EXPECT_EQ(ports->ports()[0].tx_queues, 2);
    EXPECT_EQ(ports->ports()[0].tx_ring, nullptr);
    auto [w0, w1] = two_workers(*ports, &error);
    ASSERT_TRUE(w0 && w1) << error;
    std::vector<uint8_t> cell(1280, 0x43);
    w1->transmit(v4("10.88.0.2", 9000), cell);
    w1->flush();
    Collector c0, c1;
    EXPECT_EQ(w0->poll(c0, 64), 0u);   // net_ring loops queue 1 back to queue 1
    EXPECT_EQ(w1->poll(c1, 64), 1u);
}

TEST(DpdkBackend, ArpRequestForOurAddressIsAnswered) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, false);
    ASSERT_TRUE(b);
    const netstack::MacAddr ours = ports->ports()[0].local.mac;
    std::array<uint8_t, netstack::kArpFrameBytes> req{};
    netstack::LocalAddrs peer;
    peer.mac = kPeerMac;
    peer.add(v4("10.88.0.1", 0));
    ASSERT_EQ(netstack::build_solicitation(req, peer, netstack::IpAddr::of(v4("10.88.0.2", 0)), nullptr),
              netstack::kArpFrameBytes);
    inject(*ports, req);
    Collector c;
    EXPECT_EQ(b->poll(c, 64), 1u);
    EXPECT_TRUE(c.got.empty());
    b->flush();
    auto const sent = drain(*ports);
    ASSERT_EQ(sent.size(), 1u);
    const auto& r = sent[0];
    ASSERT_GE(r.size(), 42u);
    EXPECT_TRUE(std::equal(r.begin(), r.begin() + 6, kPeerMac.b.begin()));   // to the asker
    EXPECT_TRUE(std::equal(r.begin() + 6, r.begin() + 12, ours.b.begin()));  // from us
    EXPECT_EQ(netstack::load_be16(&r[12]), netstack::kEtherTypeArp);
    EXPECT_EQ(netstack::load_be16(&r[20]), 2);                                 // reply
    EXPECT_TRUE(std::equal(r.begin() + 22, r.begin() + 28, ours.b.begin()));  // sender MAC: ours
    EXPECT_EQ(std::vector<uint8_t>(r.begin() + 28, r.begin() + 32), (std::vector<uint8_t>{10, 88, 0, 2}));
    EXPECT_EQ(std::vector<uint8_t>(r.begin() + 38, r.begin() + 42), (std::vector<uint8_t>{10, 88, 0, 1}));
    EXPECT_EQ(b->stats().control_replies, 1u);
    EXPECT_EQ(b->stats().tx_packets, 0u);   // control frames are not datagrams
}

// The peer's answer to our ARP request `request` (built by the peer's own stack).
std::vector<uint8_t> arp_answer(std::span<const uint8_t> request, const char* peer_ip) {
    netstack::LocalAddrs peer;
    peer.mac = kPeerMac;
    peer.add(v4(peer_ip, 9000));
    netstack::NeighbourTable peer_table(8);
    std::array<uint8_t, netstack::kControlFrameMax> reply{};
    std::size_t reply_len = 0;
    EXPECT_EQ(netstack::handle_control(request, peer, peer_table, 1, reply, &reply_len), netstack::ControlDrop::kNone);
    EXPECT_EQ(reply_len, netstack::kArpFrameBytes);
    return std::vector<uint8_t>(reply.begin(), reply.begin() + std::ptrdiff_t(reply_len));
}

bool is_arp_request(const std::vector<uint8_t>& f) {
    return f.size() >= 22 && netstack::load_be16(&f[12]) == netstack::kEtherTypeArp && netstack::load_be16(&f[20]) == 1;
}

std::size_t mbufs_in_use(const DpdkPorts& ports) { return rte_mempool_in_use_count(ports.ports()[0].pool); }

// A datagram to a next hop without a MAC waits (its mbuf held) while an ARP request goes out; the answer sends it,
// and the ones after it, in order, to the learned MAC.
TEST(DpdkBackend, UnresolvedDestinationWaitsForTheAnswer) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, false);
    ASSERT_TRUE(b);
    std::size_t const in_use = mbufs_in_use(*ports);
    Collector c;
    std::vector<uint8_t> cell(1280, 0xAB);
    for (int i = 0; i < 3; ++i) {
        cell[0] = uint8_t(i);
        b->transmit(v4("10.88.0.1", 9000), cell);
    }
    EXPECT_EQ(b->stats().tx_unresolved, 0u);
    EXPECT_EQ(b->stats().tx_queued_unresolved, 3u);
    EXPECT_EQ(b->stats().solicitations, 1u);   // one request for the three
    b->flush();
    auto const sent = drain(*ports);
    ASSERT_EQ(sent.size(), 1u);   // the ARP request, broadcast; the datagrams wait
    EXPECT_TRUE(is_arp_request(sent[0]));
    EXPECT_EQ(mbufs_in_use(*ports), in_use + 3) << "the waiting datagrams hold their mbufs";
    inject(*ports, arp_answer(sent[0], "10.88.0.1"));
    EXPECT_EQ(b->poll(c, 64), 1u);
    EXPECT_EQ(b->stats().neighbours_learned, 1u);
    EXPECT_TRUE(b->tx_pending()) << "the answer released the waiting datagrams";
    cell[0] = 3;
    b->transmit(v4("10.88.0.1", 9000), cell);   // resolved now: straight out, behind the waiting ones
    b->flush();
    auto const data = drain(*ports);
    ASSERT_EQ(data.size(), 4u);
    netstack::LocalAddrs peer;
    peer.mac = kPeerMac;
    peer.add(v4("10.88.0.1", 9000));
    for (std::size_t i = 0; i < data.size(); ++i) {
        EXPECT_TRUE(std::equal(data[i].begin(), data[i].begin() + 6, kPeerMac.b.begin())) << i;
        netstack::ParsedUdp p;
        ASSERT_EQ(netstack::parse_udp(data[i], peer, true, &p), netstack::Drop::kNone) << i;
        EXPECT_EQ(p.from, v4("10.88.0.2", 9000));
        ASSERT_EQ(p.payload_len, 1280u);
        EXPECT_EQ(data[i][p.payload_offset], uint8_t(i)) << "sent in the order they were given";
    }
    EXPECT_EQ(b->stats().tx_packets, 4u);
    EXPECT_EQ(b->stats().tx_unresolved, 0u);
    EXPECT_EQ(mbufs_in_use(*ports), in_use);
}

// The wait is bounded: per next hop, per worker, and in time; what does not fit or waited too long is dropped
// and counted (tx_unresolved), and its mbuf returned.
TEST(DpdkBackend, UnresolvedDatagramsAreBoundedAndTimeOut) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    DpdkBackendConfig bc;
    bc.ports = ports.get();
    bc.unresolved_per_neighbour = 4;
    bc.unresolved_max = 6;
    bc.unresolved_timeout_ns = 1'000'000'000;   // the real clock: wide enough that no stall passes it early
    auto b = make_dpdk_backend(bc, &error);
    ASSERT_TRUE(b) << error;
    std::size_t const in_use = mbufs_in_use(*ports);
    std::vector<uint8_t> cell(1280, 0xCD);
    for (int i = 0; i < 5; ++i) b->transmit(v4("10.88.0.1", 9000), cell);   // 4 wait, 1 over the per-hop bound
    for (int i = 0; i < 3; ++i) b->transmit(v4("10.88.0.3", 9000), cell);   // 2 wait, 1 over the worker's bound
    EXPECT_EQ(b->stats().tx_queued_unresolved, 6u);
    EXPECT_EQ(b->stats().tx_unresolved, 2u);
    EXPECT_EQ(b->stats().solicitations, 2u);
    EXPECT_EQ(mbufs_in_use(*ports), in_use + 6 + 2) << "6 waiting datagrams, 2 ARP requests queued";
    b->flush();
    auto const requests = drain(*ports);
    ASSERT_EQ(requests.size(), 2u);
    Collector c;
    b->poll(c, 64);
    EXPECT_EQ(b->stats().tx_unresolved, 2u) << "not yet timed out";
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    b->poll(c, 64);
    EXPECT_EQ(b->stats().tx_unresolved, 8u);
    EXPECT_EQ(b->stats().tx_packets, 0u);
    EXPECT_FALSE(b->tx_pending());
    EXPECT_EQ(mbufs_in_use(*ports), in_use);
    // A late answer finds nothing waiting; the next datagram goes out at once.
    inject(*ports, arp_answer(requests[0], "10.88.0.1"));
    b->poll(c, 64);
    b->transmit(v4("10.88.0.1", 9000), cell);
    b->flush();
    EXPECT_EQ(drain(*ports).size(), 1u);
    EXPECT_EQ(b->stats().tx_packets, 1u);
}

// Worker 1 (no RX queue: worker 0 receives for it) parks a datagram; the answer to its ARP request arrives on
// worker 0, which feeds the process-wide table; worker 1's next poll finds it there and sends.
TEST(DpdkBackend, AnswerReceivedByAnotherWorkerReleasesTheWait) {
    std::string error;
    auto ports = DpdkPorts::open(ring_ports_config(2, 1, false), &error);
    ASSERT_TRUE(ports) << error;
    auto [w0, w1] = two_workers(*ports, &error);
    ASSERT_TRUE(w0 && w1) << error;
    std::vector<uint8_t> cell(1280, 0x11);
    w1->transmit(v4("10.88.0.1", 9000), cell);
    EXPECT_EQ(w1->stats().tx_queued_unresolved, 1u);
    w1->flush();
    w0->flush();   // worker 0 sends worker 1's ARP request
    auto const requests = drain(*ports);
    ASSERT_EQ(requests.size(), 1u);
    ASSERT_TRUE(is_arp_request(requests[0]));
    inject(*ports, arp_answer(requests[0], "10.88.0.1"));
    Collector c0, c1;
    EXPECT_EQ(w0->poll(c0, 64), 1u);
    EXPECT_EQ(w0->stats().neighbours_learned, 0u);   // worker 0 did not ask: only the shared table learned
    w1->poll(c1, 64);
    w1->flush();
    w0->flush();
    auto const data = drain(*ports);
    ASSERT_EQ(data.size(), 1u);
    EXPECT_TRUE(std::equal(data[0].begin(), data[0].begin() + 6, kPeerMac.b.begin()));
    EXPECT_EQ(w1->stats().tx_packets, 1u);
    EXPECT_EQ(w1->stats().tx_unresolved, 0u);
}

// Sends a raw frame on the ring port and returns its mbuf (to recognise it when it comes back).
// What the engine does with a relayed cell: transforms it in place (here: XOR) and transmits it from the same
// buffer to the next hop; `copies` more transmits of the same bytes.
struct InPlaceRelay : RxHandler {
    Backend* backend = nullptr;
    Endpoint next_hop;
    int copies = 0;
    void on_datagram(const Endpoint&, uint8_t* data, std::size_t len) noexcept override {
        for (std::size_t i = 0; i < len; ++i) data[i] ^= 0x5A;
        for (int i = 0; i <= copies; ++i) backend->transmit(next_hop, std::span<const uint8_t>(data, len));
    }
};

// A relayed cell leaves in the mbuf it arrived in: no allocation, no copy, headers rewritten for the next hop,
// checksums right. A second datagram from the same buffer is copied; a datagram from elsewhere too.
TEST(DpdkBackend, RelayedCellLeavesInTheMbufItArrivedIn) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, true);   // 10.88.0.2 (ourselves) resolves to our MAC
    ASSERT_TRUE(b);
    const netstack::MacAddr ours = ports->ports()[0].local.mac;
    std::vector<uint8_t> payload(1280);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t((i + 42) * 13);
    std::vector<uint8_t> const frame = udp_frame(kPeerMac, ours, v4("10.88.0.1", 9000), v4("10.88.0.2", 9000), payload);
    std::vector<uint8_t> want(frame.begin() + 42, frame.end());
    for (auto& x : want) x ^= 0x5A;
    InPlaceRelay relay;
    relay.backend = b.get();
    relay.next_hop = v4("10.88.0.2", 9000);
    std::size_t const in_use = mbufs_in_use(*ports);

    rte_mbuf* const rx = inject_mbuf(*ports, frame);
    ASSERT_NE(rx, nullptr);
    EXPECT_EQ(mbufs_in_use(*ports), in_use + 1);
    EXPECT_EQ(b->poll(relay, 64), 1u);
    EXPECT_EQ(mbufs_in_use(*ports), in_use + 1) << "no mbuf allocated for the relayed cell";
    b->flush();
    EXPECT_EQ(b->stats().tx_packets, 1u);
    EXPECT_EQ(b->stats().tx_zero_copy, 1u);
    EXPECT_EQ(b->stats().tx_bytes, 1280u);
    std::array<rte_mbuf*, 4> got{};
    ASSERT_EQ(rte_eth_rx_burst(ports->ports()[0].port_id, 0, got.data(), 4), 1);
    EXPECT_EQ(got[0], rx) << "sent from the mbuf it arrived in";
    EXPECT_EQ(rte_mbuf_refcnt_read(got[0]), 1);
    std::vector<uint8_t> out(rte_pktmbuf_mtod(got[0], uint8_t*), rte_pktmbuf_mtod(got[0], uint8_t*) + rte_pktmbuf_data_len(got[0]));
    rte_pktmbuf_free(got[0]);
    EXPECT_EQ(mbufs_in_use(*ports), in_use);
    ASSERT_EQ(out.size(), 42u + 1280u);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, ours.b.begin()));        // to the next hop's MAC
    EXPECT_TRUE(std::equal(out.begin() + 6, out.begin() + 12, ours.b.begin()));   // from ours
    netstack::ParsedUdp p;
    ASSERT_EQ(netstack::parse_udp(out, ports->ports()[0].local, true, &p), netstack::Drop::kNone);
    EXPECT_EQ(p.from, v4("10.88.0.2", 9000));   // from us now, not from the previous hop
    EXPECT_EQ(std::vector<uint8_t>(out.begin() + std::ptrdiff_t(p.payload_offset), out.end()), want);

    // Two datagrams from one received buffer: the first takes the mbuf, the second is copied (same bytes).
    relay.copies = 1;
    ASSERT_NE(inject_mbuf(*ports, frame), nullptr);
    EXPECT_EQ(b->poll(relay, 64), 1u);
    b->flush();
    EXPECT_EQ(b->stats().tx_packets, 3u);
    EXPECT_EQ(b->stats().tx_zero_copy, 2u);
    auto const two = drain(*ports);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0], out);
    EXPECT_EQ(two[1], out);
    EXPECT_EQ(mbufs_in_use(*ports), in_use);
    // A datagram that is not in a received frame is copied.
    b->transmit(v4("10.88.0.2", 9000), want);
    b->flush();
    EXPECT_EQ(b->stats().tx_zero_copy, 2u);
    EXPECT_EQ(drain(*ports).size(), 1u);
}

// The real engine as a relay on the DPDK backend: origin (10.88.0.1) -> relay (10.88.0.2, net_ring0) ->
// destination (10.88.0.3), one 1-hop circuit. Origin and destination are plain engines whose datagrams this test
// frames and injects into the ring port; what the relay sends is drained from the ring and handed to them. Every
// relayed cell (forward data, backward acknowledgements) leaves in the mbuf it arrived in, and the message arrives.
class RelayNet {
public:
    struct Sink : link::TxSink {
        RelayNet* net = nullptr;
        Endpoint self;
        void transmit(const Endpoint& to, std::span<const uint8_t> d) noexcept override {
            net->pending_.push_back({self, to, std::vector<uint8_t>(d.begin(), d.end())});
        }
    };
    struct Handler : RxHandler {
        node::Node* node = nullptr;
        void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept override {
            node->on_datagram(from, data, len);
        }
    };

    RelayNet(DpdkPorts& ports, Backend& backend) : ports_(ports), backend_(backend) {
        node::NodeConfig cfg;
        cfg.hops = 1;
        cfg.n = 1;
        cfg.k = 1;
        const Endpoint eps[3] = {v4("10.88.0.1", 9000), v4("10.88.0.2", 9000), v4("10.88.0.3", 9000)};
        for (int i = 0; i < 3; ++i) ids_.push_back(crypto::Identity::generate());
        for (int i = 0; i < 3; ++i) {
            sinks_[i].net = this;
            sinks_[i].self = eps[i];
            link::TxSink& tx = i == 1 ? static_cast<link::TxSink&>(backend_) : sinks_[i];
            nodes_.push_back(std::make_unique<node::Node>(ids_[std::size_t(i)], cfg, clock_, wall_, tx));
        }
        for (auto& n : nodes_) {
            for (int j = 0; j < 3; ++j) n->add_known_node(ids_[std::size_t(j)].peer(), eps[j], 1, j == 1);
        }
        handler_.node = nodes_[1].get();
    }

    // One round: the ends' datagrams to the relay are framed and injected, the relay polls and sends, its
    // frames are drained and delivered, time moves 1 ms.
    void pump() {
        const netstack::MacAddr relay_mac = ports_.ports()[0].local.mac;
        std::vector<Datagram> out;
        out.swap(pending_);
        for (const Datagram& d : out) {
            inject(ports_, udp_frame(kPeerMac, relay_mac, d.from, d.to, d.bytes));
        }
        while (backend_.poll(handler_, 64) > 0) {
        }
        backend_.flush();
        netstack::LocalAddrs ends;
        ends.mac = kPeerMac;
        ends.add(v4("10.88.0.1", 9000));
        ends.add(v4("10.88.0.3", 9000));
        for (auto& f : drain(ports_)) {
            netstack::ParsedUdp p;
            if (netstack::parse_udp(f, ends, true, &p) != netstack::Drop::kNone) {
                ++bad_frames;
                continue;
            }
            std::size_t const to = f[33] == 1 ? 0 : 2;   // the last byte of the IPv4 destination
            nodes_[to]->on_datagram(p.from, f.data() + p.payload_offset, p.payload_len);
        }
        clock_.advance_ns(kNsPerMs);
        for (auto& n : nodes_) n->tick();
    }

    node::Node& node(int i) { return *nodes_[std::size_t(i)]; }
    const crypto::Identity& id(int i) const { return ids_[std::size_t(i)]; }
    int bad_frames = 0;

private:
    struct Datagram {
        Endpoint from, to;
        std::vector<uint8_t> bytes;
    };
    DpdkPorts& ports_;
    Backend& backend_;
    ManualClock clock_;
    SystemWallClock wall_;
    std::vector<crypto::Identity> ids_;
    Sink sinks_[3];
    Handler handler_;
    std::vector<std::unique_ptr<node::Node>> nodes_;
    std::vector<Datagram> pending_;
};

TEST(DpdkRelay, EngineRelaysEveryCellInTheMbufItArrivedIn) {
    ASSERT_TRUE(crypto::init());
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    // The ends' MAC (kPeerMac) for both of their addresses: static neighbours.
    ports->ports()[0].neighbours = {{netstack::IpAddr::of(v4("10.88.0.1", 0)), kPeerMac},
                                    {netstack::IpAddr::of(v4("10.88.0.3", 0)), kPeerMac}};
    DpdkBackendConfig bc;
    bc.ports = ports.get();
    auto b = make_dpdk_backend(bc, &error);
    ASSERT_TRUE(b) << error;
    std::size_t const in_use = mbufs_in_use(*ports);
    RelayNet net(*ports, *b);
    std::vector<uint8_t> message(64 * 1024);
    for (std::size_t i = 0; i < message.size(); ++i) message[i] = uint8_t(i * 31 + 7);
    auto id = net.node(0).send(net.id(2).id(), message, &error);
    ASSERT_TRUE(id) << error;
    for (int i = 0; i < 2000 && net.node(0).send_state(*id) != node::SendState::kDelivered; ++i) net.pump();
    EXPECT_EQ(net.node(0).send_state(*id), node::SendState::kDelivered);
    EXPECT_EQ(net.bad_frames, 0);
    const node::NodeStats& rs = net.node(1).stats();
    uint64_t const relayed = rs.cells_relayed_forward + rs.cells_relayed_backward;
    EXPECT_GT(rs.cells_relayed_forward, 50u);   // 64 KiB in ~1.2 KiB cells
    EXPECT_GT(rs.cells_relayed_backward, 0u);   // the destination's acknowledgements
    const BackendStats& s = b->stats();
    EXPECT_EQ(s.tx_zero_copy, relayed) << "every relayed cell left in its own receive mbuf";
    EXPECT_GT(s.tx_packets, s.tx_zero_copy);      // handshakes, CREATED and EXTEND answers are built and copied
    EXPECT_EQ(mbufs_in_use(*ports), in_use) << "no mbuf leaked";
}

TEST(DpdkBackend, MalformedFramesAreDroppedAndCountedByReason) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, true);
    ASSERT_TRUE(b);
    const netstack::MacAddr ours = ports->ports()[0].local.mac;
    // A valid frame to us, then broken copies of it.
    std::vector<uint8_t> const payload(100, 0x5A);
    std::vector<uint8_t> good = udp_frame(kPeerMac, ours, v4("10.88.0.1", 9000), v4("10.88.0.2", 9000), payload);
    std::vector<uint8_t> bad_udp = good;
    bad_udp.back() ^= 1;
    std::vector<uint8_t> not_ip = good;
    netstack::store_be16(&not_ip[12], 0x88CC);   // LLDP
    std::vector<uint8_t> wrong_port =
        udp_frame(kPeerMac, ours, v4("10.88.0.1", 9000), v4("10.88.0.2", 9001), payload);
    std::vector<uint8_t> truncated(good.begin(), good.begin() + 30);
    for (const auto* f : {&good, &bad_udp, &not_ip, &wrong_port, &truncated}) inject(*ports, *f);
    Collector c;
    EXPECT_EQ(b->poll(c, 64), 5u);
    ASSERT_EQ(c.got.size(), 1u);
    EXPECT_EQ(c.got[0].bytes, std::vector<uint8_t>(100, 0x5A));
    const BackendStats& s = b->stats();
    EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kBadUdpChecksum)], 1u);
    EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kNotIp)], 1u);
    EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kNotOurPort)], 1u);
    EXPECT_EQ(s.frame_drops[std::size_t(netstack::Drop::kShort)], 1u);
    EXPECT_EQ(s.rx_packets, 5u);
    // Oversized and empty datagrams are refused at transmit().
    std::vector<uint8_t> big(1281);
    b->transmit(v4("10.88.0.2", 9000), big);
    b->transmit(v4("10.88.0.2", 9000), {});
    EXPECT_EQ(b->stats().tx_dropped_size, 2u);
}

TEST(DpdkBackend, IdleWaitSleepsBriefly) {
    std::string error;
    auto ports = open_ring_port(&error);
    ASSERT_TRUE(ports) << error;
    auto b = ring_backend(*ports, true);
    ASSERT_TRUE(b);
    auto const t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) b->wait(1'000'000'000);   // capped at 16 x idle_sleep_ns (1.6 ms)
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_LT(ms.count(), 500);
    EXPECT_GE(ms.count(), 5);
}

// DPDK on veth0 (net_af_packet) and the kernel's UDP stack on veth1 (10.99.0.1): ARP both ways, datagrams both
// ways, from a worker thread as the daemon runs it.
TEST(DpdkAfPacket, InteroperatesWithAKernelSocket) {
    if (!g_netns) GTEST_SKIP() << "no private network namespace (needs root)";
    DpdkEalConfig ec;
    ec.devices = {"net_af_packet0,iface=veth0"};
    ec.rx_desc = 301;   // framecnt=302 (whole 4 KiB blocks of two 2 KiB frames): the kernel must accept it
    std::string error;
    ASSERT_TRUE(eal_init(ec, &error)) << error;
    DpdkPortsConfig pc;
    pc.udp_port = 9100;
    pc.mempool_mbufs = 4095;
    pc.mbuf_cache = 32;
    pc.rx_desc = 256;
    pc.tx_desc = 256;
    DpdkPortConfig port;
    port.device = "net_af_packet0,iface=veth0";
    port.ipv4 = v4("10.99.0.2", 0);
    port.ipv4_prefix = 24;
    pc.ports.push_back(port);
    auto ports = DpdkPorts::open(pc, &error);
    ASSERT_TRUE(ports) << error;
    EXPECT_NE(ports->features().find("net_af_packet"), std::string::npos) << ports->features();
    DpdkBackendConfig bc;
    bc.ports = ports.get();
    bc.port_stats = true;
    auto b = make_dpdk_backend(bc, &error);
    ASSERT_TRUE(b) << error;

    int const fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in me{};
    me.sin_family = AF_INET;
    me.sin_port = htons(9200);
    inet_pton(AF_INET, "10.99.0.1", &me.sin_addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me), 0);
    sockaddr_in node{};
    node.sin_family = AF_INET;
    node.sin_port = htons(9100);
    inet_pton(AF_INET, "10.99.0.2", &node.sin_addr);

    // The worker: echoes every datagram back to its sender until it has echoed `want`.
    struct Echo : RxHandler {
        Backend* b = nullptr;
        int echoed = 0;
        void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept override {
            b->transmit(from, std::span<const uint8_t>(data, len));
            ++echoed;
        }
    } echo;
    echo.b = b.get();
    std::atomic<bool> stop{false};
    std::thread worker([&] {
        while (!stop.load()) {
            if (b->poll(echo, 64) == 0) b->wait(50'000);
            b->flush();
        }
    });
    // The kernel resolves 10.99.0.2 by ARP (answered by the backend), the backend resolves 10.99.0.1 (answered
    // by the kernel); the first echo waits for that answer. Each echo leaves in the mbuf its datagram arrived in.
    int replies = 0;
    std::array<uint8_t, 2048> buf{};
    std::vector<uint8_t> msg(1280);
    for (int i = 0; i < 400 && replies < 20; ++i) {
        msg[0] = uint8_t(i);
        ASSERT_EQ(::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&node), sizeof node),
                  ssize_t(msg.size()));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        for (;;) {
            sockaddr_in from{};
            socklen_t fl = sizeof from;
            ssize_t const n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 0) break;
            EXPECT_EQ(n, 1280);
            EXPECT_EQ(from.sin_port, htons(9100));
            ++replies;
        }
    }
    stop = true;
    worker.join();
    ::close(fd);
    const BackendStats& s = b->stats();
    std::string drops;
    for (std::size_t i = 0; i < std::size_t(netstack::Drop::kCount); ++i) {
        if (s.frame_drops[i] != 0) drops += std::string(netstack::drop_name(netstack::Drop(i))) + "=" + std::to_string(s.frame_drops[i]) + " ";
    }
    for (std::size_t i = 0; i < std::size_t(netstack::ControlDrop::kCount); ++i) {
        if (s.control_drops[i] != 0) {
            drops += std::string(netstack::control_drop_name(netstack::ControlDrop(i))) + "=" +
                     std::to_string(s.control_drops[i]) + " ";
        }
    }
    EXPECT_GE(replies, 20) << "drops: " << drops << " solicitations " << s.solicitations << " unresolved "
                           << s.tx_unresolved;
    EXPECT_GE(s.control_replies, 1u);       // we answered the kernel's ARP request
    EXPECT_GE(s.neighbours_learned, 1u);    // and learned the kernel's MAC from our own
    EXPECT_GE(s.tx_packets, 20u);
    EXPECT_EQ(s.tx_zero_copy, s.tx_packets) << "every echo sent from its own receive mbuf";
    EXPECT_GE(s.tx_queued_unresolved, 1u);  // the first echo waited for the kernel's ARP reply
    EXPECT_EQ(s.tx_unresolved, 0u) << "nothing lost to ARP";
    EXPECT_GT(s.port_ipackets, 0u);
}

}  // namespace
}  // namespace voxa::io
