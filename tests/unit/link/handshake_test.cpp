// The Noise IK handshake alone: both sides derive matching, direction-separated keys; tampering and wrong keys
// fail; cookies and macs behave.
#include <gtest/gtest.h>

#include <cstring>

#include <sodium.h>

#include "crypto/provider.h"
#include "link/cookie.h"
#include "link/handshake.h"

namespace voxa::link {
namespace {

StaticKeys make_keys() {
    StaticKeys k;
    randombytes_buf(k.secret.data(), 32);
    crypto_scalarmult_base(k.pub.data(), k.secret.data());
    return k;
}

struct Flight {
    uint8_t init[kInitiationBytes] = {};
    uint8_t resp[kResponseBytes] = {};
    InitiatorState ist;
    ResponderState rst;
    InitiationPayload got;
    TransportKeys ikeys, rkeys;
};

class Handshake : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(crypto::init()); }
    StaticKeys a_ = make_keys(), b_ = make_keys();
};

TEST_F(Handshake, KeysMatchAndDiffer) {
    Flight r;
    InitiationPayload p;
    p.timestamp = tai64n(1'700'000'000'123'456'789ull);
    p.suites = 3;
    ASSERT_TRUE(create_initiation(a_, b_.pub, 0xaabbccdd, p, r.init, &r.ist));
    ASSERT_TRUE(consume_initiation(b_, r.init, &r.rst, &r.got));
    EXPECT_EQ(std::memcmp(r.rst.remote_static.data(), a_.pub.data(), 32), 0);
    EXPECT_EQ(r.got.timestamp, p.timestamp);
    EXPECT_EQ(r.got.suites, 3);
    ASSERT_TRUE(create_response(&r.rst, 0x01020304, 0xaabbccdd, 2, r.resp, &r.rkeys));
    uint8_t suite = 0;
    ASSERT_TRUE(consume_response(&r.ist, a_, r.resp, &suite, &r.ikeys));
    EXPECT_EQ(suite, 2);
    EXPECT_TRUE(r.ikeys.send.equals(r.rkeys.recv));
    EXPECT_TRUE(r.ikeys.recv.equals(r.rkeys.send));
    EXPECT_FALSE(r.ikeys.send.equals(r.ikeys.recv));
}

TEST_F(Handshake, FreshKeysEachRun) {
    Flight r1, r2;
    InitiationPayload p;
    for (Flight* r : {&r1, &r2}) {
        ASSERT_TRUE(create_initiation(a_, b_.pub, 1, p, r->init, &r->ist));
        ASSERT_TRUE(consume_initiation(b_, r->init, &r->rst, &r->got));
        ASSERT_TRUE(create_response(&r->rst, 2, 1, 1, r->resp, &r->rkeys));
        uint8_t s;
        ASSERT_TRUE(consume_response(&r->ist, a_, r->resp, &s, &r->ikeys));
    }
    EXPECT_FALSE(r1.ikeys.send.equals(r2.ikeys.send));   // ephemeral keys: forward secrecy per session
}

TEST_F(Handshake, WrongResponderKeyFails) {
    StaticKeys c = make_keys();
    Flight r;
    ASSERT_TRUE(create_initiation(a_, c.pub, 1, InitiationPayload{}, r.init, &r.ist));   // meant for c
    EXPECT_FALSE(consume_initiation(b_, r.init, &r.rst, &r.got));
}

TEST_F(Handshake, TamperedInitiationFails) {
    for (std::size_t off : {std::size_t(8), std::size_t(40), std::size_t(70), std::size_t(100), std::size_t(119)}) {
        Flight r;
        ASSERT_TRUE(create_initiation(a_, b_.pub, 1, InitiationPayload{}, r.init, &r.ist));
        r.init[off] ^= 1;
        EXPECT_FALSE(consume_initiation(b_, r.init, &r.rst, &r.got)) << off;
    }
}

