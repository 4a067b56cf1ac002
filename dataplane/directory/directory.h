// The static directory: every node this node knows, by node id, until the registry exists (DESIGN §5). It starts
// from the bootstrap peers of p2p.json (id, key, address, no signature) and grows by gossip: nodes send one another
// DIRECTORY cells whose body carries signed descriptors (descriptor.h), so a new node learns the relays from any
// one neighbour. Nothing in a gossip body is trusted to the peer that sent it; each descriptor is checked on its
// own signature. A gossip body (the lead's DIRECTORY cell body; bytes after the descriptors are padding):
//
//   | count u8 | rsv[3] = 0 | count x descriptor(132) |      1 <= count <= floor((body_bytes - 4) / 132)
//
// Rules: per node id the descriptor with the greatest issued_at_s wins; an equal or older one is ignored without
// checking its signature (gossip repeats itself; this keeps repeats cheap). Our own id is ignored. Signed entries
// older than ttl_s are dropped by expire(); a bootstrap peer falls back to its configured address instead.
// The table is bounded (entries_max); when full, new ids are refused and counted (kFull), known ids still update.
//
// One Directory per daemon, used by the control thread only; not thread-safe. No member throws except through
// allocation failure (std::bad_alloc) when the table or a returned vector grows.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "directory/descriptor.h"

namespace voxa::directory {

inline constexpr std::size_t kGossipHeaderBytes = 4;   // count u8, rsv[3]

// How many descriptors fit in a gossip body of `body_bytes` (0 if not even one does).
// The count byte caps it at 255.
constexpr std::size_t gossip_capacity(std::size_t body_bytes) noexcept {
    if (body_bytes < kGossipHeaderBytes + kDescriptorBytes) return 0;
    return std::min<std::size_t>((body_bytes - kGossipHeaderBytes) / kDescriptorBytes, 255);
}

class Directory {
public:
    // `self` is this node's id (its own descriptor is never stored); `ttl_s` the age after which a signed
    // descriptor is dropped; `entries_max` bounds the table (bootstrap entries included).
    explicit Directory(const NodeId& self, uint64_t ttl_s = kTtlDefaultS, std::size_t entries_max = 65536);

    enum class Merge : uint8_t { kNew, kUpdated, kUnchanged, kRejected };

    // Verifies and merges one descriptor at unix time `now_s`: a newer issued_at_s replaces an older one for the same
    // id (a bootstrap entry counts as older than any signed descriptor); our own id is ignored (kUnchanged, `out`
    // untouched). kRejected means the descriptor failed verification or the table is full; the reason is counted in
    // drops(). On kNew, kUpdated and kUnchanged (other ids), `*out` (if not null) receives the entry now held.
    // A new entry allocates one table node; allocation failure terminates (noexcept).
    Merge merge(std::span<const uint8_t> bytes, uint64_t now_s, Descriptor* out = nullptr) noexcept;

    // Verifies and merges every descriptor of a gossip body; returns the entries that are new or updated. A body
    // that is malformed as a whole (see the layout above) is counted once as kBadBody and nothing in it is merged;
    // each bad descriptor inside a good body is counted by its own reason and skipped.
    std::vector<Descriptor> merge_gossip(std::span<const uint8_t> body, uint64_t now_s);

    // Adds a bootstrap entry known only from configuration (no signature yet): id (derived), key, endpoint;
    // relay = true, capacity = 1, issued_at_s = 0. It is replaced by the node's signed descriptor when one arrives,
    // and comes back if that descriptor expires. Returns false (and adds nothing) if the key is not a usable
    // Ed25519 point, is our own, or the table is full; re-adding a known key updates its configured endpoint.
    bool add_bootstrap(const PublicKey& ed25519, const Endpoint& endpoint);

    // Drops signed descriptors issued more than ttl_s before `now_s` (bootstrap peers revert to their
    // configuration). Returns how many signed descriptors went.
    std::size_t expire(uint64_t now_s);

    // Gossip bodies of at most `body_bytes` each (exactly 4 + count * 132 bytes; the caller pads), carrying
    // `self_descriptor` (132 bytes, or empty for none) first and then every signed entry. Bootstrap-only entries
    // are not sent: they carry no signature. Returns no body if there is nothing to send. body_bytes must hold at
    // least one descriptor (VOXA_CHECK).
    std::vector<std::vector<uint8_t>> gossip_bodies(std::span<const uint8_t> self_descriptor,
                                                    std::size_t body_bytes) const;

    // Every entry, sorted by node id; bootstrap-only entries included (issued_at_s 0).
    std::vector<Descriptor> entries() const;
    // Forgets `id` (signed or bootstrap entry): the control plane removed the node. Gossip may bring it back with a
    // descriptor (the table no longer remembers the old one). Returns false if unknown.
    bool remove(const NodeId& id) noexcept { return entries_.erase(id) != 0; }
    // The entry for `id`, or false if unknown.
    bool find(const NodeId& id, Descriptor* out) const noexcept;
    std::size_t size() const noexcept { return entries_.size(); }
    // Counters indexed by Drop, Drop::kCount of them; valid as long as the Directory.
    const uint64_t* drops() const noexcept { return drops_.data(); }
    // Counts a gossip body that is not merged because this node does not use gossip (p2p "discovery":
    // "registry") as kGossipOff; the body is not read.
    void ignore_gossip() noexcept { count(Drop::kGossipOff); }
    // For stats: {"entries": [{id (hex), endpoint, relay, capacity, issued_at_s, age_s, signed}], "drops": {...}};
    // age_s is measured from the latest now_s given to merge, merge_gossip or expire.
    nlohmann::json to_json() const;

private:
    struct Entry {
        Descriptor desc;
        std::array<uint8_t, kDescriptorBytes> bytes{};   // as signed, for gossip; meaningful when is_signed
        bool is_signed = false;
        bool bootstrap = false;                          // listed in p2p.json
        Endpoint bootstrap_endpoint{};
    };
    // SipHash (libsodium crypto_shorthash) of the id under a key drawn per Directory: ids come from keys anyone
    // can grind, so an unkeyed hash would let a peer pile its descriptors into one bucket.
    struct IdHash {
        std::array<uint8_t, 16> key{};
        std::size_t operator()(const NodeId& id) const noexcept;
    };
    static IdHash random_hash() noexcept;

    void count(Drop why) noexcept { drops_[std::size_t(why)] += 1; }
    void see_time(uint64_t now_s) noexcept {
        if (now_s > now_s_) now_s_ = now_s;
    }

    NodeId self_;
    uint64_t ttl_s_;
    std::size_t entries_max_;
    uint64_t now_s_ = 0;
    std::unordered_map<NodeId, Entry, IdHash> entries_;
    std::array<uint64_t, std::size_t(Drop::kCount)> drops_{};
};

}  // namespace voxa::directory
