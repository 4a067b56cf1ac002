#include "record.h"

#include <arpa/inet.h>

#include <algorithm>
#include <limits>
#include <set>

#include "canonical.h"
#include "config/config.h"
#include "voxa/assert.h"

namespace voxa::registry {

using nlohmann::json;

std::string_view kind_name(Kind k) noexcept { return k == Kind::kRelay ? "rri" : "nri"; }

namespace {

constexpr std::string_view kNodeTypes[] = {"mainnet", "testnet", "devnet", "standard"};
constexpr std::string_view kRelayTypes[] = {"standard", "high_capacity", "secure", "bridge"};
constexpr std::string_view kBackends[] = {"uring", "dpdk"};

template <std::size_t N>
bool one_of(std::string_view v, const std::string_view (&set)[N]) {
    return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

// Field names as the JSON spells them, so that a refusal reads the same whatever the input form was.
struct Names {
    const char* id;
    const char* ip;
    const char* port;
    const char* type;
    const char* caps;
};
Names names_of(Kind k) {
    if (k == Kind::kRelay) return {"relay_id", "relay_ip", "relay_port", "relay_type", "supported_protocols"};
    return {"node_id", "node_ip", "node_port", "node_type", "capabilities"};
}

// The address as raw bytes if `text` is the canonical numeric spelling of a usable unicast address of `family`
// (what inet_ntop writes back), else nullopt. One spelling keeps encode(decode(b)) == b.
std::optional<Endpoint> canonical_address(std::string_view text, Endpoint::Family family) {
    std::optional<Endpoint> const e = config::parse_numeric_endpoint(text, 1);
    if (!e || e->family != family || config::is_wildcard(*e)) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Endpoint::Family::kIpv4 ? AF_INET : AF_INET6, e->addr.data(), buf, sizeof buf);
    if (text != buf) return std::nullopt;
    if (family == Endpoint::Family::kIpv4) {
        uint8_t const first = e->addr[0];
        if (first >= 224) return std::nullopt;   // multicast, reserved, broadcast
    } else if (e->addr[0] == 0xff) {
        return std::nullopt;                     // multicast
    }
    return e;
}

Refusal check_map(const std::map<std::string, std::string>& m, const char* field, std::string* why) {
    if (m.size() > kListMax)
        return refuse(Refusal::kTooLarge, why, std::string(field) + ": more than " + std::to_string(kListMax) + " entries");
    for (const auto& [k, v] : m) {
        if (k.size() > kTokenBytesMax)
            return refuse(Refusal::kTooLarge, why, std::string(field) + ": a key longer than 32 bytes");
        if (!is_map_key(k))
            return refuse(Refusal::kBadField, why, std::string(field) + ": key \"" + k.substr(0, 40) +
                                                       "\" is not 1..32 of [a-z0-9_.-]");
        if (v.size() > kStringBytesMax)
            return refuse(Refusal::kTooLarge, why, std::string(field) + "." + k + ": longer than 256 bytes");
        if (!is_printable_utf8(v))
            return refuse(Refusal::kBadField, why, std::string(field) + "." + k + ": not printable UTF-8");
    }
    return Refusal::kNone;
}

Endpoint::Family family_of_record(const Record& r) {
    return r.ipv4.empty() ? Endpoint::Family::kIpv6 : Endpoint::Family::kIpv4;
}

// Everything before the signature, with the kind's context in front: the signed message.
std::vector<uint8_t> signed_message(const Record& r) {
    return with_context(r.kind == Kind::kRelay ? kRriContext : kNriContext, encode(r), crypto::kSignatureBytes);
}

Refusal check_size(std::size_t encoded_bytes, std::string* why) {
    // Every field within its limit can still add up to more than a record may be.
    if (encoded_bytes > kRecordBytesMax)
        return refuse(Refusal::kTooLarge, why, "record: larger than " + std::to_string(kRecordBytesMax) + " bytes");
    return Refusal::kNone;
}

// Every field on its own (the record's encoded size is checked apart: callers often hold the encoding already).
Refusal check_field_values(const Record& r, std::string* why) {
    Names const n = names_of(r.kind);
    if (r.kind != Kind::kNode && r.kind != Kind::kRelay) return refuse(Refusal::kBadField, why, "kind: not 1 or 2");
    for (const std::string* text : {&r.type, &r.backend, &r.ipv4, &r.ipv6}) {
        if (text->size() > kStringBytesMax)
            return refuse(Refusal::kTooLarge, why, text == &r.type ? std::string(n.type) + ": longer than 256 bytes"
                                                                   : std::string("a string longer than 256 bytes"));
    }
    bool const type_ok = r.kind == Kind::kRelay ? one_of(r.type, kRelayTypes) : one_of(r.type, kNodeTypes);
    if (!type_ok)
        return refuse(Refusal::kBadField, why,
                      std::string(n.type) + (r.kind == Kind::kRelay ? ": not standard|high_capacity|secure|bridge"
                                                                     : ": not mainnet|testnet|devnet|standard"));
    if (r.capabilities.size() > kListMax)
        return refuse(Refusal::kTooLarge, why, std::string(n.caps) + ": more than 32 entries");
    std::set<std::string_view> seen;
    for (const std::string& c : r.capabilities) {
        if (c.size() > kTokenBytesMax)
            return refuse(Refusal::kTooLarge, why, std::string(n.caps) + ": an entry longer than 32 bytes");
        if (!is_protocol_token(c))
            return refuse(Refusal::kBadField, why, std::string(n.caps) + ": \"" + c.substr(0, 40) +
                                                       "\" is not 1..32 of [a-z0-9._/-]");
        if (!seen.insert(c).second)
            return refuse(Refusal::kBadField, why, std::string(n.caps) + ": \"" + c + "\" appears twice");
    }
    if (Refusal const m = check_map(r.metadata, "metadata", why); m != Refusal::kNone) return m;
    if (r.kind == Kind::kNode && !r.routing_info.empty())
        return refuse(Refusal::kBadField, why, "routing_info: only relay records carry it");
    if (Refusal const m = check_map(r.routing_info, "routing_info", why); m != Refusal::kNone) return m;
    if (r.program_version.size() > kProgramVersionBytesMax)
        return refuse(Refusal::kTooLarge, why, "program_version: longer than 32 bytes");
    if (!is_printable_utf8(r.program_version))
        return refuse(Refusal::kBadField, why, "program_version: not printable UTF-8");
    if (r.ipv4.empty() && r.ipv6.empty()) return refuse(Refusal::kBadField, why, "ipv4/ipv6: both empty");
    if (!r.ipv4.empty() && !canonical_address(r.ipv4, Endpoint::Family::kIpv4))
        return refuse(Refusal::kBadField, why, "ipv4: not a canonical unicast IPv4 address");
    if (!r.ipv6.empty() && !canonical_address(r.ipv6, Endpoint::Family::kIpv6))
        return refuse(Refusal::kBadField, why, "ipv6: not a canonical (RFC 5952) unicast IPv6 address");
    if (r.port == 0) return refuse(Refusal::kBadField, why, "port: not 1..65535");
    if (!one_of(r.backend, kBackends)) return refuse(Refusal::kBadField, why, "backend: not uring|dpdk");
    if (r.capacity < 1 || r.capacity > kCapacityMax)
        return refuse(Refusal::kBadField, why, "capacity: not 1..1000000");
    if (r.created_s > r.updated_s) return refuse(Refusal::kBadField, why, "created: after updated");
    if (r.updated_s >= r.expires_s) return refuse(Refusal::kBadField, why, "expires: not after updated");
    if (r.expires_s - r.updated_s > kRecordLifetimeMaxS)
        return refuse(Refusal::kBadField, why, "expires: more than 30 days after updated");
    return Refusal::kNone;
}

}  // namespace

Refusal check_fields(const Record& r, std::string* why) {
    if (Refusal const f = check_field_values(r, why); f != Refusal::kNone) return f;
    return check_size(encode(r).size(), why);   // encode only once every string is within its limit
}

std::vector<uint8_t> encode(const Record& r) {
    Writer w;
    w.u8(uint8_t(r.kind));
    w.u8(kRecordVersion);
    w.raw(r.id);
    w.raw(r.public_key);
    w.str(r.type);
    w.u16(uint16_t(std::min<std::size_t>(r.capabilities.size(), 0xffff)));
    for (const std::string& c : r.capabilities) w.str(c);
    for (const auto* m : {&r.metadata, &r.routing_info}) {
        w.u16(uint16_t(std::min<std::size_t>(m->size(), 0xffff)));
        for (const auto& [k, v] : *m) {
            w.str(k);
            w.str(v);
        }
    }
    w.str(r.program_version);
    // Addresses as bytes behind a presence byte; check_fields guarantees the text is the canonical spelling,
    // so the text form comes back unchanged from decode.
    std::optional<Endpoint> const v4 = canonical_address(r.ipv4, Endpoint::Family::kIpv4);
    // (An invalid address, which check_fields refuses, is written as zeros: the wildcard, refused on decode.)
    std::array<uint8_t, 16> const none{};
    w.u8(r.ipv4.empty() ? 0 : 1);
    if (!r.ipv4.empty()) w.raw(std::span<const uint8_t>(v4 ? v4->addr.data() : none.data(), 4));
    std::optional<Endpoint> const v6 = canonical_address(r.ipv6, Endpoint::Family::kIpv6);
    w.u8(r.ipv6.empty() ? 0 : 1);
    if (!r.ipv6.empty()) w.raw(std::span<const uint8_t>(v6 ? v6->addr.data() : none.data(), 16));
    w.u16(r.port);
    w.str(r.backend);
    w.u32(r.capacity);
    w.u64(r.created_s);
    w.u64(r.updated_s);
    w.u64(r.expires_s);
    w.u64(r.sequence);
    w.raw(r.link_descriptor);
    w.raw(r.signature);
    return w.take();
}

Refusal decode(std::span<const uint8_t> bytes, Record* out, std::string* why) {
    if (bytes.size() > kRecordBytesMax)
        return refuse(Refusal::kTooLarge, why, "record: larger than " + std::to_string(kRecordBytesMax) + " bytes");
    Reader rd(bytes);
    Record r;
    uint8_t const kind = rd.u8("kind");
    if (rd.ok() && kind != uint8_t(Kind::kNode) && kind != uint8_t(Kind::kRelay)) rd.fail("kind", "not 1 (nri) or 2 (rri)");
    r.kind = Kind(kind);
    if (rd.u8("version") != kRecordVersion) rd.fail("version", "not 1");
    rd.raw("id", &r.id);
    rd.raw("public_key", &r.public_key);
    r.type = rd.str("type", kStringBytesMax);
    uint16_t const caps = rd.u16("capabilities");
    if (rd.ok() && caps > kListMax) return refuse(Refusal::kTooLarge, why, "capabilities: more than 32 entries");
    for (uint16_t i = 0; rd.ok() && i < caps; ++i) r.capabilities.push_back(rd.str("capabilities", kTokenBytesMax));
    for (auto [m, field] : {std::pair{&r.metadata, "metadata"}, std::pair{&r.routing_info, "routing_info"}}) {
        uint16_t const count = rd.u16(field);
        if (rd.ok() && count > kListMax)
            return refuse(Refusal::kTooLarge, why, std::string(field) + ": more than 32 entries");
        for (uint16_t i = 0; rd.ok() && i < count; ++i) {
            std::string key = rd.str(field, kTokenBytesMax);
            std::string value = rd.str(field, kStringBytesMax);
            // Strictly increasing keys: sorted and unique, the only order a map can be written in.
            if (rd.ok() && !m->empty() && !(m->rbegin()->first < key)) rd.fail(field, "keys not strictly increasing");
            if (rd.ok()) m->emplace_hint(m->end(), std::move(key), std::move(value));
        }
    }
    r.program_version = rd.str("program_version", kProgramVersionBytesMax);
    if (rd.presence("ipv4")) {
        std::array<uint8_t, 4> a{};
        rd.raw("ipv4", &a);
        char buf[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, a.data(), buf, sizeof buf);
        r.ipv4 = buf;
    }
    if (rd.presence("ipv6")) {
        std::array<uint8_t, 16> a{};
        rd.raw("ipv6", &a);
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
        r.ipv6 = buf;
    }
    r.port = rd.u16("port");
    r.backend = rd.str("backend", kStringBytesMax);
    r.capacity = rd.u32("capacity");
    r.created_s = rd.u64("created");
    r.updated_s = rd.u64("updated");
    r.expires_s = rd.u64("expires");
    r.sequence = rd.u64("sequence");
    rd.raw("link_descriptor", &r.link_descriptor);
    rd.raw("signature", &r.signature);
    if (Refusal const f = rd.finish("record", why); f != Refusal::kNone) return f;
    // The size was checked above: these bytes are the record's one encoding.
    if (Refusal const f = check_field_values(r, why); f != Refusal::kNone) return f;
    if (out != nullptr) *out = std::move(r);
    return Refusal::kNone;
}

void sign(Record& r, const crypto::Identity& self) {
    r.public_key = self.peer().ed25519;
    r.id = self.id();
    std::vector<uint8_t> const message = signed_message(r);
    r.signature = self.sign(message);
}

void sign_with_link(Record& r, const crypto::Identity& self, bool relay, uint64_t issued_at_s) {
    std::optional<Endpoint> const address =
        config::parse_numeric_endpoint(r.ipv4.empty() ? r.ipv6 : r.ipv4, r.port);
    VOXA_CHECK(address.has_value() && r.port != 0);
    r.link_descriptor =
        directory::sign_descriptor(self, *address, r.capacity, relay || r.kind == Kind::kRelay, issued_at_s);
    sign(r, self);
}

Refusal verify(const Record& r, uint64_t now_s, std::string* why) {
    Names const n = names_of(r.kind);
    if (Refusal const f = check_field_values(r, why); f != Refusal::kNone) return f;
    std::vector<uint8_t> const bytes = encode(r);   // once: for the size and the signed message
    if (Refusal const f = check_size(bytes.size(), why); f != Refusal::kNone) return f;
    if (crypto::node_id_of(r.public_key) != r.id)
        return refuse(Refusal::kKeyMismatch, why, std::string(n.id) + ": not BLAKE2b-256 of public_key");

    // The link descriptor: structure first (its own time is the record's business: no ttl of its own here).
    directory::Descriptor d;
    directory::Drop const drop = directory::decode_descriptor_unverified(
        r.link_descriptor, now_s, std::numeric_limits<uint64_t>::max(), &d);
    if (drop == directory::Drop::kFromFuture)
        return refuse(Refusal::kFromFuture, why, "link_descriptor: issued in the future");
    if (drop != directory::Drop::kNone)
        return refuse(Refusal::kLinkMismatch, why, "link_descriptor: " + std::string(directory::drop_name(drop)));
    if (d.ed25519 != r.public_key)
        return refuse(Refusal::kLinkMismatch, why, "link_descriptor: signed by another key");
    if (d.endpoint.port != r.port) return refuse(Refusal::kLinkMismatch, why, "link_descriptor: another port");
    std::optional<Endpoint> const address =
        canonical_address(r.ipv4.empty() ? r.ipv6 : r.ipv4, family_of_record(r));
    if (!address || d.endpoint.family != address->family || d.endpoint.addr != address->addr)
        return refuse(Refusal::kLinkMismatch, why, "link_descriptor: another address");
    if (d.capacity != r.capacity) return refuse(Refusal::kLinkMismatch, why, "link_descriptor: another capacity");
    if (r.kind == Kind::kRelay && !d.relay)
        return refuse(Refusal::kLinkMismatch, why, "link_descriptor: relay flag not set in a relay record");

    if (r.created_s > now_s + kFutureSkewMaxS || r.updated_s > now_s + kFutureSkewMaxS)
        return refuse(Refusal::kFromFuture, why, "updated: more than 300 s ahead of this node's clock");
    if (r.expires_s <= now_s) return refuse(Refusal::kExpired, why, "expires: in the past");

    // The descriptor's signature as descriptor.h defines it ("voxa.desc.v1" || the 68 bytes before the signature),
    // checked here rather than with directory::check_descriptor_signature, which also derives the X25519 key: that
    // derivation costs as much as a signature check (~30 us) and a record has no use for it.
    crypto::Signature descriptor_signature{};
    std::copy_n(r.link_descriptor.begin() + directory::kOffSignature, crypto::kSignatureBytes,
                descriptor_signature.begin());
    if (!crypto::Identity::verify(r.public_key,
                                  with_context(directory::kDescriptorContext, r.link_descriptor, crypto::kSignatureBytes),
                                  descriptor_signature))
        return refuse(Refusal::kBadSignature, why, "link_descriptor: bad signature");
    std::vector<uint8_t> const message =
        with_context(r.kind == Kind::kRelay ? kRriContext : kNriContext, bytes, crypto::kSignatureBytes);
    if (!crypto::Identity::verify(r.public_key, message, r.signature))
        return refuse(Refusal::kBadSignature, why, "signature: does not verify with public_key");
    return Refusal::kNone;
}

// ---- JSON ----

json to_json(const Record& r) {
    Names const n = names_of(r.kind);
    std::string const hex_id = to_hex(r.id);
    json j = {
        {n.id, hex_id},
        {n.ip, r.ipv4.empty() ? r.ipv6 : r.ipv4},
        {n.port, r.port},
        {n.type, r.type},
        {n.caps, r.capabilities},
        {"metadata", r.metadata},
        {"public_key", to_hex(r.public_key)},
        {"public_key_hash", hex_id},
        {"program_version", r.program_version},
        {"ipv4", r.ipv4},
        {"ipv6", r.ipv6},
        {"port", r.port},
        {"backend", r.backend},
        {"capacity", r.capacity},
        {"created", r.created_s},
        {"updated", r.updated_s},
        {"expires", r.expires_s},
        {"sequence", r.sequence},
        {"link_descriptor", to_hex(r.link_descriptor)},
        {"signature", to_hex(r.signature)},
    };
    if (r.kind == Kind::kRelay) j["routing_info"] = r.routing_info;
    return j;
}

Refusal from_json(const json& j, Kind kind, Record* out, std::string* why) {
    if (!j.is_object()) return refuse(Refusal::kMalformed, why, std::string(kind_name(kind)) + ": not a JSON object");
    Names const n = names_of(kind);
    std::string_view const own[] = {n.id, n.ip, n.port, n.type, n.caps,
                                    kind == Kind::kRelay ? std::string_view("routing_info") : std::string_view(n.id)};
    if (Refusal const u = unknown_field(j, {"metadata", "public_key", "public_key_hash", "program_version", "ipv4",
                                            "ipv6", "port", "backend", "capacity", "created", "updated", "expires",
                                            "sequence", "link_descriptor", "signature"},
                                        own, why);
        u != Refusal::kNone)
        return u;
    JsonIn in(j);
    Record r;
    r.kind = kind;
    r.id = in.hex<kNodeIdBytes>(n.id, Refusal::kBadId);
    r.public_key = in.hex<kPublicKeyBytes>("public_key", Refusal::kBadField);
    NodeId const key_hash = in.hex<kNodeIdBytes>("public_key_hash", Refusal::kBadId);
    r.type = in.str(n.type, kStringBytesMax);
    r.capabilities = in.strings(n.caps);
    r.metadata = in.map("metadata");
    if (kind == Kind::kRelay) r.routing_info = in.map("routing_info");
    r.program_version = in.str("program_version", kProgramVersionBytesMax);
    r.ipv4 = in.str("ipv4", kStringBytesMax);
    r.ipv6 = in.str("ipv6", kStringBytesMax);
    r.port = uint16_t(in.u64("port", 65535));
    std::string const ip = in.str(n.ip, kStringBytesMax);
    uint64_t const legacy_port = in.u64(n.port, 65535);
    r.backend = in.str("backend", kStringBytesMax);
    r.capacity = uint32_t(in.u64("capacity", kCapacityMax));
    r.created_s = in.u64("created", std::numeric_limits<uint64_t>::max());
    r.updated_s = in.u64("updated", std::numeric_limits<uint64_t>::max());
    r.expires_s = in.u64("expires", std::numeric_limits<uint64_t>::max());
    r.sequence = in.u64("sequence", std::numeric_limits<uint64_t>::max());
    r.link_descriptor = in.hex<directory::kDescriptorBytes>("link_descriptor", Refusal::kBadField);
    r.signature = in.hex<crypto::kSignatureBytes>("signature", Refusal::kBadField);
    if (!in.ok()) return refuse(in.refusal(), why, in.why());
    if (key_hash != r.id)
        return refuse(Refusal::kKeyMismatch, why, std::string("public_key_hash: differs from ") + n.id);
    if (ip != (r.ipv4.empty() ? r.ipv6 : r.ipv4))
        return refuse(Refusal::kBadField, why, std::string(n.ip) + ": differs from ipv4 (or ipv6 when no ipv4)");
    if (legacy_port != r.port) return refuse(Refusal::kBadField, why, std::string(n.port) + ": differs from port");
    if (Refusal const f = check_fields(r, why); f != Refusal::kNone) return f;
    if (out != nullptr) *out = std::move(r);
    return Refusal::kNone;
}

}  // namespace voxa::registry
