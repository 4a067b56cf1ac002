// voxa-memory-probe: how much memory one relay needs per circuit, and how much a destination needs when its
// reassembly table is full (issue 3, "Memory"). Prints one JSON object.
//
// Both measurements run real protocol engines (node::Node) in this process over a small in-memory network driven
// here rather than by sim::SimNetwork, because isolating one node's memory needs the others gone: once the
// measured node is in the wanted state, every other node is destroyed, the heap is trimmed (malloc_trim), and
// what remains above the baseline taken just before the measured node was created is that node's. Two figures
// for each: the resident set (/proc/self/statm; an upper bound, since pages the measured node shares with freed
// neighbours' allocations stay resident) and the heap bytes in use (mallinfo2; exact for malloc, which libsodium,
// OpenSSL and operator new all use).
//
//   (a) relay: `origins` origin nodes each send one small message to each of `destinations` destinations over
//       1-hop circuits through the one relay, n circuits per (origin, destination): 40 x 50 x 5 = 10,000 relayed
//       circuits with the defaults.
//   (b) destination: an origin sends messages over 5 relay-disjoint 1-hop circuits; after a warm-up the network
//       drops what 3 of the 5 relays forward to the destination, so every message arrives as 2 fully delivered
//       parts of the k = 3 it needs and never completes. Messages are sent until the reassembly byte bound
//       (ReassemblyConfig::bytes_max) is full: the worst case, every buffered byte written.
#include <malloc.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "link/endpoint.h"
#include "node/node.h"

namespace {

using namespace voxa;

struct Memory {
    uint64_t rss_bytes = 0;
    uint64_t heap_bytes = 0;
};

// Frees what can be freed first, so the figures are what is live.
Memory measure() {
    malloc_trim(0);
    Memory m;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        unsigned long long size = 0, resident = 0;
        if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) m.rss_bytes = resident * uint64_t(sysconf(_SC_PAGESIZE));
        std::fclose(f);
    }
    struct mallinfo2 const mi = mallinfo2();
    m.heap_bytes = mi.uordblks + mi.hblkhd;
    return m;
}

double mib(int64_t bytes) { return double(bytes) / double(1u << 20); }

// A minimal in-memory network: every datagram takes `delay_ns`, in order; node timers tick every millisecond.
class Net {
public:
    Net() = default;
    Net(const Net&) = delete;
    Net& operator=(const Net&) = delete;

    std::size_t add(const node::NodeConfig& config) {
        auto const index = uint32_t(hosts_.size());
        uint8_t seed[32];
        crypto::hash(seed, "voxa.memprobe", {crypto::Bytes(reinterpret_cast<const uint8_t*>(&index), 4)});
        auto h = std::make_unique<Host>(crypto::Identity::from_seed(seed), Sink(*this, index));
        h->node = std::make_unique<node::Node>(h->identity, config, clock_, wall_, h->sink);
        hosts_.push_back(std::move(h));
        return index;
    }
    node::Node& node(std::size_t i) { return *hosts_[i]->node; }
    const crypto::Identity& identity(std::size_t i) const { return hosts_[i]->identity; }
    // `who` learns `whom` (its key, address, capacity, whether it relays).
    void introduce(std::size_t who, std::size_t whom, bool is_relay) {
        node(who).add_known_node(identity(whom).peer(), Endpoint::sim(uint32_t(whom)), 1, is_relay);
    }
    // Destroys every node but `survivor`, and everything in flight; the network then drops all it is given.
    void keep_only(std::size_t survivor) {
        for (std::size_t i = 0; i < hosts_.size(); ++i) {
            if (i != survivor) hosts_[i]->node.reset();
        }
        std::deque<Datagram>().swap(queue_);
        drop_ = [](uint32_t, uint32_t) { return true; };
    }
    void set_filter(std::function<bool(uint32_t from, uint32_t to)> drop) { drop_ = std::move(drop); }

