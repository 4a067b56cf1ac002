// Signed node descriptors: round trip, the exact byte layout and signature input, every tampered byte refused,
// each field rule with its own reason, and the time window.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "directory/descriptor.h"

namespace voxa::directory {
namespace {

constexpr uint64_t kNow = 1'700'000'000;

crypto::Identity identity(uint8_t tag) {
    std::array<uint8_t, 32> seed{};
    seed.fill(tag);
    return crypto::Identity::from_seed(seed);
}

Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv4;
    e.addr[0] = a;
    e.addr[1] = b;
    e.addr[2] = c;
    e.addr[3] = d;
    e.port = port;
    return e;
}

Endpoint v6(uint16_t port) {
    Endpoint e;
    e.family = Endpoint::Family::kIpv6;
    for (std::size_t i = 0; i < 16; ++i) e.addr[i] = uint8_t(0x20 + i);
    e.port = port;
    return e;
}

using Bytes132 = std::array<uint8_t, kDescriptorBytes>;

Drop verify(const Bytes132& b, uint64_t now_s = kNow, uint64_t ttl_s = kTtlDefaultS, Descriptor* out = nullptr) {
    return verify_descriptor(b, now_s, ttl_s, out);
}

// Re-signs bytes whose signed part was edited, so a field rule is tested on its own and not through the signature.
void resign(const crypto::Identity& id, Bytes132& b) {
    std::vector<uint8_t> in(kDescriptorContext.begin(), kDescriptorContext.end());
    in.insert(in.end(), b.begin(), b.begin() + kDescriptorSignedBytes);
    auto const sig = id.sign(in);
    std::memcpy(&b[kOffSignature], sig.data(), sig.size());
}

TEST(Descriptor, RoundTripIpv4) {
    auto const id = identity(1);
    auto const b = sign_descriptor(id, v4(10, 0, 0, 7, 4433), 250, true, kNow);
    Descriptor d;
    ASSERT_EQ(verify(b, kNow, kTtlDefaultS, &d), Drop::kNone);
    EXPECT_EQ(d.ed25519, id.peer().ed25519);
    EXPECT_EQ(d.id, id.id());
    EXPECT_EQ(d.x25519, id.peer().x25519);
    EXPECT_EQ(d.endpoint, v4(10, 0, 0, 7, 4433));
    EXPECT_EQ(d.endpoint.to_string(), "10.0.0.7:4433");
    EXPECT_EQ(d.capacity, 250u);
    EXPECT_TRUE(d.relay);
    EXPECT_EQ(d.issued_at_s, kNow);
}

TEST(Descriptor, RoundTripIpv6NonRelay) {
    auto const id = identity(2);
    auto const b = sign_descriptor(id, v6(65535), kCapacityMax, false, kNow - 5);
    Descriptor d;
    ASSERT_EQ(verify(b, kNow, kTtlDefaultS, &d), Drop::kNone);
    EXPECT_EQ(d.endpoint, v6(65535));
    EXPECT_EQ(d.capacity, kCapacityMax);
    EXPECT_FALSE(d.relay);
    EXPECT_EQ(d.issued_at_s, kNow - 5);
    EXPECT_EQ(d.id, id.id());
}

TEST(Descriptor, ExactLayoutAndSignatureInput) {
    auto const id = identity(3);
    auto const b = sign_descriptor(id, v4(192, 168, 1, 2, 0x1234), 0x000abcde, true, 0x0102030405060708ull);
    EXPECT_EQ(b[0], 1);      // version
    EXPECT_EQ(b[1], 0x01);   // flags: relay
    EXPECT_EQ(b[2], 4);      // family
    EXPECT_EQ(b[3], 0);
    EXPECT_EQ(b[4], 0x34);   // port, little-endian
    EXPECT_EQ(b[5], 0x12);
    EXPECT_EQ(b[6], 0);
    EXPECT_EQ(b[7], 0);
    EXPECT_EQ(b[8], 192);
    EXPECT_EQ(b[9], 168);
    EXPECT_EQ(b[10], 1);
    EXPECT_EQ(b[11], 2);
    for (std::size_t i = 12; i < 24; ++i) EXPECT_EQ(b[i], 0) << i;
    EXPECT_EQ(load_u32(&b[24]), 0x000abcdeu);
    EXPECT_EQ(b[28], 0x08);   // issued_at_s, little-endian
    EXPECT_EQ(b[35], 0x01);
    EXPECT_EQ(0, std::memcmp(&b[36], id.peer().ed25519.data(), 32));

    // The signature is plain Ed25519 over "voxa.desc.v1" || bytes[0..68), checked here with libsodium directly.
    std::string msg = "voxa.desc.v1";
    msg.append(reinterpret_cast<const char*>(b.data()), 68);
    EXPECT_EQ(crypto_sign_verify_detached(&b[68], reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                          id.peer().ed25519.data()),
              0);
    // Without the context prefix it is not valid: a descriptor signature is good for nothing else.
    EXPECT_NE(crypto_sign_verify_detached(&b[68], b.data(), 68, id.peer().ed25519.data()), 0);
}

TEST(Descriptor, SignatureWithoutContextIsRefused) {
    auto const id = identity(4);
    auto b = sign_descriptor(id, v4(1, 2, 3, 4, 5), 1, true, kNow);
    auto const raw = id.sign(std::span<const uint8_t>(b.data(), kDescriptorSignedBytes));
    std::memcpy(&b[kOffSignature], raw.data(), raw.size());
    EXPECT_EQ(verify(b), Drop::kBadSignature);
}

TEST(Descriptor, EveryBitFlipIsRefused) {
    auto const id = identity(5);
    auto const good = sign_descriptor(id, v4(10, 1, 2, 3, 9000), 100, true, kNow);
    for (std::size_t i = 0; i < kDescriptorBytes; ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            auto b = good;
            b[i] ^= uint8_t(1u << bit);
            Descriptor d;
            d.capacity = 77;
            Drop const why = verify(b, kNow, kTtlDefaultS, &d);
            EXPECT_NE(why, Drop::kNone) << "byte " << i << " bit " << bit;
            EXPECT_EQ(d.capacity, 77u) << "out written on failure";
            // Fields with no rule of their own are caught by the signature.
            bool const signature_only = (i >= kOffAddr && i < kOffAddr + 4) || i >= kOffPublicKey ||
                                        (i == kOffFlags && bit == 0) || (i >= kOffPort && i < kOffPort + 2);
            if (signature_only) {
                EXPECT_EQ(why, Drop::kBadSignature) << "byte " << i << " bit " << bit;
            }
        }
    }
}

