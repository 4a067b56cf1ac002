// Two (or three) LinkEndpoints talking through an in-test network under a ManualClock: handshakes, data both
// ways, DoS cookies, replay, timers (rekey, reject, keepalive, retransmit) and provider/suite interop.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "crypto/hash.h"
#include "link/cookie.h"
#include "link/endpoint.h"

namespace voxa::link {
namespace {

using Kind = RxEvent::Kind;

struct FakeWall final : WallClock {
    uint64_t ns = 1'700'000'000ull * kNsPerS;
    uint64_t unix_ns() const noexcept override { return ns; }
};

struct Datagram {
    Endpoint from, to;
    std::vector<uint8_t> bytes;
};

// Collects what one node transmits, stamped with its source address.
struct Sink final : TxSink {
    Endpoint self;
    std::deque<Datagram>* wire = nullptr;
    void transmit(const Endpoint& to, std::span<const uint8_t> d) noexcept override {
        wire->push_back(Datagram{self, to, std::vector<uint8_t>(d.begin(), d.end())});
    }
};

crypto::Identity identity(uint8_t n) {
    std::array<uint8_t, 32> seed{};
    seed.fill(n);
    return crypto::Identity::from_seed(seed);
}

struct Node {
    crypto::Identity id;
    Endpoint addr;
    std::unique_ptr<LinkEndpoint> ep;
    Sink sink;
    std::vector<RxEvent> events;
    std::vector<std::vector<uint8_t>> payloads;   // copies of kPayload contents, in arrival order
};

class Net : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(crypto::init()); }

    Node& node(uint8_t n, const LinkConfig& cfg = LinkConfig{}) {
        auto nd = std::make_unique<Node>(Node{identity(n), Endpoint::sim(n), nullptr, Sink{}, {}, {}});
        nd->ep = std::make_unique<LinkEndpoint>(nd->id, cfg, clock_, wall_);
        nd->sink.self = nd->addr;
        nd->sink.wire = &wire_;
        nodes_.push_back(std::move(nd));
        return *nodes_.back();
    }
    Node* by_addr(const Endpoint& e) {
        for (auto& n : nodes_) {
            if (n->addr == e) return n.get();
        }
        return nullptr;
    }
    RxEvent deliver(Node& to, Datagram d) {
        RxEvent ev = to.ep->receive(d.from, d.bytes.data(), d.bytes.size(), to.sink);
        if (ev.kind == Kind::kPayload) {
            // The datagram copy dies here; point the event at a kept copy of the payload.
            EXPECT_GE(ev.payload, d.bytes.data());
            EXPECT_LE(ev.payload + ev.payload_len, d.bytes.data() + d.bytes.size());
            to.payloads.emplace_back(ev.payload, ev.payload + ev.payload_len);
            ev.payload = to.payloads.back().data();
        }
        to.events.push_back(ev);
        return ev;
    }
    // Delivers everything in flight (and what that causes) until the wire is quiet.
    void pump(int max = 1000) {
        while (!wire_.empty() && max-- > 0) {
            Datagram d = std::move(wire_.front());
            wire_.pop_front();
            if (Node* to = by_addr(d.to)) deliver(*to, std::move(d));
        }
    }
    std::vector<Datagram> take() {
        std::vector<Datagram> out(wire_.begin(), wire_.end());
        wire_.clear();
        return out;
    }
    // Seals `text` from `a` to its peer `h` and returns the datagram (not yet delivered).
    Datagram seal(Node& a, PeerHandle h, const std::vector<uint8_t>& text) {
        std::vector<uint8_t> buf(wire::kLinkOverheadBytes + text.size());
        std::memcpy(buf.data() + wire::kLinkHeaderBytes, text.data(), text.size());
        std::size_t n = a.ep->seal(h, buf.data(), text.size());
        buf.resize(n);
        return Datagram{a.addr, a.ep->peer_endpoint(h), buf};
    }
    // Starts a handshake from `a` to its peer `ab` and delivers until the wire is quiet; the outcome is the
    // caller's to check.
    void handshake(Node& a, PeerHandle ab) {
        a.ep->connect(ab, a.sink);
        pump();
    }
    void connect_pair(Node& a, PeerHandle ab, Node& b, PeerHandle ba) {
        handshake(a, ab);
        ASSERT_TRUE(a.ep->ready(ab));
        ASSERT_TRUE(b.ep->ready(ba));
    }
    // Nodes 1 and 2, each added as the other's peer (A's first), not yet connected. Tests bind it as
    // `auto [a, b, ab, ba] = pair();`.
    struct Pair {
        Node& a;
        Node& b;
        PeerHandle ab, ba;
    };
    Pair pair(const LinkConfig& cfg_a = LinkConfig{}, const LinkConfig& cfg_b = LinkConfig{}) {
        Node& a = node(1, cfg_a);
        Node& b = node(2, cfg_b);
        PeerHandle const ab = a.ep->add_peer(b.id.peer(), b.addr);
        PeerHandle const ba = b.ep->add_peer(a.id.peer(), a.addr);
        return Pair{a, b, ab, ba};
    }
    // pair(), then A initiates and both sides must be ready (a fatal failure in connect_pair is reported there,
    // and the test goes on, as it did when each test called connect_pair itself).
    Pair connected_pair(const LinkConfig& cfg_a = LinkConfig{}, const LinkConfig& cfg_b = LinkConfig{}) {
        Pair p = pair(cfg_a, cfg_b);
        connect_pair(p.a, p.ab, p.b, p.ba);
        return p;
    }
    void expect_no_drops(Node& n) {
        for (std::size_t i = 0; i < std::size_t(Drop::kCount); ++i) {
            EXPECT_EQ(n.ep->stats().drops[i], 0u) << "node " << n.addr.sim_index() << ": " << drop_name(Drop(i));
        }
    }
    void tick_all() {
        for (auto& n : nodes_) n->ep->tick(n->sink);
    }
    uint64_t drops(Node& n, Drop d) { return n.ep->stats().drops[std::size_t(d)]; }

