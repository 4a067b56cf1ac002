#include "io/dpdk_backend.h"

#include <poll.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "netstack/control.h"
#include "netstack/frame.h"
#include "netstack/neighbour.h"
#include "voxa/assert.h"

namespace voxa::io {
namespace {

constexpr std::size_t kRxBurst = 32;
constexpr std::size_t kTxBatchMax = 512;
constexpr int kTxRetries = 4;             // tx_burst rounds before the rest of a batch is dropped
// TX bookkeeping per queued frame: its datagram bytes (0 for a control frame), and this bit when the frame is the
// mbuf the datagram arrived in (zero-copy).
constexpr uint32_t kZeroCopyBit = 1u << 31;
constexpr uint64_t kParkScanNs = 1'000'000;   // how often poll() looks at datagrams waiting for a neighbour
static_assert(std::size_t(netstack::Drop::kCount) <= BackendStats::kFrameDropsMax);
static_assert(std::size_t(netstack::ControlDrop::kCount) <= BackendStats::kControlDropsMax);

uint64_t mono_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

// One port as this worker sees it: its queues, its neighbour table, its TX buffer.
struct PortState {
    uint16_t index = 0;                    // in ports_
    DpdkPort* port = nullptr;
    SharedNeighbours* shared = nullptr;
    std::unique_ptr<netstack::NeighbourTable> neighbours;
    bool has_rx = false, has_tx = false;
    uint16_t queue = 0;
    std::vector<rte_mbuf*> tx;             // frames queued, not yet handed to the port
    std::vector<uint32_t> tx_payload;      // their datagram bytes (for tx_bytes) | kZeroCopyBit
    // The checksum policy resolved against what the port offers (init()).
    netstack::ChecksumMode tx_v4 = netstack::ChecksumMode::kSoftware, tx_v6 = netstack::ChecksumMode::kSoftware;
    bool rx_offload = false;               // trust the port's RX checksum flags
    netstack::RxVerify rx_verify = netstack::RxVerify::kAll;   // what the parser checks without them
    std::string_view csum_name;            // for features(): "offload", "software" or "off"
};

// Resolves a port's checksum policy (see dpdk_backend.h).
void apply_checksum_policy(PortState& ps, netstack::ChecksumPolicy policy) {
    using netstack::ChecksumMode;
    using netstack::ChecksumPolicy;
    const DpdkPort& p = *ps.port;
    if (policy == ChecksumPolicy::kAuto) {
        bool const offered = p.tx_csum_v4 || p.tx_csum_v6 || p.rx_csum;
        // memif: a shared-memory ring between two processes on one host; no wire, no bit errors.
        policy = !offered && p.driver == "net_memif" ? ChecksumPolicy::kOff : ChecksumPolicy::kAuto;
    }
    switch (policy) {
        case ChecksumPolicy::kAuto:
            ps.tx_v4 = p.tx_csum_v4 ? ChecksumMode::kOffload : ChecksumMode::kSoftware;
            ps.tx_v6 = p.tx_csum_v6 ? ChecksumMode::kOffload : ChecksumMode::kSoftware;
            ps.rx_offload = p.rx_csum;
            ps.rx_verify = netstack::RxVerify::kAll;
            ps.csum_name = p.tx_csum_v4 || p.rx_csum ? "offload" : "software";
            break;
        case ChecksumPolicy::kSoftware:
            ps.tx_v4 = ps.tx_v6 = ChecksumMode::kSoftware;
            ps.rx_offload = false;
            ps.rx_verify = netstack::RxVerify::kAll;
            ps.csum_name = "software";
            break;
        case ChecksumPolicy::kOff:
            // IPv6's UDP checksum is mandatory: the port's offload computes it where offered. A port that checks
            // checksums on receive still does: a frame it marks bad is corrupt whatever the policy.
            ps.tx_v4 = ChecksumMode::kNoUdp;
            ps.tx_v6 = p.tx_csum_v6 ? ChecksumMode::kOffload : ChecksumMode::kSoftware;
            ps.rx_offload = p.rx_csum;
            ps.rx_verify = netstack::RxVerify::kIpHeader;
            ps.csum_name = "off";
            break;
    }
}

// A datagram waiting for its next hop's MAC: a complete frame whose destination MAC is still zero.
struct Parked {
    rte_mbuf* m = nullptr;
    uint32_t payload = 0;                  // as PortState::tx_payload
    uint16_t port = 0;
    netstack::IpAddr ip;
    uint64_t since_ns = 0;
};

// A next hop with parked datagrams (few at a time: one per neighbour being resolved).
struct ParkedHop {
    netstack::IpAddr ip;
    uint16_t port = 0;
    uint32_t count = 0;
};

// What transmit() does with a datagram after the neighbour lookup.
enum class NextHop : uint8_t { kSend, kPark, kDrop };

class DpdkBackend final : public Backend {
public:
    explicit DpdkBackend(const DpdkBackendConfig& config) : config_(config) {}
    ~DpdkBackend() override;
    DpdkBackend(const DpdkBackend&) = delete;
    DpdkBackend& operator=(const DpdkBackend&) = delete;

