#include "daemon/worker.h"

#include <time.h>

#include <array>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "io/steering.h"
#include "io/uring_backend.h"
#ifdef VOXA_HAVE_DPDK
#include "io/dpdk_backend.h"
#endif
#include "reactor/thread.h"
#include "shm/segment.h"
#include "voxa/assert.h"

namespace voxa::daemon {
namespace {

// A datagram handed between workers: | Endpoint | len u16 | bytes |.
constexpr std::size_t kDatagramHeadBytes = sizeof(Endpoint) + sizeof(uint16_t);
// A relay message handed between workers: | node::Handoff | len u16 | data |.
constexpr std::size_t kHandoffHeadBytes = sizeof(node::Handoff) + sizeof(uint16_t);

uint64_t thread_cpu_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * kNsPerS + uint64_t(ts.tv_nsec);
}

}  // namespace

Mesh::Mesh(std::size_t workers, std::size_t slots, std::size_t cell_bytes) : n_(workers) {
    for (std::size_t i = 0; i < n_ * n_; ++i) {
        // The diagonal is never used; one worker needs no rings at all.
        const bool used = n_ > 1 && i / n_ != i % n_;
        datagrams_.push_back(used ? std::make_unique<reactor::SlotRing>(slots, kDatagramHeadBytes + cell_bytes)
                                  : nullptr);
        handoffs_.push_back(used ? std::make_unique<reactor::SlotRing>(
                                       slots, kHandoffHeadBytes + wire::relay_msg_bytes(cell_bytes))
                                 : nullptr);
    }
    for (std::size_t i = 0; i < n_; ++i) doorbells_.push_back(std::make_unique<reactor::Doorbell>());
}

std::unique_ptr<Worker> Worker::create(const WorkerConfig& config, const crypto::Identity& identity, Mesh& mesh,
                                       reactor::Doorbell& control_bell, std::string* error) {
    io::UringConfig bc = config.backend;
    bc.worker = config.index;
    bc.workers = config.workers;
    bc.wake_fd = mesh.doorbell(config.index).fd();
    bc.cell_bytes = config.node.cell_bytes;
    std::unique_ptr<io::Backend> backend;
    if (config.backend_kind == "dpdk") {
#ifdef VOXA_HAVE_DPDK
        io::DpdkBackendConfig dc;
        dc.ports = config.dpdk_ports;
        dc.worker = config.index;
        dc.workers = config.workers;
        dc.wake_fd = bc.wake_fd;
        dc.cell_bytes = bc.cell_bytes;
        dc.tx_batch = bc.tx_batch < 512 ? bc.tx_batch : 512;
        dc.idle_sleep_ns = config.dpdk_idle_sleep_ns;
        dc.checksum = config.dpdk_checksum;
        dc.port_stats = config.index == 0;
        backend = io::make_dpdk_backend(dc, error);
#else
        *error = "backend \"dpdk\": this build has no DPDK (install libdpdk-dev and rebuild with -Ddpdk=enabled)";
#endif
    } else {
        backend = io::make_uring_backend(bc, error);
    }
    if (!backend) return nullptr;
    return std::unique_ptr<Worker>(new Worker(config, identity, mesh, control_bell, std::move(backend)));
}

Worker::Worker(const WorkerConfig& config, const crypto::Identity& identity, Mesh& mesh,
               reactor::Doorbell& control_bell, std::unique_ptr<io::Backend> backend)
    : config_(config),
      mesh_(mesh),
      control_bell_(control_bell),
      bell_(mesh.doorbell(config.index)),
      backend_(std::move(backend)),
      reactor_(clock_, config.reactor, mesh.doorbell(config.index)),
      commands_(config.ring_slots),
      events_(config.ring_slots) {
    node::NodeConfig nc = config.node;
    nc.worker = config.index;
    nc.workers = config.workers;
    // The engine reads the iteration's time: one clock read per reactor iteration, not several per cell.
    node_ = std::make_unique<node::Node>(identity, nc, reactor_.loop_clock(), wall_, *backend_);
    if (config.workers > 1) node_->set_handoff(this);
    node_->set_faults(config.faults);
    reactor_.add_source(*this);
    reactor_.set_waiter(*backend_);
    tick_timer_.fire = &Worker::on_tick;
    tick_timer_.context = this;
    tracked_.reserve(1024);
    // Counters restart from 0 with the new epoch (this process's engine counts from 0): publish zeros at once, so
    // the block never shows the new epoch with the previous process's counts. The thread that runs the worker
    // starts after this, so the block keeps a single writer.
    if (config.stats_block != nullptr) {
        shm_stats_ = shm::StatsWriter(config.stats_block, config.shm_epoch);
        const std::array<uint64_t, std::size_t(shm::Stat::kCount)> zeros{};
        shm_stats_.publish(zeros, shm::monotonic_ns());
    }
}