    ManualClock clock_;
    FakeWall wall_;
    std::deque<Datagram> wire_;
    std::vector<std::unique_ptr<Node>> nodes_;
};

std::vector<uint8_t> text(int i, std::size_t len = 100) {
    std::vector<uint8_t> t(len);
    for (std::size_t k = 0; k < len; ++k) t[k] = uint8_t(i * 31 + int(k));
    return t;
}

TEST_F(Net, HandshakeAndDataBothWays) {
    auto [a, b, ab, ba] = pair();
    ASSERT_NE(ab, kNoPeer);
    EXPECT_EQ(a.ep->find_peer(b.id.id()), ab);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_EQ(a.ep->seal(ab, std::vector<uint8_t>(64).data(), 16), 0u);   // no session yet

    a.ep->connect(ab, a.sink);
    ASSERT_EQ(wire_.size(), 1u);
    EXPECT_EQ(wire_.front().bytes.size(), kInitiationBytes);
    pump();
    ASSERT_TRUE(a.ep->ready(ab));
    ASSERT_TRUE(b.ep->ready(ba));   // confirmed by A's keepalive
    EXPECT_EQ(a.events.back().kind, Kind::kSessionUp);
    EXPECT_EQ(b.events.back().kind, Kind::kSessionUp);
    EXPECT_EQ(b.events.back().peer, ba);
    EXPECT_EQ(a.ep->stats().sessions_up, 1u);
    EXPECT_EQ(b.ep->stats().sessions_up, 1u);

    for (int i = 0; i < 50; ++i) {
        Datagram d = seal(a, ab, text(i, 1248));
        ASSERT_EQ(d.bytes.size(), 1280u);
        RxEvent ev = deliver(b, d);
        ASSERT_EQ(ev.kind, Kind::kPayload);
        EXPECT_EQ(ev.peer, ba);
        EXPECT_EQ(std::vector<uint8_t>(ev.payload, ev.payload + ev.payload_len), text(i, 1248));
        ev = deliver(a, seal(b, ba, text(1000 + i, 7)));
        ASSERT_EQ(ev.kind, Kind::kPayload);
        EXPECT_EQ(std::vector<uint8_t>(ev.payload, ev.payload + ev.payload_len), text(1000 + i, 7));
    }
    expect_no_drops(a);
    expect_no_drops(b);
}

