// Reassembly at the destination: collects the fragments of the parts of split messages, verifies complete parts
// against their manifest digests, and decodes a message as soon as k of its parts verify (dataplane/split).
// Complete parts are verified in a batch, once there are enough of them to decode (verified + complete = k):
// the batch is hashed in the lanes of one vector pass (split::parts_inner), which is several times faster than
// hashing each part on its own as it completes, and a part that could not yet be used is never hashed.
// Bounded everywhere (DESIGN §3): messages in flight, buffered part bytes in total and per source, and age.
// Over a bound the oldest incomplete message is evicted and counted; a fragment that still does not fit is
// dropped (kOverBudget). Memory for part buffers never exceeds bytes_max.
//
// Flow: a message becomes known by its manifest (accept_manifest). Fragments of an unknown message are dropped
// (kUnknownMessage; the caller asks the origin for the manifest). A part's buffer is allocated with its first
// fragment and charged to that fragment's source. Once k parts verify the message is decoded, all its buffers
// are freed, the result is queued for pop_completed, and its id is remembered (completed_remembered ids) so
// late fragments and manifests are answered with kLate. Every rejected input is counted by reason in stats().
//
// Threading: one Reassembler per worker; no method is thread-safe. No method throws; accept_* allocate only a
// part's buffer (once per part) and a message's table entry (once per message), never per fragment.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "crypto/provider.h"
#include "split/codec.h"
#include "split/fragment.h"
#include "split/manifest.h"
#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::reassembly {

struct ReassemblyConfig {
    std::size_t messages_max = 256;                 // incomplete messages in flight
    std::size_t bytes_max = 1ull << 30;             // buffered part bytes, all messages
    std::size_t bytes_per_source_max = 512u << 20;  // buffered part bytes charged to one source
    uint64_t age_ns = 30 * kNsPerS;                 // an incomplete message older than this is evicted
    std::size_t message_bytes_max = wire::kMessageBytesMax;
    std::size_t cell_bytes = wire::kCellBytesDefault;
    std::size_t completed_remembered = 4096;        // ids of finished messages kept to answer late parts
    crypto::Provider provider = crypto::default_provider();
};

using SourceId = uint64_t;   // chosen by the caller (the incoming circuit)

enum class Drop : uint8_t {
    kNone,
    kBadManifest,        // parse_manifest rejected it
    kManifestMismatch,   // a manifest for a message in flight that is not byte-identical to the first
    kUnknownMessage,     // fragment for a message whose manifest has not arrived (or was evicted)
    kBadFragment,        // fragment length wrong for its index
    kFragmentRange,      // part >= n or fragment index past the end of the part
    kDuplicate,          // fragment already held, or its part already verified
    kPartDigest,         // the fragment completed a batch of parts in which one failed its digest (counted once per
                         // failed part); the failed parts were discarded
    kLate,               // message already completed or failed
    kOverBudget,         // the part's buffer would exceed a memory bound even after evictions
    kTooManyMessages,    // no room for a new message (messages_max == 0)
    kCanary,             // k parts verified but the decoded canary was wrong; the message failed
    kCount
};
std::string_view drop_name(Drop d) noexcept;

struct Range {   // inclusive fragment indices
    uint32_t first = 0, last = 0;
};

struct CompletedMessage {
    split::Manifest manifest;
    std::vector<uint8_t> bytes;
    std::array<SourceId, wire::kPartsMax> part_source{};   // the source each part's first fragment came from
    uint16_t parts_seen_mask = 0;                          // parts that had any fragment
};

enum class MessageState : uint8_t { kUnknown, kInProgress, kCompleted, kFailed };

struct ReassemblyStats {
    uint64_t drops[std::size_t(Drop::kCount)] = {};
    uint64_t evicted_age = 0, evicted_pressure = 0, completed = 0, parts_verified = 0, parts_rejected = 0;
    uint64_t messages_in_flight = 0, bytes_in_flight = 0, bytes_in_flight_peak = 0;
};

// SipHash of a message id under a key that is random per Reassembler: ids come from the network, so an
// unkeyed hash would let a sender flood one bucket.
struct MessageIdHash {
    std::array<uint8_t, 16> key{};
    std::size_t operator()(const MessageId& id) const noexcept;
};

class Reassembler {
public:
    // Sizes the message table for config.messages_max at once. `clock` must outlive the Reassembler.
    Reassembler(const ReassemblyConfig& config, const Clock& clock);
    ~Reassembler();
    Reassembler(const Reassembler&) = delete;
    Reassembler& operator=(const Reassembler&) = delete;

    // A manifest (the data of a MANIFEST relay message) from `source`. kNone if it started a message or is an
    // identical copy of the manifest of a message in flight; otherwise the (counted) reason it was dropped.
    Drop accept_manifest(SourceId source, std::span<const uint8_t> manifest_bytes) noexcept;

