// voxa-blast: a load that saturates ONE relay worker, for the single-relay benchmark (bench/dpdk/run.sh).
//
//   voxa-blast --mode memif|af_packet|uring [--build DIR] [--dir D] [--runs R] [--seconds S] [--cells N]
//              [--relay-core C] [--gen-core C] [--relay-idle-spins N] [--nice N] [--json FILE]
//              kernel modes: [--netns NS] [--host-ip A] [--relay-ip A] [--host-iface IF] [--relay-iface IF]
//
// The relay is the real, unmodified voxa-dataplane process (started here, pinned to --relay-core, default 1,
// with hops 1, n = k = 1). The origin and the destination are two real engines (voxa::node::Node) inside this
// process, on --gen-core (default 0), both at nice --nice (default -20, and the session's autogroup too: the
// machine is shared), joined to the relay by a Wire (blast_wire.h): two net_memif servers (mode memif) or two
// UDP sockets on the host end of a veth whose other end is in --netns (modes af_packet and uring;
// bench/dpdk/blast-net.sh). Per run:
//   1. a fresh origin engine does the link handshake with the relay and builds a 1-hop circuit to the
//   destination
//      by delivering a small message end to end (the destination engine answers as a real endpoint);
//   2. the origin then sends 32 MiB messages until --cells forward cells (default 1.5 M, ~2 GB) were
//   produced;
//      they are captured instead of sent: real link-sealed cells with increasing counters, kept in one pool
//      with their Ethernet/IP/UDP headers (memif) ready;
//   3. the pool is transmitted as fast as the port takes it (memif: rte_eth_tx_burst, with back-pressure;
//   kernel:
//      sendmmsg, no back-pressure: what the relay cannot take is dropped at its RX: io_uring counts it as
//      rx_no_buffer, af_packet's packet ring drops it uncounted) for at most --seconds, while the destination
//      side only counts arrivals; the relay's STATS (cells relayed, backend counters), its process CPU time
//      and its threads' CPU and run-queue wait (/proc/PID/task) are read just before and just after.
// cells/s = relayed cells / window, CPU ns per cell = relay CPU / relayed cells, Gbit/s = cells/s * 1280 * 8.
// relay_worker_busy + relay_worker_preempted (CPU and run-queue wait of its busiest thread / window) near 1
// says the worker never idled: it was saturated. A run fails unless the destination got >= 90 % of the
// relayed cells. The origin engine is dropped after each run (its unacknowledged messages with it). Medians
// over the runs. Needs root (EAL, netns). Writes the relay's config and data under D (default
// /tmp/vxb-blast).
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "blast_wire.h"
#include "client_adapter.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "io/udp_socket.h"
#include "node/node.h"

namespace voxa::bench {
namespace {

constexpr std::size_t kCellBytes = 1280;
constexpr std::size_t kMessageBytes = 32u << 20;
constexpr uint16_t kRelayPort = 9000;

// Where the origin's and the destination's engines send: the wire, or (origin, while capturing) the pool.
class Pool {
  public:
    Pool(std::size_t cells, std::size_t header_bytes)
        : header_(header_bytes),
          stride_((header_bytes + kCellBytes + 63) / 64 * 64),
          cells_(cells),
          bytes_(new uint8_t[cells * stride_]) {}
    uint8_t* frame(std::size_t i) { return bytes_.get() + i * stride_; }
    const uint8_t* data() const { return bytes_.get(); }
    std::size_t stride() const { return stride_; }
    std::size_t header() const { return header_; }
    std::size_t capacity() const { return cells_; }
    std::size_t count = 0;

  private:
    std::size_t header_, stride_, cells_;
    std::unique_ptr<uint8_t[]> bytes_;
};

class Sink final : public link::TxSink {
  public:
    Sink(Wire& wire, Side side) : wire_(wire), side_(side) {}
    void transmit(const Endpoint& to, std::span<const uint8_t> d) noexcept override {
        if (pool_ != nullptr && to == wire_.relay(side_) && d.size() == kCellBytes) {
            if (pool_->count < pool_->capacity()) {
                uint8_t* f = pool_->frame(pool_->count++);
                std::memcpy(f + pool_->header(), d.data(), d.size());
                wire_.write_headers(f, {f + pool_->header(), d.size()});
            }
            return;
        }
        wire_.send(side_, to, d);
    }
    Pool* pool_ = nullptr;  // non-null: capture the origin's cells to the relay

