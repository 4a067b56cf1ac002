#include "circuit/cell.h"

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::circuit {
namespace {

bool all_zero(const uint8_t* p, std::size_t n) noexcept {
    uint8_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc |= p[i];
    return acc == 0;
}

}  // namespace

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadSize: return "bad_size";
        case Drop::kBadCmd: return "bad_cmd";
        case Drop::kReservedNonZero: return "reserved_nonzero";
        case Drop::kBadOnionskin: return "bad_onionskin";
        case Drop::kWrongNode: return "wrong_node";
        case Drop::kBadDh: return "bad_dh";
        case Drop::kBadAuth: return "bad_auth";
        case Drop::kBadE2eTag: return "bad_e2e_tag";
        case Drop::kUnknownCircuit: return "unknown_circuit";
        case Drop::kCircuitsFull: return "circuits_full";
        case Drop::kZeroCircuitId: return "zero_circuit_id";
        case Drop::kCount: break;
    }
    return "unknown";
}

Drop parse_cell(uint8_t* cell, std::size_t len, std::size_t cell_bytes, CellView* out) noexcept {
    VOXA_ASSERT(out != nullptr);
    if (cell_bytes < wire::kCellBytesMin || cell_bytes > wire::kCellBytesMax) return Drop::kBadSize;
    if (cell == nullptr || len != wire::cell_payload_bytes(cell_bytes)) return Drop::kBadSize;

    const uint8_t cmd = cell[4];
    if (cmd < uint8_t(wire::CellCmd::kCreate) || cmd > uint8_t(wire::CellCmd::kDirectory)) return Drop::kBadCmd;
    if ((cell[5] | cell[6] | cell[7]) != 0) return Drop::kReservedNonZero;

    const uint32_t circ_id = load_u32(cell);
    const auto command = wire::CellCmd(cmd);
    // Link-level cells (padding, directory gossip) use circuit id 0; circuit cells never do.
    const bool link_level = command == wire::CellCmd::kPadding || command == wire::CellCmd::kDirectory;
    if ((circ_id == 0) != link_level && command != wire::CellCmd::kPadding) return Drop::kZeroCircuitId;

    uint8_t* body = cell + wire::kCellHeaderBytes;
    const std::size_t body_len = len - wire::kCellHeaderBytes;
    static_assert(kOnionskinBytes == kCreatedBytes);
    // The padding of a handshake cell must be zero: otherwise it is a free side channel a relay could use to
    // mark a circuit at creation time.
    if ((command == wire::CellCmd::kCreate || command == wire::CellCmd::kCreated) &&
        !all_zero(body + kOnionskinBytes, body_len - kOnionskinBytes)) {
        return Drop::kBadOnionskin;
    }
    *out = CellView{circ_id, command, body, body_len};
    return Drop::kNone;
}

void write_cell_header(uint8_t* cell, uint32_t circ_id, wire::CellCmd cmd) noexcept {
    VOXA_ASSERT(cell != nullptr);
    store_u32(cell, circ_id);
    cell[4] = uint8_t(cmd);
    cell[5] = cell[6] = cell[7] = 0;
}

}  // namespace voxa::circuit
