// The geometry and place of a node's shared-memory segment, computed the same way by both processes that map it
// (voxa-dataplane and voxa-control) from the same configuration, so neither has to guess the other's numbers:
// one command ring and one event ring per data-plane worker (dataplane.cores), each 1024 slots of 512 bytes
// (a slot holds any fixed-size message, or a PeerUpdate of up to 3 descriptors), and one stats block per worker.
// Header-only; pure functions, any thread.
#pragma once

#include <cstdint>
#include <filesystem>

#include "shm/segment.h"

namespace voxa::shm {

inline constexpr uint32_t kNodeRingSlots = 1024;
inline constexpr uint32_t kNodeSlotBytes = 512;

// `workers` is the number of data-plane workers: config.dataplane.cores.size().
inline SegmentConfig segment_config_for(uint32_t workers) {
    SegmentConfig c;
    c.workers = workers;
    c.ring_slots = kNodeRingSlots;
    c.slot_bytes = kNodeSlotBytes;
    return c;
}

// `<data>/run/voxa.shm`.
inline std::filesystem::path segment_path(const std::filesystem::path& data_dir) {
    return data_dir / "run" / "voxa.shm";
}

}  // namespace voxa::shm