Worker::~Worker() {
    stop();
    // Commands the thread did not get to (pushed just before stop) still own their objects.
    Command c;
    while (commands_.try_pop(&c)) {
        delete c.bytes;
        delete c.nodes;
        delete c.gossip;
    }
    // The tick timer is a member declared after the reactor, so it is destroyed first: unschedule it (the thread
    // has ended) or the wheel would keep a dangling link (and a debug build asserts).
    reactor_.timers().cancel(tick_timer_);
}

void Worker::start() {
    thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
    stop_.store(true, std::memory_order_release);
    bell_.ring();
    if (thread_.joinable()) thread_.join();
}

void Worker::run() {
    reactor::set_current_thread_name("voxa-w" + std::to_string(config_.index));
    if (config_.cpu >= 0) {
        std::string why;
        if (!reactor::pin_current_thread(config_.cpu, &why)) {
            log(LogLevel::kWarn, "worker not pinned", {{"worker", config_.index}, {"error", why}});
        }
    }
    reactor_.timers().schedule(tick_timer_, clock_.now_ns() + config_.tick_ns);
    reactor_.run(stop_);
    backend_->flush();
}

void Worker::on_tick(reactor::Timer& t, uint64_t now_ns) noexcept {
    auto* self = static_cast<Worker*>(t.context);
    self->node_->tick();
    self->track_results();
    if (now_ns - self->last_stats_ns_ >= self->config_.stats_ns) self->publish_stats();
    if (now_ns - self->last_snapshot_ns_ >= self->config_.snapshot_ns) self->send_snapshot();
    self->reactor_.timers().schedule(t, now_ns + self->config_.tick_ns);
}

// One reactor iteration's worth of work: received datagrams, handovers, commands, engine output, then the TX
// flush: the backend submits by itself whenever a batch fills; what is left goes out as soon as input pauses
// (this poll found less than a full budget) or, under sustained load, after tx_flush_ns.
std::size_t Worker::poll(uint64_t now_ns) noexcept {
    const std::size_t received = backend_->poll(*this, config_.rx_budget);
    std::size_t work = received;
    if (config_.workers > 1) work += poll_handovers();
    work += poll_commands();
    poll_engine_output();
    if (backend_->tx_pending() && (received < config_.rx_budget || now_ns - last_flush_ns_ >= config_.tx_flush_ns)) {
        backend_->flush();
        last_flush_ns_ = now_ns;
    }
    return work;
}

void Worker::on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept {
    if (config_.workers > 1) {
        const uint32_t owner = io::steer_worker(data, len, config_.workers);
        if (owner != io::kAnyWorker && owner != config_.index) {
            reactor::SlotRing& ring = mesh_.datagrams(config_.index, owner);
            uint8_t* slot = len + kDatagramHeadBytes <= ring.slot_bytes() ? ring.reserve() : nullptr;
            if (slot == nullptr) {
                ++handover_drops_;
                return;
            }
            std::memcpy(slot, &from, sizeof from);
            const auto n = uint16_t(len);
            std::memcpy(slot + sizeof from, &n, sizeof n);
            std::memcpy(slot + kDatagramHeadBytes, data, len);
            ring.commit(kDatagramHeadBytes + len);
            mesh_.doorbell(owner).ring();
            ++handover_out_;
            return;
        }
    }
    node_->on_datagram(from, data, len);
}

bool Worker::handoff(uint8_t to, const node::Handoff& h, std::span<const uint8_t> data) noexcept {
    if (to >= config_.workers || to == config_.index) return false;
    reactor::SlotRing& ring = mesh_.handoffs(config_.index, to);
    if (kHandoffHeadBytes + data.size() > ring.slot_bytes()) return false;
    uint8_t* slot = ring.reserve();
    if (slot == nullptr) return false;
    std::memcpy(slot, &h, sizeof h);
    const auto n = uint16_t(data.size());
    std::memcpy(slot + sizeof h, &n, sizeof n);
    if (!data.empty()) std::memcpy(slot + kHandoffHeadBytes, data.data(), data.size());
    ring.commit(kHandoffHeadBytes + data.size());
    mesh_.doorbell(to).ring();
    return true;
}

