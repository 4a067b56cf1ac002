#include "daemon/daemon.h"

#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "common/log.h"
#include "io/udp_socket.h"
#include "io/uring_backend.h"
#include "netstack/control.h"
#include "netstack/frame.h"
#include "node/node.h"
#ifdef VOXA_HAVE_DPDK
#include "io/dpdk_eal.h"
#endif

namespace voxa::daemon {
namespace {

constexpr std::size_t kDeliveredRemembered = 4096;   // message ids remembered for REPLY routing

uint64_t mono_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

uint64_t unix_s() noexcept { return uint64_t(::time(nullptr)); }

std::string id_key(const MessageId& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

node::NodeConfig node_config(const config::Config& c) {
    node::NodeConfig n;
    n.cell_bytes = c.p2p.cell_bytes;
    n.hops = c.p2p.hops;
    n.k = c.p2p.k;
    n.n = c.p2p.n;
    n.parts_per_relay_max = c.p2p.parts_per_relay_max;
    n.max_message_bytes = c.p2p.max_message_bytes;
    n.circuits_max = c.dataplane.circuits_max;
    n.circuit_lifetime_ns = uint64_t(c.p2p.circuit_lifetime_s) * kNsPerS;
    n.gossip_interval_ns = uint64_t(c.p2p.gossip_interval_s) * kNsPerS;
    n.reassembly.bytes_max = c.dataplane.reassembly_bytes_max;
    n.link.peers_max = c.p2p.max_peers;
    n.link.handshake_give_up_ns = uint64_t(c.p2p.connection_timeout) * kNsPerS;
    return n;
}

nlohmann::json counters(const uint64_t* values, std::size_t count, std::string_view (*name)(uint8_t)) {
    nlohmann::json j = nlohmann::json::object();
    for (std::size_t i = 1; i < count; ++i) {
        if (values[i] != 0) j[std::string(name(uint8_t(i)))] = values[i];
    }
    return j;
}

std::string_view node_drop(uint8_t d) { return node::drop_name(node::Drop(d)); }
std::string_view link_drop(uint8_t d) { return link::drop_name(link::Drop(d)); }
std::string_view circuit_drop(uint8_t d) { return circuit::drop_name(circuit::Drop(d)); }
std::string_view reassembly_drop(uint8_t d) { return reassembly::drop_name(reassembly::Drop(d)); }
std::string_view frame_drop(uint8_t d) { return netstack::drop_name(netstack::Drop(d)); }
std::string_view control_drop(uint8_t d) { return netstack::control_drop_name(netstack::ControlDrop(d)); }

}  // namespace

std::unique_ptr<Daemon> Daemon::create(const config::Config& config, std::string* error) {
    std::string why;
    auto identity = crypto::Identity::load_or_create(config.data_dir / "local", &why);
    if (!identity) {
        *error = "identity: " + why;
        return nullptr;
    }
    std::unique_ptr<Daemon> d(new Daemon(config, std::move(*identity)));
    if (!d->check_udp_port(error) || !d->open_segment(error)) return nullptr;
    if (!d->start_workers(error)) return nullptr;
    local::ServerConfig sc;
    sc.socket_path = config.data_dir / "run" / "voxa.sock";
    sc.frame_body_max = config.p2p.max_message_bytes + local::kFrameBodyOverheadBytes;
    d->server_ = local::Server::listen(sc, *d, &why);
    if (!d->server_) {
        *error = "local socket " + sc.socket_path.string() + ": " + why;
        return nullptr;
    }
    return d;
}

Daemon::Daemon(const config::Config& config, crypto::Identity identity)
    : config_(config), identity_(std::move(identity)), directory_(identity_.id()) {
    policy_.hops = config_.p2p.hops;
    policy_.n = config_.p2p.n;
    policy_.k = config_.p2p.k;
    policy_.circuit_lifetime_ns = uint64_t(config_.p2p.circuit_lifetime_s) * kNsPerS;
    gossip_on_ = config_.p2p.discovery != "registry";
}

Daemon::~Daemon() {
#ifdef VOXA_HAVE_DPDK
    if (dpdk_ports_) io::set_telemetry_source(nullptr);
#endif
    for (auto& w : workers_) w->stop();
}

void Daemon::DpdkPortsDeleter::operator()(io::DpdkPorts* p) const noexcept {
#ifdef VOXA_HAVE_DPDK
    delete p;
#else
    (void)p;
#endif
}

// EAL once per process (dataplane/io/dpdk_eal.h), then the ports with one queue pair per worker where they have
// them. Every error names the configuration key to change.
bool Daemon::start_dpdk(std::string* error) {
#ifdef VOXA_HAVE_DPDK
    const auto& dp = config_.dataplane;
    io::DpdkEalConfig ec;
    ec.cores = dp.cores;
    ec.file_prefix = dp.dpdk.file_prefix.empty() ? "voxa-" + to_hex(identity_.id()).substr(0, 8) : dp.dpdk.file_prefix;
    ec.in_memory = dp.dpdk.in_memory;
    ec.no_huge = dp.dpdk.no_huge;
    ec.memory_mb = dp.dpdk.hugepages;
    ec.extra_args = dp.dpdk.eal_args;
    ec.rx_desc = dp.dpdk.rx_desc;
    io::DpdkPortsConfig pc;
    pc.workers = uint32_t(dp.cores.size());
    pc.udp_port = config_.p2p.port;
    pc.cell_bytes = config_.p2p.cell_bytes;
    pc.mempool_mbufs = dp.dpdk.mempool_mbufs;
    pc.mbuf_cache = dp.dpdk.mbuf_cache;
    pc.rx_desc = dp.dpdk.rx_desc;
    pc.tx_desc = dp.dpdk.tx_desc;
    for (const auto& p : dp.dpdk.ports) {
        ec.devices.push_back(p.device);
        io::DpdkPortConfig c;
        c.device = p.device;
        if (!p.ipv4.empty()) std::tie(c.ipv4, c.ipv4_prefix) = *config::parse_prefix(p.ipv4);
        if (!p.ipv6.empty()) std::tie(c.ipv6, c.ipv6_prefix) = *config::parse_prefix(p.ipv6);
        if (!p.mac.empty()) c.mac = netstack::MacAddr{*config::parse_mac(p.mac)};
        for (const auto& n : p.neighbours) {
            auto const ip = config::parse_numeric_endpoint(n.ip, 0);
            c.neighbours.emplace_back(netstack::IpAddr::of(*ip), netstack::MacAddr{*config::parse_mac(n.mac)});
        }
        pc.ports.push_back(std::move(c));
    }
    if (!io::eal_init(ec, error)) return false;
    io::DpdkPorts* ports = io::DpdkPorts::open(pc, error).release();
    if (ports == nullptr) return false;
    dpdk_ports_.reset(ports);
    log(LogLevel::kInfo, "dpdk ports up", {{"features", dpdk_ports_->features()}, {"file_prefix", ec.file_prefix}});
    return true;
#else
    *error = "config/dataplane.json: \"backend\": \"dpdk\" is not available: this build has no DPDK (install "
             "libdpdk-dev and rebuild with -Ddpdk=enabled)";
    return false;
#endif
}

std::vector<std::pair<std::string, uint64_t>> Daemon::telemetry_counters() const {
    io::BackendStats bs{};
    node::NodeStats ns{};
    link::LinkStats ls{};
    for (const auto& w : workers_) {
        const WorkerStats s = w->read_stats();
        auto add = [](auto& into, const auto& from) {
            auto* a = reinterpret_cast<uint64_t*>(&into);
            const auto* b = reinterpret_cast<const uint64_t*>(&from);
            for (std::size_t i = 0; i < sizeof(into) / sizeof(uint64_t); ++i) a[i] += b[i];
        };
        add(bs, s.backend);
        add(ns, s.node);
        add(ls, s.link);
    }
    return {{"rx_packets", bs.rx_packets},
            {"rx_bytes", bs.rx_bytes},
            {"tx_packets", bs.tx_packets},
            {"tx_bytes", bs.tx_bytes},
            {"rx_no_buffer", bs.rx_no_buffer},
            {"rx_errors", bs.rx_errors},
            {"tx_errors", bs.tx_errors},
            {"tx_dropped_full", bs.tx_dropped_full},
            {"tx_unresolved", bs.tx_unresolved},
            {"tx_queued_unresolved", bs.tx_queued_unresolved},
            {"tx_zero_copy", bs.tx_zero_copy},
            {"control_replies", bs.control_replies},
            {"solicitations", bs.solicitations},
            {"link_packets_in", ls.packets_in},
            {"link_packets_out", ls.packets_out},
            {"sessions_up", ls.sessions_up},
            {"cells_relayed_forward", ns.cells_relayed_forward},
            {"cells_relayed_backward", ns.cells_relayed_backward},
            {"messages_sent", ns.messages_sent},
            {"messages_received", ns.messages_received},
            {"workers", workers_.size()}};
}

// SO_REUSEPORT lets any process of the same user join the port's group and take a share of its datagrams (a stale
// daemon, a second one started by mistake). Bind once without it first, so that fails loudly instead; and before
// the shm segment is attached, so that a start that cannot work does not count as a data-plane restart (epoch).
bool Daemon::check_udp_port(std::string* error) {
    auto bind = config::parse_numeric_endpoint(config_.p2p.host, config_.p2p.port);
    if (!bind) {
        *error = "p2p host " + config_.p2p.host + " is not a numeric address";
        return false;
    }
    if (bind->port == 0 || config_.dataplane.backend == "dpdk") return true;   // DPDK: the kernel's ports do not matter
    io::UdpSocketOptions probe;
    probe.bind = *bind;
    probe.reuseport = false;
    std::string why;
    const io::UdpSocketResult r = io::open_udp_socket(probe, &why);
    if (r.fd < 0) {
        *error = "UDP port " + bind->to_string() + " is not free (another voxa-dataplane running?): " + why;
        return false;
    }
    ::close(r.fd);
    return true;
}

bool Daemon::start_workers(std::string* error) {
    const auto& dp = config_.dataplane;
    const std::size_t n = dp.cores.size();
    auto bind = config::parse_numeric_endpoint(config_.p2p.host, config_.p2p.port);
    if (!bind) {
        *error = "p2p host " + config_.p2p.host + " is not a numeric address";
        return false;
    }
    const std::string& adv_host = config_.p2p.advertise_host.empty() ? config_.p2p.host : config_.p2p.advertise_host;
    // A relay that flips bits on purpose, for the integration tests of the destination's defences only.
    node::FaultInjection faults;
    if (const char* flip = std::getenv("VOXA_DEV_FLIP_RELAYED_BITS"); flip != nullptr) {
        faults.flip_relayed_bit_probability = std::strtod(flip, nullptr);
        log(LogLevel::kWarn, "fault injection: this relay corrupts relayed cells",
            {{"probability", faults.flip_relayed_bit_probability}});
    }
    bool const dpdk = dp.backend == "dpdk";
    if (dpdk && !start_dpdk(error)) return false;
    mesh_ = std::make_unique<Mesh>(n, dp.handover_slots, config_.p2p.cell_bytes);
    std::vector<netstack::ChecksumPolicy> dpdk_checksum;   // per port, the same for every worker
    for (const auto& port : dp.dpdk.ports) dpdk_checksum.push_back(port.checksum);
    for (std::size_t i = 0; i < n; ++i) {
        WorkerConfig wc;
        wc.index = uint8_t(i);
        wc.workers = uint8_t(n);
        wc.cpu = dp.pin ? dp.cores[i] : -1;
        wc.node = node_config(config_);
        wc.backend.bind = *bind;
        // Port 0 (tests): every later worker binds the port the first one got.
        if (i > 0) wc.backend.bind.port = workers_[0]->port();
        wc.backend.rx_buffers = dp.rx_buffers;
        wc.backend.rx_buffer_bytes = dp.rx_buffer_bytes;
        wc.backend.tx_slots = dp.tx_slots;
        wc.backend.tx_batch = dp.tx_batch;
        wc.backend.ring_entries = dp.ring_entries;
        wc.backend.sqpoll = dp.sqpoll;
        wc.backend.gso = dp.gso;
        wc.backend.gro = dp.gro;
        wc.backend.bpf_steering = dp.bpf_steering;
        wc.reactor.idle_spins = dp.idle_spins;
        wc.reactor.sleep_max_ns = uint64_t(dp.sleep_max_us) * 1000;
        wc.rx_budget = dp.rx_batch;
        wc.tx_flush_ns = uint64_t(dp.tx_flush_us) * 1000;
        wc.handover_slots = dp.handover_slots;
        wc.faults = faults;
        wc.backend_kind = dp.backend;
        wc.dpdk_ports = dpdk_ports_.get();
        wc.dpdk_checksum = dpdk_checksum;
        wc.stats_block = segment_->stats_block(uint32_t(i));
        wc.shm_epoch = segment_->epoch();
        std::string why;
        auto w = Worker::create(wc, identity_, *mesh_, bell_, &why);
        if (!w) {
            *error = "worker " + std::to_string(i) + ": " + why;
            return false;
        }
        workers_.push_back(std::move(w));
    }
#ifdef VOXA_HAVE_DPDK
    if (dpdk) {
        // The node's own address on its first port (the kernel's p2p.host does not apply to DPDK ports).
        if (config_.p2p.advertise_host.empty()) {
            const auto& first = dpdk_ports_->ports().front();
            advertised_ = first.ipv4.family == Endpoint::Family::kIpv4 ? first.ipv4 : first.ipv6;
            advertised_.port = config_.p2p.port;
        } else {
            advertised_ = *config::parse_numeric_endpoint(config_.p2p.advertise_host, config_.p2p.port);
        }
        io::set_telemetry_source([this] { return telemetry_counters(); });
        return true;
    }
#endif
    auto adv = config::parse_numeric_endpoint(adv_host, workers_[0]->port());
    if (!adv) {
        *error = "p2p advertise_host " + adv_host + " is not a numeric address";
        return false;
    }
    advertised_ = *adv;
    return true;
}

int Daemon::run(const std::atomic<bool>& stop) {
    started_ns_ = mono_ns();
    for (auto& w : workers_) w->start();

    // Bootstrap: the configured peers go to every worker; worker 0 connects to them so gossip starts at once.
    std::vector<directory::Descriptor> boot;
    for (const auto& b : config_.p2p.bootstrap_nodes) {
        if (b.id == identity_.id()) continue;
        directory_.add_bootstrap(b.ed25519, b.endpoint);
        directory::Descriptor d;
        d.ed25519 = b.ed25519;
        d.id = b.id;
        d.endpoint = b.endpoint;
        d.capacity = 1;
        d.relay = true;
        boot.push_back(d);
    }
    add_nodes(boot);
    refresh_gossip();
    for (const auto& d : boot) {
        Command c;
        c.kind = Command::Kind::kConnect;
        c.node = d.id;
        push(0, c);
    }

    nlohmann::json ready = {{"node_id", to_hex(identity_.id())}, {"port", workers_[0]->port()},
                            {"workers", workers_.size()}, {"backend", workers_[0]->features()},
                            {"advertise", advertised_.to_string()},
                            {"socket", (config_.data_dir / "run" / "voxa.sock").string()}};
    log(LogLevel::kInfo, "ready", ready);

    pollfd fds[2] = {{server_->epoll_fd(), POLLIN, 0}, {bell_.fd(), POLLIN, 0}};
    shm_tick(mono_ns());
    while (!stop.load(std::memory_order_acquire)) {
        bell_.arm();
        drain_events();
        // 10 ms: voxa-control cannot ring our doorbell, so its command rings are polled at least this often.
        ::poll(fds, 2, 10);
        bell_.disarm();
        bell_.drain();
        server_->poll(0);
        drain_events();
        poll_shm_commands();
        const uint64_t now = mono_ns();
        shm_tick(now);
        if (shutdown_complete(now)) {
            log(LogLevel::kInfo, "shutdown command: drained", {{"pending", pending_.size()}});
            break;
        }
        const uint64_t refresh_ns = std::max<uint64_t>(1, config_.p2p.gossip_interval_s) * kNsPerS / 2;
        if (now - last_gossip_refresh_ns_ >= refresh_ns) refresh_gossip();
    }
    log(LogLevel::kInfo, "stopping", {{"node_id", to_hex(identity_.id())}});
    for (auto& w : workers_) w->stop();
    drain_events();
    return 0;
}

std::size_t Daemon::worker_for(const NodeId& destination) const noexcept {
    uint64_t h;
    std::memcpy(&h, destination.data(), sizeof h);
    return std::size_t(h % workers_.size());
}

bool Daemon::push(std::size_t worker, const Command& c) { return workers_[worker]->push(c); }

void Daemon::add_nodes(const std::vector<directory::Descriptor>& nodes) {
    if (nodes.empty()) return;
    for (auto& w : workers_) {
        Command c;
        c.kind = Command::Kind::kAddNodes;
        c.nodes = new std::vector<directory::Descriptor>(nodes);
        if (!w->push(c)) {
            delete c.nodes;
            log(LogLevel::kWarn, "worker command ring full: directory update lost", {{"worker", w->index()}});
        }
    }
}

// Re-signs our descriptor (a fresh issued_at keeps it from expiring elsewhere) and hands every worker the gossip
// bodies: ours first, then every signed entry we hold.
void Daemon::refresh_gossip() {
    last_gossip_refresh_ns_ = mono_ns();
    directory_.expire(unix_s());
    // Registry discovery: the workers keep an empty gossip set, so they send no DIRECTORY cells at all.
    if (!gossip_on_) return;
    const auto self = directory::sign_descriptor(identity_, advertised_, config_.p2p.capacity, config_.p2p.relay,
                                                 unix_s());
    const std::size_t body_bytes = wire::cell_payload_bytes(config_.p2p.cell_bytes) - wire::kCellHeaderBytes;
    const auto bodies = directory_.gossip_bodies(self, body_bytes);
    for (auto& w : workers_) {
        Command c;
        c.kind = Command::Kind::kSetGossip;
        c.gossip = new std::vector<std::vector<uint8_t>>(bodies);
        if (!w->push(c)) delete c.gossip;
    }
}

void Daemon::on_frame(local::ClientId client, const local::FrameView& frame) {
    using local::ErrorCode;
    using local::FrameType;
    switch (frame.type) {
        case FrameType::kSend:
        case FrameType::kReply: {
            Command c;
            std::size_t worker = 0;
            std::span<const uint8_t> bytes;
            uint8_t flags = 0;
            if (frame.type == FrameType::kSend) {
                // Draining: no new messages; replies and messages in flight go on.
                if (draining_) {
                    server_->send_error(client, frame.request_id, ErrorCode::kNotReady, "draining");
                    return;
                }
                auto body = local::parse_send(frame.body);
                if (!body) {
                    server_->send_error(client, frame.request_id, ErrorCode::kBadRequest, "malformed SEND body");
                    return;
                }
                c.kind = Command::Kind::kSend;
                c.node = body->destination;
                worker = worker_for(body->destination);
                bytes = body->bytes;
                flags = body->flags;
            } else {
                auto body = local::parse_reply(frame.body);
                if (!body) {
                    server_->send_error(client, frame.request_id, ErrorCode::kBadRequest, "malformed REPLY body");
                    return;
                }
                auto it = delivered_by_.find(id_key(body->request));
                if (it == delivered_by_.end()) {
                    server_->send_error(client, frame.request_id, ErrorCode::kUnknown,
                                        "no request " + to_hex(body->request) + " was delivered here (or it is "
                                        "forgotten)");
                    return;
                }
                c.kind = Command::Kind::kReply;
                c.message = body->request;
                worker = it->second;
                bytes = body->bytes;
                flags = body->flags;
            }
            if (bytes.empty() || bytes.size() > config_.p2p.max_message_bytes) {
                server_->send_error(client, frame.request_id, ErrorCode::kTooLarge,
                                    "message size " + std::to_string(bytes.size()) + " outside 1.." +
                                        std::to_string(config_.p2p.max_message_bytes));
                return;
            }
            c.report = (flags & 1) != 0;
            c.token = next_token_++;
            c.bytes = new std::vector<uint8_t>(bytes.begin(), bytes.end());
            if (!push(worker, c)) {
                delete c.bytes;
                server_->send_error(client, frame.request_id, ErrorCode::kBusy, "worker busy, retry");
                return;
            }
            pending_[c.token] = Pending{client, frame.request_id, c.report};
            return;
        }
        case FrameType::kStatus: {
            auto id = local::parse_status(frame.body);
            if (!id) {
                server_->send_error(client, frame.request_id, ErrorCode::kBadRequest, "malformed STATUS body");
                return;
            }
            Command c;
            c.kind = Command::Kind::kStatus;
            c.message = *id;
            c.token = next_token_++;
            if (!push(node::message_owner(*id, uint8_t(workers_.size())), c)) {
                server_->send_error(client, frame.request_id, ErrorCode::kBusy, "worker busy, retry");
                return;
            }
            pending_[c.token] = Pending{client, frame.request_id, false};
            return;
        }
        case FrameType::kResolve: {
            auto name = local::parse_resolve(frame.body);
            if (!name) {
                server_->send_error(client, frame.request_id, ErrorCode::kBadRequest,
                                    "bad name (want 1..253 bytes of lowercase a-z, 0-9, '.', '-')");
                return;
            }
            const auto entry = names_.find(*name, unix_s());
            if (!entry) {
                server_->send_error(client, frame.request_id, ErrorCode::kUnknown, "unknown name");
                return;
            }
            server_->send(client, FrameType::kResolved, frame.request_id,
                          local::resolved_body(entry->node, entry->expires_s));
            return;
        }
        case FrameType::kStats: {
            const std::string text = stats_json().dump();
            server_->send(client, FrameType::kJson, frame.request_id,
                          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
            return;
        }
        default:
            server_->send_error(client, frame.request_id, ErrorCode::kBadRequest, "unexpected frame type");
            return;
    }
}

void Daemon::on_disconnect(local::ClientId client) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        it = it->second.client == client ? pending_.erase(it) : std::next(it);
    }
}

void Daemon::drain_events() {
    using local::FrameType;
    for (auto& w : workers_) {
        Event e;
        while (w->pop(&e)) {
            std::unique_ptr<std::string> error(e.error);
            std::unique_ptr<node::Received> received(e.received);
            std::unique_ptr<std::vector<uint8_t>> gossip(e.gossip);
            std::unique_ptr<WorkerSnapshot> snapshot(e.snapshot);
            const std::size_t w_index = w->index();
            switch (e.kind) {
                case Event::Kind::kCircuitUp:
                    push_event(w_index, shm::CircuitUp{e.token, e.state});
                    break;
                case Event::Kind::kCircuitDown: {
                    uint32_t reason = 0;
                    std::memcpy(&reason, e.message.data(), sizeof reason);
                    push_event(w_index, shm::CircuitDown{e.token, e.state, reason});
                    break;
                }
                case Event::Kind::kSnapshot:
                    if (snapshot) on_snapshot(w_index, std::move(snapshot));
                    break;
                case Event::Kind::kPolicyRefused:
                    refuse(w_index, EINVAL, "circuit policy refused by worker " + std::to_string(w_index) + ": " +
                                                (error ? *error : std::string("?")));
                    break;
                case Event::Kind::kAccepted: {
                    auto it = pending_.find(e.token);
                    if (it == pending_.end()) break;
                    server_->send(it->second.client, FrameType::kAccepted, it->second.request_id,
                                  std::span<const uint8_t>(e.message));
                    if (!it->second.report) pending_.erase(it);
                    break;
                }
                case Event::Kind::kRejected: {
                    auto it = pending_.find(e.token);
                    if (it == pending_.end()) break;
                    server_->send_error(it->second.client, it->second.request_id, local::ErrorCode::kBadRequest,
                                        error ? *error : "rejected");
                    pending_.erase(it);
                    break;
                }
                case Event::Kind::kResult: {
                    auto it = pending_.find(e.token);
                    if (it == pending_.end()) break;
                    const auto head = local::result_head(e.message, e.state);
                    const std::string text = error ? *error : std::string();
                    server_->send(it->second.client, FrameType::kResult, it->second.request_id, head,
                                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
                    pending_.erase(it);
                    break;
                }
                case Event::Kind::kState: {
                    auto it = pending_.find(e.token);
                    if (it == pending_.end()) break;
                    const auto body = local::state_body(e.message, e.state);
                    server_->send(it->second.client, FrameType::kState, it->second.request_id, body);
                    pending_.erase(it);
                    break;
                }
                case Event::Kind::kReceived: {
                    if (!received) break;
                    const std::string key = id_key(received->message_id);
                    if (delivered_by_.emplace(key, e.worker).second) {
                        delivered_order_.push_back(key);
                        if (delivered_order_.size() > kDeliveredRemembered) {
                            delivered_by_.erase(delivered_order_.front());
                            delivered_order_.pop_front();
                        }
                    }
                    server_->deliver(received->message_id, received->in_reply_to, received->is_reply,
                                     received->bytes);
                    break;
                }
                case Event::Kind::kGossip: {
                    if (!gossip) break;
                    if (!gossip_on_) {
                        directory_.ignore_gossip();
                        break;
                    }
                    auto fresh = directory_.merge_gossip(*gossip, unix_s());
                    add_nodes(fresh);
                    break;
                }
            }
        }
    }
}

nlohmann::json Daemon::stats_json() const {
    nlohmann::json j;
    j["node_id"] = to_hex(identity_.id());
    j["advertise"] = advertised_.to_string();
    j["workers"] = workers_.size();
    j["uptime_s"] = double(mono_ns() - started_ns_) / 1e9;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    j["cpu_ns"] = (uint64_t(ru.ru_utime.tv_sec) + uint64_t(ru.ru_stime.tv_sec)) * kNsPerS +
                  (uint64_t(ru.ru_utime.tv_usec) + uint64_t(ru.ru_stime.tv_usec)) * 1000;
    j["max_rss_kib"] = ru.ru_maxrss;

    nlohmann::json dir;
    dir["known"] = directory_.size();
    std::size_t relays = 0;
    for (const auto& d : directory_.entries()) relays += d.relay;
    dir["relays"] = relays;
    dir["entries"] = directory_.to_json();
    dir["discovery"] = config_.p2p.discovery;
    j["directory"] = dir;

    node::NodeStats ns{};
    link::LinkStats ls{};
    io::BackendStats bs{};
    reassembly::ReassemblyStats rs{};
    nlohmann::json per_worker = nlohmann::json::array();
    uint64_t relay_circuits = 0, origin_circuits = 0, handover_in = 0, handover_out = 0, handover_drops = 0;
    for (const auto& w : workers_) {
        const WorkerStats s = w->read_stats();
        per_worker.push_back({{"worker", w->index()}, {"cpu_ns", s.cpu_ns}, {"rx_packets", s.backend.rx_packets},
                              {"tx_packets", s.backend.tx_packets}, {"relay_circuits", s.relay_circuits},
                              {"handover_in", s.handover_datagrams_in}, {"handoffs_in", s.node.handoffs_in},
                              {"loops", s.reactor.loops}, {"sleeps", s.reactor.sleeps}});
        relay_circuits += s.relay_circuits;
        origin_circuits += s.origin_circuits;
        handover_in += s.handover_datagrams_in;
        handover_out += s.handover_datagrams_out;
        handover_drops += s.handover_drops;
        // Sum every counter field (all are uint64_t).
        auto add = [](auto& into, const auto& from) {
            auto* a = reinterpret_cast<uint64_t*>(&into);
            const auto* b = reinterpret_cast<const uint64_t*>(&from);
            static_assert(sizeof(into) % sizeof(uint64_t) == 0);
            for (std::size_t i = 0; i < sizeof(into) / sizeof(uint64_t); ++i) a[i] += b[i];
        };
        add(ns, s.node);
        add(ls, s.link);
        add(bs, s.backend);
        add(rs, s.reassembly);
    }
    j["per_worker"] = per_worker;
    j["node"] = {{"cells_relayed_forward", ns.cells_relayed_forward},
                 {"cells_relayed_backward", ns.cells_relayed_backward},
                 {"cells_originated", ns.cells_originated},
                 {"cells_ended", ns.cells_ended},
                 {"circuits_built", ns.circuits_built},
                 {"circuits_failed", ns.circuits_failed},
                 {"circuits_relayed", ns.circuits_relayed},
                 {"relay_circuits", relay_circuits},
                 {"origin_circuits", origin_circuits},
                 {"messages_sent", ns.messages_sent},
                 {"messages_delivered", ns.messages_delivered},
                 {"messages_failed", ns.messages_failed},
                 {"messages_received", ns.messages_received},
                 {"fragments_sent", ns.fragments_sent},
                 {"fragments_retransmitted", ns.fragments_retransmitted},
                 {"status_sent", ns.status_sent},
                 {"status_received", ns.status_received},
                 {"gossip_sent", ns.gossip_sent},
                 {"gossip_received", ns.gossip_received},
                 {"handoffs", ns.handoffs_out},
                 {"handover_datagrams_in", handover_in},
                 {"handover_datagrams_out", handover_out}};
    j["link"] = {{"packets_in", ls.packets_in},
                 {"packets_out", ls.packets_out},
                 {"bytes_in", ls.bytes_in},
                 {"bytes_out", ls.bytes_out},
                 {"handshakes_initiated", ls.handshakes_initiated},
                 {"handshakes_completed", ls.handshakes_completed},
                 {"sessions_up", ls.sessions_up}};
    j["backend"] = {{"rx_packets", bs.rx_packets},         {"rx_bytes", bs.rx_bytes},
                    {"rx_gro_batches", bs.rx_gro_batches}, {"rx_no_buffer", bs.rx_no_buffer},
                    {"tx_packets", bs.tx_packets},         {"tx_bytes", bs.tx_bytes},
                    {"tx_submits", bs.tx_submits},         {"tx_gso_batches", bs.tx_gso_batches},
                    {"tx_dropped_full", bs.tx_dropped_full}, {"tx_errors", bs.tx_errors},
                    {"features", workers_.empty() ? std::string() : workers_[0]->features()}};
    if (dpdk_ports_) {
#ifdef VOXA_HAVE_DPDK
        nlohmann::json xstats = nlohmann::json::object();
        for (std::size_t i = 0; i < dpdk_ports_->ports().size(); ++i) {
            nlohmann::json one = nlohmann::json::object();
            for (const auto& [name, value] : dpdk_ports_->xstats(i)) one[name] = value;
            xstats[dpdk_ports_->ports()[i].name] = std::move(one);
        }
        j["backend"]["xstats"] = std::move(xstats);
#endif
        j["backend"]["port"] = {{"ipackets", bs.port_ipackets}, {"opackets", bs.port_opackets},
                                {"imissed", bs.port_imissed},   {"rx_nombuf", bs.port_rx_nombuf},
                                {"ierrors", bs.port_ierrors},   {"oerrors", bs.port_oerrors}};
        j["backend"]["rx_errors"] = bs.rx_errors;
        j["backend"]["tx_unresolved"] = bs.tx_unresolved;
        j["backend"]["tx_queued_unresolved"] = bs.tx_queued_unresolved;
        j["backend"]["tx_zero_copy"] = bs.tx_zero_copy;
        j["backend"]["tx_no_route"] = bs.tx_no_route;
        j["backend"]["control_replies"] = bs.control_replies;
        j["backend"]["solicitations"] = bs.solicitations;
        j["backend"]["neighbours_learned"] = bs.neighbours_learned;
    }
    j["drops"] = {{"node", counters(ns.drops, std::size_t(node::Drop::kCount), node_drop)},
                  {"circuit", counters(ns.circuit_drops, std::size_t(circuit::Drop::kCount), circuit_drop)},
                  {"link", counters(ls.drops, std::size_t(link::Drop::kCount), link_drop)},
                  {"reassembly", counters(rs.drops, std::size_t(reassembly::Drop::kCount), reassembly_drop)},
                  {"handover", handover_drops}};
    if (dpdk_ports_) {
        j["drops"]["frame"] = counters(bs.frame_drops, std::size_t(netstack::Drop::kCount), frame_drop);
        j["drops"]["control"] = counters(bs.control_drops, std::size_t(netstack::ControlDrop::kCount), control_drop);
    }
    j["local"] = nlohmann::json::parse(server_->stats_json(), nullptr, false);
    add_shm_json(&j);
    return j;
}

}  // namespace voxa::daemon
