// The neighbour table: IP address -> MAC address of the next hop on our L2 segment, for the DPDK backend.
// Fixed capacity, chosen at creation (no allocation afterwards); open addressing with linear probing over a
// power-of-two slot array at most half full, keyed by a hash seeded from the CSPRNG (no chosen-collision chains).
//
// States and times (all times injected, monotonic nanoseconds):
//   kStatic      from config; never expires, never changed by anything heard on the wire.
//   kIncomplete  we sent a solicitation (ARP request / NS) and wait; packets to it wait with the caller (the DPDK
//                backend parks them, bounded) or are dropped. It is forgotten `incomplete_ns` after the last
//                solicitation.
//   kReachable   learned from an answer to our solicitation. Used for `reachable_ns` (default 300 s) after it
//                was learned; then it is stale: still used, but resolve() asks the caller to re-solicit (at most
//                once per `retry_ns`); without an answer within `incomplete_ns` it is forgotten.
// Anti-poisoning rule: learn() accepts a (IP, MAC) pair only for an address we solicited within the last
// `incomplete_ns` and have not had an answer for yet (the first answer wins; later ones are refused until we ask
// again). Requests addressed to us, gratuitous ARP and unsolicited advertisements never create or change an
// entry (the reply to a request goes to the MAC in that frame without touching the table). Static entries are
// never changed. On an unauthenticated L2 this does not stop an attacker who answers our own solicitation
// first; it stops anyone from redirecting traffic to addresses we did not ask about, or from filling the table.
//
// Thread safety: one table per worker, used by that worker only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/clock.h"
#include "netstack/frame.h"

namespace voxa::netstack {

enum class NeighbourState : uint8_t { kFree, kIncomplete, kReachable, kStatic };

struct Neighbour {
    IpAddr ip;
    MacAddr mac;                          // valid in kReachable and kStatic
    NeighbourState state = NeighbourState::kFree;
    bool probing = false;                 // a solicitation is outstanding (an answer would be accepted)
    uint64_t learned_ns = 0;              // kReachable: when the current MAC was learned
    uint64_t solicited_ns = 0;            // the last solicitation the caller was told to send
};

// What resolve() tells the sender.
enum class Resolve : uint8_t {
    kFound,       // *mac is valid; send
    kFoundStale,  // *mac is valid; send, and also send a solicitation now (unicast to *mac is fine)
    kSolicit,     // no MAC: send a solicitation now; the packet waits for the answer (or is dropped, counted)
    kWait,        // no MAC, a solicitation is already out: the packet waits (or is dropped, counted)
    kFull,        // no MAC and no room to track the address: drop and count
};

// What learn() did with an answer.
enum class Learn : uint8_t {
    kLearned,     // new MAC stored (or the same MAC confirmed)
    kStaticKept,  // the address is static: not changed
    kNotAsked,    // we have no outstanding solicitation for this address: ignored
};

struct NeighbourTimes {
    uint64_t reachable_ns = 300 * kNsPerS;
    uint64_t incomplete_ns = 3 * kNsPerS;
    uint64_t retry_ns = 1 * kNsPerS;      // at most one solicitation per address per retry_ns
};

class NeighbourTable {
public:
    // Room for `capacity` addresses (>= 1). Allocates here, never afterwards.
    explicit NeighbourTable(std::size_t capacity, NeighbourTimes times = {});

    // Adds or overwrites a static entry (config). Returns false when the table is full. IPv4 or IPv6 only.
    bool add_static(const IpAddr& ip, const MacAddr& mac) noexcept;

    // The sender's lookup: see Resolve. May create a kIncomplete entry (kSolicit) and record the solicitation
    // time; `*mac` is written for kFound / kFoundStale only.
    Resolve resolve(const IpAddr& ip, uint64_t now_ns, MacAddr* mac) noexcept;

    // An answer (ARP reply, solicited neighbour advertisement) said `ip` is at `mac`. Applies the anti-poisoning
    // rule above. `mac` must be unicast (the caller checked).
    Learn learn(const IpAddr& ip, const MacAddr& mac, uint64_t now_ns) noexcept;

    // Forgets incomplete and stale entries that are past their time. Call from a timer (e.g. once a second);
    // resolve() and learn() also treat expired entries as absent, so correctness does not depend on it.
    // Returns the number of entries removed.
    std::size_t expire(uint64_t now_ns) noexcept;

    // Removes an entry of any state (static included); false when absent.
    bool remove(const IpAddr& ip) noexcept;

    // The entry for `ip`, or nullptr; valid until the next non-const call.
    const Neighbour* find(const IpAddr& ip) const noexcept;

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    // Every slot (free ones have state kFree), for statistics and dumps.
    std::span<const Neighbour> slots() const noexcept { return slots_; }

private:
    std::size_t home(const IpAddr& ip) const noexcept;
    std::size_t find_slot(const IpAddr& ip) const noexcept;   // slot index or kNoSlot
    std::size_t insert_slot(const IpAddr& ip) noexcept;       // a free slot claimed for ip, or kNoSlot when full
    void erase_slot(std::size_t i) noexcept;
    bool expired(const Neighbour& n, uint64_t now_ns) const noexcept;

    static constexpr std::size_t kNoSlot = ~std::size_t{0};
    std::vector<Neighbour> slots_;
    std::size_t mask_ = 0;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
    uint64_t seed_ = 0;
    NeighbourTimes times_;
};

}  // namespace voxa::netstack
