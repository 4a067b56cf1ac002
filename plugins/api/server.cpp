// Routing, auth, input checks and the Pistache endpoint. The route table below is the contract's REST table
// (docs/API.md); openapi.json describes the same routes for clients.
//
// Order of checks per request: route (404), method (405 + Allow), auth (401), body size (413), body JSON (400),
// then the service call, whose errno maps to a status. Every step answers JSON {"error":{"code","message"}}.
//
// Registry routes (service "registry", issue 6) get an envelope instead of the bare body: {"peer": the address
// Pistache saw, "auth": "local"|"token"|"none", "token"?: the bearer when it is not this node's API token,
// "query": {...}, "body": {...}}. Routes marked open skip the API token even off loopback: the registry
// authenticates them itself (sessions, signatures, its own tokens) and rate-limits them by `peer`.
#include "api.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/net.h>
#include <pistache/peer.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>

namespace voxa::api {

namespace {

enum class Kind : uint8_t { kNode, kReady, kMetrics, kOpenApi, kRegistry, kLocalRecord, kAppmgr, kReload, kDrain,
                            kLogLevel };

// Who may call a route, as far as the api plugin is concerned.
enum class Access : uint8_t {
    kApi,        // today's rule: the API token for writes, and for reads when token_for_reads
    kOpen,       // no API token needed, even off loopback: the registry authenticates the caller itself
    kBearer,     // some bearer needed (the API token or a registry token): the registry checks its scope
};

struct Route {
    std::string_view path;                 // canonical form: no trailing slash
    std::string_view method;               // the method of this row (a path may have one row per method)
    Kind kind;
    const char* target;                    // node or provider method
    Access access = Access::kApi;
};

constexpr Route kRoutes[] = {
    {"/status/health", "GET", Kind::kNode, "health"},
    {"/status/ready", "GET", Kind::kReady, "ready"},
    {"/status/system", "GET", Kind::kNode, "system"},
    {"/status", "GET", Kind::kNode, "status"},
    {"/info/version", "GET", Kind::kNode, "version"},
    {"/info/settings", "GET", Kind::kNode, "settings"},
    {"/info/network_overview", "GET", Kind::kNode, "overview"},
    {"/data/get_local_nri", "GET", Kind::kLocalRecord, "local_nri"},
    {"/data/get_local_rri", "GET", Kind::kLocalRecord, "local_rri"},
    {"/data/add_nri", "POST", Kind::kRegistry, "add_nri", Access::kOpen},
    {"/data/add_rri", "POST", Kind::kRegistry, "add_rri", Access::kOpen},
    {"/data/fetch_nri", "GET", Kind::kRegistry, "fetch_nri", Access::kOpen},
    {"/data/fetch_rri", "GET", Kind::kRegistry, "fetch_rri", Access::kOpen},
    {"/data/discover_nodes", "GET", Kind::kRegistry, "discover_nodes", Access::kOpen},
    {"/data/discover_relays", "GET", Kind::kRegistry, "discover_relays", Access::kOpen},
    {"/registry/challenge", "POST", Kind::kRegistry, "challenge", Access::kOpen},
    {"/registry/register", "POST", Kind::kRegistry, "register", Access::kOpen},
    {"/registry/heartbeat", "POST", Kind::kRegistry, "heartbeat", Access::kOpen},
    {"/registry/deregister", "POST", Kind::kRegistry, "deregister", Access::kOpen},
    {"/registry/status", "GET", Kind::kRegistry, "status", Access::kOpen},
    {"/registry/sessions", "GET", Kind::kRegistry, "sessions", Access::kBearer},
    {"/registry/records/remove", "POST", Kind::kRegistry, "remove", Access::kBearer},
    {"/registry/accounts", "GET", Kind::kRegistry, "list_accounts", Access::kBearer},
    {"/registry/accounts", "POST", Kind::kRegistry, "create_account", Access::kBearer},
    {"/registry/accounts/delete", "POST", Kind::kRegistry, "delete_account", Access::kBearer},
    {"/registry/login", "POST", Kind::kRegistry, "login", Access::kOpen},
    {"/registry/tokens", "GET", Kind::kRegistry, "list_tokens", Access::kBearer},
    {"/registry/tokens", "POST", Kind::kRegistry, "issue_token", Access::kBearer},
    {"/registry/tokens/revoke", "POST", Kind::kRegistry, "revoke_token", Access::kBearer},
    {"/registry/names", "GET", Kind::kRegistry, "resolve", Access::kOpen},
    {"/registry/names", "POST", Kind::kRegistry, "put_name", Access::kOpen},
    {"/registry/names/claim", "POST", Kind::kRegistry, "sign_name"},   // this node's key: the API token only
    {"/apps/add_app", "POST", Kind::kAppmgr, "add_app"},
    {"/apps/list_apps", "GET", Kind::kAppmgr, "list_apps"},
    {"/apps/get_app_status", "GET", Kind::kAppmgr, "get_app_status"},
    {"/apps/add_stop_app", "POST", Kind::kAppmgr, "add_stop_app"},
    {"/apps/add_scale_app", "POST", Kind::kAppmgr, "add_scale_app"},
    {"/peers", "GET", Kind::kNode, "peers"},
    {"/circuits", "GET", Kind::kNode, "circuits"},
    {"/paths", "GET", Kind::kNode, "paths"},
    {"/stats", "GET", Kind::kNode, "stats"},
    {"/metrics", "GET", Kind::kMetrics, nullptr},
    {"/openapi.json", "GET", Kind::kOpenApi, nullptr},
    {"/control/reload", "POST", Kind::kReload, "reload"},
    {"/control/drain", "POST", Kind::kDrain, "drain"},
    {"/control/log_level", "POST", Kind::kLogLevel, "log_level"},
};

constexpr const char* kRegistryMissing = "the registry plugin is not loaded on this node";
constexpr const char* kAppmgrMissing = "the app manager plugin (appmgr) is not loaded on this node";
constexpr std::size_t kHeaderSlackBytes = 64 * 1024;
// Pistache answers requests above its own limit with a plain-text 413 before we see them; keeping its limit well
// above max_body_bytes lets ordinary oversized bodies (up to this) get our JSON 413 instead.
constexpr std::size_t kPistacheRequestMinBytes = 2u << 20;

Reply error_reply(int status, const std::string& code, const std::string& message) {
    Reply r;
    r.status = status;
    // replace: a message may quote the client's bytes, which need not be UTF-8.
    r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

// The body as a JSON object: empty means {}; anything else must parse to an object.
bool parse_body(const std::string& body, nlohmann::json& out, Reply& err) {
    if (std::all_of(body.begin(), body.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; })) {
        out = nlohmann::json::object();
        return true;
    }
    try {
        out = nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        err = error_reply(400, "bad_json", std::string("the body is not valid JSON: ") + e.what());
        return false;
    }
    if (!out.is_object()) {
        err = error_reply(400, "bad_json", "the body must be a JSON object, got " + std::string(out.type_name()));
        return false;
    }
    return true;
}

// Rejects fields the route does not know: a typo ("deadline" for "deadline_s") must not be silently ignored.
bool only_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known, Reply& err) {
    for (const auto& [key, value] : body.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            err = error_reply(400, "bad_field",
                              "unknown field \"" + key + "\" (" + (list.empty() ? "this route takes {}" : "known: " + list) + ")");
            return false;
        }
    }
    return true;
}

