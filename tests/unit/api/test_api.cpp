// The api plugin (voxa_api.so) alone: this file is its host. It dlopens the built module exactly as voxa-control
// does, answers node.* with fixed JSON, and talks to the plugin over real HTTP on 127.0.0.1 (port 0) with a tiny
// HTTP/1.1 client, so routing, auth, error bodies, metrics text and the token file are checked as a client sees
// them. The real node behind the routes is checked by tests/integration/test_api.py.
#include <voxa/plugin_abi.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../support/test_host.h"   // relative: this binary has only include/ on its path

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ---- the test host (support/test_host.h): node.* answer fixed JSON, other services are absent ----

class NodeHost : public voxa::test::TestHost {
public:
    NodeHost() {
        set("node.health", 0, R"({"status":"ok","control":{"pid":1,"epoch":1,"uptime_s":12},)"
                              R"("dataplane":{"up":true,"pid":2,"epoch":3,"heartbeat_age_ms":5}})");
        set("node.ready", 0, R"({"ready":true,"reasons":[]})");
        for (const char* m : {"system", "status", "version", "settings", "overview", "local_nri", "local_rri", "peers",
                              "circuits", "paths"}) {
            set(std::string("node.") + m, 0, json{{"answer_of", m}}.dump());
        }
        set("node.stats", 0, R"({"dataplane":{"up":true,"epoch":3},)"
                             R"("counters":[{"name":"rx_packets","kind":"counter"},{"name":"sessions_up","kind":"gauge"},)"
                             R"({"name":"cpu_ns","kind":"counter"}],)"
                             R"("workers":[{"worker":0,"values":{"rx_packets":10,"sessions_up":2,"cpu_ns":1500000000}},)"
                             R"({"worker":1,"values":{"rx_packets":7,"sessions_up":1}}],"totals":{"rx_packets":17}})");
        set("node.reload", 0, R"({"success":true,"applied":[],"restart_required":[]})");
        set("node.drain", 0, R"({"success":true,"draining":true,"deadline_s":10})");
        set("node.log_level", 0, R"({"success":true,"level":"debug"})");
    }
};

// ---- a tiny HTTP/1.1 client (one request per connection) ----

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;   // names lower-cased
    std::string body;
    json j() const { return json::parse(body, nullptr, false); }
    std::string code() const {
        json e = j();
        return e.is_object() && e.contains("error") ? e["error"].value("code", "") : "";
    }
};

Response http(uint16_t port, const std::string& method, const std::string& path, const std::string& body = "",
              const std::vector<std::string>& extra_headers = {}) {
    Response r;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return r;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return r;
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (auto& h : extra_headers) req += h + "\r\n";
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    size_t sent = 0;
    while (sent < req.size()) {
        ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += size_t(n);
    }
    std::string in;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, size_t(n));
        // Stop at a complete response: Pistache may keep the socket open despite Connection: close.
        auto end = in.find("\r\n\r\n");
        if (end != std::string::npos) {
            auto cl = in.find("Content-Length: ");
            if (cl != std::string::npos && cl < end &&
                in.size() >= end + 4 + std::stoul(in.substr(cl + 16, in.find("\r\n", cl) - cl - 16))) {
                break;
            }
        }
    }
    ::close(fd);
    auto end = in.find("\r\n\r\n");
    if (in.size() < 12 || end == std::string::npos) return r;
    r.status = std::atoi(in.substr(9, 3).c_str());
    size_t pos = in.find("\r\n") + 2;
    while (pos < end) {
        size_t eol = in.find("\r\n", pos);
        std::string line = in.substr(pos, eol - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers[name] = value;
        }
        pos = eol + 2;
    }
    r.body = in.substr(end + 4);
    return r;
}

// ---- the plugin under test ----

const voxa_plugin* plugin() {
    static const voxa_plugin* p = voxa::test::load_plugin(VOXA_API_MODULE);
    return p;
}

std::string temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "voxa-api-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    return made ? std::string(made) : std::string();
}

json config_for(const std::string& data_dir, json settings = json::object(), json plugin_settings = json::object()) {
    if (!settings.contains("server-settings")) settings["server-settings"] = {{"host", "127.0.0.1"}, {"port", 0}};
    return {{"name", "api"}, {"config_dir", data_dir}, {"data_dir", data_dir}, {"settings", settings},
            {"plugin", plugin_settings}};
}

std::string read_file(const std::string& path) {
    std::string out;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
        std::fclose(f);
    }
    return out;
}

