#include "name_record.h"

#include <limits>

#include "canonical.h"

namespace voxa::registry {

using nlohmann::json;

namespace {

bool is_service(std::string_view s) noexcept {
    if (s.size() > kServiceBytesMax) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    }
    return true;
}

std::vector<uint8_t> signed_message(const NameRecord& n) {
    return with_context(kNameContext, encode(n), crypto::kSignatureBytes);
}

}  // namespace

bool is_valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > kNameBytesMax) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t const dot = name.find('.', start);
        std::string_view const label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
        if (label.empty() || label.size() > kLabelBytesMax || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

Refusal check_fields(const NameRecord& n, std::string* why) {
    if (!is_valid_name(n.name))
        return refuse(n.name.size() > kNameBytesMax ? Refusal::kTooLarge : Refusal::kBadField, why,
                      "name: not lowercase labels [a-z0-9-]{1,63} joined by '.', <= 253 bytes, no label starting "
                      "or ending with '-'");
    if (!is_service(n.service)) return refuse(Refusal::kBadField, why, "service: not [a-z0-9_-]{0,32}");
    if (n.ttl_s < 1 || n.ttl_s > kNameTtlMaxS) return refuse(Refusal::kBadField, why, "ttl: not 1..86400");
    if (n.expires_s <= n.created_s) return refuse(Refusal::kBadField, why, "expires: not after created");
    if (n.expires_s - n.created_s > kNameLifetimeMaxS)
        return refuse(Refusal::kBadField, why, "expires: more than 365 days after created");
    if (n.transfer_to && *n.transfer_to == n.owner)
        return refuse(Refusal::kBadField, why, "transfer_to: the owner itself");
    return Refusal::kNone;
}

std::vector<uint8_t> encode(const NameRecord& n) {
    Writer w;
    w.u8(kNameTag);
    w.u8(kRecordVersion);
    w.str(n.name);
    w.raw(n.target);
    w.str(n.service);
    w.u32(n.ttl_s);
    w.u64(n.sequence);
    w.u64(n.created_s);
    w.u64(n.expires_s);
    w.raw(n.owner);
    w.u8(n.transfer_to ? 1 : 0);
    if (n.transfer_to) w.raw(*n.transfer_to);
    w.raw(n.signature);
    return w.take();
}

Refusal decode(std::span<const uint8_t> bytes, NameRecord* out, std::string* why) {
    if (bytes.size() > kRecordBytesMax)
        return refuse(Refusal::kTooLarge, why, "name record: larger than " + std::to_string(kRecordBytesMax) + " bytes");
    Reader rd(bytes);
    NameRecord n;
    if (rd.u8("tag") != kNameTag) rd.fail("tag", "not 3 (name record)");
    if (rd.u8("version") != kRecordVersion) rd.fail("version", "not 1");
    n.name = rd.str("name", kNameBytesMax);
    rd.raw("target", &n.target);
    n.service = rd.str("service", kServiceBytesMax);
    n.ttl_s = rd.u32("ttl");
    n.sequence = rd.u64("sequence");
    n.created_s = rd.u64("created");
    n.expires_s = rd.u64("expires");
    rd.raw("owner", &n.owner);
    if (rd.presence("transfer_to")) {
        PublicKey to{};
        rd.raw("transfer_to", &to);
        n.transfer_to = to;
    }
    rd.raw("signature", &n.signature);
    if (Refusal const f = rd.finish("name record", why); f != Refusal::kNone) return f;
    if (Refusal const f = check_fields(n, why); f != Refusal::kNone) return f;
    if (out != nullptr) *out = std::move(n);
    return Refusal::kNone;
}

void sign(NameRecord& n, const crypto::Identity& self) {
    n.owner = self.peer().ed25519;
    std::vector<uint8_t> const message = signed_message(n);
    n.signature = self.sign(message);
}

Refusal verify(const NameRecord& n, uint64_t now_s, std::string* why) {
    if (Refusal const f = check_fields(n, why); f != Refusal::kNone) return f;
    if (n.created_s > now_s + kFutureSkewMaxS)
        return refuse(Refusal::kFromFuture, why, "created: more than 300 s ahead of this node's clock");
    if (n.expires_s <= now_s) return refuse(Refusal::kExpired, why, "expires: in the past");
    std::vector<uint8_t> const message = signed_message(n);
    if (!crypto::Identity::verify(n.owner, message, n.signature))
        return refuse(Refusal::kBadSignature, why, "signature: does not verify with owner");
    return Refusal::kNone;
}

json to_json(const NameRecord& n) {
    return json{
        {"name", n.name},
        {"target", to_hex(n.target)},
        {"service", n.service},
        {"ttl", n.ttl_s},
        {"sequence", n.sequence},
        {"created", n.created_s},
        {"expires", n.expires_s},
        {"owner", to_hex(n.owner)},
        {"transfer_to", n.transfer_to ? json(to_hex(*n.transfer_to)) : json(nullptr)},
        {"signature", to_hex(n.signature)},
    };
}

Refusal from_json(const json& j, NameRecord* out, std::string* why) {
    if (!j.is_object()) return refuse(Refusal::kMalformed, why, "name record: not a JSON object");
    if (Refusal const u = unknown_field(j,
                                        {"name", "target", "service", "ttl", "sequence", "created", "expires",
                                         "owner", "transfer_to", "signature"},
                                        {}, why);
        u != Refusal::kNone)
        return u;
    JsonIn in(j);
    NameRecord n;
    n.name = in.str("name", kNameBytesMax);
    n.target = in.hex<kNodeIdBytes>("target", Refusal::kBadId);
    n.service = in.str("service", kServiceBytesMax);
    n.ttl_s = uint32_t(in.u64("ttl", kNameTtlMaxS));
    n.sequence = in.u64("sequence", std::numeric_limits<uint64_t>::max());
    n.created_s = in.u64("created", std::numeric_limits<uint64_t>::max());
    n.expires_s = in.u64("expires", std::numeric_limits<uint64_t>::max());
    n.owner = in.hex<kPublicKeyBytes>("owner", Refusal::kBadField);
    if (auto it = j.find("transfer_to"); in.ok() && it != j.end() && !it->is_null())
        n.transfer_to = in.hex<kPublicKeyBytes>("transfer_to", Refusal::kBadField);
    n.signature = in.hex<crypto::kSignatureBytes>("signature", Refusal::kBadField);
    if (!in.ok()) return refuse(in.refusal(), why, in.why());
    if (Refusal const f = check_fields(n, why); f != Refusal::kNone) return f;
    if (out != nullptr) *out = std::move(n);
    return Refusal::kNone;
}

Refusal may_replace(const NameRecord* held, const NameRecord& incoming, uint64_t now_s) {
    if (held == nullptr || held->expires_s <= now_s) return Refusal::kNone;
    if (held->name != incoming.name) return Refusal::kBadField;
    bool const owner = held->owner == incoming.owner;
    bool const heir = held->transfer_to && *held->transfer_to == incoming.owner;
    if (!owner && !heir) return Refusal::kNotOwner;
    return incoming.sequence > held->sequence ? Refusal::kNone : Refusal::kReplayed;
}

}  // namespace voxa::registry
