// The "registry" service (registry.h, Registry::call): one handler per method of the contract's table. Each
// takes the envelope the api plugin builds ({"peer","auth","token"?,"query","body"}), checks permission and
// the rate limit, and answers JSON. Input errors name the field. rc: 0, -EINVAL (400), -EPERM (403; 401 for
// auth "none"), -ENOENT (404), -EEXIST (409), -EAGAIN (429 when error.code is "rate_limited", else 503), -EIO
// (500).
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "registry/auth.h"
#include "registry/member.h"
#include "registry/rate_limit.h"
#include "registry/registry.h"
#include "registry/registry_db.h"

namespace voxa::registry {

using json = nlohmann::json;

namespace {

enum class AuthKind : uint8_t { kNone, kToken, kLocal };

struct Caller {
    std::string peer;
    AuthKind auth = AuthKind::kNone;
    std::string token;
    json query = json::object();
    json body = json::object();
};

Reply bad(std::string_view field, std::string_view expected) {
    return error_reply(-EINVAL, "bad_request", std::string(field) + ": expected " + std::string(expected));
}

Reply refused_reply(Refusal f, const std::string& why) {
    int const rc = f == Refusal::kNotOwner ? -EPERM : f == Refusal::kFull ? -EAGAIN : -EINVAL;
    return error_reply(rc, "refused", std::string(refusal_name(f)) + ": " + why);
}

// A string field of an object (body or query); nullopt when absent or not a string.
std::optional<std::string> str(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
        return std::nullopt;
    return it->get<std::string>();
}

std::optional<uint64_t> uint_field(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end())
        return std::nullopt;
    if (it->is_number_unsigned())
        return it->get<uint64_t>();
    if (it->is_number_integer() && it->get<int64_t>() >= 0)
        return uint64_t(it->get<int64_t>());
    if (it->is_string()) {  // query strings carry numbers as text
        const std::string& s = it->get_ref<const std::string&>();
        if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        return std::stoull(s);
    }
    return std::nullopt;
}

template <std::size_t N>
std::optional<std::array<uint8_t, N>> hex_field(const json& obj, const char* key) {
    std::optional<std::string> s = str(obj, key);
    if (!s)
        return std::nullopt;
    return from_hex<N>(*s);
}

json record_json(const StoredRecord& s) {
    Record r;
    if (decode(s.bytes, &r) != Refusal::kNone)
        return nullptr;
    json j = to_json(r);
    j["live"] = s.liveness == Liveness::kLive;
    j["last_seen"] = s.last_seen_s;
    return j;
}

class ServiceCall {
public:
    ServiceCall(Registry& r, Caller c) : r_(r), c_(std::move(c)), now_(r.now_s()) {}

    // Permission: "local" is this node's operator (everything); "token" is checked by Auth for `scope`.
    std::optional<Reply> need(Scopes scope) {
        if (c_.auth == AuthKind::kLocal)
            return std::nullopt;
        if (c_.auth == AuthKind::kNone)
            return error_reply(-EPERM, "unauthorized", "this method needs a token (Authorization: Bearer)");
        TokenResult const t = r_.auth().check_token(c_.token, scope, now_);
        if (t.result == TokenCheck::kOk)
            return std::nullopt;
        return error_reply(
            -EPERM, "forbidden",
            "token refused: " + std::string(token_check_name(t.result)) +
                (t.result == TokenCheck::kScope ? " (needs " + scope_names(scope).front() + ")" : ""));
    }
    std::optional<Reply> local_only() {
        if (c_.auth == AuthKind::kLocal)
            return std::nullopt;
        return error_reply(-EPERM, c_.auth == AuthKind::kNone ? "unauthorized" : "forbidden",
                           "only this node's operator (the local API token) may do this");
    }
    // Rate limits apply to everyone but this node's operator, keyed by the address the server saw.
    std::optional<Reply> rate(RateClass c) {
        if (c_.auth == AuthKind::kLocal)
            return std::nullopt;
        uint64_t retry_after_ms = 0;
        if (r_.limiter(c).allow(RateLimiter::key_of_peer(c_.peer), now_ * 1000, &retry_after_ms))
            return std::nullopt;
        r_.count_refusal(Refusal::kRateLimited, "request", "", "peer " + c_.peer);
        Reply reply =
            error_reply(-EAGAIN, "rate_limited", "too many requests from " + c_.peer + "; retry later");
        reply.body["retry_after_s"] = std::max<uint64_t>(1, (retry_after_ms + 999) / 1000);
        return reply;
    }
    std::optional<Reply> central_only() {
        if (r_.role() == Role::kCentral)
            return std::nullopt;
        return error_reply(-ENOENT, "not_a_registry",
                           "this node is a registry " + std::string(role_name(r_.role())) +
                               ", not a central registry: register with the central registry instead");
    }