std::size_t Worker::poll_handovers() noexcept {
    std::size_t work = 0;
    for (std::size_t from = 0; from < config_.workers; ++from) {
        if (from == config_.index) continue;
        reactor::SlotRing& dgrams = mesh_.datagrams(from, config_.index);
        for (std::size_t i = 0; i < config_.rx_budget; ++i) {
            std::size_t len = 0;
            const uint8_t* slot = dgrams.peek(&len);
            if (slot == nullptr) break;
            Endpoint ep;
            uint16_t n = 0;
            std::memcpy(&ep, slot, sizeof ep);
            std::memcpy(&n, slot + sizeof ep, sizeof n);
            // The engine decrypts in place: the slot is ours until release().
            node_->on_datagram(ep, const_cast<uint8_t*>(slot) + kDatagramHeadBytes, n);
            dgrams.release();
            ++handover_in_;
            ++work;
        }
        reactor::SlotRing& msgs = mesh_.handoffs(from, config_.index);
        for (std::size_t i = 0; i < config_.rx_budget; ++i) {
            std::size_t len = 0;
            const uint8_t* slot = msgs.peek(&len);
            if (slot == nullptr) break;
            node::Handoff h;
            uint16_t n = 0;
            std::memcpy(&h, slot, sizeof h);
            std::memcpy(&n, slot + sizeof h, sizeof n);
            node_->on_handoff(h, std::span<const uint8_t>(slot + kHandoffHeadBytes, n));
            msgs.release();
            ++work;
        }
    }
    return work;
}

bool Worker::push(const Command& c) {
    if (!commands_.try_push(c)) return false;
    bell_.ring();
    return true;
}

void Worker::emit(const Event& e) noexcept {
    Event copy = e;
    copy.worker = config_.index;
    if (!events_.try_push(copy)) {
        // The control thread is far behind: drop, freeing what the event owned.
        delete copy.error;
        delete copy.received;
        delete copy.gossip;
        delete copy.snapshot;
        ++event_drops_;
        return;
    }
    control_bell_.ring();
}

std::size_t Worker::poll_commands() noexcept {
    std::size_t work = 0;
    Command c;
    while (work < 16 && commands_.try_pop(&c)) {
        ++work;
        ++command_count_;
        switch (c.kind) {
            case Command::Kind::kSend:
            case Command::Kind::kReply: {
                std::unique_ptr<std::vector<uint8_t>> bytes(c.bytes);
                std::string error;
                std::optional<MessageId> id;
                const std::span<const uint8_t> message =
                    bytes ? std::span<const uint8_t>(*bytes) : std::span<const uint8_t>();
                // Setting up a message allocates (its parts); that is per message, not per packet.
                id = c.kind == Command::Kind::kSend ? node_->send(c.node, message, &error)
                                                    : node_->reply(c.message, message, &error);
                if (!id) {
                    emit(Event{Event::Kind::kRejected, 0, 0, c.token, {}, new std::string(error), nullptr, nullptr});
                    break;
                }
                emit(Event{Event::Kind::kAccepted, 0, 0, c.token, *id, nullptr, nullptr, nullptr});
                if (c.report) tracked_.emplace_back(*id, c.token);
                break;
            }
            case Command::Kind::kStatus:
                emit(Event{Event::Kind::kState, 0, uint8_t(node_->send_state(c.message)), c.token, c.message, nullptr,
                           nullptr, nullptr});
                break;
            case Command::Kind::kAddNodes: {
                std::unique_ptr<std::vector<directory::Descriptor>> nodes(c.nodes);
                for (const directory::Descriptor& d : *nodes) {
                    if (auto peer = crypto::PeerIdentity::from_ed25519(d.ed25519)) {
                        node_->add_known_node(*peer, d.endpoint, d.capacity, d.relay);
                    }
                }
                break;
            }
            case Command::Kind::kSetGossip: {
                std::unique_ptr<std::vector<std::vector<uint8_t>>> bodies(c.gossip);
                node_->set_gossip(std::move(*bodies));
                break;
            }
            case Command::Kind::kConnect: node_->connect(c.node); break;
            case Command::Kind::kForget: node_->forget_node(c.node); break;
            case Command::Kind::kPolicy: {
                std::string why = node_->set_policy(c.policy);
                if (!why.empty()) {
                    Event e;
                    e.kind = Event::Kind::kPolicyRefused;
                    e.error = new std::string(std::move(why));
                    emit(e);
                }
                break;
            }
        }
    }
    return work;
}