// Two workers of one node open sessions to the same responder at once: they initiate with different static keys
// (worker 0 with the node's, worker 1 with a derived one), so the responder holds two independent peers whose
// sessions never replace each other, and every receiver index carries its worker in the top byte.
TEST_F(Net, TwoWorkersOfOneNodeKeepSeparateSessions) {
    LinkConfig w1;
    w1.worker = 1;
    Node& a0 = node(1);
    Node& b = node(2);
    auto a1_owned = std::make_unique<Node>(Node{identity(1), Endpoint::sim(11), nullptr, Sink{}, {}, {}});
    a1_owned->ep = std::make_unique<LinkEndpoint>(a1_owned->id, w1, clock_, wall_);
    a1_owned->sink.self = a1_owned->addr;
    a1_owned->sink.wire = &wire_;
    nodes_.push_back(std::move(a1_owned));
    Node& a1 = *nodes_.back();

    PeerHandle const a0b = a0.ep->add_peer(b.id.peer(), b.addr);
    PeerHandle const a1b = a1.ep->add_peer(b.id.peer(), b.addr);
    a0.ep->connect(a0b, a0.sink);
    a1.ep->connect(a1b, a1.sink);
    for (Datagram const& d : wire_) {
        EXPECT_EQ(d.bytes[kInitSenderOff + 3], d.from == a1.addr ? 1 : 0);   // the sender index's worker byte
    }
    pump();
    ASSERT_TRUE(a0.ep->ready(a0b));
    ASSERT_TRUE(a1.ep->ready(a1b));
    EXPECT_EQ(b.ep->stats().sessions_up, 2u);

    for (int i = 0; i < 20; ++i) {
        Datagram d0 = seal(a0, a0b, text(i));
        Datagram d1 = seal(a1, a1b, text(100 + i));
        RxEvent e0 = deliver(b, d0);
        RxEvent e1 = deliver(b, d1);
        ASSERT_EQ(e0.kind, Kind::kPayload);
        ASSERT_EQ(e1.kind, Kind::kPayload);
        EXPECT_NE(e0.peer, e1.peer);   // two peers at the responder
        // B answers each on its own peer; the answer's receiver index names the right worker.
        Datagram r0 = seal(b, e0.peer, text(200 + i));
        Datagram r1 = seal(b, e1.peer, text(300 + i));
        EXPECT_EQ(r0.bytes[kTransportReceiverOff + 3], 0);
        EXPECT_EQ(r1.bytes[kTransportReceiverOff + 3], 1);
        EXPECT_EQ(deliver(a0, r0).kind, Kind::kPayload);
        EXPECT_EQ(deliver(a1, r1).kind, Kind::kPayload);
    }
    expect_no_drops(a0);
    expect_no_drops(a1);
    expect_no_drops(b);
}

TEST_F(Net, ResponderCanInitiateToo) {
    auto [a, b, ab, ba] = pair();
    connect_pair(b, ba, a, ab);
    EXPECT_EQ(deliver(a, seal(b, ba, text(1))).kind, Kind::kPayload);
    EXPECT_EQ(deliver(b, seal(a, ab, text(2))).kind, Kind::kPayload);
}

TEST_F(Net, SimultaneousInitiation) {
    auto [a, b, ab, ba] = pair();
    a.ep->connect(ab, a.sink);
    b.ep->connect(ba, b.sink);
    pump();
    ASSERT_TRUE(a.ep->ready(ab));
    ASSERT_TRUE(b.ep->ready(ba));
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(deliver(b, seal(a, ab, text(i))).kind, Kind::kPayload);
        EXPECT_EQ(deliver(a, seal(b, ba, text(i))).kind, Kind::kPayload);
    }
}

TEST_F(Net, WrongResponderKeyNoSession) {
    Node& a = node(1);
    Node& b = node(2);
    Node& c = node(3);
    crypto::PeerIdentity wrong = b.id.peer();
    wrong.x25519 = c.id.peer().x25519;   // A believes B's static key is C's
    PeerHandle ab = a.ep->add_peer(wrong, b.addr);
    b.ep->add_peer(a.id.peer(), a.addr);
    handshake(a, ab);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_EQ(drops(b, Drop::kBadMac1), 1u);
    EXPECT_EQ(b.ep->stats().handshakes_completed, 0u);
    EXPECT_EQ(b.ep->stats().sessions_up, 0u);
}