    Reply add(Kind kind) {
        if (auto e = rate(RateClass::kWrites))
            return *e;
        if (!c_.body.is_object())
            return bad("body", "a signed record object");
        Record rec;
        std::string why;
        if (Refusal f = from_json(c_.body, kind, &rec, &why); f != Refusal::kNone) {
            r_.count_refusal(f, kind_name(kind),
                             str(c_.body, kind == Kind::kRelay ? "relay_id" : "node_id").value_or(""), why);
            return refused_reply(f, why);
        }
        Registry::Ingest const in = r_.ingest_record(rec, false);
        if (in.refusal != Refusal::kNone)
            return refused_reply(in.refusal, in.why);
        return {0, {{"success", true}, {"result", in.result}, {"node_id", to_hex(rec.id)}}};
    }

    Reply fetch(Kind kind) {
        if (auto e = rate(RateClass::kReads))
            return *e;
        const char* const key = kind == Kind::kRelay ? "relay_id" : "node_id";
        std::string const one = kind == Kind::kRelay ? "rri" : "nri";
        if (c_.query.contains(key)) {
            std::optional<NodeId> id = hex_field<kNodeIdBytes>(c_.query, key);
            if (!id)
                return bad(key, "64 lowercase hex digits");
            std::optional<StoredRecord> s = r_.db().get_record(kind, *id);
            if (!s || s->expires_s <= now_)
                return error_reply(-ENOENT, "not_found", "no " + one + " for " + to_hex(*id));
            return {0, {{"success", true}, {one, record_json(*s)}}};
        }
        json list = json::array();
        for (const StoredRecord& s : r_.db().list_records(kind, false))
            if (s.expires_s > now_)
                list.push_back(record_json(s));
        return {0, {{"success", true}, {one + "s", std::move(list)}}};
    }

    Reply discover(Kind kind) {
        if (auto e = rate(RateClass::kReads))
            return *e;
        json list = json::array();
        for (const StoredRecord& s : r_.db().list_records(kind, true))
            if (s.expires_s > now_)
                list.push_back(record_json(s));
        return {0, {{"success", true}, {kind == Kind::kRelay ? "relays" : "nodes", std::move(list)}}};
    }

    Reply local(Kind kind) {
        std::optional<Record> own = r_.own_record(kind);
        if (!own)
            return error_reply(-ENOENT, "not_found",
                               kind == Kind::kRelay
                                   ? "this node is not a relay (p2p.json \"relay\" is false)"
                                   : "this node has no address to announce (p2p.json advertise_host)");
        return {0, {{"success", true}, {kind == Kind::kRelay ? "rri" : "nri", to_json(*own)}}};
    }

    Reply challenge() {
        if (auto e = central_only())
            return *e;
        if (auto e = rate(RateClass::kRegister))
            return *e;
        std::optional<PublicKey> key = hex_field<kPublicKeyBytes>(c_.body, "public_key");
        if (!key)
            return bad("public_key", "64 lowercase hex digits (the node's Ed25519 key)");
        auto const nonce = r_.auth().challenge(*key, now_);
        return {0,
                {{"nonce", to_hex(nonce)},
                 {"registry_key", to_hex(r_.identity().peer().ed25519)},
                 {"registry_id", to_hex(r_.identity().id())},
                 {"expires", now_ + r_.auth().options().challenge_ttl_s}}};
    }

