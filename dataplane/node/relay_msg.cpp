#include "node/relay_msg.h"

#include <cstring>

#include "common/bytes.h"

namespace voxa::node {

bool write_relay_msg(uint8_t* msg, std::size_t msg_bytes, wire::RelayMsgType type, uint8_t flags,
                     std::span<const uint8_t> data) noexcept {
    if (data.size() > msg_bytes - wire::kRelayMsgHeaderBytes) return false;
    msg[0] = uint8_t(type);
    msg[1] = flags;
    store_u16(msg + 2, uint16_t(data.size()));
    if (!data.empty()) std::memmove(msg + wire::kRelayMsgHeaderBytes, data.data(), data.size());
    std::memset(msg + wire::kRelayMsgHeaderBytes + data.size(), 0,
                msg_bytes - wire::kRelayMsgHeaderBytes - data.size());
    return true;
}

bool parse_relay_msg(const uint8_t* msg, std::size_t msg_bytes, RelayMsgView* out) noexcept {
    if (msg_bytes < wire::kRelayMsgHeaderBytes) return false;
    const uint8_t type = msg[0];
    const std::size_t len = load_u16(msg + 2);
    if (type > uint8_t(wire::RelayMsgType::kDone)) return false;
    if (len > msg_bytes - wire::kRelayMsgHeaderBytes) return false;
    out->type = wire::RelayMsgType(type);
    out->flags = msg[1];
    out->data = std::span<const uint8_t>(msg + wire::kRelayMsgHeaderBytes, len);
    return true;
}

std::size_t write_status(uint8_t* out, const MessageId& id, uint8_t part, uint8_t flags, uint32_t highest,
                         std::span<const StatusRange> ranges) noexcept {
    std::memcpy(out, id.data(), id.size());
    out[16] = part;
    out[17] = flags;
    store_u16(out + 18, uint16_t(ranges.size()));
    store_u32(out + 20, highest);
    uint8_t* p = out + kStatusHeaderBytes;
    for (const StatusRange& r : ranges) {
        store_u32(p, r.first);
        store_u32(p + 4, r.last);
        p += 8;
    }
    return std::size_t(p - out);
}

bool parse_status(std::span<const uint8_t> data, StatusView* out) noexcept {
    if (data.size() < kStatusHeaderBytes) return false;
    const std::size_t count = load_u16(data.data() + 18);
    if (data.size() != kStatusHeaderBytes + 8 * count) return false;
    std::memcpy(out->message_id.data(), data.data(), kMessageIdBytes);
    out->part = data[16];
    out->flags = data[17];
    out->highest = load_u32(data.data() + 20);
    out->ranges = data.subspan(kStatusHeaderBytes);
    for (std::size_t i = 0; i < count; ++i) {
        if (out->range(i).first > out->range(i).last) return false;
    }
    return true;
}

StatusRange StatusView::range(std::size_t i) const noexcept {
    return StatusRange{load_u32(ranges.data() + 8 * i), load_u32(ranges.data() + 8 * i + 4)};
}

}  // namespace voxa::node
