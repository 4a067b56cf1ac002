#include "canonical.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::registry {

Refusal refuse(Refusal r, std::string* why, std::string message) {
    if (why != nullptr) *why = std::move(message);
    return r;
}

Refusal Reader::finish(std::string_view what, std::string* why) {
    if (ok_ && !at_end()) fail(what, "trailing bytes");
    if (ok_) return Refusal::kNone;
    bool const long_string = error_.find("longer than") != std::string::npos;
    return refuse(long_string ? Refusal::kTooLarge : Refusal::kMalformed, why, error_);
}

// resize + memcpy rather than vector::insert: gcc 12 -O3 warns falsely (-Warray-bounds) on inserting small arrays.
void Writer::raw(std::span<const uint8_t> bytes) {
    std::size_t const at = out_.size();
    out_.resize(at + bytes.size());
    if (!bytes.empty()) std::memcpy(out_.data() + at, bytes.data(), bytes.size());
}
void Writer::u16(uint16_t v) {
    std::size_t const at = out_.size();
    out_.resize(at + 2);
    store_u16(out_.data() + at, v);
}
void Writer::u32(uint32_t v) {
    std::size_t const at = out_.size();
    out_.resize(at + 4);
    store_u32(out_.data() + at, v);
}
void Writer::u64(uint64_t v) {
    std::size_t const at = out_.size();
    out_.resize(at + 8);
    store_u64(out_.data() + at, v);
}