// One started plugin instance on an ephemeral port, with its own data dir.
class Api : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_NE(plugin(), nullptr); }
    void TearDown() override {
        stop();
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    void start(json settings = json::object(), json plugin_settings = json::object()) {
        dir_ = temp_dir();
        ASSERT_FALSE(dir_.empty());
        std::string cfg = config_for(dir_, std::move(settings), std::move(plugin_settings)).dump();
        ASSERT_EQ(plugin()->create(host_.host(), cfg.c_str(), &instance_), 0) << host_.logs();
        ASSERT_EQ(plugin()->start(instance_), 0) << host_.logs();
        port_ = uint16_t(std::stoi(read_file(dir_ + "/run/api_port")));
        ASSERT_NE(port_, 0);
        token_ = read_file(dir_ + "/local/api_token");
        ASSERT_EQ(token_.size(), 64u);
    }
    void stop() {
        if (instance_ != nullptr) {
            plugin()->stop(instance_);
            plugin()->destroy(instance_);
            instance_ = nullptr;
        }
    }
    Response get(const std::string& path, std::vector<std::string> h = {}) { return http(port_, "GET", path, "", h); }
    Response post(const std::string& path, const std::string& body, bool auth = true) {
        std::vector<std::string> h;
        if (auth) h.push_back("Authorization: Bearer " + token_);
        return http(port_, "POST", path, body, h);
    }

    NodeHost host_;
    void* instance_ = nullptr;
    std::string dir_;
    std::string token_;
    uint16_t port_ = 0;
};

// ---- descriptor and create() ----

TEST(ApiPlugin, DescriptorMatchesTheAbi) {
    ASSERT_NE(plugin(), nullptr);
    EXPECT_EQ(plugin()->abi_major, VOXA_PLUGIN_ABI_MAJOR);
    EXPECT_EQ(plugin()->abi_minor, VOXA_PLUGIN_ABI_MINOR);
    EXPECT_EQ(plugin()->struct_size, sizeof(voxa_plugin));
    EXPECT_STREQ(plugin()->name, "api");
    EXPECT_NE(plugin()->reload, nullptr);
}

TEST(ApiPlugin, CreateRejectsBadConfigNamingTheKey) {
    ASSERT_NE(plugin(), nullptr);
    std::string dir = temp_dir();
    struct Case {
        json settings, plugin;
        const char* key;
    };
    std::vector<Case> cases = {
        {json::object(), {{"colour", "blue"}}, "plugin-settings.api.colour"},
        {json::object(), {{"threads", 0}}, "plugin-settings.api.threads"},
        {json::object(), {{"threads", 17}}, "plugin-settings.api.threads"},
        {json::object(), {{"threads", "2"}}, "plugin-settings.api.threads"},
        {json::object(), {{"max_body_bytes", -1}}, "plugin-settings.api.max_body_bytes"},
        {{{"server-settings", {{"host", "127.0.0.1"}, {"port", 70000}}}}, json::object(), "server-settings.port"},
        {{{"api-token-required-for-reads", "yes"}}, json::object(), "api-token-required-for-reads"},
    };
    for (auto& c : cases) {
        NodeHost host;
        void* inst = nullptr;
        std::string cfg = config_for(dir, c.settings, c.plugin).dump();
        EXPECT_NE(plugin()->create(host.host(), cfg.c_str(), &inst), 0) << c.key;
        EXPECT_NE(host.logs().find(c.key), std::string::npos) << host.logs();
    }
    NodeHost host;
    void* inst = nullptr;
    EXPECT_NE(plugin()->create(host.host(), "not json", &inst), 0);
    fs::remove_all(dir);
}

TEST(ApiPlugin, TokenFileIsCreatedPrivateAndReused) {
    ASSERT_NE(plugin(), nullptr);
    std::string dir = temp_dir();
    NodeHost host;
    void* inst = nullptr;
    std::string cfg = config_for(dir).dump();
    ASSERT_EQ(plugin()->create(host.host(), cfg.c_str(), &inst), 0) << host.logs();
    plugin()->destroy(inst);
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/local/api_token").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir + "/local").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    std::string token = read_file(dir + "/local/api_token");
    ASSERT_EQ(token.size(), 64u);
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);

    // A second start keeps the token (voxactl and scripts hold it).
    ASSERT_EQ(plugin()->create(host.host(), cfg.c_str(), &inst), 0);
    plugin()->destroy(inst);
    EXPECT_EQ(read_file(dir + "/local/api_token"), token);

    // Another data dir gets another token.
    std::string dir2 = temp_dir();
    std::string cfg2 = config_for(dir2).dump();
    ASSERT_EQ(plugin()->create(host.host(), cfg2.c_str(), &inst), 0);
    plugin()->destroy(inst);
    EXPECT_NE(read_file(dir2 + "/local/api_token"), token);

    // Readable by others: refused, with the fix in the message.
    ::chmod((dir + "/local/api_token").c_str(), 0644);
    EXPECT_NE(plugin()->create(host.host(), cfg.c_str(), &inst), 0);
    EXPECT_NE(host.logs().find("chmod 600"), std::string::npos) << host.logs();
    fs::remove_all(dir);
    fs::remove_all(dir2);
}

// ---- routes ----