void Worker::poll_engine_output() noexcept {
    node::Received r;
    while (node_->pop_received(&r)) {
        Event e{Event::Kind::kReceived, 0, 0, 0, r.message_id, nullptr, new node::Received(std::move(r)), nullptr};
        emit(e);
    }
    node::CircuitEvent ce;
    while (node_->pop_circuit_event(&ce)) {
        Event e;
        e.kind = ce.up ? Event::Kind::kCircuitUp : Event::Kind::kCircuitDown;
        e.token = ce.id;
        e.state = ce.hops;
        std::memcpy(e.message.data(), &ce.reason, sizeof ce.reason);
        emit(e);
    }
    std::vector<uint8_t> body;
    while (node_->pop_gossip(&body)) {
        emit(Event{Event::Kind::kGossip, 0, 0, 0, {}, nullptr, nullptr, new std::vector<uint8_t>(std::move(body))});
    }
}

void Worker::track_results() noexcept {
    for (std::size_t i = 0; i < tracked_.size();) {
        const node::SendState s = node_->send_state(tracked_[i].first);
        if (s == node::SendState::kDelivered || s == node::SendState::kFailed || s == node::SendState::kUnknown) {
            std::string* error = s == node::SendState::kDelivered ? nullptr
                                 : new std::string(s == node::SendState::kFailed ? "delivery failed or timed out"
                                                                                 : "message forgotten");
            emit(Event{Event::Kind::kResult, 0, uint8_t(s == node::SendState::kUnknown ? node::SendState::kFailed : s),
                       tracked_[i].second, tracked_[i].first, error, nullptr, nullptr});
            tracked_[i] = tracked_.back();
            tracked_.pop_back();
        } else {
            ++i;
        }
    }
}

void Worker::publish_stats() noexcept {
    last_stats_ns_ = clock_.now_ns();
    stats_seq_.fetch_add(1, std::memory_order_acq_rel);   // odd: writing
    std::atomic_thread_fence(std::memory_order_release);
    stats_.node = node_->stats();
    stats_.link = node_->link_stats();
    stats_.reassembly = node_->reassembly_stats();
    stats_.backend = backend_->stats();
    stats_.reactor = reactor_.stats();
    stats_.relay_circuits = node_->relay_circuits();
    stats_.origin_circuits = node_->origin_circuits();
    stats_.known_nodes = node_->known_nodes();
    stats_.handover_datagrams_out = handover_out_;
    stats_.handover_datagrams_in = handover_in_;
    stats_.handover_drops = handover_drops_;
    stats_.command_count = command_count_;
    stats_.event_drops = event_drops_ + shm_event_drops_.load(std::memory_order_relaxed);
    stats_.cpu_ns = thread_cpu_ns();
    std::atomic_thread_fence(std::memory_order_release);
    stats_seq_.fetch_add(1, std::memory_order_acq_rel);   // even: stable
    if (shm_stats_.valid()) publish_shm_stats(stats_, shm::monotonic_ns());
}

