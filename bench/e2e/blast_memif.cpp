// DpdkWire (blast_wire.h): the generator's ends on two net_memif servers; frames carry our own
// Ethernet/IPv4/UDP headers (dataplane/netstack), written once per pool frame when the pool is generated, so
// the blast only copies each frame into an mbuf and hands bursts to rte_eth_tx_burst.
#include "blast_wire.h"

#if VOXA_HAVE_DPDK
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include <array>
#include <cstring>
#include <vector>

#include "bench_util.h"
#include "config/config.h"
#include "netstack/frame.h"
#endif

namespace voxa::bench {

#if VOXA_HAVE_DPDK
namespace {

constexpr uint16_t kBurst = 64;
constexpr uint16_t kDesc = 1024;

class MemifWire final : public Wire {
  public:
    explicit MemifWire(const MemifWireOptions& o) : o_(o) {}
    ~MemifWire() override {
        for (uint16_t p : ports_) {
            (void)rte_eth_dev_stop(p);
            (void)rte_eth_dev_close(p);
        }
        // EAL stays up: rte_eal_cleanup() would forbid a second wire in this process, and the process ends
        // soon.
    }

    bool open(std::string& error) {
        const std::string socks[2] = {o_.dir + "/a.sock", o_.dir + "/b.sock"};
        const std::string macs[2] = {o_.origin_mac, o_.destination_mac};
        const std::string peers[2] = {o_.relay_a_mac, o_.relay_b_mac};
        std::vector<std::string> args = {"voxa-blast",
                                         "-l",
                                         std::to_string(o_.core),
                                         "--no-huge",
                                         "--no-pci",
                                         "--no-shconf",
                                         "-m",
                                         "512",
                                         "--file-prefix",
                                         "vxb-blast",
                                         "--log-level=lib.eal:warning"};
        for (int i = 0; i < 2; ++i) {
            args.push_back("--vdev");
            args.push_back("net_memif" + std::to_string(i) + ",role=server,socket=" + socks[i] +
                           ",id=0,bsize=2048,rsize=11,mac=" + macs[i]);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
            error = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
            return false;
        }
        pool_ = rte_pktmbuf_pool_create("vxb_blast", o_.mbufs, 256, 0, 2176 + RTE_PKTMBUF_HEADROOM,
                                        int(rte_socket_id()));
        if (pool_ == nullptr) {
            error = std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno);
            return false;
        }
        const Endpoint locals[2] = {o_.origin, o_.destination};
        const Endpoint relays[2] = {o_.relay_a, o_.relay_b};
        for (int i = 0; i < 2; ++i) {
            uint16_t port = 0;
            const std::string name = "net_memif" + std::to_string(i);
            if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
                error = name + ": no such port";
                return false;
            }
            rte_eth_conf conf{};
            if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
                rte_eth_rx_queue_setup(port, 0, kDesc, rte_eth_dev_socket_id(port), nullptr, pool_) != 0 ||
                rte_eth_tx_queue_setup(port, 0, kDesc, rte_eth_dev_socket_id(port), nullptr) != 0 ||
                rte_eth_dev_start(port) != 0) {
                error = name + ": configure/start failed: " + rte_strerror(rte_errno);
                return false;
            }
            ports_.push_back(port);
            auto mac = config::parse_mac(macs[i]);
            auto peer = config::parse_mac(peers[i]);
            if (!mac || !peer) {
                error = "bad MAC " + macs[i] + " or " + peers[i];
                return false;
            }
            local_[i].mac.b = *mac;
            (void)local_[i].add(locals[i]);
            peer_mac_[i].b = *peer;
            relay_[i] = relays[i];
        }
        return true;
    }

    Endpoint local(Side side) const override { return side == Side::kOrigin ? o_.origin : o_.destination; }
    Endpoint relay(Side side) const override { return relay_[int(side)]; }

    bool ready() const override {
        for (uint16_t p : ports_) {
            rte_eth_link link{};
            if (rte_eth_link_get_nowait(p, &link) != 0 || link.link_status != RTE_ETH_LINK_UP)
                return false;
        }
        return ports_.size() == 2;
    }

    void send(Side side, const Endpoint& to, std::span<const uint8_t> datagram) override {
        const int i = int(side);
        const std::size_t hb = netstack::header_bytes(to.family);
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        if (m == nullptr)
            return;
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(hb + datagram.size())));
        if (p == nullptr) {
            rte_pktmbuf_free(m);
            return;
        }
        std::memcpy(p + hb, datagram.data(), datagram.size());
        netstack::write_udp_headers({p, hb}, local_[i].mac, peer_mac_[i], local_[i].addrs[0], to,
                                    {p + hb, datagram.size()}, netstack::ChecksumMode::kSoftware);
        if (rte_eth_tx_burst(ports_[std::size_t(i)], 0, &m, 1) != 1)
            rte_pktmbuf_free(m);
    }

    void poll(const Receive& fn) override {
        std::array<rte_mbuf*, kBurst> bufs{};
        for (int i = 0; i < 2; ++i) {
            const uint16_t n = rte_eth_rx_burst(ports_[std::size_t(i)], 0, bufs.data(), kBurst);
            for (uint16_t k = 0; k < n; ++k) {
                rte_mbuf* m = bufs[k];
                auto* p = rte_pktmbuf_mtod(m, uint8_t*);
                netstack::ParsedUdp u;
                if (m->nb_segs == 1 &&
                    netstack::parse_udp({p, m->data_len}, local_[i], true, &u) == netstack::Drop::kNone) {
                    fn(Side(i), u.from, p + u.payload_offset, u.payload_len);
                }
                rte_pktmbuf_free(m);
            }
        }
    }

    std::size_t header_bytes() const override { return netstack::header_bytes(Endpoint::Family::kIpv4); }
    void write_headers(uint8_t* headers, std::span<const uint8_t> datagram) const override {
        netstack::write_udp_headers({headers, header_bytes()}, local_[0].mac, peer_mac_[0],
                                    local_[0].addrs[0], relay_[0], datagram,
                                    netstack::ChecksumMode::kSoftware);
    }

    BlastResult blast(const uint8_t* pool, std::size_t count, std::size_t stride, std::size_t datagram_bytes,
                      uint64_t deadline_ns) override {
        BlastResult r;
        const std::size_t frame = header_bytes() + datagram_bytes;
        std::array<rte_mbuf*, kBurst> tx{};
        uint16_t held = 0;  // filled mbufs not yet taken by the port, in order: tx[0, held)
        std::size_t next = 0;
        const uint64_t t0 = now_ns();
        uint32_t loops = 0;
        while (next < count || held > 0) {
            if (held < kBurst && next < count) {
                const uint16_t want = uint16_t(std::min<std::size_t>(kBurst - held, count - next));
                if (rte_pktmbuf_alloc_bulk(pool_, tx.data() + held, want) == 0) {
                    for (uint16_t k = 0; k < want; ++k) {
                        rte_mbuf* m = tx[held + k];
                        rte_memcpy(rte_pktmbuf_mtod(m, uint8_t*), pool + (next + k) * stride, frame);
                        m->data_len = uint16_t(frame);
                        m->pkt_len = uint32_t(frame);
                    }
                    held = uint16_t(held + want);
                    next += want;
                }
            }
            const uint16_t sent = rte_eth_tx_burst(ports_[0], 0, tx.data(), held);
            if (sent == 0)
                r.full_polls += 1;
            if (sent > 0 && sent < held)
                std::memmove(tx.data(), tx.data() + sent, (held - sent) * sizeof(rte_mbuf*));
            held = uint16_t(held - sent);
            r.sent += sent;
            r.arrived += count_arrivals();
            if ((++loops & 15) == 0 && now_ns() >= deadline_ns)
                break;
        }
        r.ns = now_ns() - t0;
        if (held > 0)
            rte_pktmbuf_free_bulk(tx.data(), held);
        return r;
    }

    uint64_t drain(int ms) override {
        uint64_t n = 0;
        const uint64_t end = now_ns() + uint64_t(ms) * 1'000'000;
        while (now_ns() < end) {
            n += count_arrivals();
            poll([&](Side, const Endpoint&, uint8_t*, std::size_t) { n += 1; });
        }
        return n;
    }

    std::string port_stats_json() const override {
        std::string out = "{";
        const char* names[2] = {"origin", "destination"};
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            rte_eth_stats s{};
            (void)rte_eth_stats_get(ports_[i], &s);
            out += std::string(i ? "," : "") + "\"" + names[i] +
                   "\":{\"ipackets\":" + std::to_string(s.ipackets) +
                   ",\"opackets\":" + std::to_string(s.opackets) +
                   ",\"imissed\":" + std::to_string(s.imissed) + ",\"oerrors\":" + std::to_string(s.oerrors) +
                   "}";
        }
        return out + "}";
    }

  private:
    // Frees whatever reached the destination side (and the origin side: nothing should) and counts the
    // former.
    uint64_t count_arrivals() {
        std::array<rte_mbuf*, kBurst> bufs{};
        uint64_t n = 0;
        for (int round = 0; round < 4; ++round) {
            const uint16_t got = rte_eth_rx_burst(ports_[1], 0, bufs.data(), kBurst);
            if (got == 0)
                break;
            rte_pktmbuf_free_bulk(bufs.data(), got);
            n += got;
        }
        const uint16_t back = rte_eth_rx_burst(ports_[0], 0, bufs.data(), kBurst);
        if (back > 0)
            rte_pktmbuf_free_bulk(bufs.data(), back);
        return n;
    }

    MemifWireOptions o_;
    rte_mempool* pool_ = nullptr;
    std::vector<uint16_t> ports_;
    netstack::LocalAddrs local_[2];
    netstack::MacAddr peer_mac_[2];
    Endpoint relay_[2];
};

}  // namespace

std::unique_ptr<Wire> make_memif_wire(const MemifWireOptions& o, std::string& error) {
    auto w = std::make_unique<MemifWire>(o);
    if (!w->open(error))
        return nullptr;
    return w;
}
#else
std::unique_ptr<Wire> make_memif_wire(const MemifWireOptions&, std::string& error) {
    error = "this build has no DPDK (configure with -Ddpdk=enabled)";
    return nullptr;
}
#endif

}  // namespace voxa::bench
