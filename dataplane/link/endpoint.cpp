#include "link/endpoint.h"

#include <algorithm>
#include <cstring>

#include <sodium.h>

#include "common/bytes.h"
#include "crypto/hash.h"
#include "link/packet.h"
#include "voxa/assert.h"

namespace voxa::link {
namespace {

// WireGuard's REKEY_TIMEOUT: how long after sending data without hearing anything a new handshake starts
// (on top of keepalive_after_ns, so the peer's passive keepalive has time to arrive).
constexpr uint64_t kNoReplyGraceNs = 5 * kNsPerS;
// Anonymous peers idle this many reject_after periods may be replaced when the table is full.
constexpr uint64_t kReclaimAfterRejects = 3;

constexpr uint8_t suite_bit(crypto::Suite s) { return uint8_t(1u << (uint8_t(s) - 1)); }

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

void transport_nonce(uint64_t counter, uint8_t nonce[crypto::kAeadNonceBytes]) noexcept {
    std::memset(nonce, 0, 4);
    store_u64(nonce + 4, counter);
}

// Strictly increasing successor of a big-endian 96-bit timestamp.
Timestamp successor(Timestamp t) noexcept {
    for (std::size_t i = t.size(); i-- > 0;) {
        if (++t[i] != 0) break;
    }
    return t;
}

}  // namespace

namespace {

// The static key a worker initiates with (LinkConfig::worker).
StaticKeys worker_static(const crypto::Identity& self, uint8_t worker) noexcept {
    StaticKeys keys;
    if (worker == 0) {
        keys.secret = self.x25519_secret();
        keys.pub = self.peer().x25519;
        return keys;
    }
    uint8_t const input[1] = {worker};
    crypto::kdf({keys.secret.span()}, "voxa.link.worker", crypto::Bytes(input),
                crypto::Bytes(self.x25519_secret().span()));
    crypto_scalarmult_curve25519_base(keys.pub.data(), keys.secret.data());
    return keys;
}

}  // namespace

LinkEndpoint::LinkEndpoint(const crypto::Identity& self, const LinkConfig& config, const Clock& clock,
                           const WallClock& wall)
    : config_(config),
      clock_(clock),
      wall_(wall),
      by_index_(std::size_t(config.peers_max) * 5),   // per peer: handshake + 3 keypairs + 1 being installed
      by_static_(config.peers_max),
      by_id_(config.peers_max),
      checker_(self.peer().x25519),
      response_checker_(worker_static(self, config.worker).pub) {
    VOXA_CHECK(crypto::init());
    VOXA_CHECK(config.peers_max > 0 && config.peers_max < kNoPeer);
    self_.secret = self.x25519_secret();
    self_.pub = self.peer().x25519;
    initiator_ = worker_static(self, config.worker);
    uint8_t offered = 0;
    for (crypto::Suite s : {crypto::Suite::kChaCha20Poly1305, crypto::Suite::kAes256Gcm}) {
        if ((config.suites_offered & suite_bit(s)) && crypto::suite_available(config.provider, s)) {
            offered |= suite_bit(s);
        }
    }
    config_.suites_offered = offered;
    peers_.reserve(config.peers_max);
    arrivals_ns_.assign(std::size_t(config.handshakes_per_s_max) + 1, 0);
}

LinkEndpoint::~LinkEndpoint() = default;

const LinkStats& LinkEndpoint::stats() const noexcept { return stats_; }
const LinkConfig& LinkEndpoint::config() const noexcept { return config_; }

// ---- peers ---------------------------------------------------------------------------------------------------

PeerHandle LinkEndpoint::add_peer(const crypto::PeerIdentity& peer, const Endpoint& endpoint) {
    uint32_t h = by_id_.find(peer.id);
    if (h != kNoPeer) {
        peers_[h].endpoint = endpoint;
        return h;
    }
    h = by_static_.find(peer.x25519);
    if (h != kNoPeer) {
        Peer& p = peers_[h];
        if (!p.anonymous) return kNoPeer;   // another identity claims the same X25519 key: refuse
        by_id_.erase(p.identity.id);
        p.identity = peer;
        p.anonymous = false;
        p.endpoint = endpoint;
        VOXA_CHECK(by_id_.insert(peer.id, h));
        return h;
    }
    h = allocate_peer(clock_.now_ns());
    if (h == kNoPeer) return kNoPeer;
    Peer& p = peers_[h];
    p.identity = peer;
    p.endpoint = endpoint;
    p.cookie.set_peer(peer.x25519);
    VOXA_CHECK(by_static_.insert(peer.x25519, h));
    VOXA_CHECK(by_id_.insert(peer.id, h));
    return h;
}

PeerHandle LinkEndpoint::find_peer(const NodeId& id) const noexcept { return by_id_.find(id); }

const crypto::PeerIdentity& LinkEndpoint::peer_identity(PeerHandle peer) const noexcept {
    VOXA_CHECK(peer < peers_.size());
    return peers_[peer].identity;
}

Endpoint LinkEndpoint::peer_endpoint(PeerHandle peer) const noexcept {
    return peer < peers_.size() ? peers_[peer].endpoint : Endpoint{};
}

// A slot for a new peer: a fresh one while the table has room, else an anonymous peer long idle (an initiator we
// never knew, whose sessions all expired). The scan is O(peers_max) but runs only for handshakes on a full table.
PeerHandle LinkEndpoint::allocate_peer(uint64_t now_ns) noexcept {
    if (peers_.size() < config_.peers_max) {
        peers_.emplace_back();
        peers_.back().in_use = true;
        return PeerHandle(peers_.size() - 1);
    }
    uint64_t const idle_ns = kReclaimAfterRejects * config_.reject_after_ns;
    for (std::size_t h = 0; h < peers_.size(); ++h) {
        Peer& p = peers_[h];
        if (!p.anonymous || p.hs_active || p.current != kNoSlot || p.previous != kNoSlot || p.next != kNoSlot) {
            continue;
        }
        if (now_ns - p.last_activity_ns < idle_ns) continue;
        reset_peer(p);
        p.in_use = true;
        return PeerHandle(h);
    }
    return kNoPeer;
}

void LinkEndpoint::reset_peer(Peer& p) noexcept {
    end_handshake(p);
    drop_keypair(p, &p.current);
    drop_keypair(p, &p.previous);
    drop_keypair(p, &p.next);
    if (p.up) --stats_.sessions_up;
    by_static_.erase(p.identity.x25519);
    by_id_.erase(p.identity.id);
    p = Peer{};
}

PeerHandle LinkEndpoint::peer_for_initiator(const PublicKey& x25519, uint64_t now_ns, Drop* why) noexcept {
    PeerHandle h = by_static_.find(x25519);
    if (h != kNoPeer) return h;
    if (!config_.accept_unknown_peers) {
        *why = Drop::kUnknownPeer;
        return kNoPeer;
    }
    h = allocate_peer(now_ns);
    if (h == kNoPeer) {
        *why = Drop::kPeersFull;
        return kNoPeer;
    }
    Peer& p = peers_[h];
    p.anonymous = true;
    p.identity.x25519 = x25519;
    crypto::hash(p.identity.id, "voxa.link.anon", {crypto::Bytes(x25519)});
    p.cookie.set_peer(x25519);
    p.last_activity_ns = now_ns;
    VOXA_CHECK(by_static_.insert(x25519, h));
    VOXA_CHECK(by_id_.insert(p.identity.id, h));
    return h;
}

// A fresh random receiver index mapped to `peer`. Indices in use are at most 5 * peers_max of 2^32, so the loop
// ends at once in practice; it is bounded anyway.
uint32_t LinkEndpoint::new_index(PeerHandle peer) noexcept {
    for (int tries = 0; tries < 1000; ++tries) {
        uint32_t idx;
        randombytes_buf(&idx, sizeof idx);
        idx = (idx & 0x00ffffffu) | (uint32_t(config_.worker) << 24);   // the steering byte (see LinkConfig)
        if (idx == FixedMap<uint32_t, IndexHasher>::kAbsent || by_index_.find(idx) != kNoPeer) continue;
        VOXA_CHECK(by_index_.insert(idx, peer));
        return idx;
    }
    VOXA_CHECK(!"no free receiver index");
    return 0;
}

// ---- keypairs ------------------------------------------------------------------------------------------------

bool LinkEndpoint::may_send(const Keypair* kp, uint64_t now_ns) const noexcept {
    return kp && kp->live && now_ns - kp->birth_ns < config_.reject_after_ns &&
           kp->send_counter < ReplayWindow::kRejectAfterMessages;
}

bool LinkEndpoint::may_receive(const Keypair* kp, uint64_t now_ns) const noexcept {
    return kp && kp->live && now_ns - kp->birth_ns < config_.reject_after_ns;
}

void LinkEndpoint::update_up(Peer& p, uint64_t now_ns) noexcept {
    bool const up = may_send(p.keypair(p.current), now_ns);
    if (up == p.up) return;
    p.up = up;
    if (up) {
        ++stats_.sessions_up;
    } else {
        --stats_.sessions_up;
    }
}

int8_t LinkEndpoint::free_slot(const Peer& p) const noexcept {
    for (int8_t i = 0; i < int8_t(kKeypairSlots); ++i) {
        if (i != p.current && i != p.previous && i != p.next && !p.slots[std::size_t(i)].live) return i;
    }
    VOXA_CHECK(!"no free keypair slot");   // 4 slots, at most 3 roles
    return kNoSlot;
}

void LinkEndpoint::drop_keypair(Peer& p, int8_t* role) noexcept {
    if (*role == kNoSlot) return;
    Keypair& kp = p.slots[std::size_t(*role)];
    by_index_.erase(kp.local_index);
    kp.send.reset();   // the key objects wipe their keys
    kp.recv.reset();
    kp.live = false;
    *role = kNoSlot;
}

bool LinkEndpoint::install_keypair(Peer& p, int8_t slot, TransportKeys& keys, crypto::Suite suite,
                                   uint32_t local_index, uint32_t remote_index, bool initiator,
                                   uint64_t now_ns) noexcept {
    Keypair& kp = p.slots[std::size_t(slot)];
    kp.send = crypto::make_aead(config_.provider, suite, keys.send.span());
    kp.recv = crypto::make_aead(config_.provider, suite, keys.recv.span());
    keys.send.wipe();
    keys.recv.wipe();
    if (!kp.send || !kp.recv) {
        kp.send.reset();
        kp.recv.reset();
        return false;
    }
    kp.window.reset();
    kp.send_counter = 0;
    kp.birth_ns = now_ns;
    kp.local_index = local_index;
    kp.remote_index = remote_index;
    kp.initiator = initiator;
    kp.live = true;
    return true;
}

// ---- handshakes ----------------------------------------------------------------------------------------------

void LinkEndpoint::end_handshake(Peer& p) noexcept {
    if (!p.hs_active) return;
    by_index_.erase(p.hs_index);
    p.hs_active = false;
    p.hs.sym.ck.wipe();
    p.hs.e_secret.wipe();
}

void LinkEndpoint::start_handshake(PeerHandle h, TxSink& tx, uint64_t now_ns) noexcept {
    Peer& p = peers_[h];
    if (p.hs_active) return;
    p.hs_started_ns = now_ns;
    send_initiation(h, tx, now_ns);
}

// Every attempt (first or retransmitted) is a new handshake: new index, ephemeral and timestamp, as in WireGuard.
void LinkEndpoint::send_initiation(PeerHandle h, TxSink& tx, uint64_t now_ns) noexcept {
    Peer& p = peers_[h];
    if (p.hs_active) by_index_.erase(p.hs_index);
    p.hs_active = false;
    uint32_t const idx = new_index(h);

    InitiationPayload payload;
    payload.timestamp = tai64n(wall_.unix_ns());
    if (std::memcmp(payload.timestamp.data(), p.last_sent_ts.data(), kTimestampBytes) <= 0) {
        payload.timestamp = successor(p.last_sent_ts);   // the wall clock did not move: keep them increasing
    }
    p.last_sent_ts = payload.timestamp;
    payload.suites = config_.suites_offered;

    uint8_t msg[kInitiationBytes];
    if (!create_initiation(initiator_, p.identity.x25519, idx, payload, msg, &p.hs)) {
        by_index_.erase(idx);   // the peer's static key is a low-order point: no handshake is possible
        ++stats_.handshakes_given_up;
        return;
    }
    p.cookie.add_macs(msg, kInitMac1Off, now_ns, true);
    p.hs_active = true;
    p.hs_index = idx;
    p.hs_next_retry_ns = now_ns + config_.handshake_retry_ns;
    ++stats_.handshakes_initiated;
    transmit(tx, p.endpoint, msg, sizeof msg);
}

// Whether more than handshakes_per_s_max initiations (this one included) arrived within the last second. The ring
// holds the last max + 1 arrival times; the oldest of them is the one about to be overwritten.
bool LinkEndpoint::under_load(uint64_t now_ns) noexcept {
    std::size_t const n = arrivals_ns_.size();
    arrivals_ns_[arrivals_pos_] = now_ns;
    arrivals_pos_ = arrivals_pos_ + 1 == n ? 0 : arrivals_pos_ + 1;
    ++arrivals_seen_;
    if (arrivals_seen_ < n) return false;
    return now_ns - arrivals_ns_[arrivals_pos_] < kNsPerS;
}

RxEvent LinkEndpoint::on_initiation(const Endpoint& from, const uint8_t* msg, TxSink& tx, uint64_t now_ns) noexcept {
    if (!checker_.mac1_ok(msg, kInitMac1Off)) return dropped(Drop::kBadMac1);
    if (under_load(now_ns) && !checker_.mac2_ok(msg, kInitMac1Off, from, now_ns)) {
        // No DH and no state: answer with a cookie the initiator can only read at its source address.
        bool const no_mac2 = sodium_is_zero(msg + kInitMac2Off, kMacBytes) == 1;
        uint8_t reply[kCookieReplyBytes];
        checker_.write_reply(load_u32(msg + kInitSenderOff), msg + kInitMac1Off, from, now_ns, reply);
        ++stats_.cookie_replies_sent;
        transmit(tx, from, reply, sizeof reply);
        return dropped(no_mac2 ? Drop::kCookieSent : Drop::kBadMac2);
    }

    ResponderState st;
    InitiationPayload payload;
    if (!consume_initiation(self_, msg, &st, &payload)) return dropped(Drop::kHandshakeDecrypt);
    Drop why = Drop::kNone;
    PeerHandle const h = peer_for_initiator(st.remote_static, now_ns, &why);
    if (h == kNoPeer) return dropped(why);
    Peer& p = peers_[h];
    if (std::memcmp(payload.timestamp.data(), p.greatest_seen_ts.data(), kTimestampBytes) <= 0) {
        return dropped(Drop::kReplayedHandshake, h);
    }
    uint8_t const common = payload.suites & config_.suites_offered;
    crypto::Suite suite;
    if (common & suite_bit(crypto::Suite::kAes256Gcm)) {
        suite = crypto::Suite::kAes256Gcm;
    } else if (common & suite_bit(crypto::Suite::kChaCha20Poly1305)) {
        suite = crypto::Suite::kChaCha20Poly1305;
    } else {
        return dropped(Drop::kNoSuite, h);
    }
    p.greatest_seen_ts = payload.timestamp;

    uint32_t const local = new_index(h);
    uint32_t const remote = load_u32(msg + kInitSenderOff);
    uint8_t resp[kResponseBytes];
    TransportKeys keys;
    int8_t const slot = free_slot(p);
    if (!create_response(&st, local, remote, uint8_t(suite), resp, &keys) ||
        !install_keypair(p, slot, keys, suite, local, remote, false, now_ns)) {
        by_index_.erase(local);
        return dropped(Drop::kHandshakeDecrypt, h);
    }
    p.cookie.add_macs(resp, kRespMac1Off, now_ns, false);
    // A responder's keypair waits in `next` until the initiator proves it has it (its first transport packet).
    drop_keypair(p, &p.next);
    p.next = slot;
    p.endpoint = from;
    p.last_activity_ns = now_ns;
    ++stats_.handshakes_completed;
    transmit(tx, from, resp, sizeof resp);
    RxEvent ev;
    ev.kind = RxEvent::Kind::kControl;
    ev.peer = h;
    return ev;
}

RxEvent LinkEndpoint::on_response(const Endpoint& from, const uint8_t* msg, TxSink& tx, uint64_t now_ns) noexcept {
    if (!response_checker_.mac1_ok(msg, kRespMac1Off)) return dropped(Drop::kBadMac1);
    uint32_t const local = load_u32(msg + kRespReceiverOff);
    PeerHandle const h = by_index_.find(local);
    if (h == kNoPeer || !peers_[h].hs_active || peers_[h].hs_index != local) return dropped(Drop::kUnknownReceiver);
    Peer& p = peers_[h];

    uint8_t suite_value = 0;
    TransportKeys keys;
    if (!consume_response(&p.hs, initiator_, msg, &suite_value, &keys)) return dropped(Drop::kHandshakeDecrypt, h);
    // The handshake is spent either way now; its index lives on as the keypair's.
    p.hs_active = false;
    bool const known_suite = suite_value == uint8_t(crypto::Suite::kChaCha20Poly1305) ||
                             suite_value == uint8_t(crypto::Suite::kAes256Gcm);
    auto const suite = crypto::Suite(suite_value);
    int8_t const slot = free_slot(p);
    if (!known_suite || !(config_.suites_offered & suite_bit(suite)) ||
        !install_keypair(p, slot, keys, suite, local, load_u32(msg + kRespSenderOff), true, now_ns)) {
        by_index_.erase(local);
        return dropped(Drop::kNoSuite, h);
    }
    // WireGuard's role shuffle for the initiator: the new keypair is current at once.
    if (p.next != kNoSlot) {
        drop_keypair(p, &p.previous);
        drop_keypair(p, &p.current);
        p.previous = p.next;
        p.next = kNoSlot;
    } else {
        drop_keypair(p, &p.previous);
        p.previous = p.current;
    }
    p.current = slot;
    p.endpoint = from;
    p.last_activity_ns = now_ns;
    p.no_reply_due_ns = 0;
    p.want_handshake = false;
    ++stats_.handshakes_completed;
    update_up(p, now_ns);
    send_keepalive(p, tx, now_ns);   // key confirmation for the responder
    RxEvent ev;
    ev.kind = RxEvent::Kind::kSessionUp;
    ev.peer = h;
    ev.session_up = true;
    return ev;
}

RxEvent LinkEndpoint::on_cookie_reply(const uint8_t* msg, uint64_t now_ns) noexcept {
    uint32_t const local = load_u32(msg + kCookieReceiverOff);
    PeerHandle const h = by_index_.find(local);
    if (h == kNoPeer || !peers_[h].hs_active || peers_[h].hs_index != local) return dropped(Drop::kUnknownReceiver);
    if (!peers_[h].cookie.consume_reply(msg, now_ns)) return dropped(Drop::kBadCookie, h);
    // The next retransmission (tick) carries mac2; answering at once would let a flood of replies drive us.
    RxEvent ev;
    ev.kind = RxEvent::Kind::kControl;
    ev.peer = h;
    return ev;
}

// ---- transport -----------------------------------------------------------------------------------------------

RxEvent LinkEndpoint::on_transport(const Endpoint& from, uint8_t* datagram, std::size_t len, TxSink& tx,
                                   uint64_t now_ns) noexcept {
    uint32_t const local = load_u32(datagram + kTransportReceiverOff);
    uint64_t const counter = load_u64(datagram + kTransportCounterOff);
    PeerHandle const h = by_index_.find(local);
    if (h == kNoPeer) return dropped(Drop::kUnknownReceiver);
    Peer& p = peers_[h];
    int8_t role = kNoSlot;
    for (int8_t r : {p.current, p.previous, p.next}) {
        if (r != kNoSlot && p.slots[std::size_t(r)].live && p.slots[std::size_t(r)].local_index == local) role = r;
    }
    if (role == kNoSlot) return dropped(Drop::kUnknownReceiver);   // e.g. a handshake's index
    Keypair& kp = p.slots[std::size_t(role)];
    if (!may_receive(&kp, now_ns)) return dropped(Drop::kExpired, h);
    // A cheap look at the window first saves the AEAD for obvious replays; the window is only updated after the
    // packet authenticates, so a forged counter never moves it.
    switch (kp.window.check(counter)) {
        case ReplayWindow::Verdict::kAccept: break;
        case ReplayWindow::Verdict::kCounterWrap: return dropped(Drop::kCounterWrap, h);
        default: return dropped(Drop::kReplay, h);
    }
    std::size_t const payload_len = len - wire::kLinkOverheadBytes;
    uint8_t nonce[crypto::kAeadNonceBytes];
    transport_nonce(counter, nonce);
    uint8_t* payload = datagram + wire::kLinkHeaderBytes;
    if (!kp.recv->open(nonce, std::span<const uint8_t>(datagram, wire::kLinkHeaderBytes), payload, payload_len,
                       payload + payload_len)) {
        return dropped(Drop::kTransportDecrypt, h);
    }
    if (kp.window.update(counter) != ReplayWindow::Verdict::kAccept) return dropped(Drop::kReplay, h);

    p.endpoint = from;   // roaming: the last authenticated source wins
    p.last_activity_ns = now_ns;
    p.no_reply_due_ns = 0;
    bool session_up = false;
    if (role == p.next) {
        // Key confirmation: the initiator has the keypair, so we may send with it.
        drop_keypair(p, &p.previous);
        p.previous = p.current;
        p.current = p.next;
        p.next = kNoSlot;
        update_up(p, now_ns);
        session_up = true;
    }
    if (payload_len > 0 && p.keepalive_due_ns == 0) p.keepalive_due_ns = now_ns + config_.keepalive_after_ns;
    // WireGuard's receive-side freshness: an initiator that only receives still rekeys before the session dies.
    if (role == p.current && kp.initiator && !p.hs_active &&
        now_ns - kp.birth_ns >= saturating_sub(config_.reject_after_ns,
                                               config_.keepalive_after_ns + config_.handshake_retry_ns)) {
        start_handshake(h, tx, now_ns);
    }

    RxEvent ev;
    ev.peer = h;
    ev.session_up = session_up;
    if (payload_len > 0) {
        ev.kind = RxEvent::Kind::kPayload;
        ev.payload = payload;
        ev.payload_len = payload_len;
    } else {
        ev.kind = session_up ? RxEvent::Kind::kSessionUp : RxEvent::Kind::kKeepalive;
    }
    return ev;
}

RxEvent LinkEndpoint::receive(const Endpoint& from, uint8_t* datagram, std::size_t len, TxSink& tx) noexcept {
    ++stats_.packets_in;
    stats_.bytes_in += len;
    LinkPacketView view;
    Drop const why = parse_link_packet(std::span<const uint8_t>(datagram, len), &view);
    if (why != Drop::kNone) return dropped(why);
    uint64_t const now_ns = clock_.now_ns();
    switch (view.type) {
        case wire::LinkType::kTransport: return on_transport(from, datagram, len, tx, now_ns);
        case wire::LinkType::kInitiation: return on_initiation(from, datagram, tx, now_ns);
        case wire::LinkType::kResponse: return on_response(from, datagram, tx, now_ns);
        case wire::LinkType::kCookieReply: return on_cookie_reply(datagram, now_ns);
    }
    return dropped(Drop::kBadType);
}

std::size_t LinkEndpoint::seal_with(Peer& p, Keypair& kp, uint8_t* packet, std::size_t payload_len,
                                    uint64_t now_ns) noexcept {
    uint64_t const counter = kp.send_counter++;
    packet[0] = uint8_t(wire::LinkType::kTransport);
    packet[1] = packet[2] = packet[3] = 0;
    store_u32(packet + kTransportReceiverOff, kp.remote_index);
    store_u64(packet + kTransportCounterOff, counter);
    uint8_t nonce[crypto::kAeadNonceBytes];
    transport_nonce(counter, nonce);
    uint8_t* payload = packet + wire::kLinkHeaderBytes;
    kp.send->seal(nonce, std::span<const uint8_t>(packet, wire::kLinkHeaderBytes), payload, payload_len,
                  payload + payload_len);
    std::size_t const len = payload_len + wire::kLinkOverheadBytes;
    ++stats_.packets_out;
    stats_.bytes_out += len;
    p.keepalive_due_ns = 0;   // anything sent answers the peer
    if (payload_len > 0 && p.no_reply_due_ns == 0) {
        p.no_reply_due_ns = now_ns + config_.keepalive_after_ns + kNoReplyGraceNs;
    }
    if ((kp.initiator && now_ns - kp.birth_ns >= config_.rekey_after_ns) ||
        kp.send_counter >= config_.rekey_after_packets) {
        p.want_handshake = true;   // tick() starts it; this keypair keeps sending until the new one is up
    }
    return len;
}

std::size_t LinkEndpoint::seal(PeerHandle peer, uint8_t* packet, std::size_t payload_len) noexcept {
    if (peer >= peers_.size()) return 0;
    VOXA_ASSERT(payload_len + wire::kLinkOverheadBytes <= kTransportMaxBytes);
    Peer& p = peers_[peer];
    uint64_t const now_ns = clock_.now_ns();
    Keypair* kp = p.keypair(p.current);
    if (!may_send(kp, now_ns)) [[unlikely]] {
        update_up(p, now_ns);
        return 0;
    }
    return seal_with(p, *kp, packet, payload_len, now_ns);
}

void LinkEndpoint::send_keepalive(Peer& p, TxSink& tx, uint64_t now_ns) noexcept {
    Keypair* kp = p.keypair(p.current);
    if (!may_send(kp, now_ns)) return;
    uint8_t packet[wire::kLinkOverheadBytes];
    std::size_t const len = seal_with(p, *kp, packet, 0, now_ns);
    ++stats_.keepalives_sent;
    tx.transmit(p.endpoint, std::span<const uint8_t>(packet, len));   // counted as sent by seal_with
}

bool LinkEndpoint::ready(PeerHandle peer) const noexcept {
    if (peer >= peers_.size()) return false;
    const Peer& p = peers_[peer];
    return may_send(p.keypair(p.current), clock_.now_ns());
}

uint8_t LinkEndpoint::session_suite(PeerHandle peer) const noexcept {
    if (peer >= peers_.size()) return 0;
    const Keypair* kp = peers_[peer].keypair(peers_[peer].current);
    return kp && kp->live ? uint8_t(kp->send->suite()) : 0;
}

void LinkEndpoint::connect(PeerHandle peer, TxSink& tx) noexcept {
    if (peer >= peers_.size() || !peers_[peer].in_use) return;
    if (peers_[peer].hs_active || ready(peer)) return;
    start_handshake(peer, tx, clock_.now_ns());
}

void LinkEndpoint::tick(TxSink& tx) noexcept {
    uint64_t const now_ns = clock_.now_ns();
    for (PeerHandle h = 0; h < peers_.size(); ++h) {
        Peer& p = peers_[h];
        if (!p.in_use) continue;
        // Expired keypairs are of no use for sending or receiving: wipe them now rather than keep keys around.
        for (int8_t* role : {&p.current, &p.previous, &p.next}) {
            const Keypair* kp = p.keypair(*role);
            if (kp && now_ns - kp->birth_ns >= config_.reject_after_ns) drop_keypair(p, role);
        }
        if (p.hs_active && now_ns >= p.hs_next_retry_ns) {
            if (now_ns - p.hs_started_ns >= config_.handshake_give_up_ns) {
                end_handshake(p);
                p.want_handshake = false;
                ++stats_.handshakes_given_up;
            } else {
                send_initiation(h, tx, now_ns);
            }
        }
        if (p.no_reply_due_ns != 0 && now_ns >= p.no_reply_due_ns) {
            p.no_reply_due_ns = 0;
            p.want_handshake = true;
        }
        if (p.want_handshake) {
            p.want_handshake = false;
            start_handshake(h, tx, now_ns);
        }
        if (p.keepalive_due_ns != 0 && now_ns >= p.keepalive_due_ns) {
            p.keepalive_due_ns = 0;
            send_keepalive(p, tx, now_ns);
        }
        update_up(p, now_ns);
    }
}

void LinkEndpoint::transmit(TxSink& tx, const Endpoint& to, const uint8_t* data, std::size_t len) noexcept {
    ++stats_.packets_out;
    stats_.bytes_out += len;
    tx.transmit(to, std::span<const uint8_t>(data, len));
}

RxEvent LinkEndpoint::dropped(Drop why, PeerHandle peer) noexcept {
    ++stats_.drops[std::size_t(why)];
    RxEvent ev;
    ev.kind = RxEvent::Kind::kDropped;
    ev.drop = why;
    ev.peer = peer;
    return ev;
}

}  // namespace voxa::link