    bool init(std::string* error);

    std::size_t poll(RxHandler& h, std::size_t budget) noexcept override;
    void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept override;
    void flush() noexcept override;
    bool tx_pending() const noexcept override { return queued_ > 0; }
    void wait(uint64_t timeout_ns) noexcept override;
    uint16_t local_port() const noexcept override { return config_.ports->config().udp_port; }
    std::string features() const override;
    const BackendStats& stats() const noexcept override;

private:
    void handle_frame(PortState& ps, rte_mbuf* m, RxHandler& h, uint64_t now_ns) noexcept;
    rte_mbuf* take_rx_mbuf(std::span<const uint8_t> datagram, std::size_t hdr) noexcept;
    bool known(PortState& ps, const netstack::IpAddr& ip, bool look_shared, uint64_t now_ns,
               netstack::MacAddr* mac) noexcept;
    void release_hop(std::size_t hop, const netstack::MacAddr& mac) noexcept;
    void scan_parked(uint64_t now_ns, bool look_shared) noexcept;
    void handle_control(PortState& ps, std::span<const uint8_t> frame, uint64_t now_ns) noexcept;
    void send_raw(PortState& ps, std::span<const uint8_t> frame) noexcept;
    void solicit(PortState& ps, const netstack::IpAddr& ip, const netstack::MacAddr* unicast) noexcept;
    NextHop resolve(PortState& ps, const netstack::IpAddr& ip, uint64_t now_ns, netstack::MacAddr* mac) noexcept;
    bool from_shared(PortState& ps, const netstack::IpAddr& ip, uint64_t now_ns, netstack::MacAddr* mac) noexcept;
    std::size_t find_hop(uint16_t port, const netstack::IpAddr& ip) const noexcept;
    void enqueue(PortState& ps, rte_mbuf* m, uint32_t payload) noexcept;
    void flush_port(PortState& ps) noexcept;
    void drain_tx_ring(PortState& ps) noexcept;
    PortState* route(const Endpoint& to) noexcept;
    void read_port_stats(uint64_t now_ns) noexcept;