// The credential of "Bearer <credential>" (scheme case-insensitive, RFC 7235; surrounding blanks ignored), or
// nullopt when the header is absent, of another scheme, or empty.
std::optional<std::string_view> bearer_of(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    constexpr std::string_view kScheme = "bearer ";
    if (v.size() <= kScheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return std::nullopt;
    }
    v.remove_prefix(kScheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.empty()) return std::nullopt;
    return v;
}

// A provider's {"error":{"code","message","retry_after_s"?}}; frees `out`.
struct ServiceError {
    std::string code;
    std::string message;
    std::optional<uint64_t> retry_after_s;
};
ServiceError take_error(const voxa_host* host, char* out) {
    ServiceError e;
    if (out == nullptr) return e;
    auto j = nlohmann::json::parse(out, nullptr, false);
    host->free_buffer(host->ctx, out);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
        const auto& err = j["error"];
        if (err.contains("code") && err["code"].is_string()) e.code = err["code"].get<std::string>();
        if (err.contains("message") && err["message"].is_string()) e.message = err["message"].get<std::string>();
        if (err.contains("retry_after_s") && err["retry_after_s"].is_number_unsigned())
            e.retry_after_s = err["retry_after_s"].get<uint64_t>();
    }
    // The registry may put it beside "error" too.
    if (!e.retry_after_s && j.is_object() && j.contains("retry_after_s") && j["retry_after_s"].is_number_unsigned())
        e.retry_after_s = j["retry_after_s"].get<uint64_t>();
    return e;
}

