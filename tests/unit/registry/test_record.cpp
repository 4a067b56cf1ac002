// Registry records (plugins/registry/record.h): canonical bytes, signatures, field rules, link descriptor
// consistency and the strict JSON form. What users rely on: a record that anyone altered, replayed past its
// expiry, sent from the future, or that points the data plane at another key or port is refused with a reason.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "config/config.h"
#include "registry/canonical.h"
#include "registry/record.h"
#include "sample_record.h"

namespace voxa::registry {
namespace {

using nlohmann::json;

constexpr uint64_t kNow = 1'800'000'000;

// prefix + number, built in place: gcc 12 -O3 warns falsely (-Wrestrict) on "literal" + std::to_string(i).
std::string numbered(char prefix, int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%c%d", prefix, i);
    return buf;
}

using test::identity;

std::array<uint8_t, directory::kDescriptorBytes> descriptor(const crypto::Identity& id, const std::string& host,
                                                             uint16_t port, uint32_t capacity, bool relay,
                                                             uint64_t issued_s = kNow - 10) {
    return directory::sign_descriptor(id, *config::parse_numeric_endpoint(host, port), capacity, relay, issued_s);
}

Record make(const crypto::Identity& id, Kind kind) { return test::sample_record(id, kind, kNow); }

Refusal decode_and_verify(std::span<const uint8_t> bytes) {
    Record r;
    if (Refusal const d = decode(bytes, &r); d != Refusal::kNone) return d;
    return verify(r, kNow);
}

// The index of `pattern` inside `bytes` (the test knows it is there).
std::size_t find(const std::vector<uint8_t>& bytes, std::initializer_list<uint8_t> pattern) {
    auto it = std::search(bytes.begin(), bytes.end(), pattern.begin(), pattern.end());
    EXPECT_NE(it, bytes.end());
    return std::size_t(it - bytes.begin());
}

TEST(RegistryRecord, CanonicalRoundTripForBothKinds) {
    for (Kind kind : {Kind::kNode, Kind::kRelay}) {
        Record const r = make(identity(1), kind);
        std::vector<uint8_t> const bytes = encode(r);
        EXPECT_EQ(bytes[0], uint8_t(kind));
        Record back;
        std::string why;
        ASSERT_EQ(decode(bytes, &back, &why), Refusal::kNone) << why;
        EXPECT_EQ(back, r);
        EXPECT_EQ(encode(back), bytes);
        EXPECT_EQ(verify(back, kNow, &why), Refusal::kNone) << why;
        EXPECT_EQ(back.id, identity(1).id());
    }
}

TEST(RegistryRecord, Ipv6OnlyRecordUsesTheIpv6AddressInItsDescriptor) {
    crypto::Identity const id = identity(2);
    Record r = make(id, Kind::kNode);
    r.ipv4.clear();
    r.link_descriptor = descriptor(id, "fd00::7", 9000, 100, false);
    sign(r, id);
    std::string why;
    EXPECT_EQ(decode_and_verify(encode(r)), Refusal::kNone);
    EXPECT_EQ(verify(r, kNow, &why), Refusal::kNone) << why;
    // The IPv4 spelling of the same record would need the IPv4 descriptor.
    r.link_descriptor = descriptor(id, "fd00::8", 9000, 100, false);
    sign(r, id);
    EXPECT_EQ(verify(r, kNow, &why), Refusal::kLinkMismatch);
    EXPECT_EQ(why, "link_descriptor: another address");
}

TEST(RegistryRecord, TamperingAnySingleBitOfAnySingleByteIsRefused) {
    for (Kind kind : {Kind::kNode, Kind::kRelay}) {
        std::vector<uint8_t> const good = encode(make(identity(3), kind));
        ASSERT_EQ(decode_and_verify(good), Refusal::kNone);
        std::size_t accepted = 0;
        for (std::size_t i = 0; i < good.size(); ++i) {
            for (uint8_t bit : {uint8_t(1u << (i % 8)), uint8_t(0x80)}) {
                std::vector<uint8_t> bad = good;
                bad[i] ^= bit;
                if (decode_and_verify(bad) == Refusal::kNone) {
                    ++accepted;
                    ADD_FAILURE() << kind_name(kind) << ": byte " << i << " bit " << int(bit) << " accepted";
                }
            }
        }
        EXPECT_EQ(accepted, 0u);
        // Truncated or extended by one byte: refused too.
        EXPECT_NE(decode_and_verify(std::span(good).first(good.size() - 1)), Refusal::kNone);
        std::vector<uint8_t> longer = good;
        longer.push_back(0);
        EXPECT_EQ(decode(longer, nullptr), Refusal::kMalformed);
    }
}

TEST(RegistryRecord, IdThatIsNotTheKeysHashIsAKeyMismatch) {
    crypto::Identity const a = identity(4), b = identity(5);
    Record r = make(a, Kind::kNode);
    r.id = b.id();   // claims b's id, signed by a
    std::vector<uint8_t> const message = with_context(kNriContext, encode(r), crypto::kSignatureBytes);
    r.signature = a.sign(message);
    std::string why;
    EXPECT_EQ(verify(r, kNow, &why), Refusal::kKeyMismatch);
    EXPECT_EQ(why, "node_id: not BLAKE2b-256 of public_key");
    // b's key with a's signature: the signature does not verify (descriptor first: it is a's).
    Record s = make(a, Kind::kNode);
    s.public_key = b.peer().ed25519;
    s.id = b.id();
    EXPECT_EQ(verify(s, kNow), Refusal::kLinkMismatch);
    s.link_descriptor = descriptor(b, "10.0.0.7", 9000, 100, true);
    EXPECT_EQ(verify(s, kNow), Refusal::kBadSignature);
}

TEST(RegistryRecord, ExpiryAndClockSkew) {
    crypto::Identity const id = identity(6);
    Record const r = make(id, Kind::kNode);
    EXPECT_EQ(verify(r, r.expires_s - 1), Refusal::kNone);
    EXPECT_EQ(verify(r, r.expires_s), Refusal::kExpired);
    EXPECT_EQ(verify(r, r.expires_s + 100000), Refusal::kExpired);

    Record future = r;
    future.created_s = kNow + 301;
    future.updated_s = kNow + 301;
    future.expires_s = kNow + 4000;
    future.link_descriptor = descriptor(id, "10.0.0.7", 9000, 100, true, kNow);
    sign(future, id);
    std::string why;
    EXPECT_EQ(verify(future, kNow, &why), Refusal::kFromFuture) << why;
    EXPECT_EQ(verify(future, kNow + 1), Refusal::kNone);   // within the 300 s allowance
    // A descriptor from the future is refused as such even inside a current record.
    Record desc_future = r;
    desc_future.link_descriptor = descriptor(id, "10.0.0.7", 9000, 100, true, kNow + 1000);
    sign(desc_future, id);
    EXPECT_EQ(verify(desc_future, kNow), Refusal::kFromFuture);
}

TEST(RegistryRecord, TimeFieldsMustBeOrdered) {
    crypto::Identity const id = identity(7);
    Record r = make(id, Kind::kNode);
    r.created_s = r.updated_s + 1;
    EXPECT_EQ(check_fields(r), Refusal::kBadField);
    r = make(id, Kind::kNode);
    r.expires_s = r.updated_s;
    EXPECT_EQ(check_fields(r), Refusal::kBadField);
    r.expires_s = r.updated_s + kRecordLifetimeMaxS + 1;
    EXPECT_EQ(check_fields(r), Refusal::kBadField);
    r.expires_s = r.updated_s + kRecordLifetimeMaxS;
    EXPECT_EQ(check_fields(r), Refusal::kNone);
}

TEST(RegistryRecord, OversizedFieldsAndTooManyEntries) {
    crypto::Identity const id = identity(8);
    auto refused = [&](auto mutate, Refusal expected) {
        Record r = make(id, Kind::kRelay);
        mutate(r);
        sign(r, id);
        std::string why;
        EXPECT_EQ(verify(r, kNow, &why), expected) << why;
        EXPECT_EQ(decode(encode(r), nullptr, &why), expected) << why;
        json const j = to_json(r);
        EXPECT_EQ(from_json(j, Kind::kRelay, nullptr, &why), expected) << why;
    };
    refused([](Record& r) { r.type = std::string(257, 'a'); }, Refusal::kTooLarge);
    refused([](Record& r) { r.program_version = std::string(33, 'v'); }, Refusal::kTooLarge);
    refused([](Record& r) { r.metadata["big"] = std::string(257, 'x'); }, Refusal::kTooLarge);
    refused([](Record& r) { r.capabilities.push_back(std::string(33, 'c')); }, Refusal::kTooLarge);
    refused([](Record& r) {
        r.capabilities.clear();
        for (int i = 0; i < 33; ++i) r.capabilities.push_back(numbered('p', i));
    }, Refusal::kTooLarge);
    refused([](Record& r) {
        for (int i = 0; i < 33; ++i) r.routing_info.emplace(numbered('k', 100 + i), std::string(1, 'v'));
    }, Refusal::kTooLarge);
    // Within every per-field limit, but 32 x 256-byte values: over the 4096-byte record limit.
    refused([](Record& r) {
        r.metadata.clear();
        for (int i = 0; i < 32; ++i) r.metadata[numbered('k', 100 + i)] = std::string(256, 'x');
    }, Refusal::kTooLarge);
    // The limits themselves are fine.
    Record ok = make(id, Kind::kRelay);
    ok.capabilities.clear();
    for (int i = 0; i < 32; ++i) ok.capabilities.push_back(numbered('p', i));
    ok.program_version = std::string(32, 'v');
    ok.metadata = {{std::string(32, 'k'), std::string(256, 'x')}};
    sign(ok, id);
    EXPECT_EQ(decode_and_verify(encode(ok)), Refusal::kNone);
    // Raw bytes over the limit are refused before any parsing.
    std::vector<uint8_t> huge(kRecordBytesMax + 1, 0);
    EXPECT_EQ(decode(huge, nullptr), Refusal::kTooLarge);
}

TEST(RegistryRecord, FieldRules) {
    crypto::Identity const id = identity(9);
    auto field_refused = [&](Kind kind, auto mutate, const std::string& why_prefix) {
        Record r = make(id, kind);
        mutate(r);
        sign(r, id);
        std::string why;
        EXPECT_EQ(verify(r, kNow, &why), Refusal::kBadField) << why_prefix;
        EXPECT_EQ(why.rfind(why_prefix, 0), 0u) << why;
        // No invalid record survives the canonical form: refused, or (a non-canonical address spelling) decoded
        // as a different record whose signature then fails.
        Record back;
        if (decode(encode(r), &back) == Refusal::kNone) {
            EXPECT_NE(back, r) << why_prefix;
            EXPECT_EQ(verify(back, kNow), Refusal::kBadSignature) << why_prefix;
        }
    };
    field_refused(Kind::kNode, [](Record& r) { r.type = "high_capacity"; }, "node_type");
    field_refused(Kind::kRelay, [](Record& r) { r.type = "devnet"; }, "relay_type");
    field_refused(Kind::kNode, [](Record& r) { r.capabilities.push_back("Onion"); }, "capabilities");
    field_refused(Kind::kRelay, [](Record& r) { r.capabilities.push_back("a b"); }, "supported_protocols");
    field_refused(Kind::kNode, [](Record& r) { r.capabilities.push_back("onion"); }, "capabilities");   // twice
    field_refused(Kind::kNode, [](Record& r) { r.metadata["Region"] = "x"; }, "metadata");
    field_refused(Kind::kNode, [](Record& r) { r.metadata["note"] = "line\nbreak"; }, "metadata.note");
    field_refused(Kind::kNode, [](Record& r) { r.metadata["note"] = "\xc3"; }, "metadata.note");
    field_refused(Kind::kNode, [](Record& r) { r.metadata["note"] = "\xc0\xaf"; }, "metadata.note");   // overlong '/'
    field_refused(Kind::kNode, [](Record& r) { r.routing_info["exit"] = "no"; }, "routing_info");
    field_refused(Kind::kNode, [](Record& r) { r.program_version = "v\x01"; }, "program_version");
    field_refused(Kind::kNode, [](Record& r) { r.ipv4.clear(), r.ipv6.clear(); }, "ipv4/ipv6");
    field_refused(Kind::kNode, [](Record& r) { r.ipv4 = "0.0.0.0"; }, "ipv4");
    field_refused(Kind::kNode, [](Record& r) { r.ipv4 = "224.0.0.1"; }, "ipv4");
    field_refused(Kind::kNode, [](Record& r) { r.ipv4 = "fd00::1"; }, "ipv4");
    field_refused(Kind::kNode, [](Record& r) { r.ipv4 = "relay.example"; }, "ipv4");
    field_refused(Kind::kNode, [](Record& r) { r.ipv6 = "FD00::7"; }, "ipv6");          // not the canonical spelling
    field_refused(Kind::kNode, [](Record& r) { r.ipv6 = "fd00:0::7"; }, "ipv6");
    field_refused(Kind::kNode, [](Record& r) { r.ipv6 = "ff02::1"; }, "ipv6");
    field_refused(Kind::kNode, [](Record& r) { r.ipv6 = "::"; }, "ipv6");
    field_refused(Kind::kNode, [](Record& r) { r.port = 0; }, "port");
    field_refused(Kind::kNode, [](Record& r) { r.backend = "io_uring"; }, "backend");
    field_refused(Kind::kNode, [](Record& r) { r.capacity = 0; }, "capacity");
    field_refused(Kind::kNode, [](Record& r) { r.capacity = kCapacityMax + 1; }, "capacity");
}

TEST(RegistryRecord, LinkDescriptorMustMatchTheRecord) {
    crypto::Identity const id = identity(10), other = identity(11);
    auto with = [&](Kind kind, std::array<uint8_t, directory::kDescriptorBytes> d) {
        Record r = make(id, kind);
        r.link_descriptor = d;
        sign(r, id);
        std::string why;
        Refusal const v = verify(r, kNow, &why);
        return std::pair{v, why};
    };
    EXPECT_EQ(with(Kind::kNode, descriptor(other, "10.0.0.7", 9000, 100, true)),
              (std::pair{Refusal::kLinkMismatch, std::string("link_descriptor: signed by another key")}));
    EXPECT_EQ(with(Kind::kNode, descriptor(id, "10.0.0.7", 9001, 100, true)),
              (std::pair{Refusal::kLinkMismatch, std::string("link_descriptor: another port")}));
    EXPECT_EQ(with(Kind::kNode, descriptor(id, "10.0.0.8", 9000, 100, true)).first, Refusal::kLinkMismatch);
    EXPECT_EQ(with(Kind::kNode, descriptor(id, "fd00::7", 9000, 100, true)).first, Refusal::kLinkMismatch);
    EXPECT_EQ(with(Kind::kNode, descriptor(id, "10.0.0.7", 9000, 99, true)).first, Refusal::kLinkMismatch);
    EXPECT_EQ(with(Kind::kRelay, descriptor(id, "10.0.0.7", 9000, 100, false)),
              (std::pair{Refusal::kLinkMismatch, std::string("link_descriptor: relay flag not set in a relay record")}));
    EXPECT_EQ(with(Kind::kNode, descriptor(id, "10.0.0.7", 9000, 100, false)).first, Refusal::kNone);
    EXPECT_EQ(with(Kind::kNode, {}).first, Refusal::kLinkMismatch);   // all zero: not a descriptor
    // The descriptor's own signature: a descriptor with a flipped signature byte, re-wrapped and re-signed.
    auto broken = descriptor(id, "10.0.0.7", 9000, 100, true);
    broken[directory::kOffSignature + 3] ^= 1;
    EXPECT_EQ(with(Kind::kNode, broken), (std::pair{Refusal::kBadSignature, std::string("link_descriptor: bad signature")}));
}

TEST(RegistryRecord, SignWithLinkBuildsAConsistentDescriptor) {
    crypto::Identity const id = identity(16);
    for (Kind kind : {Kind::kNode, Kind::kRelay}) {
        for (bool relay : {false, true}) {
            Record r = make(id, kind);
            r.ipv4.clear();   // the IPv6 address then goes into the descriptor
            r.link_descriptor = {};
            sign_with_link(r, id, relay, kNow - 5);
            std::string why;
            EXPECT_EQ(verify(r, kNow, &why), Refusal::kNone) << why;
            directory::Descriptor d;
            ASSERT_EQ(directory::verify_descriptor(r.link_descriptor, kNow, directory::kTtlDefaultS, &d),
                      directory::Drop::kNone);
            EXPECT_EQ(d.relay, relay || kind == Kind::kRelay);
            EXPECT_EQ(d.endpoint.to_string(), "[fd00::7]:9000");
            EXPECT_EQ(d.issued_at_s, kNow - 5);
        }
    }
}

TEST(RegistryRecord, OneSpellingOnly) {
    crypto::Identity const id = identity(12);
    Record r = make(id, Kind::kNode);
    r.metadata = {{"a", "1"}, {"b", "2"}};
    sign(r, id);
    std::vector<uint8_t> const good = encode(r);
    ASSERT_EQ(decode(good, nullptr), Refusal::kNone);
    std::size_t const a = find(good, {1, 0, 'a', 1, 0, '1', 1, 0, 'b'});
    std::vector<uint8_t> swapped = good;   // keys b, a: not sorted
    swapped[a + 2] = 'b';
    swapped[a + 8] = 'a';
    std::string why;
    EXPECT_EQ(decode(swapped, nullptr, &why), Refusal::kMalformed);
    EXPECT_EQ(why, "metadata: keys not strictly increasing");
    std::vector<uint8_t> twice = good;     // keys a, a: not unique
    twice[a + 8] = 'a';
    EXPECT_EQ(decode(twice, nullptr), Refusal::kMalformed);
    std::size_t const v4 = find(good, {1, 10, 0, 0, 7});
    std::vector<uint8_t> presence = good;  // a presence byte other than 0/1
    presence[v4] = 2;
    EXPECT_EQ(decode(presence, nullptr, &why), Refusal::kMalformed);
    EXPECT_EQ(why, "ipv4: presence byte must be 0 or 1");
    std::vector<uint8_t> version = good;
    version[1] = 2;
    EXPECT_EQ(decode(version, nullptr), Refusal::kMalformed);
    std::vector<uint8_t> kind = good;
    kind[0] = 3;   // a name record's tag
    EXPECT_EQ(decode(kind, nullptr), Refusal::kMalformed);
    EXPECT_EQ(decode({}, nullptr), Refusal::kMalformed);
}

TEST(RegistryRecord, JsonUsesTheOriginalNamesAndRoundTrips) {
    Record const n = make(identity(13), Kind::kNode);
    json const j = to_json(n);
    for (const char* key : {"node_id", "node_ip", "node_port", "node_type", "capabilities", "metadata", "public_key",
                            "public_key_hash", "program_version", "ipv4", "ipv6", "port", "backend", "capacity",
                            "created", "updated", "expires", "sequence", "link_descriptor", "signature"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j.size(), 20u);
    EXPECT_EQ(j["node_ip"], "10.0.0.7");
    EXPECT_EQ(j["public_key_hash"], j["node_id"]);
    Record back;
    std::string why;
    ASSERT_EQ(from_json(j, Kind::kNode, &back, &why), Refusal::kNone) << why;
    EXPECT_EQ(back, n);
    EXPECT_EQ(verify(back, kNow), Refusal::kNone);
    // Through text, as the API receives it.
    ASSERT_EQ(from_json(json::parse(j.dump()), Kind::kNode, &back, &why), Refusal::kNone) << why;
    EXPECT_EQ(back, n);

    Record const rr = make(identity(13), Kind::kRelay);
    json const jr = to_json(rr);
    for (const char* key : {"relay_id", "relay_ip", "relay_port", "relay_type", "supported_protocols", "routing_info"})
        EXPECT_TRUE(jr.contains(key)) << key;
    EXPECT_FALSE(jr.contains("node_id"));
    ASSERT_EQ(from_json(jr, Kind::kRelay, &back, &why), Refusal::kNone) << why;
    EXPECT_EQ(back, rr);
    // A relay record is not a node record.
    EXPECT_EQ(from_json(jr, Kind::kNode, nullptr, &why), Refusal::kMalformed);
}

TEST(RegistryRecord, JsonIsStrict) {
    Record const r = make(identity(14), Kind::kNode);
    json const good = to_json(r);
    auto refusal = [](const json& j, std::string* why = nullptr) { return from_json(j, Kind::kNode, nullptr, why); };
    std::string why;
    json extra = good;
    extra["nodeid"] = "x";
    EXPECT_EQ(refusal(extra, &why), Refusal::kMalformed);
    EXPECT_EQ(why, "nodeid: unknown field");
    json relay_field = good;
    relay_field["routing_info"] = json::object();
    EXPECT_EQ(refusal(relay_field), Refusal::kMalformed);
    for (const auto& item : good.items()) {
        json missing = good;
        missing.erase(item.key());
        EXPECT_EQ(refusal(missing, &why), Refusal::kMalformed) << item.key();
        EXPECT_EQ(why, item.key() + ": missing");
    }
    json ip = good;
    ip["node_ip"] = "10.0.0.8";
    EXPECT_EQ(refusal(ip, &why), Refusal::kBadField);
    EXPECT_EQ(why.rfind("node_ip:", 0), 0u) << why;
    json v6 = good;
    v6["node_ip"] = "fd00::7";   // the IPv6 address while an IPv4 one exists
    EXPECT_EQ(refusal(v6), Refusal::kBadField);
    json port = good;
    port["node_port"] = 9001;
    EXPECT_EQ(refusal(port), Refusal::kBadField);
    json hash = good;
    hash["public_key_hash"] = to_hex(identity(15).id());
    EXPECT_EQ(refusal(hash), Refusal::kKeyMismatch);
    std::string upper = good["node_id"];
    for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    json id_upper = good;
    id_upper["node_id"] = upper;
    EXPECT_EQ(refusal(id_upper), Refusal::kBadId);
    json id_path = good;
    id_path["node_id"] = "../../../../etc/passwd" + std::string(42, '0');
    EXPECT_EQ(refusal(id_path), Refusal::kBadId);
    json negative = good;
    negative["sequence"] = -1;
    EXPECT_EQ(refusal(negative), Refusal::kMalformed);
    json fraction = good;
    fraction["capacity"] = 1.5;
    EXPECT_EQ(refusal(fraction), Refusal::kMalformed);
    json big_port = good;
    big_port["port"] = 70000;
    big_port["node_port"] = 70000;
    EXPECT_EQ(refusal(big_port), Refusal::kBadField);
    json as_text = good;
    as_text["port"] = "9000";
    EXPECT_EQ(refusal(as_text), Refusal::kMalformed);
    json caps = good;
    caps["capabilities"] = {"onion", 3};
    EXPECT_EQ(refusal(caps), Refusal::kMalformed);
    json meta = good;
    meta["metadata"] = {{"n", 1}};
    EXPECT_EQ(refusal(meta), Refusal::kMalformed);
    EXPECT_EQ(refusal(json::array()), Refusal::kMalformed);
    // A well-formed JSON record with a forged field parses, and verify() refuses it.
    json forged = good;
    forged["capacity"] = 1000;
    Record f;
    ASSERT_EQ(from_json(forged, Kind::kNode, &f, &why), Refusal::kNone) << why;
    EXPECT_NE(verify(f, kNow), Refusal::kNone);
}

TEST(RegistryRecord, RefusalNamesAreDistinctSnakeCase) {
    std::set<std::string_view> names;
    for (int i = 0; i < int(Refusal::kCount); ++i) {
        std::string_view const name = refusal_name(Refusal(i));
        EXPECT_NE(name, "unknown");
        for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
        names.insert(name);
    }
    EXPECT_EQ(names.size(), std::size_t(Refusal::kCount));
    EXPECT_EQ(refusal_name(Refusal::kNotOwner), "not_owner");
    EXPECT_EQ(kind_name(Kind::kRelay), "rri");
}

TEST(RegistryCanonical, TextRules) {
    EXPECT_TRUE(from_hex<2>("0aff"));
    EXPECT_FALSE(from_hex<2>("0AFF"));
    EXPECT_FALSE(from_hex<2>("0af"));
    EXPECT_FALSE(from_hex<2>("0afff"));
    EXPECT_FALSE(from_hex<2>("0a/f"));
    EXPECT_TRUE(is_printable_utf8("Zoë — 東京 🚀"));
    EXPECT_TRUE(is_printable_utf8(""));
    EXPECT_FALSE(is_printable_utf8("tab\there"));
    EXPECT_FALSE(is_printable_utf8("del\x7f"));
    EXPECT_FALSE(is_printable_utf8("\xc2\x85"));           // C1 control (NEL)
    EXPECT_FALSE(is_printable_utf8("\xed\xa0\x80"));       // a surrogate
    EXPECT_FALSE(is_printable_utf8("\xf4\x90\x80\x80"));   // above U+10FFFF
    EXPECT_FALSE(is_printable_utf8("\xe2\x82"));           // truncated
    EXPECT_TRUE(is_protocol_token("split/v1"));
    EXPECT_FALSE(is_protocol_token(""));
    EXPECT_FALSE(is_protocol_token(std::string(33, 'a')));
    EXPECT_TRUE(is_map_key("max_circuits"));
    EXPECT_FALSE(is_map_key("a/b"));
}

}  // namespace
}  // namespace voxa::registry