TEST_F(Net, UnknownInitiatorRefusedWhenConfigured) {
    LinkConfig strict;
    strict.accept_unknown_peers = false;
    Node& a = node(1);
    Node& b = node(2, strict);
    PeerHandle ab = a.ep->add_peer(b.id.peer(), b.addr);
    handshake(a, ab);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_EQ(drops(b, Drop::kUnknownPeer), 1u);
    EXPECT_EQ(b.ep->find_peer(a.id.id()), kNoPeer);
}

TEST_F(Net, UnknownInitiatorAcceptedAnonymouslyThenUpgraded) {
    Node& a = node(1);
    Node& b = node(2);   // accept_unknown_peers = true (default)
    PeerHandle ab = a.ep->add_peer(b.id.peer(), b.addr);
    handshake(a, ab);
    ASSERT_TRUE(a.ep->ready(ab));
    PeerHandle ba = b.events.back().peer;
    ASSERT_NE(ba, kNoPeer);
    EXPECT_TRUE(b.ep->ready(ba));
    EXPECT_EQ(b.ep->peer_identity(ba).x25519, a.id.peer().x25519);
    EXPECT_EQ(b.ep->peer_identity(ba).ed25519, PublicKey{});
    EXPECT_EQ(b.ep->find_peer(b.ep->peer_identity(ba).id), ba);
    EXPECT_EQ(b.ep->peer_endpoint(ba), a.addr);
    // Learning the identity later keeps the handle and the session.
    EXPECT_EQ(b.ep->add_peer(a.id.peer(), a.addr), ba);
    EXPECT_EQ(b.ep->find_peer(a.id.id()), ba);
    EXPECT_EQ(b.ep->peer_identity(ba).ed25519, a.id.peer().ed25519);
    EXPECT_TRUE(b.ep->ready(ba));
    EXPECT_EQ(deliver(a, seal(b, ba, text(3))).kind, Kind::kPayload);
}

TEST_F(Net, PeersFull) {
    LinkConfig small;
    small.peers_max = 1;
    Node& a = node(1);
    Node& b = node(2, small);
    Node& c = node(3);
    PeerHandle ab = a.ep->add_peer(b.id.peer(), b.addr);
    PeerHandle cb = c.ep->add_peer(b.id.peer(), b.addr);
    EXPECT_NE(b.ep->add_peer(a.id.peer(), a.addr), kNoPeer);
    EXPECT_EQ(b.ep->add_peer(c.id.peer(), c.addr), kNoPeer);
    handshake(c, cb);
    EXPECT_FALSE(c.ep->ready(cb));
    EXPECT_EQ(drops(b, Drop::kPeersFull), 1u);
    connect_pair(a, ab, b, 0);
}

TEST_F(Net, ReplayedInitiationRefused) {
    auto [a, b, ab, ba] = pair();
    a.ep->connect(ab, a.sink);
    std::vector<Datagram> first = take();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(deliver(b, first[0]).kind, Kind::kControl);
    take();
    EXPECT_EQ(deliver(b, first[0]).drop, Drop::kReplayedHandshake);
    EXPECT_TRUE(wire_.empty());   // no response to a replay
    // A retransmission (even with the wall clock standing still) is newer and accepted; then the old one is
    // still refused.
    clock_.advance_ns(kNsPerS);
    a.ep->tick(a.sink);
    pump();
    EXPECT_TRUE(a.ep->ready(ab));
    EXPECT_EQ(deliver(b, first[0]).drop, Drop::kReplayedHandshake);
    EXPECT_EQ(drops(b, Drop::kReplayedHandshake), 2u);
}

TEST_F(Net, TamperedHandshakeRefused) {
    auto [a, b, ab, ba] = pair();
    a.ep->connect(ab, a.sink);
    Datagram init = take().at(0);
    // Any flipped bit breaks mac1.
    for (std::size_t off = 4; off < kInitiationBytes - kMacBytes; off += 9) {
        Datagram bad = init;
        bad.bytes[off] ^= 0x10;
        EXPECT_EQ(deliver(b, bad).drop, Drop::kBadMac1) << off;
    }
    // With mac1 recomputed (anyone knowing B's public key can), the Noise AEADs still catch it.
    CookieMaker forger;
    forger.set_peer(b.id.peer().x25519);
    for (std::size_t off : {std::size_t(8), std::size_t(45), std::size_t(90), std::size_t(110)}) {
        Datagram bad = init;
        bad.bytes[off] ^= 0x01;
        forger.add_macs(bad.bytes.data(), kInitMac1Off, clock_.now_ns(), false);
        EXPECT_EQ(deliver(b, bad).drop, Drop::kHandshakeDecrypt) << off;
    }
    EXPECT_TRUE(wire_.empty());
    // The genuine initiation still works; a tampered response is refused and the real one accepted.
    EXPECT_EQ(deliver(b, init).kind, Kind::kControl);
    Datagram resp = take().at(0);
    Datagram bad = resp;
    bad.bytes[50] ^= 1;
    EXPECT_EQ(deliver(a, bad).drop, Drop::kBadMac1);
    CookieMaker forger_a;
    forger_a.set_peer(a.id.peer().x25519);
    forger_a.add_macs(bad.bytes.data(), kRespMac1Off, clock_.now_ns(), false);
    EXPECT_EQ(deliver(a, bad).drop, Drop::kHandshakeDecrypt);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_EQ(deliver(a, resp).kind, Kind::kSessionUp);
}