Reply unauthorized(const std::string& message) {
    Reply r = error_reply(401, "unauthorized", message);
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"voxa\"");
    return r;
}

}  // namespace

Core::Core(const voxa_host* host, const Config& config, const std::string& token)
    : host_(host), token_for_reads_(config.token_for_reads), max_body_bytes_(config.max_body_bytes) {
    crypto_generichash(token_hash_.data(), token_hash_.size(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size(), nullptr, 0);
}

void Core::apply(const Config& config) noexcept {
    token_for_reads_.store(config.token_for_reads);
    max_body_bytes_.store(config.max_body_bytes);
}

void Core::count(int status) noexcept {
    if (status >= 0 && std::size_t(status) < requests_by_code_.size())
        requests_by_code_[std::size_t(status)].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<int, uint64_t>> Core::request_counts() const {
    std::vector<std::pair<int, uint64_t>> out;
    for (std::size_t i = 0; i < requests_by_code_.size(); ++i) {
        uint64_t n = requests_by_code_[i].load(std::memory_order_relaxed);
        if (n != 0) out.emplace_back(int(i), n);
    }
    return out;
}

void Core::log(int level, const std::string& message, const nlohmann::json& fields) const noexcept {
    try {
        std::string f = fields.is_object() ? fields.dump() : std::string();
        host_->log(host_->ctx, level, message.c_str(), f.empty() ? nullptr : f.c_str());
    } catch (...) {
    }
}

bool Core::is_api_token(std::string_view credential) const noexcept {
    // Hash, then compare the fixed-size hashes in constant time: neither length nor content leaks through timing.
    std::array<uint8_t, 32> h{};
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(credential.data()),
                       credential.size(), nullptr, 0);
    return crypto_verify_32(h.data(), token_hash_.data()) == 0;
}

Reply Core::error_from_service(int rc, char* out) {
    ServiceError e = take_error(host_, out);
    int status = 503;
    std::string fallback = "unavailable";
    switch (rc) {
        case -EINVAL: status = 400; fallback = "bad_field"; break;
        case -ENOENT: status = 404; fallback = "not_found"; break;
        case -EPERM: status = 403; fallback = "forbidden"; break;
        case -EAGAIN: status = 503; fallback = "unavailable"; break;
        case -EEXIST: status = 409; fallback = "conflict"; break;
        default: status = 503; fallback = "unavailable"; break;
    }
    // Only a bad-input answer may carry the provider's own code; other statuses keep the contract's code so a
    // client can switch on it.
    if (e.code.empty() || rc != -EINVAL) e.code = fallback;
    if (e.message.empty()) e.message = std::string("the node answered ") + std::strerror(-rc);
    return error_reply(status, e.code, e.message);
}

// The registry's codes are part of its contract ("refused", "rate_limited", ...), so they are kept on every status.
Reply Core::error_from_registry(int rc, char* out, bool anonymous) {
    ServiceError e = take_error(host_, out);
    int status = 500;
    std::string fallback = "internal";
    switch (rc) {
        case -EINVAL: status = 400; fallback = "bad_field"; break;
        case -ENOENT: status = 404; fallback = "not_found"; break;
        case -EPERM:
        case -EACCES:
            status = anonymous ? 401 : 403;
            fallback = anonymous ? "unauthorized" : "forbidden";
            break;
        case -EEXIST: status = 409; fallback = "conflict"; break;
        case -EAGAIN:
            status = e.code == "rate_limited" ? 429 : 503;
            fallback = "unavailable";
            break;
        default: break;   // -EIO and anything unexpected: the registry failed, not the request
    }
    if (e.code.empty()) e.code = fallback;
    if (e.message.empty()) e.message = std::string("the registry answered ") + std::strerror(-rc);
    Reply r = error_reply(status, e.code, e.message);
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"voxa\"");
    // RFC 9110 §10.2.3: whole seconds. The registry says how long; at least 1 s when it does not.
    if (status == 429) r.headers.emplace_back("Retry-After", std::to_string(std::max<uint64_t>(1, e.retry_after_s.value_or(1))));
    return r;
}