    bool run_until(const std::function<bool()>& done, uint64_t limit_ns) {
        uint64_t const end_ns = clock_.now_ns() + limit_ns;
        while (!done()) {
            if (clock_.now_ns() >= end_ns) return false;
            uint64_t const next_tick_ns = clock_.now_ns() + kTickNs;
            while (!queue_.empty() && queue_.front().at_ns <= next_tick_ns) {
                Datagram d = std::move(queue_.front());
                queue_.pop_front();
                clock_.set_ns(d.at_ns);
                if (hosts_[d.to]->node) hosts_[d.to]->node->on_datagram(Endpoint::sim(d.from), d.bytes.data(), d.bytes.size());
            }
            clock_.set_ns(next_tick_ns);
            for (auto& h : hosts_) {
                if (h->node) h->node->tick();
            }
        }
        return true;
    }
    uint64_t now_ns() const noexcept { return clock_.now_ns(); }

private:
    static constexpr uint64_t kTickNs = kNsPerMs;
    static constexpr uint64_t kDelayNs = 50'000;

    struct Datagram {
        uint64_t at_ns;
        uint32_t from, to;
        std::vector<uint8_t> bytes;
    };
    class Sink final : public link::TxSink {
    public:
        Sink(Net& net, uint32_t index) : net_(net), index_(index) {}
        void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept override {
            net_.transmit(index_, to.sim_index(), datagram);
        }

    private:
        Net& net_;
        uint32_t index_;
    };
    struct Host {
        Host(crypto::Identity i, Sink s) : identity(std::move(i)), sink(s) {}
        crypto::Identity identity;
        Sink sink;
        std::unique_ptr<node::Node> node;
    };
    class Wall final : public WallClock {
    public:
        explicit Wall(const Clock& c) : clock_(c) {}
        uint64_t unix_ns() const noexcept override { return 1'700'000'000ull * kNsPerS + clock_.now_ns(); }

    private:
        const Clock& clock_;
    };

    void transmit(uint32_t from, uint32_t to, std::span<const uint8_t> bytes) {
        if (to >= hosts_.size() || (drop_ && drop_(from, to))) return;
        queue_.push_back(Datagram{clock_.now_ns() + kDelayNs, from, to, std::vector<uint8_t>(bytes.begin(), bytes.end())});
    }

    ManualClock clock_;
    Wall wall_{clock_};
    std::vector<std::unique_ptr<Host>> hosts_;
    std::deque<Datagram> queue_;   // arrival times are non-decreasing: one constant delay
    std::function<bool(uint32_t, uint32_t)> drop_;
};

struct Options {
    std::size_t origins = 40, destinations = 50;
    std::size_t reassembly_bytes = reassembly::ReassemblyConfig{}.bytes_max;
    std::size_t message_bytes = 8u << 20;
    bool relay = true, destination = true;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "voxa-memory-probe: %s\n"
                 "usage: voxa-memory-probe [--origins N] [--destinations N] [--reassembly-mib N] [--message-mib N]\n"
                 "                         [--relay-only | --destination-only]\n"
                 "  relay circuits = origins x destinations x 5 (default 40 x 50 x 5 = 10,000)\n",
                 why);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view const arg = argv[i];
        if (arg == "--relay-only") {
            o.destination = false;
            continue;
        }
        if (arg == "--destination-only") {
            o.relay = false;
            continue;
        }
        if (i + 1 >= argc) usage("missing value");
        char* end = nullptr;
        unsigned long long const v = std::strtoull(argv[++i], &end, 10);
        if (end == argv[i] || *end != '\0' || v == 0) usage("bad number");
        if (arg == "--origins") o.origins = v;
        else if (arg == "--destinations") o.destinations = v;
        else if (arg == "--reassembly-mib") o.reassembly_bytes = std::size_t(v) << 20;
        else if (arg == "--message-mib") o.message_bytes = std::size_t(v) << 20;
        else usage("unknown option");
    }
    return o;
}

node::NodeConfig base_config() {
    node::NodeConfig c;
    c.hops = 1;
    c.n = 5;
    c.k = 3;
    return c;
}

