// The whole protocol end to end on the in-process network: handshakes, telescoped 3-hop circuits, a message split
// over relay-disjoint circuits, reassembly, a reply over the same circuits, under seeded impairment and attack.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <set>

#include "crypto/provider.h"
#include "sim/sim_network.h"
#include "support/test_support.h"

namespace voxa::sim {
namespace {

constexpr uint64_t kSecond = kNsPerS;

class Harness : public ::testing::Test {
protected:
    // relays + two endpoints: index 0 is the origin, index 1 the destination.
    void build(std::size_t relays, uint64_t seed, const Impairment& imp = {}) {
        net_ = std::make_unique<SimNetwork>(seed, imp);
        net_->add_node(config_, false);
        net_->add_node(config_, false);
        for (std::size_t i = 0; i < relays; ++i) net_->add_node(config_, true);
        net_->share_directory();
    }
    node::Node& origin() { return net_->node(0); }
    node::Node& destination() { return net_->node(1); }

    static std::vector<uint8_t> random_bytes(std::size_t n) { return test::random_bytes(n); }

    // Sends `message` and waits for it at the destination; returns what arrived (empty on timeout).
    std::optional<node::Received> transfer(const std::vector<uint8_t>& message, uint64_t limit_ns) {
        std::string error;
        auto id = origin().send(destination().id(), message, &error);
        EXPECT_TRUE(id.has_value()) << error;
        if (!id) return std::nullopt;
        node::Received got;
        bool have = false;
        net_->run_until([&] { return have || (have = destination().pop_received(&got)); }, limit_ns);
        if (!have) return std::nullopt;
        EXPECT_EQ(got.message_id, *id);
        return got;
    }

