// A relay's circuits: a fixed pool of RelayCircuit slots with two open-addressing indexes, one by
// (previous peer, id) for forward cells and one by (next peer, id) for backward cells. Everything is sized at
// construction (load factor <= 1/2, linear probing, backward-shift deletion so no tombstones pile up); after
// that nothing allocates except the HopCrypto a new circuit's owner creates. Slot hashes use SipHash under a
// random per-table key, because circuit ids on the prev side are chosen by the remote peer, who must not be able
// to aim for long probe chains.
//
// Pointers returned stay valid until that circuit is erased. One thread owns a table (the worker of its links).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "circuit/onion.h"

namespace voxa::circuit {

using PeerHandle = uint32_t;   // the link layer's peer handle (same type as voxa::link::PeerHandle)
inline constexpr PeerHandle kNoPeer = ~0u;

struct RelayCircuit {
    PeerHandle prev_peer = kNoPeer; uint32_t prev_id = 0;   // towards the origin
    PeerHandle next_peer = kNoPeer; uint32_t next_id = 0;   // away from the origin; kNoPeer while this is the end
    std::unique_ptr<HopCrypto> crypto;
    uint64_t created_ns = 0, last_used_ns = 0;
    bool extending = false;                                 // an EXTEND is in flight (CREATE sent to next)
};

class CircuitTable {
public:
    // Pre-sizes everything for `circuits_max` (>= 1) circuits. Allocates; start-up only.
    explicit CircuitTable(std::size_t circuits_max);
    CircuitTable(const CircuitTable&) = delete;
    CircuitTable& operator=(const CircuitTable&) = delete;

    // A new circuit reached from `prev_peer` with `prev_id` (the id that peer chose). Returns the fresh slot
    // (fields reset; the caller fills crypto and times), or nullptr if the table is full (Drop::kCircuitsFull),
    // (prev_peer, prev_id) already exists, prev_peer is kNoPeer or prev_id is 0.
    RelayCircuit* insert(PeerHandle prev_peer, uint32_t prev_id) noexcept;
    // Lookups for forward cells (by previous hop) and backward cells (by next hop). nullptr if absent.
    RelayCircuit* find_prev(PeerHandle prev_peer, uint32_t prev_id) noexcept;
    RelayCircuit* find_next(PeerHandle next_peer, uint32_t next_id) noexcept;
    // Sets c's next hop and indexes it by (next_peer, next_id), replacing any earlier next of c. Returns false
    // (and changes nothing) if another circuit already uses (next_peer, next_id) or the arguments are invalid.
    bool set_next(RelayCircuit* c, PeerHandle next_peer, uint32_t next_id) noexcept;
    // Removes c from both indexes, destroys its HopCrypto and frees the slot. c must come from this table.
    void erase(RelayCircuit* c) noexcept;
    // A random nonzero id that no circuit here uses with `peer`, on either side (so a DESTROY from that peer is
    // never ambiguous, and the peer, which avoids ours the same way, cannot pick it for its own circuit except
    // in a simultaneous race, probability 2^-32). Draws from the CSPRNG.
    uint32_t allocate_id(PeerHandle peer) const noexcept;
    std::size_t size() const noexcept;
    std::size_t capacity() const noexcept;

    // Calls f(RelayCircuit&) once for every circuit (for timers and teardown). f may erase the circuit it is
    // given (or any other); a circuit inserted during the walk may or may not be visited.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (used_[i]) f(slots_[i]);
        }
    }

private:
    static constexpr uint32_t kEmpty = ~0u;
    struct Index {
        std::vector<uint32_t> slot;   // slot number or kEmpty; size a power of two
        std::size_t mask = 0;
    };
    std::size_t home(PeerHandle peer, uint32_t id, bool next_side) const noexcept;
    uint32_t lookup(const Index& ix, bool next_side, PeerHandle peer, uint32_t id) const noexcept;
    void index_insert(Index& ix, bool next_side, uint32_t s) noexcept;
    void index_remove(Index& ix, bool next_side, uint32_t s) noexcept;
    void key_of(uint32_t s, bool next_side, PeerHandle* peer, uint32_t* id) const noexcept;

    std::vector<RelayCircuit> slots_;
    std::vector<uint8_t> used_;
    std::vector<uint32_t> free_;    // stack of free slot numbers
    Index by_prev_, by_next_;
    std::size_t size_ = 0;
    uint8_t hash_key_[16];          // SipHash key, random per table
};

}  // namespace voxa::circuit
