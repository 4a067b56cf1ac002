// The registry plugin's core object: one per plugin instance, made by create() from the host's config_json.
// It owns the store (RegistryDb: records, names, and Auth's accounts/tokens/sessions in <data>/registry.db),
// the rate limiter, this node's identity (<data>/local/node.key) and own signed records, the feed to the data
// plane, and the role's machinery:
//   central  (embedded backend, no bootstrap node with api_port): serves registrations; own records go
//   straight
//            into the store; a timer marks silent nodes down, purges, expires sessions.
//   member   (embedded backend, a bootstrap node with api_port): a Member thread registers with that central
//            registry over HTTP, heartbeats and polls its live set into the local store.
//   dht      (backend "dht"): a DhtBackend publishes own records and listens for everyone's; live while
//   unexpired.
// The live set (records that are live and unexpired, this node excluded) goes to the data plane through the
// Feed.
//
// Threads: create/start/stop/destroy and tick() on the host's main thread; call() (the "registry" service,
// service.cpp) from any thread, concurrently; the member thread and OpenDHT's threads ingest records. Shared
// state is the store (thread-safe), the rate limiter (thread-safe), the feed (thread-safe) and what mutex_
// guards.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "crypto/identity.h"
#include "registry/feed.h"
#include "registry/name_record.h"
#include "registry/record.h"
#include "registry/settings.h"
#include "voxa/plugin_abi.h"

namespace voxa::registry {

class RegistryDb;
class Auth;
class RateLimiter;
class Member;
class DhtBackend;

enum class Role : uint8_t { kCentral, kMember, kDht };
// The rate-limit classes of settings' rate_limits, one bucket table each, keyed by the peer address.
enum class RateClass : uint8_t { kLogin, kRegister, kWrites, kReads, kCount };
std::string_view role_name(Role r) noexcept;  // "central" | "member" | "dht"

inline constexpr uint32_t kTickIntervalMs = 1000;  // the housekeeping timer
inline constexpr uint64_t kFeedRefreshS = 30;      // full re-push of the live set
inline constexpr int kHttpTimeoutMs = 3000;        // member: one request to the central registry
inline constexpr std::size_t kRateKeysMax = 65536;
inline constexpr std::size_t kDhtQueueMax = 10000;  // DHT values waiting for verification; the oldest drop //
                                                    // peer addresses tracked per rate-limit class

// Outcome of a service method: rc (0 or -errno) and the JSON body (success object or {"error":{...}}).
struct Reply {
    int rc = 0;
    nlohmann::json body = nlohmann::json::object();
};
Reply error_reply(int rc, std::string_view code, std::string_view message);

class Registry {
public:
    struct Options {
        // Wall-clock unix seconds; tests move time by hand. Default: the system clock.
        std::function<uint64_t()> now_s;
        // Start the member thread / the DHT node in start() (tests of the central role leave it on; it does
        // nothing there).
        bool start_role = true;
    };

    // config_json is create()'s (plugin_abi.h). p2p.json and dataplane.json are read with the config loader
    // from config_dir (config_json carries settings only). nullptr with *error naming the key or file.
    static std::unique_ptr<Registry> create(const voxa_host* host, const nlohmann::json& config_json,
                                            Options options, std::string* error);
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Registers the "registry" service, the housekeeping timer and the "dataplane.up" subscription; starts
    // the role (member thread or DHT node). "" or the error.
    std::string start();
    // Stops the role's threads; no host calls after it returns.
    void stop();
    // A new configuration (SIGHUP): the registry's settings are read by its other threads, so any change to them
    // needs a restart. Returns "" when they are unchanged, else why not (an invalid setting, or a restart needed).
    std::string reload(const nlohmann::json& config_json);

    // The "registry" service (service.cpp): envelope in, reply out. Any thread.
    Reply call(std::string_view method, const nlohmann::json& envelope);

    // Housekeeping, every kTickIntervalMs on the host's main thread: re-signs own records when due, marks
    // silent nodes down, purges, expires sessions, pushes the live set's changes. Also called by tests.
    void tick();

