#include "netstack/neighbour.h"

#include <sodium.h>

#include <cstring>

#include "voxa/assert.h"

namespace voxa::netstack {

NeighbourTable::NeighbourTable(std::size_t capacity, NeighbourTimes times) : capacity_(capacity), times_(times) {
    VOXA_CHECK(capacity >= 1 && capacity <= (std::size_t{1} << 24));
    VOXA_CHECK(times.retry_ns > 0 && times.retry_ns <= times.incomplete_ns);
    // At most half full: short probe sequences, and a free slot always ends a probe.
    std::size_t slots = 2;
    while (slots < 2 * capacity) slots *= 2;
    slots_.resize(slots);
    mask_ = slots - 1;
    randombytes_buf(&seed_, sizeof seed_);
}

std::size_t NeighbourTable::home(const IpAddr& ip) const noexcept {
    uint64_t lo;
    uint64_t hi;
    std::memcpy(&lo, ip.b.data(), 8);
    std::memcpy(&hi, ip.b.data() + 8, 8);
    uint64_t h = seed_ ^ uint64_t(ip.family);
    for (uint64_t w : {lo, hi}) {
        h = (h ^ w) * 0x9E37'79B9'7F4A'7C15u;
        h ^= h >> 29;
    }
    return std::size_t(h) & mask_;
}

std::size_t NeighbourTable::find_slot(const IpAddr& ip) const noexcept {
    std::size_t i = home(ip);
    for (std::size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        const Neighbour& n = slots_[i];
        if (n.state == NeighbourState::kFree) return kNoSlot;
        if (n.ip == ip) return i;
    }
    return kNoSlot;
}

std::size_t NeighbourTable::insert_slot(const IpAddr& ip) noexcept {
    if (size_ == capacity_) return kNoSlot;
    std::size_t i = home(ip);
    // Fewer than half the slots are used, so a free one comes within mask_ probes.
    for (std::size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
        if (slots_[i].state == NeighbourState::kFree) {
            slots_[i] = Neighbour{};
            slots_[i].ip = ip;
            ++size_;
            return i;
        }
    }
    VOXA_CHECK(false);
    return kNoSlot;
}

// Backward-shift deletion: entries after the hole that may live in it move back, so probe sequences never
// need tombstones.
void NeighbourTable::erase_slot(std::size_t i) noexcept {
    VOXA_ASSERT(slots_[i].state != NeighbourState::kFree);
    slots_[i].state = NeighbourState::kFree;
    --size_;
    std::size_t j = i;
    for (std::size_t probes = 0; probes < mask_; ++probes) {
        j = (j + 1) & mask_;
        if (slots_[j].state == NeighbourState::kFree) return;
        std::size_t const k = home(slots_[j].ip);
        // The entry at j stays when its home lies cyclically in (i, j]: its probe sequence does not cross i.
        bool const stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        slots_[i] = slots_[j];
        slots_[j].state = NeighbourState::kFree;
        i = j;
    }
}

bool NeighbourTable::expired(const Neighbour& n, uint64_t now_ns) const noexcept {
    switch (n.state) {
        case NeighbourState::kIncomplete: return now_ns - n.solicited_ns >= times_.incomplete_ns;
        case NeighbourState::kReachable:
            // Stale after reachable_ns; a re-solicitation then has incomplete_ns to be answered. Further
            // solicitations do not extend this, so a dead neighbour is forgotten even under traffic.
            return now_ns - n.learned_ns >= times_.reachable_ns + times_.incomplete_ns;
        case NeighbourState::kStatic:
        case NeighbourState::kFree: return false;
    }
    return false;
}

bool NeighbourTable::add_static(const IpAddr& ip, const MacAddr& mac) noexcept {
    VOXA_ASSERT(ip.family == Endpoint::Family::kIpv4 || ip.family == Endpoint::Family::kIpv6);
    std::size_t i = find_slot(ip);
    if (i == kNoSlot) i = insert_slot(ip);
    if (i == kNoSlot) return false;
    Neighbour& n = slots_[i];
    n.mac = mac;
    n.state = NeighbourState::kStatic;
    n.probing = false;
    return true;
}

Resolve NeighbourTable::resolve(const IpAddr& ip, uint64_t now_ns, MacAddr* mac) noexcept {
    std::size_t i = find_slot(ip);
    if (i != kNoSlot && expired(slots_[i], now_ns)) {
        erase_slot(i);
        i = kNoSlot;
    }
    if (i == kNoSlot) {
        i = insert_slot(ip);
        if (i == kNoSlot) return Resolve::kFull;
        Neighbour& n = slots_[i];
        n.state = NeighbourState::kIncomplete;
        n.probing = true;
        n.solicited_ns = now_ns;
        return Resolve::kSolicit;
    }
    Neighbour& n = slots_[i];
    bool const may_ask = !n.probing || now_ns - n.solicited_ns >= times_.retry_ns;
    switch (n.state) {
        case NeighbourState::kStatic:
            *mac = n.mac;
            return Resolve::kFound;
        case NeighbourState::kIncomplete:
            if (!may_ask) return Resolve::kWait;
            n.probing = true;
            n.solicited_ns = now_ns;
            return Resolve::kSolicit;
        case NeighbourState::kReachable:
            *mac = n.mac;
            if (now_ns - n.learned_ns < times_.reachable_ns || !may_ask) return Resolve::kFound;
            n.probing = true;
            n.solicited_ns = now_ns;
            return Resolve::kFoundStale;
        case NeighbourState::kFree: break;
    }
    VOXA_CHECK(false);
    return Resolve::kFull;
}

Learn NeighbourTable::learn(const IpAddr& ip, const MacAddr& mac, uint64_t now_ns) noexcept {
    VOXA_ASSERT(!mac.is_multicast());
    std::size_t const i = find_slot(ip);
    if (i == kNoSlot) return Learn::kNotAsked;
    Neighbour& n = slots_[i];
    if (n.state == NeighbourState::kStatic) return Learn::kStaticKept;
    if (expired(n, now_ns)) {
        erase_slot(i);
        return Learn::kNotAsked;
    }
    if (!n.probing || now_ns - n.solicited_ns >= times_.incomplete_ns) return Learn::kNotAsked;
    n.mac = mac;
    n.state = NeighbourState::kReachable;
    n.probing = false;
    n.learned_ns = now_ns;
    return Learn::kLearned;
}

std::size_t NeighbourTable::expire(uint64_t now_ns) noexcept {
    std::size_t removed = 0;
    // Backward shifts can move a not-yet-visited entry into the current slot, so a slot is re-examined after a
    // removal; an entry moved across the wrap-around point may wait for the next call, which is harmless.
    for (std::size_t i = 0; i <= mask_;) {
        if (slots_[i].state != NeighbourState::kFree && expired(slots_[i], now_ns)) {
            erase_slot(i);
            ++removed;
        } else {
            ++i;
        }
    }
    return removed;
}

bool NeighbourTable::remove(const IpAddr& ip) noexcept {
    std::size_t const i = find_slot(ip);
    if (i == kNoSlot) return false;
    erase_slot(i);
    return true;
}

const Neighbour* NeighbourTable::find(const IpAddr& ip) const noexcept {
    std::size_t const i = find_slot(ip);
    return i == kNoSlot ? nullptr : &slots_[i];
}

}  // namespace voxa::netstack