TEST(Descriptor, SpecificReasons) {
    auto const id = identity(6);
    auto const good = sign_descriptor(id, v4(10, 1, 2, 3, 9000), 100, true, kNow);
    auto with = [&](std::size_t at, uint8_t value) {
        auto b = good;
        b[at] = value;
        resign(id, b);
        return verify(b);
    };
    EXPECT_EQ(with(kOffVersion, 2), Drop::kBadVersion);
    EXPECT_EQ(with(kOffVersion, 0), Drop::kBadVersion);
    EXPECT_EQ(with(kOffFlags, 0x02), Drop::kBadField);
    EXPECT_EQ(with(kOffFamily, 5), Drop::kBadField);
    EXPECT_EQ(with(kOffFamily, uint8_t(Endpoint::Family::kSim)), Drop::kBadField);
    EXPECT_EQ(with(kOffFamily, 0), Drop::kBadField);
    EXPECT_EQ(with(kOffRsv1, 1), Drop::kBadField);
    EXPECT_EQ(with(kOffRsv2, 1), Drop::kBadField);
    EXPECT_EQ(with(kOffRsv2 + 1, 0x80), Drop::kBadField);
    EXPECT_EQ(with(kOffAddr + 4, 1), Drop::kBadField);    // IPv4 with bytes after the first four
    EXPECT_EQ(with(kOffAddr + 15, 1), Drop::kBadField);
    EXPECT_EQ(with(kOffFamily, 6), Drop::kNone);          // the same 16 bytes read as IPv6 are fine
    EXPECT_EQ(with(kOffFlags, 0), Drop::kNone);           // not a relay

    auto port = good;
    store_u16(&port[kOffPort], 0);
    resign(id, port);
    EXPECT_EQ(verify(port), Drop::kBadField);

    for (uint32_t cap : {0u, kCapacityMax + 1, 0xffffffffu}) {
        auto b = good;
        store_u32(&b[kOffCapacity], cap);
        resign(id, b);
        EXPECT_EQ(verify(b), Drop::kBadField) << cap;
    }
    for (uint32_t cap : {1u, kCapacityMax}) {
        auto b = good;
        store_u32(&b[kOffCapacity], cap);
        resign(id, b);
        EXPECT_EQ(verify(b), Drop::kNone) << cap;
    }
    // Another node's key in place of the signer's.
    auto other = good;
    std::memcpy(&other[kOffPublicKey], identity(7).peer().ed25519.data(), 32);
    EXPECT_EQ(verify(other), Drop::kBadSignature);
    // An all-zero (small-order) key with an all-zero signature.
    auto zero = good;
    std::memset(&zero[kOffPublicKey], 0, 32 + 64);
    EXPECT_EQ(verify(zero), Drop::kBadSignature);
}

