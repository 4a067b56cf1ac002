// The registry plugin's core (registry.h): creation from config_json, own records, ingestion of others'
// records, housekeeping and the feed's live set. The service methods are in service.cpp, the member role in
// member.cpp.
#include "registry/registry.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <set>

#include "registry/auth.h"
#include "registry/member.h"
#include "registry/rate_limit.h"
#include "registry/registry_db.h"
#ifdef VOXA_REGISTRY_DHT
#include "registry/dht_backend.h"
#else
namespace voxa::registry {
class DhtBackend {};  // a build without OpenDHT: never made (create() refuses backend "dht")
}  // namespace voxa::registry
#endif

#ifndef VOXA_VERSION
#define VOXA_VERSION "0.0.0"
#endif

namespace voxa::registry {

using json = nlohmann::json;

namespace {

uint64_t system_now_s() {
    return uint64_t(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// "settings"."node-network-level" 0..3 -> the original node types; anything else is "standard".
std::string node_type_of(int level) {
    switch (level) {
        case 1:
            return "mainnet";
        case 2:
            return "testnet";
        case 3:
            return "devnet";
        default:
            return "standard";
    }
}

// Canonical numeric text of an endpoint's address (what record.h requires: inet_ntop's spelling).
std::string address_text(const Endpoint& e) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(e.family == Endpoint::Family::kIpv4 ? AF_INET : AF_INET6, e.addr.data(), buf, sizeof buf);
    return buf;
}

}  // namespace

std::string_view role_name(Role r) noexcept {
    switch (r) {
        case Role::kMember:
            return "member";
        case Role::kDht:
            return "dht";
        default:
            return "central";
    }
}

Reply error_reply(int rc, std::string_view code, std::string_view message) {
    return Reply{rc, json{{"error", {{"code", code}, {"message", message}}}}};
}

Registry::Registry(const voxa_host* host, Options options, crypto::Identity identity)
    : host_(host),
      options_(std::move(options)),
      identity_(std::move(identity)),
      feed_([this](const std::string& command) {
          if (host_ == nullptr || host_->dataplane_command == nullptr)
              return -EAGAIN;
          return host_->dataplane_command(host_->ctx, command.c_str());
      }) {
    for (auto& c : refused_) c.store(0);
}

Registry::~Registry() {
    stop();
}

std::unique_ptr<Registry> Registry::create(const voxa_host* host, const json& config_json, Options options,
                                           std::string* error) {
    auto fail = [&](std::string message) -> std::unique_ptr<Registry> {
        if (error != nullptr)
            *error = std::move(message);
        return nullptr;
    };
    if (!config_json.is_object() || !config_json.contains("config_dir") ||
        !config_json.contains("data_dir") || !config_json["config_dir"].is_string() ||
        !config_json["data_dir"].is_string())
        return fail("registry: config_json lacks config_dir/data_dir");
    std::string e;
    std::optional<Settings> settings = parse_settings(config_json.value("plugin", json::object()), &e);
    if (!settings)
        return fail(e);
    std::filesystem::path const config_dir = config_json["config_dir"].get<std::string>();
    std::filesystem::path const data_dir = config_json["data_dir"].get<std::string>();
    // config_json has settings.json only; p2p.json (address, port, relay, bootstrap nodes) comes from the
    // loader.
    std::optional<config::Config> config =
        config::load(config_dir, data_dir, config::process_environment(), &e);
    if (!config)
        return fail("registry: " + e);
    std::optional<crypto::Identity> identity = crypto::Identity::load_or_create(data_dir / "local", &e);
    if (!identity)
        return fail("registry: " + e);

    if (!options.now_s)
        options.now_s = system_now_s;
    std::unique_ptr<Registry> r(new Registry(host, std::move(options), std::move(*identity)));
    r->settings_ = *settings;
    r->config_ = std::move(*config);
    r->role_ = Role::kCentral;
    if (r->settings_.backend == Backend::kDht) {
#ifndef VOXA_REGISTRY_DHT
        return fail(
            "registry.backend: \"dht\" needs OpenDHT, which this build does not have (libopendht-dev)");
#else
        r->role_ = Role::kDht;
#endif
    } else {
        for (const config::BootstrapNode& b : r->config_.p2p.bootstrap_nodes)
            if (b.api_port != 0 && b.id != r->identity_.id())
                r->role_ = Role::kMember;
    }

    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);  // a failure shows in the open below, naming the file
    r->db_ = RegistryDb::open(data_dir / "registry.db", r->settings_.max_records, &e);
    if (!r->db_)
        return fail("registry: " + e);
    AuthOptions auth_options;
    auth_options.session_ttl_s = r->settings_.session_ttl_s;
    r->auth_ = std::make_unique<Auth>(*r->db_, auth_options);
    for (std::size_t i = 0; i < r->limiters_.size(); ++i) {
        const RateLimits& l = r->settings_.rate_limits;
        uint32_t const per_minute[] = {l.login_per_minute, l.register_per_minute, l.writes_per_minute,
                                       l.reads_per_minute};
        r->limiters_[i] = std::make_unique<RateLimiter>(per_minute[i], per_minute[i], kRateKeysMax);
    }
    r->refresh_own(true);
    return r;
}

void Registry::log(int level, const std::string& message, const json& fields) const {
    if (host_ == nullptr || host_->log == nullptr)
        return;
    std::string const f = fields.is_object() ? fields.dump() : std::string();
    host_->log(host_->ctx, level, ("registry: " + message).c_str(), f.empty() ? nullptr : f.c_str());
}

void Registry::publish(const char* topic, const json& j) const {
    if (host_ == nullptr || host_->publish == nullptr)
        return;
    host_->publish(host_->ctx, topic, j.dump().c_str());
}

// ---- own records ----

std::optional<Record> Registry::own_record(Kind kind) const {
    std::lock_guard lock(mutex_);
    auto it = own_.find(kind);
    if (it == own_.end())
        return std::nullopt;
    return it->second;
}

void Registry::refresh_own(bool force) {
    uint64_t const now = now_s();
    {
        std::lock_guard lock(mutex_);
        uint64_t const period = std::max<uint64_t>(1, settings_.record_lifetime_s / 3);
        if (!force && own_refreshed_s_ != 0 && now < own_refreshed_s_ + period)
            return;
    }
    const config::P2p& p2p = config_.p2p;
    // Where others reach this node: the advertised address, else the listen address when it is not a
    // wildcard.
    Endpoint address = p2p.advertise;
    if (address.family == Endpoint::Family::kNone && !config::is_wildcard(p2p.listen))
        address = p2p.listen;
    if (address.family != Endpoint::Family::kIpv4 && address.family != Endpoint::Family::kIpv6) {
        std::lock_guard lock(mutex_);
        if (own_refreshed_s_ == 0)
            log(VOXA_LOG_WARN,
                "no own records: p2p.json has no advertise_host and listens on a wildcard address");
        own_refreshed_s_ = now;
        return;
    }
    address.port = p2p.port;
    std::map<Kind, Record> fresh;
    for (Kind kind : {Kind::kNode, Kind::kRelay}) {
        if (kind == Kind::kRelay && !p2p.relay)
            continue;
        Record r;
        r.kind = kind;
        r.type = kind == Kind::kNode ? node_type_of(config_.settings.node_network_level) : "standard";
        if (kind == Kind::kNode) {
            r.capabilities = {"voxa/1"};
            if (p2p.relay)
                r.capabilities.push_back("relay");
            if (config_.settings.enable_dns)
                r.capabilities.push_back("dns");
            if (config_.settings.enable_app_deployment)
                r.capabilities.push_back("app_deployment");
            if (config_.settings.enable_kytan_vpn)
                r.capabilities.push_back("kytan_vpn");
            if (config_.settings.enable_upnpc_port_forwarding)
                r.capabilities.push_back("upnpc_port_forwarding");
            if (!config_.settings.node_name.empty() && config_.settings.node_name.size() <= kStringBytesMax &&
                is_printable_utf8(config_.settings.node_name))
                r.metadata["node_name"] = config_.settings.node_name;
        } else {
            r.capabilities = {"voxa/1"};
            r.routing_info = {{"capacity", std::to_string(p2p.capacity)}, {"hops_max", "8"}};
        }
        r.program_version = VOXA_VERSION;
        (address.family == Endpoint::Family::kIpv4 ? r.ipv4 : r.ipv6) = address_text(address);
        r.port = p2p.port;
        r.backend = config_.dataplane.backend == "dpdk" ? "dpdk" : "uring";
        r.capacity = p2p.capacity;
        r.created_s = now;
        r.updated_s = now;
        r.expires_s = now + settings_.record_lifetime_s;
        r.sequence = now;
        // Sequence: strictly above what the store holds (a restart, or several refreshes in one second).
        if (std::optional<StoredRecord> held = db_->get_record(kind, identity_.id())) {
            Record old;
            if (decode(held->bytes, &old) == Refusal::kNone)
                r.created_s = std::min(old.created_s, now);
            r.sequence = std::max(now, held->sequence + 1);
        }
        {
            std::lock_guard lock(mutex_);
            if (auto it = own_.find(kind); it != own_.end())
                r.sequence = std::max(r.sequence, it->second.sequence + 1);
        }
        sign_with_link(r, identity_, p2p.relay, now);
        std::string why;
        if (Refusal const f = verify(r, now, &why); f != Refusal::kNone) {
            log(VOXA_LOG_ERROR, "own record refused by its own check",
                {{"kind", kind_name(kind)}, {"reason", refusal_name(f)}, {"why", why}});
            continue;
        }
        std::vector<uint8_t> const bytes = encode(r);
        db_->put_record(kind, r.id, r.sequence, r.expires_s, bytes, now);
        db_->mark_seen(r.id, now);
        fresh.emplace(kind, std::move(r));
    }
    {
        std::lock_guard lock(mutex_);
        own_ = std::move(fresh);
        own_refreshed_s_ = now;
    }
#ifdef VOXA_REGISTRY_DHT
    if (dht_) {
        for (Kind kind : {Kind::kNode, Kind::kRelay})
            if (std::optional<Record> r = own_record(kind))
                dht_->publish(kind_name(kind), to_hex(r->id), encode(*r));
    }
#endif
    if (member_)
        member_->wake();
}

void Registry::follow_central(const std::set<NodeId>& live) {
    for (Kind kind : {Kind::kNode, Kind::kRelay}) {
        for (const StoredRecord& s : db_->list_records(kind, true)) {
            if (s.id == identity_.id() || live.count(s.id) != 0)
                continue;
            if (!db_->mark_down_id(s.id))
                continue;
            publish("registry.record_down", {{"id", to_hex(s.id)}});
            log(VOXA_LOG_INFO, "node down: the central registry no longer lists it", {{"id", to_hex(s.id)}});
            mark_dirty();
        }
    }
}

// ---- ingestion ----

void Registry::count_refusal(Refusal r, std::string_view what, std::string_view id, std::string_view why) {
    if (r == Refusal::kNone || r >= Refusal::kCount)
        return;
    refused_[size_t(r)].fetch_add(1);
    json const j = {{"kind", what}, {"id", id}, {"reason", refusal_name(r)}, {"why", why}};
    publish("registry.refused", j);
    log(VOXA_LOG_DEBUG, "record refused", j);
}

std::map<std::string, uint64_t> Registry::refusals() const {
    std::map<std::string, uint64_t> out;
    for (std::size_t i = 1; i < refused_.size(); ++i)
        if (uint64_t const n = refused_[i].load(); n != 0)
            out[std::string(refusal_name(Refusal(i)))] = n;
    return out;
}

Registry::Ingest Registry::ingest_record(const Record& r, bool mark_seen, const NodeId* required_id) {
    Ingest in;
    uint64_t const now = now_s();
    std::vector<uint8_t> const bytes = encode(r);
    // The very record the store holds (a heartbeat's or a poll's copy, a DHT re-announcement) was verified when it
    // was stored: only its liveness is news. Expiry is the store's business (purge).
    if (required_id == nullptr || r.id == *required_id) {
        if (std::optional<StoredRecord> held = db_->get_record(r.kind, r.id);
            held && held->sequence == r.sequence && held->bytes == bytes && r.expires_s > now) {
            in.result = "unchanged";
            if (mark_seen && r.id != identity_.id() && db_->mark_seen(r.id, now))
                mark_dirty();
            return in;
        }
    }
    in.refusal = verify(r, now, &in.why);
    if (in.refusal == Refusal::kNone && required_id != nullptr && r.id != *required_id) {
        in.refusal = Refusal::kKeyMismatch;
        in.why = "the record's key is not the registered node's key";
    }
    if (in.refusal == Refusal::kNone && r.id == identity_.id()) {
        // Only this node signs for itself; a copy of an own record coming back (DHT, poll) is not news.
        in.result = "unchanged";
        return in;
    }
    if (in.refusal != Refusal::kNone) {
        count_refusal(in.refusal, kind_name(r.kind), to_hex(r.id), in.why);
        return in;
    }
    PutResult const put = db_->put_record(r.kind, r.id, r.sequence, r.expires_s, bytes, now);
    if (put == PutResult::kReplayed) {
        in.refusal = Refusal::kReplayed;
        in.why = "sequence " + std::to_string(r.sequence) + " is not newer than the one held";
    } else if (put == PutResult::kFull) {
        in.refusal = Refusal::kFull;
        in.why = "the registry holds max_records records";
    }
    if (in.refusal != Refusal::kNone) {
        count_refusal(in.refusal, kind_name(r.kind), to_hex(r.id), in.why);
        return in;
    }
    in.result = put_result_name(put);
    bool const revived = mark_seen && db_->mark_seen(r.id, now);
    if (put == PutResult::kNew)
        publish("registry.record_added", {{"kind", kind_name(r.kind)}, {"id", to_hex(r.id)}});
    if (put != PutResult::kUnchanged || revived)
        mark_dirty();   // the live set changed: the feed pushes the difference at the next tick
    return in;
}

Registry::Ingest Registry::ingest_name(const NameRecord& n, bool publish_it) {
    Ingest in;
    uint64_t const now = now_s();
    auto refused = [&](Refusal f, std::string why) {
        in.refusal = f;
        in.why = std::move(why);
        count_refusal(f, "name", n.name, in.why);
        return in;
    };
    if (Refusal const f = verify(n, now, &in.why); f != Refusal::kNone)
        return refused(f, in.why);
    std::vector<uint8_t> const bytes = encode(n);
    std::optional<NameRecord> held;
    if (std::optional<std::vector<uint8_t>> raw = db_->get_name(n.name)) {
        if (*raw == bytes) {
            in.result = "unchanged";
            return in;
        }
        NameRecord h;
        if (decode(*raw, &h) == Refusal::kNone)
            held = std::move(h);
    }
    if (Refusal const f = may_replace(held ? &*held : nullptr, n, now); f != Refusal::kNone)
        return refused(f, f == Refusal::kNotOwner
                              ? "the name is held by another key"
                              : "sequence " + std::to_string(n.sequence) + " is not newer");
    db_->put_name(n.name, n.owner, n.sequence, n.expires_s, bytes);
    in.result = held ? "updated" : "new";
    mark_dirty();   // the data plane's name table (local RESOLVE) follows
#ifdef VOXA_REGISTRY_DHT
    if (publish_it && dht_)
        dht_->publish("name", n.name, bytes);
#else
    (void)publish_it;
#endif
    return in;
}

// ---- housekeeping and the feed ----

std::map<std::string, Feed::NameTarget> Registry::live_names() {
    std::map<std::string, Feed::NameTarget> live;
    uint64_t const now = now_s();
    for (const std::vector<uint8_t>& raw : db_->list_names()) {
        NameRecord n;
        if (decode(raw, &n) != Refusal::kNone || n.expires_s <= now)
            continue;   // stored bytes were verified on the way in; an expired name is purged next
        live[n.name] = Feed::NameTarget{n.target, n.expires_s};
    }
    return live;
}

std::map<NodeId, LinkDescriptor> Registry::live_descriptors() {
    uint64_t const now = now_s();
    std::map<NodeId, LinkDescriptor> live;
    std::set<NodeId> relays;
    std::map<std::pair<Kind, NodeId>, Verified> verified;
    std::lock_guard lock(mutex_);
    for (Kind kind : {Kind::kRelay, Kind::kNode}) {
        for (const StoredRecord& s : db_->list_records(kind, true)) {
            if (s.id == identity_.id() || s.expires_s <= now)
                continue;
            if (kind == Kind::kNode && relays.count(s.id) != 0)
                continue;
            // Everything in the store was verified on the way in; verify again only what changed since (the
            // store is a file, and verification is the trust decision: record.h).
            auto const key = std::make_pair(kind, s.id);
            if (auto it = verified_.find(key); it != verified_.end() && it->second.sequence == s.sequence) {
                verified.insert(*it);
            } else {
                Record r;
                if (decode(s.bytes, &r) != Refusal::kNone || verify(r, now) != Refusal::kNone)
                    continue;
                verified[key] = Verified{s.sequence, r.link_descriptor};
            }
            live[s.id] = verified[key].link;
            if (kind == Kind::kRelay)
                relays.insert(s.id);
        }
    }
    verified_ = std::move(verified);
    return live;
}

void Registry::tick() {
    uint64_t const now = now_s();
    refresh_own(false);
    uint64_t down_after = settings_.down_after_s;
    if (role_ == Role::kDht)
        down_after = settings_.record_lifetime_s;
    if (role_ == Role::kMember)
        down_after = std::max<uint64_t>(down_after, 3ull * settings_.poll_interval_s);
    // Times are whole seconds: a heartbeat at t + 0.99 is stored as t, so one second absorbs the rounding (without
    // it a node heartbeating every second flaps down on a loaded machine).
    down_after += 1;
    for (const NodeId& id : db_->mark_down(now, down_after, identity_.id())) {   // own records: live while we run
        publish("registry.record_down", {{"id", to_hex(id)}});
        log(VOXA_LOG_INFO, "node down: no heartbeat", {{"id", to_hex(id)}});
        mark_dirty();
    }
    if (db_->purge(now, settings_.purge_after_s) != 0)
        mark_dirty();
    auth_->expire_sessions(now);
    if (now >= last_full_feed_s_ + kFeedRefreshS) {
        feed_.resend_all();
        last_full_feed_s_ = now;
        mark_dirty();
    }
    if (dirty_.exchange(false)) {
        Feed::Result const r = feed_.sync(live_descriptors());
        Feed::Result const n = feed_.sync_names(live_names());
        if (r.failed != 0 || n.failed != 0)
            mark_dirty();  // the data plane was not there: try again next tick
    }
}

// ---- life cycle ----

void Registry::on_timer(void* arg) {
    try {
        static_cast<Registry*>(arg)->tick();
    } catch (const std::exception& e) {
        static_cast<Registry*>(arg)->log(VOXA_LOG_ERROR, std::string("tick failed: ") + e.what());
    } catch (...) {
    }
}

void Registry::on_event(void* subscriber, const char* topic, const char*) {
    try {
        auto* self = static_cast<Registry*>(subscriber);
        if (topic != nullptr && std::string_view(topic) == "dataplane.up") {
            // A (re)started data plane holds only its bootstrap peers: push everything again.
            self->feed_.resend_all();
            self->mark_dirty();
        }
    } catch (...) {
    }
}

int Registry::on_service(void* instance, const char* method, const char* json_in, char** json_out) {
    if (json_out != nullptr)
        *json_out = nullptr;
    auto* self = static_cast<Registry*>(instance);
    try {
        if (self == nullptr || method == nullptr)
            return -EINVAL;
        json envelope = json::parse(json_in != nullptr ? json_in : "{}", nullptr, false);
        Reply reply;
        if (envelope.is_discarded() || !envelope.is_object())
            reply = error_reply(-EINVAL, "bad_request", "the service input is not a JSON object");
        else
            reply = self->call(method, envelope);
        if (json_out != nullptr && self->host_->alloc_buffer != nullptr) {
            std::string const text = reply.body.dump();
            char* buf = self->host_->alloc_buffer(self->host_->ctx, text.size() + 1);
            if (buf == nullptr)
                return -ENOMEM;
            std::memcpy(buf, text.c_str(), text.size() + 1);
            *json_out = buf;
        }
        return reply.rc;
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}

std::string Registry::start() {
    // A restart is not silence: the nodes live before it get a fresh heartbeat window (they heartbeat again within
    // heartbeat_interval_s), instead of all being marked down, and removed from every data plane, on the first tick.
    uint64_t const started = now_s();
    for (Kind kind : {Kind::kNode, Kind::kRelay})
        for (const StoredRecord& s : db_->list_records(kind, true))
            db_->mark_seen(s.id, started);
    if (host_ != nullptr) {
        if (int rc = host_->register_service(host_->ctx, "registry", &Registry::on_service, this); rc != 0)
            return "cannot register the \"registry\" service (" + std::to_string(rc) + ")";
        if (host_->subscribe != nullptr)
            host_->subscribe(host_->ctx, "dataplane.up", &Registry::on_event, this);
        if (host_->timer_add != nullptr &&
            host_->timer_add(host_->ctx, kTickIntervalMs, &Registry::on_timer, this, &timer_id_) != 0)
            return "cannot add the housekeeping timer";
    }
    if (options_.start_role && role_ == Role::kMember) {
        std::vector<Central> centrals;
        for (const config::BootstrapNode& b : config_.p2p.bootstrap_nodes)
            if (b.api_port != 0 && b.id != identity_.id())
                centrals.push_back({b.host, b.api_port, b.ed25519});
        member_ = std::make_unique<Member>(*this, std::move(centrals));
        member_->start();
    }
#ifdef VOXA_REGISTRY_DHT
    if (options_.start_role && role_ == Role::kDht) {
        DhtOptions o;
        o.bind_host = settings_.dht.bind;
        o.port = settings_.dht.port;
        o.network_id = settings_.dht.network_id;
        for (const config::BootstrapNode& b : config_.p2p.bootstrap_nodes)
            if (b.dht_port != 0 && b.id != identity_.id())
                o.bootstrap.emplace_back(b.host, b.dht_port);
        std::string e;
        dht_ = DhtBackend::start(o, &e);
        if (!dht_)
            return "registry.dht: " + e;
        dht_worker_ = std::thread([this] { dht_work(); });
        for (const char* topic : {"nri", "rri", "name"})
            dht_->listen(topic,
                         [this, topic](std::span<const uint8_t> bytes) { dht_received(topic, bytes); });
        refresh_own(true);
        for (const std::vector<uint8_t>& raw : db_->list_names()) {
            NameRecord n;
            if (decode(raw, &n) == Refusal::kNone && n.expires_s > now_s())
                dht_->publish("name", n.name, raw);
        }
    }
#endif
    started_ = true;
    return "";
}

void Registry::stop() {
    if (member_)
        member_->stop();
#ifdef VOXA_REGISTRY_DHT
    if (dht_)
        dht_->stop();  // no callback runs after this
#endif
    {
        std::lock_guard lock(dht_mutex_);
        dht_stop_ = true;
    }
    dht_cv_.notify_all();
    if (dht_worker_.joinable())
        dht_worker_.join();
    if (started_ && host_ != nullptr && timer_id_ != 0 && host_->timer_cancel != nullptr) {
        host_->timer_cancel(host_->ctx, timer_id_);
        timer_id_ = 0;
    }
    started_ = false;
}

std::string Registry::reload(const json& config_json) {
    std::string e;
    std::optional<Settings> s = parse_settings(config_json.value("plugin", json::object()), &e);
    if (!s)
        return e;
    if (!(*s == settings_))
        return "registry: the new settings take effect at the next restart (they are read by other threads)";
    return "";
}

json Registry::member_status() const {
    return member_ ? member_->status() : json(nullptr);
}

json Registry::dht_status() const {
#ifdef VOXA_REGISTRY_DHT
    if (dht_) {
        json j = dht_->stats();
        j["queue_dropped"] = dht_dropped_.load();
        j["redelivered"] = dht_ignored_.load();
        return j;
    }
#endif
    return nullptr;
}

// ---- dht ingestion ----

void Registry::dht_received(std::string_view topic, std::span<const uint8_t> bytes) {
    // On OpenDHT's thread, under its lock: queue and return.
    try {
        std::lock_guard lock(dht_mutex_);
        if (dht_stop_)
            return;
        if (dht_queue_.size() >= kDhtQueueMax) {
            dht_queue_.pop_front();
            dht_dropped_.fetch_add(1);
        }
        dht_queue_.emplace_back(std::string(topic), std::vector<uint8_t>(bytes.begin(), bytes.end()));
    } catch (...) {
        return;
    }
    dht_cv_.notify_one();
}

void Registry::dht_work() {
    while (true) {
        std::pair<std::string, std::vector<uint8_t>> item;
        {
            std::unique_lock lock(dht_mutex_);
            dht_cv_.wait(lock, [this] { return dht_stop_ || !dht_queue_.empty(); });
            if (dht_stop_)
                return;
            item = std::move(dht_queue_.front());
            dht_queue_.pop_front();
        }
        try {
            if (item.first == "name") {
                NameRecord n;
                std::string why;
                if (Refusal f = decode(item.second, &n, &why); f != Refusal::kNone) {
                    count_refusal(f, "name", "", why);
                    continue;
                }
                if (std::optional<std::vector<uint8_t>> held = db_->get_name(n.name);
                    held && *held == item.second) {
                    dht_ignored_.fetch_add(1);
                    continue;
                }
                ingest_name(n, false);
                continue;
            }
            Record r;
            std::string why;
            if (Refusal f = decode(item.second, &r, &why); f != Refusal::kNone) {
                count_refusal(f, item.first, "", why);
                continue;
            }
            // OpenDHT hands values over again (re-announcements, several storing nodes, a node's previous
            // publication until it expires there): the held sequence or an older one is no news and not
            // stored.
            if (std::optional<StoredRecord> held = db_->get_record(r.kind, r.id);
                held && (r.sequence < held->sequence ||
                         (held->sequence == r.sequence && held->bytes == item.second))) {
                dht_ignored_.fetch_add(1);
                continue;
            }
            ingest_record(r, true);
        } catch (const std::exception& e) {
            log(VOXA_LOG_WARN, std::string("dht value: ") + e.what());
        } catch (...) {
        }
    }
}

}  // namespace voxa::registry
