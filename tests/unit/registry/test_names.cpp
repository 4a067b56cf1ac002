// Name records (plugins/registry/name_record.h): canonical bytes, signatures, the name rule and the ownership
// rule. What users rely on: the first owner keeps a name; only a transfer signed by the owner hands it over; an
// old record cannot be replayed over a newer one; an expired name is free again.
#include <gtest/gtest.h>

#include "registry/name_record.h"
#include "sample_record.h"

namespace voxa::registry {
namespace {

using nlohmann::json;

constexpr uint64_t kNow = 1'800'000'000;

using test::identity;

NameRecord claim(const crypto::Identity& owner, const std::string& name, uint64_t sequence,
                 std::optional<PublicKey> transfer_to = std::nullopt) {
    NameRecord n;
    n.name = name;
    n.target = owner.id();
    n.service = "chat";
    n.ttl_s = 600;
    n.sequence = sequence;
    n.created_s = kNow - 60;
    n.expires_s = kNow + 86400;
    n.transfer_to = transfer_to;
    sign(n, owner);
    return n;
}

Refusal decode_and_verify(std::span<const uint8_t> bytes) {
    NameRecord n;
    if (Refusal const d = decode(bytes, &n); d != Refusal::kNone) return d;
    return verify(n, kNow);
}

TEST(RegistryNames, CanonicalRoundTripWithAndWithoutTransfer) {
    crypto::Identity const a = identity(1), b = identity(2);
    for (const NameRecord& n : {claim(a, "relay-1.voxa", 1), claim(a, "relay-1.voxa", 2, b.peer().ed25519)}) {
        std::vector<uint8_t> const bytes = encode(n);
        EXPECT_EQ(bytes[0], kNameTag);
        NameRecord back;
        std::string why;
        ASSERT_EQ(decode(bytes, &back, &why), Refusal::kNone) << why;
        EXPECT_EQ(back, n);
        EXPECT_EQ(encode(back), bytes);
        EXPECT_EQ(verify(back, kNow, &why), Refusal::kNone) << why;
        EXPECT_EQ(back.owner, a.peer().ed25519);
    }
}

TEST(RegistryNames, TamperingAnySingleBitOfAnySingleByteIsRefused) {
    crypto::Identity const a = identity(3), b = identity(4);
    for (const NameRecord& n : {claim(a, "x.y", 7), claim(a, "x.y", 8, b.peer().ed25519)}) {
        std::vector<uint8_t> const good = encode(n);
        ASSERT_EQ(decode_and_verify(good), Refusal::kNone);
        for (std::size_t i = 0; i < good.size(); ++i) {
            for (uint8_t bit : {uint8_t(1u << (i % 8)), uint8_t(0x80)}) {
                std::vector<uint8_t> bad = good;
                bad[i] ^= bit;
                EXPECT_NE(decode_and_verify(bad), Refusal::kNone) << "byte " << i << " bit " << int(bit);
            }
        }
        EXPECT_NE(decode_and_verify(std::span(good).first(good.size() - 1)), Refusal::kNone);
        std::vector<uint8_t> longer = good;
        longer.push_back(0);
        EXPECT_EQ(decode(longer, static_cast<NameRecord*>(nullptr)), Refusal::kMalformed);
    }
}

TEST(RegistryNames, FirstOwnerKeepsTheName) {
    crypto::Identity const a = identity(5), b = identity(6);
    NameRecord const mine = claim(a, "shop.voxa", 1);
    EXPECT_EQ(may_replace(nullptr, mine, kNow), Refusal::kNone);
    NameRecord const theirs = claim(b, "shop.voxa", 1000);
    EXPECT_EQ(verify(theirs, kNow), Refusal::kNone);   // validly signed, by the wrong key
    EXPECT_EQ(may_replace(&mine, theirs, kNow), Refusal::kNotOwner);
    // The owner updates with a higher sequence.
    NameRecord const update = claim(a, "shop.voxa", 2);
    EXPECT_EQ(may_replace(&mine, update, kNow), Refusal::kNone);
    // Forging the owner field does not help: the signature is then wrong.
    NameRecord forged = theirs;
    forged.owner = a.peer().ed25519;
    EXPECT_EQ(verify(forged, kNow), Refusal::kBadSignature);
}

TEST(RegistryNames, SequenceReplayIsRefused) {
    crypto::Identity const a = identity(7);
    NameRecord const held = claim(a, "n", 5);
    EXPECT_EQ(may_replace(&held, claim(a, "n", 5), kNow), Refusal::kReplayed);   // equal (identical: caller's no-op)
    EXPECT_EQ(may_replace(&held, claim(a, "n", 4), kNow), Refusal::kReplayed);
    EXPECT_EQ(may_replace(&held, claim(a, "n", 6), kNow), Refusal::kNone);
    EXPECT_EQ(may_replace(&held, claim(a, "m", 6), kNow), Refusal::kBadField);    // not the same name
}

TEST(RegistryNames, TransferSignedByTheOwnerLetsTheNewKeyTakeIt) {
    crypto::Identity const a = identity(8), b = identity(9), c = identity(10);
    NameRecord const original = claim(a, "mail.voxa", 1);
    NameRecord const handover = claim(a, "mail.voxa", 2, b.peer().ed25519);
    ASSERT_EQ(verify(handover, kNow), Refusal::kNone);
    EXPECT_EQ(may_replace(&original, handover, kNow), Refusal::kNone);
    // Before the handover is held, b is nobody.
    EXPECT_EQ(may_replace(&original, claim(b, "mail.voxa", 3), kNow), Refusal::kNotOwner);
    // After it: b takes the name with a higher sequence, c does not.
    NameRecord const taken = claim(b, "mail.voxa", 3);
    EXPECT_EQ(may_replace(&handover, taken, kNow), Refusal::kNone);
    EXPECT_EQ(may_replace(&handover, claim(c, "mail.voxa", 3), kNow), Refusal::kNotOwner);
    EXPECT_EQ(may_replace(&handover, claim(b, "mail.voxa", 2), kNow), Refusal::kReplayed);
    // Once b holds it, a is no longer the owner.
    EXPECT_EQ(may_replace(&taken, claim(a, "mail.voxa", 9), kNow), Refusal::kNotOwner);
    // The owner may still change its mind while it holds the name.
    EXPECT_EQ(may_replace(&handover, claim(a, "mail.voxa", 3), kNow), Refusal::kNone);
    // A transfer to oneself is meaningless and refused.
    NameRecord self = claim(a, "mail.voxa", 4);
    self.transfer_to = a.peer().ed25519;
    EXPECT_EQ(check_fields(self), Refusal::kBadField);
}

TEST(RegistryNames, ExpiredNameCanBeClaimedAnew) {
    crypto::Identity const a = identity(11), b = identity(12);
    NameRecord const old = claim(a, "free.voxa", 50);
    NameRecord const fresh = claim(b, "free.voxa", 1);
    EXPECT_EQ(may_replace(&old, fresh, old.expires_s - 1), Refusal::kNotOwner);
    EXPECT_EQ(may_replace(&old, fresh, old.expires_s), Refusal::kNone);
    EXPECT_EQ(verify(old, old.expires_s), Refusal::kExpired);
}

TEST(RegistryNames, TimeAndFieldRules) {
    crypto::Identity const a = identity(13);
    NameRecord n = claim(a, "t", 1);
    n.created_s = kNow + 301;
    n.expires_s = kNow + 1000;
    sign(n, a);
    EXPECT_EQ(verify(n, kNow), Refusal::kFromFuture);
    EXPECT_EQ(verify(n, kNow + 1), Refusal::kNone);
    auto bad = [&](auto mutate) {
        NameRecord m = claim(a, "t", 1);
        mutate(m);
        sign(m, a);
        return verify(m, kNow);
    };
    EXPECT_EQ(bad([](NameRecord& m) { m.ttl_s = 0; }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.ttl_s = kNameTtlMaxS + 1; }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.service = "Chat"; }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.service = std::string(33, 's'); }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.service.clear(); }), Refusal::kNone);
    EXPECT_EQ(bad([](NameRecord& m) { m.expires_s = m.created_s; }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.expires_s = m.created_s + kNameLifetimeMaxS + 1; }), Refusal::kBadField);
    EXPECT_EQ(bad([](NameRecord& m) { m.expires_s = m.created_s + kNameLifetimeMaxS; }), Refusal::kNone);
}

