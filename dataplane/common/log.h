// Logs are JSON lines on stderr: {"ts": RFC 3339 UTC, "level", "msg", ...fields}. For start-up, shutdown and
// rare events only: the data path counts, it never logs per packet. Thread-safe (one write per line).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace voxa {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };

// Parses "debug" | "info" | "warn" | "error"; false otherwise.
bool parse_log_level(std::string_view text, LogLevel* out) noexcept;
void set_log_level(LogLevel level) noexcept;
void log(LogLevel level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace voxa