  private:
    Wire& wire_;
    Side side_;
};

struct RelayStats {
    double cells = 0;
    nlohmann::json flat = nlohmann::json::object();  // numeric leaves of "node" and "backend", dotted names
};

void flatten(const nlohmann::json& j, const std::string& prefix, nlohmann::json& out) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_object()) {
            flatten(*it, prefix + it.key() + ".", out);
        } else if (it->is_number()) {
            out[prefix + it.key()] = it->get<double>();
        }
    }
}

std::optional<RelayStats> read_relay(const std::string& socket, std::string& error) {
    auto const doc = node_stats(socket, error);
    if (!doc)
        return std::nullopt;
    RelayStats s;
    s.cells = cells_relayed(*doc);
    flatten((*doc)["node"], "node.", s.flat);
    if (doc->contains("backend") && (*doc)["backend"].is_object())
        flatten((*doc)["backend"], "backend.", s.flat);
    return s;
}

// Non-zero differences of two flattened stats (xstats included: af_packet reports its ring drops there).
nlohmann::json delta(const RelayStats& a, const RelayStats& b) {
    nlohmann::json d = nlohmann::json::object();
    for (auto it = b.flat.begin(); it != b.flat.end(); ++it) {
        const double v = it->get<double>() - a.flat.value(it.key(), 0.0);
        if (v != 0)
            d[it.key()] = v;
    }
    return d;
}

// utime + stime (ns) of every thread of `pid` by thread id, from /proc/PID/task/TID/stat.
std::map<int, double> thread_cpu_ns(pid_t pid) {
    std::map<int, double> out;
    std::error_code ec;
    for (auto const& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        if (auto const ns = stat_cpu_ns(e.path() / "stat"))
            out[std::atoi(e.path().filename().c_str())] = double(*ns);
    }
    return out;
}

// CPU time of the calling thread (the generator), ns.
uint64_t self_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// Run-queue wait (runnable, not running: preempted) of every thread, ns, from /proc/PID/task/TID/schedstat.
std::map<int, double> thread_wait_ns(pid_t pid) {
    std::map<int, double> out;
    std::error_code ec;
    for (auto const& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(e.path() / "schedstat");
        double run = 0, wait = 0;
        if (in >> run >> wait)
            out[std::atoi(e.path().filename().c_str())] = wait;
    }
    return out;
}

// The relay's busiest thread over the window (its worker): its thread id and CPU ns.
std::pair<int, double> busiest_thread(const std::map<int, double>& a, const std::map<int, double>& b) {
    std::pair<int, double> best{0, 0.0};
    for (auto const& [tid, ns] : b) {
        auto const it = a.find(tid);
        const double d = ns - (it == a.end() ? 0 : it->second);
        if (d > best.second)
            best = {tid, d};
    }
    return best;
}

bool write_json(const std::string& path, const nlohmann::json& j) {
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    return bool(out);
}

std::string ip_of(const Endpoint& e) {
    std::string s = e.to_string();
    return s.substr(0, s.rfind(':'));
}

std::optional<Endpoint> endpoint(const std::string& ip, uint16_t port) {
    Endpoint e;
    if (!io::parse_endpoint(ip + ":" + std::to_string(port), &e))
        return std::nullopt;
    return e;
}

// Sets the nice value of this process's autogroup; the destructor restores the previous one. No-op without
// autogroups.
class AutogroupNice {
  public:
    explicit AutogroupNice(int nice) {
        std::ifstream in("/proc/self/autogroup");
        std::string line;
        if (!std::getline(in, line))
            return;
        auto const at = line.find(" nice ");
        if (at == std::string::npos)
            return;
        old_ = std::atoi(line.c_str() + at + 6);
        ok_ = set(nice);
    }
    ~AutogroupNice() {
        if (ok_)
            (void)set(old_);
    }
    AutogroupNice(const AutogroupNice&) = delete;
    AutogroupNice& operator=(const AutogroupNice&) = delete;

