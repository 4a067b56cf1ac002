// The shared-memory ABI between voxa-control and voxa-dataplane (and any plugin that maps the segment): one file per
// node, `<data>/run/voxa.shm`, mapped MAP_SHARED by both processes. Everything in it is a plain struct with a fixed
// size and fixed offsets (checked below), little-endian, with no pointers: each process keeps only offsets from the
// start of its own mapping. docs/PROTOCOL.md ("The shared-memory channel") is the prose version of this file.
//
//   offset 0                 SegmentHeader (4096 bytes): magic, ABI version, geometry, one SideState per process,
//                            the offsets of every ring and of the stats area
//   rings[w].command_offset  RingHeader + ring_slots slots: commands control -> data plane worker w (SPSC)
//   rings[w].event_offset    RingHeader + ring_slots slots: events data plane worker w -> control (SPSC)
//   stats_offset             worker_count StatsBlocks: counters written only by worker w, read under a seqlock
//
// A slot is slot_bytes long (a multiple of 64): | type u16 | len u16 | rsv u32 | seq u64 | body (slot_bytes-16) |
// where seq is the slot's position in the ring (0, 1, 2, ... forever) and len the bytes of body in use. Message
// types and body layouts are below (MsgType); dataplane/shm/messages.h encodes and decodes them.
//
// Indices and counters are std::atomic<uint64_t> living in the mapping; they are lock-free (asserted), hence
// address-free, which is what makes them usable between processes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace voxa::shm {

inline constexpr char kMagic[8] = {'V', 'O', 'X', 'A', 'S', 'H', 'M', '1'};
inline constexpr uint32_t kAbiVersion = 1;
inline constexpr uint32_t kReadyValue = 0x59444552;    // "REDY": the creator finished laying out the segment
inline constexpr std::size_t kCacheLineBytes = 64;
inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr uint32_t kWorkersMax = 64;
inline constexpr std::size_t kSlotHeaderBytes = 16;
inline constexpr uint32_t kSlotBytesMin = 256;         // room for every fixed-size message and one descriptor
                                                       // (a NameSet with a name > 192 bytes needs 512)
inline constexpr uint32_t kSlotBytesMax = 65536;       // len is a u16: body <= 65520
inline constexpr uint32_t kRingSlotsMax = 1u << 20;
inline constexpr uint32_t kStatsCounters = 64;         // counters per worker block; names below for the used ones

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared indices must be lock-free to work across processes");
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the segment is little-endian");

// The two processes that attach. Each has one SideState in the header.
enum class Side : uint32_t { kControl = 0, kData = 1 };

// One per side, one cache line each; written only by that side.
struct SideState {
    std::atomic<uint64_t> epoch;           // number of attaches of this side so far (1 after the first)
    std::atomic<uint64_t> heartbeat_ns;    // CLOCK_MONOTONIC of the side's last heartbeat
    std::atomic<uint32_t> pid;             // attached process; 0 after a clean detach
    uint32_t rsv0;
    uint64_t rsv[5];
};
static_assert(sizeof(SideState) == kCacheLineBytes);

struct RingRef {
    uint64_t command_offset;               // RingHeader of the control -> worker ring
    uint64_t event_offset;                 // RingHeader of the worker -> control ring
};

// At offset 0. Geometry fields are written once by the creator before `ready`, then only read.
struct SegmentHeader {
    char magic[8];                         // kMagic
    uint32_t abi_version;                  // kAbiVersion
    std::atomic<uint32_t> ready;           // kReadyValue (release) once everything below and the rings are laid out
    uint64_t total_bytes;                  // the file's size
    uint32_t header_bytes;                 // kHeaderBytes
    uint32_t worker_count;                 // 1..kWorkersMax
    uint32_t ring_slots;                   // slots per ring, a power of two
    uint32_t slot_bytes;                   // bytes per slot, a multiple of 64, kSlotBytesMin..kSlotBytesMax
    uint32_t stats_counters;               // kStatsCounters
    uint32_t stats_block_bytes;            // sizeof(StatsBlock)
    uint64_t stats_offset;                 // the first StatsBlock
    uint32_t ring_header_bytes;            // sizeof(RingHeader)
    uint32_t rsv0;
    SideState sides[2];                    // indexed by Side
    RingRef rings[kWorkersMax];            // [0, worker_count) used
    uint8_t rsv[kHeaderBytes - 64 - 2 * sizeof(SideState) - kWorkersMax * sizeof(RingRef)];
};
static_assert(sizeof(SegmentHeader) == kHeaderBytes);
static_assert(offsetof(SegmentHeader, ready) == 12 && offsetof(SegmentHeader, total_bytes) == 16);
static_assert(offsetof(SegmentHeader, stats_offset) == 48 && offsetof(SegmentHeader, sides) == 64);
static_assert(offsetof(SegmentHeader, rings) == 192);