// The shm block carries the counters under the names of include/voxa/shm.h (kStatInfo); per-reason drop arrays
// are summed into one counter per layer (the local STATS JSON keeps them by reason).
void Worker::publish_shm_stats(const WorkerStats& s, uint64_t now_ns) noexcept {
    using shm::Stat;
    auto sum = [](const uint64_t* a, std::size_t n) {
        uint64_t t = 0;
        for (std::size_t i = 0; i < n; ++i) t += a[i];
        return t;
    };
    std::array<uint64_t, std::size_t(Stat::kCount)> v{};
    auto set = [&v](Stat i, uint64_t x) { v[std::size_t(i)] = x; };
    set(Stat::kRxPackets, s.backend.rx_packets);
    set(Stat::kRxBytes, s.backend.rx_bytes);
    set(Stat::kTxPackets, s.backend.tx_packets);
    set(Stat::kTxBytes, s.backend.tx_bytes);
    set(Stat::kRxNoBuffer, s.backend.rx_no_buffer);
    set(Stat::kRxErrors, s.backend.rx_errors);
    set(Stat::kTxDroppedFull, s.backend.tx_dropped_full);
    set(Stat::kTxErrors, s.backend.tx_errors);
    set(Stat::kLinkPacketsIn, s.link.packets_in);
    set(Stat::kLinkPacketsOut, s.link.packets_out);
    set(Stat::kLinkDrops, sum(s.link.drops, std::size(s.link.drops)));
    set(Stat::kHandshakesInitiated, s.link.handshakes_initiated);
    set(Stat::kHandshakesCompleted, s.link.handshakes_completed);
    set(Stat::kSessionsUp, s.link.sessions_up);
    set(Stat::kCellsRelayedForward, s.node.cells_relayed_forward);
    set(Stat::kCellsRelayedBackward, s.node.cells_relayed_backward);
    set(Stat::kCellsOriginated, s.node.cells_originated);
    set(Stat::kCellsEnded, s.node.cells_ended);
    set(Stat::kNodeDrops, sum(s.node.drops, std::size(s.node.drops)));
    set(Stat::kCircuitDrops, sum(s.node.circuit_drops, std::size(s.node.circuit_drops)));
    set(Stat::kCircuitsBuilt, s.node.circuits_built);
    set(Stat::kCircuitsFailed, s.node.circuits_failed);
    set(Stat::kCircuitsRelayed, s.node.circuits_relayed);
    set(Stat::kRelayCircuits, s.relay_circuits);
    set(Stat::kOriginCircuits, s.origin_circuits);
    set(Stat::kMessagesSent, s.node.messages_sent);
    set(Stat::kMessagesDelivered, s.node.messages_delivered);
    set(Stat::kMessagesFailed, s.node.messages_failed);
    set(Stat::kMessagesReceived, s.node.messages_received);
    set(Stat::kFragmentsSent, s.node.fragments_sent);
    set(Stat::kFragmentsRetransmitted, s.node.fragments_retransmitted);
    set(Stat::kReassemblyCompleted, s.reassembly.completed);
    set(Stat::kReassemblyDrops, sum(s.reassembly.drops, std::size(s.reassembly.drops)));
    set(Stat::kReassemblyEvicted, s.reassembly.evicted_age + s.reassembly.evicted_pressure);
    set(Stat::kReassemblyBytesInFlight, s.reassembly.bytes_in_flight);
    set(Stat::kHandoverDatagramsOut, s.handover_datagrams_out);
    set(Stat::kHandoverDatagramsIn, s.handover_datagrams_in);
    set(Stat::kHandoverDrops, s.handover_drops);
    set(Stat::kCommands, s.command_count);
    set(Stat::kEventDrops, s.event_drops);
    set(Stat::kKnownNodes, s.known_nodes);
    set(Stat::kReactorLoops, s.reactor.loops);
    set(Stat::kReactorBusyLoops, s.reactor.busy_loops);
    set(Stat::kCpuNs, s.cpu_ns);
    shm_stats_.publish(v, now_ns);
}

// Allocates (a few vectors) every snapshot_ns: bounded and rare, never per packet.
void Worker::send_snapshot() noexcept {
    last_snapshot_ns_ = clock_.now_ns();
    auto snap = std::make_unique<WorkerSnapshot>();
    node_->sessions(&snap->sessions);
    node_->circuits(&snap->circuits, kSnapshotCircuitsMax);
    snap->policy = node_->policy();
    snap->outgoing_messages = node_->outgoing_messages();
    Event e;
    e.kind = Event::Kind::kSnapshot;
    e.snapshot = snap.release();
    emit(e);
}

uint32_t Worker::command_ring_permille() const noexcept {
    return uint32_t(commands_.size_approx() * 1000 / commands_.capacity());
}

WorkerStats Worker::read_stats() const {
    for (;;) {
        const uint64_t before = stats_seq_.load(std::memory_order_acquire);
        if (before & 1) {
            std::this_thread::yield();
            continue;
        }
        WorkerStats copy;
        std::memcpy(static_cast<void*>(&copy), &stats_, sizeof copy);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (stats_seq_.load(std::memory_order_acquire) == before) return copy;
    }
}

}  // namespace voxa::daemon