    // Parses the optional "nri"/"rri" of a registration or heartbeat, without storing; `verify_now` also verifies
    // them (a registration must refuse a bad record before its proof uses up the nonce; a heartbeat's records are
    // verified by ingest_record, which skips the ones the store already holds).
    std::optional<Reply> records_of(const NodeId& id, std::vector<Record>* out, bool verify_now) {
        for (Kind kind : {Kind::kNode, Kind::kRelay}) {
            const char* const key = kind == Kind::kRelay ? "rri" : "nri";
            auto it = c_.body.find(key);
            if (it == c_.body.end() || it->is_null())
                continue;
            Record rec;
            std::string why;
            Refusal f = from_json(*it, kind, &rec, &why);
            if (f == Refusal::kNone && verify_now)
                f = verify(rec, now_, &why);
            if (f == Refusal::kNone && rec.id != id) {
                f = Refusal::kKeyMismatch;
                why = std::string(key) + ": not signed by the registering node's key";
            }
            if (f != Refusal::kNone) {
                r_.count_refusal(f, kind_name(kind), to_hex(rec.id), why);
                return refused_reply(f, std::string(key) + ": " + why);
            }
            out->push_back(std::move(rec));
        }
        return std::nullopt;
    }

    Reply register_node() {
        if (auto e = central_only())
            return *e;
        if (auto e = rate(RateClass::kRegister))
            return *e;
        std::optional<PublicKey> key = hex_field<kPublicKeyBytes>(c_.body, "public_key");
        if (!key)
            return bad("public_key", "64 lowercase hex digits");
        std::optional<std::array<uint8_t, kNonceBytes>> nonce = hex_field<kNonceBytes>(c_.body, "nonce");
        if (!nonce)
            return bad("nonce", "64 lowercase hex digits (from /registry/challenge)");
        std::optional<uint64_t> timestamp = uint_field(c_.body, "timestamp");
        if (!timestamp)
            return bad("timestamp", "unix seconds");
        std::optional<crypto::Signature> sig = hex_field<crypto::kSignatureBytes>(c_.body, "signature");
        if (!sig)
            return bad("signature", "128 lowercase hex digits");
        if (!c_.body.contains("nri") || !c_.body["nri"].is_object())
            return bad("nri", "the node's signed NRI");
        NodeId const id = crypto::node_id_of(*key);
        std::vector<Record> records;
        if (auto e = records_of(id, &records, true))
            return *e;
        Session session;
        RedeemCheck const check =
            r_.auth().redeem(*key, *nonce, *timestamp, *sig, r_.identity().peer().ed25519, now_, &session);
        if (check != RedeemCheck::kOk) {
            Refusal const f = check == RedeemCheck::kBadSignature || check == RedeemCheck::kWrongKey
                                  ? Refusal::kBadSignature
                              : check == RedeemCheck::kStaleTimestamp ? Refusal::kExpired
                                                                      : Refusal::kReplayed;
            std::string const why = "registration proof refused: " + std::string(redeem_check_name(check));
            r_.count_refusal(f, "registration", to_hex(id), why);
            return error_reply(check == RedeemCheck::kFailed ? -EIO : -EPERM, "refused", why);
        }
        for (const Record& rec : records) {
            Registry::Ingest const in = r_.ingest_record(rec, true, &id);
            if (in.refusal != Refusal::kNone && in.refusal != Refusal::kReplayed) {
                r_.auth().end_session(session.token);
                return refused_reply(in.refusal, in.why);
            }
        }
        if (r_.db().mark_seen(id, now_))
            r_.mark_dirty();   // it was down: back in the live set
        return {0,
                {{"success", true},
                 {"session", session.token},
                 {"node_id", to_hex(id)},
                 {"expires", session.expires_s},
                 {"heartbeat_interval_s", r_.settings().heartbeat_interval_s}}};
    }

    Reply heartbeat() {
        if (auto e = central_only())
            return *e;
        if (auto e = rate(RateClass::kWrites))   // a session check costs a hash and a lookup: not for free
            return *e;
        std::optional<std::string> token = str(c_.body, "session");
        if (!token)
            return bad("session", "the session token from /registry/register");
        NodeId id{};
        SessionCheck const check = r_.auth().touch_session(*token, now_, &id);
        if (check != SessionCheck::kOk)
            return error_reply(-EPERM, "session_refused",
                               "session " + std::string(session_check_name(check)) + ": register again");
        std::vector<Record> records;
        if (auto e = records_of(id, &records, false))
            return *e;
        for (const Record& rec : records) {
            Registry::Ingest const in = r_.ingest_record(rec, true, &id);
            if (in.refusal != Refusal::kNone && in.refusal != Refusal::kReplayed)
                return refused_reply(in.refusal, in.why);
        }
        if (r_.db().mark_seen(id, now_))
            r_.mark_dirty();   // it was down: back in the live set
        return {0, {{"success", true}, {"expires", now_ + r_.settings().session_ttl_s}}};
    }

