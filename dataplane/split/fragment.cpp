#include "split/fragment.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::split {
namespace {

constexpr std::size_t kOffPart = 16, kOffFlags = 17, kOffRsv = 18, kOffFragment = 20;
static_assert(kOffFragment + 4 == wire::kFragmentHeaderBytes);

}  // namespace

std::size_t fragments_in_part(uint32_t part_bytes, std::size_t cell_bytes) noexcept {
    std::size_t const per = wire::fragment_data_bytes(cell_bytes);
    return (std::size_t(part_bytes) + per - 1) / per;
}

std::size_t fragment_bytes(uint32_t part_bytes, uint32_t fragment, std::size_t cell_bytes) noexcept {
    std::size_t const per = wire::fragment_data_bytes(cell_bytes);
    std::size_t const begin = std::size_t(fragment) * per;
    if (begin >= part_bytes) return 0;
    return std::min(per, std::size_t(part_bytes) - begin);
}

std::size_t write_fragment(const MessageId& id, uint8_t part, uint32_t fragment, std::span<const uint8_t> part_bytes,
                           std::size_t cell_bytes, uint8_t* out) noexcept {
    std::size_t const per = wire::fragment_data_bytes(cell_bytes);
    std::size_t const begin = std::size_t(fragment) * per;
    VOXA_ASSERT(begin < part_bytes.size());
    std::size_t const len = std::min(per, part_bytes.size() - begin);
    std::memcpy(out, id.data(), kMessageIdBytes);
    out[kOffPart] = part;
    out[kOffFlags] = 0;
    store_u16(out + kOffRsv, 0);
    store_u32(out + kOffFragment, fragment);
    std::memcpy(out + wire::kFragmentHeaderBytes, part_bytes.data() + begin, len);
    return wire::kFragmentHeaderBytes + len;
}

FragmentDrop parse_fragment(std::span<const uint8_t> data, FragmentView* out) noexcept {
    if (data.size() <= wire::kFragmentHeaderBytes) return FragmentDrop::kShort;
    const uint8_t* p = data.data();
    if (p[kOffFlags] != 0 || load_u16(p + kOffRsv) != 0) return FragmentDrop::kReservedNonZero;
    std::memcpy(out->message_id.data(), p, kMessageIdBytes);
    out->part = p[kOffPart];
    out->fragment = load_u32(p + kOffFragment);
    out->bytes = data.subspan(wire::kFragmentHeaderBytes);
    return FragmentDrop::kNone;
}

}  // namespace voxa::split