TEST_F(Api, EveryNodeRouteAnswersTheNodeBodyInBothSlashForms) {
    start();
    const std::vector<std::pair<std::string, std::string>> routes = {
        {"/status/system", "system"},   {"/status", "status"},       {"/info/version", "version"},
        {"/info/settings", "settings"}, {"/info/network_overview/", "overview"},
        {"/data/get_local_nri/", "local_nri"}, {"/data/get_local_rri/", "local_rri"},
        {"/peers", "peers"}, {"/circuits", "circuits"}, {"/paths", "paths"}};
    for (auto& [path, method] : routes) {
        for (std::string p : {path, path.back() == '/' ? path.substr(0, path.size() - 1) : path + "/"}) {
            Response r = get(p);
            EXPECT_EQ(r.status, 200) << p;
            EXPECT_EQ(r.j().value("answer_of", ""), method) << p << " " << r.body;
            EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos) << p;
        }
    }
    Response h = get("/status/health");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.j()["dataplane"]["epoch"], 3);
    EXPECT_EQ(get("/stats").j()["totals"]["rx_packets"], 17);
}

TEST_F(Api, ReadyIs503WithTheSameBodyWhenNotReady) {
    start();
    EXPECT_EQ(get("/status/ready").status, 200);
    host_.set("node.ready", 0, R"({"ready":false,"reasons":["data plane down"]})");
    Response r = get("/status/ready");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.j()["reasons"][0], "data plane down");
}

TEST_F(Api, WritesNeedTheTokenReadsDoNotOnLoopback) {
    start();
    Response none = post("/control/reload", "{}", false);
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.code(), "unauthorized");
    EXPECT_NE(none.headers["www-authenticate"].find("Bearer"), std::string::npos);
    Response wrong = http(port_, "POST", "/control/reload", "{}", {"Authorization: Bearer " + std::string(64, '0')});
    EXPECT_EQ(wrong.status, 401);
    Response shortened = http(port_, "POST", "/control/reload", "{}", {"Authorization: Bearer " + token_.substr(0, 63)});
    EXPECT_EQ(shortened.status, 401);
    Response basic = http(port_, "POST", "/control/reload", "{}", {"Authorization: Basic " + token_});
    EXPECT_EQ(basic.status, 401);
    EXPECT_EQ(host_.calls("node.reload"), 0);

    Response ok = post("/control/reload", "{}");
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.j()["success"], true);
    EXPECT_EQ(host_.calls("node.reload"), 1);
    EXPECT_EQ(get("/status").status, 200);
    EXPECT_EQ(get("/status", {"Authorization: Bearer vxr_1_x"}).status, 200);   // a read: no token checked
}

TEST_F(Api, ReadsNeedTheTokenWhenConfigured) {
    start({{"api-token-required-for-reads", true}});
    EXPECT_EQ(get("/status").status, 401);
    EXPECT_EQ(get("/metrics").status, 401);
    EXPECT_EQ(get("/status", {"Authorization: Bearer vxr_1_x"}).status, 401);
    EXPECT_EQ(get("/status", {"Authorization: Bearer " + token_}).status, 200);
    EXPECT_EQ(get("/status", {"authorization: bearer " + token_}).status, 200);
}

TEST_F(Api, ReadsNeedTheTokenWhenNotOnLoopback) {
    start({{"server-settings", {{"host", "0.0.0.0"}, {"port", 0}}}});
    EXPECT_EQ(get("/status/health").status, 401);
    EXPECT_EQ(get("/status/health", {"Authorization: Bearer " + token_}).status, 200);
}

TEST_F(Api, ControlBodiesAreCheckedAndForwarded) {
    start();
    Response d = post("/control/drain", R"({"deadline_s":5})");
    EXPECT_EQ(d.status, 200) << d.body;
    EXPECT_EQ(json::parse(host_.last_input("node.drain")), json({{"deadline_s", 5}}));
    EXPECT_EQ(post("/control/drain", "").status, 200);   // an empty body is {}
    EXPECT_EQ(post("/control/log_level/", R"({"level":"debug"})").status, 200);
    EXPECT_EQ(json::parse(host_.last_input("node.log_level")), json({{"level", "debug"}}));

    struct Bad {
        const char* path;
        const char* body;
        const char* code;
        const char* mentions;
    };
    for (const Bad& b : std::vector<Bad>{
             {"/control/drain", "{", "bad_json", "JSON"},
             {"/control/drain", "[1,2]", "bad_json", "object"},
             {"/control/drain", "null", "bad_json", "object"},
             {"/control/drain", R"({"deadline_s":"5"})", "bad_field", "deadline_s"},
             {"/control/drain", R"({"deadline_s":0})", "bad_field", "deadline_s"},
             {"/control/drain", R"({"deadline_s":3601})", "bad_field", "deadline_s"},
             {"/control/drain", R"({"deadline_s":1.5})", "bad_field", "deadline_s"},
             {"/control/drain", R"({"deadline":5})", "bad_field", "deadline"},
             {"/control/reload", R"({"force":true})", "bad_field", "force"},
             {"/control/log_level", R"({})", "bad_field", "level"},
             {"/control/log_level", R"({"level":"loud"})", "bad_field", "level"},
             {"/control/log_level", R"({"level":3})", "bad_field", "level"},
             {"/control/log_level", "\xff\xfe", "bad_json", "JSON"},
         }) {
        Response r = post(b.path, b.body);
        EXPECT_EQ(r.status, 400) << b.path << " " << b.body;
        EXPECT_EQ(r.code(), b.code) << r.body;
        EXPECT_NE(r.j()["error"].value("message", "").find(b.mentions), std::string::npos) << r.body;
    }
}

