// The canonical byte form of registry records (record.h) and name records (name_record.h): the bytes that are
// signed, stored and published. One value has exactly one encoding, so a signature covers one spelling only and
// decode(encode(x)) == x, encode(decode(b)) == b for every accepted b. Rules (PROTOCOL.md §12):
//   integers little-endian; a string is u16 byte length + UTF-8 bytes; an array is u16 count + items; a map is
//   u16 count + (key, value) pairs with keys strictly increasing by bytes; an optional field is a presence byte
//   (0 or 1, nothing else) followed by the value when 1; fixed-size byte arrays are written raw.
// Also the text rules every registry field shares (ids as 64 lowercase hex, printable UTF-8, token alphabets),
// so that JSON input and canonical input are held to the same limits; the Refusal reasons shared by records, name
// records and registrations; and JsonIn, the strict reader both from_json() functions use.
//
// Writer and Reader are plain values owned by the caller; every function here is pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace voxa::registry {

// Why a record, a name record or a registration was refused: one counter per reason, snake_case names.
enum class Refusal : uint8_t {
    kNone,
    kMalformed,      // bytes do not decode / JSON of the wrong shape (unknown or missing field, wrong type)
    kTooLarge,       // over kRecordBytesMax, a string over its limit, too many list or map entries
    kBadId,          // an id that is not 64 lowercase hex, or not BLAKE2b-256 of the key
    kBadField,       // a value outside its rules (type, address, port, backend, capacity, times, names)
    kKeyMismatch,    // the key is not the one that must sign (id / public_key_hash disagree with the key)
    kBadSignature,   // the record's (or its link descriptor's) signature fails
    kExpired,
    kFromFuture,     // created/updated more than kFutureSkewMaxS ahead of our clock
    kReplayed,       // a sequence not newer than the one held
    kLinkMismatch,   // the link descriptor disagrees with the record (key, address, port, capacity, relay flag)
    kNotOwner,       // a name held by another key, with no transfer to this one
    kRateLimited,
    kFull,
    kCount
};
std::string_view refusal_name(Refusal r) noexcept;   // "none", "malformed", "too_large", ...
// Stores `message` in *why (when given) and returns r: how every check reports a refusal.
Refusal refuse(Refusal r, std::string* why, std::string message);


inline constexpr std::size_t kRecordBytesMax = 4096;   // a whole encoded record or name record
inline constexpr std::size_t kStringBytesMax = 256;    // any string field
inline constexpr std::size_t kTokenBytesMax = 32;      // a capability, a protocol, a map key
inline constexpr std::size_t kListMax = 32;            // capabilities / protocols / map entries

class Writer {
public:
    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v);
    void u32(uint32_t v);
    void u64(uint64_t v);
    void raw(std::span<const uint8_t> bytes);
    // u16 length + bytes; the caller has checked the length limit (VOXA_CHECK for <= 65535).
    void str(std::string_view s);
    std::vector<uint8_t> take() noexcept { return std::move(out_); }

private:
    std::vector<uint8_t> out_;
};

// Reads front to back. The first failure sticks: later reads return zeros/empties and ok() stays false, so
// decoders read straight through and check once; error() names the field that failed.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> bytes) noexcept : in_(bytes) {}
    uint8_t u8(std::string_view field);
    uint16_t u16(std::string_view field);
    uint32_t u32(std::string_view field);
    uint64_t u64(std::string_view field);
    template <std::size_t N>
    void raw(std::string_view field, std::array<uint8_t, N>* out) { raw_into(field, out->data(), N); }
    // A u16-length string of at most bytes_max bytes (longer -> fail "too long"); no content check here.
    std::string str(std::string_view field, std::size_t bytes_max);
    // A presence byte: 0 -> false, 1 -> true, anything else fails (a second spelling otherwise).
    bool presence(std::string_view field);
    void fail(std::string_view field, std::string_view what);
    bool ok() const noexcept { return ok_; }
    bool at_end() const noexcept { return pos_ == in_.size(); }
    const std::string& error() const noexcept { return error_; }
    // The end of a decoder: trailing bytes are refused, then any failure becomes kTooLarge (a string over its
    // limit) or kMalformed, with error() in *why. kNone when everything was read cleanly to the end.
    Refusal finish(std::string_view what, std::string* why);

private:
    bool take(std::string_view field, std::size_t n);
    void raw_into(std::string_view field, uint8_t* out, std::size_t n);

    std::span<const uint8_t> in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
    std::string error_;
};

// context || bytes without their last `tail` bytes: the message an Ed25519 signature covers (the signature is
// always the tail of an encoding).
std::vector<uint8_t> with_context(std::string_view context, std::span<const uint8_t> bytes, std::size_t tail);

// ---- text rules ----

// Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without control characters (C0, DEL, C1).
bool is_printable_utf8(std::string_view s) noexcept;
// 1..kTokenBytesMax bytes of [a-z0-9._/-] (capabilities, protocols).
bool is_protocol_token(std::string_view s) noexcept;
// 1..kTokenBytesMax bytes of [a-z0-9_.-] (metadata / routing_info keys).
bool is_map_key(std::string_view s) noexcept;

// Exactly 2*N lowercase hex digits -> bytes; nullopt for anything else (upper case, separators, length). Ids
// arrive in URLs and JSON; the strict form leaves no room for path tricks or two spellings of one id.
template <std::size_t N>
std::optional<std::array<uint8_t, N>> from_hex(std::string_view text) noexcept {
    if (text.size() != 2 * N) return std::nullopt;
    std::array<uint8_t, N> out{};
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < N; ++i) {
        int const hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = uint8_t(hi << 4 | lo);
    }
    return out;
}

// Strict reads of one JSON object for from_json(): each read looks a key up (missing -> kMalformed), checks type
// and limit, and the first failure sticks with its reason and a message naming the key. The caller checks the
// set of keys (unknown ones) itself.
class JsonIn {
public:
    explicit JsonIn(const nlohmann::json& j) : j_(j) {}
    bool ok() const noexcept { return refusal_ == Refusal::kNone; }
    Refusal refusal() const noexcept { return refusal_; }
    const std::string& why() const noexcept { return why_; }
    void fail(Refusal r, std::string message);
    const nlohmann::json* get(const char* key);
    std::string str(const char* key, std::size_t bytes_max);
    uint64_t u64(const char* key, uint64_t max);
    std::vector<std::string> strings(const char* key);              // at most kListMax strings
    std::map<std::string, std::string> map(const char* key);       // at most kListMax string values
    template <std::size_t N>
    std::array<uint8_t, N> hex(const char* key, Refusal r) {      // strict lowercase; a bad one fails with r
        std::string const s = str(key, 2 * N);
        if (!ok()) return {};
        auto const bytes = from_hex<N>(s);
        if (!bytes) {
            fail(r, std::string(key) + ": not " + std::to_string(2 * N) + " lowercase hex digits");
            return {};
        }
        return *bytes;
    }

private:
    const nlohmann::json& j_;
    Refusal refusal_ = Refusal::kNone;
    std::string why_;
};

// kMalformed with "<key>: unknown field" for the first key of `j` not in `known`, else kNone.
Refusal unknown_field(const nlohmann::json& j, std::initializer_list<std::string_view> known,
                      std::span<const std::string_view> more, std::string* why);

}  // namespace voxa::registry