    Reply deregister() {
        if (auto e = central_only())
            return *e;
        if (auto e = rate(RateClass::kWrites))
            return *e;
        std::optional<std::string> token = str(c_.body, "session");
        if (!token)
            return bad("session", "the session token");
        NodeId id{};
        if (r_.auth().touch_session(*token, now_, &id) != SessionCheck::kOk)
            return error_reply(-EPERM, "session_refused", "no such session");
        r_.auth().end_session(*token);
        // A node that leaves on purpose leaves at once: its records go, and the feed removes it.
        r_.db().remove_record(Kind::kNode, id);
        r_.db().remove_record(Kind::kRelay, id);
        r_.publish("registry.record_down", {{"id", to_hex(id)}, {"reason", "deregistered"}});
        r_.mark_dirty();
        return {0, {{"success", true}}};
    }

    Reply status() {
        if (auto e = rate(RateClass::kReads))   // open, and it counts whole tables
            return *e;
        std::size_t const nri = r_.db().count_records(Kind::kNode, false),
                          rri = r_.db().count_records(Kind::kRelay, false);
        std::size_t const live =
            r_.db().count_records(Kind::kNode, true) + r_.db().count_records(Kind::kRelay, true);
        json refused = json::object();
        for (const auto& [k, v] : r_.refusals()) refused[k] = v;
        json central = json::array();
        if (json m = r_.member_status(); !m.is_null())
            central.push_back(std::move(m));
        return {0,
                {{"success", true},
                 {"backend", backend_name(r_.settings().backend)},
                 {"role", role_name(r_.role())},
                 {"node_id", to_hex(r_.identity().id())},
                 {"public_key", to_hex(r_.identity().peer().ed25519)},
                 {"records", {{"nri", nri}, {"rri", rri}, {"live", live}, {"down", nri + rri - live}}},
                 {"names", r_.db().count_names()},
                 {"sessions", r_.auth().count_sessions()},
                 {"refused", std::move(refused)},
                 {"feed", {{"pushed", r_.feed().pushed()}}},
                 {"dht", r_.dht_status()},
                 {"central", std::move(central)}}};
    }

    Reply sessions() {
        if (auto e = need(kScopeRead))
            return *e;
        json list = json::array();
        for (const SessionInfo& s : r_.auth().list_sessions())
            list.push_back({{"node_id", to_hex(s.node_id)},
                            {"public_key", to_hex(s.public_key)},
                            {"created", s.created_s},
                            {"expires", s.expires_s},
                            {"last_seen", s.last_seen_s}});
        return {0, {{"success", true}, {"sessions", std::move(list)}}};
    }

    Reply remove() {
        if (auto e = need(kScopeWrite))
            return *e;
        std::optional<std::string> kind = str(c_.body, "kind");
        if (!kind || (*kind != "nri" && *kind != "rri"))
            return bad("kind", "\"nri\" or \"rri\"");
        std::optional<NodeId> id = hex_field<kNodeIdBytes>(c_.body, "id");
        if (!id)
            return bad("id", "64 lowercase hex digits");
        if (!r_.db().remove_record(*kind == "rri" ? Kind::kRelay : Kind::kNode, *id))
            return error_reply(-ENOENT, "not_found", "no " + *kind + " for " + to_hex(*id));
        r_.mark_dirty();
        return {0, {{"success", true}}};
    }

    Reply create_account() {
        if (auto e = need(kScopeAdmin))
            return *e;
        std::optional<std::string> name = str(c_.body, "name"), password = str(c_.body, "password");
        if (!name)
            return bad("name", "an account name [a-z0-9_.-]{1,64}");
        if (!password)
            return bad("password", "a password of 12..1024 bytes");
        std::string const role = str(c_.body, "role").value_or("admin");
        std::string why;
        int const rc = r_.auth().create_account(*name, *password, role, now_, &why);
        sodium_memzero(password->data(), password->size());
        if (rc == -EEXIST)
            return error_reply(rc, "exists", "account " + *name + " exists");
        if (rc != 0)
            return error_reply(rc, rc == -EINVAL ? "bad_request" : "failed", why.empty() ? "failed" : why);
        return {0, {{"success", true}, {"name", *name}}};
    }

    Reply list_accounts() {
        if (auto e = need(kScopeAdmin))
            return *e;
        json list = json::array();
        for (const Account& a : r_.auth().list_accounts())
            list.push_back({{"name", a.name}, {"role", a.role}, {"created", a.created_s}});
        return {0, {{"success", true}, {"accounts", std::move(list)}}};
    }