// Starts every ring; the slots follow it. head and tail count forever; slot = index & (slot_count - 1).
struct RingHeader {
    alignas(kCacheLineBytes) std::atomic<uint64_t> head;   // next slot to read; written by the consumer only
    alignas(kCacheLineBytes) std::atomic<uint64_t> tail;   // next slot to write; written by the producer only
    alignas(kCacheLineBytes) uint32_t slot_count;          // copies of the header's geometry (checked on attach)
    uint32_t slot_bytes;
};
static_assert(sizeof(RingHeader) == 3 * kCacheLineBytes);
static_assert(offsetof(RingHeader, tail) == 64 && offsetof(RingHeader, slot_count) == 128);

struct SlotHeader {
    uint16_t type;                         // MsgType
    uint16_t len;                          // bytes of body in use, <= slot_bytes - kSlotHeaderBytes
    uint32_t rsv;                          // 0
    uint64_t seq;                          // the slot's ring position (a check against torn or stale slots)
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);

// One per worker, cache-line aligned, written only by that worker. A seqlock: seq is odd while the worker writes.
struct StatsBlock {
    std::atomic<uint64_t> seq;             // even: stable; odd: being written
    std::atomic<uint64_t> epoch;           // the data side's epoch when this block was last written
    std::atomic<uint64_t> updated_ns;      // CLOCK_MONOTONIC of the last publication
    uint64_t rsv[5];
    std::atomic<uint64_t> counters[kStatsCounters];        // indexed by Stat
};
static_assert(sizeof(StatsBlock) == 9 * kCacheLineBytes);
static_assert(offsetof(StatsBlock, counters) == kCacheLineBytes);

// ---- message types: commands (control -> data) 0x0001.., events (data -> control) 0x8001.. ----
// Body layouts (all little-endian, rsv fields must be zero, lengths exact unless said otherwise):
//   kPeerUpdate     | count u16 | rsv u16 | count x signed descriptor (kDescriptorBytes) |   count >= 1
//   kPeerRemove     | node_id[32] |
//   kCircuitPolicy  | hops u8 | n u8 | k u8 | rsv u8 | rotation_s u32 |   1<=hops<=8, 1<=k<=n<=16, 0 = no rotation
//   kDrain          | deadline_ms u32 | rsv u32 |
//   kLogLevel       | level u8 | rsv[7] |                                 0 debug, 1 info, 2 warn, 3 error
//   kShutdown       | deadline_ms u32 | rsv u32 |
//   kNameSet        | node_id[32] | expires_s u64 | name_len u16 | rsv[6] | name |   name: 1..253 bytes [a-z0-9.-],
//                   len = 48 + name_len; expires_s unix seconds (<= now: the name is removed)
//   kNameRemove     | name_len u16 | rsv[6] | name |                        len = 8 + name_len, same name rules
//   kSessionUp      | peer node_id[32] |
//   kSessionDown    | peer node_id[32] | reason u32 | rsv u32 |
//   kCircuitUp      | circuit u64 | hops u8 | rsv[7] |
//   kCircuitDown    | circuit u64 | hops u8 | rsv[3] | reason u32 |
//   kOverload       | resource u16 | rsv u16 | level_permille u32 | value u64 |   resource 1..3, permille <= 1000
//   kError          | code u32 | rsv u32 | text (len - 8 bytes, UTF-8, no NUL) |
enum class MsgType : uint16_t {
    kNone = 0,
    kPeerUpdate = 0x0001,
    kPeerRemove = 0x0002,
    kCircuitPolicy = 0x0003,
    kDrain = 0x0004,
    kLogLevel = 0x0005,
    kShutdown = 0x0006,
    kNameSet = 0x0007,
    kNameRemove = 0x0008,
    kSessionUp = 0x8001,
    kSessionDown = 0x8002,
    kCircuitUp = 0x8003,
    kCircuitDown = 0x8004,
    kOverload = 0x8005,
    kError = 0x8006,
};
inline constexpr std::size_t kDescriptorBytes = 132;     // dataplane/directory/descriptor.h (asserted there)
inline constexpr std::size_t kNodeIdBytes = 32;
inline constexpr uint8_t kPolicyHopsMax = 8;
inline constexpr uint8_t kPolicyPartsMax = 16;
inline constexpr uint8_t kLogLevelMax = 3;
inline constexpr std::size_t kNameBytesMax = 253;        // dataplane/directory/names.h (asserted in shm/messages.cpp)

