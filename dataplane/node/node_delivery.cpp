// Delivery of split messages: the sender sends every part on its own circuit (manifest first, then fragments);
// the receiver reassembles and, when a part goes quiet while incomplete, answers with a STATUS naming the missing
// fragments (a selective NACK); the sender resends those, and probes with the manifest when it hears nothing.
// DONE ends it. Loss of up to n-k circuits needs no retransmission at all: any k parts decode.
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "node/node.h"
#include "node/node_state.h"
#include "split/fragment.h"
#include "voxa/assert.h"

namespace voxa::node {
std::optional<MessageId> Node::send(const NodeId& destination, std::span<const uint8_t> message,
                                    std::string* error) {
    if (destination == self_.id()) {
        if (error) *error = "destination is this node";
        return std::nullopt;
    }
    if (message.empty() || message.size() > config_.max_message_bytes) {
        return start_outgoing(message, nullptr, &destination, {}, error);   // refuses it, before any circuit work
    }
    if (circuit_set(destination, error) == nullptr) return std::nullopt;
    return start_outgoing(message, nullptr, &destination, {}, error);
}

std::optional<MessageId> Node::reply(const MessageId& request, std::span<const uint8_t> message,
                                     std::string* error) {
    auto it = std::find_if(replyable_.begin(), replyable_.end(),
                           [&](const auto& entry) { return entry.first == request; });
    if (it == replyable_.end()) {
        if (error) *error = "no request " + to_hex(request) + " to reply to (unknown or forgotten)";
        return std::nullopt;
    }
    return start_outgoing(message, &request, nullptr, it->second, error);
}

SendState Node::send_state(const MessageId& id) const noexcept {
    auto it = outgoing_.find(id);
    return it == outgoing_.end() ? SendState::kUnknown : it->second->state;
}

bool Node::pop_received(Received* out) {
    if (received_.empty()) return false;
    *out = std::move(received_.front());
    received_.pop_front();
    return true;
}

std::optional<MessageId> Node::start_outgoing(std::span<const uint8_t> message, const MessageId* in_reply_to,
                                              const NodeId* destination, std::span<const CircuitRef> refs,
                                              std::string* error) {
    if (message.empty() || message.size() > config_.max_message_bytes) {
        if (error) *error = "message size " + std::to_string(message.size()) + " outside 1.." +
                            std::to_string(config_.max_message_bytes);
        return std::nullopt;
    }
    std::size_t active = 0;
    for (const auto& [id, out] : outgoing_) {
        active += out->state == SendState::kBuildingCircuits || out->state == SendState::kSending;
    }
    if (active >= config_.outgoing_messages_max) {
        if (error) *error = "too many messages in flight";
        return std::nullopt;
    }
    auto out = std::make_unique<Outgoing>();
    out->id = new_message_id();
    out->split = split::split_message(message, split::SplitParams{config_.k, config_.n}, out->id, in_reply_to,
                                      config_.provider, error);
    if (!out->split) return std::nullopt;
    out->fragments_per_part = split::fragments_in_part(out->split->manifest().part_bytes, config_.cell_bytes);
    out->sent_ms.assign(config_.n * out->fragments_per_part, 0);
    out->created_ns = out->last_feedback_ns = clock_.now_ns();

    if (destination != nullptr) {
        out->destination = *destination;
        out->state = SendState::kBuildingCircuits;
    } else {
        // A reply goes back over the request's circuits. No circuit may carry k parts (its relays would hold
        // enough to rebuild the message), so each carries at most k-1; parts that do not fit are not sent.
        const std::size_t per_circuit_max = std::max<std::size_t>(1, config_.k - 1);
        std::vector<CircuitRef> unique;
        for (const CircuitRef& r : refs) {
            if (r.kind != CircuitRef::Kind::kNone && ref_alive(r) &&
                std::find(unique.begin(), unique.end(), r) == unique.end()) {
                unique.push_back(r);
            }
        }
        std::vector<std::size_t> load(unique.size(), 0);
        std::size_t assigned = 0;
        for (std::size_t part = 0; part < config_.n && !unique.empty(); ++part) {
            const std::size_t r = part % unique.size();
            if (load[r] >= per_circuit_max) continue;
            load[r] += 1;
            out->part_ref[part] = unique[r];
            ++assigned;
        }
        if (assigned < config_.k) {
            if (error) *error = "the request's surviving circuits cannot carry k parts of the reply";
            return std::nullopt;
        }
        out->state = SendState::kSending;
    }
    const MessageId id = out->id;
    Outgoing& ref = *out;
    outgoing_.emplace(id, std::move(out));
    stats_.messages_sent += 1;
    if (ref.state == SendState::kSending) {
        for (std::size_t part = 0; part < config_.n; ++part) send_part(ref, part);
    } else {
        assign_parts(ref);   // circuits that are already up carry their parts at once
    }
    return id;
}

bool Node::ref_alive(const CircuitRef& ref) noexcept {
    if (foreign(ref)) return ref.kind != CircuitRef::Kind::kNone;   // its worker drops what it cannot send
    if (ref.kind == CircuitRef::Kind::kOrigin) {
        const OriginCircuit* oc = origin_circuit(ref);
        return oc != nullptr && oc->state == OriginCircuit::State::kReady;
    }
    if (ref.kind == CircuitRef::Kind::kEnd) return relays_.find_prev(ref.peer, ref.circ_id) != nullptr;
    return false;
}

// (Re)starts part `part` on its circuit: the manifest, then as many fragments as the window allows.
void Node::send_part(Outgoing& out, std::size_t part) noexcept {
    if (out.part_ref[part].kind == CircuitRef::Kind::kNone) return;
    out.next_fragment[part] = 0;
    out.acked[part] = 0;
    send_manifest(out, part);
    pump_part(out, part);
}

// Per-circuit flow control: at most window_cells fragments beyond the receiver's highest seen fragment. Cells
// below it that were lost are the NACKs' business; cells beyond it are in flight.
void Node::pump_part(Outgoing& out, std::size_t part) noexcept {
    if (out.part_ref[part].kind == CircuitRef::Kind::kNone) return;
    const uint64_t limit = std::min<uint64_t>(out.fragments_per_part, uint64_t(out.acked[part]) + config_.window_cells);
    while (out.next_fragment[part] < limit) {
        send_fragment(out, part, out.next_fragment[part]);
        out.next_fragment[part] += 1;
    }
}

// A request's part i rides the set's slot-i circuit. Parts go out as soon as their own circuit is up (any k of
// them suffice, so one slow circuit build does not hold the message back), and a part whose circuit died moves
// to the slot's replacement, which path selection kept disjoint from the set's other circuits.
void Node::assign_parts(Outgoing& out) noexcept {
    auto set_it = sets_.find(*out.destination);
    if (set_it == sets_.end()) return;
    CircuitSet& set = *set_it->second;
    bool refill = false;
    for (std::size_t part = 0; part < config_.n; ++part) {
        if (ref_alive(out.part_ref[part])) continue;
        OriginCircuit* oc = set.slots[part];
        if (oc == nullptr) {
            refill = true;
            continue;
        }
        const bool in_use =
            std::find(out.part_ref.begin(), out.part_ref.end(), oc->ref) != out.part_ref.end();
        if (oc->state != OriginCircuit::State::kReady || in_use) continue;
        out.part_ref[part] = oc->ref;
        if (out.state == SendState::kBuildingCircuits) {
            out.state = SendState::kSending;
            out.last_feedback_ns = clock_.now_ns();
        }
        send_part(out, part);
    }
    if (refill) circuit_set(*out.destination, nullptr);
}

void Node::send_manifest(Outgoing& out, std::size_t part) noexcept {
    uint8_t data[kManifestPrefixBytes + 88 + 32 * wire::kPartsMax] = {};
    data[0] = uint8_t(part);
    const std::size_t len = split::encode_manifest(out.split->manifest(),
                                                   std::span<uint8_t>(data + kManifestPrefixBytes,
                                                                      sizeof data - kManifestPrefixBytes));
    VOXA_CHECK(len != 0);
    send_relay_msg(out.part_ref[part], wire::RelayMsgType::kManifest, 0,
                   std::span<const uint8_t>(data, kManifestPrefixBytes + len));
}

void Node::send_fragment(Outgoing& out, std::size_t part, uint32_t fragment) noexcept {
    uint8_t data[wire::kCellBytesMax];
    const std::size_t len = split::write_fragment(out.id, uint8_t(part), fragment, out.split->part(part),
                                                  config_.cell_bytes, data);
    if (send_relay_msg(out.part_ref[part], wire::RelayMsgType::kData, 0, std::span<const uint8_t>(data, len))) {
        stats_.fragments_sent += 1;
        out.sent_ms[part * out.fragments_per_part + fragment] = out.age_ms(clock_.now_ns());
    }
}

void Node::on_status(std::span<const uint8_t> data) noexcept {
    StatusView status;
    if (!parse_status(data, &status) || status.part >= config_.n) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    stats_.status_received += 1;
    auto it = outgoing_.find(status.message_id);
    if (it == outgoing_.end() || it->second->state != SendState::kSending) return;
    Outgoing& out = *it->second;
    out.last_feedback_ns = clock_.now_ns();
    if (!ref_alive(out.part_ref[status.part])) return;
    if (status.flags & kStatusNeedManifest) send_manifest(out, status.part);
    out.acked[status.part] = std::max(out.acked[status.part], status.highest);
    // Resend only what was sent before; fragments never sent yet leave through pump_part, inside the window.
    // A hole below the receiver's highest fragment was lost (paths are FIFO) and is resent unless it was sent
    // moments ago; a missing tail fragment (an idle STATUS names those too) may still be on its way through a busy
    // path, so it is resent only when its last copy left tail_resend_gap_ns ago. Without that, a slow path is
    // flooded with duplicates of what it is still carrying.
    const uint32_t now_ms = out.age_ms(clock_.now_ns());
    const uint32_t hole_gap_ms = uint32_t(config_.hole_resend_gap_ns / kNsPerMs);
    const uint32_t tail_gap_ms = uint32_t(config_.tail_resend_gap_ns / kNsPerMs);
    const uint32_t sent = out.next_fragment[status.part];
    uint32_t* sent_ms = out.sent_ms.data() + status.part * out.fragments_per_part;
    for (std::size_t i = 0; i < status.range_count(); ++i) {
        const StatusRange r = status.range(i);
        for (uint32_t f = r.first; f <= r.last && f < sent; ++f) {
            const uint32_t gap_ms = f < status.highest ? hole_gap_ms : tail_gap_ms;
            if (now_ms - sent_ms[f] < gap_ms) continue;
            send_fragment(out, status.part, f);
            stats_.fragments_retransmitted += 1;
        }
    }
    pump_part(out, status.part);
}

void Node::on_done(std::span<const uint8_t> data) noexcept {
    if (data.size() != kDoneBytes) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    MessageId id;
    std::memcpy(id.data(), data.data(), id.size());
    auto it = outgoing_.find(id);
    if (it == outgoing_.end() || it->second->state != SendState::kSending) return;
    it->second->state = SendState::kDelivered;
    it->second->split.reset();   // the parts are no longer needed
    stats_.messages_delivered += 1;
}

Node::Inbound* Node::inbound(const MessageId& id, bool create) noexcept {
    auto it = inbound_.find(id);
    if (it != inbound_.end()) return it->second.get();
    if (!create) return nullptr;
    // Bounded like the reassembler it shadows: the oldest entry goes first.
    if (inbound_.size() >= 4 * config_.reassembly.messages_max) {
        auto oldest = std::min_element(inbound_.begin(), inbound_.end(), [](const auto& a, const auto& b) {
            return a.second->created_ns < b.second->created_ns;
        });
        if (auto orphans = orphans_.find(oldest->first); orphans != orphans_.end()) {
            orphan_cells_ -= orphans->second.size();
            orphans_.erase(orphans);
        }
        inbound_.erase(oldest);
    }
    auto in = std::make_unique<Inbound>();
    in->id = id;
    in->created_ns = clock_.now_ns();
    Inbound* raw = in.get();
    inbound_.emplace(id, std::move(in));
    return raw;
}

void Node::on_manifest(const CircuitRef& ref, std::span<const uint8_t> data) noexcept {
    if (data.size() < kManifestPrefixBytes) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    const uint8_t part = data[0];
    const auto manifest_bytes = data.subspan(kManifestPrefixBytes);
    split::Manifest m;
    if (part >= wire::kPartsMax ||
        split::parse_manifest(manifest_bytes, config_.max_message_bytes, &m) != split::ManifestDrop::kNone) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    const reassembly::Drop why = reassembler_.accept_manifest(ref.key(), manifest_bytes);
    if (why == reassembly::Drop::kLate) {
        // The sender is probing a message we already have: tell it again.
        send_relay_msg(ref, wire::RelayMsgType::kDone, 0, m.message_id);
        return;
    }
    if (why != reassembly::Drop::kNone && why != reassembly::Drop::kDuplicate) return;   // counted there
    Inbound* in = inbound(m.message_id, true);
    in->have_manifest = true;
    if (part < m.n) {
        in->part_ref[part] = ref;
        in->last_progress_ns[part] = clock_.now_ns();
    }
    if (auto orphans = orphans_.find(m.message_id); orphans != orphans_.end()) {
        std::vector<Orphan> held = std::move(orphans->second);
        orphans_.erase(orphans);
        orphan_cells_ -= held.size();
        for (const Orphan& o : held) on_data(o.ref, o.data);
    }
}

void Node::on_data(const CircuitRef& ref, std::span<const uint8_t> data) noexcept {
    split::FragmentView frag;
    if (split::parse_fragment(data, &frag) != split::FragmentDrop::kNone || frag.part >= wire::kPartsMax) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    const reassembly::Drop why = reassembler_.accept_fragment(ref.key(), frag);
    if (why == reassembly::Drop::kLate) return;
    const uint64_t now = clock_.now_ns();
    if (why == reassembly::Drop::kUnknownMessage) {
        Inbound* in = inbound(frag.message_id, true);
        in->part_ref[frag.part] = ref;
        if (orphan_cells_ < config_.orphan_cells_max) {
            orphans_[frag.message_id].push_back(Orphan{ref, std::vector<uint8_t>(data.begin(), data.end())});
            orphan_cells_ += 1;
        } else {
            stats_.drops[std::size_t(Drop::kOrphansFull)] += 1;
        }
        if (now - in->need_manifest_sent_ns >= config_.status_idle_ns) {
            in->need_manifest_sent_ns = now;
            send_status(*in, frag.part, kStatusNeedManifest, false);
        }
        return;
    }
    if (why == reassembly::Drop::kNone) {
        Inbound* in = inbound(frag.message_id, true);
        in->part_ref[frag.part] = ref;
        in->last_progress_ns[frag.part] = now;
        in->highest[frag.part] = std::max(in->highest[frag.part], frag.fragment + 1);
        const MessageId id = frag.message_id;
        const uint8_t part = frag.part;
        deliver_completed();   // may erase `in`
        in = inbound(id, false);
        if (in != nullptr && ++in->since_status[part] >= config_.status_every_cells) {
            in->since_status[part] = 0;
            in->last_status_ns[part] = now;
            send_status(*in, part, 0, true);   // the ack that opens the window, with NACKs for holes below it
        }
    }
}

void Node::deliver_completed() noexcept {
    reassembly::CompletedMessage done;
    while (reassembler_.pop_completed(&done)) {
        stats_.messages_received += 1;
        std::array<CircuitRef, wire::kPartsMax> refs{};
        if (auto it = inbound_.find(done.manifest.message_id); it != inbound_.end()) {
            refs = it->second->part_ref;
            inbound_.erase(it);
        }
        std::vector<CircuitRef> told;
        for (const CircuitRef& r : refs) {
            if (r.kind == CircuitRef::Kind::kNone || std::find(told.begin(), told.end(), r) != told.end()) continue;
            told.push_back(r);
            send_relay_msg(r, wire::RelayMsgType::kDone, 0, done.manifest.message_id);
        }
        if (!done.manifest.is_reply()) {
            if (replyable_.size() >= config_.replyable_max) replyable_.pop_front();
            replyable_.emplace_back(done.manifest.message_id, refs);
        }
        received_.push_back(Received{done.manifest.message_id, done.manifest.in_reply_to, done.manifest.is_reply(),
                                     std::move(done.bytes)});
    }
}

// `below_highest_only`: a progress STATUS names only holes below the highest fragment seen (later ones may still
// be in flight); an idle STATUS names every missing fragment, since the part's tail may be what was lost.
void Node::send_status(Inbound& in, std::size_t part, uint8_t flags, bool below_highest_only) noexcept {
    const CircuitRef ref = in.part_ref[part];
    if (ref.kind == CircuitRef::Kind::kNone) return;
    const std::size_t ranges_max = status_ranges_max(config_.cell_bytes);
    reassembly::Range ranges[status_ranges_max(wire::kCellBytesMax)];
    std::size_t count = 0;
    if ((flags & kStatusNeedManifest) == 0) {   // progress or idle
        // A progress STATUS names only holes that opened since the previous one (each is NACKed once this way;
        // a retransmission lost again is caught by the idle STATUS, which names every hole).
        const uint32_t from = below_highest_only ? in.nacked_through[part] : 0;
        count = reassembler_.missing(in.id, uint8_t(part), std::span<reassembly::Range>(ranges, ranges_max), from);
        if (below_highest_only) {
            const uint32_t to = in.highest[part];   // exclusive: later fragments may still be in flight
            std::size_t kept = 0;
            while (kept < count && ranges[kept].first < to) {
                ranges[kept].last = std::min(ranges[kept].last, to - 1);
                ++kept;
            }
            count = kept;
            in.nacked_through[part] = kept == ranges_max ? ranges[kept - 1].last + 1 : to;
        } else if (count == 0) {
            return;
        }
    }
    StatusRange wire_ranges[status_ranges_max(wire::kCellBytesMax)];
    for (std::size_t i = 0; i < count; ++i) wire_ranges[i] = StatusRange{ranges[i].first, ranges[i].last};
    uint8_t data[wire::kCellBytesMax];
    const std::size_t len =
        write_status(data, in.id, uint8_t(part), flags, in.highest[part],
                     std::span<const StatusRange>(wire_ranges, count));
    if (send_relay_msg(ref, wire::RelayMsgType::kStatus, 0, std::span<const uint8_t>(data, len))) {
        stats_.status_sent += 1;
    }
}

void Node::tick_delivery() noexcept {
    const uint64_t now = clock_.now_ns();

    for (auto it = outgoing_.begin(); it != outgoing_.end();) {
        Outgoing& out = *it->second;
        const bool finished = out.state == SendState::kDelivered || out.state == SendState::kFailed;
        if (finished) {
            // Kept a while so send_state() can report the outcome.
            it = now - out.created_ns > 2 * config_.message_timeout_ns ? outgoing_.erase(it) : std::next(it);
            continue;
        }
        if (now - out.created_ns > config_.message_timeout_ns) {
            out.state = SendState::kFailed;
            out.split.reset();
            stats_.messages_failed += 1;
            ++it;
            continue;
        }
        if (out.destination) assign_parts(out);
        if (out.state == SendState::kBuildingCircuits) {
            ++it;
            continue;
        }
        for (std::size_t part = 0; part < config_.n; ++part) {
            if (ref_alive(out.part_ref[part])) pump_part(out, part);
        }
        if (now - std::max(out.last_feedback_ns, out.last_probe_ns) >= config_.probe_after_ns) {
            out.last_probe_ns = now;
            for (std::size_t part = 0; part < config_.n; ++part) {
                if (ref_alive(out.part_ref[part])) send_manifest(out, part);
            }
        }
        ++it;
    }

    for (auto it = inbound_.begin(); it != inbound_.end();) {
        Inbound& in = *it->second;
        const reassembly::MessageState state = reassembler_.state(in.id);
        const bool gone = state == reassembly::MessageState::kCompleted ||
                          state == reassembly::MessageState::kFailed ||
                          (state == reassembly::MessageState::kUnknown && in.have_manifest) ||
                          now - in.created_ns > config_.reassembly.age_ns;
        if (gone) {
            if (auto orphans = orphans_.find(in.id); orphans != orphans_.end()) {
                orphan_cells_ -= orphans->second.size();
                orphans_.erase(orphans);
            }
            it = inbound_.erase(it);
            continue;
        }
        if (!in.have_manifest) {
            for (std::size_t part = 0; part < wire::kPartsMax; ++part) {
                if (in.part_ref[part].kind == CircuitRef::Kind::kNone) continue;
                if (now - in.need_manifest_sent_ns >= config_.status_idle_ns) {
                    in.need_manifest_sent_ns = now;
                    send_status(in, part, kStatusNeedManifest, false);
                }
                break;
            }
            ++it;
            continue;
        }
        const uint16_t verified = reassembler_.verified_parts_mask(in.id);
        for (std::size_t part = 0; part < wire::kPartsMax; ++part) {
            if (in.part_ref[part].kind == CircuitRef::Kind::kNone || (verified >> part) & 1u) continue;
            if (now - in.last_progress_ns[part] >= config_.status_idle_ns &&
                now - in.last_status_ns[part] >= config_.status_idle_ns) {
                in.last_status_ns[part] = now;
                send_status(in, part, kStatusIdle, false);
            }
        }
        ++it;
    }
}

}  // namespace voxa::node