TEST_F(Api, UnknownPathsWrongMethodsAndLargeBodies) {
    start({}, {{"max_body_bytes", 1024}});
    Response nf = get("/nope");
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(nf.code(), "not_found");
    EXPECT_EQ(get("/status//").status, 404);
    EXPECT_EQ(get("/").status, 404);

    Response m = post("/status", "{}");
    EXPECT_EQ(m.status, 405);
    EXPECT_EQ(m.code(), "method_not_allowed");
    EXPECT_EQ(m.headers["allow"], "GET");
    Response m2 = get("/control/drain");
    EXPECT_EQ(m2.status, 405);
    EXPECT_EQ(m2.headers["allow"], "POST");
    EXPECT_EQ(http(port_, "DELETE", "/peers").status, 405);

    Response big = post("/control/drain", "{\"deadline_s\":5" + std::string(2000, ' ') + "}");
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.code(), "too_large");
    Response huge = post("/control/drain", std::string(1 << 20, ' '));
    EXPECT_EQ(huge.status, 413);
    EXPECT_EQ(huge.code(), "too_large");
    EXPECT_EQ(host_.calls("node.drain"), 0);
    EXPECT_EQ(get("/status/health").status, 200);
}

// Pistache 0.0.5 answers malformed values of headers it parses into types with a 500; the plugin keeps those
// parsers away from headers it does not read, and answers a malformed Content-Length with a JSON 400.
TEST_F(Api, OddHeadersNeverGetA5xx) {
    start();
    for (const char* h : {"Host: x:abc", "Date: garbage", "Cache-Control: max-age=abc", "Cookie: a", "Accept: ;;;",
                          "Content-Type: /", "User-Agent: \xff\xfe", "Authorization: Bearer", "Authorization: \x01"}) {
        Response r = http(port_, "GET", "/status/health", "", {h});
        EXPECT_EQ(r.status, 200) << h << " " << r.body;
        Response w = http(port_, "POST", "/control/reload", "{}", {h, "Authorization: Bearer " + token_});
        EXPECT_TRUE(w.status == 200 || w.status == 401) << h << " " << w.status << " " << w.body;
    }
    for (const char* len : {"Content-Length: -5", "Content-Length: abc", "Content-Length: 99999999999999999999999"}) {
        Response r = http(port_, "GET", "/status/health", "", {len});
        EXPECT_EQ(r.status, 400) << len << " " << r.body;
        EXPECT_EQ(r.code(), "bad_field") << r.body;
        EXPECT_NE(r.body.find("Content-Length"), std::string::npos);
    }
    EXPECT_EQ(get("/status/health").status, 200);
}

TEST_F(Api, ServiceErrorsMapToStatuses) {
    start();
    host_.set("node.local_rri", -ENOENT, R"({"error":{"code":"not_relay","message":"p2p.relay is false"}})");
    Response r = get("/data/get_local_rri/");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.code(), "not_found");
    EXPECT_EQ(r.j()["error"]["message"], "p2p.relay is false");

    host_.set("node.reload", -EINVAL,
              R"({"error":{"code":"bad_config","message":"p2p.json: hops: expected an integer in 1..8"}})");
    Response bad = post("/control/reload", "{}");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.code(), "bad_config");
    EXPECT_NE(bad.body.find("p2p.json: hops"), std::string::npos);

    host_.set("node.drain", -EAGAIN, "");
    Response down = post("/control/drain", "{}");
    EXPECT_EQ(down.status, 503);
    EXPECT_EQ(down.code(), "unavailable");
    host_.set("node.log_level", -EPERM, "");
    EXPECT_EQ(post("/control/log_level", R"({"level":"info"})").status, 403);
    host_.set("node.log_level", -EEXIST, "");
    EXPECT_EQ(post("/control/log_level", R"({"level":"info"})").status, 409);
    host_.set("node.peers", -EIO, "");
    EXPECT_EQ(get("/peers").status, 503);
    host_.set("node.status", 0, "");
    EXPECT_EQ(get("/status").body, "{}");
}

