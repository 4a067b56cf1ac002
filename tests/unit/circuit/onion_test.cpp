#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "circuit/ntor.h"
#include "circuit/onion.h"
#include "crypto/identity.h"
#include "voxa/assert.h"
#include "voxa/wire.h"

namespace voxa::circuit {
namespace {

using crypto::Provider;
constexpr std::size_t kOnion = wire::onion_bytes(wire::kCellBytesDefault);
constexpr std::size_t kMsg = kOnion - wire::kE2eTagBytes;

// A circuit built for real: one ntor handshake per hop, the relays' HopCrypto on `relay_p`, the origin's on
// `origin_p`.
struct Circuit {
    std::unique_ptr<OriginCrypto> origin;
    std::vector<std::unique_ptr<HopCrypto>> relay;   // relay[i] is hop i+1

    Circuit(std::size_t hops, Provider origin_p, Provider relay_p)
        : origin(std::make_unique<OriginCrypto>(origin_p)) {
        for (std::size_t i = 0; i < hops; ++i) {
            std::array<uint8_t, 32> seed{};
            seed.fill(uint8_t(100 + i));
            const auto id = crypto::Identity::from_seed(seed);
            NtorClient client(id.peer());
            uint8_t skin[kOnionskinBytes], created[kCreatedBytes];
            client.onionskin(skin);
            HopSecrets relay_keys;
            VOXA_CHECK(ntor_server(id, skin, created, &relay_keys) == Drop::kNone);
            auto origin_keys = client.finish(created);
            VOXA_CHECK(origin_keys.has_value());
            relay.push_back(std::make_unique<HopCrypto>(relay_keys, relay_p));
            origin->add_hop(*origin_keys);
        }
    }
};

// An onion buffer (fixed storage, so it is never null and never reallocated).
struct Onion {
    std::array<uint8_t, wire::onion_bytes(wire::kCellBytesMax)> bytes{};
    std::size_t len = kOnion;
    uint8_t* data() noexcept { return bytes.data(); }
    const uint8_t* data() const noexcept { return bytes.data(); }
    std::size_t size() const noexcept { return len; }
};

Onion random_message(std::size_t len = kOnion) {
    Onion m;
    m.len = len;
    randombytes_buf(m.data(), len - wire::kE2eTagBytes);
    return m;
}

// Sends `msg` forward to hop `end`; `tamper(hop, nonce, onion)` runs before each hop's processing.
template <class Tamper>
bool send_forward(Circuit& c, std::size_t end, Onion& onion, Tamper&& tamper) {
    uint8_t nonce[16];
    c.origin->wrap_forward(end, nonce, onion.data(), onion.size());
    for (std::size_t hop = 1; hop < end; ++hop) {
        tamper(hop, nonce, onion.data());
        c.relay[hop - 1]->relay_forward(nonce, onion.data(), onion.size());
    }
    tamper(end, nonce, onion.data());
    return c.relay[end - 1]->end_receive_forward(nonce, onion.data(), onion.size());
}

// Sends `msg` backward from hop `end`; `tamper(hop, nonce, onion)` runs on what arrives at hop-1 (0 = origin).
template <class Tamper>
bool send_backward(Circuit& c, std::size_t end, Onion& onion, Tamper&& tamper) {
    uint8_t nonce[16];
    c.relay[end - 1]->end_send_backward(nonce, onion.data(), onion.size());
    for (std::size_t hop = end - 1; hop >= 1; --hop) {
        tamper(hop, nonce, onion.data());
        c.relay[hop - 1]->relay_backward(nonce, onion.data(), onion.size());
    }
    tamper(0, nonce, onion.data());
    return c.origin->unwrap_backward(end, nonce, onion.data(), onion.size());
}

auto no_tamper = [](std::size_t, uint8_t*, uint8_t*) {};

TEST(Onion, ForwardReachesEveryEndOfEveryLength) {
    for (std::size_t hops = 1; hops <= kHopsMax; ++hops) {
        Circuit c(hops, Provider::kSodium, Provider::kSodium);
        ASSERT_EQ(c.origin->hops(), hops);
        for (std::size_t end = 1; end <= hops; ++end) {
            const auto msg = random_message();
            auto onion = msg;
            ASSERT_TRUE(send_forward(c, end, onion, no_tamper)) << hops << " hops, end " << end;
            EXPECT_EQ(std::memcmp(onion.data(), msg.data(), kMsg), 0) << hops << " hops, end " << end;
        }
    }
}

TEST(Onion, BackwardFromEveryEndOfEveryLength) {
    for (std::size_t hops = 1; hops <= kHopsMax; ++hops) {
        Circuit c(hops, Provider::kOpenSsl, Provider::kOpenSsl);
        for (std::size_t end = 1; end <= hops; ++end) {
            const auto msg = random_message();
            auto onion = msg;
            ASSERT_TRUE(send_backward(c, end, onion, no_tamper)) << hops << " hops, end " << end;
            EXPECT_EQ(std::memcmp(onion.data(), msg.data(), kMsg), 0) << hops << " hops, end " << end;
        }
    }
}

TEST(Onion, RelaysSeeNoPlaintext) {
    Circuit c(3, Provider::kSodium, Provider::kSodium);
    Onion onion;   // an all-zero message: any leak would show as zero runs
    uint8_t nonce[16];
    c.origin->wrap_forward(3, nonce, onion.data(), onion.size());
    for (std::size_t hop = 1; hop <= 3; ++hop) {
        std::size_t zeros = 0;
        for (std::size_t i = 0; i < onion.size(); ++i) zeros += onion.bytes[i] == 0;
        EXPECT_LT(zeros, kOnion / 32) << "hop " << hop;   // ~1/256 expected for random bytes
        if (hop < 3) c.relay[hop - 1]->relay_forward(nonce, onion.data(), onion.size());
    }
}

TEST(Onion, ForwardTamperingAnywhereIsDetectedAtTheEnd) {
    // Flip one bit of the onion (start, middle, tag, last byte) or of the nonce (every byte), on every link.
    const std::size_t onion_at[] = {0, 1, kMsg / 2, kMsg - 1, kMsg, kOnion - 1};
    for (std::size_t hops : {std::size_t(1), std::size_t(3), kHopsMax}) {
        Circuit c(hops, Provider::kSodium, Provider::kOpenSsl);
        for (std::size_t link = 1; link <= hops; ++link) {   // link k carries the cell into hop k
            for (std::size_t at : onion_at) {
                auto onion = random_message();
                EXPECT_FALSE(send_forward(c, hops, onion, [&](std::size_t hop, uint8_t*, uint8_t* o) {
                    if (hop == link) o[at] ^= 0x04;
                })) << hops << " hops, link " << link << ", onion byte " << at;
            }
            for (std::size_t at = 0; at < 16; ++at) {
                auto onion = random_message();
                EXPECT_FALSE(send_forward(c, hops, onion, [&](std::size_t hop, uint8_t* n, uint8_t*) {
                    if (hop == link) n[at] ^= 0x80;
                })) << hops << " hops, link " << link << ", nonce byte " << at;
            }
        }
    }
}

TEST(Onion, BackwardTamperingAnywhereIsDetectedAtTheOrigin) {
    const std::size_t onion_at[] = {0, kMsg / 2, kMsg - 1, kMsg, kOnion - 1};
    for (std::size_t hops : {std::size_t(1), std::size_t(3), kHopsMax}) {
        Circuit c(hops, Provider::kOpenSsl, Provider::kSodium);
        for (std::size_t link = 0; link < hops; ++link) {   // link k carries the cell into hop k (0 = origin)
            for (std::size_t at : onion_at) {
                auto onion = random_message();
                EXPECT_FALSE(send_backward(c, hops, onion, [&](std::size_t hop, uint8_t*, uint8_t* o) {
                    if (hop == link) o[at] ^= 0x01;
                })) << hops << " hops, link " << link << ", onion byte " << at;
            }
            for (std::size_t at = 0; at < 16; ++at) {
                auto onion = random_message();
                EXPECT_FALSE(send_backward(c, hops, onion, [&](std::size_t hop, uint8_t* n, uint8_t*) {
                    if (hop == link) n[at] ^= 0x10;
                })) << hops << " hops, link " << link << ", nonce byte " << at;
            }
        }
    }
}

TEST(Onion, TaggingUndoneDownstreamStillCannotBeSeenButIsHarmless) {
    // An entry that XORs a pattern and a colluding later relay that removes it again: the end accepts, i.e.
    // XOR layers commute. This is why the end's AEAD, not the relays, is the integrity check; documented in
    // docs/protocol-circuit.md. A pattern NOT removed is always caught (previous tests).
    Circuit c(3, Provider::kSodium, Provider::kSodium);
    const auto msg = random_message();
    auto onion = msg;
    EXPECT_TRUE(send_forward(c, 3, onion, [&](std::size_t hop, uint8_t*, uint8_t* o) {
        if (hop == 1 || hop == 3) o[10] ^= 0x55;   // into hop 1 (by the origin's link) and into hop 3
    }));
    EXPECT_EQ(std::memcmp(onion.data(), msg.data(), kMsg), 0);
}

// Whether all recorded values differ pairwise.
template <std::size_t N>
bool all_distinct(const std::vector<std::array<uint8_t, N>>& seen) {
    for (std::size_t i = 0; i < seen.size(); ++i) {
        for (std::size_t j = i + 1; j < seen.size(); ++j) {
            if (std::memcmp(seen[i].data(), seen[j].data(), N) == 0) return false;
        }
    }
    return true;
}

TEST(Onion, NonceAndOnionDifferOnEveryLink) {
    Circuit c(kHopsMax, Provider::kSodium, Provider::kSodium);
    for (bool forward : {true, false}) {
        std::vector<std::array<uint8_t, 16>> nonces;
        std::vector<std::array<uint8_t, kOnion>> onions;
        auto record = [&](std::size_t, uint8_t* n, uint8_t* o) {
            nonces.emplace_back();
            std::memcpy(nonces.back().data(), n, 16);
            onions.emplace_back();
            std::memcpy(onions.back().data(), o, kOnion);
        };
        auto onion = random_message();
        ASSERT_TRUE(forward ? send_forward(c, kHopsMax, onion, record) : send_backward(c, kHopsMax, onion, record));
        EXPECT_EQ(nonces.size(), kHopsMax);
        EXPECT_TRUE(all_distinct(nonces)) << (forward ? "forward" : "backward");
        EXPECT_TRUE(all_distinct(onions)) << (forward ? "forward" : "backward");
    }
}

TEST(Onion, SameMessageTwiceLooksDifferent) {
    Circuit c(2, Provider::kSodium, Provider::kSodium);
    const auto msg = random_message();
    auto a = msg, b = msg;
    uint8_t na[16], nb[16];
    c.origin->wrap_forward(2, na, a.data(), a.size());
    c.origin->wrap_forward(2, nb, b.data(), b.size());
    EXPECT_NE(std::memcmp(na, nb, 16), 0);
    EXPECT_NE(std::memcmp(a.data(), b.data(), kOnion), 0);
}

TEST(Onion, OnlyTheAddressedEndCanOpen) {
    Circuit c(3, Provider::kSodium, Provider::kSodium);
    auto onion = random_message();
    uint8_t nonce[16];
    c.origin->wrap_forward(3, nonce, onion.data(), onion.size());
    c.relay[0]->relay_forward(nonce, onion.data(), onion.size());
    // Hop 2 trying to open a cell meant for hop 3 fails.
    auto copy = onion;
    EXPECT_FALSE(c.relay[1]->end_receive_forward(nonce, copy.data(), copy.size()));
    // The origin's backward view of hop 2 cannot open hop 3's cell either.
    auto back = random_message();
    uint8_t bn[16];
    c.relay[2]->end_send_backward(bn, back.data(), back.size());
    c.relay[1]->relay_backward(bn, back.data(), back.size());
    c.relay[0]->relay_backward(bn, back.data(), back.size());
    EXPECT_FALSE(c.origin->unwrap_backward(2, bn, back.data(), back.size()));
}

TEST(Onion, ProvidersInteroperate) {
    for (auto [origin_p, relay_p] : {std::pair{Provider::kSodium, Provider::kOpenSsl},
                                     std::pair{Provider::kOpenSsl, Provider::kSodium}}) {
        Circuit c(3, origin_p, relay_p);
        for (std::size_t end = 1; end <= 3; ++end) {
            const auto msg = random_message();
            auto fwd = msg, back = msg;
            ASSERT_TRUE(send_forward(c, end, fwd, no_tamper));
            EXPECT_EQ(std::memcmp(fwd.data(), msg.data(), kMsg), 0);
            ASSERT_TRUE(send_backward(c, end, back, no_tamper));
            EXPECT_EQ(std::memcmp(back.data(), msg.data(), kMsg), 0);
        }
    }
}

TEST(Onion, OtherCellSizes) {
    Circuit c(3, Provider::kSodium, Provider::kOpenSsl);
    for (std::size_t cell_bytes : {wire::kCellBytesMin, wire::kCellBytesMax}) {
        const auto msg = random_message(wire::onion_bytes(cell_bytes));
        auto onion = msg;
        ASSERT_TRUE(send_forward(c, 3, onion, no_tamper));
        EXPECT_EQ(std::memcmp(onion.data(), msg.data(), msg.size() - 16), 0);
        onion = msg;
        ASSERT_TRUE(send_backward(c, 3, onion, no_tamper));
        EXPECT_EQ(std::memcmp(onion.data(), msg.data(), msg.size() - 16), 0);
    }
}

TEST(OnionDeathTest, EndBeyondHopsIsABug) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    OriginCrypto origin(Provider::kSodium);
    Onion onion;
    uint8_t nonce[16];
    EXPECT_DEATH(origin.wrap_forward(1, nonce, onion.data(), onion.size()), "invariant");
}

}  // namespace
}  // namespace voxa::circuit