  private:
    static bool set(int nice) {
        std::ofstream out("/proc/self/autogroup");
        out << nice << "\n";
        return bool(out.flush());
    }
    int old_ = 0;
    bool ok_ = false;
};

struct Options {
    std::string mode, build, dir, netns, host_iface, relay_iface, json;
    std::string host_ip = "10.250.2.1", relay_ip = "10.250.2.2";
    int runs = 5, relay_core = 1, gen_core = 0, idle_spins = 200, nice = -20;
    double seconds = 2;
    std::size_t cells = 1'500'000;
};

// The relay's p2p.json and dataplane.json for the mode.
bool write_relay_config(const Options& o, Wire& wire, const crypto::PeerIdentity& dest, std::string& error) {
    const std::string cfg = o.dir + "/relay/config";
    const Endpoint dest_ep = wire.local(Side::kDestination);
    nlohmann::json p2p = {{"host", "0.0.0.0"},
                          {"port", kRelayPort},
                          {"advertise_host", ip_of(wire.relay(Side::kOrigin))},
                          {"bootstrap_nodes",
                           {{{"id", to_hex(dest.id)},
                             {"public_key", to_hex(dest.ed25519)},
                             {"host", ip_of(dest_ep)},
                             {"port", dest_ep.port}}}},
                          {"relay", true},
                          {"capacity", 100},
                          {"hops", 1},
                          {"n", 1},
                          {"k", 1},
                          {"parts_per_relay_max", 1},
                          {"cell_bytes", kCellBytes},
                          {"max_message_bytes", 67108864},
                          {"gossip_interval_s", 30}};
    nlohmann::json dp = {{"cores", {o.relay_core}}, {"pin", true}, {"idle_spins", o.idle_spins}};
    if (o.mode == "uring") {
        dp["backend"] = "io_uring";
    } else {
        dp["backend"] = "dpdk";
        nlohmann::json ports = nlohmann::json::array();
        if (o.mode == "memif") {
            const char* socks[2] = {"a.sock", "b.sock"};
            const char* macs[2] = {"02:76:6d:00:02:10", "02:76:6d:00:02:11"};
            const char* peers[2] = {"02:76:6d:00:02:01", "02:76:6d:00:02:02"};
            for (int i = 0; i < 2; ++i) {
                const Side s = Side(i);
                ports.push_back({{"device", "net_memif" + std::to_string(i) + ",role=client,socket=" + o.dir +
                                                "/" + socks[i] + ",id=0,bsize=2048,rsize=11"},
                                 {"ipv4", ip_of(wire.relay(s)) + "/24"},
                                 {"mac", macs[i]},
                                 {"neighbours", {{{"ip", ip_of(wire.local(s))}, {"mac", peers[i]}}}}});
            }
        } else {
            std::ifstream in("/sys/class/net/" + o.host_iface + "/address");
            std::string host_mac;
            if (!(in >> host_mac)) {
                error = "cannot read the MAC of " + o.host_iface;
                return false;
            }
            ports.push_back({{"device", "net_af_packet0,iface=" + o.relay_iface + ",framecnt=4096"},
                             {"ipv4", o.relay_ip + "/24"},
                             {"mac", "02:76:6d:00:02:20"},
                             {"neighbours", {{{"ip", o.host_ip}, {"mac", host_mac}}}}});
        }
        dp["dpdk"] = {
            {"no_huge", true}, {"in_memory", true}, {"hugepages", 512},           {"mempool_mbufs", 16383},
            {"rx_desc", 1024}, {"tx_desc", 1024},   {"file_prefix", "vxb-relay"}, {"ports", ports}};
    }
    if (!write_json(cfg + "/p2p.json", p2p) || !write_json(cfg + "/dataplane.json", dp) ||
        !write_json(cfg + "/settings.json", {{"log-level", "info"}})) {
        error = "writing " + cfg + " failed";
        return false;
    }
    return true;
}