    Reply delete_account() {
        if (auto e = need(kScopeAdmin))
            return *e;
        std::optional<std::string> name = str(c_.body, "name");
        if (!name)
            return bad("name", "an account name");
        if (r_.auth().delete_account(*name) != 0)
            return error_reply(-ENOENT, "not_found", "no account " + *name);
        return {0, {{"success", true}}};
    }

    std::optional<Reply> scopes_of(const json& obj, Scopes fallback, Scopes* out) {
        auto it = obj.find("scopes");
        if (it == obj.end() || it->is_null()) {
            *out = fallback;
            return std::nullopt;
        }
        std::vector<std::string> names;
        if (it->is_array())
            for (const json& s : *it)
                if (s.is_string())
                    names.push_back(s.get<std::string>());
        std::optional<Scopes> s =
            it->is_array() && names.size() == it->size() ? parse_scopes(names) : std::nullopt;
        if (!s)
            return bad("scopes", "a non-empty list of \"read\", \"write\", \"admin\"");
        *out = *s;
        return std::nullopt;
    }

    Reply token_reply(const IssuedToken& t) {
        return {0,
                {{"success", true},
                 {"token", t.secret},
                 {"id", t.id},
                 {"scopes", scope_names(t.scopes)},
                 {"expires", t.expires_s}}};
    }

    Reply issue_failed(int rc, const std::string& why) {
        if (rc == -ENOENT)
            return error_reply(rc, "not_found", why.empty() ? "no such account" : why);
        if (rc == -EPERM)
            return error_reply(rc, "forbidden", why.empty() ? "scopes beyond the account's role" : why);
        return error_reply(rc, rc == -EINVAL ? "bad_request" : "failed",
                           why.empty() ? "cannot issue a token" : why);
    }

    Reply login() {
        if (auto e = rate(RateClass::kLogin))
            return *e;
        std::optional<std::string> name = str(c_.body, "name"), password = str(c_.body, "password");
        if (!name)
            return bad("name", "an account name");
        if (!password)
            return bad("password", "the account's password");
        std::optional<Account> account = r_.auth().check_login(*name, *password);
        sodium_memzero(password->data(), password->size());
        if (!account)
            return error_reply(-EPERM, "unauthorized", "wrong account name or password");
        Scopes scopes = 0;
        if (auto e = scopes_of(c_.body, role_scopes(account->role).value_or(kScopeRead), &scopes))
            return *e;
        uint64_t ttl = 3600;
        if (c_.body.contains("ttl_s")) {
            std::optional<uint64_t> t = uint_field(c_.body, "ttl_s");
            if (!t || *t == 0 || *t > kTokenTtlMaxS)
                return bad("ttl_s", "seconds 1..31622400");
            ttl = *t;
        }
        IssuedToken t;
        std::string why;
        if (int rc = r_.auth().issue_token(account->name, scopes, ttl, "login", now_, &t, &why); rc != 0)
            return issue_failed(rc, why);
        return token_reply(t);
    }

    Reply list_tokens() {
        if (auto e = need(kScopeAdmin))
            return *e;
        json list = json::array();
        for (const TokenInfo& t : r_.auth().list_tokens())
            list.push_back({{"id", t.id},
                            {"account", t.account},
                            {"label", t.label},
                            {"scopes", scope_names(t.scopes)},
                            {"created", t.created_s},
                            {"expires", t.expires_s},
                            {"revoked", t.revoked}});
        return {0, {{"success", true}, {"tokens", std::move(list)}}};
    }

    Reply issue_token() {
        if (auto e = need(kScopeAdmin))
            return *e;
        std::optional<std::string> account = str(c_.body, "account");
        if (!account)
            return bad("account", "an account name");
        Scopes scopes = 0;
        if (!c_.body.contains("scopes"))
            return bad("scopes", "a non-empty list of \"read\", \"write\", \"admin\"");
        if (auto e = scopes_of(c_.body, 0, &scopes))
            return *e;
        std::optional<uint64_t> ttl = uint_field(c_.body, "ttl_s");
        if (!ttl || *ttl == 0 || *ttl > kTokenTtlMaxS)
            return bad("ttl_s", "seconds 1..31622400");
        std::string const label = str(c_.body, "label").value_or("");
        IssuedToken t;
        std::string why;
        if (int rc = r_.auth().issue_token(*account, scopes, *ttl, label, now_, &t, &why); rc != 0)
            return issue_failed(rc, why);
        return token_reply(t);
    }