TEST_F(Net, TamperedTransportRefused) {
    auto [a, b, ab, ba] = connected_pair();
    Datagram d = seal(a, ab, text(9, 300));
    for (std::size_t off : {std::size_t(1), std::size_t(8), std::size_t(15), std::size_t(16), std::size_t(200),
                            d.bytes.size() - 1}) {
        Datagram bad = d;
        bad.bytes[off] ^= 0x04;
        RxEvent ev = deliver(b, bad);
        EXPECT_EQ(ev.kind, Kind::kDropped) << off;
    }
    EXPECT_GE(drops(b, Drop::kTransportDecrypt), 4u);
    Datagram bad_index = d;
    bad_index.bytes[5] ^= 0x40;
    EXPECT_EQ(deliver(b, bad_index).drop, Drop::kUnknownReceiver);
    // Forgeries did not move the window: the genuine packet still arrives, then only once.
    EXPECT_EQ(deliver(b, d).kind, Kind::kPayload);
    EXPECT_EQ(b.payloads.back(), text(9, 300));
    EXPECT_EQ(deliver(b, d).drop, Drop::kReplay);
}

TEST_F(Net, TransportReplayAndReorder) {
    auto [a, b, ab, ba] = connected_pair();
    std::vector<Datagram> sent;
    for (int i = 0; i < 3000; ++i) sent.push_back(seal(a, ab, text(i, 20)));
    // Deliver in reverse inside the window: all accepted once.
    for (int i = 2999; i >= 0; --i) ASSERT_EQ(deliver(b, sent[std::size_t(i)]).kind, Kind::kPayload) << i;
    for (int i = 0; i < 3000; i += 97) EXPECT_EQ(deliver(b, sent[std::size_t(i)]).drop, Drop::kReplay);
    // Far ahead, then the old ones are too old.
    std::vector<Datagram> later;
    for (int i = 0; i < 9000; ++i) later.push_back(seal(a, ab, text(i, 1)));
    EXPECT_EQ(deliver(b, later.back()).kind, Kind::kPayload);
    EXPECT_EQ(deliver(b, later[10]).drop, Drop::kReplay);
}

TEST_F(Net, CookieUnderLoadThenMac2Accepted) {
    LinkConfig loaded;
    loaded.handshakes_per_s_max = 0;   // every initiation counts as over the limit
    auto [a, b, ab, ba] = pair(LinkConfig{}, loaded);
    a.ep->connect(ab, a.sink);
    Datagram init = take().at(0);
    EXPECT_EQ(deliver(b, init).drop, Drop::kCookieSent);
    EXPECT_EQ(b.ep->stats().cookie_replies_sent, 1u);
    EXPECT_EQ(b.ep->stats().handshakes_completed, 0u);   // no DH, no state
    std::vector<Datagram> out = take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].bytes.size(), kCookieReplyBytes);
    EXPECT_EQ(out[0].to, a.addr);
    // A forged or misdirected cookie reply is refused.
    Datagram forged = out[0];
    forged.bytes[40] ^= 1;
    EXPECT_EQ(deliver(a, forged).drop, Drop::kBadCookie);
    EXPECT_EQ(deliver(a, out[0]).kind, Kind::kControl);
    // The retransmission carries mac2 and goes through, from the same source address only.
    clock_.advance_ns(kNsPerS);
    a.ep->tick(a.sink);
    Datagram retry = take().at(0);
    Datagram moved = retry;
    moved.from = Endpoint::sim(77);
    EXPECT_EQ(deliver(b, moved).drop, Drop::kBadMac2);
    take();
    EXPECT_EQ(deliver(b, retry).kind, Kind::kControl);
    pump();
    EXPECT_TRUE(a.ep->ready(ab));
    EXPECT_TRUE(b.ep->ready(ba));
}

