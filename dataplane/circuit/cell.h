// Cells: the fixed-size unit every circuit moves, carried as the payload of one link transport packet.
//
//   cell        | circ_id u32 | cmd u8 (wire::CellCmd) | rsv[3] = 0 | body |      (wire::cell_payload_bytes)
//   CREATE      body = | node id of the intended relay[32] | X[32] | zeros |
//   CREATED     body = | Y[32] | AUTH[32] | zeros |
//   RELAY_*     body = | nonce[16] | onion |
//
// A circuit id is chosen by the node that sends CREATE on that link (random, nonzero); the command tells the
// direction, so a relay looks up forward cells by (previous peer, id) and backward cells by (next peer, id).
// Parsing never allocates, never throws and never logs: a malformed cell gets a Drop reason, which the caller
// counts (one counter per reason, indexed by the enum) and then drops the cell.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "voxa/wire.h"

namespace voxa::circuit {

// Why a cell (or a handshake inside one) was dropped. Indexes a per-reason counter array of kCount entries.
enum class Drop : uint8_t {
    kNone,              // not dropped
    kBadSize,           // cell length is not wire::cell_payload_bytes(cell_bytes), or cell_bytes out of range
    kBadCmd,            // unknown command byte
    kReservedNonZero,   // rsv[3] of the cell header is not zero
    kBadOnionskin,      // CREATE / CREATED body: the bytes after the 64-byte handshake are not zero
    kWrongNode,         // CREATE names another node id than ours
    kBadDh,             // an X25519 result is all zero (low-order or zero point)
    kBadAuth,           // CREATED's AUTH does not verify
    kBadE2eTag,         // the circuit end's AEAD failed: the cell was modified (or is not for this end)
    kUnknownCircuit,    // no circuit for (peer, id) in that direction
    kCircuitsFull,      // the circuit table is full
    kZeroCircuitId,     // circ_id 0 on anything but PADDING (ids are nonzero)
    kCount
};
inline constexpr std::size_t kDropCount = std::size_t(Drop::kCount);

// A stable lower-case name for a drop reason ("bad_size", ...), for stats and logs; "unknown" if out of range.
std::string_view drop_name(Drop d) noexcept;

// A parsed cell: points into the caller's buffer (not owned); valid as long as that buffer is.
struct CellView {
    uint32_t circ_id;
    wire::CellCmd cmd;
    uint8_t* body;           // cell + kCellHeaderBytes
    std::size_t body_len;    // len - kCellHeaderBytes
};

inline constexpr std::size_t kOnionskinBytes = 64;   // node id || X
inline constexpr std::size_t kCreatedBytes = 64;     // Y || AUTH

// Parses the header of the cell `cell[0 .. len)` (the link payload, owned by the caller; not modified).
// `len` must equal wire::cell_payload_bytes(cell_bytes) and `cell_bytes` lie in [kCellBytesMin, kCellBytesMax].
// Checks: size, command, reserved bytes, nonzero id (except PADDING), zero padding after the handshake of
// CREATE / CREATED. Returns Drop::kNone and fills `*out`, or the reason to drop (then `*out` is untouched).
// Any thread; no allocation.
Drop parse_cell(uint8_t* cell, std::size_t len, std::size_t cell_bytes, CellView* out) noexcept;

// Writes the 8-byte header (id little-endian, command, zero reserved bytes) at `cell`. The body is untouched.
void write_cell_header(uint8_t* cell, uint32_t circ_id, wire::CellCmd cmd) noexcept;

}  // namespace voxa::circuit
