// Relay messages: what the circuit end reads once the onion is opened (include/voxa/wire.h). This file owns the
// framing (| type u8 | flags u8 | length u16 | data |) and the small control messages the node engine speaks:
// EXTEND, EXTENDED, MANIFEST, STATUS and DONE. DATA fragments are dataplane/split/fragment.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::node {

struct RelayMsgView {
    wire::RelayMsgType type = wire::RelayMsgType::kPadding;
    uint8_t flags = 0;
    std::span<const uint8_t> data;
};

// Writes the header and copies `data` into a relay message area of `msg_bytes` bytes (wire::relay_msg_bytes),
// zero-filling the rest so no stale bytes of a reused buffer leave the node. Returns false if `data` is too long.
bool write_relay_msg(uint8_t* msg, std::size_t msg_bytes, wire::RelayMsgType type, uint8_t flags,
                     std::span<const uint8_t> data) noexcept;
// Parses a relay message area; false if the length field exceeds the area or the type is unknown.
bool parse_relay_msg(const uint8_t* msg, std::size_t msg_bytes, RelayMsgView* out) noexcept;

// EXTEND: | next node id[32] | onionskin[64] |     EXTENDED: | created[64] |
inline constexpr std::size_t kExtendBytes = kNodeIdBytes + 64;
inline constexpr std::size_t kExtendedBytes = 64;

// MANIFEST: | part u8 | rsv[3] | manifest ... |  (the part this circuit carries, then the message's manifest)
inline constexpr std::size_t kManifestPrefixBytes = 4;

// STATUS (receiver -> sender, on the circuit that carries `part`): a selective NACK and the flow-control ack.
//   | message_id[16] | part u8 | flags u8 | range_count u16 | highest u32 | (first u32, last u32) * range_count |
// `highest` is one past the highest fragment index of the part the receiver has seen (0: none); the sender keeps
// at most window_cells fragments beyond it in flight.
inline constexpr std::size_t kStatusHeaderBytes = 24;
inline constexpr uint8_t kStatusNeedManifest = 1;   // the receiver has fragments but no manifest
inline constexpr uint8_t kStatusIdle = 2;           // sent because the part went quiet (names every hole, tail too)
struct StatusRange {
    uint32_t first = 0, last = 0;   // inclusive fragment indices
};
constexpr std::size_t status_ranges_max(std::size_t cell_bytes) {
    return (wire::relay_data_bytes(cell_bytes) - kStatusHeaderBytes) / 8;
}
std::size_t write_status(uint8_t* out, const MessageId& id, uint8_t part, uint8_t flags, uint32_t highest,
                         std::span<const StatusRange> ranges) noexcept;
struct StatusView {
    MessageId message_id{};
    uint8_t part = 0, flags = 0;
    uint32_t highest = 0;
    std::span<const uint8_t> ranges;   // range_count * 8 bytes
    std::size_t range_count() const noexcept { return ranges.size() / 8; }
    StatusRange range(std::size_t i) const noexcept;
};
bool parse_status(std::span<const uint8_t> data, StatusView* out) noexcept;

// DONE: | message_id[16] |  — the receiver reassembled and verified the message.
inline constexpr std::size_t kDoneBytes = kMessageIdBytes;

}  // namespace voxa::node
