// Path selection (DESIGN §3 Paths): the relays of the circuits that carry one message's parts.
//
// Every relay appears at most once across all paths of a message (relay-disjoint: a part's circuit shares no
// relay with another part's, so no single relay sees k parts). A small network may allow a relay on up to
// `uses_per_relay_max` paths (never twice on one path); the caller keeps that below k, so no relay carries k
// parts, and relays with the fewest uses are always drawn first. Relays are drawn with the CSPRNG, weighted by
// advertised capacity, only among live ones, never the origin or the destination, and preferring network
// diversity: at each draw, first a relay whose IPv4 /24 (IPv6 /48; each simulated node is its own network)
// no chosen relay shares, else one whose network is not yet on this path, else any remaining relay.
// Setup path: allocates; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/endpoint.h"
#include "voxa/types.h"

namespace voxa::circuit {

struct RelayInfo { NodeId id{}; Endpoint endpoint{}; uint32_t capacity = 1; bool live = true; };

// Chooses `circuits` paths of `hops` relays each (hops in 1..kHopsMax, circuits >= 1), relays distinct by node
// id within a path and used by at most `uses_per_relay_max` paths, only live relays with capacity > 0, none whose
// id is in `exclude`; each id in `already_used` counts as one use (paths of the message that already exist).
// Returns, for each path, indices into `relays` in hop order; or nullopt and a reason in `*why` (if non-null) when the request is
// invalid or there are not enough distinct usable relays. Randomness: libsodium's CSPRNG only.
std::optional<std::vector<std::vector<std::size_t>>> choose_disjoint_paths(std::span<const RelayInfo> relays,
    std::size_t circuits, std::size_t hops, std::span<const NodeId> exclude, std::string* why,
    std::size_t uses_per_relay_max = 1, std::span<const NodeId> already_used = {});

}  // namespace voxa::circuit