std::optional<crypto::PeerIdentity> relay_identity(const Options& o, const std::string& daemon,
                                                   std::string& error) {
    Child c;
    if (!c.start({daemon, "--show-identity", "--data", o.dir + "/relay/data"}, "", error))
        return std::nullopt;
    std::string out;
    if (c.finish(out, 10000) != 0) {
        error = "voxa-dataplane --show-identity failed";
        return std::nullopt;
    }
    auto const doc = nlohmann::json::parse(out, nullptr, false);
    // A public key is 32 bytes of hex like a node id.
    auto const key = doc.is_object() ? parse_node_id(doc.value("public_key", "")) : std::nullopt;
    if (!key) {
        error = "--show-identity printed no public key: " + out;
        return std::nullopt;
    }
    auto peer = crypto::PeerIdentity::from_ed25519(*key);
    if (!peer)
        error = "the relay's public key is not usable";
    return peer;
}

int run(const Options& o) {
    std::string error;
    // On a shared machine other processes run on both cores: a high priority (inherited by the relay and
    // EAL's threads) keeps the measurement about the relay, not about the scheduler. Not a real-time class: a
    // spinning relay must not lock others out of its core. With sched_autogroup (Debian's default) nice only
    // ranks threads inside one session's group, so the group's own nice (/proc/self/autogroup: this process,
    // the relay it starts, and the shell that started it) is raised too for the duration, and put back
    // afterwards.
    if (::setpriority(PRIO_PROCESS, 0, o.nice) != 0)
        std::perror("voxa-blast: setpriority");
    AutogroupNice boost(o.nice);
    if (!crypto::init()) {
        std::fprintf(stderr, "voxa-blast: libsodium failed to start\n");
        return 1;
    }
    const std::string daemon = o.build + "/dataplane/daemon/voxa-dataplane";
    std::error_code ec;
    std::filesystem::create_directories(o.dir + "/relay/config", ec);
    std::filesystem::create_directories(o.dir + "/relay/data", ec);
    // The relay's identity (a secret key) lives there.
    std::filesystem::permissions(o.dir + "/relay/data", std::filesystem::perms::owner_all, ec);
    auto relay_peer = relay_identity(o, daemon, error);
    if (!relay_peer) {
        std::fprintf(stderr, "voxa-blast: %s\n", error.c_str());
        return 1;
    }

    std::unique_ptr<Wire> wire;
    if (o.mode == "memif") {
        std::filesystem::remove(o.dir + "/a.sock", ec);
        std::filesystem::remove(o.dir + "/b.sock", ec);
        MemifWireOptions m;
        m.dir = o.dir;
        m.core = o.gen_core;
        m.origin = *endpoint("10.201.1.1", kRelayPort);
        m.destination = *endpoint("10.201.2.1", kRelayPort);
        m.relay_a = *endpoint("10.201.1.2", kRelayPort);
        m.relay_b = *endpoint("10.201.2.2", kRelayPort);
        m.origin_mac = "02:76:6d:00:02:01";
        m.destination_mac = "02:76:6d:00:02:02";
        m.relay_a_mac = "02:76:6d:00:02:10";
        m.relay_b_mac = "02:76:6d:00:02:11";
        wire = make_memif_wire(m, error);
    } else {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.gen_core, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            std::perror("voxa-blast: sched_setaffinity");
        KernelWireOptions k;
        auto a = endpoint(o.host_ip, 9001), b = endpoint(o.host_ip, 9002),
             r = endpoint(o.relay_ip, kRelayPort);
        if (!a || !b || !r) {
            std::fprintf(stderr, "voxa-blast: bad --host-ip or --relay-ip\n");
            return 2;
        }
        k.origin = *a;
        k.destination = *b;
        k.relay = *r;
        wire = make_kernel_wire(k, error);
    }
    if (!wire) {
        std::fprintf(stderr, "voxa-blast: %s\n", error.c_str());
        return 1;
    }

    const crypto::Identity dest_id = crypto::Identity::generate();
    const crypto::Identity origin_id = crypto::Identity::generate();
    if (!write_relay_config(o, *wire, dest_id.peer(), error)) {
        std::fprintf(stderr, "voxa-blast: %s\n", error.c_str());
        return 1;
    }
    Child relay;
    const std::string log = o.dir + "/relay/log";
    const std::string cmd = "exec '" + daemon + "' --config '" + o.dir + "/relay/config' --data '" + o.dir +
                            "/relay/data' </dev/null >/dev/null 2>'" + log + "'";
    if (!relay.start({"/bin/sh", "-c", cmd}, o.mode == "memif" ? "" : o.netns, error)) {
        std::fprintf(stderr, "voxa-blast: starting the relay: %s\n", error.c_str());
        return 1;
    }
    const std::string socket = o.dir + "/relay/data/run/voxa.sock";

    SteadyClock clock;
    SystemWallClock wall;
    node::NodeConfig cfg;
    cfg.hops = 1;
    cfg.n = 1;
    cfg.k = 1;
    cfg.window_cells = 1u << 22;
    cfg.max_message_bytes = kMessageBytes;
    Sink origin_sink(*wire, Side::kOrigin), dest_sink(*wire, Side::kDestination);
    node::Node dest(dest_id, cfg, clock, wall, dest_sink);
    dest.add_known_node(*relay_peer, wire->relay(Side::kDestination), 100, true);
    std::unique_ptr<node::Node> origin;
    uint64_t last_tick = 0;
    auto pump = [&] {
        wire->poll([&](Side side, const Endpoint& from, uint8_t* data, std::size_t len) {
            node::Node* n = side == Side::kOrigin ? origin.get() : &dest;
            if (n != nullptr)
                n->on_datagram(from, data, len);
        });
        const uint64_t now = now_ns();
        if (now - last_tick >= 1'000'000) {
            last_tick = now;
            dest.tick();
            if (origin)
                origin->tick();
            node::Received r;
            while (dest.pop_received(&r)) {
            }
        }
    };
    // The relay is up when its socket answers and (memif) both links are up.
    const uint64_t ready_deadline = now_ns() + 30'000'000'000ull;
    uint64_t next_probe = 0;
    while (true) {
        pump();
        if (now_ns() >= next_probe) {
            next_probe = now_ns() + 200'000'000;
            std::string e;
            if (wire->ready() && read_relay(socket, e))
                break;
            if (::kill(relay.pid(), 0) != 0 || now_ns() > ready_deadline) {
                std::fprintf(stderr, "voxa-blast: the relay did not come up (log: %s)\n", log.c_str());
                return 1;
            }
        }
    }

    Pool pool(o.cells, wire->header_bytes());
    std::vector<uint8_t> message(kMessageBytes, 0x5A);
    std::printf(
        "voxa-blast: mode %s, relay pid %d on core %d, generator on core %d, pool %zu cells, %.1f s max "
        "per run, %d runs\n",
        o.mode.c_str(), int(relay.pid()), o.relay_core, o.gen_core, o.cells, o.seconds, o.runs);
    std::printf("%4s %10s %12s %10s %12s %12s %12s %10s\n", "run", "pool", "relay c/s", "Gbit/s",
                "cpu ns/cell", "sent/s", "arrived/s", "window s");
    std::fflush(stdout);
    std::vector<double> rates, cpu_ns, sent_rates, arrived_rates;
    nlohmann::json runs = nlohmann::json::array();
    int failures = 0;
    for (int r = 0; r < o.runs; ++r) {
        origin = std::make_unique<node::Node>(origin_id, cfg, clock, wall, origin_sink);
        origin->add_known_node(*relay_peer, wire->relay(Side::kOrigin), 100, true);
        origin->add_known_node(dest_id.peer(), wire->local(Side::kDestination), 1, false);
        const std::vector<uint8_t> hello(100, 0x42);
        auto id = origin->send(dest_id.id(), hello, &error);
        const uint64_t warm_deadline = now_ns() + 20'000'000'000ull;
        while (id && origin->send_state(*id) != node::SendState::kDelivered &&
               origin->send_state(*id) != node::SendState::kFailed && now_ns() < warm_deadline) {
            pump();
        }
        if (!id || origin->send_state(*id) != node::SendState::kDelivered) {
            std::fprintf(stderr, "voxa-blast: run %d: the circuit did not come up (%s; relay log %s)\n", r,
                         id ? "warm-up message not delivered" : error.c_str(), log.c_str());
            origin.reset();
            ++failures;
            continue;
        }
        // Generate: the origin's cells to the relay go into the pool.
        pool.count = 0;
        origin_sink.pool_ = &pool;
        const uint64_t g0 = now_ns();
        while (pool.count < pool.capacity()) {
            const std::size_t before = pool.count;
            if (!origin->send(dest_id.id(), message, &error) || pool.count == before)
                break;
        }
        origin_sink.pool_ = nullptr;
        const double gen_s = double(now_ns() - g0) / 1e9;

        auto const s0 = read_relay(socket, error);
        auto const c0 = process_cpu_ns(relay.pid());
        auto const th0 = thread_cpu_ns(relay.pid());
        auto const w0 = thread_wait_ns(relay.pid());
        const uint64_t g_cpu0 = self_cpu_ns();
        const uint64_t t0 = now_ns();
        const BlastResult b =
            wire->blast(pool.data(), pool.count, pool.stride(), kCellBytes, t0 + uint64_t(o.seconds * 1e9));
        const uint64_t t1 = now_ns();
        auto const s1 = read_relay(socket, error);
        auto const c1 = process_cpu_ns(relay.pid());
        auto const th1 = thread_cpu_ns(relay.pid());
        auto const w1 = thread_wait_ns(relay.pid());
        const uint64_t g_cpu1 = self_cpu_ns();
        const uint64_t late = wire->drain(300);
        origin.reset();
        if (!s0 || !s1 || !c0 || !c1) {
            std::fprintf(stderr, "voxa-blast: run %d: reading the relay failed: %s\n", r, error.c_str());
            ++failures;
            continue;
        }
        const double window_s = double(t1 - t0) / 1e9;
        auto const [worker_tid, worker_ns] = busiest_thread(th0, th1);
        const double worker_wait_ns =
            w1.count(worker_tid) && w0.count(worker_tid) ? w1.at(worker_tid) - w0.at(worker_tid) : 0.0;
        const double cells = s1->cells - s0->cells;
        const double rate = cells / window_s;
        const double ns = cells > 0 ? double(*c1 - *c0) / cells : 0;
        const double sent_rate = double(b.sent) / (double(b.ns) / 1e9);
        const double arrived_rate = double(b.arrived) / (double(b.ns) / 1e9);
        std::printf("%4d %10zu %12.0f %10.3f %12.0f %12.0f %12.0f %10.3f\n", r, pool.count, rate,
                    rate * kCellBytes * 8 / 1e9, ns, sent_rate, arrived_rate, window_s);
        std::fflush(stdout);
        // The relay's counter is not taken on faith: what it says it relayed must have reached the
        // destination (its arrivals during the blast and the drain after it; 10 % slack for the 50 ms stats
        // publication).
        const bool arrived_ok = double(b.arrived + late) >= 0.9 * cells;
        if (!arrived_ok) {
            std::fprintf(stderr, "voxa-blast: run %d: the destination got %llu of %.0f relayed cells\n", r,
                         static_cast<unsigned long long>(b.arrived + late), cells);
        }
        if (cells > 0 && arrived_ok) {
            rates.push_back(rate);
            cpu_ns.push_back(ns);
            sent_rates.push_back(sent_rate);
            arrived_rates.push_back(arrived_rate);
        } else {
            ++failures;
        }
        runs.push_back({{"pool_cells", pool.count},
                        {"generate_s", gen_s},
                        {"window_s", window_s},
                        {"relay_cells", cells},
                        {"relay_cells_per_s", rate},
                        {"relay_cpu_ns_per_cell", ns},
                        {"relay_cpu_s", double(*c1 - *c0) / 1e9},
                        {"generator_busy", double(g_cpu1 - g_cpu0) / 1e9 / window_s},
                        {"relay_worker_busy", worker_ns / 1e9 / window_s},
                        {"relay_worker_preempted", worker_wait_ns / 1e9 / window_s},
                        {"sent", b.sent},
                        {"sent_per_s", sent_rate},
                        {"arrived", b.arrived},
                        {"arrived_per_s", arrived_rate},
                        {"arrived_late", late},
                        {"tx_full_polls", b.full_polls},
                        {"blast_s", double(b.ns) / 1e9},
                        {"relay_delta", delta(*s0, *s1)}});
    }
    relay.stop();
    const double m = median(rates), mns = median(cpu_ns);
    std::printf(
        "median relay: %.0f cells/s, %.3f Gbit/s, %.0f CPU ns per cell (generator sent %.0f/s, destination "
        "got %.0f/s)\n",
        m, m * kCellBytes * 8 / 1e9, mns, median(sent_rates), median(arrived_rates));
    nlohmann::json report = {
        {"mode", o.mode},
        {"cell_bytes", kCellBytes},
        {"relay_core", o.relay_core},
        {"generator_core", o.gen_core},
        {"pool_cells", o.cells},
        {"seconds", o.seconds},
        {"runs", runs},
        {"relay", {{"cells_per_s", m}, {"gbps", m * kCellBytes * 8 / 1e9}, {"cpu_ns_per_cell", mns}}},
        {"generator",
         {{"sent_per_s", median(sent_rates)},
          {"arrived_per_s", median(arrived_rates)},
          {"port", nlohmann::json::parse(wire->port_stats_json(), nullptr, false)}}}};
    if (!o.json.empty() && !write_json(o.json, report)) {
        std::fprintf(stderr, "voxa-blast: writing %s failed\n", o.json.c_str());
        return 1;
    }
    return rates.empty() ? 1 : (failures > 0 ? 3 : 0);
}

}  // namespace
}  // namespace voxa::bench

