// Typed commands (control -> data plane) and events (data plane -> control) carried in shm ring slots. The byte
// layouts are in include/voxa/shm.h (MsgType); this is their only encoder and decoder.
//
// Decoding never reads outside the body it is given, and rejects an unknown type, a wrong length, an out-of-range
// value or a non-zero reserved field, so whatever decodes re-encodes to the same bytes. Decoded views that carry
// bytes (descriptors, names, error text) borrow them from the body: valid until the slot is released.
//
// No allocation, no exceptions; any thread (pure functions), ring helpers on the ring end's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "shm/ring.h"
#include "voxa/shm.h"
#include "voxa/types.h"

namespace voxa::shm {

enum class DecodeError : uint8_t { kNone, kUnknownType, kBadLength, kBadValue, kReserved, kCount };
const char* decode_error_name(DecodeError e) noexcept;

// ---- commands ----
struct PeerUpdate {
    uint16_t count = 0;                         // signed descriptors, >= 1
    std::span<const uint8_t> descriptors;       // count * kDescriptorBytes bytes (borrowed)
};
struct PeerRemove {
    NodeId node{};
};
struct CircuitPolicy {
    uint8_t hops = 3, n = 5, k = 3;             // 1 <= hops <= kPolicyHopsMax, 1 <= k <= n <= kPolicyPartsMax
    uint32_t rotation_s = 600;                  // 0: never rotate
};
struct Drain {
    uint32_t deadline_ms = 0;
};
struct SetLogLevel {
    uint8_t level = 1;                          // common/log.h LogLevel, <= kLogLevelMax
};
struct Shutdown {
    uint32_t deadline_ms = 0;
};
// Names the local endpoint resolves (directory/names.h): name 1..kNameBytesMax bytes of [a-z0-9.-].
struct NameSet {
    NodeId node{};
    uint64_t expires_s = 0;                     // unix seconds
    std::string_view name;                      // borrowed
};
struct NameRemove {
    std::string_view name;                      // borrowed
};
using Command = std::variant<PeerUpdate, PeerRemove, CircuitPolicy, Drain, SetLogLevel, Shutdown, NameSet, NameRemove>;

// ---- events ----
struct SessionUp {
    NodeId peer{};
};
struct SessionDown {
    NodeId peer{};
    uint32_t reason = 0;
};
struct CircuitUp {
    uint64_t circuit = 0;
    uint8_t hops = 0;
};
struct CircuitDown {
    uint64_t circuit = 0;
    uint8_t hops = 0;
    uint32_t reason = 0;
};
struct Overload {
    OverloadResource resource = OverloadResource::kCommandRing;   // not kNone
    uint32_t level_permille = 0;                                    // <= 1000
    uint64_t value = 0;
};
struct ErrorEvent {
    uint32_t code = 0;
    std::string_view text;                      // UTF-8 without NUL (borrowed)
};
using Event = std::variant<SessionUp, SessionDown, CircuitUp, CircuitDown, Overload, ErrorEvent>;

MsgType command_type(const Command& c) noexcept;
MsgType event_type(const Event& e) noexcept;

// Writes c's body into out; returns the bytes written, or 0 when out is too small. Values are not re-checked
// here (the decoder is the gate), except that PeerUpdate's count must match its bytes (VOXA_CHECK) and a name
// must fit its u16 length (VOXA_CHECK).
std::size_t encode_command(const Command& c, std::span<uint8_t> out) noexcept;
std::size_t encode_event(const Event& e, std::span<uint8_t> out) noexcept;

// Decodes a body of the given type into *out (untouched on error). kUnknownType also covers an event type passed
// to decode_command and vice versa.
DecodeError decode_command(uint16_t type, std::span<const uint8_t> body, Command* out) noexcept;
DecodeError decode_event(uint16_t type, std::span<const uint8_t> body, Event* out) noexcept;

// Encode straight into the ring's next slot and publish it. False when the ring is full or the message does not
// fit a slot (nothing published).
bool push_command(RingProducer& ring, const Command& c) noexcept;
bool push_event(RingProducer& ring, const Event& e) noexcept;

}  // namespace voxa::shm