TEST(RegistryNames, BadNamesAreRefused) {
    std::string const label63(63, 'a');
    std::string const name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    ASSERT_EQ(name253.size(), 253u);
    for (const std::string& good : {std::string("a"), std::string("relay-1.voxa"), std::string("0.9"), label63, name253,
                                    std::string("x--y.z")})
        EXPECT_TRUE(is_valid_name(good)) << good;
    for (const std::string& bad :
         {std::string(""), std::string(".."), std::string("-a"), std::string("a-"), std::string("A.b"),
          std::string("a..b"), std::string(".a"), std::string("a."), std::string("a b"), std::string("a/b"),
          std::string("../etc"), std::string("a_b"), label63 + "a", name253 + "b", std::string("caf\xc3\xa9"),
          std::string("a\0b", 3)})
        EXPECT_FALSE(is_valid_name(bad)) << bad;
    // The same rule on every way in.
    crypto::Identity const a = identity(14);
    NameRecord n = claim(a, "ok", 1);
    n.name = "..";
    sign(n, a);
    EXPECT_EQ(verify(n, kNow), Refusal::kBadField);
    EXPECT_EQ(decode(encode(n), static_cast<NameRecord*>(nullptr)), Refusal::kBadField);
    EXPECT_EQ(from_json(to_json(n), nullptr, nullptr), Refusal::kBadField);
    n.name = name253 + "b";   // 254 bytes
    sign(n, a);
    EXPECT_EQ(verify(n, kNow), Refusal::kTooLarge);
    EXPECT_EQ(decode(encode(n), static_cast<NameRecord*>(nullptr)), Refusal::kTooLarge);
    EXPECT_EQ(from_json(to_json(n), nullptr, nullptr), Refusal::kTooLarge);
}

