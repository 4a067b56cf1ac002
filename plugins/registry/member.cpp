// The member role (member.h): challenge -> register -> heartbeat loop -> poll, on its own thread.
#include "registry/member.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "http/http_client.h"
#include "registry/auth.h"
#include "registry/registry.h"

namespace voxa::registry {

using json = nlohmann::json;

namespace {

constexpr uint32_t kBackoffMaxS = 30;
constexpr int kDeregisterTimeoutMs = 1000;

bool exchange(const Central& c, const std::string& method, const std::string& path,
              const nlohmann::json* body, int* status, nlohmann::json* out, std::string* error,
              int timeout_ms = kHttpTimeoutMs);

}  // namespace

Member::Member(Registry& registry, std::vector<Central> centrals)
    : registry_(registry), centrals_(std::move(centrals)) {}

Member::~Member() {
    stop();
}

void Member::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || centrals_.empty())
        return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void Member::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (!thread_.joinable())
        return;
    thread_.join();
    // Leaving on purpose: tell the central registry, so that others stop using this node at once instead of
    // after down_after_s. Best effort, bounded (a stopping node does not wait for an unreachable registry).
    std::string session;
    Central c;
    {
        std::lock_guard lock(mutex_);
        session = std::exchange(session_, std::string());
        if (!centrals_.empty())
            c = centrals_[current_];
    }
    if (session.empty())
        return;
    int status = 0;
    json out;
    std::string error;
    json const body = {{"session", session}};
    exchange(c, "POST", "/registry/deregister", &body, &status, &out, &error, kDeregisterTimeoutMs);
}

void Member::wake() {
    {
        std::lock_guard lock(mutex_);
        wake_ = true;
    }
    cv_.notify_all();
}

json Member::status() const {
    std::lock_guard lock(mutex_);
    const Central* c = centrals_.empty() ? nullptr : &centrals_[current_];
    return {{"central", c != nullptr ? c->host + ":" + std::to_string(c->api_port) : ""},
            {"registry_key", c != nullptr ? to_hex(c->key) : ""},
            {"registered", !session_.empty()},
            {"session_expires", session_expires_s_},
            {"last_heartbeat", last_heartbeat_s_},
            {"last_poll", last_poll_s_},
            {"registrations", registrations_},
            {"polls", polls_},
            {"last_error", last_error_}};
}

namespace {

// One HTTP exchange with a central registry. false with *error when it could not be done or did not answer
// JSON.
bool exchange(const Central& c, const std::string& method, const std::string& path, const json* body,
              int* status, json* out, std::string* error, int timeout_ms) {
    http::Url url;
    url.host = c.host;
    url.port = c.api_port;
    http::Request req;
    req.method = method;
    req.path = path;
    if (body != nullptr)
        req.body = body->dump();
    req.timeout_ms = timeout_ms;
    req.body_max_bytes = 64u << 20;
    std::optional<http::Response> resp = http::perform(url, req, error);
    if (!resp) {
        *error = url.text() + path + ": " + *error;
        return false;
    }
    *status = resp->status;
    *out = json::parse(resp->body, nullptr, false);
    if (out->is_discarded()) {
        *error = url.text() + path + ": answered " + std::to_string(resp->status) + " without JSON";
        return false;
    }
    return true;
}

}  // namespace

void Member::failed(const std::string& error) {
    std::lock_guard lock(mutex_);
    last_error_ = error;
    session_.clear();
    backoff_s_ = backoff_s_ == 0 ? 1 : std::min(kBackoffMaxS, backoff_s_ * 2);
    if (centrals_.size() > 1)
        current_ = (current_ + 1) % centrals_.size();
    registry_.log(VOXA_LOG_WARN, "central registry unreachable: " + error, {{"retry_in_s", backoff_s_}});
}

