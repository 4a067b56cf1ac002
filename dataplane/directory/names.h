// Names the data plane can answer locally: name -> node id, each with an expiry. voxa-control (the registry
// plugin, which verifies the signed name records) pushes them over the shm command ring (NameSet / NameRemove,
// include/voxa/shm.h) and local programs ask with a RESOLVE frame (docs/API.md, "Local delivery socket"), so a
// lookup never waits for the control plane.
//
// The data plane trusts what voxa-control pushes (the segment is the node's own, 0600) and keeps no signatures;
// it only checks the name's spelling: 1..253 bytes of [a-z0-9.-] (the registry's DNS-like rules are stricter, so
// any name it holds passes).
//
// NameTable is owned by the daemon's control thread (no locking): bounded (full -> refused, counted), a set
// replaces, an entry whose expiry has passed is never answered and is dropped by sweep().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "voxa/types.h"

namespace voxa::directory {

inline constexpr std::size_t kNameBytesMax = 253;
inline constexpr std::size_t kNamesMax = 65536;

// 1..kNameBytesMax bytes, each in [a-z0-9.-].
bool valid_name(std::string_view name) noexcept;

class NameTable {
public:
    explicit NameTable(std::size_t capacity = kNamesMax) : capacity_(capacity) {}

    struct Entry {
        NodeId node{};
        uint64_t expires_s = 0;   // unix seconds; answered while now_s < expires_s
    };
    enum class SetResult : uint8_t { kNew, kReplaced, kRemoved, kFull };
    // Stores or replaces name -> entry. An entry already expired at now_s removes the name instead (kRemoved).
    // A new name when the table holds `capacity` live names: kFull, counted in refused(). The caller checked
    // valid_name.
    SetResult set(std::string_view name, const Entry& entry, uint64_t now_s);
    // True when the name was held.
    bool remove(std::string_view name);
    // The live entry for name, or nullopt (unknown or expired).
    std::optional<Entry> find(std::string_view name, uint64_t now_s) const;
    // Drops every entry expired at now_s; returns how many.
    std::size_t sweep(uint64_t now_s);

    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    uint64_t refused() const noexcept { return refused_; }

private:
    std::size_t capacity_;
    std::unordered_map<std::string, Entry> entries_;
    uint64_t refused_ = 0;
};

}  // namespace voxa::directory
