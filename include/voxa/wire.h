// voxa wire formats: type codes and byte offsets shared by every implementation of the protocol (the io_uring
// and DPDK data planes, tests, fuzzers). docs/PROTOCOL.md is the prose version of this file; keep them equal.
// All multi-byte integers are little-endian.
//
// One UDP datagram carries one link packet. A transport link packet carrying a cell is always exactly
// `cell_bytes` long (default 1280) at every hop:
//
//   link transport   | type=4 | rsv[3] | receiver u32 | counter u64 | cell (cell_bytes-32) ... | tag[16] |
//   cell             | circ_id u32 | cmd u8 | rsv[3] | body (cell_bytes-40) |
//   RELAY body       | nonce[16] | onion (cell_bytes-56) |
//   onion, opened    | relay message (cell_bytes-72) | e2e tag[16] |          (only the circuit's end opens it)
//   relay message    | type u8 | flags u8 | length u16 | data (cell_bytes-76) |
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxa::wire {

// ---- link packets (dataplane/link) ----
enum class LinkType : uint8_t {
    kInitiation = 1,    // handshake message 1, initiator -> responder
    kResponse = 2,      // handshake message 2, responder -> initiator
    kCookieReply = 3,   // stateless reply under load
    kTransport = 4,     // encrypted payload (a cell, or empty for a keepalive)
};
inline constexpr std::size_t kLinkHeaderBytes = 16;   // type, rsv[3], receiver index, counter
inline constexpr std::size_t kLinkTagBytes = 16;
inline constexpr std::size_t kLinkOverheadBytes = kLinkHeaderBytes + kLinkTagBytes;

// ---- cells (dataplane/circuit) ----
inline constexpr std::size_t kCellBytesDefault = 1280;   // UDP payload of every cell-carrying packet
inline constexpr std::size_t kCellBytesMin = 512;
inline constexpr std::size_t kCellBytesMax = 8192;

enum class CellCmd : uint8_t {
    kCreate = 1,          // origin -> first hop (or relay -> next hop on EXTEND): ntor onionskin
    kCreated = 2,         // reply to CREATE
    kRelayForward = 3,    // onion cell travelling away from the origin
    kRelayBackward = 4,   // onion cell travelling towards the origin
    kDestroy = 5,         // tear down, hop by hop, both directions
    kPadding = 6,         // link padding; dropped by the receiver
    kDirectory = 7,       // circ_id 0: signed node descriptors a neighbour knows (dataplane/directory)
};
inline constexpr std::size_t kCellHeaderBytes = 8;    // circ_id u32, cmd u8, rsv[3]
inline constexpr std::size_t kCellNonceBytes = 16;    // per-hop re-randomised nonce of RELAY cells
inline constexpr std::size_t kE2eTagBytes = 16;       // AEAD tag of the circuit end's layer
inline constexpr std::size_t kRelayMsgHeaderBytes = 4;

// Bytes of a cell (the link transport payload) for a given UDP payload size.
constexpr std::size_t cell_payload_bytes(std::size_t cell_bytes) { return cell_bytes - kLinkOverheadBytes; }
// Bytes of the onion (nonce excluded) of a RELAY cell.
constexpr std::size_t onion_bytes(std::size_t cell_bytes) {
    return cell_payload_bytes(cell_bytes) - kCellHeaderBytes - kCellNonceBytes;
}
// Bytes of relay message (header included) once the end's AEAD is removed.
constexpr std::size_t relay_msg_bytes(std::size_t cell_bytes) { return onion_bytes(cell_bytes) - kE2eTagBytes; }
// Bytes of relay message data.
constexpr std::size_t relay_data_bytes(std::size_t cell_bytes) {
    return relay_msg_bytes(cell_bytes) - kRelayMsgHeaderBytes;
}
static_assert(relay_data_bytes(kCellBytesDefault) == 1204);

enum class RelayMsgType : uint8_t {
    kPadding = 0,
    kExtend = 1,         // to the circuit's current end: extend to the next node
    kExtended = 2,       // from the circuit's current end: the next node's CREATED
    kExtendFailed = 3,
    kData = 4,           // one fragment of one part (dataplane/split/fragment.h)
    kManifest = 5,       // the manifest of the part's message
    kStatus = 6,         // destination -> origin: which fragments are missing (selective NACK)
    kDone = 7,           // destination -> origin: message reassembled and verified
};

// ---- DATA relay message (dataplane/split) ----
//   | message_id[16] | part u8 | flags u8 | rsv u16 | fragment u32 | bytes ... |
inline constexpr std::size_t kFragmentHeaderBytes = 24;
constexpr std::size_t fragment_data_bytes(std::size_t cell_bytes) {
    return relay_data_bytes(cell_bytes) - kFragmentHeaderBytes;
}
static_assert(fragment_data_bytes(kCellBytesDefault) == 1180);

// ---- splitting limits ----
inline constexpr std::size_t kPartsMax = 16;                      // n <= 16
inline constexpr std::size_t kMessageBytesMax = 64u << 20;        // 64 MiB default max_message_bytes

}  // namespace voxa::wire