TEST_F(Api, RegistryAndAppRoutesAre503UntilAServiceExists) {
    start();
    Response r = get("/data/fetch_nri/");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("registry plugin is not loaded"), std::string::npos);
    Response a = post("/apps/add_app/", R"({"name":"x"})");
    EXPECT_EQ(a.status, 503);
    EXPECT_NE(a.body.find("appmgr"), std::string::npos);
    EXPECT_EQ(post("/apps/add_app/", "{}", false).status, 401);   // still a write

    host_.set("appmgr.add_app", 0, R"({"success":true})");
    EXPECT_EQ(post("/apps/add_app", R"({"name":"x"})").status, 200);
    EXPECT_EQ(json::parse(host_.last_input("appmgr.add_app")), json({{"name", "x"}}));
    // Its errors get the contract's codes (only a 400 keeps the provider's own).
    host_.set("appmgr.add_app", -EPERM, R"({"error":{"code":"not_yours","message":"x belongs to another"}})");
    Response denied = post("/apps/add_app", R"({"name":"x"})");
    EXPECT_EQ(denied.status, 403);
    EXPECT_EQ(denied.code(), "forbidden");
}

// ---- the registry's routes (issue 6) ----

// Every registry route with the method the contract gives it.
const std::vector<std::tuple<std::string, std::string, std::string>>& registry_routes() {
    static const std::vector<std::tuple<std::string, std::string, std::string>> kAll = {
        {"POST", "/data/add_nri/", "add_nri"},          {"POST", "/data/add_rri/", "add_rri"},
        {"GET", "/data/fetch_nri/", "fetch_nri"},       {"GET", "/data/fetch_rri/", "fetch_rri"},
        {"GET", "/data/discover_nodes/", "discover_nodes"}, {"GET", "/data/discover_relays/", "discover_relays"},
        {"POST", "/registry/challenge", "challenge"},   {"POST", "/registry/register", "register"},
        {"POST", "/registry/heartbeat", "heartbeat"},   {"POST", "/registry/deregister", "deregister"},
        {"GET", "/registry/status", "status"},          {"GET", "/registry/sessions", "sessions"},
        {"POST", "/registry/records/remove", "remove"}, {"POST", "/registry/accounts", "create_account"},
        {"GET", "/registry/accounts", "list_accounts"}, {"POST", "/registry/accounts/delete", "delete_account"},
        {"POST", "/registry/login", "login"},           {"GET", "/registry/tokens", "list_tokens"},
        {"POST", "/registry/tokens", "issue_token"},    {"POST", "/registry/tokens/revoke", "revoke_token"},
        {"GET", "/registry/names", "resolve"},          {"POST", "/registry/names", "put_name"},
        {"POST", "/registry/names/claim", "sign_name"},
    };
    return kAll;
}

TEST_F(Api, RegistryRoutesGetTheEnvelope) {
    start();
    host_.set("registry.fetch_nri", 0, R"({"success":true,"nri":{"node_id":"ab"}})");
    Response f = get("/data/fetch_nri?node_id=ab", {"X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9"});
    EXPECT_EQ(f.status, 200) << f.body;
    EXPECT_EQ(f.j()["nri"]["node_id"], "ab");
    // The peer is the socket's address, whatever the client's headers claim.
    EXPECT_EQ(json::parse(host_.last_input("registry.fetch_nri")),
              json({{"peer", "127.0.0.1"}, {"auth", "none"}, {"query", {{"node_id", "ab"}}}, {"body", json::object()}}));

    // Open writes need no token; the body travels whole inside the envelope.
    host_.set("registry.add_nri", 0, R"({"success":true,"result":"new","node_id":"ab"})");
    Response add = post("/data/add_nri/", R"({"node_id":"ab","sequence":3})", false);
    EXPECT_EQ(add.status, 200) << add.body;
    json in = json::parse(host_.last_input("registry.add_nri"));
    EXPECT_EQ(in["auth"], "none");
    EXPECT_EQ(in["body"], json({{"node_id", "ab"}, {"sequence", 3}}));
    EXPECT_FALSE(in.contains("token"));

    // This node's API token: auth "local", the token itself is not passed on.
    EXPECT_EQ(post("/data/add_nri/", "{}").status, 200);
    in = json::parse(host_.last_input("registry.add_nri"));
    EXPECT_EQ(in["auth"], "local");
    EXPECT_FALSE(in.contains("token"));
    EXPECT_EQ(host_.last_input("registry.add_nri").find(token_), std::string::npos);

    // Another bearer: auth "token" with the bearer for the registry to check.
    Response t = http(port_, "POST", "/data/add_nri", "{}", {"Authorization: Bearer vxr_0011_abc"});
    EXPECT_EQ(t.status, 200) << t.body;
    in = json::parse(host_.last_input("registry.add_nri"));
    EXPECT_EQ(in["auth"], "token");
    EXPECT_EQ(in["token"], "vxr_0011_abc");

    // A non-bearer scheme is no credential.
    http(port_, "POST", "/data/add_nri", "{}", {"Authorization: Basic dXNlcjpwYXNz"});
    EXPECT_EQ(json::parse(host_.last_input("registry.add_nri"))["auth"], "none");

    // Bodies are still checked before the registry sees them.
    Response bad = post("/data/add_nri/", "[1]", false);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.code(), "bad_json");
}