Reply Core::call_node(const char* node_method, const nlohmann::json& input) {
    char* out = nullptr;
    const std::string in = input.dump();
    int rc = host_->call(host_->ctx, "node", node_method, in.c_str(), &out);
    if (rc != 0) return error_from_service(rc, out);
    Reply r;
    r.body = out != nullptr ? std::string(out) : std::string("{}");
    if (out != nullptr) host_->free_buffer(host_->ctx, out);
    return r;
}

Reply Core::call_service(const char* service, const char* method, const nlohmann::json& input,
                         const char* missing_message, Errors errors, bool anonymous, bool* absent) {
    char* out = nullptr;
    const std::string in = input.dump();
    int rc = host_->call(host_->ctx, service, method, in.c_str(), &out);
    // -ENOENT without an error body is the host's "no such service"; a provider's -ENOENT names what is missing.
    const bool missing = rc == -ENOENT && out == nullptr;
    if (absent != nullptr) *absent = missing;
    if (missing) return error_reply(503, "unavailable", missing_message);
    if (rc != 0) {
        return errors == Errors::kRegistry ? error_from_registry(rc, out, anonymous) : error_from_service(rc, out);
    }
    Reply r;
    r.body = out != nullptr ? std::string(out) : std::string("{}");
    if (out != nullptr) host_->free_buffer(host_->ctx, out);
    return r;
}