TEST(RegistryNames, JsonRoundTripAndStrictness) {
    crypto::Identity const a = identity(15), b = identity(16);
    NameRecord const plain = claim(a, "j.voxa", 1);
    NameRecord const handover = claim(a, "j.voxa", 2, b.peer().ed25519);
    for (const NameRecord& n : {plain, handover}) {
        json const j = json::parse(to_json(n).dump());
        NameRecord back;
        std::string why;
        ASSERT_EQ(from_json(j, &back, &why), Refusal::kNone) << why;
        EXPECT_EQ(back, n);
        EXPECT_EQ(verify(back, kNow), Refusal::kNone);
    }
    json const good = to_json(plain);
    EXPECT_TRUE(good["transfer_to"].is_null());
    EXPECT_EQ(good["target"], to_hex(a.id()));
    json absent = good;
    absent.erase("transfer_to");   // absent and null mean the same
    EXPECT_EQ(from_json(absent, nullptr, nullptr), Refusal::kNone);
    std::string why;
    json extra = good;
    extra["domain"] = "j.voxa";
    EXPECT_EQ(from_json(extra, nullptr, &why), Refusal::kMalformed);
    EXPECT_EQ(why, "domain: unknown field");
    for (const char* key : {"name", "target", "service", "ttl", "sequence", "created", "expires", "owner", "signature"}) {
        json missing = good;
        missing.erase(key);
        EXPECT_EQ(from_json(missing, nullptr, &why), Refusal::kMalformed) << key;
    }
    std::string upper = good["target"];
    for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    json target = good;
    target["target"] = upper;
    EXPECT_EQ(from_json(target, nullptr, nullptr), Refusal::kBadId);
    json transfer = good;
    transfer["transfer_to"] = "zz";
    EXPECT_EQ(from_json(transfer, nullptr, nullptr), Refusal::kBadField);
    json ttl = good;
    ttl["ttl"] = "600";
    EXPECT_EQ(from_json(ttl, nullptr, nullptr), Refusal::kMalformed);
}

}  // namespace
}  // namespace voxa::registry
