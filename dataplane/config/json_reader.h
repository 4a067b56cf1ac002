// Typed, validating reads from a parsed JSON configuration file, for config.cpp.
//
// A Reader belongs to one file. Every read checks type and range, and the first failure becomes the one error
// message of the file: `<file>: "<key path>": expected <what>, got <value>`. Key paths read `port`,
// `server-settings.host`, `bootstrap_nodes[2].id`. When a top-level key's value came from an environment variable,
// messages about it start with the variable instead: `VOXA_P2P_PORT (overrides config/p2p.json): "port": ...`.
// After the first failure every further call is a no-op, so parsing code reads straight through and checks ok()
// at the end. Start-up code: allocates, never throws (values are type-checked before nlohmann's get<>).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace voxa::config::detail {

using nlohmann::json;

// Parses `text` as one JSON object. Refuses empty or oversized text, invalid JSON (the message gives line and
// column), a top level that is not an object, and a key that appears twice in one object. On failure returns
// nullopt and sets *error to a message starting with `file_label`.
std::optional<json> parse_object_text(std::string_view text, std::string_view file_label, std::string* error);

// A JSON value as it appears in messages: compact, at most ~60 characters, invalid UTF-8 replaced.
std::string show(const json& v);

// "a" + "b" -> "a.b"; "" + "b" -> "b"; "a" + 3 -> "a[3]".
std::string key_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, std::size_t index);

// The closest of `known` to `key` (edit distance at most 2, case-insensitive), or "".
std::string closest(std::string_view key, std::span<const std::string_view> known);

class Reader {
public:
    explicit Reader(std::string_view file_label) : file_(file_label) {}

    // The top-level key `key` holds a value taken from environment variable `variable`.
    void set_override(std::string_view key, std::string_view variable);

    bool ok() const noexcept { return ok_; }
    const std::string& error() const noexcept { return error_; }

    // Records `<label>: "<path>": expected <expected>, got <show(*got)>` (", got" left out when got is null),
    // unless an error is already recorded.
    void fail(const std::string& path, std::string_view expected, const json* got);
    // Records `<label>: "<path>": <message>` (or `<label>: <message>` when path is empty).
    void fail_message(const std::string& path, std::string_view message);

    // True if `v` is an object whose keys are all in `known`; else records an error (an unknown key names the
    // closest known key, or lists them) and returns false.
    bool object(const json& v, const std::string& path, std::span<const std::string_view> known);

    // obj[key] if the key is present (and no error is recorded yet), else nullptr.
    const json* find(const json& obj, std::string_view key) const;

    // Each reader below reads obj[key] into *out when the key is present, leaves *out (the default) when it is
    // absent, and records an error when the value has the wrong type or range. `parent` is obj's key path.
    // Integers must be JSON integers in lo..hi: no fractions, no strings.
    void integer(const json& obj, const std::string& parent, std::string_view key, int64_t lo, int64_t hi,
                 int64_t* out);
    template <class T>
    void number(const json& obj, const std::string& parent, std::string_view key, int64_t lo, int64_t hi, T* out) {
        int64_t v = int64_t(*out);
        integer(obj, parent, key, lo, hi, &v);
        *out = T(v);
    }
    void boolean(const json& obj, const std::string& parent, std::string_view key, bool* out);
    // A string of 1..bytes_max bytes (0.. when allow_empty).
    void string(const json& obj, const std::string& parent, std::string_view key, std::size_t bytes_max,
                bool allow_empty, std::string* out);
    // A string that is one of `choices`.
    void choice(const json& obj, const std::string& parent, std::string_view key,
                std::initializer_list<std::string_view> choices, std::string* out);
    // An array of at most count_max strings, each 1..bytes_max bytes.
    void strings(const json& obj, const std::string& parent, std::string_view key, std::size_t count_max,
                 std::size_t bytes_max, std::vector<std::string>* out);

    // The integer value of `v` if it is a JSON integer that fits int64.
    static std::optional<int64_t> as_int64(const json& v);

private:
    std::string label_for(const std::string& path) const;

    std::string file_;
    std::map<std::string, std::string, std::less<>> overrides_;   // top-level key -> variable
    bool ok_ = true;
    std::string error_;
};

}  // namespace voxa::config::detail
