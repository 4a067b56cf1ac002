// Fragments: a part travels as DATA relay messages, each carrying one fixed-size slice of the part.
//
//   DATA message data  | message_id[16] | part u8 | flags u8 = 0 | rsv u16 = 0 | fragment u32 | bytes ... |
//
// With F = wire::fragment_data_bytes(cell_bytes) (1180 for 1280-byte cells), fragment f of a part carries part
// bytes [f*F, min((f+1)*F, part_bytes)); every fragment but the last is exactly F bytes. The length of `bytes`
// is the relay message length minus the 24-byte header; the caller passes the data span at its true length.
// All functions are pure, allocation-free and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::split {

// Number of fragments a part of `part_bytes` needs with cells of `cell_bytes`: ceil(part_bytes / F).
std::size_t fragments_in_part(uint32_t part_bytes, std::size_t cell_bytes) noexcept;

// Bytes fragment `fragment` of a part of `part_bytes` carries (F, or the remainder for the last one; 0 if
// `fragment` is out of range).
std::size_t fragment_bytes(uint32_t part_bytes, uint32_t fragment, std::size_t cell_bytes) noexcept;

// Writes DATA message data for fragment `fragment` of part `part` into `out` (capacity
// wire::relay_data_bytes(cell_bytes); owned by the caller). `part_bytes` is the whole part. Returns the bytes
// written (header + data). `fragment` must be < fragments_in_part(part_bytes.size(), cell_bytes) (asserted).
std::size_t write_fragment(const MessageId& id, uint8_t part, uint32_t fragment, std::span<const uint8_t> part_bytes,
                           std::size_t cell_bytes, uint8_t* out) noexcept;

// A parsed fragment; `bytes` points into the caller's buffer and lives as long as it.
struct FragmentView {
    MessageId message_id{};
    uint8_t part = 0;
    uint32_t fragment = 0;
    std::span<const uint8_t> bytes;
};

enum class FragmentDrop : uint8_t {
    kNone,
    kShort,             // no room for the header and at least one byte
    kReservedNonZero,   // flags or rsv not zero
    kCount
};

// Parses DATA message data. On kNone fills `*out`; the range of part and fragment is checked against the
// manifest by the reassembler, not here.
FragmentDrop parse_fragment(std::span<const uint8_t> data, FragmentView* out) noexcept;

}  // namespace voxa::split
