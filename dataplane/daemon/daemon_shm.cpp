// The data plane's end of the node's shm segment (daemon.h): opening it (and replacing a stale one whose geometry no
// longer fits the configuration), the heartbeat, the command rings (decode, apply, refuse), the event rings
// (session, circuit, overload and error events) and the shm part of the local STATS JSON. Control thread only.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "common/log.h"
#include "daemon/daemon.h"
#include "directory/descriptor.h"
#include "node/node.h"
#include "shm/node_segment.h"

namespace voxa::daemon {
namespace {

constexpr uint64_t kHeartbeatNs = 100 * kNsPerMs;
constexpr uint64_t kOverloadEveryNs = kNsPerS;            // at most one Overload per resource per worker per second
constexpr uint64_t kErrorLogEveryNs = kNsPerS;
constexpr uint64_t kNameSweepNs = kNsPerS;               // expired names leave the table (they are never answered)
constexpr uint64_t kControlStaleNs = 2 * kNsPerS;         // a control plane silent this long is not alive
constexpr int kCreatorWaitMs = 2500;                      // a concurrent creator finishes well within this
constexpr std::size_t kCommandsPerPoll = 64;              // per ring per loop: bounds one loop's work
constexpr uint64_t kNoRotationNs = 100ull * 365 * 24 * 3600 * kNsPerS;   // rotation_s 0: never (100 years)

// errno-style codes in Error events (ErrorEvent::code), so voxa-control can map them as service errors.
constexpr uint32_t kErrBadCommand = EBADMSG;
constexpr uint32_t kErrRefused = EINVAL;
constexpr uint32_t kErrBusy = EAGAIN;

uint64_t unix_now_s() noexcept { return uint64_t(::time(nullptr)); }

std::string geometry_text(uint32_t workers, uint32_t slots, uint32_t slot_bytes) {
    return std::to_string(workers) + " workers, " + std::to_string(slots) + " slots of " +
           std::to_string(slot_bytes) + " bytes per ring";
}

// Looks at an existing segment file without attaching: when its geometry (or ABI) differs from `want` and no live
// voxa-control is attached, removes it so that open() creates a fresh one (the operator changed `cores`); with a
// live control plane attached, fails with what differs and what to do. Anything else is left to Segment::open.
bool replace_stale_segment(const std::filesystem::path& path, const shm::SegmentConfig& want, std::string* error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return true;   // absent (or unreadable: Segment::open reports it)
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || std::size_t(st.st_size) < shm::kHeaderBytes) {
        ::close(fd);
        return true;
    }
    void* p = ::mmap(nullptr, shm::kHeaderBytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return true;
    const auto* h = static_cast<const shm::SegmentHeader*>(p);
    // voxa-control may be creating the file right now (both processes started together): its magic and geometry
    // are only meaningful once `ready` is set, so wait for that, bounded, before judging. A file still unfinished
    // after the wait was left by a creator that died while laying it out.
    bool ready = false;
    for (int waited_ms = 0; waited_ms <= kCreatorWaitMs; waited_ms += 10) {
        ready = h->ready.load(std::memory_order_acquire) == shm::kReadyValue;
        if (ready) break;
        ::usleep(10'000);
    }
    bool stale = false;
    std::string what;
    if (!ready) {
        stale = true;
        what = "a layout its creator never finished";
    } else if (std::memcmp(h->magic, shm::kMagic, sizeof shm::kMagic) != 0 || h->abi_version != shm::kAbiVersion) {
        stale = true;
        what = "a different magic or ABI version";
    } else if (h->worker_count != want.workers || h->ring_slots != want.ring_slots ||
               h->slot_bytes != want.slot_bytes) {
        stale = true;
        what = geometry_text(h->worker_count, h->ring_slots, h->slot_bytes);
    }
    const auto& control = h->sides[std::size_t(shm::Side::kControl)];
    const uint32_t pid = control.pid.load(std::memory_order_acquire);
    const uint64_t beat = control.heartbeat_ns.load(std::memory_order_acquire);
    ::munmap(p, shm::kHeaderBytes);
    if (!stale) return true;
    const uint64_t now = shm::monotonic_ns();
    const bool control_alive = shm::process_alive(pid) && now >= beat && now - beat <= kControlStaleNs;
    const std::string need = geometry_text(want.workers, want.ring_slots, want.slot_bytes);
    if (control_alive) {
        *error = "shm segment " + path.string() + " has " + what + " but this configuration (dataplane.cores) needs " +
                 need + ", and voxa-control (pid " + std::to_string(pid) +
                 ") is attached to it: restart voxa-control with the same configuration (it recreates the segment), "
                 "or stop it and start voxa-dataplane first";
        return false;
    }
    log(LogLevel::kWarn, "shm segment does not fit this configuration; no live control plane attached: recreating it",
        {{"file", path.string()}, {"found", what}, {"need", need}});
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) {
        *error = "shm segment " + path.string() + ": cannot remove the stale segment: " + ec.message();
        return false;
    }
    return true;
}

}  // namespace

bool Daemon::open_segment(std::string* error) {
    const std::filesystem::path path = shm::segment_path(config_.data_dir);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        *error = "shm segment: cannot create " + path.parent_path().string() + ": " + ec.message();
        return false;
    }
    const auto n = uint32_t(config_.dataplane.cores.size());
    const shm::SegmentConfig geometry = shm::segment_config_for(n);
    if (!replace_stale_segment(path, geometry, error)) return false;
    std::string why;
    segment_ = shm::Segment::open(path.string(), geometry, shm::Side::kData, &why);
    if (!segment_) {
        *error = "shm segment: " + why;
        return false;
    }
    for (uint32_t w = 0; w < n; ++w) {
        commands_in_.push_back(segment_->command_consumer(w));
        events_out_.push_back(segment_->event_producer(w));
    }
    ring_drops_seen_.assign(n, 0);
    snapshots_.resize(n);
    snapshot_at_ns_.assign(n, 0);
    overload_.assign(n, Overload{});
    log(LogLevel::kInfo, "shm segment attached",
        {{"file", path.string()}, {"epoch", segment_->epoch()}, {"created", segment_->created()}});
    return true;
}