    DpdkBackendConfig config_;
    std::vector<PortState> ports_;
    BackendStats own_;                     // what this backend counted
    mutable BackendStats stats_;           // own_ with the port counters folded in (stats())
    DpdkPortCounters port_totals_;         // summed over ports, refreshed every port_stats_ns (port_stats only)
    uint64_t last_port_stats_ns_ = 0;
    std::size_t queued_ = 0;
    uint64_t now_ns_ = 0;                  // taken at the start of each poll()
    unsigned idle_waits_ = 0;              // consecutive wait() calls without a frame received in between
    bool registered_ = false;
    std::array<uint8_t, netstack::kControlFrameMax> reply_{};
    // The frame being handed up right now (handle_frame), while it may still be sent as it is: a datagram
    // transmitted from inside it goes out in this mbuf (take_rx_mbuf). Null outside on_datagram and once taken.
    rte_mbuf* rx_mbuf_ = nullptr;
    std::span<const uint8_t> rx_payload_;  // its UDP payload: only a datagram that is exactly this goes out in it
    std::vector<Parked> parked_;           // FIFO, reserved to unresolved_max
    std::vector<ParkedHop> parked_hops_;   // the next hops of parked_, reserved to unresolved_max
    uint64_t next_park_scan_ns_ = 0;
};

DpdkBackend::~DpdkBackend() {
    for (Parked& p : parked_) rte_pktmbuf_free(p.m);
    parked_.clear();
    for (PortState& ps : ports_) {
        if (!ps.tx.empty()) rte_pktmbuf_free_bulk(ps.tx.data(), unsigned(ps.tx.size()));
        ps.tx.clear();
    }
}

bool DpdkBackend::init(std::string* error) {
    if (config_.ports == nullptr || config_.ports->ports().empty()) {
        *error = "dpdk backend: no ports";
        return false;
    }
    if (config_.tx_batch == 0 || config_.tx_batch > kTxBatchMax) {
        *error = "dpdk backend: tx_batch must be 1.." + std::to_string(kTxBatchMax);
        return false;
    }
    if (config_.unresolved_max == 0 || config_.unresolved_per_neighbour == 0) {
        *error = "dpdk backend: unresolved_max and unresolved_per_neighbour must be at least 1";
        return false;
    }
    parked_.reserve(config_.unresolved_max);
    parked_hops_.reserve(config_.unresolved_max);
    std::vector<DpdkPort>& ports = config_.ports->ports();
    for (std::size_t i = 0; i < ports.size(); ++i) {
        PortState ps;
        ps.index = uint16_t(i);
        ps.port = &ports[i];
        ps.shared = &config_.ports->shared_neighbours(i);
        ps.neighbours = std::make_unique<netstack::NeighbourTable>(config_.neighbours_max);
        for (const auto& [ip, mac] : ps.port->neighbours) ps.neighbours->add_static(ip, mac);
        ps.has_rx = config_.worker < ps.port->rx_queues;
        ps.has_tx = config_.worker < ps.port->tx_queues;
        ps.queue = uint16_t(config_.worker);
        ps.tx.reserve(config_.tx_batch);
        ps.tx_payload.reserve(config_.tx_batch);
        apply_checksum_policy(ps, i < config_.checksum.size() ? config_.checksum[i] : netstack::ChecksumPolicy::kAuto);
        ports_.push_back(std::move(ps));
    }
    return true;
}

std::string DpdkBackend::features() const {
    std::string f = config_.ports->features() + ",csum=";
    for (std::size_t i = 0; i < ports_.size(); ++i) {
        if (i > 0) f += '/';
        f += ports_[i].csum_name;
    }
    return f;
}

const BackendStats& DpdkBackend::stats() const noexcept {
    stats_ = own_;
    if (config_.port_stats) {
        stats_.port_ipackets = port_totals_.ipackets;
        stats_.port_opackets = port_totals_.opackets;
        stats_.port_imissed = port_totals_.imissed;
        stats_.port_rx_nombuf = port_totals_.rx_nombuf;
        stats_.port_ierrors = port_totals_.ierrors;
        stats_.port_oerrors = port_totals_.oerrors;
        stats_.rx_no_buffer += port_totals_.imissed + port_totals_.rx_nombuf;
        stats_.rx_errors += port_totals_.ierrors;
        stats_.tx_errors += port_totals_.oerrors;
    }
    return stats_;
}

void DpdkBackend::read_port_stats(uint64_t now_ns) noexcept {
    last_port_stats_ns_ = now_ns;
    DpdkPortCounters sum;
    for (std::size_t i = 0; i < ports_.size(); ++i) {
        DpdkPortCounters const c = config_.ports->port_counters(i);
        sum.ipackets += c.ipackets;
        sum.opackets += c.opackets;
        sum.ibytes += c.ibytes;
        sum.obytes += c.obytes;
        sum.imissed += c.imissed;
        sum.ierrors += c.ierrors;
        sum.oerrors += c.oerrors;
        sum.rx_nombuf += c.rx_nombuf;
    }
    port_totals_ = sum;
}

std::size_t DpdkBackend::poll(RxHandler& h, std::size_t budget) noexcept {
    if (!registered_) {
        // This is the worker's thread (the backend was created on the control thread): give it an lcore id so
        // the mempool's per-lcore cache applies. A thread that already has one (an EAL lcore) keeps it.
        if (rte_lcore_id() == LCORE_ID_ANY) (void)rte_thread_register();
        registered_ = true;
    }
    uint64_t const now_ns = mono_ns();
    now_ns_ = now_ns;
    std::size_t handled = 0;
    for (PortState& ps : ports_) {
        if (config_.worker == 0 && ps.port->tx_ring != nullptr) drain_tx_ring(ps);
        if (!ps.has_rx) continue;
        while (handled < budget) {
            std::array<rte_mbuf*, kRxBurst> burst;
            std::size_t const want = budget - handled < kRxBurst ? budget - handled : kRxBurst;
            uint16_t const n = rte_eth_rx_burst(ps.port->port_id, ps.queue, burst.data(), uint16_t(want));
            if (n == 0) break;
            for (uint16_t i = 0; i < n; ++i) {
                if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(burst[i + 1], void*));
                handle_frame(ps, burst[i], h, now_ns);
            }
            // The engine has finished with every payload (spans into these mbufs): free them in bulk.
            rte_pktmbuf_free_bulk(burst.data(), n);
            handled += n;
            idle_waits_ = 0;
            if (n < want) break;
        }
    }
    // Datagrams waiting for a neighbour: sent once another worker learned its MAC (the process-wide table),
    // dropped once they waited unresolved_timeout_ns. Answers this worker receives release them at once.
    if (!parked_.empty() && now_ns >= next_park_scan_ns_) {
        scan_parked(now_ns, true);
        next_park_scan_ns_ = now_ns + kParkScanNs;
    }
    if (config_.port_stats && now_ns - last_port_stats_ns_ >= config_.port_stats_ns) read_port_stats(now_ns);
    return handled;
}

void DpdkBackend::handle_frame(PortState& ps, rte_mbuf* m, RxHandler& h, uint64_t now_ns) noexcept {
    ++own_.rx_packets;
    own_.rx_bytes += rte_pktmbuf_pkt_len(m);
    if (m->nb_segs != 1) {
        ++own_.rx_multi_segment;
        return;
    }
    uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
    std::span<const uint8_t> const frame(data, rte_pktmbuf_data_len(m));
    if (ps.rx_offload) {
        if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
            ++own_.frame_drops[std::size_t(netstack::Drop::kBadIpChecksum)];
            return;
        }
        if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
            ++own_.frame_drops[std::size_t(netstack::Drop::kBadUdpChecksum)];
            return;
        }
    }
    // Verify in software (what the policy asks) unless the port checked both checksums and found them good.
    bool const verified = ps.rx_offload &&
                          (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
                          (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
    netstack::ParsedUdp p;
    netstack::Drop const why =
        netstack::parse_udp(frame, ps.port->local, verified ? netstack::RxVerify::kNone : ps.rx_verify, &p);
    switch (why) {
        case netstack::Drop::kNone:
            ++own_.rx_completions;
            rx_mbuf_ = m;
            rx_payload_ = {data + p.payload_offset, p.payload_len};
            h.on_datagram(p.from, data + p.payload_offset, p.payload_len);
            rx_mbuf_ = nullptr;
            return;
        case netstack::Drop::kArp:
        case netstack::Drop::kIcmpv6:
            handle_control(ps, frame, now_ns);
            return;
        default:
            ++own_.frame_drops[std::size_t(why)];
            return;
    }
}

void DpdkBackend::handle_control(PortState& ps, std::span<const uint8_t> frame, uint64_t now_ns) noexcept {
    std::size_t reply_len = 0;
    netstack::ControlDrop const why =
        netstack::handle_control(frame, ps.port->local, *ps.neighbours, now_ns, reply_, &reply_len);
    if (why == netstack::ControlDrop::kNone && reply_len > 0) {
        ++own_.control_replies;
        send_raw(ps, std::span<const uint8_t>(reply_.data(), reply_len));
        return;
    }
    if (why == netstack::ControlDrop::kNone) {
        ++own_.neighbours_learned;
        if (!parked_.empty()) scan_parked(now_ns, false);   // what waited for this answer leaves now
    } else if (why != netstack::ControlDrop::kUnsolicited) {
        ++own_.control_drops[std::size_t(why)];
        return;
    }
    // An answer: feed the process-wide table too (whichever worker asked learns it on its next miss). A request
    // does not get this far (it was answered, or dropped above).
    std::array<uint8_t, netstack::kControlFrameMax> unused{};
    std::size_t unused_len = 0;
    netstack::ControlDrop shared_why;
    {
        std::lock_guard lock(ps.shared->mutex);
        shared_why = netstack::handle_control(frame, ps.port->local, ps.shared->table, now_ns, unused, &unused_len);
    }
    if (why == netstack::ControlDrop::kUnsolicited && shared_why != netstack::ControlDrop::kNone) {
        ++own_.control_drops[std::size_t(why)];
    }
}

void DpdkBackend::send_raw(PortState& ps, std::span<const uint8_t> frame) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(ps.port->pool);
    if (m == nullptr) {
        ++own_.tx_dropped_full;
        return;
    }
    char* out = rte_pktmbuf_append(m, uint16_t(frame.size()));
    if (out == nullptr) {
        rte_pktmbuf_free(m);
        ++own_.tx_dropped_size;
        return;
    }
    std::memcpy(out, frame.data(), frame.size());
    enqueue(ps, m, 0);
}