Reply Core::metrics() {
    auto fetch = [&](const char* method, nlohmann::json& into) -> int {
        char* out = nullptr;
        int rc = host_->call(host_->ctx, "node", method, "{}", &out);
        if (rc == 0 && out != nullptr) into = nlohmann::json::parse(out, nullptr, false);
        if (out != nullptr) host_->free_buffer(host_->ctx, out);
        return rc;
    };
    nlohmann::json stats;
    nlohmann::json health;
    int rc = fetch("stats", stats);
    if (rc != 0) return error_reply(503, "unavailable", std::string("node.stats failed: ") + std::strerror(-rc));
    fetch("health", health);   // optional: without it the dataplane fields come from stats
    Reply r;
    r.body = render_metrics(stats, health, request_counts());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

Reply Core::handle(const std::string& method, const std::string& path, const std::string& authorization,
                   const nlohmann::json& query, const std::string& body, const std::string& peer) noexcept {
    Reply r;
    try {
        r = route(method, path, authorization, query, body, peer);
    } catch (const std::exception& e) {
        // Input cannot get here (it is checked above); what can is memory exhaustion or a bug in a provider's JSON.
        log(VOXA_LOG_ERROR, "api request failed", {{"path", path}, {"error", e.what()}});
        r = error_reply(503, "unavailable", std::string("the request could not be served: ") + e.what());
    } catch (...) {
        r = error_reply(503, "unavailable", "the request could not be served");
    }
    count(r.status);
    return r;
}

Reply Core::route(const std::string& method, const std::string& raw_path, const std::string& authorization,
                  const nlohmann::json& query, const std::string& body, const std::string& peer) {
    // Both "/x" and "/x/" reach a route: the original API used trailing slashes, the new routes do not.
    std::string_view path = raw_path;
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    const Route* found = nullptr;
    std::string allow;   // the methods the path answers, for 405
    for (const Route& route : kRoutes) {
        if (route.path != path) continue;
        if (route.method == method) {
            found = &route;
            break;
        }
        allow += (allow.empty() ? "" : ", ") + std::string(route.method);
    }
    if (found == nullptr && allow.empty()) return error_reply(404, "not_found", "no route " + method + " " + raw_path);
    if (found == nullptr) {
        Reply r = error_reply(405, "method_not_allowed", std::string(path) + " accepts " + allow + " only, not " + method);
        r.headers.emplace_back("Allow", allow);
        return r;
    }
    const bool write = found->method != "GET";
    const auto credential = bearer_of(authorization);
    const bool registry = found->kind == Kind::kRegistry || found->kind == Kind::kLocalRecord;
    const bool token_needed = found->access == Access::kApi && (write || token_for_reads_.load());
    // The credential is hashed only where the answer is used: a route that needs the API token, and the registry's
    // envelope ("auth": "local"). Open reads (health checks, metrics scrapes) cost no hash.
    const bool local = credential && (token_needed || registry) && is_api_token(*credential);
    switch (found->access) {
        case Access::kApi:
            if (token_needed && !local) {
                return unauthorized(authorization.empty()
                                        ? "this route needs Authorization: Bearer <token> (the token is in <data>/local/api_token)"
                                        : "the bearer token is wrong");
            }
            break;
        case Access::kOpen: break;   // the registry authenticates (sessions, signatures) and rate-limits by peer
        case Access::kBearer:
            if (!credential) {
                return unauthorized("this route needs Authorization: Bearer <token>: this node's API token or a "
                                    "registry token (POST /registry/login)");
            }
            break;
    }
    const std::size_t max_body = max_body_bytes_.load();
    if (body.size() > max_body) {
        return error_reply(413, "too_large", "the body has " + std::to_string(body.size()) + " bytes; the limit is " +
                                                 std::to_string(max_body) + " (plugin-settings.api.max_body_bytes)");
    }
    nlohmann::json input = nlohmann::json::object();
    Reply err;
    if (write && !parse_body(body, input, err)) return err;

    switch (found->kind) {
        case Kind::kNode: return call_node(found->target, input);
        case Kind::kReady: {
            Reply r = call_node(found->target, input);
            if (r.status == 200) {
                auto j = nlohmann::json::parse(r.body, nullptr, false);
                bool ready = j.is_object() && j.contains("ready") && j["ready"].is_boolean() && j["ready"].get<bool>();
                if (!ready) r.status = 503;
            }
            return r;
        }
        case Kind::kMetrics: return metrics();
        case Kind::kOpenApi: {
            Reply r;
            r.body.assign(kOpenApiJson, kOpenApiJsonBytes);
            return r;
        }
        case Kind::kRegistry:
        case Kind::kLocalRecord: {
            nlohmann::json envelope = {{"peer", peer}, {"auth", local ? "local" : credential ? "token" : "none"},
                                       {"query", query.is_object() ? query : nlohmann::json::object()},
                                       {"body", input}};
            if (!local && credential) envelope["token"] = std::string(*credential);
            // 401 asks for credentials: only where a credential could change the answer. On an open route (a
            // registration, a name record) the request authenticates itself, and a refusal is a 403 whoever sent it.
            const bool anonymous = !credential && found->access != Access::kOpen;
            bool absent = false;
            Reply r = call_service("registry", found->target, envelope, kRegistryMissing, Errors::kRegistry, anonymous,
                                   &absent);
            // This node's own records: the registry signs them when it runs; without it, the node service has the
            // unsigned view it always had.
            return absent && found->kind == Kind::kLocalRecord ? call_node(found->target, nlohmann::json::object()) : r;
        }
        case Kind::kAppmgr:
            return call_service("appmgr", found->target, write ? input : query, kAppmgrMissing, Errors::kService);
        case Kind::kReload:
            if (!only_fields(input, {}, err)) return err;
            return call_node(found->target, input);
        case Kind::kDrain: {
            if (!only_fields(input, {"deadline_s"}, err)) return err;
            if (input.contains("deadline_s")) {
                const auto& d = input["deadline_s"];
                bool ok = d.is_number_integer() && (d.is_number_unsigned() || d.get<int64_t>() >= 0) &&
                          d.get<uint64_t>() >= 1 && d.get<uint64_t>() <= 3600;
                if (!ok) return error_reply(400, "bad_field", "deadline_s: expected an integer in 1..3600, got " + d.dump());
            }
            return call_node(found->target, input);
        }
        case Kind::kLogLevel: {
            if (!only_fields(input, {"level"}, err)) return err;
            auto it = input.find("level");
            static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
            bool ok = it != input.end() && it->is_string() &&
                      std::find(std::begin(kLevels), std::end(kLevels), it->get<std::string>()) != std::end(kLevels);
            if (!ok) {
                return error_reply(400, "bad_field",
                                   "level: expected one of \"debug\", \"info\", \"warn\", \"error\", got " +
                                       (it == input.end() ? std::string("nothing") : it->dump()));
            }
            return call_node(found->target, input);
        }
    }
    return error_reply(404, "not_found", "no route " + method + " " + raw_path);
}

// ---- Pistache ----

namespace {

// A response header by name. Pistache 0.0.5 writes only typed headers (Collection::addRaw ones are dropped), and
// has no WWW-Authenticate type, so this is the one type for every extra header we send.
class TextHeader : public Pistache::Http::Header::Header {
public:
    TextHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
    const char* name() const override { return name_.c_str(); }
    void parse(const std::string& data) override { value_ = data; }
    void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
    uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_.c_str()); }
#endif

private:
    std::string name_;
    std::string value_;
};

