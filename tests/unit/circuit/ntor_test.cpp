#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>

#include "circuit/ntor.h"
#include "crypto/hash.h"
#include "crypto/identity.h"

namespace voxa::circuit {
namespace {

crypto::Identity identity(uint8_t n) {
    std::array<uint8_t, 32> seed{};
    seed.fill(n);
    return crypto::Identity::from_seed(seed);
}

std::array<const crypto::Key32*, 6> keys(const HopSecrets& s) {
    return {&s.fwd_stream, &s.fwd_nonce, &s.back_stream, &s.back_nonce, &s.fwd_e2e, &s.back_e2e};
}

bool same(const HopSecrets& a, const HopSecrets& b) {
    auto ka = keys(a), kb = keys(b);
    for (std::size_t i = 0; i < ka.size(); ++i) {
        if (!ka[i]->equals(*kb[i])) return false;
    }
    return true;
}

// One handshake: the client aims at `target`, `server` answers (normally the same node).
struct Handshake {
    NtorClient client;
    uint8_t skin[kOnionskinBytes];
    uint8_t created[kCreatedBytes];
    HopSecrets relay_keys;
    Drop drop;

    Handshake(const crypto::Identity& target, const crypto::Identity& server) : client(target.peer()) {
        client.onionskin(skin);
        drop = ntor_server(server, skin, created, &relay_keys);
    }
    explicit Handshake(const crypto::Identity& relay) : Handshake(relay, relay) {}
};

TEST(Ntor, BothSidesDeriveTheSameSixDistinctKeys) {
    Handshake h(identity(1));
    ASSERT_EQ(h.drop, Drop::kNone);
    const HopSecrets& server_keys = h.relay_keys;
    auto client_keys = h.client.finish(h.created);
    ASSERT_TRUE(client_keys.has_value());
    EXPECT_TRUE(same(*client_keys, server_keys));
    auto k = keys(server_keys);
    const crypto::Key32 zero;
    for (std::size_t i = 0; i < k.size(); ++i) {
        EXPECT_FALSE(k[i]->equals(zero)) << i;
        for (std::size_t j = i + 1; j < k.size(); ++j) EXPECT_FALSE(k[i]->equals(*k[j])) << i << "," << j;
    }
}

TEST(Ntor, OnionskinNamesTheRelayAndIsStable) {
    const auto relay = identity(2);
    NtorClient client(relay.peer());
    uint8_t a[kOnionskinBytes], b[kOnionskinBytes];
    client.onionskin(a);
    client.onionskin(b);
    EXPECT_EQ(std::memcmp(a, b, sizeof a), 0);
    EXPECT_EQ(std::memcmp(a, relay.id().data(), 32), 0);
    // A fresh ephemeral key per client.
    NtorClient other(relay.peer());
    other.onionskin(b);
    EXPECT_NE(std::memcmp(a + 32, b + 32, 32), 0);
}

TEST(Ntor, FreshKeysPerHandshake) {
    const auto relay = identity(3);
    Handshake first(relay), second(relay);
    ASSERT_EQ(first.drop, Drop::kNone);
    ASSERT_EQ(second.drop, Drop::kNone);
    EXPECT_FALSE(first.relay_keys.fwd_stream.equals(second.relay_keys.fwd_stream));
    EXPECT_FALSE(first.relay_keys.back_e2e.equals(second.relay_keys.back_e2e));
}

TEST(Ntor, RelayRefusesAnotherNodesOnionskin) {
    const auto a = identity(4), b = identity(5);
    Handshake h(a, b);
    EXPECT_EQ(h.drop, Drop::kWrongNode);
    h.skin[31] ^= 1;
    EXPECT_EQ(ntor_server(a, h.skin, h.created, &h.relay_keys), Drop::kWrongNode);
}

TEST(Ntor, EveryTamperedBitOfCreatedIsRefused) {
    Handshake h(identity(6));
    ASSERT_EQ(h.drop, Drop::kNone);
    for (std::size_t bit = 0; bit < kCreatedBytes * 8; ++bit) {
        h.created[bit / 8] ^= uint8_t(1u << (bit % 8));
        EXPECT_FALSE(h.client.finish(h.created).has_value()) << "bit " << bit << (bit < 256 ? " of Y" : " of AUTH");
        h.created[bit / 8] ^= uint8_t(1u << (bit % 8));
    }
    EXPECT_TRUE(h.client.finish(h.created).has_value());   // the untouched reply still verifies
}

TEST(Ntor, ClientWithAnotherStaticKeyDoesNotAgree) {
    // A client misled about A's key (a directory lie: C's key under A's id) does not agree with the real A.
    const auto a = identity(7), c = identity(8);
    uint8_t skin[kOnionskinBytes], created[kCreatedBytes];
    HopSecrets s;
    crypto::PeerIdentity lied = a.peer();
    lied.x25519 = c.peer().x25519;
    NtorClient fooled(lied);
    fooled.onionskin(skin);
    ASSERT_EQ(ntor_server(a, skin, created, &s), Drop::kNone);
    EXPECT_FALSE(fooled.finish(created).has_value());
}

// Curve25519 points of small order (and their non-canonical encodings), as listed by libsodium: every DH with
// them is all zero, so the handshake must refuse them.
const std::array<std::array<uint8_t, 32>, 7> kLowOrder = {{
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}};

TEST(Ntor, RelayRefusesLowOrderX) {
    const auto relay = identity(9);
    for (const auto& point : kLowOrder) {
        uint8_t skin[kOnionskinBytes], created[kCreatedBytes];
        std::memcpy(skin, relay.id().data(), 32);
        std::memcpy(skin + 32, point.data(), 32);
        HopSecrets s;
        EXPECT_EQ(ntor_server(relay, skin, created, &s), Drop::kBadDh) << int(point[0]);
    }
}

TEST(Ntor, ClientRefusesLowOrderY) {
    Handshake h(identity(10));
    ASSERT_EQ(h.drop, Drop::kNone);
    for (const auto& point : kLowOrder) {
        std::memcpy(h.created, point.data(), 32);
        EXPECT_FALSE(h.client.finish(h.created).has_value()) << int(point[0]);
    }
}

// CREATED computed from the documented formula, independently of ntor.cpp: `xb` is X^b as the "relay" claims.
void spec_created(const uint8_t X[32], const uint8_t xb[32], const NodeId& id, const PublicKey& B,
                  uint8_t created[kCreatedBytes]) {
    uint8_t y[32], Y[32], xy[32], key_seed[32], verify[32];
    randombytes_buf(y, sizeof y);
    ASSERT_EQ(crypto_scalarmult_base(Y, y), 0);
    ASSERT_EQ(crypto_scalarmult(xy, y, X), 0);
    const std::string_view proto = "voxa-ntor-x25519-blake2b-1", server = "Server";
    const crypto::Bytes pid{reinterpret_cast<const uint8_t*>(proto.data()), proto.size()};
    const crypto::Bytes srv{reinterpret_cast<const uint8_t*>(server.data()), server.size()};
    crypto::hash(key_seed, "voxa-ntor-key", {{xy, 32}, {xb, 32}, id, B, {X, 32}, {Y, 32}, pid});
    crypto::hash(verify, "voxa-ntor-verify", {{xy, 32}, {xb, 32}, id, B, {X, 32}, {Y, 32}, pid});
    std::memcpy(created, Y, 32);
    crypto::hash({created + 32, 32}, "voxa-ntor-mac", {{verify, 32}, id, B, {Y, 32}, {X, 32}, pid, srv});
}

TEST(Ntor, MatchesTheDocumentedTranscript) {
    const auto relay = identity(12);
    NtorClient client(relay.peer());
    uint8_t skin[kOnionskinBytes], created[kCreatedBytes], xb[32];
    client.onionskin(skin);
    ASSERT_EQ(crypto_scalarmult(xb, relay.x25519_secret().data(), skin + 32), 0);
    spec_created(skin + 32, xb, relay.id(), relay.peer().x25519, created);
    EXPECT_TRUE(client.finish(created).has_value());
}

TEST(Ntor, LowOrderRelayKeyGivesNoAuthentication) {
    // With B of small order, B^x is zero and anyone could forge AUTH; the client must refuse such a B.
    crypto::PeerIdentity bogus = identity(11).peer();
    bogus.x25519 = kLowOrder[2];
    NtorClient client(bogus);
    uint8_t skin[kOnionskinBytes], created[kCreatedBytes];
    const uint8_t zero[32] = {};
    client.onionskin(skin);
    spec_created(skin + 32, zero, bogus.id, bogus.x25519, created);
    EXPECT_FALSE(client.finish(created).has_value());
}

}  // namespace
}  // namespace voxa::circuit
