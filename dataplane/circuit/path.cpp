#include "circuit/path.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>

#include <sodium.h>

#include "circuit/onion.h"
#include "voxa/assert.h"

namespace voxa::circuit {
namespace {

// The network a relay sits in, for diversity: family plus the /24 or /48 prefix, or the relay's own index when
// the address says nothing (simulated or unknown endpoints count as distinct networks).
using NetKey = std::array<uint8_t, 9>;

NetKey net_of(const Endpoint& e, std::size_t index) noexcept {
    NetKey k{};
    k[0] = uint8_t(e.family);
    switch (e.family) {
        case Endpoint::Family::kIpv4: std::memcpy(&k[1], e.addr.data(), 3); break;
        case Endpoint::Family::kIpv6: std::memcpy(&k[1], e.addr.data(), 6); break;
        case Endpoint::Family::kSim:
        case Endpoint::Family::kNone: {
            const uint64_t i = index;
            std::memcpy(&k[1], &i, 8);
            break;
        }
    }
    return k;
}

// Uniform in [0, n), n > 0, by rejection from 64 random bits (capacity sums may exceed 32 bits).
uint64_t uniform64(uint64_t n) noexcept {
    VOXA_ASSERT(n > 0);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;   // values >= limit would bias the result
    for (;;) {
        uint64_t r;
        randombytes_buf(&r, sizeof r);
        if (r < limit) return r % n;
    }
}

struct Candidate {
    std::size_t index;   // into relays
    NetKey net;
    uint64_t capacity;
    std::size_t uses = 0;   // paths it is on
    bool on_path = false;   // on the path being built
};

bool fail(std::string* why, std::string text) {
    if (why != nullptr) *why = std::move(text);
    return false;
}

}  // namespace

std::optional<std::vector<std::vector<std::size_t>>> choose_disjoint_paths(std::span<const RelayInfo> relays,
    std::size_t circuits, std::size_t hops, std::span<const NodeId> exclude, std::string* why,
    std::size_t uses_per_relay_max, std::span<const NodeId> already_used) {
    if (circuits == 0 || hops == 0 || hops > kHopsMax || uses_per_relay_max == 0) {
        fail(why, "invalid request: " + std::to_string(circuits) + " circuits of " + std::to_string(hops) +
                      " hops (need circuits >= 1 and hops in 1.." + std::to_string(kHopsMax) + ")");
        return std::nullopt;
    }

    // Usable relays, one entry per node id (a relay listed twice is still one relay).
    std::vector<Candidate> cand;
    cand.reserve(relays.size());
    for (std::size_t i = 0; i < relays.size(); ++i) {
        const RelayInfo& r = relays[i];
        if (!r.live || r.capacity == 0) continue;
        if (std::find(exclude.begin(), exclude.end(), r.id) != exclude.end()) continue;
        const bool dup = std::any_of(cand.begin(), cand.end(),
                                     [&](const Candidate& c) { return relays[c.index].id == r.id; });
        if (dup) continue;
        cand.push_back(Candidate{i, net_of(r.endpoint, i), r.capacity});
    }
    const std::size_t needed = circuits * hops;
    const std::size_t uses_max = uses_per_relay_max;
    std::size_t uses_left = 0;
    for (Candidate& c : cand) {
        c.uses = std::size_t(std::count(already_used.begin(), already_used.end(), relays[c.index].id));
        uses_left += c.uses < uses_max ? uses_max - c.uses : 0;
    }
    if (cand.size() < hops || uses_left < needed) {
        const std::size_t relays_needed = std::max(hops, (needed + already_used.size() + uses_max - 1) / uses_max);
        fail(why, "not enough distinct relays: " + std::to_string(circuits) + " paths of " + std::to_string(hops) +
                      " hops with each relay on at most " + std::to_string(uses_max) + " of them need " +
                      std::to_string(relays_needed) + " live relays, " + std::to_string(cand.size()) +
                      " usable (after excluding origin, destination, dead ones)");
        return std::nullopt;
    }

    std::vector<NetKey> used_nets;        // networks of every relay chosen so far
    std::vector<NetKey> path_nets;        // networks on the path being built
    used_nets.reserve(needed);
    path_nets.reserve(hops);
    auto in = [](const std::vector<NetKey>& v, const NetKey& k) {
        return std::find(v.begin(), v.end(), k) != v.end();
    };

    std::vector<std::vector<std::size_t>> paths(circuits);
    for (auto& path : paths) {
        path_nets.clear();
        for (auto& c : cand) c.on_path = false;
        for (std::size_t h = 0; h < hops; ++h) {
            // Fewest uses first (relay-disjoint whenever there are enough relays), then network diversity.
            // Tier 0: a network nobody chosen shares. Tier 1: a network new to this path. Tier 2: anything left.
            auto tier_of = [&](const Candidate& c) {
                return int(c.uses) * 3 + (!in(used_nets, c.net) ? 0 : !in(path_nets, c.net) ? 1 : 2);
            };
            auto usable = [&](const Candidate& c) { return !c.on_path && c.uses < uses_max; };
            int best = INT32_MAX;
            for (const Candidate& c : cand) {
                if (usable(c)) best = std::min(best, tier_of(c));
            }
            if (best == INT32_MAX) {
                fail(why, "no relay left for hop " + std::to_string(h + 1) + " (relays too few for these paths)");
                return std::nullopt;
            }
            uint64_t total = 0;
            for (const Candidate& c : cand) {
                if (usable(c) && tier_of(c) == best) total += c.capacity;
            }
            uint64_t pick = uniform64(total);
            Candidate* chosen = nullptr;
            for (Candidate& c : cand) {
                if (!usable(c) || tier_of(c) != best) continue;
                if (pick < c.capacity) {
                    chosen = &c;
                    break;
                }
                pick -= c.capacity;
            }
            VOXA_CHECK(chosen != nullptr);
            ++chosen->uses;
            chosen->on_path = true;
            used_nets.push_back(chosen->net);
            path_nets.push_back(chosen->net);
            path.push_back(chosen->index);
        }
    }
    return paths;
}

}  // namespace voxa::circuit