void Daemon::push_event(std::size_t worker, const shm::Event& e) {
    if (worker >= events_out_.size()) return;
    if (!shm::push_event(events_out_[worker], e)) {
        // voxa-control is gone or far behind: drop and count, never block the data plane.
        ++shm_event_drops_;
        workers_[worker]->count_shm_event_drop();
    }
}

void Daemon::refuse(std::size_t ring, uint32_t code, const std::string& text) {
    ++shm_command_errors_;
    const std::size_t room = events_out_.empty() ? 0 : events_out_[0].body_bytes_max() - 8;
    push_event(ring, shm::ErrorEvent{code, std::string_view(text).substr(0, room)});
    const uint64_t now = shm::monotonic_ns();
    if (now - last_error_log_ns_ >= kErrorLogEveryNs) {
        log(LogLevel::kWarn, "shm command refused",
            {{"ring", ring}, {"error", text}, {"unlogged_before", errors_unlogged_}});
        last_error_log_ns_ = now;
        errors_unlogged_ = 0;
    } else {
        ++errors_unlogged_;
    }
}

// Commands arrive on any worker's ring (voxa-control uses ring 0 for node-wide ones); each is applied here, on the
// control thread, which then tells the workers through their own command rings.
void Daemon::poll_shm_commands() {
    for (std::size_t w = 0; w < commands_in_.size(); ++w) {
        shm::RingConsumer& ring = commands_in_[w];
        for (std::size_t i = 0; i < kCommandsPerPoll; ++i) {
            shm::SlotView slot;
            if (!ring.peek(&slot)) break;
            shm::Command c;
            const shm::DecodeError err = shm::decode_command(slot.type, slot.body, &c);
            if (err == shm::DecodeError::kNone) {
                ++shm_commands_;
                apply(w, c);   // borrows from the slot: before release()
            } else {
                char type[8];
                std::snprintf(type, sizeof type, "0x%04x", unsigned(slot.type));
                refuse(w, kErrBadCommand, std::string("malformed command slot (type ") + type + ", seq " +
                                              std::to_string(slot.seq) + "): " + shm::decode_error_name(err));
            }
            ring.release();
        }
        // Slots the ring itself skipped (bad length, sequence or reserved bits) count as malformed commands too.
        uint64_t skipped = 0;
        for (uint64_t d : ring.stats().drops) skipped += d;
        if (skipped != ring_drops_seen_[w]) {
            const uint64_t fresh = skipped - ring_drops_seen_[w];
            ring_drops_seen_[w] = skipped;
            shm_command_errors_ += fresh - 1;   // refuse() counts one
            refuse(w, kErrBadCommand, std::to_string(fresh) + " malformed command slot(s) skipped on ring " +
                                          std::to_string(w));
        }
    }
}