bool Member::do_register() {
    Central c;
    {
        std::lock_guard lock(mutex_);
        c = centrals_[current_];
    }
    const crypto::Identity& self = registry_.identity();
    int status = 0;
    json out;
    std::string error;
    json const ask = {{"public_key", to_hex(self.peer().ed25519)}};
    if (!exchange(c, "POST", "/registry/challenge", &ask, &status, &out, &error)) {
        failed(error);
        return false;
    }
    auto nonce = out.contains("nonce") && out["nonce"].is_string()
                     ? from_hex<kNonceBytes>(out["nonce"].get<std::string>())
                     : std::nullopt;
    auto key = out.contains("registry_key") && out["registry_key"].is_string()
                   ? from_hex<kPublicKeyBytes>(out["registry_key"].get<std::string>())
                   : std::nullopt;
    if (status != 200 || !nonce || !key) {
        failed("challenge refused (" + std::to_string(status) + "): " + out.dump());
        return false;
    }
    // The registry must be the one p2p.json names: a proof is bound to its key, and records come from it.
    if (*key != c.key) {
        failed("the registry at " + c.host + " answered with key " + to_hex(*key) +
               ", not the one in p2p.json");
        return false;
    }
    uint64_t const now = registry_.now_s();
    std::vector<uint8_t> const proof = registration_proof(c.key, self.peer().ed25519, *nonce, now);
    json body = {{"public_key", to_hex(self.peer().ed25519)},
                 {"nonce", to_hex(*nonce)},
                 {"timestamp", now},
                 {"signature", to_hex(self.sign(proof))}};
    std::optional<Record> nri = registry_.own_record(Kind::kNode), rri = registry_.own_record(Kind::kRelay);
    if (!nri) {
        failed("this node has no NRI to register (p2p.json advertise_host)");
        return false;
    }
    body["nri"] = to_json(*nri);
    if (rri)
        body["rri"] = to_json(*rri);
    if (!exchange(c, "POST", "/registry/register", &body, &status, &out, &error)) {
        failed(error);
        return false;
    }
    if (status != 200 || !out.contains("session") || !out["session"].is_string()) {
        failed("registration refused (" + std::to_string(status) + "): " + out.dump());
        return false;
    }
    std::lock_guard lock(mutex_);
    session_ = out["session"].get<std::string>();
    session_expires_s_ = out.value("expires", uint64_t(0));
    last_heartbeat_s_ = now;
    last_sent_records_s_ = now;
    sent_nri_sequence_ = nri->sequence;
    sent_rri_sequence_ = rri ? rri->sequence : 0;
    backoff_s_ = 0;
    last_error_.clear();
    ++registrations_;
    registry_.log(VOXA_LOG_INFO, "registered with the central registry",
                  {{"central", c.host + ":" + std::to_string(c.api_port)}});
    return true;
}

bool Member::do_heartbeat() {
    Central c;
    std::string session;
    uint64_t sent_nri = 0, sent_rri = 0, sent_at = 0;
    {
        std::lock_guard lock(mutex_);
        c = centrals_[current_];
        session = session_;
        sent_nri = sent_nri_sequence_;
        sent_rri = sent_rri_sequence_;
        sent_at = last_sent_records_s_;
    }
    uint64_t const now = registry_.now_s();
    json body = {{"session", session}};
    std::optional<Record> nri = registry_.own_record(Kind::kNode), rri = registry_.own_record(Kind::kRelay);
    // Records ride along when they changed, and every record_lifetime_s/3 in any case.
    bool const due = now >= sent_at + std::max<uint64_t>(1, registry_.settings().record_lifetime_s / 3);
    if (nri && (due || nri->sequence != sent_nri))
        body["nri"] = to_json(*nri);
    if (rri && (due || rri->sequence != sent_rri))
        body["rri"] = to_json(*rri);
    int status = 0;
    json out;
    std::string error;
    if (!exchange(c, "POST", "/registry/heartbeat", &body, &status, &out, &error)) {
        failed(error);
        return false;
    }
    std::lock_guard lock(mutex_);
    if (status == 401 || status == 403 || status == 404) {
        // The session is gone (registry restarted with its store lost, expired, ended): register again now.
        last_error_ = "heartbeat refused (" + std::to_string(status) + "): " + out.dump();
        session_.clear();
        return false;
    }
    if (status != 200) {
        last_error_ = "heartbeat answered " + std::to_string(status) + ": " + out.dump();
        backoff_s_ = backoff_s_ == 0 ? 1 : std::min(kBackoffMaxS, backoff_s_ * 2);
        return false;
    }
    last_heartbeat_s_ = now;
    session_expires_s_ = out.value("expires", session_expires_s_);
    if (body.contains("nri") || body.contains("rri")) {
        last_sent_records_s_ = now;
        if (nri)
            sent_nri_sequence_ = nri->sequence;
        if (rri)
            sent_rri_sequence_ = rri->sequence;
    }
    backoff_s_ = 0;
    return true;
}

