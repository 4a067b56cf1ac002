#include "common/size.h"

namespace voxa {

std::optional<uint64_t> parse_byte_size(std::string_view text) noexcept {
    if (text.empty()) return std::nullopt;
    uint64_t scale = 1;
    switch (text.back()) {
        case 'k': case 'K': scale = 1u << 10; break;
        case 'm': case 'M': scale = 1u << 20; break;
        case 'g': case 'G': scale = 1u << 30; break;
        default: break;
    }
    if (scale != 1) text.remove_suffix(1);
    if (text.empty() || text.size() > 12) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + uint64_t(c - '0');
    }
    return value * scale;
}

}  // namespace voxa
