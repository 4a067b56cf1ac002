#include "shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "voxa/assert.h"

namespace voxa::shm {

namespace {

constexpr std::size_t kPageBytes = 4096;
constexpr int kReadyWaitMs = 2000;

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

std::string errno_text(int e) { return std::string(std::strerror(e)); }

// Closes a descriptor on every path out of open().
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

std::string mismatch(const std::string& path, const char* what, uint64_t in_file, uint64_t expected) {
    return path + ": " + what + " is " + std::to_string(in_file) + " in the segment but " + std::to_string(expected) +
           " is configured (the other process runs another configuration or version; stop both, or remove the "
           "file when neither runs)";
}

}  // namespace

// A process that was killed but not yet reaped by its parent (a zombie, state Z in /proc/<pid>/stat) still
// answers kill(pid, 0); it is gone for our purposes, or a restart right after `kill -9` would be refused.
bool process_alive(uint32_t pid) noexcept {
    if (pid == 0) return false;
    if (::kill(pid_t(pid), 0) != 0 && errno != EPERM) return false;
    char path[32];
    std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
    FILE* f = std::fopen(path, "re");
    if (f == nullptr) return true;            // no /proc: trust kill()
    char line[512];
    std::size_t const n = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    line[n] = '\0';
    // "pid (comm) S ...": comm may contain spaces and parentheses, so the state follows the LAST ')'.
    char const* close = std::strrchr(line, ')');
    return close == nullptr || close[1] != ' ' || (close[2] != 'Z' && close[2] != 'X');
}

uint64_t monotonic_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

std::string segment_layout(const SegmentConfig& c, SegmentLayout* out) {
    if (c.workers < 1 || c.workers > kWorkersMax)
        return "workers is " + std::to_string(c.workers) + "; expected 1.." + std::to_string(kWorkersMax);
    if (c.ring_slots < 1 || c.ring_slots > kRingSlotsMax || (c.ring_slots & (c.ring_slots - 1)) != 0)
        return "ring_slots is " + std::to_string(c.ring_slots) + "; expected a power of two in 1.." +
               std::to_string(kRingSlotsMax);
    if (c.slot_bytes < kSlotBytesMin || c.slot_bytes > kSlotBytesMax || c.slot_bytes % kCacheLineBytes != 0)
        return "slot_bytes is " + std::to_string(c.slot_bytes) + "; expected a multiple of 64 in " +
               std::to_string(kSlotBytesMin) + ".." + std::to_string(kSlotBytesMax);
    out->ring_bytes = ring_bytes(c.ring_slots, c.slot_bytes);
    out->stats_offset = kHeaderBytes + 2 * std::size_t(c.workers) * out->ring_bytes;
    out->total_bytes = round_up(out->stats_offset + std::size_t(c.workers) * sizeof(StatsBlock), kPageBytes);
    return {};
}

std::unique_ptr<Segment> Segment::open(const std::string& path, const SegmentConfig& config, Side side,
                                       std::string* error) {
    VOXA_CHECK(error != nullptr);
    SegmentLayout layout;
    if (std::string e = segment_layout(config, &layout); !e.empty()) {
        *error = path + ": invalid shared-memory geometry: " + e;
        return nullptr;
    }

    // O_EXCL decides who creates: exactly one of two processes starting together wins.
    Fd fd;
    bool created = false;
    fd.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd.fd >= 0) {
        created = true;
        // The umask may have removed bits we want and cannot add any, but say it exactly.
        if (::fchmod(fd.fd, 0600) != 0 || ::ftruncate(fd.fd, off_t(layout.total_bytes)) != 0) {
            *error = path + ": cannot size the new segment: " + errno_text(errno);
            ::unlink(path.c_str());
            return nullptr;
        }
    } else if (errno == EEXIST) {
        fd.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd.fd < 0) {
            *error = path + ": cannot open the existing segment: " + errno_text(errno);
            return nullptr;
        }
    } else {
        *error = path + ": cannot create the segment: " + errno_text(errno);
        return nullptr;
    }

    struct stat st{};
    if (::fstat(fd.fd, &st) != 0) {
        *error = path + ": fstat failed: " + errno_text(errno);
        return nullptr;
    }
    if (!S_ISREG(st.st_mode)) {
        *error = path + ": not a regular file";
        return nullptr;
    }
    // The segment carries commands the data plane obeys: only our own user may be able to write it.
    if (st.st_uid != ::geteuid() || (st.st_mode & 0777) != 0600) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        *error = path + ": mode " + mode + " owner uid " + std::to_string(st.st_uid) + "; expected mode 0600 owned by uid " +
                 std::to_string(::geteuid()) + " (fix with chmod 600, or remove the file when no process uses it)";
        return nullptr;
    }

    // An attacher may arrive while the creator is still laying out: wait, bounded, for `ready`.
    if (!created) {
        for (int waited_ms = 0;; ++waited_ms) {
            if (::fstat(fd.fd, &st) != 0) {
                *error = path + ": fstat failed: " + errno_text(errno);
                return nullptr;
            }
            if (std::size_t(st.st_size) >= kHeaderBytes) {
                void* p = ::mmap(nullptr, kHeaderBytes, PROT_READ, MAP_SHARED, fd.fd, 0);
                if (p == MAP_FAILED) {
                    *error = path + ": mmap of the header failed: " + errno_text(errno);
                    return nullptr;
                }
                auto const* h = static_cast<const SegmentHeader*>(p);
                bool const ready = h->ready.load(std::memory_order_acquire) == kReadyValue;
                ::munmap(p, kHeaderBytes);
                if (ready) break;
            }
            if (waited_ms >= kReadyWaitMs) {
                *error = path + ": segment was never finished by the process that created it (it probably died "
                                "while starting); remove the file when neither process runs";
                return nullptr;
            }
            ::usleep(1000);
        }
        if (std::size_t(st.st_size) != layout.total_bytes) {
            // Checked again below field by field for a clearer message, when the header at least matches.
            if (std::size_t(st.st_size) < kHeaderBytes) {
                *error = mismatch(path, "file size", uint64_t(st.st_size), layout.total_bytes);
                return nullptr;
            }
        }
    }

    std::size_t const map_bytes = created ? layout.total_bytes : std::size_t(st.st_size);
    void* p = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
    if (p == MAP_FAILED) {
        *error = path + ": mmap failed: " + errno_text(errno);
        return nullptr;
    }
    std::unique_ptr<Segment> s(new Segment());
    s->path_ = path;
    s->config_ = config;
    s->side_ = side;
    s->created_ = created;
    s->base_ = static_cast<uint8_t*>(p);
    s->bytes_ = map_bytes;
    s->header_ = static_cast<SegmentHeader*>(p);
    SegmentHeader& h = *s->header_;

    if (created) {
        new (&h) SegmentHeader{};
        std::memcpy(h.magic, kMagic, sizeof kMagic);
        h.abi_version = kAbiVersion;
        h.total_bytes = layout.total_bytes;
        h.header_bytes = kHeaderBytes;
        h.worker_count = config.workers;
        h.ring_slots = config.ring_slots;
        h.slot_bytes = config.slot_bytes;
        h.stats_counters = kStatsCounters;
        h.stats_block_bytes = sizeof(StatsBlock);
        h.stats_offset = layout.stats_offset;
        h.ring_header_bytes = sizeof(RingHeader);
        for (uint32_t w = 0; w < config.workers; ++w) {
            h.rings[w].command_offset = kHeaderBytes + (2 * std::size_t(w)) * layout.ring_bytes;
            h.rings[w].event_offset = kHeaderBytes + (2 * std::size_t(w) + 1) * layout.ring_bytes;
            ring_init(s->base_ + h.rings[w].command_offset, config.ring_slots, config.slot_bytes);
            ring_init(s->base_ + h.rings[w].event_offset, config.ring_slots, config.slot_bytes);
            new (s->base_ + layout.stats_offset + w * sizeof(StatsBlock)) StatsBlock{};
        }
        h.ready.store(kReadyValue, std::memory_order_release);
    } else {
        // Compare everything that fixes an offset; the first difference is the message.
        if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) {
            *error = path + ": not a voxa shared-memory segment (bad magic; expected VOXASHM1)";
            return nullptr;
        }
        struct Field {
            const char* what;
            uint64_t in_file, expected;
        } const fields[] = {
            {"ABI version", h.abi_version, kAbiVersion},
            {"header bytes", h.header_bytes, kHeaderBytes},
            {"worker count", h.worker_count, config.workers},
            {"ring slot count", h.ring_slots, config.ring_slots},
            {"ring slot bytes", h.slot_bytes, config.slot_bytes},
            {"stats counters", h.stats_counters, kStatsCounters},
            {"stats block bytes", h.stats_block_bytes, sizeof(StatsBlock)},
            {"ring header bytes", h.ring_header_bytes, sizeof(RingHeader)},
            {"stats offset", h.stats_offset, layout.stats_offset},
            {"total bytes", h.total_bytes, layout.total_bytes},
            {"file size", map_bytes, layout.total_bytes},
        };
        for (const Field& f : fields) {
            if (f.in_file != f.expected) {
                *error = mismatch(path, f.what, f.in_file, f.expected);
                return nullptr;
            }
        }
        for (uint32_t w = 0; w < config.workers; ++w) {
            uint64_t const cmd = kHeaderBytes + (2 * uint64_t(w)) * layout.ring_bytes;
            if (h.rings[w].command_offset != cmd || h.rings[w].event_offset != cmd + layout.ring_bytes) {
                *error = path + ": ring offsets of worker " + std::to_string(w) + " do not match the layout";
                return nullptr;
            }
            for (uint64_t off : {h.rings[w].command_offset, h.rings[w].event_offset}) {
                const RingHeader* r = s->ring_at(off);
                if (r->slot_count != config.ring_slots || r->slot_bytes != config.slot_bytes) {
                    *error = path + ": ring geometry of worker " + std::to_string(w) + " does not match the header";
                    return nullptr;
                }
            }
        }
    }

    // One process per side: a second one would break the single-producer/single-consumer rule.
    SideState& me = h.sides[uint32_t(side)];
    uint32_t const other_pid = me.pid.load(std::memory_order_acquire);
    uint32_t const self = uint32_t(::getpid());
    if (other_pid != 0 && other_pid != self && process_alive(other_pid)) {
        *error = path + ": the " + std::string(side == Side::kControl ? "control" : "data") +
                 " side is already attached by running process " + std::to_string(other_pid);
        return nullptr;
    }
    s->epoch_ = me.epoch.fetch_add(1, std::memory_order_acq_rel) + 1;
    me.pid.store(self, std::memory_order_release);
    me.heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
    return s;
}

