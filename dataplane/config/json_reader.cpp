#include "config/json_reader.h"

#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <set>

namespace voxa::config::detail {

namespace {

constexpr std::size_t kDepthMax = 16;   // our deepest key is 3 levels down
struct TooDeep : std::exception {};

// Tracks where the parser is, so that a key seen twice in one object can be reported with its path. nlohmann
// keeps the last of duplicate keys silently; in a configuration that hides a mistake.
class DuplicateKeys {
public:
    bool on_event(json::parse_event_t event, const json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                element_started();
                // Printing a value (in an error message) recurses once per level: bound the depth, not the stack.
                if (frames_.size() >= kDepthMax) throw TooDeep();
                frames_.push_back(Frame{event == json::parse_event_t::array_start, 0, {}, {}});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!frames_.empty()) frames_.pop_back();
                break;
            case json::parse_event_t::key:
                if (!frames_.empty() && parsed.is_string()) {
                    Frame& top = frames_.back();
                    top.key = parsed.get<std::string>();
                    if (!top.keys.insert(top.key).second && duplicate_.empty()) duplicate_ = path();
                }
                break;
            case json::parse_event_t::value:
                element_started();
                break;
        }
        return true;
    }
    const std::string& duplicate() const noexcept { return duplicate_; }

private:
    struct Frame {
        bool array;
        std::size_t count;   // arrays: elements started so far
        std::string key;     // objects: the current key
        std::set<std::string> keys;
    };
    void element_started() {
        if (!frames_.empty() && frames_.back().array) frames_.back().count += 1;
    }
    std::string path() const {
        std::string out;
        for (const Frame& f : frames_) out = f.array ? index_path(out, f.count - 1) : key_path(out, f.key);
        return out;
    }

    std::vector<Frame> frames_;
    std::string duplicate_;
};

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix.
std::string parse_error_reason(const std::string& what) {
    std::size_t const column = what.find("column ");
    if (column != std::string::npos) {
        std::size_t const colon = what.find(": ", column);
        if (colon != std::string::npos) return what.substr(colon + 2);
    }
    std::size_t const bracket = what.find("] ");
    return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t const up = row[j];
            bool const same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                              std::tolower(static_cast<unsigned char>(b[j - 1]));
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::string list_of(std::span<const std::string_view> items) {
    std::string out;
    for (std::string_view item : items) {
        if (!out.empty()) out += ", ";
        out += item;
    }
    return out;
}

}  // namespace