TEST_F(Api, EveryRegistryRouteReachesItsMethod) {
    start();
    for (const auto& [method, path, target] : registry_routes()) {
        host_.set("registry." + target, 0, json{{"answer_of", target}}.dump());
        Response r = http(port_, method, path, method == "POST" ? "{}" : "", {"Authorization: Bearer " + token_});
        EXPECT_EQ(r.status, 200) << method << " " << path << " " << r.body;
        EXPECT_EQ(r.j().value("answer_of", ""), target) << method << " " << path;
        EXPECT_EQ(host_.calls("registry." + target), 1) << target;
    }
    // One path, two methods: anything else is 405 naming both.
    Response m = http(port_, "DELETE", "/registry/accounts");
    EXPECT_EQ(m.status, 405);
    EXPECT_EQ(m.headers["allow"], "GET, POST");
    EXPECT_EQ(get("/registry/challenge").status, 405);
    EXPECT_EQ(get("/registry/nope").status, 404);
}

TEST_F(Api, OpenRoutesSkipTheTokenEvenOffLoopback) {
    start({{"server-settings", {{"host", "0.0.0.0"}, {"port", 0}}}});
    for (const auto& [method, path, target] : registry_routes()) host_.set("registry." + target, 0, R"({"ok":1})");
    // Not loopback: the node's own routes need the token even for reads...
    EXPECT_EQ(get("/status").status, 401);
    // ...the open registry routes do not.
    for (const char* path : {"/registry/status", "/data/discover_relays/", "/data/fetch_rri/", "/registry/names"})
        EXPECT_EQ(get(path).status, 200) << path;
    for (const char* path : {"/registry/challenge", "/registry/register", "/registry/heartbeat", "/registry/login",
                             "/data/add_rri/", "/registry/names", "/registry/deregister"})
        EXPECT_EQ(post(path, "{}", false).status, 200) << path;

    // Admin routes need a bearer; without one the registry is not even asked.
    for (const char* path : {"/registry/sessions", "/registry/accounts", "/registry/tokens"}) {
        Response r = get(path);
        EXPECT_EQ(r.status, 401) << path;
        EXPECT_NE(r.headers["www-authenticate"].find("Bearer"), std::string::npos);
    }
    EXPECT_EQ(post("/registry/records/remove", "{}", false).status, 401);
    EXPECT_EQ(host_.calls("registry.sessions"), 0);
    EXPECT_EQ(host_.calls("registry.remove"), 0);
    // A registry token goes through to the registry, which checks its scope.
    Response s = get("/registry/sessions", {"Authorization: Bearer vxr_1234_scoped"});
    EXPECT_EQ(s.status, 200);
    json in = json::parse(host_.last_input("registry.sessions"));
    EXPECT_EQ(in["auth"], "token");
    EXPECT_EQ(in["token"], "vxr_1234_scoped");
    EXPECT_EQ(get("/registry/sessions", {"Authorization: Bearer " + token_}).status, 200);
    EXPECT_EQ(json::parse(host_.last_input("registry.sessions"))["auth"], "local");

    // Claiming a name signs with this node's key: the API token only, as every other node write.
    EXPECT_EQ(post("/registry/names/claim", R"({"name":"a.b"})", false).status, 401);
    EXPECT_EQ(http(port_, "POST", "/registry/names/claim", "{}", {"Authorization: Bearer vxr_1234_scoped"}).status, 401);
    EXPECT_EQ(host_.calls("registry.sign_name"), 0);
    Response c = post("/registry/names/claim", R"({"name":"a.b"})");
    EXPECT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(json::parse(host_.last_input("registry.sign_name"))["auth"], "local");
    EXPECT_EQ(json::parse(host_.last_input("registry.sign_name"))["body"], json({{"name", "a.b"}}));
}