int main(int argc, char** argv) {
    using namespace voxa::bench;
    try {
        Args args(argc, argv, 1);
        auto const bad =
            args.unknown({"mode", "build", "dir", "runs", "seconds", "cells", "relay-core", "gen-core",
                          "relay-idle-spins", "nice", "json", "netns", "host-ip", "relay-ip", "host-iface", "relay-iface"});
        if (!bad.empty()) {
            std::fprintf(stderr, "voxa-blast: unknown option --%s\n", bad[0].c_str());
            return 2;
        }
        Options o;
        o.mode = args.get_or("mode", "");
        if (o.mode != "memif" && o.mode != "af_packet" && o.mode != "uring") {
            std::fprintf(stderr,
                         "usage: voxa-blast --mode memif|af_packet|uring [--build DIR] [--dir D] [--runs R] "
                         "[--seconds S] [--cells N] [--json FILE] ... (see bench/e2e/blast.cpp)\n");
            return 2;
        }
        o.build = args.get_or("build", build_dir());
        o.dir = args.get_or("dir", "/tmp/vxb-blast");
        o.netns = args.get_or("netns", "vxb-relay");
        o.host_iface = args.get_or("host-iface", "vxb-h");
        o.relay_iface = args.get_or("relay-iface", "vxb-r");
        o.host_ip = args.get_or("host-ip", o.host_ip);
        o.relay_ip = args.get_or("relay-ip", o.relay_ip);
        o.json = args.get_or("json", "");
        auto const runs = int_option(args, "runs", 5, 1, 100);
        auto const cells = int_option(args, "cells", 1'500'000, 1000, 20'000'000);
        auto const rc = int_option(args, "relay-core", 1, 0, 1023);
        auto const gc = int_option(args, "gen-core", 0, 0, 1023);
        auto const spins = int_option(args, "relay-idle-spins", 200, 0, 1'000'000);
        auto const nice = int_option(args, "nice", -20, -20, 19);
        if (!nice)
            return 2;
        o.nice = int(*nice);
        o.seconds = std::atof(args.get_or("seconds", "2").c_str());
        if (!runs || !cells || !rc || !gc || !spins || o.seconds <= 0)
            return 2;
        o.runs = int(*runs);
        o.cells = std::size_t(*cells);
        o.relay_core = int(*rc);
        o.gen_core = int(*gc);
        o.idle_spins = int(*spins);
        if (::geteuid() != 0) {
            std::fprintf(stderr, "voxa-blast: needs root (DPDK EAL, network namespaces)\n");
            return 2;
        }
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "voxa-blast: %s\n", e.what());
        return 1;
    }
}
