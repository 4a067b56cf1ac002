// Fixed-capacity hash maps for the link layer's lookups (receiver index -> peer, static key -> peer, node id ->
// peer). Open addressing with linear probing and backward-shift deletion; sized once at construction to at least
// twice the entries it may hold, so probes stay short and nothing allocates afterwards. Hashes are keyed with a
// random secret (SipHash for attacker-chosen 32-byte keys) so an attacker cannot aim for collisions.
// Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::link {

// Mixes a 32-bit key we chose at random ourselves (receiver indices); keyed so probing sequences differ per node.
struct IndexHasher {
    uint64_t key = 0;
    IndexHasher() noexcept { randombytes_buf(&key, sizeof key); }
    uint64_t operator()(uint32_t k) const noexcept {
        uint64_t x = (uint64_t(k) ^ key) * 0x9e3779b97f4a7c15ull;
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        return x ^ (x >> 32);
    }
};

struct Key32Hasher {
    uint8_t key[crypto_shorthash_siphash24_KEYBYTES];
    Key32Hasher() noexcept { randombytes_buf(key, sizeof key); }
    uint64_t operator()(const std::array<uint8_t, 32>& k) const noexcept {
        uint64_t out;
        crypto_shorthash_siphash24(reinterpret_cast<uint8_t*>(&out), k.data(), k.size(), key);
        return out;
    }
};

template <class Key, class Hasher>
class FixedMap {
public:
    static constexpr uint32_t kAbsent = ~0u;   // value meaning "no entry"; never stored

    explicit FixedMap(std::size_t entries_max) {
        std::size_t cap = 16;
        while (cap < 2 * entries_max) cap *= 2;
        slots_.resize(cap);
        mask_ = cap - 1;
        entries_max_ = entries_max;
    }

    uint32_t find(const Key& k) const noexcept {
        for (std::size_t i = hasher_(k) & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.value == kAbsent) return kAbsent;
            if (s.key == k) return s.value;
        }
    }

    // Inserts or overwrites. Returns false only when the map holds entries_max entries already.
    bool insert(const Key& k, uint32_t value) noexcept {
        VOXA_ASSERT(value != kAbsent);
        std::size_t i = hasher_(k) & mask_;
        for (;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.value == kAbsent) break;
            if (s.key == k) {
                s.value = value;
                return true;
            }
        }
        if (size_ >= entries_max_) return false;
        slots_[i].key = k;
        slots_[i].value = value;
        ++size_;
        return true;
    }

    void erase(const Key& k) noexcept {
        std::size_t i = hasher_(k) & mask_;
        for (;; i = (i + 1) & mask_) {
            if (slots_[i].value == kAbsent) return;
            if (slots_[i].key == k) break;
        }
        // Backward-shift deletion: pull later entries of the probe run into the hole unless they would then sit
        // before their home slot.
        slots_[i].value = kAbsent;
        --size_;
        for (std::size_t j = (i + 1) & mask_; slots_[j].value != kAbsent; j = (j + 1) & mask_) {
            std::size_t const home = hasher_(slots_[j].key) & mask_;
            bool const stays = ((j - home) & mask_) < ((j - i) & mask_);
            if (stays) continue;
            slots_[i] = slots_[j];
            slots_[j].value = kAbsent;
            i = j;
        }
    }

    std::size_t size() const noexcept { return size_; }

private:
    struct Slot {
        Key key{};
        uint32_t value = kAbsent;
    };
    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
    std::size_t entries_max_ = 0;
    Hasher hasher_;
};

}  // namespace voxa::link
