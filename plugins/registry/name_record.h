// Name records: a DNS-like name pointing at a node (and optionally a service on it), owned by the Ed25519 key
// that signed it. The first owner keeps a name until it expires, unless the owner signs a record that transfers
// it (transfer_to); a newer sequence from the owner (or the designated new owner) replaces an older one. This is
// the original system's DNS feature with ownership and signatures.
//
// Bytes: canonical.h's rules, layout in PROTOCOL.md §12 (first byte 3, so a name record is never mistaken for a
// registry record). Signature: Ed25519 by `owner` over "voxa.name.v1" || every encoded byte before it.
// decode() checks structure and field rules; verify() is the trust decision; may_replace() is the ownership
// rule. All pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/identity.h"
#include "record.h"
#include "voxa/types.h"

namespace voxa::registry {

inline constexpr std::string_view kNameContext = "voxa.name.v1";
inline constexpr uint8_t kNameTag = 3;                 // first byte of an encoded name record
inline constexpr std::size_t kNameBytesMax = 253;
inline constexpr std::size_t kLabelBytesMax = 63;
inline constexpr std::size_t kServiceBytesMax = 32;
inline constexpr uint32_t kNameTtlMaxS = 86400;
inline constexpr uint64_t kNameLifetimeMaxS = 365 * 86400;   // expires_s - created_s at most

struct NameRecord {
    std::string name;          // lowercase DNS-like: labels [a-z0-9-]{1,63} joined by '.', total <= 253, no leading/trailing '-'
    NodeId target{};           // the node the name points to
    std::string service;       // optional service on that node ([a-z0-9_-]{0,32})
    uint32_t ttl_s = 3600;     // cache lifetime for resolvers, 1..86400
    uint64_t sequence = 0, created_s = 0, expires_s = 0;   // created < expires <= created + 365 days
    PublicKey owner{};         // the key that signed it
    std::optional<PublicKey> transfer_to;   // set: the owner hands the name to this key (not the owner itself)
    Signature signature{};

    friend bool operator==(const NameRecord&, const NameRecord&) = default;
};

// The name rule above; for the API's query parameters too.
bool is_valid_name(std::string_view name) noexcept;

std::vector<uint8_t> encode(const NameRecord& n);
Refusal decode(std::span<const uint8_t> bytes, NameRecord* out, std::string* why = nullptr);
// Sets owner to self's key and signs; the caller has set every other field.
void sign(NameRecord& n, const crypto::Identity& self);
// Field rules, time (kFromFuture if created > now+300, kExpired if expires <= now), then the owner's signature.
Refusal verify(const NameRecord& n, uint64_t now_s, std::string* why = nullptr);
Refusal check_fields(const NameRecord& n, std::string* why = nullptr);

// {"name", "target" (hex node id), "service", "ttl", "sequence", "created", "expires", "owner" (hex key),
//  "transfer_to" (hex key or null), "signature" (hex)}. from_json is strict (unknown or missing fields refused;
// transfer_to may be absent or null) and checks fields like decode, not the signature.
nlohmann::json to_json(const NameRecord& n);
Refusal from_json(const nlohmann::json& j, NameRecord* out, std::string* why);

// Ownership rule, pure: may `incoming` (already verified) replace `held` (nullptr = none)? No holder or an expired
// holder -> kNone (first owner). Same owner -> kNone only if incoming's sequence is higher, else kReplayed (the
// caller treats identical bytes as a no-op before asking). Another owner -> kNone only if held.transfer_to is
// incoming's owner and the sequence is higher (else kReplayed); without that transfer kNotOwner. A different
// name -> kBadField.
Refusal may_replace(const NameRecord* held, const NameRecord& incoming, uint64_t now_s);

}  // namespace voxa::registry