Segment::~Segment() {
    if (header_ != nullptr) {
        SideState& me = header_->sides[uint32_t(side_)];
        uint32_t self = uint32_t(::getpid());
        // Only the process that attached records the detach (a forked child holding a copy must not).
        me.pid.compare_exchange_strong(self, 0, std::memory_order_acq_rel);
    }
    if (base_ != nullptr) ::munmap(base_, bytes_);
}

RingHeader* Segment::ring_at(uint64_t offset) const noexcept {
    return reinterpret_cast<RingHeader*>(base_ + offset);
}

RingProducer Segment::command_producer(uint32_t worker) const noexcept {
    VOXA_CHECK(worker < config_.workers && side_ == Side::kControl);
    return RingProducer(ring_at(header_->rings[worker].command_offset));
}

RingConsumer Segment::command_consumer(uint32_t worker) const noexcept {
    VOXA_CHECK(worker < config_.workers && side_ == Side::kData);
    return RingConsumer(ring_at(header_->rings[worker].command_offset));
}

RingProducer Segment::event_producer(uint32_t worker) const noexcept {
    VOXA_CHECK(worker < config_.workers && side_ == Side::kData);
    return RingProducer(ring_at(header_->rings[worker].event_offset));
}

RingConsumer Segment::event_consumer(uint32_t worker) const noexcept {
    VOXA_CHECK(worker < config_.workers && side_ == Side::kControl);
    return RingConsumer(ring_at(header_->rings[worker].event_offset));
}

StatsBlock* Segment::stats_block(uint32_t worker) const noexcept {
    VOXA_CHECK(worker < config_.workers);
    return reinterpret_cast<StatsBlock*>(base_ + header_->stats_offset + worker * sizeof(StatsBlock));
}

void Segment::heartbeat(uint64_t now_ns) noexcept {
    header_->sides[uint32_t(side_)].heartbeat_ns.store(now_ns, std::memory_order_release);
}

SideStatus Segment::status(Side side) const noexcept {
    const SideState& st = header_->sides[uint32_t(side)];
    SideStatus out;
    out.epoch = st.epoch.load(std::memory_order_acquire);
    out.pid = st.pid.load(std::memory_order_acquire);
    out.heartbeat_ns = st.heartbeat_ns.load(std::memory_order_acquire);
    return out;
}

bool Segment::peer_alive(uint64_t now_ns, uint64_t stale_ns) const noexcept {
    SideStatus const peer = status(side_ == Side::kControl ? Side::kData : Side::kControl);
    if (peer.pid == 0 || !process_alive(peer.pid)) return false;
    return now_ns < peer.heartbeat_ns || now_ns - peer.heartbeat_ns <= stale_ns;
}

}  // namespace voxa::shm