void DpdkBackend::solicit(PortState& ps, const netstack::IpAddr& ip, const netstack::MacAddr* unicast) noexcept {
    std::array<uint8_t, netstack::kControlFrameMax> frame{};
    std::size_t const len = netstack::build_solicitation(frame, ps.port->local, ip, unicast);
    if (len == 0) return;
    ++own_.solicitations;
    {
        // The process-wide table must expect the answer too (it applies the same anti-poisoning rule).
        std::lock_guard lock(ps.shared->mutex);
        netstack::MacAddr ignored;
        (void)ps.shared->table.resolve(ip, mono_ns(), &ignored);
    }
    send_raw(ps, std::span<const uint8_t>(frame.data(), len));
}

NextHop DpdkBackend::resolve(PortState& ps, const netstack::IpAddr& ip, uint64_t now_ns,
                             netstack::MacAddr* mac) noexcept {
    using netstack::Resolve;
    Resolve const r = ps.neighbours->resolve(ip, now_ns, mac);
    if (r == Resolve::kFound) return NextHop::kSend;
    if (r == Resolve::kFoundStale) {
        netstack::MacAddr const known = *mac;
        solicit(ps, ip, &known);
        return NextHop::kSend;
    }
    if (r == Resolve::kFull) return NextHop::kDrop;
    if (from_shared(ps, ip, now_ns, mac)) return NextHop::kSend;   // another worker received the answer
    if (r == Resolve::kSolicit) solicit(ps, ip, nullptr);
    return NextHop::kPark;
}

