// Link sessions between neighbouring nodes over UDP: WireGuard's design with BLAKE2b (docs/protocol-link.md).
//
// A LinkEndpoint holds every link session of one node (one worker): a table of peers sized at construction
// (peers_max), each with up to three keypairs (current, previous, next) and at most one handshake in flight.
// The caller owns the sockets: it hands every received datagram to receive(), seals outgoing payloads in place
// with seal() and sends the result to peer_endpoint(), and calls tick() every 10-100 ms. Handshake messages,
// cookie replies and keepalives the endpoint itself produces go out through the caller's TxSink.
//
// Data-plane rules: receive() and seal() never throw, never log and never allocate on the transport path;
// a malformed or unauthenticated datagram is dropped and counted in stats().drops by Drop reason. Handshakes
// allocate the two AEAD key objects of the new session (one per handshake, never per packet).
// Times come from the injected Clock (monotonic ns) and, for initiation timestamps only, the WallClock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/endpoint.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "link/cookie.h"
#include "link/drop.h"
#include "link/handshake.h"
#include "link/session.h"
#include "link/table.h"
#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::link {

using PeerHandle = uint32_t;
inline constexpr PeerHandle kNoPeer = ~0u;

struct LinkConfig {
    crypto::Provider provider = crypto::default_provider();
    uint8_t suites_offered = 0x3;               // bit0 ChaCha20-Poly1305, bit1 AES-256-GCM (masked by availability)
    uint64_t rekey_after_ns = 120 * kNsPerS;
    uint64_t reject_after_ns = 180 * kNsPerS;
    uint64_t rekey_after_packets = 1ull << 60;
    uint64_t keepalive_after_ns = 10 * kNsPerS;
    uint64_t handshake_retry_ns = 1 * kNsPerS;
    uint64_t handshake_give_up_ns = 30 * kNsPerS;
    uint32_t handshakes_per_s_max = 1000;       // above this rate, initiations need a cookie (mac2)
    uint32_t peers_max = 4096;
    bool accept_unknown_peers = true;           // relays accept initiators not in the directory (clients)
    std::size_t cell_bytes = wire::kCellBytesDefault;
    // The worker (data-plane thread) this endpoint belongs to. Every receiver index it hands out carries the worker
    // in its top byte, so a datagram can be steered to its session's worker before it is decrypted
    // (dataplane/io/steering.h). Worker 0 initiates with the node's static key; worker w > 0 with its own key
    // derived from it (BLAKE2b KDF, label "voxa.link.worker", input w), so that the sessions two workers of one
    // node open to the same responder are two peers there, never one peer whose sessions replace each other.
    // Responders always answer with the node's key, whichever worker receives the initiation.
    uint8_t worker = 0;
};

struct LinkStats {
    uint64_t drops[std::size_t(Drop::kCount)] = {};
    uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;   // every datagram, any type
    uint64_t handshakes_initiated = 0, handshakes_completed = 0, cookie_replies_sent = 0, keepalives_sent = 0;
    uint64_t sessions_up = 0;                   // currently usable sessions
    // Added beyond the agreed API:
    uint64_t handshakes_given_up = 0;           // handshakes abandoned after handshake_give_up_ns
    // handshakes_initiated counts every initiation message sent (first attempts and retransmissions);
    // handshakes_completed counts keypairs installed on either side (initiator: response; responder: initiation).
};

// Where handshake messages, cookie replies and keepalives go. Called synchronously; copies the bytes.
class TxSink {
public:
    virtual ~TxSink() = default;
    virtual void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept = 0;
};

struct RxEvent {
    enum class Kind : uint8_t { kDropped, kControl, kSessionUp, kPayload, kKeepalive };
    Kind kind = Kind::kDropped;
    Drop drop = Drop::kNone;       // set when kind == kDropped
    PeerHandle peer = kNoPeer;     // set for kSessionUp, kPayload, kKeepalive (and kControl when known)
    uint8_t* payload = nullptr;    // kPayload: decrypted in place inside the caller's datagram buffer
    std::size_t payload_len = 0;
    // Added beyond the agreed API: true whenever this datagram made a session usable for sending. Usually the
    // kind is then kSessionUp; but when a responder's session is confirmed by a packet that carries a payload,
    // kind is kPayload (the payload is not lost) and only this flag tells that the session came up.
    bool session_up = false;
};

// All link sessions of one node (one worker). Not thread-safe: one thread owns it.
class LinkEndpoint {
public:
    // `self`, `clock` and `wall` must outlive the endpoint (self's keys are copied; the clocks are referenced).
    LinkEndpoint(const crypto::Identity& self, const LinkConfig& config, const Clock& clock, const WallClock& wall);
    ~LinkEndpoint();
    LinkEndpoint(const LinkEndpoint&) = delete;
    LinkEndpoint& operator=(const LinkEndpoint&) = delete;