TEST_F(Api, RegistryErrorsMapToStatuses) {
    start();
    host_.set("registry.login", -EAGAIN,
              R"({"error":{"code":"rate_limited","message":"10 logins per minute","retry_after_s":7}})");
    Response limited = post("/registry/login", R"({"name":"op","password":"x"})", false);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.code(), "rate_limited");
    EXPECT_EQ(limited.headers["retry-after"], "7");
    host_.set("registry.login", -EAGAIN, R"({"error":{"code":"rate_limited","message":"slow down"}})");
    Response limited2 = post("/registry/login", "{}", false);
    EXPECT_EQ(limited2.status, 429);
    EXPECT_EQ(limited2.headers["retry-after"], "1");
    host_.set("registry.login", -EAGAIN, R"({"error":{"code":"unavailable","message":"central registry unreachable"}})");
    Response busy = post("/registry/login", "{}", false);
    EXPECT_EQ(busy.status, 503);
    EXPECT_EQ(busy.headers.count("retry-after"), 0u);

    host_.set("registry.add_nri", -EINVAL, R"({"error":{"code":"refused","message":"bad_signature: signature"}})");
    Response refused = post("/data/add_nri", "{}", false);
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(refused.code(), "refused");
    EXPECT_EQ(refused.j()["error"]["message"], "bad_signature: signature");

    // -EPERM on an open route: 403 whoever asks (the record authenticates itself; no credential would change the
    // answer, so no 401 and no WWW-Authenticate); the registry's code is kept.
    host_.set("registry.put_name", -EPERM, R"({"error":{"code":"refused","message":"not_owner: name"}})");
    Response anon = post("/registry/names", "{}", false);
    EXPECT_EQ(anon.status, 403);
    EXPECT_EQ(anon.code(), "refused");
    EXPECT_EQ(anon.headers.count("www-authenticate"), 0u);
    EXPECT_EQ(http(port_, "POST", "/registry/names", "{}", {"Authorization: Bearer vxr_1_x"}).status, 403);
    EXPECT_EQ(post("/registry/names", "{}").status, 403);
    // -EPERM where a credential could change the answer: 401 to a caller without one, 403 to one with.
    host_.set("registry.local_nri", -EPERM, R"({"error":{"code":"refused","message":"not for you"}})");
    Response none = get("/data/get_local_nri");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.code(), "refused");
    EXPECT_NE(none.headers["www-authenticate"].find("Bearer"), std::string::npos);
    EXPECT_EQ(get("/data/get_local_nri", {"Authorization: Bearer vxr_1_x"}).status, 403);
    EXPECT_EQ(get("/data/get_local_nri", {"Authorization: Bearer " + token_}).status, 403);
    EXPECT_EQ(host_.calls("node.local_nri"), 0);   // the registry answered: no fallback

    host_.set("registry.fetch_nri", -ENOENT, R"({"error":{"code":"not_found","message":"no node ab"}})");
    EXPECT_EQ(get("/data/fetch_nri?node_id=ab").status, 404);   // a provider's -ENOENT with a body
    host_.set("registry.create_account", -EEXIST, "");
    Response dup = post("/registry/accounts", "{}");
    EXPECT_EQ(dup.status, 409);
    EXPECT_EQ(dup.code(), "conflict");
    host_.set("registry.status", -EIO, R"({"error":{"code":"db","message":"registry.db: disk I/O error"}})");
    Response io = get("/registry/status");
    EXPECT_EQ(io.status, 500);
    EXPECT_EQ(io.code(), "db");
    host_.set("registry.status", -EIO, "");
    EXPECT_EQ(get("/registry/status").code(), "internal");
}

TEST_F(Api, RegistryRoutesAre503WithoutThePluginAndLocalRecordsFallBack) {
    start();
    for (const auto& [method, path, target] : registry_routes()) {
        Response r = http(port_, method, path, method == "POST" ? "{}" : "", {"Authorization: Bearer " + token_});
        EXPECT_EQ(r.status, 503) << method << " " << path;
        EXPECT_EQ(r.code(), "unavailable") << path;
        EXPECT_NE(r.body.find("the registry plugin is not loaded on this node"), std::string::npos) << r.body;
    }
    // No registry: the node service answers as before.
    Response n = get("/data/get_local_nri/");
    EXPECT_EQ(n.status, 200);
    EXPECT_EQ(n.j()["answer_of"], "local_nri");
    // With one: the registry's signed record, and the node service is not asked.
    host_.set("registry.local_nri", 0, R"({"success":true,"nri":{"signature":"00"}})");
    host_.set("registry.local_rri", -ENOENT, R"({"error":{"code":"not_relay","message":"p2p.relay is false"}})");
    const int node_calls = host_.calls("node.local_nri");
    Response s = get("/data/get_local_nri");
    EXPECT_EQ(s.status, 200);
    EXPECT_EQ(s.j()["nri"]["signature"], "00");
    EXPECT_EQ(host_.calls("node.local_nri"), node_calls);
    EXPECT_EQ(json::parse(host_.last_input("registry.local_nri"))["auth"], "none");
    EXPECT_EQ(get("/data/get_local_rri").status, 404);
    EXPECT_EQ(host_.calls("node.local_rri"), 0);
}