class HttpHandler : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(HttpHandler)

    explicit HttpHandler(std::shared_ptr<Core> core) : core_(std::move(core)) {}

    void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter response) override {
        using namespace Pistache;
        try {
            std::string authorization;
            if (auto a = request.headers().tryGet<Http::Header::Authorization>()) {
                authorization = a->value();
            } else if (auto raw = request.headers().tryGetRaw("Authorization")) {
                authorization = raw->value();
            }
            nlohmann::json query = nlohmann::json::object();
            const auto& q = request.query();
            for (auto it = q.parameters_begin(); it != q.parameters_end(); ++it) query[it->first] = it->second;
            // The socket's peer address: a client cannot choose it (X-Forwarded-For and the like are never read).
            std::string peer;
            try {
                peer = request.address().host();
            } catch (...) {
                peer.clear();
            }
            Reply r = core_->handle(Http::methodString(request.method()), request.resource(), authorization, query,
                                    request.body(), peer);
            for (auto& [name, value] : r.headers) response.headers().add(std::make_shared<TextHeader>(name, value));
            response.send(static_cast<Http::Code>(r.status), r.body, Http::Mime::MediaType::fromString(r.content_type));
        } catch (...) {
            // Header parsing or a closed peer; the connection may be gone, so a second failure is ignored.
            try {
                core_->count(400);
                response.send(Http::Code::Bad_Request,
                              R"({"error":{"code":"bad_field","message":"the request headers could not be read"}})",
                              Http::Mime::MediaType::fromString("application/json"));
            } catch (...) {
            }
        }
    }

private:
    std::shared_ptr<Core> core_;
};

// ---- keeping Pistache's header parsers away from headers we never read ----
//
// Pistache 0.0.5 parses some request headers into typed objects whose parsers throw on malformed values (Host
// "x:abc", Date "garbage", Cache-Control "max-age=abc", Cookie "a", Content-Length "-5") and answers those with a
// 500 before our handler runs. The header registry cannot be changed (re-registering a name throws), so the bytes
// are filtered before Pistache sees them: in each request's header block, headers we do not need are renamed to
// X-Voxa-Ignored-<name> (kept raw, never parsed) and a malformed Content-Length gets our JSON 400. Only a read
// that starts a request is filtered (the parser is at its request-line step), so bodies are never touched.
// Limitations: a header block split across two reads is filtered only in its first part, and of pipelined
// requests in one read only the first.

enum class Filtered : uint8_t { kAsIs, kRewritten, kBadLength };

bool needed_header(std::string_view lname) {
    static constexpr std::string_view kNeeded[] = {"content-length", "transfer-encoding", "connection",
                                                   "authorization", "expect"};
    return std::find(std::begin(kNeeded), std::end(kNeeded), lname) != std::end(kNeeded);
}