void Daemon::apply(std::size_t ring, const shm::Command& command) {
    const uint64_t now_ns = shm::monotonic_ns();
    if (const auto* c = std::get_if<shm::PeerUpdate>(&command)) {
        std::vector<directory::Descriptor> fresh;
        const uint64_t now_s = unix_now_s();
        for (std::size_t i = 0; i < c->count; ++i) {
            const auto bytes = c->descriptors.subspan(i * directory::kDescriptorBytes, directory::kDescriptorBytes);
            directory::Descriptor d;
            const directory::Drop why = directory::verify_descriptor(bytes, now_s, directory::kTtlDefaultS, &d);
            if (why != directory::Drop::kNone) {
                refuse(ring, kErrRefused, "peer update: descriptor " + std::to_string(i) + " refused: " +
                                              std::string(directory::drop_name(why)));
                continue;
            }
            directory::Descriptor held;
            const auto merged = directory_.merge(bytes, now_s, &held);
            if (merged == directory::Directory::Merge::kNew || merged == directory::Directory::Merge::kUpdated) {
                fresh.push_back(held);
            }
        }
        add_nodes(fresh);
        if (!fresh.empty()) refresh_gossip();
        return;
    }
    if (const auto* c = std::get_if<shm::PeerRemove>(&command)) {
        const bool known = directory_.remove(c->node);
        for (std::size_t w = 0; w < workers_.size(); ++w) {
            Command fc;
            fc.kind = Command::Kind::kForget;
            fc.node = c->node;
            if (!push(w, fc)) refuse(ring, kErrBusy, "peer remove: worker " + std::to_string(w) + " busy");
        }
        log(LogLevel::kInfo, "peer removed by the control plane", {{"node_id", to_hex(c->node)}, {"known", known}});
        return;
    }
    if (const auto* c = std::get_if<shm::CircuitPolicy>(&command)) {
        node::CircuitPolicy p;
        p.hops = c->hops;
        p.n = c->n;
        p.k = c->k;
        p.circuit_lifetime_ns = c->rotation_s == 0 ? kNoRotationNs : uint64_t(c->rotation_s) * kNsPerS;
        const std::string why = node::Node::check_policy(p, config_.p2p.parts_per_relay_max);
        if (!why.empty()) {
            refuse(ring, kErrRefused, "circuit policy refused: " + why);
            return;
        }
        policy_ = p;
        for (std::size_t w = 0; w < workers_.size(); ++w) {
            Command pc;
            pc.kind = Command::Kind::kPolicy;
            pc.policy = p;
            if (!push(w, pc)) refuse(ring, kErrBusy, "circuit policy: worker " + std::to_string(w) + " busy");
        }
        log(LogLevel::kInfo, "circuit policy set",
            {{"hops", p.hops}, {"n", p.n}, {"k", p.k}, {"rotation_s", c->rotation_s}});
        return;
    }
    if (const auto* c = std::get_if<shm::Drain>(&command)) {
        if (!draining_) drain_started_ns_ = now_ns;
        draining_ = true;
        drain_deadline_ns_ = now_ns + uint64_t(c->deadline_ms) * kNsPerMs;
        log(LogLevel::kInfo, "draining: new SENDs are refused", {{"deadline_ms", c->deadline_ms}});
        return;
    }
    if (const auto* c = std::get_if<shm::SetLogLevel>(&command)) {
        set_log_level(LogLevel(c->level));
        log(LogLevel::kInfo, "log level set by the control plane", {{"level", c->level}});
        return;
    }
    if (const auto* c = std::get_if<shm::NameSet>(&command)) {
        const auto result = names_.set(c->name, {c->node, c->expires_s}, unix_now_s());
        if (result == directory::NameTable::SetResult::kFull) {
            refuse(ring, kErrBusy, "name set: the name table is full (" + std::to_string(names_.capacity()) +
                                       " names); \"" + std::string(c->name) + "\" refused");
        }
        return;
    }
    if (const auto* c = std::get_if<shm::NameRemove>(&command)) {
        names_.remove(c->name);
        return;
    }
    if (const auto* c = std::get_if<shm::Shutdown>(&command)) {
        if (!draining_) drain_started_ns_ = now_ns;
        draining_ = true;
        shutdown_ = true;
        shutdown_deadline_ns_ = now_ns + uint64_t(c->deadline_ms) * kNsPerMs;
        drain_deadline_ns_ = shutdown_deadline_ns_;
        log(LogLevel::kInfo, "shutdown requested by the control plane", {{"deadline_ms", c->deadline_ms}});
        return;
    }
}