// (a) One relay carrying origins x destinations x n circuits.
std::string probe_relay(const Options& opt) {
    Net net;
    Memory const m0 = measure();
    node::NodeConfig relay_config = base_config();
    std::size_t const circuits_wanted = opt.origins * opt.destinations * relay_config.n;
    relay_config.circuits_max = std::max<std::size_t>(circuits_wanted + circuits_wanted / 4, 8192);
    std::size_t const relay = net.add(relay_config);
    Memory const m1 = measure();

    node::NodeConfig origin_config = base_config();
    origin_config.parts_per_relay_max = origin_config.n;   // one relay carries every part: this is a memory probe
    std::vector<std::size_t> destinations, origins;
    for (std::size_t i = 0; i < opt.destinations; ++i) destinations.push_back(net.add(base_config()));
    for (std::size_t i = 0; i < opt.origins; ++i) origins.push_back(net.add(origin_config));
    for (std::size_t d : destinations) net.introduce(relay, d, false);
    for (std::size_t o : origins) {
        net.introduce(o, relay, true);
        for (std::size_t d : destinations) net.introduce(o, d, false);
    }

    std::vector<uint8_t> message(1024);
    randombytes_buf(message.data(), message.size());
    std::size_t sent = 0;
    for (std::size_t o : origins) {
        for (std::size_t d : destinations) {
            std::string error;
            if (net.node(o).send(net.node(d).id(), message, &error)) ++sent;
            else std::fprintf(stderr, "voxa-memory-probe: send failed: %s\n", error.c_str());
        }
    }
    auto delivered = [&] {
        uint64_t n = 0;
        for (std::size_t d : destinations) n += net.node(d).stats().messages_received;
        return n;
    };
    uint64_t const start_ns = net.now_ns();
    net.run_until([&] { return net.node(relay).relay_circuits() >= circuits_wanted && delivered() >= sent; },
                  60 * kNsPerS);
    uint64_t const sim_ns = net.now_ns() - start_ns;
    std::size_t const circuits = net.node(relay).relay_circuits();
    uint64_t const relayed = net.node(relay).stats().cells_relayed_forward + net.node(relay).stats().cells_relayed_backward;
    uint64_t const got = delivered();

    net.keep_only(relay);
    Memory const m2 = measure();

    auto const rss_growth = int64_t(m2.rss_bytes) - int64_t(m1.rss_bytes);
    auto const heap_growth = int64_t(m2.heap_bytes) - int64_t(m1.heap_bytes);
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "{\"circuits\":%zu,\"circuits_max\":%zu,\"link_peers\":%zu,\"messages_sent\":%zu,"
                  "\"messages_delivered\":%llu,\"cells_relayed\":%llu,\"sim_s\":%.3f,"
                  "\"idle_rss_mib\":%.2f,\"idle_heap_mib\":%.2f,"
                  "\"rss_growth_mib\":%.2f,\"heap_growth_mib\":%.2f,"
                  "\"rss_total_mib\":%.2f,\"heap_total_mib\":%.2f,"
                  "\"rss_bytes_per_circuit\":%.0f,\"heap_bytes_per_circuit\":%.0f}",
                  circuits, relay_config.circuits_max, opt.origins + opt.destinations, sent,
                  (unsigned long long)got, (unsigned long long)relayed, double(sim_ns) / 1e9,
                  mib(int64_t(m1.rss_bytes) - int64_t(m0.rss_bytes)), mib(int64_t(m1.heap_bytes) - int64_t(m0.heap_bytes)),
                  mib(rss_growth), mib(heap_growth), mib(int64_t(m2.rss_bytes) - int64_t(m0.rss_bytes)),
                  mib(int64_t(m2.heap_bytes) - int64_t(m0.heap_bytes)),
                  circuits ? double(rss_growth) / double(circuits) : 0.0,
                  circuits ? double(heap_growth) / double(circuits) : 0.0);
    return buf;
}