    Reply revoke_token() {
        if (auto e = need(kScopeAdmin))
            return *e;
        std::optional<std::string> id = str(c_.body, "id");
        if (!id)
            return bad("id", "a token id (16 hex)");
        if (r_.auth().revoke_token(*id) != 0)
            return error_reply(-ENOENT, "not_found", "no token " + *id);
        return {0, {{"success", true}}};
    }

    std::optional<NameRecord> held_name(const std::string& name) {
        std::optional<std::vector<uint8_t>> raw = r_.db().get_name(name);
        NameRecord n;
        if (!raw || decode(*raw, &n) != Refusal::kNone || n.expires_s <= now_)
            return std::nullopt;
        return n;
    }

    Reply resolve() {
        if (auto e = rate(RateClass::kReads))
            return *e;
        if (c_.query.contains("name")) {
            std::optional<std::string> name = str(c_.query, "name");
            if (!name || !is_valid_name(*name))
                return bad("name", "a DNS-like lowercase name");
            std::optional<NameRecord> n = held_name(*name);
            if (!n)
                return error_reply(-ENOENT, "not_found", "no name " + *name);
            json target = nullptr;
            std::optional<StoredRecord> s = r_.db().get_record(Kind::kNode, n->target);
            Record rec;
            if (s && s->expires_s > now_ && decode(s->bytes, &rec) == Refusal::kNone)
                target = {
                    {"node_id", to_hex(rec.id)}, {"ipv4", rec.ipv4}, {"ipv6", rec.ipv6}, {"port", rec.port}};
            else if (std::optional<Record> own = r_.own_record(Kind::kNode); own && own->id == n->target)
                target = {{"node_id", to_hex(own->id)},
                          {"ipv4", own->ipv4},
                          {"ipv6", own->ipv6},
                          {"port", own->port}};
            return {0, {{"success", true}, {"name", to_json(*n)}, {"target", std::move(target)}}};
        }
        json list = json::array();
        for (const std::vector<uint8_t>& raw : r_.db().list_names()) {
            NameRecord n;
            if (decode(raw, &n) == Refusal::kNone && n.expires_s > now_)
                list.push_back(to_json(n));
        }
        return {0, {{"success", true}, {"names", std::move(list)}}};
    }

    Reply put_name() {
        if (auto e = rate(RateClass::kWrites))
            return *e;
        if (!c_.body.is_object())
            return bad("body", "a signed name record object");
        NameRecord n;
        std::string why;
        if (Refusal f = from_json(c_.body, &n, &why); f != Refusal::kNone) {
            r_.count_refusal(f, "name", str(c_.body, "name").value_or(""), why);
            return refused_reply(f, why);
        }
        Registry::Ingest const in = r_.ingest_name(n, true);
        if (in.refusal != Refusal::kNone)
            return refused_reply(in.refusal, in.why);
        return {0, {{"success", true}, {"result", in.result}, {"name", n.name}}};
    }

    Reply sign_name() {
        if (auto e = local_only())
            return *e;
        std::optional<std::string> name = str(c_.body, "name");
        if (!name || !is_valid_name(*name))
            return bad("name", "a DNS-like lowercase name");
        NameRecord n;
        n.name = *name;
        n.target = r_.identity().id();
        if (c_.body.contains("target") && !c_.body["target"].is_null()) {
            std::optional<NodeId> t = hex_field<kNodeIdBytes>(c_.body, "target");
            if (!t)
                return bad("target", "a node id (64 lowercase hex digits)");
            n.target = *t;
        }
        if (c_.body.contains("service") && !c_.body["service"].is_null()) {
            std::optional<std::string> s = str(c_.body, "service");
            if (!s)
                return bad("service", "a service name [a-z0-9_-]{0,32}");
            n.service = *s;
        }
        if (c_.body.contains("ttl_s") && !c_.body["ttl_s"].is_null()) {
            std::optional<uint64_t> ttl = uint_field(c_.body, "ttl_s");
            if (!ttl || *ttl == 0 || *ttl > kNameTtlMaxS)
                return bad("ttl_s", "seconds 1..86400");
            n.ttl_s = uint32_t(*ttl);
        }
        if (c_.body.contains("transfer_to") && !c_.body["transfer_to"].is_null()) {
            std::optional<PublicKey> k = hex_field<kPublicKeyBytes>(c_.body, "transfer_to");
            if (!k)
                return bad("transfer_to", "an Ed25519 public key (64 lowercase hex digits)");
            n.transfer_to = *k;
        }
        n.sequence = 1;
        if (std::optional<std::vector<uint8_t>> raw = r_.db().get_name(n.name)) {
            NameRecord held;
            if (decode(*raw, &held) == Refusal::kNone)
                n.sequence = held.sequence + 1;
        }
        n.created_s = now_;
        n.expires_s = now_ + kNameLifetimeMaxS;
        sign(n, r_.identity());
        Registry::Ingest const in = r_.ingest_name(n, true);
        if (in.refusal != Refusal::kNone)
            return refused_reply(in.refusal, in.why);
        return {0, {{"success", true}, {"result", in.result}, {"name", to_json(n)}}};
    }

private:
    Registry& r_;
    Caller c_;
    uint64_t now_;
};

}  // namespace

