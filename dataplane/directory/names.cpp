#include "directory/names.h"

namespace voxa::directory {

bool valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > kNameBytesMax) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
    }
    return true;
}

NameTable::SetResult NameTable::set(std::string_view name, const Entry& entry, uint64_t now_s) {
    if (entry.expires_s <= now_s) {
        remove(name);
        return SetResult::kRemoved;
    }
    std::string key(name);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
        it->second = entry;
        return SetResult::kReplaced;
    }
    // Full: expired entries make room before a live name is refused.
    if (entries_.size() >= capacity_ && (sweep(now_s) == 0 || entries_.size() >= capacity_)) {
        ++refused_;
        return SetResult::kFull;
    }
    entries_.emplace(std::move(key), entry);
    return SetResult::kNew;
}

bool NameTable::remove(std::string_view name) { return entries_.erase(std::string(name)) != 0; }

std::optional<NameTable::Entry> NameTable::find(std::string_view name, uint64_t now_s) const {
    auto it = entries_.find(std::string(name));
    if (it == entries_.end() || it->second.expires_s <= now_s) return std::nullopt;
    return it->second;
}

std::size_t NameTable::sweep(uint64_t now_s) {
    return std::erase_if(entries_, [now_s](const auto& kv) { return kv.second.expires_s <= now_s; });
}

}  // namespace voxa::directory