std::optional<json> parse_object_text(std::string_view text, std::string_view file_label, std::string* error) {
    std::string const label(file_label);
    auto set_error = [&](const std::string& message) {
        if (error != nullptr) *error = message;
    };
    if (text.size() > kFileBytesMax) {
        set_error(label + ": file too large (" + std::to_string(text.size()) + " bytes; at most " +
                  std::to_string(kFileBytesMax) + ")");
        return std::nullopt;
    }
    DuplicateKeys duplicates;
    json value;
    try {
        value = json::parse(
            text.begin(), text.end(),
            [&duplicates](int, json::parse_event_t event, json& parsed) { return duplicates.on_event(event, parsed); });
    } catch (const TooDeep&) {
        set_error(label + ": values nested more than " + std::to_string(kDepthMax) + " levels deep");
        return std::nullopt;
    } catch (const json::parse_error& e) {
        // e.byte is the 1-based offset of the last character read; count lines up to it ourselves so the
        // message does not depend on the library's wording.
        std::size_t const end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < end; ++i) {
            if (text[i] == '\n') {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        set_error(label + ": line " + std::to_string(line) + ", column " + std::to_string(column) +
                  ": invalid JSON: " + parse_error_reason(e.what()));
        return std::nullopt;
    } catch (const std::exception& e) {
        set_error(label + ": " + e.what());
        return std::nullopt;
    }
    if (!duplicates.duplicate().empty()) {
        set_error(label + ": \"" + duplicates.duplicate() + "\": key appears more than once in its object");
        return std::nullopt;
    }
    if (!value.is_object()) {
        set_error(label + ": expected a JSON object ({...}) at the top level, got " + show(value));
        return std::nullopt;
    }
    return value;
}

std::string show(const json& v) {
    std::string out = v.dump(-1, ' ', false, json::error_handler_t::replace);
    constexpr std::size_t kShownMax = 60;
    if (out.size() > kShownMax) {
        out.resize(kShownMax);
        out += "...";
    }
    return out;
}

std::string key_path(const std::string& parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string out = parent;
    out += '.';
    out += key;
    return out;
}

std::string index_path(const std::string& parent, std::size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

std::string closest(std::string_view key, std::span<const std::string_view> known) {
    std::string best;
    std::size_t best_distance = 3;
    for (std::string_view candidate : known) {
        std::size_t const d = edit_distance(key, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = std::string(candidate);
        }
    }
    return best;
}

void Reader::set_override(std::string_view key, std::string_view variable) {
    overrides_[std::string(key)] = std::string(variable);
}

std::string Reader::label_for(const std::string& path) const {
    std::size_t const end = path.find_first_of(".[");
    auto const it = overrides_.find(std::string_view(path).substr(0, end));
    if (it == overrides_.end()) return file_;
    return it->second + " (overrides " + file_ + ")";
}

void Reader::fail(const std::string& path, std::string_view expected, const json* got) {
    if (!ok_) return;
    std::string message = "expected ";
    message += expected;
    if (got != nullptr) message += ", got " + show(*got);
    fail_message(path, message);
}

void Reader::fail_message(const std::string& path, std::string_view message) {
    if (!ok_) return;
    ok_ = false;
    error_ = label_for(path) + ": ";
    if (!path.empty()) error_ += "\"" + path + "\": ";
    error_ += message;
}

bool Reader::object(const json& v, const std::string& path, std::span<const std::string_view> known) {
    if (!ok_) return false;
    if (!v.is_object()) {
        fail(path, "an object {...}", &v);
        return false;
    }
    for (const auto& item : v.items()) {
        std::string const& key = item.key();
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string const guess = closest(key, known);
        fail_message(key_path(path, key), guess.empty() ? "unknown key (known keys: " + list_of(known) + ")"
                                                        : "unknown key; did you mean \"" + guess + "\"?");
        return false;
    }
    return true;
}

const json* Reader::find(const json& obj, std::string_view key) const {
    if (!ok_ || !obj.is_object()) return nullptr;
    auto const it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

std::optional<int64_t> Reader::as_int64(const json& v) {
    if (v.is_number_unsigned()) {
        uint64_t const u = v.get<uint64_t>();
        if (u > uint64_t(INT64_MAX)) return std::nullopt;
        return int64_t(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    return std::nullopt;
}

void Reader::integer(const json& obj, const std::string& parent, std::string_view key, int64_t lo, int64_t hi,
                     int64_t* out) {
    const json* v = find(obj, key);
    if (v == nullptr) return;
    std::optional<int64_t> const i = as_int64(*v);
    if (!i || *i < lo || *i > hi) {
        fail(key_path(parent, key), "an integer " + std::to_string(lo) + ".." + std::to_string(hi), v);
        return;
    }
    *out = *i;
}

void Reader::boolean(const json& obj, const std::string& parent, std::string_view key, bool* out) {
    const json* v = find(obj, key);
    if (v == nullptr) return;
    if (!v->is_boolean()) {
        fail(key_path(parent, key), "true or false", v);
        return;
    }
    *out = v->get<bool>();
}

void Reader::string(const json& obj, const std::string& parent, std::string_view key, std::size_t bytes_max,
                    bool allow_empty, std::string* out) {
    const json* v = find(obj, key);
    if (v == nullptr) return;
    if (!v->is_string() || v->get_ref<const std::string&>().size() > bytes_max ||
        (!allow_empty && v->get_ref<const std::string&>().empty())) {
        fail(key_path(parent, key),
             std::string(allow_empty ? "a string of at most " : "a non-empty string of at most ") +
                 std::to_string(bytes_max) + " bytes",
             v);
        return;
    }
    *out = v->get<std::string>();
}

void Reader::choice(const json& obj, const std::string& parent, std::string_view key,
                    std::initializer_list<std::string_view> choices, std::string* out) {
    const json* v = find(obj, key);
    if (v == nullptr) return;
    if (!v->is_string() ||
        std::find(choices.begin(), choices.end(), v->get_ref<const std::string&>()) == choices.end()) {
        // Appended piece by piece: gcc 12 -O3 warns falsely (-Wrestrict) on the chained operator+ form.
        std::string expected = "one of ";
        bool first = true;
        for (std::string_view c : choices) {
            if (!first) expected += ", ";
            first = false;
            expected += '"';
            expected += c;
            expected += '"';
        }
        fail(key_path(parent, key), expected, v);
        return;
    }
    *out = v->get<std::string>();
}

void Reader::strings(const json& obj, const std::string& parent, std::string_view key, std::size_t count_max,
                     std::size_t bytes_max, std::vector<std::string>* out) {
    const json* v = find(obj, key);
    if (v == nullptr) return;
    std::string const path = key_path(parent, key);
    if (!v->is_array() || v->size() > count_max) {
        fail(path, "an array of at most " + std::to_string(count_max) + " strings", v);
        return;
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < v->size(); ++i) {
        const json& e = (*v)[i];
        if (!e.is_string() || e.get_ref<const std::string&>().empty() ||
            e.get_ref<const std::string&>().size() > bytes_max) {
            fail(index_path(path, i), "a non-empty string of at most " + std::to_string(bytes_max) + " bytes", &e);
            return;
        }
        values.push_back(e.get<std::string>());
    }
    *out = std::move(values);
}

}  // namespace voxa::config::detail