TEST_F(Net, CookieOnlyAboveRate) {
    LinkConfig cfg;
    cfg.handshakes_per_s_max = 2;
    Node& b = node(10, cfg);
    std::vector<std::pair<Node*, PeerHandle>> initiators;
    for (uint8_t n = 1; n <= 4; ++n) {
        Node& x = node(n);
        initiators.push_back({&x, x.ep->add_peer(b.id.peer(), b.addr)});
    }
    for (auto [x, h] : initiators) x->ep->connect(h, x->sink);
    pump();
    EXPECT_EQ(b.ep->stats().handshakes_completed, 2u);
    EXPECT_EQ(drops(b, Drop::kCookieSent), 2u);
    // A second later the rate is fine again and the others get through (now with cookies anyway).
    clock_.advance_ns(kNsPerS);
    tick_all();
    pump();
    for (auto [x, h] : initiators) EXPECT_TRUE(x->ep->ready(h));
}

TEST_F(Net, StaleCookieRefused) {
    LinkConfig loaded;
    loaded.handshakes_per_s_max = 0;
    Node& b = node(2, loaded);
    Node& a = node(1);
    Node& c = node(3);
    PeerHandle ab = a.ep->add_peer(b.id.peer(), b.addr);
    PeerHandle cb = c.ep->add_peer(b.id.peer(), b.addr);
    handshake(a, ab);   // B's cookie secret is born now
    EXPECT_EQ(drops(b, Drop::kCookieSent), 1u);
    clock_.advance_ns(100 * kNsPerS);
    handshake(c, cb);   // C's cookie comes from the same secret, 100 s old
    EXPECT_EQ(drops(b, Drop::kCookieSent), 2u);
    clock_.advance_ns(21 * kNsPerS);   // the secret has rotated; C's cookie is 21 s old, so C still uses it
    c.ep->tick(c.sink);
    ASSERT_EQ(wire_.size(), 1u);
    pump();   // kBadMac2 and a fresh cookie reply
    EXPECT_EQ(drops(b, Drop::kBadMac2), 1u);
    EXPECT_FALSE(c.ep->ready(cb));
    clock_.advance_ns(kNsPerS);
    c.ep->tick(c.sink);
    pump();
    EXPECT_TRUE(c.ep->ready(cb));
}

TEST_F(Net, RekeyAt120sWithoutLoss) {
    auto [a, b, ab, ba] = connected_pair();
    uint64_t const completed = a.ep->stats().handshakes_completed;
    int sent_ab = 0, sent_ba = 0;
    for (int s = 0; s < 400; ++s) {   // 400 s, one packet each way per half second
        clock_.advance_ns(kNsPerS / 2);
        // Seal before the timers run, deliver after the handshake traffic: packets in flight across a rekey.
        Datagram x = seal(a, ab, text(s));
        Datagram y = seal(b, ba, text(10000 + s));
        ASSERT_FALSE(x.bytes.empty()) << s;
        ASSERT_FALSE(y.bytes.empty()) << s;
        ++sent_ab;
        ++sent_ba;
        tick_all();
        pump();
        deliver(b, x);
        deliver(a, y);
        pump();
    }
    EXPECT_EQ(int(b.payloads.size()), sent_ab);
    EXPECT_EQ(int(a.payloads.size()), sent_ba);
    for (int s = 0; s < sent_ab; ++s) EXPECT_EQ(b.payloads[std::size_t(s)], text(s)) << s;
    // 200 s of traffic: exactly one rekey (at 120 s).
    EXPECT_EQ(a.ep->stats().handshakes_completed, completed + 1);
    EXPECT_EQ(b.ep->stats().handshakes_completed, completed + 1);
    expect_no_drops(b);
    expect_no_drops(a);
}

