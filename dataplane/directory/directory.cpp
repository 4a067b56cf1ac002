#include "directory/directory.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::directory {

namespace {

Descriptor bootstrap_descriptor(const crypto::PeerIdentity& peer, const Endpoint& endpoint) {
    Descriptor d;
    d.ed25519 = peer.ed25519;
    d.id = peer.id;
    d.x25519 = peer.x25519;
    d.endpoint = endpoint;
    d.capacity = 1;
    d.relay = true;
    d.issued_at_s = 0;
    return d;
}

}  // namespace

std::size_t Directory::IdHash::operator()(const NodeId& id) const noexcept {
    static_assert(crypto_shorthash_BYTES == sizeof(uint64_t) && crypto_shorthash_KEYBYTES == 16);
    uint64_t h;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h), id.data(), id.size(), key.data());
    return std::size_t(h);
}

Directory::IdHash Directory::random_hash() noexcept {
    IdHash h;
    randombytes_buf(h.key.data(), h.key.size());
    return h;
}

Directory::Directory(const NodeId& self, uint64_t ttl_s, std::size_t entries_max)
    : self_(self), ttl_s_(ttl_s), entries_max_(entries_max), entries_(0, random_hash()) {
    VOXA_CHECK(entries_max >= 1);
}

Directory::Merge Directory::merge(std::span<const uint8_t> bytes, uint64_t now_s, Descriptor* out) noexcept {
    see_time(now_s);
    Descriptor d;
    Drop why = decode_descriptor_unverified(bytes, now_s, ttl_s_, &d);
    if (why != Drop::kNone) {
        count(why);
        return Merge::kRejected;
    }
    if (d.id == self_) return Merge::kUnchanged;

    // Gossip repeats what every neighbour knows; a descriptor no newer than ours is settled without the
    // signature check, which is the only expensive step (~50 us). Whatever it says, we keep what we have.
    auto it = entries_.find(d.id);
    if (it != entries_.end() && it->second.is_signed && it->second.desc.issued_at_s >= d.issued_at_s) {
        if (out != nullptr) *out = it->second.desc;
        return Merge::kUnchanged;
    }
    why = check_descriptor_signature(bytes, &d);
    if (why != Drop::kNone) {
        count(why);
        return Merge::kRejected;
    }
    Merge result = Merge::kUpdated;
    if (it == entries_.end()) {
        if (entries_.size() >= entries_max_) {
            count(Drop::kFull);
            return Merge::kRejected;
        }
        it = entries_.try_emplace(d.id).first;
        result = Merge::kNew;
    }
    Entry& e = it->second;
    e.desc = d;
    std::memcpy(e.bytes.data(), bytes.data(), kDescriptorBytes);
    e.is_signed = true;
    if (out != nullptr) *out = e.desc;
    return result;
}

std::vector<Descriptor> Directory::merge_gossip(std::span<const uint8_t> body, uint64_t now_s) {
    see_time(now_s);
    std::vector<Descriptor> changed;
    if (body.size() < kGossipHeaderBytes) {
        count(Drop::kBadBody);
        return changed;
    }
    std::size_t const n = body[0];
    bool const rsv_zero = body[1] == 0 && body[2] == 0 && body[3] == 0;
    if (n == 0 || !rsv_zero || n > (body.size() - kGossipHeaderBytes) / kDescriptorBytes) {
        count(Drop::kBadBody);
        return changed;
    }
    for (std::size_t i = 0; i < n; ++i) {
        Descriptor d;
        Merge const m = merge(body.subspan(kGossipHeaderBytes + i * kDescriptorBytes, kDescriptorBytes), now_s, &d);
        if (m == Merge::kNew || m == Merge::kUpdated) changed.push_back(d);
    }
    return changed;
}

bool Directory::add_bootstrap(const PublicKey& ed25519, const Endpoint& endpoint) {
    auto const peer = crypto::PeerIdentity::from_ed25519(ed25519);
    if (!peer || peer->id == self_) return false;
    auto it = entries_.find(peer->id);
    if (it == entries_.end()) {
        if (entries_.size() >= entries_max_) return false;
        it = entries_.try_emplace(peer->id).first;
        it->second.desc = bootstrap_descriptor(*peer, endpoint);
    } else if (!it->second.is_signed) {
        it->second.desc.endpoint = endpoint;
    }
    it->second.bootstrap = true;
    it->second.bootstrap_endpoint = endpoint;
    return true;
}

