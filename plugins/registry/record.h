// Registry records: what a node (NRI) or a relay (RRI) says about itself, signed with its Ed25519 identity key,
// so that no registry, DHT node or forwarder has to be trusted with its content. The fields are the original
// system's (ids, types, capabilities, metadata, key and key hash, program version, created/updated) plus the
// addresses, port, backend, capacity, expiry, a sequence number (newest wins) and the data plane's own 132-byte
// link descriptor (dataplane/directory/descriptor.h), which the control plane pushes to the data plane unchanged.
//
// Bytes: canonical.h's rules; the layout is documented in PROTOCOL.md §12 (a record is <= 4096 bytes). The
// signature is Ed25519 over "voxa.nri.v1" or "voxa.rri.v1" || every encoded byte before the signature.
//
// Trust: decode() checks structure and limits only; verify() is the trust decision and must run on every record
// received, whatever the source (API, DHT, database), before it is used. All functions are pure and
// thread-safe; none throws except to_json/from_json on allocation failure.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/identity.h"
#include "directory/descriptor.h"
#include "canonical.h"
#include "voxa/types.h"

namespace voxa::registry {

using Signature = crypto::Signature;

enum class Kind : uint8_t { kNode = 1, kRelay = 2 };   // NRI, RRI; also the first byte of the encoding
std::string_view kind_name(Kind k) noexcept;            // "nri", "rri"

// Refusal (why a record, a name record or a registration was refused) and refusal_name(): canonical.h.

inline constexpr std::string_view kNriContext = "voxa.nri.v1";
inline constexpr std::string_view kRriContext = "voxa.rri.v1";
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr uint64_t kFutureSkewMaxS = 300;
inline constexpr uint64_t kRecordLifetimeMaxS = 30 * 86400;   // expires_s - updated_s at most
inline constexpr std::size_t kProgramVersionBytesMax = 32;
inline constexpr uint32_t kCapacityMax = directory::kCapacityMax;

struct Record {
    Kind kind = Kind::kNode;
    NodeId id{};                    // node_id / relay_id; must equal BLAKE2b-256(public_key)
    PublicKey public_key{};         // Ed25519
    std::string type;               // NRI: mainnet|testnet|devnet|standard; RRI: standard|high_capacity|secure|bridge
    std::vector<std::string> capabilities;              // NRI "capabilities" / RRI "supported_protocols"; unique
    std::map<std::string, std::string> metadata;
    std::map<std::string, std::string> routing_info;   // RRI only (NRI: must be empty)
    std::string program_version;    // <= 32 bytes
    std::string ipv4, ipv6;         // canonical numeric text ("10.0.0.1", "fd00::1"); at least one non-empty
    uint16_t port = 0;              // data-plane UDP port, 1..65535
    std::string backend;            // "uring" | "dpdk"
    uint32_t capacity = 1;          // measured bandwidth in Mbit/s, 1..1'000'000 (path weight)
    uint64_t created_s = 0, updated_s = 0, expires_s = 0;   // unix seconds; created <= updated < expires
    uint64_t sequence = 0;          // strictly increasing per id; newest wins, older is kReplayed
    // The data plane's signed descriptor: same key, same port and capacity, address = ipv4 (or ipv6 when no
    // ipv4), relay flag set for an RRI.
    std::array<uint8_t, directory::kDescriptorBytes> link_descriptor{};
    Signature signature{};

    friend bool operator==(const Record&, const Record&) = default;
};

// Canonical bytes, signature included (the DHT, database and wire form).
std::vector<uint8_t> encode(const Record& r);
// Structure and limits only (no signature, no time): kNone and *out filled, or the reason and *why naming the
// field. Accepts exactly the bytes encode() produces for some record (one spelling).
Refusal decode(std::span<const uint8_t> bytes, Record* out, std::string* why = nullptr);
// Fills id and public_key from `self` and signs. The caller has set every other field.
void sign(Record& r, const crypto::Identity& self);
// For building this node's own records: fills r.link_descriptor with directory::sign_descriptor over r's own
// address (ipv4, else ipv6), port and capacity, relay flag `relay` (always set for an RRI), issued at issued_at_s,
// then sign(r, self). The caller has set the other fields; an address that is not numeric is a bug (VOXA_CHECK).
// The data plane accepts a descriptor for directory::kTtlDefaultS after issued_at_s: rebuild at least that often.
void sign_with_link(Record& r, const crypto::Identity& self, bool relay, uint64_t issued_at_s);
// The full check, cheap parts first: field rules, id == hash(key), link descriptor consistent and signed by the
// same key, time (kFromFuture if created/updated > now+300, kExpired if expires <= now), then the signature.
Refusal verify(const Record& r, uint64_t now_s, std::string* why = nullptr);
// The field rules alone (what decode and from_json apply): kNone or the reason.
Refusal check_fields(const Record& r, std::string* why = nullptr);

// JSON with the original names (NRI: node_id, node_ip, node_port, node_type, capabilities, metadata, public_key,
// public_key_hash, program_version; RRI: relay_id, relay_ip, relay_port, relay_type, supported_protocols,
// routing_info, metadata, ...), plus ipv4, ipv6, port, backend, capacity, created, updated, expires, sequence,
// link_descriptor (hex) and signature (hex).
nlohmann::json to_json(const Record& r);
// Strict: every field required, unknown fields refused, ids and keys lowercase hex, node_ip/node_port must agree
// with ipv4|ipv6/port, public_key_hash == id. Checks fields like decode (not the signature: call verify()).
Refusal from_json(const nlohmann::json& j, Kind kind, Record* out, std::string* why);

}  // namespace voxa::registry