Filtered filter_headers(std::string_view chunk, std::string& out) {
    // Only a chunk that starts a request ("METHOD SP ...") has a header block at a known place.
    std::size_t m = 0;
    while (m < chunk.size() && m < 16 && chunk[m] >= 'A' && chunk[m] <= 'Z') ++m;
    if (m == 0 || m >= chunk.size() || chunk[m] != ' ') return Filtered::kAsIs;
    const std::size_t first_eol = chunk.find("\r\n");
    std::size_t head_end = chunk.find("\r\n\r\n");
    if (head_end == std::string_view::npos) head_end = chunk.rfind("\r\n");
    if (first_eol == std::string_view::npos || head_end <= first_eol) return Filtered::kAsIs;

    out.assign(chunk.substr(0, first_eol + 2));
    bool renamed = false;
    for (std::size_t pos = first_eol + 2; pos < head_end + 2;) {
        std::size_t eol = chunk.find("\r\n", pos);
        if (eol == std::string_view::npos || eol > head_end) eol = head_end;
        std::string_view line = chunk.substr(pos, eol - pos);
        std::size_t colon = line.find(':');
        std::string lname(line.substr(0, colon == std::string_view::npos ? line.size() : colon));
        for (auto& c : lname) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (lname == "content-length" && colon != std::string_view::npos) {
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
            bool digits = !v.empty() && v.size() <= 18 &&
                          std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (!digits) return Filtered::kBadLength;
        }
        if (line.empty() || needed_header(lname)) {
            out.append(line);
        } else {
            out.append("X-Voxa-Ignored-").append(line);
            renamed = true;
        }
        out.append("\r\n");
        pos = eol + 2;
    }
    out.append(chunk.substr(head_end + 2));
    return renamed ? Filtered::kRewritten : Filtered::kAsIs;
}

// Tcp::Handler::transport_ is private and has no setter for a handler we own; this reads the member pointer
// through the explicit-instantiation rule (access is not checked there), which is standard C++.
struct TransportMember {
    using type = Pistache::Tcp::Transport* Pistache::Tcp::Handler::*;
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
TransportMember::type transport_member(TransportMember);
#pragma GCC diagnostic pop
template <typename Tag, typename Tag::type kMember>
struct MemberAccess {
    friend typename Tag::type transport_member(Tag) { return kMember; }
};
template struct MemberAccess<TransportMember, &Pistache::Tcp::Handler::transport_>;

// What the endpoint runs: filters the bytes, then feeds them to an inner HttpHandler through Pistache's own
// Http::Handler::onInput (private there, public on Tcp::Handler). Pistache clones this once per I/O thread; every
// clone has its own inner handler bound to the clone's transport.
class FilteringHandler : public Pistache::Http::Handler {
public:
    HTTP_PROTOTYPE(FilteringHandler)

    explicit FilteringHandler(std::shared_ptr<Core> core)
        : core_(std::move(core)), inner_(std::make_shared<HttpHandler>(core_)) {}
    FilteringHandler(const FilteringHandler& other)
        : Pistache::Http::Handler(other), core_(other.core_), inner_(std::make_shared<HttpHandler>(core_)) {}

    void onRequest(const Pistache::Http::Request&, Pistache::Http::ResponseWriter) override {}   // inner_'s job

private:
    void onInput(const char* buffer, size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
        using namespace Pistache;
        if (!bound_) {
            (*inner_).*transport_member(TransportMember{}) = transport();
            inner_->setMaxRequestSize(getMaxRequestSize());
            inner_->setMaxResponseSize(getMaxResponseSize());
            inner_->setHeaderTimeout(getHeaderTimeout());
            inner_->setBodyTimeout(getBodyTimeout());
            bound_ = true;
        }
        std::string rewritten;
        Filtered f = Filtered::kAsIs;
        try {
            // Only where a request begins (the parser waits for a request line): never inside a body.
            auto parser = getParser(peer);
            const Http::Private::Step* step = parser ? parser->step() : nullptr;
            if (step != nullptr && step->id() == Http::Private::RequestLineStep::Id)
                f = filter_headers(std::string_view(buffer, len), rewritten);
        } catch (...) {
            f = Filtered::kAsIs;
        }
        if (f == Filtered::kBadLength) {
            static const std::string kBody =
                R"({"error":{"code":"bad_field","message":"Content-Length: expected a decimal number of bytes"}})";
            static const std::string kResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                                                 "Content-Length: " + std::to_string(kBody.size()) +
                                                 "\r\nConnection: close\r\n\r\n" + kBody;
            core_->count(400);
            try {
                getParser(peer)->reset();
                peer->send(RawBuffer(kResponse.data(), kResponse.size()));
            } catch (...) {
            }
            return;
        }
        Tcp::Handler& inner = *inner_;   // Http::Handler::onInput, reached through its public base
        if (f == Filtered::kRewritten) inner.onInput(rewritten.data(), rewritten.size(), peer);
        else inner.onInput(buffer, len, peer);
    }