std::size_t Directory::expire(uint64_t now_s) {
    see_time(now_s);
    std::size_t gone = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
        Entry& e = it->second;
        uint64_t const issued_at_s = e.desc.issued_at_s;
        bool const old = e.is_signed && now_s > issued_at_s && now_s - issued_at_s > ttl_s_;
        if (!old) {
            ++it;
            continue;
        }
        ++gone;
        if (e.bootstrap) {
            // The configured peer stays reachable at its configured address, as on the first start.
            auto const peer = crypto::PeerIdentity::from_ed25519(e.desc.ed25519);
            VOXA_CHECK(peer.has_value());   // add_bootstrap and the signature check both accepted this key
            e.desc = bootstrap_descriptor(*peer, e.bootstrap_endpoint);
            e.is_signed = false;
            e.bytes.fill(0);
            ++it;
        } else {
            it = entries_.erase(it);
        }
    }
    return gone;
}

std::vector<std::vector<uint8_t>> Directory::gossip_bodies(std::span<const uint8_t> self_descriptor,
                                                           std::size_t body_bytes) const {
    VOXA_CHECK(self_descriptor.empty() || self_descriptor.size() == kDescriptorBytes);
    std::size_t const per_body = gossip_capacity(body_bytes);
    VOXA_CHECK(per_body >= 1);

    std::vector<const uint8_t*> all;
    all.reserve(entries_.size() + 1);
    if (!self_descriptor.empty()) all.push_back(self_descriptor.data());
    for (const auto& [id, e] : entries_) {
        if (e.is_signed) all.push_back(e.bytes.data());
    }

    std::vector<std::vector<uint8_t>> bodies;
    bodies.reserve((all.size() + per_body - 1) / per_body);
    for (std::size_t at = 0; at < all.size(); at += per_body) {
        std::size_t const n = std::min(per_body, all.size() - at);
        std::vector<uint8_t> body(kGossipHeaderBytes + n * kDescriptorBytes, 0);
        body[0] = uint8_t(n);
        for (std::size_t i = 0; i < n; ++i)
            std::memcpy(body.data() + kGossipHeaderBytes + i * kDescriptorBytes, all[at + i], kDescriptorBytes);
        VOXA_ASSERT(body.size() <= body_bytes);
        bodies.push_back(std::move(body));
    }
    return bodies;
}

std::vector<Descriptor> Directory::entries() const {
    std::vector<Descriptor> out;
    out.reserve(entries_.size());
    for (const auto& [id, e] : entries_) out.push_back(e.desc);
    std::sort(out.begin(), out.end(), [](const Descriptor& a, const Descriptor& b) { return a.id < b.id; });
    return out;
}

bool Directory::find(const NodeId& id, Descriptor* out) const noexcept {
    auto const it = entries_.find(id);
    if (it == entries_.end()) return false;
    if (out != nullptr) *out = it->second.desc;
    return true;
}

nlohmann::json Directory::to_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const Descriptor& d : entries()) {
        auto const& e = entries_.find(d.id)->second;
        list.push_back({
            {"id", to_hex(d.id)},
            {"endpoint", d.endpoint.to_string()},
            {"relay", d.relay},
            {"capacity", d.capacity},
            {"issued_at_s", d.issued_at_s},
            {"age_s", e.is_signed && now_s_ > d.issued_at_s ? now_s_ - d.issued_at_s : 0},
            {"signed", e.is_signed},
            {"bootstrap", e.bootstrap},
        });
    }
    nlohmann::json drops = nlohmann::json::object();
    for (std::size_t i = 1; i < std::size_t(Drop::kCount); ++i) drops[std::string(drop_name(Drop(i)))] = drops_[i];
    return {{"entries", std::move(list)}, {"size", entries_.size()}, {"drops", std::move(drops)}};
}

}  // namespace voxa::directory