TEST_F(Net, RekeyAfterPackets) {
    LinkConfig cfg;
    cfg.rekey_after_packets = 10;
    auto [a, b, ab, ba] = connected_pair(cfg, cfg);   // the confirmation keepalive was packet 1
    for (int i = 0; i < 8; ++i) deliver(b, seal(a, ab, text(i)));
    a.ep->tick(a.sink);
    EXPECT_TRUE(wire_.empty());
    deliver(b, seal(a, ab, text(8)));   // the 10th packet
    a.ep->tick(a.sink);
    ASSERT_EQ(wire_.size(), 1u);
    EXPECT_EQ(wire_.front().bytes.size(), kInitiationBytes);
    pump();
    EXPECT_EQ(a.ep->stats().handshakes_completed, 2u);
    EXPECT_EQ(deliver(b, seal(a, ab, text(9))).kind, Kind::kPayload);
}

TEST_F(Net, SessionRejectedAt180s) {
    auto [a, b, ab, ba] = connected_pair();
    clock_.advance_ns(180 * kNsPerS - 1);
    EXPECT_TRUE(a.ep->ready(ab));
    Datagram late = seal(a, ab, text(1));
    ASSERT_FALSE(late.bytes.empty());
    clock_.advance_ns(1);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_FALSE(b.ep->ready(ba));
    EXPECT_EQ(a.ep->seal(ab, std::vector<uint8_t>(64).data(), 8), 0u);
    EXPECT_EQ(deliver(b, late).drop, Drop::kExpired);
    tick_all();
    EXPECT_EQ(a.ep->stats().sessions_up, 0u);
    EXPECT_EQ(b.ep->stats().sessions_up, 0u);
    // A sent on its own session after rekey_after_ns, so its tick already started a new handshake.
    ASSERT_EQ(wire_.size(), 1u);
    EXPECT_EQ(wire_.front().bytes.size(), kInitiationBytes);
    pump();
    EXPECT_TRUE(a.ep->ready(ab));
    EXPECT_TRUE(b.ep->ready(ba));
}

TEST_F(Net, KeepaliveAfter10sOfReceiveOnly) {
    auto [a, b, ab, ba] = connected_pair();
    uint64_t const k0 = b.ep->stats().keepalives_sent;
    deliver(b, seal(a, ab, text(1)));
    clock_.advance_ns(10 * kNsPerS - 1);
    b.ep->tick(b.sink);
    EXPECT_TRUE(wire_.empty());
    clock_.advance_ns(1);
    b.ep->tick(b.sink);
    ASSERT_EQ(wire_.size(), 1u);
    EXPECT_EQ(wire_.front().bytes.size(), kTransportMinBytes);
    pump();
    EXPECT_EQ(a.events.back().kind, Kind::kKeepalive);
    EXPECT_EQ(b.ep->stats().keepalives_sent, k0 + 1);
    // Sending data in the meantime makes the keepalive unnecessary.
    deliver(b, seal(a, ab, text(2)));
    deliver(a, seal(b, ba, text(3)));
    clock_.advance_ns(11 * kNsPerS);
    b.ep->tick(b.sink);
    EXPECT_TRUE(wire_.empty());
}

TEST_F(Net, HandshakeRetransmitAndGiveUp) {
    auto [a, b, ab, ba] = pair();
    a.ep->connect(ab, a.sink);
    a.ep->connect(ab, a.sink);   // already in flight: nothing new
    EXPECT_EQ(take().size(), 1u);
    int sent = 1;
    for (int s = 1; s <= 40; ++s) {
        clock_.advance_ns(kNsPerS);
        a.ep->tick(a.sink);
        sent += int(take().size());   // lost
    }
    EXPECT_EQ(sent, 30);   // t = 0..29 s, then given up at 30 s
    EXPECT_EQ(a.ep->stats().handshakes_initiated, 30u);
    EXPECT_EQ(a.ep->stats().handshakes_given_up, 1u);
    EXPECT_FALSE(a.ep->ready(ab));
    // connect() starts again; a lost first attempt is recovered by the retransmission.
    a.ep->connect(ab, a.sink);
    EXPECT_EQ(take().size(), 1u);
    clock_.advance_ns(kNsPerS);
    a.ep->tick(a.sink);
    pump();
    EXPECT_TRUE(a.ep->ready(ab));
}

struct InteropCase {
    crypto::Provider pa, pb;
    uint8_t sa, sb;
};

class Interop : public Net, public ::testing::WithParamInterface<InteropCase> {};

