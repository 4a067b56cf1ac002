// The local delivery socket's framing (docs/API.md, "Local delivery socket"). A local program talks to the daemon
// over a Unix stream socket in frames:
//
//   | length u32 (bytes after this field: 8 + body) | type u8 | rsv[3] = 0 | request_id u32 | body ... |
//
// All integers are little-endian. Requests (SEND, REPLY, SUBSCRIBE, STATUS, STATS, RESOLVE) go to the daemon; replies
// echo the request's request_id, pushed MESSAGE frames carry 0. This file has the frame codec (encode_frame, the
// streaming FrameDecoder) and one parser and builder per body. Everything here is pure and single-threaded; body views
// (spans, string_views) point into the caller's bytes and live as long as those bytes do.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "voxa/types.h"

namespace voxa::local {

inline constexpr std::size_t kFrameLengthBytes = 4;    // the length field itself
inline constexpr std::size_t kFrameHeaderBytes = 12;   // length, type, rsv[3], request_id
inline constexpr std::size_t kFrameLengthMin = kFrameHeaderBytes - kFrameLengthBytes;   // an empty body
// Extra bytes a frame body needs beyond the message it carries (the largest head, MESSAGE's 36, rounded up).
inline constexpr std::size_t kFrameBodyOverheadBytes = 64;

enum class FrameType : uint8_t {
    // client -> daemon
    kSend = 1,
    kReply = 2,
    kSubscribe = 3,
    kStatus = 4,
    kStats = 5,
    kResolve = 6,     // body: a name (directory/names.h) -> RESOLVED, or ERROR 404 unknown / 400 bad name
    // daemon -> client
    kAccepted = 0x81,
    kResult = 0x82,
    kMessage = 0x83,
    kState = 0x84,
    kJson = 0x85,
    kResolved = 0x86,
    kError = 0xFF,
};

// Which end decodes: a daemon accepts only request types, a client only daemon -> client types.
enum class Direction : uint8_t { kToDaemon, kToClient };

// True if `type` is a frame type that may travel in `direction`.
bool type_valid(uint8_t type, Direction direction) noexcept;
std::string_view type_name(FrameType type) noexcept;

// One decoded frame. `body` points into the decoder's buffer (or the caller's bytes) and is valid until the
// decoder is next fed or asked for write space.
struct FrameView {
    FrameType type;
    uint32_t request_id;
    std::span<const uint8_t> body;
};

// Bit 0 of SEND/REPLY flags: send a RESULT when the message is delivered or fails.
inline constexpr uint8_t kFlagReport = 0x01;
// Bit 0 of MESSAGE flags: the message is a reply to `in_reply_to`.
inline constexpr uint8_t kFlagIsReply = 0x01;

// The delivery state of a message as STATE and RESULT report it.
enum class MessageState : uint8_t { kUnknown = 0, kBuilding = 1, kSending = 2, kDelivered = 3, kFailed = 4 };
std::string_view state_name(uint8_t state) noexcept;   // "unknown", "building", ..., "invalid" above 4

// ERROR codes (HTTP-like).
enum class ErrorCode : uint16_t { kBadRequest = 400, kUnknown = 404, kTooLarge = 413, kBusy = 429, kNotReady = 503 };

// ---- frames ----

// Writes the 12-byte header of a frame whose body is `body_bytes` long. The caller checks body_bytes fits a u32.
void encode_header(FrameType type, uint32_t request_id, std::size_t body_bytes,
                   std::span<uint8_t, kFrameHeaderBytes> out) noexcept;

// A whole frame: header then the body parts concatenated. Allocates the returned vector (control path only).
std::vector<uint8_t> encode_frame(FrameType type, uint32_t request_id,
                                  std::initializer_list<std::span<const uint8_t>> body_parts);

// Why a byte stream stopped being a valid frame stream. Any of these is fatal for the connection.
enum class FrameError : uint8_t {
    kNone,
    kBadLength,     // length < 8
    kTooLong,       // length > 8 + frame_body_max
    kUnknownType,   // not a type of this direction
    kBadReserved,   // rsv bytes not zero
    kCount
};
std::string_view frame_error_name(FrameError e) noexcept;

// Checks a frame header (at least kFrameHeaderBytes bytes). Never reads beyond the 12 bytes.
FrameError check_header(std::span<const uint8_t, kFrameHeaderBytes> header, Direction direction,
                        std::size_t frame_body_max) noexcept;

// Accumulates a byte stream and yields whole frames in order. Its buffer grows to at most one frame (header plus
// frame_body_max) plus the read size, and is compacted as frames are consumed, so a stream of big frames costs
// one copy per byte (the read into the buffer). After an error the decoder stays in error.
class FrameDecoder {
public:
    FrameDecoder(Direction direction, std::size_t frame_body_max);

    // Copies `bytes` into the buffer.
    void feed(std::span<const uint8_t> bytes);
    // Zero-copy feeding: a writable span of at least `min_bytes`, then commit(n) for the n bytes written into it.
    // Invalidates the body of any FrameView handed out before.
    std::span<uint8_t> prepare(std::size_t min_bytes);
    void commit(std::size_t n) noexcept;