    std::shared_ptr<Core> core_;
    std::shared_ptr<HttpHandler> inner_;
    bool bound_ = false;
};

}  // namespace

struct Server::Impl {
    std::unique_ptr<Pistache::Http::Endpoint> endpoint;
    std::string port_file;
};

Server::Server(const voxa_host* host, Config config, const std::string& token)
    : host_(host), config_(std::move(config)), core_(std::make_shared<Core>(host, config_, token)),
      impl_(std::make_unique<Impl>()) {}

Server::~Server() { stop(); }

std::string Server::start() {
    using namespace Pistache;
    const std::string where = config_.host + ":" + std::to_string(config_.port);
    try {
        Address address(config_.host, Port(config_.port));
        auto endpoint = std::make_unique<Http::Endpoint>(address);
        auto options = Http::Endpoint::options()
                           .threads(int(config_.threads))
                           .flags(Tcp::Options::ReuseAddr)
                           .maxRequestSize(std::max(config_.max_body_bytes + kHeaderSlackBytes, kPistacheRequestMinBytes));
        endpoint->init(options);
        endpoint->setHandler(std::make_shared<FilteringHandler>(core_));
        endpoint->serveThreaded();
        port_ = endpoint->getPort();
        impl_->endpoint = std::move(endpoint);
    } catch (const std::exception& e) {
        return "cannot listen on " + where + " (settings.json server-settings): " + e.what();
    }

    // The bound port, for port 0 and for voxactl and tests; written whole (rename) so a reader never sees half.
    const std::filesystem::path run = std::filesystem::path(config_.data_dir) / "run";
    std::error_code ec;
    std::filesystem::create_directories(run, ec);
    const std::string file = (run / "api_port").string();
    const std::string tmp = file + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port_ << "\n";
        out.close();
        if (!out || std::rename(tmp.c_str(), file.c_str()) != 0) {
            stop();
            return "cannot write " + file;
        }
    }
    impl_->port_file = file;
    core_->log(VOXA_LOG_INFO, "api listening",
               {{"host", config_.host}, {"port", port_}, {"threads", config_.threads},
                {"token_for_reads", config_.token_for_reads}});
    return "";
}

void Server::stop() noexcept {
    try {
        if (impl_->endpoint) {
            impl_->endpoint->shutdown();
            impl_->endpoint.reset();   // joins the accept thread: no request (and no host call) after this
        }
        if (!impl_->port_file.empty()) {
            ::unlink(impl_->port_file.c_str());
            impl_->port_file.clear();
        }
    } catch (...) {
    }
}

std::string Server::reload(const Config& config) {
    core_->apply(config);
    std::vector<std::string> restart;
    if (config.host != config_.host) restart.emplace_back("server-settings.host");
    if (config.port != config_.port) restart.emplace_back("server-settings.port");
    if (config.threads != config_.threads) restart.emplace_back("plugin-settings.api.threads");
    if (!restart.empty()) core_->log(VOXA_LOG_WARN, "api settings changed that need a restart", {{"keys", restart}});
    const std::string host = config_.host;
    const uint16_t port = config_.port;
    const uint32_t threads = config_.threads;
    config_ = config;
    config_.host = host;   // still listening on the old ones
    config_.port = port;
    config_.threads = threads;
    return "";
}

}  // namespace voxa::api