std::vector<uint8_t> with_context(std::string_view context, std::span<const uint8_t> bytes, std::size_t tail) {
    VOXA_CHECK(bytes.size() >= tail);
    std::size_t const body = bytes.size() - tail;
    std::vector<uint8_t> message(context.size() + body);
    std::memcpy(message.data(), context.data(), context.size());
    if (body != 0) std::memcpy(message.data() + context.size(), bytes.data(), body);
    return message;
}
void Writer::str(std::string_view s) {
    VOXA_CHECK(s.size() <= 0xffff);
    u16(uint16_t(s.size()));
    raw({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

void Reader::fail(std::string_view field, std::string_view what) {
    if (!ok_) return;
    ok_ = false;
    error_ = std::string(field) + ": " + std::string(what);
}

bool Reader::take(std::string_view field, std::size_t n) {
    if (!ok_) return false;
    if (in_.size() - pos_ < n) {
        fail(field, "truncated");
        return false;
    }
    return true;
}

void Reader::raw_into(std::string_view field, uint8_t* out, std::size_t n) {
    if (!take(field, n)) {
        std::fill(out, out + n, uint8_t(0));
        return;
    }
    std::copy(in_.begin() + std::ptrdiff_t(pos_), in_.begin() + std::ptrdiff_t(pos_ + n), out);
    pos_ += n;
}

uint8_t Reader::u8(std::string_view field) {
    if (!take(field, 1)) return 0;
    return in_[pos_++];
}
uint16_t Reader::u16(std::string_view field) {
    if (!take(field, 2)) return 0;
    uint16_t const v = load_u16(in_.data() + pos_);
    pos_ += 2;
    return v;
}
uint32_t Reader::u32(std::string_view field) {
    if (!take(field, 4)) return 0;
    uint32_t const v = load_u32(in_.data() + pos_);
    pos_ += 4;
    return v;
}
uint64_t Reader::u64(std::string_view field) {
    if (!take(field, 8)) return 0;
    uint64_t const v = load_u64(in_.data() + pos_);
    pos_ += 8;
    return v;
}

std::string Reader::str(std::string_view field, std::size_t bytes_max) {
    uint16_t const n = u16(field);
    if (!ok_) return {};
    if (n > bytes_max) {
        fail(field, "longer than " + std::to_string(bytes_max) + " bytes");
        return {};
    }
    if (!take(field, n)) return {};
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
}

bool Reader::presence(std::string_view field) {
    uint8_t const b = u8(field);
    if (b > 1) fail(field, "presence byte must be 0 or 1");
    return b == 1;
}

std::string_view refusal_name(Refusal r) noexcept {
    switch (r) {
        case Refusal::kNone: return "none";
        case Refusal::kMalformed: return "malformed";
        case Refusal::kTooLarge: return "too_large";
        case Refusal::kBadId: return "bad_id";
        case Refusal::kBadField: return "bad_field";
        case Refusal::kKeyMismatch: return "key_mismatch";
        case Refusal::kBadSignature: return "bad_signature";
        case Refusal::kExpired: return "expired";
        case Refusal::kFromFuture: return "from_future";
        case Refusal::kReplayed: return "replayed";
        case Refusal::kLinkMismatch: return "link_mismatch";
        case Refusal::kNotOwner: return "not_owner";
        case Refusal::kRateLimited: return "rate_limited";
        case Refusal::kFull: return "full";
        case Refusal::kCount: break;
    }
    return "unknown";
}

using nlohmann::json;

void JsonIn::fail(Refusal r, std::string message) {
    if (!ok()) return;
    refusal_ = r;
    why_ = std::move(message);
}

const json* JsonIn::get(const char* key) {
    if (!ok()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) {
        fail(Refusal::kMalformed, std::string(key) + ": missing");
        return nullptr;
    }
    return &*it;
}

std::string JsonIn::str(const char* key, std::size_t bytes_max) {
    const json* v = get(key);
    if (v == nullptr) return {};
    if (!v->is_string()) {
        fail(Refusal::kMalformed, std::string(key) + ": not a string");
        return {};
    }
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > bytes_max) {
        fail(Refusal::kTooLarge, std::string(key) + ": longer than " + std::to_string(bytes_max) + " bytes");
        return {};
    }
    return s;
}

uint64_t JsonIn::u64(const char* key, uint64_t max) {
    const json* v = get(key);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
        fail(Refusal::kMalformed, std::string(key) + ": not a non-negative integer");
        return 0;
    }
    uint64_t const u = v->get<uint64_t>();
    if (u > max) fail(Refusal::kBadField, std::string(key) + ": larger than " + std::to_string(max));
    return u;
}

std::vector<std::string> JsonIn::strings(const char* key) {
    const json* v = get(key);
    std::vector<std::string> out;
    if (v == nullptr) return out;
    if (!v->is_array()) {
        fail(Refusal::kMalformed, std::string(key) + ": not an array of strings");
        return out;
    }
    if (v->size() > kListMax) {
        fail(Refusal::kTooLarge, std::string(key) + ": more than " + std::to_string(kListMax) + " entries");
        return out;
    }
    for (const json& e : *v) {
        if (!e.is_string()) {
            fail(Refusal::kMalformed, std::string(key) + ": not an array of strings");
            return out;
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::map<std::string, std::string> JsonIn::map(const char* key) {
    const json* v = get(key);
    std::map<std::string, std::string> out;
    if (v == nullptr) return out;
    if (!v->is_object()) {
        fail(Refusal::kMalformed, std::string(key) + ": not an object of strings");
        return out;
    }
    if (v->size() > kListMax) {
        fail(Refusal::kTooLarge, std::string(key) + ": more than " + std::to_string(kListMax) + " entries");
        return out;
    }
    for (const auto& [k, e] : v->items()) {
        if (!e.is_string()) {
            fail(Refusal::kMalformed, std::string(key) + "." + k.substr(0, 40) + ": not a string");
            return out;
        }
        out.emplace(k, e.get<std::string>());
    }
    return out;
}

Refusal unknown_field(const json& j, std::initializer_list<std::string_view> known,
                      std::span<const std::string_view> more, std::string* why) {
    for (const auto& item : j.items()) {
        std::string_view const key = item.key();
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        if (std::find(more.begin(), more.end(), key) != more.end()) continue;
        if (why != nullptr) *why = std::string(key.substr(0, 40)) + ": unknown field";
        return Refusal::kMalformed;
    }
    return Refusal::kNone;
}

bool is_printable_utf8(std::string_view s) noexcept {
    auto const* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t const n = s.size();
    for (std::size_t i = 0; i < n;) {
        unsigned const c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            ++i;
            continue;
        }
        std::size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (std::size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        static constexpr uint32_t kMinOf[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinOf[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        if (cp >= 0x80 && cp <= 0x9f) return false;   // C1 controls
        i += len;
    }
    return true;
}

namespace {
bool all_of_alphabet(std::string_view s, std::string_view extra) noexcept {
    if (s.empty() || s.size() > kTokenBytesMax) return false;
    for (char c : s) {
        bool const ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}
}  // namespace

bool is_protocol_token(std::string_view s) noexcept { return all_of_alphabet(s, "._/-"); }
bool is_map_key(std::string_view s) noexcept { return all_of_alphabet(s, "_.-"); }

}  // namespace voxa::registry