Reply Registry::call(std::string_view method, const json& envelope) {
    Caller c;
    c.peer = envelope.value("peer", std::string());
    std::string const auth = envelope.value("auth", std::string("none"));
    c.auth = auth == "local" ? AuthKind::kLocal : auth == "token" ? AuthKind::kToken : AuthKind::kNone;
    if (auth != "local" && auth != "token" && auth != "none")
        return error_reply(-EINVAL, "bad_request", "auth: expected \"local\", \"token\" or \"none\"");
    if (c.auth == AuthKind::kToken)
        c.token = envelope.value("token", std::string());
    if (auto it = envelope.find("query"); it != envelope.end() && it->is_object())
        c.query = *it;
    if (auto it = envelope.find("body"); it != envelope.end() && !it->is_null())
        c.body = *it;
    ServiceCall s(*this, std::move(c));
    using Fn = Reply (*)(ServiceCall&);
    static const std::map<std::string, Fn, std::less<>> kMethods = {
        {"add_nri", [](ServiceCall& x) { return x.add(Kind::kNode); }},
        {"add_rri", [](ServiceCall& x) { return x.add(Kind::kRelay); }},
        {"fetch_nri", [](ServiceCall& x) { return x.fetch(Kind::kNode); }},
        {"fetch_rri", [](ServiceCall& x) { return x.fetch(Kind::kRelay); }},
        {"discover_nodes", [](ServiceCall& x) { return x.discover(Kind::kNode); }},
        {"discover_relays", [](ServiceCall& x) { return x.discover(Kind::kRelay); }},
        {"local_nri", [](ServiceCall& x) { return x.local(Kind::kNode); }},
        {"local_rri", [](ServiceCall& x) { return x.local(Kind::kRelay); }},
        {"challenge", [](ServiceCall& x) { return x.challenge(); }},
        {"register", [](ServiceCall& x) { return x.register_node(); }},
        {"heartbeat", [](ServiceCall& x) { return x.heartbeat(); }},
        {"deregister", [](ServiceCall& x) { return x.deregister(); }},
        {"status", [](ServiceCall& x) { return x.status(); }},
        {"sessions", [](ServiceCall& x) { return x.sessions(); }},
        {"remove", [](ServiceCall& x) { return x.remove(); }},
        {"create_account", [](ServiceCall& x) { return x.create_account(); }},
        {"list_accounts", [](ServiceCall& x) { return x.list_accounts(); }},
        {"delete_account", [](ServiceCall& x) { return x.delete_account(); }},
        {"login", [](ServiceCall& x) { return x.login(); }},
        {"list_tokens", [](ServiceCall& x) { return x.list_tokens(); }},
        {"issue_token", [](ServiceCall& x) { return x.issue_token(); }},
        {"revoke_token", [](ServiceCall& x) { return x.revoke_token(); }},
        {"resolve", [](ServiceCall& x) { return x.resolve(); }},
        {"put_name", [](ServiceCall& x) { return x.put_name(); }},
        {"sign_name", [](ServiceCall& x) { return x.sign_name(); }},
    };
    auto it = kMethods.find(method);
    if (it == kMethods.end())
        return error_reply(-ENOENT, "not_found", "the registry service has no method " + std::string(method));
    return it->second(s);
}

}  // namespace voxa::registry
