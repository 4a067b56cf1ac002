#include "circuit/circuit_table.h"

#include <bit>

#include <sodium.h>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::circuit {

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

CircuitTable::CircuitTable(std::size_t circuits_max) {
    VOXA_CHECK(circuits_max >= 1 && circuits_max < (std::size_t(1) << 30));
    slots_.resize(circuits_max);
    used_.assign(circuits_max, 0);
    free_.reserve(circuits_max);
    for (std::size_t i = circuits_max; i > 0; --i) free_.push_back(uint32_t(i - 1));
    // At most half full, so every probe sequence ends at an empty bucket soon.
    const std::size_t buckets = std::bit_ceil(2 * circuits_max);
    for (Index* ix : {&by_prev_, &by_next_}) {
        ix->slot.assign(buckets, kEmpty);
        ix->mask = buckets - 1;
    }
    randombytes_buf(hash_key_, sizeof hash_key_);
}

void CircuitTable::key_of(uint32_t s, bool next_side, PeerHandle* peer, uint32_t* id) const noexcept {
    const RelayCircuit& c = slots_[s];
    *peer = next_side ? c.next_peer : c.prev_peer;
    *id = next_side ? c.next_id : c.prev_id;
}

std::size_t CircuitTable::home(PeerHandle peer, uint32_t id, bool next_side) const noexcept {
    uint8_t in[9];
    store_u32(in, peer);
    store_u32(in + 4, id);
    in[8] = next_side ? 1 : 0;
    uint8_t out[8];
    crypto_shorthash(out, in, sizeof in, hash_key_);
    return std::size_t(load_u64(out));
}

uint32_t CircuitTable::lookup(const Index& ix, bool next_side, PeerHandle peer, uint32_t id) const noexcept {
    for (std::size_t i = home(peer, id, next_side) & ix.mask;; i = (i + 1) & ix.mask) {
        const uint32_t s = ix.slot[i];
        if (s == kEmpty) return kEmpty;
        PeerHandle p;
        uint32_t d;
        key_of(s, next_side, &p, &d);
        if (p == peer && d == id) return s;
    }
}

void CircuitTable::index_insert(Index& ix, bool next_side, uint32_t s) noexcept {
    PeerHandle peer;
    uint32_t id;
    key_of(s, next_side, &peer, &id);
    std::size_t i = home(peer, id, next_side) & ix.mask;
    while (ix.slot[i] != kEmpty) i = (i + 1) & ix.mask;
    ix.slot[i] = s;
}

void CircuitTable::index_remove(Index& ix, bool next_side, uint32_t s) noexcept {
    PeerHandle peer;
    uint32_t id;
    key_of(s, next_side, &peer, &id);
    std::size_t i = home(peer, id, next_side) & ix.mask;
    while (ix.slot[i] != s) {
        VOXA_ASSERT(ix.slot[i] != kEmpty);
        i = (i + 1) & ix.mask;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole unless their home lies
    // cyclically in (hole, position], where moving them would put them before their home.
    std::size_t j = i;
    for (;;) {
        j = (j + 1) & ix.mask;
        const uint32_t t = ix.slot[j];
        if (t == kEmpty) break;
        PeerHandle tp;
        uint32_t td;
        key_of(t, next_side, &tp, &td);
        const std::size_t k = home(tp, td, next_side) & ix.mask;
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        ix.slot[i] = t;
        i = j;
    }
    ix.slot[i] = kEmpty;
}

RelayCircuit* CircuitTable::insert(PeerHandle prev_peer, uint32_t prev_id) noexcept {
    if (prev_peer == kNoPeer || prev_id == 0) return nullptr;
    if (free_.empty()) return nullptr;
    if (lookup(by_prev_, false, prev_peer, prev_id) != kEmpty) return nullptr;
    const uint32_t s = free_.back();
    free_.pop_back();
    RelayCircuit& c = slots_[s];
    VOXA_ASSERT(!used_[s] && !c.crypto);
    c.prev_peer = prev_peer;
    c.prev_id = prev_id;
    used_[s] = 1;
    ++size_;
    index_insert(by_prev_, false, s);
    return &c;
}

RelayCircuit* CircuitTable::find_prev(PeerHandle prev_peer, uint32_t prev_id) noexcept {
    const uint32_t s = lookup(by_prev_, false, prev_peer, prev_id);
    return s == kEmpty ? nullptr : &slots_[s];
}

RelayCircuit* CircuitTable::find_next(PeerHandle next_peer, uint32_t next_id) noexcept {
    if (next_peer == kNoPeer) return nullptr;   // the end of a circuit has no next side
    const uint32_t s = lookup(by_next_, true, next_peer, next_id);
    return s == kEmpty ? nullptr : &slots_[s];
}

bool CircuitTable::set_next(RelayCircuit* c, PeerHandle next_peer, uint32_t next_id) noexcept {
    VOXA_CHECK(c >= slots_.data() && c < slots_.data() + slots_.size());
    const auto s = uint32_t(c - slots_.data());
    VOXA_CHECK(used_[s]);
    if (next_peer == kNoPeer || next_id == 0) return false;
    const uint32_t other = lookup(by_next_, true, next_peer, next_id);
    if (other == s) return true;
    if (other != kEmpty) return false;
    if (c->next_peer != kNoPeer) index_remove(by_next_, true, s);
    c->next_peer = next_peer;
    c->next_id = next_id;
    index_insert(by_next_, true, s);
    return true;
}

void CircuitTable::erase(RelayCircuit* c) noexcept {
    VOXA_CHECK(c >= slots_.data() && c < slots_.data() + slots_.size());
    const auto s = uint32_t(c - slots_.data());
    VOXA_CHECK(used_[s]);
    index_remove(by_prev_, false, s);
    if (c->next_peer != kNoPeer) index_remove(by_next_, true, s);
    *c = RelayCircuit{};   // destroys the HopCrypto
    used_[s] = 0;
    free_.push_back(s);    // never reallocates: reserved for every slot
    --size_;
}

uint32_t CircuitTable::allocate_id(PeerHandle peer) const noexcept {
    // The table holds far fewer than 2^31 circuits, so each draw succeeds with probability > 1/2.
    for (int attempt = 0; attempt < 128; ++attempt) {
        const uint32_t id = randombytes_random();
        if (id == 0) continue;
        if (lookup(by_next_, true, peer, id) == kEmpty && lookup(by_prev_, false, peer, id) == kEmpty) return id;
    }
    VOXA_CHECK(!"allocate_id: no free id after 128 draws");
    return 0;
}

std::size_t CircuitTable::size() const noexcept { return size_; }
std::size_t CircuitTable::capacity() const noexcept { return slots_.size(); }

}  // namespace voxa::circuit