namespace {
bool usable(const netstack::Neighbour* n) noexcept {
    return n != nullptr &&
           (n->state == netstack::NeighbourState::kReachable || n->state == netstack::NeighbourState::kStatic);
}
}  // namespace

// The process-wide table, which every worker's answers feed; a MAC found there is learnt into ours (our entry is
// incomplete and probing, so learn() takes it).
bool DpdkBackend::from_shared(PortState& ps, const netstack::IpAddr& ip, uint64_t now_ns,
                              netstack::MacAddr* mac) noexcept {
    {
        std::lock_guard lock(ps.shared->mutex);
        const netstack::Neighbour* n = ps.shared->table.find(ip);
        if (!usable(n)) return false;
        *mac = n->mac;
    }
    (void)ps.neighbours->learn(ip, *mac, now_ns);
    return true;
}

bool DpdkBackend::known(PortState& ps, const netstack::IpAddr& ip, bool look_shared, uint64_t now_ns,
                        netstack::MacAddr* mac) noexcept {
    if (const netstack::Neighbour* n = ps.neighbours->find(ip); usable(n)) {
        *mac = n->mac;
        return true;
    }
    return look_shared && from_shared(ps, ip, now_ns, mac);
}

std::size_t DpdkBackend::find_hop(uint16_t port, const netstack::IpAddr& ip) const noexcept {
    for (std::size_t h = 0; h < parked_hops_.size(); ++h) {
        if (parked_hops_[h].port == port && parked_hops_[h].ip == ip) return h;
    }
    return parked_hops_.size();
}

