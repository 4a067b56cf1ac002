// The registry's distributed backend: an OpenDHT node that carries signed records between voxa nodes with no
// central registry. Each record is one DHT value under the key of its topic ("nri", "rri", "name"):
//
//   key      = InfoHash::get("voxa/" + 8 lowercase hex digits of network_id + "/" + topic)
//   value id = the first 8 bytes (LE) of BLAKE2b-128("voxa.slot.v1" || topic || 0x00 || slot || 0x00 || bytes),
//              never 0
//   value    = type kDhtValueType (0x766f, expiration 2 min), user_type "voxa", data = the bytes (<= kDhtValueBytesMax),
//              unsigned (no OpenDHT identity), put permanent (the publisher refreshes it until replaced or stopped)
//
// Why the id covers the bytes and not only the slot: OpenDHT 2.4 does not carry an edit of an UNSIGNED value to
// listeners. Storing nodes refuse edits by default (ValueType::DEFAULT_EDIT_POLICY), the announcer skips nodes that
// already hold the id unless Value::seq grew, and listeners' caches emit a known id again only when seq grew; seq is
// on the wire only for signed values (dht::crypto::Identity: RSA keys, SecureDht), so for ours it is always 0. So a
// new publish for a slot is a NEW value (new id): every listener sees it at once; the publisher cancels its put of the
// slot's older value, which storing nodes then drop kValueExpiration (2 min) after its last refresh. Until then a
// get() may return both: the caller keeps the newest by the record's own sequence. Publishing the same bytes again
// is a no-op (the permanent put is already being refreshed).
// The network_id is also OpenDHT's own network id: nodes of another network drop our packets and never enter our
// routing table.
//
// The bytes are opaque and UNVERIFIED here: the caller verifies each record (signature, id, expiry, sequence)
// before it believes it. Values of another type or user_type, or larger than kValueBytesMax, are ignored.
//
// Threads: DhtBackend owns one dht::DhtRunner with its own threads. Every public method may be called from any
// thread. The callbacks given to listen()/get() run on OpenDHT's thread while it holds its own
// lock: they must be quick, may call publish()/listen()/get() but not stats() or stop() (both would wait on that
// lock), and exceptions thrown from them are caught and dropped (counted as "callback_errors").
// stop() joins OpenDHT's threads; after it returns no callback runs again.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dht {
class DhtRunner;
}

namespace voxa::registry {

inline constexpr uint32_t kDhtNetworkId = 0x766f7861;     // "voxa"
inline constexpr uint16_t kDhtValueType = 0x766f;         // OpenDHT ValueType id of our values
inline constexpr std::string_view kDhtUserType = "voxa";  // Value::user_type of our values
inline constexpr std::size_t kDhtValueBytesMax = 4096 + 512;   // a record is <= 4096; slack for later fields
inline constexpr std::size_t kDhtSlotsMax = 65536;   // distinct (topic, slot) one node publishes (own records, names)

struct DhtOptions {
    std::string bind_host = "0.0.0.0";   // numeric IPv4 or IPv6 address; only that family is bound
    uint16_t port = 0;                   // UDP; 0 = ephemeral (see bound_port())
    uint32_t network_id = kDhtNetworkId;
    std::vector<std::pair<std::string, uint16_t>> bootstrap;   // host (name or address), port
};

class DhtBackend {
public:
    // Binds the UDP socket, starts OpenDHT's threads and starts bootstrapping (asynchronously: it is not an error
    // when no bootstrap node answers yet). nullptr and *error set (bad address, port in use) on failure.
    static std::unique_ptr<DhtBackend> start(const DhtOptions&, std::string* error);
    ~DhtBackend();   // stop()
    DhtBackend(const DhtBackend&) = delete;
    DhtBackend& operator=(const DhtBackend&) = delete;

    uint16_t bound_port() const noexcept { return port_; }

    // Publishes `bytes` (a canonical signed record) under topic for `slot` (the node id hex, the name: one slot per
    // thing, never shared): it replaces this node's previous publish for the same slot (see above) and stays on the
    // DHT while this backend runs. Empty bytes, bytes over kDhtValueBytesMax, more than kDhtSlotsMax slots, or a call
    // after stop() are dropped (counted as "publish_refused").
    void publish(std::string_view topic, std::string_view slot, std::span<const uint8_t> bytes);

    // Every value seen under topic now and later (including re-publications and edits): raw bytes, unverified.
    void listen(std::string_view topic, std::function<void(std::span<const uint8_t>)> on_value);

    // One search: on_value for each value found under topic, then done() once (also when nothing was found or
    // the backend was stopped before the search finished: then done() may not run at all after stop()).
    void get(std::string_view topic, std::function<void(std::span<const uint8_t>)> on_value,
             std::function<void()> done);

    // {"node_id", "port", "good_nodes", "dubious_nodes", "values_received", "publishes", "network_id",
    //  "publish_refused", "values_ignored", "callback_errors", "running"}
    nlohmann::json stats() const;

    // Idempotent. Joins OpenDHT's threads; listeners are dropped.
    void stop();

    // Exposed for tests and tools: the DHT key of topic, and the value id of (topic, slot).
    static std::string key_name(uint32_t network_id, std::string_view topic);
    static uint64_t value_id(std::string_view topic, std::string_view slot, std::span<const uint8_t> bytes);

private:
    DhtBackend() = default;
    // Runs a user callback on OpenDHT's thread; counts and drops what it throws.
    void deliver(const std::function<void(std::span<const uint8_t>)>& fn, std::span<const uint8_t> bytes) noexcept;

    std::unique_ptr<dht::DhtRunner> runner_;
    uint32_t network_id_ = kDhtNetworkId;
    uint16_t port_ = 0;
    mutable std::mutex stop_mutex_;   // guards runner_ (publish/listen/get/stats vs stop) and slots_
    std::unordered_map<std::string, uint64_t> slots_;   // topic '\0' slot -> value id of its current put
    std::atomic<bool> running_{false};
    std::atomic<uint64_t> values_received_{0}, publishes_{0}, publish_refused_{0}, values_ignored_{0},
        callback_errors_{0};
};

}  // namespace voxa::registry