    // A parsed DATA fragment (its bytes are copied; the view need not outlive the call). kNone if it was stored
    // (and possibly completed a part or the whole message); otherwise the (counted) reason it was dropped.
    // A fragment that completes a part with fewer than k parts complete or verified leaves it complete but not yet
    // verified; the one that makes k verifies all complete parts at once. kPartDigest means some of them failed
    // verification: those are discarded and may be re-sent, and the message waits for more parts.
    // kCanary means it completed k verified parts but decoding failed: the message is kFailed.
    Drop accept_fragment(SourceId source, const split::FragmentView& fragment) noexcept;

    // Moves the oldest completed message into *out; false if none. Completed messages wait here until popped
    // (their bytes are not charged to bytes_max): pop after each burst.
    bool pop_completed(CompletedMessage* out);

    MessageState state(const MessageId& id) const noexcept;

    // Missing fragments of part `part` of message `id` (parts not yet verified), up to out.size() ranges in
    // ascending order; returns the count written. Ranges of a part with no fragment at all: the whole part.
    // 0 for an unknown or finished message, a part out of range, or a complete (verified or waiting) part.
    // `from`: the first fragment index to consider (a caller that already reported the holes below it).
    std::size_t missing(const MessageId& id, uint8_t part, std::span<Range> out, uint32_t from = 0) const noexcept;

    // Bit i set = part i verified (a complete part waiting for its batch is not). 0 for a message not in flight.
    uint16_t verified_parts_mask(const MessageId& id) const noexcept;

    // Evicts messages older than age_ns (counted in evicted_age); call on a timer.
    void expire() noexcept;

    const ReassemblyStats& stats() const noexcept { return stats_; }

private:
    struct Part {
        std::unique_ptr<uint8_t[]> bytes;   // part_bytes, allocated with the first fragment
        std::unique_ptr<uint64_t[]> have;   // one bit per fragment
        uint32_t fragments_have = 0;
        SourceId charged_to = 0;            // the source whose budget pays for `bytes`
        bool verified = false;
    };
    struct Message {
        split::Manifest manifest;
        std::array<uint8_t, split::kManifestBytesMax> manifest_bytes{};
        std::size_t manifest_len = 0;
        uint64_t created_ns = 0;
        uint32_t fragments_per_part = 0;
        uint16_t seen_mask = 0, verified_mask = 0;
        uint16_t complete_mask = 0;             // parts with every fragment, not yet verified
        uint8_t verified_count = 0;
        std::array<SourceId, wire::kPartsMax> part_source{};
        std::array<Part, wire::kPartsMax> parts;
        std::array<split::Inner, wire::kPartsMax> inner;
        uint32_t older = kNil, newer = kNil;   // age list, oldest first
        bool used = false;
    };
    static constexpr uint32_t kNil = UINT32_MAX;

    Drop count(Drop d) noexcept;
    const Message* find(const MessageId& id) const noexcept;
    Drop reserve_part_bytes(uint32_t slot, SourceId source) noexcept;
    bool evict_oldest_except(uint32_t keep, const SourceId* holding) noexcept;
    void release_part(Message& msg, std::size_t p) noexcept;
    void release(uint32_t slot) noexcept;
    Drop verify_complete(uint32_t slot) noexcept;   // verifies complete_mask's parts; may finish the message
    bool finish(uint32_t slot) noexcept;   // decodes and releases; false if decoding failed
    void remember(const MessageId& id, MessageState s) noexcept;

    ReassemblyConfig config_;
    const Clock& clock_;
    std::size_t fragment_data_bytes_;
    std::vector<Message> slots_;                                   // messages_max, allocated at construction
    std::vector<uint32_t> free_slots_;
    uint32_t oldest_ = kNil, newest_ = kNil;
    std::unordered_map<MessageId, uint32_t, MessageIdHash> in_flight_;    // id -> slot
    // The last message a fragment was stored for: fragments of one message come in bursts, so most skip the
    // SipHash and table lookup. kNil when that message was released.
    MessageId hot_id_{};
    uint32_t hot_slot_ = kNil;
    MessageId late_id_{};   // the id last added to finished_ (valid once late_valid_), for the same reason
    bool late_valid_ = false;
    std::unordered_map<MessageId, MessageState, MessageIdHash> finished_; // kCompleted or kFailed
    std::vector<MessageId> finished_ring_;                         // insertion order of finished_, bounded
    std::size_t finished_next_ = 0;
    std::unordered_map<SourceId, std::size_t> source_bytes_;       // only sources with bytes > 0
    std::deque<CompletedMessage> completed_;
    ReassemblyStats stats_;
};

}  // namespace voxa::reassembly