    // ---- used by the role machinery and the service ----
    Role role() const noexcept { return role_; }
    const Settings& settings() const noexcept { return settings_; }
    const crypto::Identity& identity() const noexcept { return identity_; }
    uint64_t now_s() const { return options_.now_s(); }
    // This node's current signed records (NRI always when it has an address; RRI when it relays).
    std::optional<Record> own_record(Kind kind) const;
    // Verifies `r` and stores it (newest sequence wins); marks it seen when `mark_seen`. `required_id`, when
    // set, must equal r.id (registrations and heartbeats: a session may only speak for its own node). Returns
    // the store's result or the refusal (counted and published). `r` comes from decode() or from_json(), which
    // hold every string within its limit (the identical-to-stored check encodes it before verifying).
    struct Ingest {
        Refusal refusal = Refusal::kNone;
        std::string why;
        std::string result;  // "new" | "updated" | "unchanged" when refusal == kNone
    };
    Ingest ingest_record(const Record& r, bool mark_seen, const NodeId* required_id = nullptr);
    // A name record (verified, ownership checked, stored, published on the DHT in dht mode).
    Ingest ingest_name(const NameRecord& n, bool publish);
    // Counts a refusal and publishes it on "registry.refused"; `what` is "nri", "rri" (kind_name), "name",
    // "registration" or "request" (a rate limit).
    void count_refusal(Refusal r, std::string_view what, std::string_view id, std::string_view why);
    std::map<std::string, uint64_t> refusals() const;
    void mark_dirty() noexcept { dirty_.store(true); }
    // Member role, after a complete poll: every live record the central registry no longer lists (`live`: the ids
    // it returned) goes down now, instead of after this node's own down_after_s (the central is the authority on
    // liveness; waiting again would double the time a dead relay stays in paths).
    void follow_central(const std::set<NodeId>& live);

    RegistryDb& db() noexcept { return *db_; }
    Auth& auth() noexcept { return *auth_; }
    RateLimiter& limiter(RateClass c) noexcept { return *limiters_[size_t(c)]; }
    Feed& feed() noexcept { return feed_; }
    void log(int level, const std::string& message, const nlohmann::json& fields = nullptr) const;
    void publish(const char* topic, const nlohmann::json& j) const;
    // The member role's view (status): central registry address, registered or not, last error.
    nlohmann::json member_status() const;
    nlohmann::json dht_status() const;

private:
    Registry(const voxa_host* host, Options options, crypto::Identity identity);
    void refresh_own(bool force);
    std::map<NodeId, LinkDescriptor> live_descriptors();
    std::map<std::string, Feed::NameTarget> live_names();   // unexpired names -> their target node
    void dht_received(std::string_view topic, std::span<const uint8_t> bytes);
    void dht_work();
    static void on_timer(void* arg);
    static void on_event(void* subscriber, const char* topic, const char* json);
    static int on_service(void* instance, const char* method, const char* json_in, char** json_out);

    const voxa_host* host_;
    Options options_;
    Settings settings_;
    config::Config config_;
    Role role_ = Role::kCentral;
    crypto::Identity identity_;
    std::unique_ptr<RegistryDb> db_;
    std::unique_ptr<Auth> auth_;
    std::array<std::unique_ptr<RateLimiter>, size_t(RateClass::kCount)> limiters_;
    Feed feed_;
    std::unique_ptr<Member> member_;
    std::unique_ptr<DhtBackend> dht_;

    mutable std::mutex mutex_;  // guards own_, own_refreshed_s_, verified_
    std::map<Kind, Record> own_;
    uint64_t own_refreshed_s_ = 0;
    struct Verified {
        uint64_t sequence = 0;
        LinkDescriptor link{};
    };
    // The live set of the last feed pass, as verified then: a record whose sequence is unchanged is neither
    // decoded nor verified again. Rebuilt on every pass, so it never holds more than the live set.
    std::map<std::pair<Kind, NodeId>, Verified> verified_;
    std::array<std::atomic<uint64_t>, size_t(Refusal::kCount)> refused_{};
    std::atomic<bool> dirty_{true};
    // dht: OpenDHT's callbacks must be quick, so they only queue; dht_worker_ verifies and stores.
    std::mutex dht_mutex_;
    std::condition_variable dht_cv_;
    std::deque<std::pair<std::string, std::vector<uint8_t>>> dht_queue_;
    bool dht_stop_ = false;
    std::thread dht_worker_;
    std::atomic<uint64_t> dht_dropped_{0}, dht_ignored_{0};
    uint64_t last_full_feed_s_ = 0;
    uint64_t timer_id_ = 0;
    bool started_ = false;
};

}  // namespace voxa::registry