// Sends every datagram parked for parked_hops_[hop], in the order they came, and forgets the hop.
void DpdkBackend::release_hop(std::size_t hop, const netstack::MacAddr& mac) noexcept {
    ParkedHop const h = parked_hops_[hop];
    parked_hops_.erase(parked_hops_.begin() + std::ptrdiff_t(hop));
    std::size_t keep = 0;
    for (std::size_t i = 0; i < parked_.size(); ++i) {
        Parked const p = parked_[i];
        if (p.port == h.port && p.ip == h.ip) {
            std::memcpy(rte_pktmbuf_mtod(p.m, uint8_t*), mac.b.data(), mac.b.size());   // destination MAC
            enqueue(ports_[p.port], p.m, p.payload);
            continue;
        }
        parked_[keep++] = p;
    }
    parked_.resize(keep);
}

void DpdkBackend::scan_parked(uint64_t now_ns, bool look_shared) noexcept {
    for (std::size_t hop = 0; hop < parked_hops_.size();) {
        netstack::MacAddr mac;
        if (known(ports_[parked_hops_[hop].port], parked_hops_[hop].ip, look_shared, now_ns, &mac)) {
            release_hop(hop, mac);
        } else {
            ++hop;
        }
    }
    // The oldest first: stop at the first one still within its time.
    std::size_t expired = 0;
    while (expired < parked_.size() && now_ns - parked_[expired].since_ns >= config_.unresolved_timeout_ns) {
        const Parked& p = parked_[expired];
        if (std::size_t const hop = find_hop(p.port, p.ip); hop < parked_hops_.size()) {
            if (--parked_hops_[hop].count == 0) parked_hops_.erase(parked_hops_.begin() + std::ptrdiff_t(hop));
        }
        rte_pktmbuf_free(p.m);
        ++own_.tx_unresolved;
        ++expired;
    }
    if (expired > 0) parked_.erase(parked_.begin(), parked_.begin() + std::ptrdiff_t(expired));
}

// The received mbuf of the frame being handed up, made into the frame that carries `datagram`, when `datagram`
// is that frame's payload, resealed in place (a relayed cell), it has room for our headers in front, and nobody
// else holds it. Only the headers in front of the payload are rewritten: no byte handed up is touched. Its reference count is raised: the burst's bulk free after on_datagram drops the receive side's
// reference, the PMD's the transmit side's. Once per received frame: a second datagram from it is copied.
rte_mbuf* DpdkBackend::take_rx_mbuf(std::span<const uint8_t> datagram, std::size_t hdr) noexcept {
    rte_mbuf* m = rx_mbuf_;
    if (m == nullptr || datagram.data() != rx_payload_.data() || datagram.size() > rx_payload_.size()) return nullptr;
    const auto* buf = static_cast<const uint8_t*>(m->buf_addr);
    if (std::size_t(datagram.data() - buf) < hdr || !RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1) {
        return nullptr;
    }
    rx_mbuf_ = nullptr;
    rte_mbuf_refcnt_update(m, 1);
    m->data_off = uint16_t(datagram.data() - hdr - buf);
    m->data_len = uint16_t(hdr + datagram.size());
    m->pkt_len = m->data_len;
    m->ol_flags = 0;       // the RX flags (checksum status, RSS hash, VLAN) do not describe the frame we send
    m->packet_type = 0;
    m->vlan_tci = 0;
    m->tx_offload = 0;
    return m;
}