// (b) A destination whose reassembly table is full of partially delivered messages.
std::string probe_destination(const Options& opt) {
    Net net;
    node::NodeConfig const config = base_config();
    Memory const m0 = measure();
    node::NodeConfig dest_config = config;
    dest_config.reassembly.bytes_max = opt.reassembly_bytes;
    dest_config.reassembly.bytes_per_source_max = opt.reassembly_bytes;   // only the total bound binds
    dest_config.reassembly.age_ns = 600 * kNsPerS;   // filling takes simulated time; no message may age out
    std::size_t const dest = net.add(dest_config);
    Memory const m1 = measure();
    std::size_t const origin = net.add(config);
    std::vector<std::size_t> relays;
    for (std::size_t i = 0; i < config.n; ++i) relays.push_back(net.add(config));
    for (std::size_t r : relays) {
        net.introduce(origin, r, true);
        net.introduce(r, dest, false);
    }
    net.introduce(origin, dest, false);

    // Warm-up: circuits and link sessions up, one message delivered.
    std::vector<uint8_t> small(1000, 7);
    std::string error;
    node::Received got;
    if (!net.node(origin).send(net.node(dest).id(), small, &error) ||
        !net.run_until([&] { return net.node(dest).pop_received(&got); }, 10 * kNsPerS)) {
        return "{\"error\":\"warm-up message not delivered: " + error + "\"}";
    }
    // From now on, what relays 0..k-1 forward to the destination is lost: each message delivers n - k = 2 parts.
    std::vector<uint32_t> cut;
    for (std::size_t i = 0; i < config.k; ++i) cut.push_back(uint32_t(relays[i]));
    uint32_t const dest_index = uint32_t(dest);
    net.set_filter([cut, dest_index](uint32_t from, uint32_t to) {
        return to == dest_index && std::find(cut.begin(), cut.end(), from) != cut.end();
    });

    std::vector<uint8_t> message(opt.message_bytes);
    randombytes_buf(message.data(), message.size());
    auto const& rs = net.node(dest).reassembly_stats();
    std::size_t const per_message = 2 * ((opt.message_bytes + config.k - 1) / config.k);   // about; part bytes
    std::size_t sent = 0;
    uint64_t const start_ns = net.now_ns();
    while (rs.bytes_in_flight + per_message <= opt.reassembly_bytes && rs.evicted_pressure == 0 &&
           rs.messages_in_flight < dest_config.reassembly.messages_max) {
        if (!net.node(origin).send(net.node(dest).id(), message, &error)) {
            std::fprintf(stderr, "voxa-memory-probe: send failed: %s\n", error.c_str());
            break;
        }
        ++sent;
        // Until this message's two reachable parts are fully buffered: no cell reaches the destination for 20 ms.
        // (A part's buffer is charged in full at its first fragment; waiting for the rest makes every byte
        // written, the worst case for the resident set.)
        uint64_t const limit_ns = net.now_ns() + 10 * kNsPerS;
        uint64_t cells = ~0ull;
        while (net.node(dest).stats().cells_ended != cells && net.now_ns() < limit_ns) {
            cells = net.node(dest).stats().cells_ended;
            net.run_until([] { return false; }, 20 * kNsPerMs);
        }
    }
    uint64_t const sim_ns = net.now_ns() - start_ns;
    uint64_t const in_flight = rs.bytes_in_flight;
    uint64_t const messages = rs.messages_in_flight;
    uint64_t const completed = rs.completed - 1;   // not counting the warm-up
    uint64_t const evicted = rs.evicted_pressure + rs.evicted_age;

    net.keep_only(dest);
    Memory const m2 = measure();

    auto const rss_total = int64_t(m2.rss_bytes) - int64_t(m0.rss_bytes);
    auto const heap_total = int64_t(m2.heap_bytes) - int64_t(m0.heap_bytes);
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "{\"bytes_max_mib\":%.1f,\"message_mib\":%.1f,\"messages_sent\":%zu,\"messages_in_flight\":%llu,"
                  "\"messages_completed\":%llu,\"evicted\":%llu,\"bytes_in_flight_mib\":%.2f,\"sim_s\":%.3f,"
                  "\"idle_rss_mib\":%.2f,\"idle_heap_mib\":%.2f,\"rss_total_mib\":%.2f,\"heap_total_mib\":%.2f,"
                  "\"rss_over_bytes_in_flight\":%.3f}",
                  mib(int64_t(opt.reassembly_bytes)), mib(int64_t(opt.message_bytes)), sent,
                  (unsigned long long)messages, (unsigned long long)completed, (unsigned long long)evicted,
                  mib(int64_t(in_flight)), double(sim_ns) / 1e9, mib(int64_t(m1.rss_bytes) - int64_t(m0.rss_bytes)),
                  mib(int64_t(m1.heap_bytes) - int64_t(m0.heap_bytes)), mib(rss_total), mib(heap_total),
                  in_flight ? double(rss_total) / double(in_flight) : 0.0);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    Options const opt = parse(argc, argv);
    if (!crypto::init()) {
        std::fprintf(stderr, "voxa-memory-probe: libsodium failed to initialise\n");
        return 1;
    }
    std::string out = "{";
    if (opt.relay) out += "\"relay\":" + probe_relay(opt);
    if (opt.destination) out += std::string(opt.relay ? "," : "") + "\"destination\":" + probe_destination(opt);
    out += "}";
    std::printf("%s\n", out.c_str());
    return 0;
}