TEST_F(Api, MetricsAreWellFormedPrometheusText) {
    start();
    get("/status");
    get("/nope");
    Response m = get("/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.headers["content-type"].find("text/plain"), std::string::npos);
    EXPECT_NE(m.headers["content-type"].find("version=0.0.4"), std::string::npos);
    const std::string& t = m.body;
    EXPECT_NE(t.find("# TYPE voxa_rx_packets_total counter\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_rx_packets_total{worker=\"0\"} 10\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_rx_packets_total{worker=\"1\"} 7\n"), std::string::npos) << t;
    EXPECT_NE(t.find("# TYPE voxa_sessions_up gauge\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_sessions_up{worker=\"1\"} 1\n"), std::string::npos) << t;
    // Time in base units: cpu_ns is exposed as seconds (promtool rejects abbreviated units).
    EXPECT_NE(t.find("# TYPE voxa_cpu_seconds_total counter\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_cpu_seconds_total{worker=\"0\"} 1.5\n"), std::string::npos) << t;
    EXPECT_EQ(t.find("cpu_ns"), t.find("Data plane stat cpu_ns") + 16) << "only in HELP";
    EXPECT_NE(t.find("voxa_dataplane_up 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_dataplane_epoch 3\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_control_uptime_seconds 12\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_api_requests_total{code=\"200\"} 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("voxa_api_requests_total{code=\"404\"} 1\n"), std::string::npos) << t;
    // HELP and TYPE once per family, every sample line belongs to a declared family.
    std::map<std::string, int> types;
    size_t pos = 0;
    while (pos < t.size()) {
        size_t eol = t.find('\n', pos);
        ASSERT_NE(eol, std::string::npos) << "the text ends with a newline";
        std::string line = t.substr(pos, eol - pos);
        if (line.rfind("# TYPE ", 0) == 0) types[line.substr(7, line.find(' ', 7) - 7)] += 1;
        else if (line.rfind("#", 0) != 0) {
            std::string name = line.substr(0, line.find_first_of("{ "));
            EXPECT_EQ(types.count(name), 1u) << line;
        }
        pos = eol + 1;
    }
    for (auto& [name, n] : types) EXPECT_EQ(n, 1) << name;

    host_.set("node.stats", -EAGAIN, "");
    EXPECT_EQ(get("/metrics").status, 503);
}

TEST_F(Api, OpenApiDocumentListsEveryRoute) {
    start();
    Response r = get("/openapi.json");
    ASSERT_EQ(r.status, 200);
    json doc = r.j();
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc["openapi"], "3.0.3");
    EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
    for (const char* p : {"/status/health", "/status/ready", "/status/system", "/status", "/info/version",
                          "/info/settings", "/info/network_overview/", "/data/get_local_nri/", "/data/get_local_rri/",
                          "/data/add_nri/", "/data/add_rri/", "/data/fetch_nri/", "/data/fetch_rri/",
                          "/data/discover_nodes/", "/data/discover_relays/", "/apps/add_app/", "/apps/list_apps/",
                          "/apps/get_app_status/", "/apps/add_stop_app/", "/apps/add_scale_app/", "/peers",
                          "/circuits", "/paths", "/stats", "/metrics", "/openapi.json", "/control/reload",
                          "/control/drain", "/control/log_level"}) {
        EXPECT_TRUE(doc["paths"].contains(p)) << p;
    }
    EXPECT_EQ(doc["paths"]["/control/drain"]["post"]["security"][0].count("bearerAuth"), 1u);
    for (const auto& [method, path, target] : registry_routes()) {
        std::string m = method == "GET" ? "get" : "post";
        ASSERT_TRUE(doc["paths"].contains(path)) << path;
        EXPECT_TRUE(doc["paths"][path].contains(m)) << method << " " << path;
        EXPECT_TRUE(doc["paths"][path][m]["responses"].contains("200")) << path;
    }
    // Open routes say so: no security requirement at all ({} first) and no 401 for missing tokens on them.
    EXPECT_EQ(doc["paths"]["/registry/challenge"]["post"]["security"], json::array({json::object()}));
    EXPECT_EQ(doc["paths"]["/registry/names/claim"]["post"]["security"][0].count("bearerAuth"), 1u);
}

TEST_F(Api, ConcurrentClientsAllAnswered) {
    start({}, {{"threads", 4}});
    std::atomic<int> bad{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 16; ++c) {
        clients.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                if (get("/status/health").status != 200) bad += 1;
            }
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(bad.load(), 0);
}

TEST_F(Api, StopClosesTheListenerAndRemovesThePortFile) {
    start();
    const uint16_t port = port_;
    ASSERT_EQ(http(port, "GET", "/status/health").status, 200);
    stop();
    EXPECT_FALSE(fs::exists(dir_ + "/run/api_port"));
    EXPECT_EQ(http(port, "GET", "/status/health").status, 0);   // connection refused
    int before = host_.calls("node.health");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(host_.calls("node.health"), before);
}

TEST_F(Api, ReloadAppliesLiveSettingsAndRefusesBadOnes) {
    start();
    EXPECT_EQ(get("/status").status, 200);
    json cfg = config_for(dir_, {{"server-settings", {{"host", "127.0.0.1"}, {"port", 0}}},
                                 {"api-token-required-for-reads", true}});
    ASSERT_EQ(plugin()->reload(instance_, cfg.dump().c_str()), 0) << host_.logs();
    EXPECT_EQ(get("/status").status, 401);
    json bad = config_for(dir_, json::object(), {{"threads", 99}});
    EXPECT_NE(plugin()->reload(instance_, bad.dump().c_str()), 0);
    EXPECT_EQ(get("/status").status, 401);   // old settings kept
}

// A client write to a closed socket must fail with EPIPE, not kill the test.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();

}  // namespace