    node::NodeConfig config_;
    std::unique_ptr<SimNetwork> net_;
};

TEST_F(Harness, RequestAndReplyOverThreeHopCircuits) {
    build(15, 1);
    const auto request = random_bytes(100'000);
    auto got = transfer(request, 10 * kSecond);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, request);
    EXPECT_FALSE(got->is_reply);

    const auto answer = random_bytes(7'777);
    std::string error;
    auto reply_id = destination().reply(got->message_id, answer, &error);
    ASSERT_TRUE(reply_id.has_value()) << error;
    node::Received back;
    ASSERT_TRUE(net_->run_until([&] { return origin().pop_received(&back); }, 10 * kSecond));
    EXPECT_TRUE(back.is_reply);
    EXPECT_EQ(back.in_reply_to, got->message_id);
    EXPECT_EQ(back.bytes, answer);

    // Both senders learn that their message arrived.
    ASSERT_TRUE(net_->run_until([&] { return destination().send_state(*reply_id) == node::SendState::kDelivered; },
                                5 * kSecond));
    EXPECT_EQ(origin().stats().messages_delivered, 1u);
    EXPECT_GT(origin().link_stats().handshakes_completed, 0u);
}

TEST_F(Harness, OneByteArrivesAndOversizedMessagesAreRefused) {
    build(15, 7);
    std::string error;
    std::vector<uint8_t> huge(wire::kMessageBytesMax + 1, 0);
    EXPECT_FALSE(origin().send(destination().id(), huge, &error).has_value());
    EXPECT_NE(error.find("outside"), std::string::npos) << error;
    EXPECT_FALSE(origin().send(destination().id(), {}, &error).has_value());
    net_->run_for(kSecond);
    EXPECT_EQ(origin().stats().circuits_built + origin().stats().circuits_failed, 0u)
        << "a refused message builds no circuits";

    const std::vector<uint8_t> one{0x5a};
    auto got = transfer(one, 10 * kSecond);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, one);
}

TEST_F(Harness, CircuitsOfOneMessageShareNoRelayAndNoRelayHoldsKParts) {
    build(15, 2);
    auto got = transfer(random_bytes(50'000), 10 * kSecond);
    ASSERT_TRUE(got.has_value());
    const auto paths = origin().circuit_paths(destination().id());
    ASSERT_EQ(paths.size(), config_.n);
    std::set<NodeId> seen;
    for (const auto& path : paths) {
        EXPECT_EQ(path.size(), config_.hops);
        for (const NodeId& relay : path) {
            EXPECT_TRUE(seen.insert(relay).second) << "a relay appears on two circuits of one message";
            EXPECT_NE(relay, origin().id());
            EXPECT_NE(relay, destination().id());
        }
    }
    // Each relay carries at most one circuit, hence at most one part of the message (k = 3 would be needed).
    for (std::size_t i = 2; i < net_->size(); ++i) {
        EXPECT_LE(net_->node(i).relay_circuits(), 1u) << "relay " << i;
    }
    // The destination ends n circuits: it sees every part, but no relay does.
    EXPECT_EQ(destination().relay_circuits(), config_.n);
}

TEST_F(Harness, RelaysForgetCircuitsWhoseOriginVanished) {
    config_.relay_idle_ns = 5 * kSecond;
    build(15, 8);
    ASSERT_TRUE(transfer(random_bytes(1000), 10 * kSecond).has_value());
    std::size_t relaying = 0;
    for (std::size_t i = 2; i < net_->size(); ++i) relaying += net_->node(i).relay_circuits();
    EXPECT_EQ(relaying, config_.n * config_.hops);
    net_->set_blackhole(0, true);   // the origin crashes: no DESTROY ever comes
    net_->run_for(8 * kSecond);
    for (std::size_t i = 1; i < net_->size(); ++i) EXPECT_EQ(net_->node(i).relay_circuits(), 0u) << "node " << i;
}

TEST_F(Harness, FiveRelaysCannotCarryRelayDisjointCircuits) {
    build(5, 3);
    std::string error;
    auto id = origin().send(destination().id(), random_bytes(1000), &error);
    EXPECT_FALSE(id.has_value());
    EXPECT_NE(error.find("relay-disjoint"), std::string::npos) << error;
    for (std::size_t i = 2; i < net_->size(); ++i) EXPECT_EQ(net_->node(i).relay_circuits(), 0u);
}

TEST_F(Harness, RelayThatFlipsBitsIsDetectedAndTheMessageStillArrives) {
    build(15, 4);
    // Build the circuits first, then turn every relay of one circuit bad.
    auto first = transfer(random_bytes(10'000), 10 * kSecond);
    ASSERT_TRUE(first.has_value());
    const auto paths = origin().circuit_paths(destination().id());
    ASSERT_EQ(paths.size(), config_.n);
    for (std::size_t i = 2; i < net_->size(); ++i) {
        if (net_->node(i).id() == paths[0][1]) net_->node(i).set_faults(node::FaultInjection{1.0});
    }
    const auto message = random_bytes(300'000);
    auto got = transfer(message, 20 * kSecond);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, message);
    EXPECT_GT(destination().stats().drops[std::size_t(node::Drop::kBadE2eTag)], 0u);
}

TEST_F(Harness, SurvivesLossOfNMinusKCircuitsMidTransfer) {
    build(15, 5);
    ASSERT_TRUE(transfer(random_bytes(1000), 10 * kSecond).has_value());
    const auto paths = origin().circuit_paths(destination().id());
    ASSERT_EQ(paths.size(), config_.n);
    // Crash the middle relay of two circuits (n - k = 2).
    for (std::size_t i = 2; i < net_->size(); ++i) {
        const NodeId id = net_->node(i).id();
        if (id == paths[0][1] || id == paths[1][1]) net_->set_blackhole(i, true);
    }
    const auto message = random_bytes(2'000'000);
    auto got = transfer(message, 30 * kSecond);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, message);
}

// A relay that dies while a part streams over it: the origin's sends on that circuit go out in the same instant
// as the acknowledgement that let them out (one clock reading per reactor iteration), and cells heard later in that
// instant answer earlier sends, not these. The silence must count from them, so the circuit is given up.
TEST_F(Harness, CircuitWhoseRelayDiesMidStreamIsGivenUp) {
    build(15, 11);
    ASSERT_TRUE(transfer(random_bytes(1000), 10 * kSecond).has_value());
    const auto paths = origin().circuit_paths(destination().id());
    ASSERT_EQ(paths.size(), config_.n);
    std::size_t victim = 0;
    for (std::size_t i = 2; i < net_->size(); ++i) {
        if (net_->node(i).id() == paths[0][1]) victim = i;
    }
    ASSERT_NE(victim, 0u);
    const auto cells_toward_victim = [&] {
        std::vector<node::CircuitInfo> circuits;
        origin().circuits(&circuits, 64);
        for (const auto& c : circuits) {
            if (std::count(c.path.begin(), c.path.end(), net_->node(victim).id()) > 0) return c.cells_sent;
        }
        return uint64_t(0);
    };
    std::string error;
    const auto message = random_bytes(16'000'000);
    ASSERT_TRUE(origin().send(destination().id(), message, &error).has_value()) << error;
    // Crash the victim while cells the origin sent on its circuit are still on their way to it.
    const uint64_t start = cells_toward_victim();
    ASSERT_TRUE(net_->run_until([&] {
        const uint64_t sent = cells_toward_victim();
        return sent > start + 100 && sent > net_->node(victim).stats().cells_relayed_forward + 8;
    }, kSecond));
    net_->set_blackhole(victim, true);
    node::Received got;
    ASSERT_TRUE(net_->run_until([&] { return destination().pop_received(&got); }, 30 * kSecond));
    EXPECT_EQ(got.bytes, message);
    EXPECT_TRUE(net_->run_until([&] { return origin().stats().circuits_failed >= 1; },
                                config_.circuit_silence_ns + 2 * kSecond))
        << "the origin kept the circuit through the dead relay";
    for (const auto& path : origin().circuit_paths(destination().id())) {
        EXPECT_EQ(std::count(path.begin(), path.end(), net_->node(victim).id()), 0) << "a circuit still uses it";
    }
}

TEST_F(Harness, FlowControlKeepsReorderedCellsInsideTheReplayWindow) {
    // Without a window a sender bursts a whole part; a cell held back by reordering then falls more than 8192
    // packets behind and the link's replay window refuses it. Per-circuit flow control keeps every link's cells
    // in flight far below that, so reordering costs nothing.
    Impairment imp;
    imp.loss = 0.02;
    imp.reorder = 0.05;
    build(15, 9, imp);
    const auto message = random_bytes(32u << 20);
    auto got = transfer(message, 120 * kSecond);
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(got->bytes == message);
    EXPECT_GT(net_->stats().reordered, 1000u);
    uint64_t replay = 0;
    for (std::size_t i = 0; i < net_->size(); ++i) {
        replay += net_->node(i).link_stats().drops[std::size_t(link::Drop::kReplay)];
    }
    EXPECT_EQ(replay, 0u);
}

TEST_F(Harness, SixtyFourMiBUnderLossReorderDuplicationAndCorruption) {
    const std::size_t bytes = 64u << 20;
    Impairment imp;
    imp.loss = 0.10;
    imp.reorder = 0.05;
    imp.duplicate = 0.01;
    imp.corrupt = 0.001;
    build(15, 6, imp);
    const auto message = random_bytes(bytes);
    auto got = transfer(message, 600 * kSecond);
    ASSERT_TRUE(got.has_value()) << "not delivered; network lost " << net_->stats().lost;
    EXPECT_TRUE(got->bytes == message);
    EXPECT_GT(net_->stats().lost, 0u);
    EXPECT_GT(net_->stats().corrupted, 0u);
    EXPECT_GT(origin().stats().fragments_retransmitted, 0u);
    // Corrupted datagrams die at the link layer's AEAD, counted there.
    uint64_t link_decrypt_drops = 0;
    for (std::size_t i = 0; i < net_->size(); ++i) {
        link_decrypt_drops += net_->node(i).link_stats().drops[std::size_t(link::Drop::kTransportDecrypt)];
    }
    EXPECT_GT(link_decrypt_drops, 0u);
}

}  // namespace
}  // namespace voxa::sim