enum class OverloadResource : uint16_t { kNone = 0, kCommandRing = 1, kTxQueue = 2, kReassemblyMemory = 3, kCount };

// ---- the stats table: counter index -> name, the same in both processes ----
// Kinds follow Prometheus: a counter only grows (until the writer's epoch changes); a gauge is a current value.
enum class StatKind : uint8_t { kCounter, kGauge };
struct StatInfo {
    const char* name;
    StatKind kind;
};

enum class Stat : uint16_t {
    kRxPackets, kRxBytes, kTxPackets, kTxBytes, kRxNoBuffer, kRxErrors, kTxDroppedFull, kTxErrors,
    kLinkPacketsIn, kLinkPacketsOut, kLinkDrops, kHandshakesInitiated, kHandshakesCompleted, kSessionsUp,
    kCellsRelayedForward, kCellsRelayedBackward, kCellsOriginated, kCellsEnded, kNodeDrops, kCircuitDrops,
    kCircuitsBuilt, kCircuitsFailed, kCircuitsRelayed, kRelayCircuits, kOriginCircuits,
    kMessagesSent, kMessagesDelivered, kMessagesFailed, kMessagesReceived, kFragmentsSent, kFragmentsRetransmitted,
    kReassemblyCompleted, kReassemblyDrops, kReassemblyEvicted, kReassemblyBytesInFlight,
    kHandoverDatagramsOut, kHandoverDatagramsIn, kHandoverDrops, kCommands, kEventDrops, kKnownNodes,
    kReactorLoops, kReactorBusyLoops, kCpuNs,
    kCount
};

inline constexpr StatInfo kStatInfo[] = {
    {"rx_packets", StatKind::kCounter},
    {"rx_bytes", StatKind::kCounter},
    {"tx_packets", StatKind::kCounter},
    {"tx_bytes", StatKind::kCounter},
    {"rx_no_buffer", StatKind::kCounter},
    {"rx_errors", StatKind::kCounter},
    {"tx_dropped_full", StatKind::kCounter},
    {"tx_errors", StatKind::kCounter},
    {"link_packets_in", StatKind::kCounter},
    {"link_packets_out", StatKind::kCounter},
    {"link_drops", StatKind::kCounter},
    {"handshakes_initiated", StatKind::kCounter},
    {"handshakes_completed", StatKind::kCounter},
    {"sessions_up", StatKind::kGauge},
    {"cells_relayed_forward", StatKind::kCounter},
    {"cells_relayed_backward", StatKind::kCounter},
    {"cells_originated", StatKind::kCounter},
    {"cells_ended", StatKind::kCounter},
    {"node_drops", StatKind::kCounter},
    {"circuit_drops", StatKind::kCounter},
    {"circuits_built", StatKind::kCounter},
    {"circuits_failed", StatKind::kCounter},
    {"circuits_relayed", StatKind::kCounter},
    {"relay_circuits", StatKind::kGauge},
    {"origin_circuits", StatKind::kGauge},
    {"messages_sent", StatKind::kCounter},
    {"messages_delivered", StatKind::kCounter},
    {"messages_failed", StatKind::kCounter},
    {"messages_received", StatKind::kCounter},
    {"fragments_sent", StatKind::kCounter},
    {"fragments_retransmitted", StatKind::kCounter},
    {"reassembly_completed", StatKind::kCounter},
    {"reassembly_drops", StatKind::kCounter},
    {"reassembly_evicted", StatKind::kCounter},
    {"reassembly_bytes_in_flight", StatKind::kGauge},
    {"handover_datagrams_out", StatKind::kCounter},
    {"handover_datagrams_in", StatKind::kCounter},
    {"handover_drops", StatKind::kCounter},
    {"commands", StatKind::kCounter},
    {"event_drops", StatKind::kCounter},
    {"known_nodes", StatKind::kGauge},
    {"reactor_loops", StatKind::kCounter},
    {"reactor_busy_loops", StatKind::kCounter},
    {"cpu_ns", StatKind::kCounter},
};
static_assert(std::size(kStatInfo) == std::size_t(Stat::kCount), "one name per Stat, in order");
static_assert(std::size_t(Stat::kCount) <= kStatsCounters, "the table fits a StatsBlock");

// Name of counter index i, or "" for an index the table does not use (reserved for later ABI minor additions).
constexpr std::string_view stat_name(std::size_t i) {
    return i < std::size(kStatInfo) ? std::string_view(kStatInfo[i].name) : std::string_view();
}

}  // namespace voxa::shm
