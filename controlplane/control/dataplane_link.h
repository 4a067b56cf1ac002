// voxa-control's end of the shared-memory channel (include/voxa/shm.h): it attaches to `<data>/run/voxa.shm` as
// Side::kControl (creating it when the data plane is not up yet), sends typed commands on worker 0's command ring,
// drains every worker's event ring into JSON events, heartbeats, and watches the data plane's liveness and epoch.
//
// Never blocks the data plane: commands are refused with -EAGAIN when the ring is full or the data plane is down,
// and the rings are only ever read or written through the nonblocking SPSC handles.
//
// Threads: command() from any thread (a mutex makes the many callers one producer); poll_events(), heartbeat()
// and watch() from the main thread only (the one consumer); the status accessors from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shm/messages.h"
#include "shm/segment.h"

namespace voxa::cp {

inline constexpr uint64_t kDataplaneStaleNs = 2'000'000'000;   // no heartbeat for this long: the data plane is down
inline constexpr uint64_t kHeartbeatIntervalNs = 100'000'000;

// Parses one data-plane command in the JSON of plugin_abi.h (voxa_host.dataplane_command) into typed commands.
// A peer_update with more descriptors than fit one slot becomes several commands; their bytes (and the names of
// name_set / name_remove) live in *storage, which must outlive the commands. false with *error naming the field on
// bad input.
bool parse_command(std::string_view command_json, std::size_t body_bytes_max, std::vector<shm::Command>* out,
                   std::vector<std::vector<uint8_t>>* storage, std::string* error);

// The JSON form of one decoded event, with the worker it came from, and its topic ("dataplane.session_up", ...).
nlohmann::json event_json(const shm::Event& event, uint32_t worker);
std::string_view event_topic(const shm::Event& event);

class DataplaneLink {
public:
    // Attaches as Side::kControl (or creates the segment). nullptr with *error from Segment::open.
    static std::unique_ptr<DataplaneLink> open(const std::string& path, const shm::SegmentConfig& config,
                                               std::string* error);

    // Any thread. 0 once queued; -EINVAL (and *error) for a bad command; -EAGAIN when the data plane is down or
    // the ring has no room for all of it (nothing of a refused command is sent unless the ring filled midway
    // through a split peer_update).
    int command(std::string_view command_json, std::string* error);
    int command(const shm::Command& command);

    // Main thread. Pops up to max_events events from every worker's event ring, decodes them and hands each to
    // sink(topic, json). Slots that do not decode are skipped and counted in bad_slots(). Returns events handed.
    std::size_t poll_events(const std::function<void(std::string_view topic, const nlohmann::json&)>& sink,
                            std::size_t max_events = 1024);

    // Main thread. Stores our heartbeat.
    void heartbeat(uint64_t now_ns) noexcept { segment_->heartbeat(now_ns); }

    struct Transition {
        bool up = false;                 // true: the data plane came up (or restarted: a new epoch); false: went down
        uint64_t epoch = 0;
        uint32_t pid = 0;
    };
    // Main thread. Compares the data plane's liveness (Segment::peer_alive, kDataplaneStaleNs) and epoch with the
    // last call's; returns the transitions since (a restart seen between two calls gives down then up).
    std::vector<Transition> watch(uint64_t now_ns);

    // Any thread.
    bool dataplane_up(uint64_t now_ns) const noexcept { return segment_->peer_alive(now_ns, kDataplaneStaleNs); }
    shm::SideStatus status(shm::Side side) const noexcept { return segment_->status(side); }
    uint64_t bad_slots() const noexcept { return bad_slots_.load(std::memory_order_relaxed); }
    uint64_t commands_sent() const noexcept { return commands_sent_.load(std::memory_order_relaxed); }
    const shm::Segment& segment() const noexcept { return *segment_; }

private:
    DataplaneLink() = default;

    std::unique_ptr<shm::Segment> segment_;
    std::mutex command_mutex_;
    shm::RingProducer commands_;                 // worker 0's command ring, under command_mutex_
    std::vector<shm::RingConsumer> events_;      // one per worker; main thread
    std::atomic<uint64_t> bad_slots_{0};
    std::atomic<uint64_t> commands_sent_{0};
    bool was_up_ = false;                        // main thread (watch)
    uint64_t last_epoch_ = 0;
};

}  // namespace voxa::cp
