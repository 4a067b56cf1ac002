#include "local/frame.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "directory/names.h"
#include "voxa/assert.h"

namespace voxa::local {

namespace {

bool all_zero(const uint8_t* p, std::size_t n) noexcept {
    uint8_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc |= p[i];
    return acc == 0;
}

template <std::size_t N>
void copy_out(const uint8_t* p, std::array<uint8_t, N>* out) noexcept {
    std::memcpy(out->data(), p, N);
}

// An emptied buffer bigger than this is released, so one big message does not pin its memory per connection.
constexpr std::size_t kKeepBufferBytes = 1u << 20;
constexpr std::size_t kBufferBytesMin = 64u << 10;

}  // namespace

bool type_valid(uint8_t type, Direction direction) noexcept {
    if (direction == Direction::kToDaemon) return type >= 1 && type <= 6;
    return (type >= 0x81 && type <= 0x86) || type == 0xFF;
}

std::string_view type_name(FrameType type) noexcept {
    switch (type) {
        case FrameType::kSend: return "send";
        case FrameType::kReply: return "reply";
        case FrameType::kSubscribe: return "subscribe";
        case FrameType::kStatus: return "status";
        case FrameType::kStats: return "stats";
        case FrameType::kResolve: return "resolve";
        case FrameType::kAccepted: return "accepted";
        case FrameType::kResult: return "result";
        case FrameType::kMessage: return "message";
        case FrameType::kState: return "state";
        case FrameType::kJson: return "json";
        case FrameType::kResolved: return "resolved";
        case FrameType::kError: return "error";
    }
    return "invalid";
}

std::string_view state_name(uint8_t state) noexcept {
    switch (state) {
        case 0: return "unknown";
        case 1: return "building";
        case 2: return "sending";
        case 3: return "delivered";
        case 4: return "failed";
        default: return "invalid";
    }
}

std::string_view frame_error_name(FrameError e) noexcept {
    switch (e) {
        case FrameError::kNone: return "none";
        case FrameError::kBadLength: return "bad_length";
        case FrameError::kTooLong: return "too_long";
        case FrameError::kUnknownType: return "unknown_type";
        case FrameError::kBadReserved: return "bad_reserved";
        case FrameError::kCount: break;
    }
    return "invalid";
}

void encode_header(FrameType type, uint32_t request_id, std::size_t body_bytes,
                   std::span<uint8_t, kFrameHeaderBytes> out) noexcept {
    VOXA_ASSERT(body_bytes <= UINT32_MAX - kFrameLengthMin);
    store_u32(out.data(), uint32_t(kFrameLengthMin + body_bytes));
    out[4] = uint8_t(type);
    out[5] = out[6] = out[7] = 0;
    store_u32(out.data() + 8, request_id);
}

std::vector<uint8_t> encode_frame(FrameType type, uint32_t request_id,
                                  std::initializer_list<std::span<const uint8_t>> body_parts) {
    std::size_t body = 0;
    for (auto part : body_parts) body += part.size();
    std::vector<uint8_t> out(kFrameHeaderBytes + body);
    encode_header(type, request_id, body, std::span<uint8_t, kFrameHeaderBytes>(out.data(), kFrameHeaderBytes));
    std::size_t at = kFrameHeaderBytes;
    for (auto part : body_parts) {
        if (!part.empty()) std::memcpy(out.data() + at, part.data(), part.size());
        at += part.size();
    }
    return out;
}

FrameError check_header(std::span<const uint8_t, kFrameHeaderBytes> header, Direction direction,
                        std::size_t frame_body_max) noexcept {
    uint32_t const length = load_u32(header.data());
    if (length < kFrameLengthMin) return FrameError::kBadLength;
    if (length - kFrameLengthMin > frame_body_max) return FrameError::kTooLong;
    if (!type_valid(header[4], direction)) return FrameError::kUnknownType;
    if (!all_zero(header.data() + 5, 3)) return FrameError::kBadReserved;
    return FrameError::kNone;
}

// ---- FrameDecoder ----

FrameDecoder::FrameDecoder(Direction direction, std::size_t frame_body_max)
    : direction_(direction), frame_body_max_(frame_body_max) {
    VOXA_CHECK(frame_body_max <= UINT32_MAX - kFrameLengthMin);
}

void FrameDecoder::compact() {
    if (begin_ == 0) return;
    std::size_t const live = end_ - begin_;
    if (live > 0) std::memmove(buffer_.data(), buffer_.data() + begin_, live);
    begin_ = 0;
    end_ = live;
}

std::span<uint8_t> FrameDecoder::prepare(std::size_t min_bytes) {
    if (begin_ == end_) {
        begin_ = end_ = 0;
        if (buffer_.size() > kKeepBufferBytes && min_bytes <= kKeepBufferBytes) {
            buffer_.clear();
            buffer_.shrink_to_fit();
        }
    }
    if (buffer_.size() - end_ < min_bytes) {
        compact();
        if (buffer_.size() - end_ < min_bytes) {
            // Grow geometrically with the bytes that really arrived, not to the announced length at once: a
            // client that announces a huge frame and stalls holds at most twice what it sent.
            buffer_.resize(std::max({buffer_.size() * 2, end_ + min_bytes, kBufferBytesMin}));
        }
    }
    return {buffer_.data() + end_, buffer_.size() - end_};
}

void FrameDecoder::commit(std::size_t n) noexcept {
    VOXA_ASSERT(n <= buffer_.size() - end_);
    end_ += n;
}

void FrameDecoder::feed(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    auto space = prepare(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

FrameDecoder::Result FrameDecoder::next(FrameView* out) noexcept {
    if (error_ != FrameError::kNone) return Result::kError;
    std::size_t const have = end_ - begin_;
    if (have < kFrameHeaderBytes) {
        // Reject a bad length as soon as it is in, before waiting for the rest of a header that may never come.
        if (have >= kFrameLengthBytes) {
            uint32_t const length = load_u32(buffer_.data() + begin_);
            if (length < kFrameLengthMin) error_ = FrameError::kBadLength;
            else if (length - kFrameLengthMin > frame_body_max_) error_ = FrameError::kTooLong;
            if (error_ != FrameError::kNone) return Result::kError;
        }
        return Result::kNeedMore;
    }
    const uint8_t* const p = buffer_.data() + begin_;
    error_ = check_header(std::span<const uint8_t, kFrameHeaderBytes>(p, kFrameHeaderBytes), direction_,
                          frame_body_max_);
    if (error_ != FrameError::kNone) return Result::kError;
    std::size_t const total = kFrameLengthBytes + load_u32(p);
    if (have < total) return Result::kNeedMore;
    out->type = FrameType(p[4]);
    out->request_id = load_u32(p + 8);
    out->body = std::span<const uint8_t>(p + kFrameHeaderBytes, total - kFrameHeaderBytes);
    begin_ += total;
    return Result::kFrame;
}

uint32_t FrameDecoder::pending_request_id() const noexcept {
    if (end_ - begin_ < kFrameHeaderBytes) return 0;
    return load_u32(buffer_.data() + begin_ + 8);
}

// ---- bodies ----

namespace {
// SEND and REPLY share a shape: | id[N] | flags u8 (only kFlagReport) | rsv[3] | message bytes |.
template <typename Body, std::size_t N>
std::optional<Body> parse_flagged(std::span<const uint8_t> body, std::array<uint8_t, N> Body::*id) noexcept {
    if (body.size() < N + 4) return std::nullopt;
    const uint8_t* const p = body.data();
    uint8_t const flags = p[N];
    if ((flags & ~kFlagReport) != 0 || !all_zero(p + N + 1, 3)) return std::nullopt;
    Body b;
    copy_out(p, &(b.*id));
    b.flags = flags;
    b.bytes = body.subspan(N + 4);
    return b;
}

// | id[N] | one byte (flags or state) | rsv[3] |: the head of SEND, REPLY and RESULT.
template <std::size_t N>
std::array<uint8_t, N + 4> flagged_head(const std::array<uint8_t, N>& id, uint8_t byte) noexcept {
    std::array<uint8_t, N + 4> h{};
    std::memcpy(h.data(), id.data(), N);
    h[N] = byte;
    return h;
}
}  // namespace

std::optional<SendBody> parse_send(std::span<const uint8_t> body) noexcept {
    return parse_flagged(body, &SendBody::destination);
}

std::optional<ReplyBody> parse_reply(std::span<const uint8_t> body) noexcept {
    return parse_flagged(body, &ReplyBody::request);
}

std::optional<MessageId> parse_status(std::span<const uint8_t> body) noexcept {
    if (body.size() != kMessageIdBytes) return std::nullopt;
    MessageId id;
    copy_out(body.data(), &id);
    return id;
}

std::optional<std::string_view> parse_resolve(std::span<const uint8_t> body) noexcept {
    std::string_view const name = as_text(body);
    if (!directory::valid_name(name)) return std::nullopt;
    return name;
}

std::array<uint8_t, kSendHeadBytes> send_head(const NodeId& destination, uint8_t flags) noexcept {
    return flagged_head(destination, flags);
}

std::array<uint8_t, kReplyHeadBytes> reply_head(const MessageId& request, uint8_t flags) noexcept {
    return flagged_head(request, flags);
}

std::optional<MessageId> parse_accepted(std::span<const uint8_t> body) noexcept { return parse_status(body); }

std::optional<ResultBody> parse_result(std::span<const uint8_t> body) noexcept {
    if (body.size() < kResultHeadBytes) return std::nullopt;
    const uint8_t* const p = body.data();
    if (!all_zero(p + kMessageIdBytes + 1, 3)) return std::nullopt;
    ResultBody r;
    copy_out(p, &r.id);
    r.state = p[kMessageIdBytes];
    r.error = as_text(body.subspan(kResultHeadBytes));
    return r;
}

std::optional<MessageBody> parse_message(std::span<const uint8_t> body) noexcept {
    if (body.size() < kMessageHeadBytes) return std::nullopt;
    const uint8_t* const p = body.data();
    uint8_t const flags = p[2 * kMessageIdBytes];
    if ((flags & ~kFlagIsReply) != 0 || !all_zero(p + 2 * kMessageIdBytes + 1, 3)) return std::nullopt;
    MessageBody m;
    copy_out(p, &m.id);
    copy_out(p + kMessageIdBytes, &m.in_reply_to);
    m.flags = flags;
    m.bytes = body.subspan(kMessageHeadBytes);
    return m;
}

std::optional<StateBody> parse_state(std::span<const uint8_t> body) noexcept {
    if (body.size() != kStateBodyBytes) return std::nullopt;
    StateBody s;
    copy_out(body.data(), &s.id);
    s.state = body[kMessageIdBytes];
    return s;
}

std::optional<ErrorBody> parse_error(std::span<const uint8_t> body) noexcept {
    if (body.size() < kErrorHeadBytes) return std::nullopt;
    ErrorBody e;
    e.code = load_u16(body.data());
    e.text = as_text(body.subspan(kErrorHeadBytes));
    return e;
}

std::optional<ResolvedBody> parse_resolved(std::span<const uint8_t> body) noexcept {
    if (body.size() != kResolvedBodyBytes) return std::nullopt;
    ResolvedBody r;
    copy_out(body.data(), &r.node);
    r.expires_s = load_u64(body.data() + kNodeIdBytes);
    return r;
}

std::array<uint8_t, kResultHeadBytes> result_head(const MessageId& id, uint8_t state) noexcept {
    return flagged_head(id, state);
}

std::array<uint8_t, kMessageHeadBytes> message_head(const MessageId& id, const MessageId& in_reply_to,
                                                    uint8_t flags) noexcept {
    std::array<uint8_t, kMessageHeadBytes> h{};
    std::memcpy(h.data(), id.data(), kMessageIdBytes);
    std::memcpy(h.data() + kMessageIdBytes, in_reply_to.data(), kMessageIdBytes);
    h[2 * kMessageIdBytes] = flags;
    return h;
}

std::array<uint8_t, kStateBodyBytes> state_body(const MessageId& id, uint8_t state) noexcept {
    std::array<uint8_t, kStateBodyBytes> b{};
    std::memcpy(b.data(), id.data(), kMessageIdBytes);
    b[kMessageIdBytes] = state;
    return b;
}

std::array<uint8_t, kErrorHeadBytes> error_head(uint16_t code) noexcept {
    std::array<uint8_t, kErrorHeadBytes> h{};
    store_u16(h.data(), code);
    return h;
}

std::array<uint8_t, kResolvedBodyBytes> resolved_body(const NodeId& node, uint64_t expires_s) noexcept {
    std::array<uint8_t, kResolvedBodyBytes> b{};
    std::memcpy(b.data(), node.data(), kNodeIdBytes);
    store_u64(b.data() + kNodeIdBytes, expires_s);
    return b;
}

}  // namespace voxa::local