    // Adds a peer with a known identity and endpoint (or updates the endpoint of a known one). kNoPeer when full.
    // An anonymous peer (one that initiated to us before we knew it) with the same X25519 key is upgraded in
    // place and keeps its handle.
    PeerHandle add_peer(const crypto::PeerIdentity& peer, const Endpoint& endpoint);
    PeerHandle find_peer(const NodeId& id) const noexcept;
    // For an anonymous peer, ed25519 is all zero and id is BLAKE2b-256(personal "voxa.link.anon", x25519).
    const crypto::PeerIdentity& peer_identity(PeerHandle peer) const noexcept;
    Endpoint peer_endpoint(PeerHandle peer) const noexcept;   // roams to the source of the last authenticated packet
    // Processes one datagram received from `from`. Transport payloads are decrypted in place. Handshake replies,
    // cookie replies and confirmation keepalives are sent through `tx`. kSessionUp is returned when a session
    // becomes usable for sending (initiator: on the response; responder: on the first transport packet).
    RxEvent receive(const Endpoint& from, uint8_t* datagram, std::size_t len, TxSink& tx) noexcept;
    bool ready(PeerHandle peer) const noexcept;               // a session exists that may send now
    void connect(PeerHandle peer, TxSink& tx) noexcept;       // start a handshake unless one is in flight or ready
    // Seals in place: the payload sits at packet + wire::kLinkHeaderBytes (payload_len bytes) and the buffer has
    // room for the 16-byte tag after it. Returns the datagram length to send to peer_endpoint(peer), or 0 when no
    // session may send (the caller keeps its payload and calls connect()).
    std::size_t seal(PeerHandle peer, uint8_t* packet, std::size_t payload_len) noexcept;
    // Timers: handshake retransmits and give-up, rekey, keepalives, session expiry. Call often (every 10-100 ms).
    void tick(TxSink& tx) noexcept;
    const LinkStats& stats() const noexcept;
    const LinkConfig& config() const noexcept;
    // Added beyond the agreed API: the crypto::Suite value (1 or 2) of the peer's current session, 0 if none.
    uint8_t session_suite(PeerHandle peer) const noexcept;

private:
    RxEvent on_initiation(const Endpoint& from, const uint8_t* msg, TxSink& tx, uint64_t now_ns) noexcept;
    RxEvent on_response(const Endpoint& from, const uint8_t* msg, TxSink& tx, uint64_t now_ns) noexcept;
    RxEvent on_cookie_reply(const uint8_t* msg, uint64_t now_ns) noexcept;
    RxEvent on_transport(const Endpoint& from, uint8_t* datagram, std::size_t len, TxSink& tx,
                         uint64_t now_ns) noexcept;

    bool under_load(uint64_t now_ns) noexcept;
    PeerHandle allocate_peer(uint64_t now_ns) noexcept;
    PeerHandle peer_for_initiator(const PublicKey& x25519, uint64_t now_ns, Drop* why) noexcept;
    uint32_t new_index(PeerHandle peer) noexcept;
    void send_initiation(PeerHandle h, TxSink& tx, uint64_t now_ns) noexcept;
    void start_handshake(PeerHandle h, TxSink& tx, uint64_t now_ns) noexcept;
    void end_handshake(Peer& p) noexcept;
    int8_t free_slot(const Peer& p) const noexcept;
    void drop_keypair(Peer& p, int8_t* role) noexcept;
    bool install_keypair(Peer& p, int8_t slot, TransportKeys& keys, crypto::Suite suite,
                         uint32_t local_index, uint32_t remote_index, bool initiator, uint64_t now_ns) noexcept;
    bool may_send(const Keypair* kp, uint64_t now_ns) const noexcept;
    bool may_receive(const Keypair* kp, uint64_t now_ns) const noexcept;
    void update_up(Peer& p, uint64_t now_ns) noexcept;
    std::size_t seal_with(Peer& p, Keypair& kp, uint8_t* packet, std::size_t payload_len, uint64_t now_ns) noexcept;
    void send_keepalive(Peer& p, TxSink& tx, uint64_t now_ns) noexcept;
    void transmit(TxSink& tx, const Endpoint& to, const uint8_t* data, std::size_t len) noexcept;
    RxEvent dropped(Drop why, PeerHandle peer = kNoPeer) noexcept;
    void reset_peer(Peer& p) noexcept;

    StaticKeys self_;        // answers initiations (the node's published key)
    StaticKeys initiator_;   // starts handshakes: self_ on worker 0, a derived key on other workers
    LinkConfig config_;
    const Clock& clock_;
    const WallClock& wall_;
    std::vector<Peer> peers_;   // reserved to peers_max; a handle is an index
    FixedMap<uint32_t, IndexHasher> by_index_;
    FixedMap<PublicKey, Key32Hasher> by_static_;
    FixedMap<NodeId, Key32Hasher> by_id_;
    CookieChecker checker_;            // mac1/mac2 of initiations to self_
    CookieChecker response_checker_;   // mac1 of responses to initiator_
    std::vector<uint64_t> arrivals_ns_;   // ring of the last handshakes_per_s_max + 1 initiation arrival times
    std::size_t arrivals_pos_ = 0;
    uint64_t arrivals_seen_ = 0;
    LinkStats stats_;
};

}  // namespace voxa::link
