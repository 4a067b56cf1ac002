// Byte sizes as operators type them on command lines: "1048576", "64k", "16M", "1G" (binary units).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace voxa {

// nullopt for anything else (empty, a non-digit, more than 12 digits).
std::optional<uint64_t> parse_byte_size(std::string_view text) noexcept;

}  // namespace voxa