TEST(Descriptor, BadSize) {
    auto const good = sign_descriptor(identity(8), v4(1, 1, 1, 1, 1), 1, true, kNow);
    std::vector<uint8_t> v(good.begin(), good.end());
    EXPECT_EQ(verify_descriptor(std::span(v).first(131), kNow, kTtlDefaultS, nullptr), Drop::kBadSize);
    v.push_back(0);
    EXPECT_EQ(verify_descriptor(v, kNow, kTtlDefaultS, nullptr), Drop::kBadSize);
    EXPECT_EQ(verify_descriptor({}, kNow, kTtlDefaultS, nullptr), Drop::kBadSize);
    v.pop_back();
    EXPECT_EQ(verify_descriptor(v, kNow, kTtlDefaultS, nullptr), Drop::kNone);
}

TEST(Descriptor, TimeWindow) {
    auto const id = identity(9);
    auto at = [&](uint64_t issued_at_s, uint64_t now_s, uint64_t ttl_s = kTtlDefaultS) {
        return verify(sign_descriptor(id, v4(1, 1, 1, 1, 1), 1, true, issued_at_s), now_s, ttl_s);
    };
    EXPECT_EQ(at(kNow + 300, kNow), Drop::kNone);
    EXPECT_EQ(at(kNow + 301, kNow), Drop::kFromFuture);
    EXPECT_EQ(at(kNow - 3600, kNow), Drop::kNone);
    EXPECT_EQ(at(kNow - 3601, kNow), Drop::kExpired);
    EXPECT_EQ(at(kNow - 60, kNow, 60), Drop::kNone);
    EXPECT_EQ(at(kNow - 61, kNow, 60), Drop::kExpired);
    // No overflow at the extremes.
    EXPECT_EQ(at(std::numeric_limits<uint64_t>::max(), kNow), Drop::kFromFuture);
    EXPECT_EQ(at(0, std::numeric_limits<uint64_t>::max()), Drop::kExpired);
    EXPECT_EQ(at(std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max()), Drop::kNone);
}

TEST(Descriptor, DropNamesAreDistinct) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < std::size_t(Drop::kCount); ++i) {
        auto const name = drop_name(Drop(i));
        EXPECT_NE(name, "unknown");
        EXPECT_TRUE(names.insert(name).second) << name;
    }
}

TEST(DescriptorDeathTest, SignRefusesUnusableEndpoint) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto const id = identity(10);
    EXPECT_DEATH(sign_descriptor(id, Endpoint::sim(3), 1, true, kNow), "invariant");
    EXPECT_DEATH(sign_descriptor(id, v4(1, 1, 1, 1, 0), 1, true, kNow), "invariant");
    EXPECT_DEATH(sign_descriptor(id, v4(1, 1, 1, 1, 1), 0, true, kNow), "invariant");
}

}  // namespace
}  // namespace voxa::directory
