// The node's shared-memory segment (include/voxa/shm.h): one file, `<data>/run/voxa.shm`, mapped MAP_SHARED by
// voxa-control (Side::kControl) and voxa-dataplane (Side::kData). Whichever starts first creates it (mode 0600,
// O_EXCL, ftruncate, layout, then `ready`); the other attaches, after checking magic, ABI version and geometry
// against its own configuration, and refuses with an error naming the file and the mismatch.
//
// Either process may restart while the other runs: the file and everything in it (ring indices, unread messages,
// stats) survive; the restarted side attaches again and its epoch goes up by one, so the other side can tell.
// Liveness: each side stores its pid and a heartbeat time; the other side reads them (peer_alive()).
//
// Threads: open() and the destructor on one setup thread; ring and stats accessors return handles that the one
// thread owning that ring end or stats block then uses; heartbeat() from any one thread of the owning side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/ring.h"
#include "voxa/shm.h"

namespace voxa::shm {

struct SegmentConfig {
    uint32_t workers = 1;          // 1..kWorkersMax
    uint32_t ring_slots = 1024;    // per ring, a power of two, 1..kRingSlotsMax
    uint32_t slot_bytes = 512;     // a multiple of 64, kSlotBytesMin..kSlotBytesMax
};

// The layout a config produces; what open() writes (creator) or expects (attacher).
struct SegmentLayout {
    std::size_t ring_bytes = 0;
    std::size_t stats_offset = 0;
    std::size_t total_bytes = 0;   // a multiple of the page size
};
// Fills *out and returns "" when config is valid; otherwise an error naming the bad field and the allowed range.
std::string segment_layout(const SegmentConfig& config, SegmentLayout* out);

// What one side last published about itself.
struct SideStatus {
    uint64_t epoch = 0;            // 0: never attached
    uint32_t pid = 0;              // 0: detached cleanly (or never attached)
    uint64_t heartbeat_ns = 0;     // CLOCK_MONOTONIC
};

class Segment {
public:
    // Creates `path` (mode 0600, parent directory must exist) or attaches to it, as `side`. Returns nullptr and
    // sets *error (naming the file and what is wrong) when: the config is invalid; the file cannot be created,
    // opened or mapped; it is not a regular file owned by us with mode 0600; its magic, ABI version or geometry
    // differ from `config`; it was never finished by its creator (not ready within ~2 s); or a live process of the
    // same side is attached already. On success this side's epoch has been incremented and its pid and heartbeat
    // stored. The caller owns the Segment; destroying it records a clean detach (pid 0) and unmaps; the file stays.
    static std::unique_ptr<Segment> open(const std::string& path, const SegmentConfig& config, Side side,
                                         std::string* error);
    ~Segment();
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;

    Side side() const noexcept { return side_; }
    bool created() const noexcept { return created_; }     // this open() created the file
    uint64_t epoch() const noexcept { return epoch_; }      // this side's epoch after our attach
    const std::string& path() const noexcept { return path_; }
    const SegmentConfig& config() const noexcept { return config_; }
    const SegmentHeader& header() const noexcept { return *header_; }

    // Ring ends, for worker < config().workers (VOXA_CHECK). The handles point into this mapping: they must not
    // outlive the Segment. Control side: command_producer() and event_consumer(); data side: the other two.
    RingProducer command_producer(uint32_t worker) const noexcept;
    RingConsumer command_consumer(uint32_t worker) const noexcept;
    RingProducer event_producer(uint32_t worker) const noexcept;
    RingConsumer event_consumer(uint32_t worker) const noexcept;

    // Worker `worker`'s stats block; written only by that worker (data side), read by anyone (stats.h).
    StatsBlock* stats_block(uint32_t worker) const noexcept;

    // Stores now_ns (CLOCK_MONOTONIC, monotonic_ns()) as this side's heartbeat.
    void heartbeat(uint64_t now_ns) noexcept;
    SideStatus status(Side side) const noexcept;
    // True when the other side is attached (pid != 0), its process exists, and its heartbeat is at most stale_ns
    // older than now_ns. Makes one kill(pid, 0) system call.
    bool peer_alive(uint64_t now_ns, uint64_t stale_ns) const noexcept;

private:
    Segment() = default;
    RingHeader* ring_at(uint64_t offset) const noexcept;

    std::string path_;
    SegmentConfig config_;
    Side side_ = Side::kControl;
    bool created_ = false;
    uint64_t epoch_ = 0;
    uint8_t* base_ = nullptr;
    std::size_t bytes_ = 0;
    SegmentHeader* header_ = nullptr;
};

// True when process `pid` exists and is not a zombie (killed, not yet reaped: kill(pid, 0) still succeeds on it,
// but it will never run again). 0 is never alive. Reads /proc/<pid>/stat; any thread.
bool process_alive(uint32_t pid) noexcept;

// CLOCK_MONOTONIC in nanoseconds: the clock of heartbeat_ns and StatsBlock::updated_ns in both processes.
uint64_t monotonic_ns() noexcept;

}  // namespace voxa::shm