void Member::do_poll() {
    // The interval runs from the poll's start: what changed at the central registry while it ran is fetched by
    // the next one, a poll_interval_s after this one began, not after it ended.
    uint64_t const started = registry_.now_s();
    Central c;
    {
        std::lock_guard lock(mutex_);
        c = centrals_[current_];
    }
    std::size_t refused = 0, accepted = 0;
    std::set<NodeId> listed;
    for (const char* what : {"relays", "nodes"}) {
        int status = 0;
        json out;
        std::string error;
        if (!exchange(c, "GET", std::string("/data/discover_") + what + "/", nullptr, &status, &out,
                      &error)) {
            failed(error);
            return;
        }
        if (status != 200 || !out.contains(what) || !out[what].is_array()) {
            std::lock_guard lock(mutex_);
            last_error_ = std::string("discover_") + what + " answered " + std::to_string(status);
            return;
        }
        Kind const kind = std::string_view(what) == "relays" ? Kind::kRelay : Kind::kNode;
        for (const json& j : out[what]) {
            // The central registry's extra fields (live, last_seen) are its view, not part of the signed
            // record.
            json record = j;
            if (record.is_object()) {
                record.erase("live");
                record.erase("last_seen");
            }
            Record r;
            std::string why;
            Refusal const f = from_json(record, kind, &r, &why);
            if (f != Refusal::kNone) {
                registry_.count_refusal(f, kind_name(kind), "", why);
                ++refused;
                continue;
            }
            // Verified here, whatever the central registry said: it is trusted for liveness, not for content.
            Registry::Ingest const in = registry_.ingest_record(r, true);
            (in.refusal == Refusal::kNone ? accepted : refused) += 1;
            if (in.refusal == Refusal::kNone)
                listed.insert(r.id);
        }
    }
    registry_.follow_central(listed);
    sync_names(c);
    std::lock_guard lock(mutex_);
    last_poll_s_ = started;
    ++polls_;
}

void Member::sync_names(const Central& c) {
    int status = 0;
    json out;
    std::string error;
    if (!exchange(c, "GET", "/registry/names", nullptr, &status, &out, &error) || status != 200 ||
        !out.contains("names") || !out["names"].is_array()) {
        std::lock_guard lock(mutex_);
        last_error_ = error.empty() ? "/registry/names answered " + std::to_string(status) : error;
        return;
    }
    // The central registry's names, verified here like records (ingest_name), unless this node holds the same
    // or a newer sequence already (an older copy is not news, nor a refusal worth counting).
    std::map<std::string, uint64_t> held_there;
    for (const json& j : out["names"]) {
        NameRecord n;
        std::string why;
        if (from_json(j, &n, &why) != Refusal::kNone)
            continue;   // not a name record at all: nothing to verify or count
        held_there[n.name] = n.sequence;
        NameRecord mine;
        std::optional<std::vector<uint8_t>> raw = registry_.db().get_name(n.name);
        if (raw && decode(*raw, &mine) == Refusal::kNone && mine.sequence >= n.sequence)
            continue;
        registry_.ingest_name(n, false);
    }
    // This node's own claims are meant for the whole network: post each to the central registry until it holds
    // that sequence (a refusal there, e.g. another key owns the name, is logged and retried next poll).
    PublicKey const self = registry_.identity().peer().ed25519;
    uint64_t const now = registry_.now_s();
    for (const std::vector<uint8_t>& raw : registry_.db().list_names()) {
        NameRecord n;
        if (decode(raw, &n) != Refusal::kNone || n.owner != self || n.expires_s <= now)
            continue;
        if (auto it = held_there.find(n.name); it != held_there.end() && it->second >= n.sequence)
            continue;
        json const body = to_json(n);
        if (!exchange(c, "POST", "/registry/names", &body, &status, &out, &error) || status != 200)
            registry_.log(VOXA_LOG_WARN, "the central registry did not take this node's name",
                          {{"name", n.name}, {"status", status}, {"error", error.empty() ? out.dump() : error}});
    }
}

uint32_t Member::step() {
    uint64_t const now = registry_.now_s();
    bool registered = false, heartbeat_due = false, poll_due = false;
    {
        std::lock_guard lock(mutex_);
        if (centrals_.empty())
            return 3600;
        registered = !session_.empty();
        heartbeat_due = wake_ || now >= last_heartbeat_s_ + registry_.settings().heartbeat_interval_s;
        poll_due = now >= last_poll_s_ + registry_.settings().poll_interval_s;
        wake_ = false;
    }
    if (!registered) {
        if (!do_register()) {
            std::lock_guard lock(mutex_);
            return std::max<uint32_t>(1, backoff_s_);
        }
        poll_due = true;
    } else if (heartbeat_due) {
        if (!do_heartbeat()) {
            std::lock_guard lock(mutex_);
            return session_.empty() ? 0 : std::max<uint32_t>(1, backoff_s_);
        }
    }
    if (poll_due)
        do_poll();   // what it changes marks the feed dirty (ingest_record, follow_central, ingest_name)
    return 1;
}

void Member::run() {
    while (true) {
        uint32_t wait_s = 1;
        try {
            wait_s = step();
        } catch (const std::exception& e) {
            registry_.log(VOXA_LOG_ERROR, std::string("member loop: ") + e.what());
        } catch (...) {
        }
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::seconds(wait_s), [this] { return stop_ || wake_; });
        if (stop_)
            return;
    }
}

}  // namespace voxa::registry