TEST_F(Handshake, TamperedResponseFailsAndKeepsState) {
    Flight r;
    ASSERT_TRUE(create_initiation(a_, b_.pub, 1, InitiationPayload{}, r.init, &r.ist));
    ASSERT_TRUE(consume_initiation(b_, r.init, &r.rst, &r.got));
    ASSERT_TRUE(create_response(&r.rst, 2, 1, 1, r.resp, &r.rkeys));
    uint8_t bad[kResponseBytes];
    std::memcpy(bad, r.resp, sizeof bad);
    bad[20] ^= 0x80;   // ephemeral
    uint8_t suite = 0;
    EXPECT_FALSE(consume_response(&r.ist, a_, bad, &suite, &r.ikeys));
    std::memcpy(bad, r.resp, sizeof bad);
    bad[50] ^= 1;   // sealed payload
    EXPECT_FALSE(consume_response(&r.ist, a_, bad, &suite, &r.ikeys));
    // A forged response must not spoil the handshake: the real one still completes.
    ASSERT_TRUE(consume_response(&r.ist, a_, r.resp, &suite, &r.ikeys));
    EXPECT_TRUE(r.ikeys.send.equals(r.rkeys.recv));
}

TEST_F(Handshake, LowOrderPointRefused) {
    Flight r;
    PublicKey zero{};   // the identity point: X25519 with it is all zero
    EXPECT_FALSE(create_initiation(a_, zero, 1, InitiationPayload{}, r.init, &r.ist));
}

TEST(Tai64n, OrderedAndEncoded) {
    Timestamp a = tai64n(1'000'000'000ull * 5 + 7);
    EXPECT_EQ(a[0], 0x40);   // 2^62 label
    EXPECT_EQ(a[7], 15);     // 10 + 5 seconds
    EXPECT_EQ(a[11], 7);
    Timestamp b = tai64n(1'000'000'000ull * 5 + 8);
    Timestamp c = tai64n(1'000'000'000ull * 6);
    EXPECT_LT(std::memcmp(a.data(), b.data(), 12), 0);
    EXPECT_LT(std::memcmp(b.data(), c.data(), 12), 0);
}

TEST(Cookie, Mac1AndMac2) {
    ASSERT_TRUE(crypto::init());
    StaticKeys b = make_keys();
    CookieChecker checker(b.pub);
    CookieMaker maker;
    maker.set_peer(b.pub);
    uint8_t msg[kInitiationBytes];
    randombytes_buf(msg, sizeof msg);
    uint64_t t = 1000;
    maker.add_macs(msg, kInitMac1Off, t, true);
    EXPECT_TRUE(checker.mac1_ok(msg, kInitMac1Off));
    Endpoint from = Endpoint::sim(4);
    EXPECT_FALSE(checker.mac2_ok(msg, kInitMac1Off, from, t));   // no cookie yet: zero mac2

    uint8_t reply[kCookieReplyBytes];
    checker.write_reply(1, msg + kInitMac1Off, from, t, reply);
    uint8_t forged[kCookieReplyBytes];
    std::memcpy(forged, reply, sizeof forged);
    forged[40] ^= 1;
    EXPECT_FALSE(maker.consume_reply(forged, t));
    ASSERT_TRUE(maker.consume_reply(reply, t));
    maker.add_macs(msg, kInitMac1Off, t, true);
    EXPECT_TRUE(checker.mac2_ok(msg, kInitMac1Off, from, t));
    EXPECT_FALSE(checker.mac2_ok(msg, kInitMac1Off, Endpoint::sim(5), t));   // bound to the source endpoint

    // After the responder's secret rotates, the same cookie fails.
    EXPECT_TRUE(checker.mac2_ok(msg, kInitMac1Off, from, t + kCookieSecretMaxAgeNs - 1));
    EXPECT_FALSE(checker.mac2_ok(msg, kInitMac1Off, from, t + kCookieSecretMaxAgeNs));
    // And the initiator stops using it after kCookieValidNs.
    EXPECT_FALSE(maker.has_cookie(t + kCookieValidNs));
}

}  // namespace
}  // namespace voxa::link