TEST_P(Interop, ProvidersAndSuites) {
    InteropCase const c = GetParam();
    LinkConfig ca, cb;
    ca.provider = c.pa;
    cb.provider = c.pb;
    ca.suites_offered = c.sa;
    cb.suites_offered = c.sb;
    auto [a, b, ab, ba] = pair(ca, cb);
    bool const aes = crypto::suite_available(c.pa, crypto::Suite::kAes256Gcm) &&
                     crypto::suite_available(c.pb, crypto::Suite::kAes256Gcm);
    if ((c.sa & c.sb & 2) && !aes && !(c.sa & c.sb & 1)) GTEST_SKIP() << "AES-256-GCM unavailable here";
    connect_pair(a, ab, b, ba);
    uint8_t const expect = ((c.sa & c.sb & 2) && aes) ? 2 : 1;
    EXPECT_EQ(a.ep->session_suite(ab), expect);
    EXPECT_EQ(b.ep->session_suite(ba), expect);
    for (int i = 0; i < 20; ++i) {
        RxEvent ev = deliver(b, seal(a, ab, text(i, 1248)));
        ASSERT_EQ(ev.kind, Kind::kPayload);
        EXPECT_EQ(b.payloads.back(), text(i, 1248));
        ev = deliver(a, seal(b, ba, text(i + 50, 500)));
        ASSERT_EQ(ev.kind, Kind::kPayload);
        EXPECT_EQ(a.payloads.back(), text(i + 50, 500));
    }
}

constexpr crypto::Provider kS = crypto::Provider::kSodium, kO = crypto::Provider::kOpenSsl;
INSTANTIATE_TEST_SUITE_P(Link, Interop,
                         ::testing::Values(InteropCase{kS, kO, 3, 3}, InteropCase{kO, kS, 3, 3},
                                           InteropCase{kS, kO, 1, 3}, InteropCase{kO, kS, 3, 1},
                                           InteropCase{kS, kS, 1, 1}, InteropCase{kO, kO, 2, 2},
                                           InteropCase{kO, kO, 3, 3}, InteropCase{kS, kS, 2, 3}));

TEST_F(Net, NoCommonSuite) {
    LinkConfig ca, cb;
    ca.suites_offered = 1;
    cb.suites_offered = 2;
    cb.provider = crypto::Provider::kOpenSsl;
    auto [a, b, ab, ba] = pair(ca, cb);
    handshake(a, ab);
    EXPECT_FALSE(a.ep->ready(ab));
    EXPECT_EQ(drops(b, Drop::kNoSuite), 1u);
}

TEST_F(Net, PeerRoams) {
    auto [a, b, ab, ba] = connected_pair();
    EXPECT_EQ(b.ep->peer_endpoint(ba), a.addr);
    // A forged packet from elsewhere does not move the peer.
    Datagram d = seal(a, ab, text(1));
    Datagram forged = d;
    forged.from = Endpoint::sim(99);
    forged.bytes[20] ^= 1;
    EXPECT_EQ(deliver(b, forged).kind, Kind::kDropped);
    EXPECT_EQ(b.ep->peer_endpoint(ba), a.addr);
    // An authenticated one from a new address does.
    d.from = Endpoint::sim(42);
    EXPECT_EQ(deliver(b, d).kind, Kind::kPayload);
    EXPECT_EQ(b.ep->peer_endpoint(ba), Endpoint::sim(42));
    Datagram back = seal(b, ba, text(2));
    EXPECT_EQ(back.to, Endpoint::sim(42));
}

TEST_F(Net, ConfirmingPacketWithPayload) {
    // The responder's session is confirmed by the initiator's first packet; if the keepalive is lost and a data
    // packet confirms it, the payload is delivered and session_up is flagged.
    auto [a, b, ab, ba] = pair();
    a.ep->connect(ab, a.sink);
    deliver(b, take().at(0));
    EXPECT_FALSE(b.ep->ready(ba));   // not before key confirmation
    deliver(a, take().at(0));
    EXPECT_TRUE(a.ep->ready(ab));
    take();   // the keepalive is lost
    RxEvent ev = deliver(b, seal(a, ab, text(5)));
    EXPECT_EQ(ev.kind, Kind::kPayload);
    EXPECT_TRUE(ev.session_up);
    EXPECT_TRUE(b.ep->ready(ba));
}

}  // namespace
}  // namespace voxa::link