PortState* DpdkBackend::route(const Endpoint& to) noexcept {
    PortState* same_family = nullptr;
    for (PortState& ps : ports_) {
        if (ps.port->on_link(to)) return &ps;
        if (same_family == nullptr && ps.port->local.count > 0) {
            for (std::size_t i = 0; i < ps.port->local.count; ++i) {
                if (ps.port->local.addrs[i].family == to.family) same_family = &ps;
            }
        }
    }
    return same_family;
}

void DpdkBackend::transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept {
    std::size_t const len = datagram.size();
    if (len == 0 || len > config_.cell_bytes || len > netstack::kUdpPayloadMax) {
        ++own_.tx_dropped_size;
        return;
    }
    PortState* ps = route(to);
    if (ps == nullptr) {
        ++own_.tx_no_route;
        return;
    }
    const Endpoint* from = nullptr;
    for (std::size_t i = 0; i < ps->port->local.count; ++i) {
        if (ps->port->local.addrs[i].family == to.family) {
            from = &ps->port->local.addrs[i];
            break;
        }
    }
    if (from == nullptr) {
        ++own_.tx_no_route;
        return;
    }
    netstack::MacAddr dst{};   // stays all zero while the datagram waits for it (parked)
    netstack::IpAddr const ip = netstack::IpAddr::of(to);
    // The time of the last poll: neighbour ages are seconds, a clock read per datagram would buy nothing.
    uint64_t const now_ns = now_ns_ != 0 ? now_ns_ : mono_ns();
    NextHop const next = resolve(*ps, ip, now_ns, &dst);
    if (next == NextHop::kDrop) {
        ++own_.tx_unresolved;
        return;
    }
    std::size_t const hop = find_hop(ps->index, ip);   // parked_hops_.size(): nothing waits for this next hop
    bool const waiting = hop < parked_hops_.size();
    if (next == NextHop::kPark) {
        if (parked_.size() >= config_.unresolved_max ||
            (waiting && parked_hops_[hop].count >= config_.unresolved_per_neighbour)) {
            ++own_.tx_unresolved;
            return;
        }
    } else if (waiting) {
        release_hop(hop, dst);   // resolved meanwhile (another worker's answer): what waited goes first, in order
    }
    std::size_t const hdr = netstack::header_bytes(to.family);
    uint8_t* out = nullptr;
    uint32_t payload = uint32_t(len);
    rte_mbuf* m = take_rx_mbuf(datagram, hdr);
    if (m != nullptr) {
        out = rte_pktmbuf_mtod(m, uint8_t*);
        payload |= kZeroCopyBit;
    } else {
        m = rte_pktmbuf_alloc(ps->port->pool);
        if (m == nullptr) {
            ++own_.tx_dropped_full;
            return;
        }
        out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(hdr + len)));
        if (out == nullptr) {
            rte_pktmbuf_free(m);
            ++own_.tx_dropped_size;
            return;
        }
        std::memcpy(out + hdr, datagram.data(), len);
    }
    bool const v4 = to.family == Endpoint::Family::kIpv4;
    netstack::ChecksumMode const mode = v4 ? ps->tx_v4 : ps->tx_v6;
    bool const offload = mode == netstack::ChecksumMode::kOffload;
    netstack::write_udp_headers(std::span<uint8_t>(out, hdr), ps->port->local.mac, dst, *from, to,
                                std::span<const uint8_t>(out + hdr, len), mode);
    if (offload) {
        m->l2_len = netstack::kEthHeaderBytes;
        m->l3_len = v4 ? netstack::kIpv4HeaderBytes : netstack::kIpv6HeaderBytes;
        m->ol_flags |= v4 ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)
                          : (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
    }
    if (next == NextHop::kPark) {
        if (!waiting) parked_hops_.push_back({ip, ps->index, 0});
        ++parked_hops_[hop].count;   // hop == the new entry's index when nothing waited
        parked_.push_back({m, payload, ps->index, ip, now_ns});
        ++own_.tx_queued_unresolved;
        return;
    }
    enqueue(*ps, m, payload);
}

void DpdkBackend::enqueue(PortState& ps, rte_mbuf* m, uint32_t payload) noexcept {
    ps.tx.push_back(m);   // capacity tx_batch, reserved at init; flushed before it overflows
    ps.tx_payload.push_back(payload);
    ++queued_;
    if (ps.tx.size() >= config_.tx_batch) flush_port(ps);
}

