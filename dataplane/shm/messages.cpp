#include "shm/messages.h"

#include <cstring>

#include "common/bytes.h"
#include "directory/descriptor.h"
#include "directory/names.h"
#include "voxa/assert.h"

namespace voxa::shm {

static_assert(kDescriptorBytes == directory::kDescriptorBytes, "the ABI's descriptor size follows the directory");
static_assert(kNodeIdBytes == voxa::kNodeIdBytes);
static_assert(kNameBytesMax == directory::kNameBytesMax);

namespace {

constexpr std::size_t kPeerUpdateHeadBytes = 4;
constexpr std::size_t kErrorHeadBytes = 8;
constexpr std::size_t kNameSetHeadBytes = 48;
constexpr std::size_t kNameRemoveHeadBytes = 8;

bool zero(std::span<const uint8_t> b) {
    for (uint8_t v : b)
        if (v != 0) return false;
    return true;
}

// Fixed-size bodies: writes into a stack buffer, then copies when it fits.
template <std::size_t N>
std::size_t emit(const uint8_t (&buf)[N], std::span<uint8_t> out) {
    if (out.size() < N) return 0;
    std::memcpy(out.data(), buf, N);
    return N;
}

}  // namespace

const char* decode_error_name(DecodeError e) noexcept {
    switch (e) {
        case DecodeError::kNone: return "none";
        case DecodeError::kUnknownType: return "unknown_type";
        case DecodeError::kBadLength: return "bad_length";
        case DecodeError::kBadValue: return "bad_value";
        case DecodeError::kReserved: return "reserved_not_zero";
        case DecodeError::kCount: break;
    }
    return "?";
}

MsgType command_type(const Command& c) noexcept {
    static constexpr MsgType kTypes[] = {MsgType::kPeerUpdate, MsgType::kPeerRemove, MsgType::kCircuitPolicy,
                                         MsgType::kDrain,      MsgType::kLogLevel,   MsgType::kShutdown,
                                         MsgType::kNameSet,    MsgType::kNameRemove};
    static_assert(std::size(kTypes) == std::variant_size_v<Command>);
    return kTypes[c.index()];
}

MsgType event_type(const Event& e) noexcept {
    static constexpr MsgType kTypes[] = {MsgType::kSessionUp, MsgType::kSessionDown, MsgType::kCircuitUp,
                                         MsgType::kCircuitDown, MsgType::kOverload, MsgType::kError};
    static_assert(std::size(kTypes) == std::variant_size_v<Event>);
    return kTypes[e.index()];
}

std::size_t encode_command(const Command& c, std::span<uint8_t> out) noexcept {
    if (const auto* m = std::get_if<PeerUpdate>(&c)) {
        VOXA_CHECK(m->descriptors.size() == std::size_t(m->count) * kDescriptorBytes);
        std::size_t const n = kPeerUpdateHeadBytes + m->descriptors.size();
        if (out.size() < n) return 0;
        store_u16(out.data(), m->count);
        store_u16(out.data() + 2, 0);
        if (!m->descriptors.empty()) std::memcpy(out.data() + 4, m->descriptors.data(), m->descriptors.size());
        return n;
    }
    if (const auto* m = std::get_if<PeerRemove>(&c)) {
        uint8_t b[32];
        std::memcpy(b, m->node.data(), 32);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<CircuitPolicy>(&c)) {
        uint8_t b[8] = {m->hops, m->n, m->k, 0};
        store_u32(b + 4, m->rotation_s);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<Drain>(&c)) {
        uint8_t b[8] = {};
        store_u32(b, m->deadline_ms);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<SetLogLevel>(&c)) {
        uint8_t b[8] = {m->level};
        return emit(b, out);
    }
    if (const auto* m = std::get_if<NameSet>(&c)) {
        VOXA_CHECK(m->name.size() <= UINT16_MAX);
        std::size_t const n = kNameSetHeadBytes + m->name.size();
        if (out.size() < n) return 0;
        std::memset(out.data(), 0, kNameSetHeadBytes);
        std::memcpy(out.data(), m->node.data(), 32);
        store_u64(out.data() + 32, m->expires_s);
        store_u16(out.data() + 40, uint16_t(m->name.size()));
        if (!m->name.empty()) std::memcpy(out.data() + kNameSetHeadBytes, m->name.data(), m->name.size());
        return n;
    }
    if (const auto* m = std::get_if<NameRemove>(&c)) {
        VOXA_CHECK(m->name.size() <= UINT16_MAX);
        std::size_t const n = kNameRemoveHeadBytes + m->name.size();
        if (out.size() < n) return 0;
        std::memset(out.data(), 0, kNameRemoveHeadBytes);
        store_u16(out.data(), uint16_t(m->name.size()));
        if (!m->name.empty()) std::memcpy(out.data() + kNameRemoveHeadBytes, m->name.data(), m->name.size());
        return n;
    }
    const auto* m = std::get_if<Shutdown>(&c);
    VOXA_CHECK(m != nullptr);
    uint8_t b[8] = {};
    store_u32(b, m->deadline_ms);
    return emit(b, out);
}

std::size_t encode_event(const Event& e, std::span<uint8_t> out) noexcept {
    if (const auto* m = std::get_if<SessionUp>(&e)) {
        uint8_t b[32];
        std::memcpy(b, m->peer.data(), 32);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<SessionDown>(&e)) {
        uint8_t b[40] = {};
        std::memcpy(b, m->peer.data(), 32);
        store_u32(b + 32, m->reason);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<CircuitUp>(&e)) {
        uint8_t b[16] = {};
        store_u64(b, m->circuit);
        b[8] = m->hops;
        return emit(b, out);
    }
    if (const auto* m = std::get_if<CircuitDown>(&e)) {
        uint8_t b[16] = {};
        store_u64(b, m->circuit);
        b[8] = m->hops;
        store_u32(b + 12, m->reason);
        return emit(b, out);
    }
    if (const auto* m = std::get_if<Overload>(&e)) {
        uint8_t b[16] = {};
        store_u16(b, uint16_t(m->resource));
        store_u32(b + 4, m->level_permille);
        store_u64(b + 8, m->value);
        return emit(b, out);
    }
    const auto* m = std::get_if<ErrorEvent>(&e);
    VOXA_CHECK(m != nullptr);
    std::size_t const n = kErrorHeadBytes + m->text.size();
    if (out.size() < n) return 0;
    store_u32(out.data(), m->code);
    store_u32(out.data() + 4, 0);
    if (!m->text.empty()) std::memcpy(out.data() + kErrorHeadBytes, m->text.data(), m->text.size());
    return n;
}

DecodeError decode_command(uint16_t type, std::span<const uint8_t> b, Command* out) noexcept {
    VOXA_ASSERT(out != nullptr);
    switch (MsgType(type)) {
        case MsgType::kPeerUpdate: {
            if (b.size() < kPeerUpdateHeadBytes) return DecodeError::kBadLength;
            uint16_t const count = load_u16(b.data());
            if (load_u16(b.data() + 2) != 0) return DecodeError::kReserved;
            if (count == 0) return DecodeError::kBadValue;
            if (b.size() != kPeerUpdateHeadBytes + std::size_t(count) * kDescriptorBytes)
                return DecodeError::kBadLength;
            *out = PeerUpdate{count, b.subspan(kPeerUpdateHeadBytes)};
            return DecodeError::kNone;
        }
        case MsgType::kPeerRemove: {
            if (b.size() != 32) return DecodeError::kBadLength;
            PeerRemove m;
            std::memcpy(m.node.data(), b.data(), 32);
            *out = m;
            return DecodeError::kNone;
        }
        case MsgType::kCircuitPolicy: {
            if (b.size() != 8) return DecodeError::kBadLength;
            if (b[3] != 0) return DecodeError::kReserved;
            CircuitPolicy const m{b[0], b[1], b[2], load_u32(b.data() + 4)};
            if (m.hops < 1 || m.hops > kPolicyHopsMax || m.k < 1 || m.k > m.n || m.n > kPolicyPartsMax)
                return DecodeError::kBadValue;
            *out = m;
            return DecodeError::kNone;
        }
        case MsgType::kDrain:
        case MsgType::kShutdown: {
            if (b.size() != 8) return DecodeError::kBadLength;
            if (load_u32(b.data() + 4) != 0) return DecodeError::kReserved;
            uint32_t const deadline_ms = load_u32(b.data());
            if (MsgType(type) == MsgType::kDrain) {
                *out = Drain{deadline_ms};
            } else {
                *out = Shutdown{deadline_ms};
            }
            return DecodeError::kNone;
        }
        case MsgType::kLogLevel: {
            if (b.size() != 8) return DecodeError::kBadLength;
            if (!zero(b.subspan(1))) return DecodeError::kReserved;
            if (b[0] > kLogLevelMax) return DecodeError::kBadValue;
            *out = SetLogLevel{b[0]};
            return DecodeError::kNone;
        }
        case MsgType::kNameSet: {
            if (b.size() < kNameSetHeadBytes) return DecodeError::kBadLength;
            std::size_t const len = load_u16(b.data() + 40);
            if (b.size() != kNameSetHeadBytes + len) return DecodeError::kBadLength;
            if (!zero(b.subspan(42, 6))) return DecodeError::kReserved;
            NameSet m;
            std::memcpy(m.node.data(), b.data(), 32);
            m.expires_s = load_u64(b.data() + 32);
            m.name = std::string_view(reinterpret_cast<const char*>(b.data() + kNameSetHeadBytes), len);
            if (!directory::valid_name(m.name)) return DecodeError::kBadValue;
            *out = m;
            return DecodeError::kNone;
        }
        case MsgType::kNameRemove: {
            if (b.size() < kNameRemoveHeadBytes) return DecodeError::kBadLength;
            std::size_t const len = load_u16(b.data());
            if (b.size() != kNameRemoveHeadBytes + len) return DecodeError::kBadLength;
            if (!zero(b.subspan(2, 6))) return DecodeError::kReserved;
            NameRemove m{std::string_view(reinterpret_cast<const char*>(b.data() + kNameRemoveHeadBytes), len)};
            if (!directory::valid_name(m.name)) return DecodeError::kBadValue;
            *out = m;
            return DecodeError::kNone;
        }
        default:
            return DecodeError::kUnknownType;
    }
}

DecodeError decode_event(uint16_t type, std::span<const uint8_t> b, Event* out) noexcept {
    VOXA_ASSERT(out != nullptr);
    switch (MsgType(type)) {
        case MsgType::kSessionUp: {
            if (b.size() != 32) return DecodeError::kBadLength;
            SessionUp m;
            std::memcpy(m.peer.data(), b.data(), 32);
            *out = m;
            return DecodeError::kNone;
        }
        case MsgType::kSessionDown: {
            if (b.size() != 40) return DecodeError::kBadLength;
            if (load_u32(b.data() + 36) != 0) return DecodeError::kReserved;
            SessionDown m;
            std::memcpy(m.peer.data(), b.data(), 32);
            m.reason = load_u32(b.data() + 32);
            *out = m;
            return DecodeError::kNone;
        }
        case MsgType::kCircuitUp: {
            if (b.size() != 16) return DecodeError::kBadLength;
            if (!zero(b.subspan(9))) return DecodeError::kReserved;
            *out = CircuitUp{load_u64(b.data()), b[8]};
            return DecodeError::kNone;
        }
        case MsgType::kCircuitDown: {
            if (b.size() != 16) return DecodeError::kBadLength;
            if (!zero(b.subspan(9, 3))) return DecodeError::kReserved;
            *out = CircuitDown{load_u64(b.data()), b[8], load_u32(b.data() + 12)};
            return DecodeError::kNone;
        }
        case MsgType::kOverload: {
            if (b.size() != 16) return DecodeError::kBadLength;
            if (load_u16(b.data() + 2) != 0) return DecodeError::kReserved;
            uint16_t const resource = load_u16(b.data());
            uint32_t const permille = load_u32(b.data() + 4);
            if (resource == 0 || resource >= uint16_t(OverloadResource::kCount) || permille > 1000)
                return DecodeError::kBadValue;
            *out = Overload{OverloadResource(resource), permille, load_u64(b.data() + 8)};
            return DecodeError::kNone;
        }
        case MsgType::kError: {
            if (b.size() < kErrorHeadBytes) return DecodeError::kBadLength;
            if (load_u32(b.data() + 4) != 0) return DecodeError::kReserved;
            auto const text = b.subspan(kErrorHeadBytes);
            if (std::memchr(text.data(), 0, text.size()) != nullptr) return DecodeError::kBadValue;
            *out = ErrorEvent{load_u32(b.data()),
                              std::string_view(reinterpret_cast<const char*>(text.data()), text.size())};
            return DecodeError::kNone;
        }
        default:
            return DecodeError::kUnknownType;
    }
}

bool push_command(RingProducer& ring, const Command& c) noexcept {
    std::span<uint8_t> const slot = ring.reserve();
    if (slot.empty()) return false;
    std::size_t const n = encode_command(c, slot);
    if (n == 0) return false;   // only a PeerUpdate or a NameSet/NameRemove can be larger than a slot
    ring.commit(uint16_t(command_type(c)), n);
    return true;
}

bool push_event(RingProducer& ring, const Event& e) noexcept {
    std::span<uint8_t> const slot = ring.reserve();
    if (slot.empty()) return false;
    std::size_t const n = encode_event(e, slot);
    if (n == 0) return false;   // only an ErrorEvent can be larger than a slot
    ring.commit(uint16_t(event_type(e)), n);
    return true;
}

}  // namespace voxa::shm