    enum class Result : uint8_t { kFrame, kNeedMore, kError };
    // kFrame: *out is the next frame (its body valid until the next feed/prepare). kNeedMore: no whole frame yet.
    // kError: the stream is invalid; error() says why.
    Result next(FrameView* out) noexcept;

    FrameError error() const noexcept { return error_; }
    // Bytes buffered but not yet returned as frames.
    std::size_t buffered() const noexcept { return end_ - begin_; }
    // The request_id of the frame being received, if its header has arrived (for an ERROR reply); else 0.
    uint32_t pending_request_id() const noexcept;

private:
    void compact();

    Direction direction_;
    std::size_t frame_body_max_;
    std::vector<uint8_t> buffer_;
    std::size_t begin_ = 0;   // first unconsumed byte
    std::size_t end_ = 0;     // one past the last valid byte
    FrameError error_ = FrameError::kNone;
};

// ---- bodies: client -> daemon ----

inline constexpr std::size_t kSendHeadBytes = kNodeIdBytes + 4;      // destination, flags, rsv[3]
inline constexpr std::size_t kReplyHeadBytes = kMessageIdBytes + 4;  // request id, flags, rsv[3]

struct SendBody {
    NodeId destination{};
    uint8_t flags = 0;
    std::span<const uint8_t> bytes;   // the message
};
struct ReplyBody {
    MessageId request{};
    uint8_t flags = 0;
    std::span<const uint8_t> bytes;
};

// The parsers return nullopt for a short body, non-zero reserved bytes or unknown flag bits.
std::optional<SendBody> parse_send(std::span<const uint8_t> body) noexcept;
std::optional<ReplyBody> parse_reply(std::span<const uint8_t> body) noexcept;
// STATUS body: exactly a message id.
std::optional<MessageId> parse_status(std::span<const uint8_t> body) noexcept;
// RESOLVE body: exactly the name, 1..253 bytes of [a-z0-9.-] (directory::valid_name); nullopt otherwise.
std::optional<std::string_view> parse_resolve(std::span<const uint8_t> body) noexcept;

// Heads: the message bytes follow as a second body part (Server::send(head, tail) or encode_frame).
std::array<uint8_t, kSendHeadBytes> send_head(const NodeId& destination, uint8_t flags) noexcept;
std::array<uint8_t, kReplyHeadBytes> reply_head(const MessageId& request, uint8_t flags) noexcept;

// ---- bodies: daemon -> client ----

inline constexpr std::size_t kResultHeadBytes = kMessageIdBytes + 4;        // id, state, rsv[3]
inline constexpr std::size_t kMessageHeadBytes = 2 * kMessageIdBytes + 4;   // id, in_reply_to, flags, rsv[3]
inline constexpr std::size_t kStateBodyBytes = kMessageIdBytes + 1;         // id, state
inline constexpr std::size_t kErrorHeadBytes = 4;                           // code, rsv[2]
inline constexpr std::size_t kResolvedBodyBytes = kNodeIdBytes + 8;         // node id, expires_s

struct ResultBody {
    MessageId id{};
    uint8_t state = 0;          // 3 delivered, 4 failed
    std::string_view error;     // UTF-8, empty when delivered
};
struct MessageBody {
    MessageId id{};
    MessageId in_reply_to{};    // all zero if not a reply
    uint8_t flags = 0;          // kFlagIsReply
    std::span<const uint8_t> bytes;
};
struct StateBody {
    MessageId id{};
    uint8_t state = 0;
};
struct ResolvedBody {
    NodeId node{};
    uint64_t expires_s = 0;     // unix seconds: the answer holds until then
};
struct ErrorBody {
    uint16_t code = 0;
    std::string_view text;
};

// ACCEPTED body: exactly a message id.
std::optional<MessageId> parse_accepted(std::span<const uint8_t> body) noexcept;
std::optional<ResultBody> parse_result(std::span<const uint8_t> body) noexcept;
std::optional<MessageBody> parse_message(std::span<const uint8_t> body) noexcept;
std::optional<StateBody> parse_state(std::span<const uint8_t> body) noexcept;
std::optional<ErrorBody> parse_error(std::span<const uint8_t> body) noexcept;
// RESOLVED body: exactly | node_id[32] | expires_s u64 |.
std::optional<ResolvedBody> parse_resolved(std::span<const uint8_t> body) noexcept;

std::array<uint8_t, kResultHeadBytes> result_head(const MessageId& id, uint8_t state) noexcept;   // + error text
std::array<uint8_t, kMessageHeadBytes> message_head(const MessageId& id, const MessageId& in_reply_to,
                                                    uint8_t flags) noexcept;                        // + bytes
std::array<uint8_t, kStateBodyBytes> state_body(const MessageId& id, uint8_t state) noexcept;
std::array<uint8_t, kErrorHeadBytes> error_head(uint16_t code) noexcept;                           // + text
std::array<uint8_t, kResolvedBodyBytes> resolved_body(const NodeId& node, uint64_t expires_s) noexcept;

// Views of text as bytes and back, for the text-carrying bodies.
inline std::span<const uint8_t> as_bytes(std::string_view text) noexcept {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}
inline std::string_view as_text(std::span<const uint8_t> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace voxa::local