// Sessions come and go inside the engine's link layer; the workers' snapshots show them, and the difference between
// two consecutive snapshots of a worker is its SessionUp and SessionDown events.
void Daemon::on_snapshot(std::size_t worker, std::unique_ptr<WorkerSnapshot> snap) {
    auto key = [](const NodeId& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); };
    std::unordered_set<std::string> before, after;
    if (snapshots_[worker]) {
        for (const auto& s : snapshots_[worker]->sessions) before.insert(key(s.node));
    }
    for (const auto& s : snap->sessions) {
        after.insert(key(s.node));
        if (before.count(key(s.node)) == 0) push_event(worker, shm::SessionUp{s.node});
    }
    if (snapshots_[worker]) {
        for (const auto& s : snapshots_[worker]->sessions) {
            if (after.count(key(s.node)) == 0) push_event(worker, shm::SessionDown{s.node, 0});
        }
    }
    snapshots_[worker] = std::move(snap);
    snapshot_at_ns_[worker] = shm::monotonic_ns();
}

// Every loop (<= 10 ms apart): the heartbeat every 100 ms and, with it, the overload checks.
void Daemon::shm_tick(uint64_t now_ns) {
    if (now_ns - last_heartbeat_ns_ < kHeartbeatNs) return;
    last_heartbeat_ns_ = now_ns;
    segment_->heartbeat(now_ns);
    if (now_ns - last_name_sweep_ns_ >= kNameSweepNs) {
        last_name_sweep_ns_ = now_ns;
        names_.sweep(unix_now_s());
    }
    using R = shm::OverloadResource;
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        Overload& o = overload_[w];
        auto fire = [&](R r, uint32_t permille, uint64_t value) {
            uint64_t& last = o.last_ns[std::size_t(r)];
            if (last != 0 && now_ns - last < kOverloadEveryNs) return;
            last = now_ns;
            push_event(w, shm::Overload{r, std::min<uint32_t>(permille, 1000), value});
        };
        const shm::RingConsumer& ring = commands_in_[w];
        const auto shm_permille = uint32_t(ring.size_approx() * 1000 / ring.capacity());
        const uint32_t ring_permille = std::max(shm_permille, workers_[w]->command_ring_permille());
        if (ring_permille > 750) fire(R::kCommandRing, ring_permille, ring.size_approx());
        const WorkerStats s = workers_[w]->read_stats();
        if (s.backend.tx_dropped_full > o.tx_dropped_seen) {
            const uint64_t dropped = s.backend.tx_dropped_full - o.tx_dropped_seen;
            const uint64_t sent = s.backend.tx_packets - std::min(s.backend.tx_packets, o.tx_packets_seen);
            fire(R::kTxQueue, uint32_t(dropped * 1000 / (dropped + sent)), dropped);
        }
        o.tx_dropped_seen = s.backend.tx_dropped_full;
        o.tx_packets_seen = s.backend.tx_packets;
        const uint64_t max = config_.dataplane.reassembly_bytes_max;
        if (max != 0 && s.reassembly.bytes_in_flight * 10 > max * 9) {
            fire(R::kReassemblyMemory, uint32_t(s.reassembly.bytes_in_flight * 1000 / max),
                 s.reassembly.bytes_in_flight);
        }
    }
}