void DpdkBackend::flush_port(PortState& ps) noexcept {
    std::size_t const n = ps.tx.size();
    if (n == 0) return;
    std::size_t sent = 0;
    if (ps.has_tx) {
        for (int round = 0; round < kTxRetries && sent < n; ++round) {
            sent += rte_eth_tx_burst(ps.port->port_id, ps.queue, ps.tx.data() + sent, uint16_t(n - sent));
        }
    } else {
        // No TX queue of our own on this port: worker 0 sends for us.
        sent = rte_ring_mp_enqueue_burst(ps.port->tx_ring, reinterpret_cast<void* const*>(ps.tx.data()),
                                         unsigned(n), nullptr);
    }
    ++own_.tx_submits;
    for (std::size_t i = 0; i < sent; ++i) {
        if (ps.tx_payload[i] == 0) continue;   // a control frame (ARP, ND): not a datagram
        ++own_.tx_packets;
        own_.tx_bytes += ps.tx_payload[i] & ~kZeroCopyBit;
        if ((ps.tx_payload[i] & kZeroCopyBit) != 0) ++own_.tx_zero_copy;
    }
    if (sent < n) {
        for (std::size_t i = sent; i < n; ++i) {
            if (ps.tx_payload[i] != 0) ++own_.tx_dropped_full;
        }
        rte_pktmbuf_free_bulk(ps.tx.data() + sent, unsigned(n - sent));
    }
    queued_ -= n;
    ps.tx.clear();
    ps.tx_payload.clear();
}

void DpdkBackend::drain_tx_ring(PortState& ps) noexcept {
    std::array<rte_mbuf*, kRxBurst> frames;
    for (int round = 0; round < 8; ++round) {
        unsigned const n = rte_ring_sc_dequeue_burst(ps.port->tx_ring, reinterpret_cast<void**>(frames.data()),
                                                     unsigned(frames.size()), nullptr);
        if (n == 0) return;
        unsigned sent = 0;
        for (int r = 0; r < kTxRetries && sent < n; ++r) {
            sent += rte_eth_tx_burst(ps.port->port_id, ps.queue, frames.data() + sent, uint16_t(n - sent));
        }
        if (sent < n) {
            own_.tx_errors += n - sent;
            rte_pktmbuf_free_bulk(frames.data() + sent, n - sent);
        }
        if (n < frames.size()) return;
    }
}

void DpdkBackend::flush() noexcept {
    for (PortState& ps : ports_) {
        if (!ps.tx.empty()) flush_port(ps);
        if (config_.worker == 0 && ps.port->tx_ring != nullptr) drain_tx_ring(ps);
    }
}

void DpdkBackend::wait(uint64_t timeout_ns) noexcept {
    if (queued_ > 0) flush();
    // Back off while idle: idle_sleep_ns, doubling with each consecutive idle wait up to 16x (and never beyond the
    // reactor's timeout, i.e. sleep_max or the next timer). Any received frame resets it (poll()).
    uint64_t const cap = config_.idle_sleep_ns << (idle_waits_ < 4 ? idle_waits_ : 4);
    if (idle_waits_ < 64) ++idle_waits_;
    if (timeout_ns > cap) timeout_ns = cap;
    timespec ts{};
    ts.tv_sec = time_t(timeout_ns / 1'000'000'000u);
    ts.tv_nsec = long(timeout_ns % 1'000'000'000u);
    if (config_.wake_fd >= 0) {
        pollfd fd{config_.wake_fd, POLLIN, 0};
        (void)ppoll(&fd, 1, &ts, nullptr);
    } else {
        (void)nanosleep(&ts, nullptr);
    }
}

}  // namespace

std::unique_ptr<Backend> make_dpdk_backend(const DpdkBackendConfig& config, std::string* error) {
    auto b = std::make_unique<DpdkBackend>(config);
    if (!b->init(error)) return nullptr;
    return b;
}

}  // namespace voxa::io
