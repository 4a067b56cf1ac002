#include "reassembly/reassembler.h"

#include <bit>
#include <cstring>
#include <new>

#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::reassembly {

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadManifest: return "bad_manifest";
        case Drop::kManifestMismatch: return "manifest_mismatch";
        case Drop::kUnknownMessage: return "unknown_message";
        case Drop::kBadFragment: return "bad_fragment";
        case Drop::kFragmentRange: return "fragment_range";
        case Drop::kDuplicate: return "duplicate";
        case Drop::kPartDigest: return "part_digest";
        case Drop::kLate: return "late";
        case Drop::kOverBudget: return "over_budget";
        case Drop::kTooManyMessages: return "too_many_messages";
        case Drop::kCanary: return "canary";
        case Drop::kCount: break;
    }
    return "unknown";
}

std::size_t MessageIdHash::operator()(const MessageId& id) const noexcept {
    static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
    uint64_t h;
    crypto_shorthash(reinterpret_cast<unsigned char*>(&h), id.data(), id.size(), key.data());
    return std::size_t(h);
}

namespace {

// Per fragment: gcc 12 calls memcmp for std::array's operator==; two word compares are a few instructions.
bool same_id(const MessageId& a, const MessageId& b) noexcept {
    static_assert(sizeof(MessageId) == 16);
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&a1, a.data() + 8, 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&b1, b.data() + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

}  // namespace

Reassembler::Reassembler(const ReassemblyConfig& config, const Clock& clock)
    : config_(config), clock_(clock), fragment_data_bytes_(wire::fragment_data_bytes(config.cell_bytes)) {
    VOXA_CHECK(config.cell_bytes >= wire::kCellBytesMin && config.cell_bytes <= wire::kCellBytesMax);
    VOXA_CHECK(config.messages_max < kNil);
    MessageIdHash hash;
    randombytes_buf(hash.key.data(), hash.key.size());
    slots_.resize(config.messages_max);
    free_slots_.reserve(config.messages_max);
    for (std::size_t i = config.messages_max; i > 0; --i) free_slots_.push_back(uint32_t(i - 1));
    in_flight_ = decltype(in_flight_)(config.messages_max * 2 + 1, hash);
    finished_ = decltype(finished_)(config.completed_remembered * 2 + 1, hash);
    finished_ring_.resize(config.completed_remembered);
}

Reassembler::~Reassembler() = default;

Drop Reassembler::count(Drop d) noexcept {
    if (d != Drop::kNone) stats_.drops[std::size_t(d)] += 1;
    return d;
}

const Reassembler::Message* Reassembler::find(const MessageId& id) const noexcept {
    auto it = in_flight_.find(id);
    return it == in_flight_.end() ? nullptr : &slots_[it->second];
}

MessageState Reassembler::state(const MessageId& id) const noexcept {
    if (in_flight_.count(id)) return MessageState::kInProgress;
    auto it = finished_.find(id);
    return it == finished_.end() ? MessageState::kUnknown : it->second;
}

uint16_t Reassembler::verified_parts_mask(const MessageId& id) const noexcept {
    const Message* msg = find(id);
    return msg ? msg->verified_mask : 0;
}

void Reassembler::remember(const MessageId& id, MessageState s) noexcept {
    if (finished_ring_.empty()) return;
    MessageId& slot = finished_ring_[finished_next_];
    if (finished_.size() == finished_ring_.size()) finished_.erase(slot);   // the ring is full: forget the oldest
    slot = id;
    finished_[id] = s;
    finished_next_ = (finished_next_ + 1) % finished_ring_.size();
    // The newest entry of finished_ stays there until the ring wraps, which takes further calls here.
    late_id_ = id;
    late_valid_ = true;
}

Drop Reassembler::accept_manifest(SourceId /*source*/, std::span<const uint8_t> manifest_bytes) noexcept {
    split::Manifest m;
    if (split::parse_manifest(manifest_bytes, config_.message_bytes_max, &m) != split::ManifestDrop::kNone)
        return count(Drop::kBadManifest);
    if (finished_.count(m.message_id)) return count(Drop::kLate);
    if (const Message* known = find(m.message_id)) {
        // Every part carries a copy; all must be the same manifest, or someone on one path is lying.
        bool const same = known->manifest_len == manifest_bytes.size() &&
                          std::memcmp(known->manifest_bytes.data(), manifest_bytes.data(), known->manifest_len) == 0;
        return same ? Drop::kNone : count(Drop::kManifestMismatch);
    }
    if (slots_.empty()) return count(Drop::kTooManyMessages);
    if (free_slots_.empty()) expire();
    if (free_slots_.empty()) {
        VOXA_CHECK(evict_oldest_except(kNil, nullptr));
        stats_.evicted_pressure += 1;
    }
    uint32_t const slot = free_slots_.back();
    free_slots_.pop_back();
    Message& msg = slots_[slot];
    VOXA_ASSERT(!msg.used);
    msg.manifest = m;
    std::memcpy(msg.manifest_bytes.data(), manifest_bytes.data(), manifest_bytes.size());
    msg.manifest_len = manifest_bytes.size();
    msg.created_ns = clock_.now_ns();
    msg.fragments_per_part = uint32_t(split::fragments_in_part(m.part_bytes, config_.cell_bytes));
    msg.seen_mask = msg.verified_mask = msg.complete_mask = 0;
    msg.verified_count = 0;
    msg.part_source.fill(0);
    msg.used = true;
    // Newest at the tail of the age list; the clock is monotonic, so the list stays sorted by created_ns.
    msg.older = newest_;
    msg.newer = kNil;
    if (newest_ != kNil) slots_[newest_].newer = slot;
    newest_ = slot;
    if (oldest_ == kNil) oldest_ = slot;
    in_flight_.emplace(m.message_id, slot);
    stats_.messages_in_flight = in_flight_.size();
    return Drop::kNone;
}

bool Reassembler::evict_oldest_except(uint32_t keep, const SourceId* holding) noexcept {
    for (uint32_t s = oldest_; s != kNil; s = slots_[s].newer) {
        if (s == keep) continue;
        if (holding) {
            const Message& msg = slots_[s];
            bool charged = false;
            for (std::size_t p = 0; p < msg.manifest.n && !charged; ++p)
                charged = msg.parts[p].bytes && msg.parts[p].charged_to == *holding;
            if (!charged) continue;
        }
        release(s);
        return true;
    }
    return false;
}

Drop Reassembler::reserve_part_bytes(uint32_t slot, SourceId source) noexcept {
    std::size_t const need = slots_[slot].manifest.part_bytes;
    if (need > config_.bytes_max || need > config_.bytes_per_source_max) return Drop::kOverBudget;
    // The total bound: evict the oldest incomplete messages until the part fits.
    while (stats_.bytes_in_flight + need > config_.bytes_max) {
        if (!evict_oldest_except(slot, nullptr)) return Drop::kOverBudget;
        stats_.evicted_pressure += 1;
    }
    // The per-source bound: only messages holding this source's bytes are evicted, so one source over its
    // share cannot push out the messages of others.
    for (;;) {
        auto it = source_bytes_.find(source);
        std::size_t const used = it == source_bytes_.end() ? 0 : it->second;
        if (used + need <= config_.bytes_per_source_max) break;
        if (!evict_oldest_except(slot, &source)) return Drop::kOverBudget;
        stats_.evicted_pressure += 1;
    }
    return Drop::kNone;
}

Drop Reassembler::accept_fragment(SourceId source, const split::FragmentView& fragment) noexcept {
    uint32_t slot = hot_slot_;
    if (slot == kNil || !same_id(fragment.message_id, hot_id_)) {
        // The parts past the k-th of the message that just finished arrive right after it: answer without a lookup.
        if (late_valid_ && same_id(fragment.message_id, late_id_)) return count(Drop::kLate);
        auto it = in_flight_.find(fragment.message_id);
        if (it == in_flight_.end())
            return count(finished_.count(fragment.message_id) ? Drop::kLate : Drop::kUnknownMessage);
        slot = it->second;
    }
    Message& msg = slots_[slot];
    VOXA_ASSERT(msg.used && msg.manifest.message_id == fragment.message_id);
    split::Manifest const& m = msg.manifest;
    if (fragment.part >= m.n || fragment.fragment >= msg.fragments_per_part) return count(Drop::kFragmentRange);
    std::size_t const begin = std::size_t(fragment.fragment) * fragment_data_bytes_;
    std::size_t const len = std::min(fragment_data_bytes_, std::size_t(m.part_bytes) - begin);
    if (fragment.bytes.size() != len) return count(Drop::kBadFragment);
    Part& part = msg.parts[fragment.part];
    if (part.verified) return count(Drop::kDuplicate);

    if (!part.bytes) {
        if (Drop const d = reserve_part_bytes(slot, source); d != Drop::kNone) return count(d);
        std::size_t const words = (msg.fragments_per_part + 63) / 64;
        part.bytes.reset(new (std::nothrow) uint8_t[m.part_bytes]);
        part.have.reset(new (std::nothrow) uint64_t[words]());
        if (!part.bytes || !part.have) {
            part.bytes.reset();
            part.have.reset();
            return count(Drop::kOverBudget);
        }
        part.fragments_have = 0;
        part.charged_to = source;
        source_bytes_[source] += m.part_bytes;
        stats_.bytes_in_flight += m.part_bytes;
        if (stats_.bytes_in_flight > stats_.bytes_in_flight_peak) stats_.bytes_in_flight_peak = stats_.bytes_in_flight;
        uint16_t const bit = uint16_t(1u << fragment.part);
        if (!(msg.seen_mask & bit)) msg.part_source[fragment.part] = source;
        msg.seen_mask = uint16_t(msg.seen_mask | bit);
    }
    // Set only once the fragment is stored: a message released above (evicted for room) is never the hot one,
    // and `slot` is still this message's (reserve_part_bytes never evicts the message being filled).
    hot_id_ = fragment.message_id;
    hot_slot_ = slot;

    // Fragment offsets are fixed by the index, so an overlapping fragment is a duplicate: the first copy wins.
    uint64_t& word = part.have[fragment.fragment / 64];
    uint64_t const mask = uint64_t(1) << (fragment.fragment % 64);
    if (word & mask) return count(Drop::kDuplicate);
    word |= mask;
    std::memcpy(part.bytes.get() + begin, fragment.bytes.data(), len);
    if (++part.fragments_have < msg.fragments_per_part) return Drop::kNone;

    // The part is complete. It waits until the complete parts could decode the message, then all of them are
    // verified together: one vector pass over several parts costs about what one part alone would.
    msg.complete_mask = uint16_t(msg.complete_mask | (1u << fragment.part));
    if (msg.verified_count + std::popcount(msg.complete_mask) < m.k) return Drop::kNone;
    return verify_complete(slot);
}

Drop Reassembler::verify_complete(uint32_t slot) noexcept {
    Message& msg = slots_[slot];
    split::Manifest const& m = msg.manifest;
    // Parts complete only one at a time, so the batch is exactly what was missing to reach k.
    VOXA_ASSERT(msg.verified_count + std::popcount(msg.complete_mask) == m.k);
    std::array<uint8_t, wire::kPartsMax> index{};
    std::array<const uint8_t*, wire::kPartsMax> bytes{};
    std::array<split::Inner*, wire::kPartsMax> inner{};
    std::size_t batch = 0;
    for (std::size_t p = 0; p < m.n; ++p) {
        if (!(msg.complete_mask & (1u << p))) continue;
        Part const& part = msg.parts[p];
        VOXA_ASSERT(part.bytes && !part.verified && part.fragments_have == msg.fragments_per_part);
        index[batch] = uint8_t(p);
        bytes[batch] = msg.parts[p].bytes.get();
        inner[batch] = &msg.inner[p];
        ++batch;
    }
    msg.complete_mask = 0;
    // Hash once; inner is kept for the AONT key.
    split::parts_inner(std::span(bytes.data(), batch), m.part_bytes, inner.data());
    bool rejected = false;
    for (std::size_t i = 0; i < batch; ++i) {
        std::size_t const p = index[i];
        if (!split::inner_matches(m, p, msg.inner[p])) {
            release_part(msg, p);
            stats_.parts_rejected += 1;
            count(Drop::kPartDigest);
            rejected = true;
            continue;
        }
        msg.parts[p].verified = true;
        msg.verified_mask = uint16_t(msg.verified_mask | (1u << p));
        msg.verified_count += 1;
        stats_.parts_verified += 1;
    }
    // A rejected part leaves fewer than k verified: the message waits for it to be re-sent or for other parts.
    if (rejected) return Drop::kPartDigest;
    VOXA_ASSERT(msg.verified_count == m.k);
    return finish(slot) ? Drop::kNone : count(Drop::kCanary);
}

bool Reassembler::finish(uint32_t slot) noexcept {
    Message& msg = slots_[slot];
    std::array<std::span<const uint8_t>, wire::kPartsMax> parts;
    for (std::size_t p = 0; p < msg.manifest.n; ++p) {
        if (msg.parts[p].verified) parts[p] = {msg.parts[p].bytes.get(), msg.manifest.part_bytes};
    }
    CompletedMessage done;
    bool const ok = split::decode_verified(msg.manifest, std::span(parts.data(), msg.manifest.n), msg.inner,
                                           msg.verified_mask, config_.provider, &done.bytes);
    MessageId const id = msg.manifest.message_id;
    if (ok) {
        done.manifest = msg.manifest;
        done.part_source = msg.part_source;
        done.parts_seen_mask = msg.seen_mask;
        completed_.push_back(std::move(done));
        stats_.completed += 1;
    }
    release(slot);
    remember(id, ok ? MessageState::kCompleted : MessageState::kFailed);
    return ok;
}

void Reassembler::release_part(Message& msg, std::size_t p) noexcept {
    Part& part = msg.parts[p];
    if (part.bytes) {
        std::size_t const bytes = msg.manifest.part_bytes;
        auto it = source_bytes_.find(part.charged_to);
        VOXA_ASSERT(it != source_bytes_.end() && it->second >= bytes);
        it->second -= bytes;
        if (it->second == 0) source_bytes_.erase(it);
        VOXA_ASSERT(stats_.bytes_in_flight >= bytes);
        stats_.bytes_in_flight -= bytes;
    }
    part.bytes.reset();
    part.have.reset();
    part.fragments_have = 0;
    part.verified = false;
    msg.complete_mask = uint16_t(msg.complete_mask & ~(1u << p));
}

void Reassembler::release(uint32_t slot) noexcept {
    Message& msg = slots_[slot];
    VOXA_ASSERT(msg.used);
    for (std::size_t p = 0; p < msg.manifest.n; ++p) release_part(msg, p);
    sodium_memzero(msg.inner.data(), sizeof msg.inner);
    if (msg.older != kNil) slots_[msg.older].newer = msg.newer; else oldest_ = msg.newer;
    if (msg.newer != kNil) slots_[msg.newer].older = msg.older; else newest_ = msg.older;
    msg.older = msg.newer = kNil;
    msg.used = false;
    if (hot_slot_ == slot) hot_slot_ = kNil;
    in_flight_.erase(msg.manifest.message_id);
    free_slots_.push_back(slot);
    stats_.messages_in_flight = in_flight_.size();
}

void Reassembler::expire() noexcept {
    uint64_t const now = clock_.now_ns();
    while (oldest_ != kNil && now - slots_[oldest_].created_ns > config_.age_ns) {
        release(oldest_);
        stats_.evicted_age += 1;
    }
}

bool Reassembler::pop_completed(CompletedMessage* out) {
    if (completed_.empty()) return false;
    *out = std::move(completed_.front());
    completed_.pop_front();
    return true;
}

std::size_t Reassembler::missing(const MessageId& id, uint8_t part_index, std::span<Range> out,
                                 uint32_t from) const noexcept {
    const Message* msg = find(id);
    if (!msg || part_index >= msg->manifest.n || out.empty()) return 0;
    const Part& part = msg->parts[part_index];
    uint32_t const total = msg->fragments_per_part;
    if (part.verified || (part.bytes && part.fragments_have == total)) return 0;   // verified or waiting
    if (from >= total) return 0;
    if (!part.bytes) {
        out[0] = Range{from, total - 1};
        return 1;
    }
    std::size_t written = 0;
    uint32_t f = from;
    while (f < total && written < out.size()) {
        // Skip held fragments a word at a time, then measure the run of missing ones. Bits past `total` in the
        // last word are never set, so they read as missing and are cut off below.
        uint32_t const held = uint32_t(std::countr_one(part.have[f / 64] >> (f % 64)));
        if (held > 0) {
            f += held;
            continue;
        }
        uint32_t const first = f;
        while (f < total) {
            uint32_t const limit = 64 - f % 64;
            uint32_t const run = std::min<uint32_t>(uint32_t(std::countr_one(~(part.have[f / 64] >> (f % 64)))), limit);
            f += run;
            if (run < limit) break;
        }
        if (f > total) f = total;
        out[written++] = Range{first, f - 1};
    }
    return written;
}

}  // namespace voxa::reassembly