// Shutdown ends the run when no local request waits for an answer and every worker's engine, in a snapshot taken
// after the command, has no message left to send; or at the deadline.
bool Daemon::shutdown_complete(uint64_t now_ns) const {
    if (!shutdown_) return false;
    if (now_ns >= shutdown_deadline_ns_) return true;
    if (!pending_.empty()) return false;
    for (std::size_t w = 0; w < snapshots_.size(); ++w) {
        if (!snapshots_[w] || snapshot_at_ns_[w] <= drain_started_ns_) return false;
        if (snapshots_[w]->outgoing_messages != 0) return false;
    }
    return true;
}

void Daemon::add_shm_json(nlohmann::json* out) const {
    nlohmann::json& j = *out;
    j["identity"] = {{"node_id", to_hex(identity_.id())}, {"public_key", to_hex(identity_.peer().ed25519)}};
    j["listen"] = config_.p2p.host + ":" + std::to_string(workers_.empty() ? 0 : workers_[0]->port());
    j["relay"] = config_.p2p.relay;
    j["capacity"] = config_.p2p.capacity;
    j["policy"] = {{"hops", policy_.hops},
                   {"n", policy_.n},
                   {"k", policy_.k},
                   {"parts_per_relay_max", config_.p2p.parts_per_relay_max},
                   {"rotation_s", policy_.circuit_lifetime_ns >= kNoRotationNs ? 0
                                                                              : policy_.circuit_lifetime_ns / kNsPerS}};
    j["draining"] = draining_;
    j["names"] = {{"entries", names_.size()}, {"refused", names_.refused()}};
    const uint64_t now = shm::monotonic_ns();
    const shm::SideStatus control = segment_->status(shm::Side::kControl);
    j["control"] = {{"attached", control.pid != 0},
                    {"pid", control.pid},
                    {"epoch", control.epoch},
                    {"alive", segment_->peer_alive(now, kControlStaleNs)}};
    j["shm"] = {{"epoch", segment_->epoch()},
                {"path", segment_->path()},
                {"commands", shm_commands_},
                {"command_errors", shm_command_errors_},
                {"event_drops", shm_event_drops_}};
    nlohmann::json sessions = nlohmann::json::array();
    nlohmann::json circuits = nlohmann::json::array();
    for (std::size_t w = 0; w < snapshots_.size(); ++w) {
        if (!snapshots_[w]) continue;
        for (const auto& s : snapshots_[w]->sessions) {
            sessions.push_back({{"node_id", to_hex(s.node)}, {"endpoint", s.endpoint.to_string()}, {"worker", w}});
        }
        for (const auto& c : snapshots_[w]->circuits) {
            if (circuits.size() >= kSnapshotCircuitsMax) break;
            nlohmann::json path = nlohmann::json::array();
            for (const auto& id : c.path) path.push_back(to_hex(id));
            circuits.push_back({{"id", c.id},
                                {"worker", w},
                                {"destination", to_hex(c.destination)},
                                {"hops", c.hops},
                                {"path", path},
                                {"state", c.state},
                                {"age_ms", c.age_ms},
                                {"cells_sent", c.cells_sent}});
        }
    }
    j["sessions"] = sessions;
    j["circuits"] = circuits;
}

}  // namespace voxa::daemon
