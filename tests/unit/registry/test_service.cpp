// The registry plugin's "registry" service (plugins/registry/registry.h, service.cpp) driven directly with
// the envelopes the api plugin builds, on a real registry.db in a temporary folder, with a clock the test
// moves. A test voxa_host (support/test_host.h) records what the plugin sends to the data plane and
// publishes, and routes service calls to the services registered with it; the real data plane is exercised by
// the integration test (tests/integration/test_registry.py). The member role talks HTTP to the real api
// plugin (voxa_api.so, dlopened) in front of a central registry.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "control/control_test_util.h"
#include "registry/auth.h"
#ifdef VOXA_REGISTRY_DHT
#include "registry/dht_backend.h"
#endif
#include "registry/name_record.h"
#include "registry/record.h"
#include "registry/registry.h"
#include "sample_record.h"
#include "support/test_host.h"
#include "support/test_support.h"

namespace voxa::registry {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using voxa::test::eventually;
using voxa::test::TestHost;

constexpr uint64_t kStart = 1'800'000'000;

// ---- identities and records of other nodes ----

using test::identity;

Record make_record(const crypto::Identity& id, Kind kind, uint64_t now, uint64_t sequence,
                   const std::string& ip = "10.1.0.2", uint16_t port = 9000, uint64_t lifetime_s = 3600) {
    Record r;
    r.kind = kind;
    r.type = "standard";
    r.capabilities = {"voxa/1"};
    r.program_version = "test";
    r.ipv4 = ip;
    r.port = port;
    r.backend = "uring";
    r.capacity = 10;
    r.created_s = now;
    r.updated_s = now;
    r.expires_s = now + lifetime_s;
    r.sequence = sequence;
    sign_with_link(r, id, false, now);
    return r;
}

// ---- the fixture: a registry on a temporary data folder ----

class RegistryService : public testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(root_.empty()) << "mkdtemp failed";
        std::filesystem::create_directories(root_ / "config");
        std::filesystem::create_directories(root_ / "data");
        write_p2p(json{{"host", "127.0.0.1"}, {"port", 9100}, {"relay", true}, {"capacity", 50}});
    }
    void write_p2p(const json& p2p) { std::ofstream(root_ / "config" / "p2p.json") << p2p.dump(); }
    json config_json() const {
        return {{"name", "registry"},
                {"config_dir", (root_ / "config").string()},
                {"data_dir", (root_ / "data").string()},
                {"settings", json::object()},
                {"plugin", plugin_}};
    }
    std::string create() {
        std::string error;
        Registry::Options o;
        o.now_s = [this] { return now_.load(); };
        registry_ = Registry::create(host_.host(), config_json(), o, &error);
        if (registry_) {
            std::string const e = registry_->start();
            if (!e.empty())
                return e;
        }
        return error;
    }
    Reply call(const std::string& method, const json& body = json::object(), const std::string& auth = "none",
               const json& query = json::object(), const std::string& peer = "10.9.0.1",
               const std::string& token = "") {
        json envelope = {{"peer", peer}, {"auth", auth}, {"query", query}, {"body", body}};
        if (!token.empty())
            envelope["token"] = token;
        return registry_->call(method, envelope);
    }
    // Registers `node` by challenge-response; returns the session token (empty on failure, with
    // expectations).
    std::string register_node(const crypto::Identity& node, const std::string& ip = "10.1.0.2") {
        Reply c = call("challenge", {{"public_key", to_hex(node.peer().ed25519)}});
        EXPECT_EQ(c.rc, 0) << c.body.dump();
        if (c.rc != 0)
            return "";
        EXPECT_EQ(c.body["registry_key"], to_hex(registry_->identity().peer().ed25519));
        auto nonce = from_hex<kNonceBytes>(c.body["nonce"].get<std::string>());
        std::vector<uint8_t> const proof =
            registration_proof(registry_->identity().peer().ed25519, node.peer().ed25519, *nonce, now_);
        Reply r = call("register", {{"public_key", to_hex(node.peer().ed25519)},
                                    {"nonce", to_hex(*nonce)},
                                    {"timestamp", now_.load()},
                                    {"signature", to_hex(node.sign(proof))},
                                    {"nri", to_json(make_record(node, Kind::kNode, now_, now_, ip))},
                                    {"rri", to_json(make_record(node, Kind::kRelay, now_, now_, ip))}});
        EXPECT_EQ(r.rc, 0) << r.body.dump();
        if (r.rc != 0)
            return "";
        EXPECT_EQ(r.body["node_id"], to_hex(node.id()));
        return r.body["session"].get<std::string>();
    }
    static std::string code(const Reply& r) { return r.body["error"].value("code", ""); }
    static std::string message(const Reply& r) { return r.body["error"].value("message", ""); }
    // Ids named in the peer_remove / peer_update commands sent since the last look.
    std::pair<std::vector<std::string>, std::vector<std::string>> feed_changes() {
        std::vector<std::string> updated, removed;
        for (const json& c : host_.take_commands()) {
            if (c["type"] == "peer_remove")
                removed.push_back(c["node_id"]);
            if (c["type"] == "peer_update") {
                EXPECT_LE(c["descriptors"].size(), 3u);
                for (const json& d : c["descriptors"]) {
                    // The descriptor's key is at bytes 36..68: its id is what the data plane learns.
                    std::string const hex = d.get<std::string>();
                    EXPECT_EQ(hex.size(), 2 * directory::kDescriptorBytes);
                    directory::Descriptor desc;
                    std::vector<uint8_t> bytes(directory::kDescriptorBytes);
                    for (std::size_t i = 0; i < bytes.size(); ++i)
                        bytes[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
                    EXPECT_EQ(directory::verify_descriptor(bytes, now_, 3600, &desc), directory::Drop::kNone);
                    updated.push_back(to_hex(desc.id));
                }
            }
        }
        return {updated, removed};
    }

    cp::test::TempDir dir_;  // destroyed last: after the registries close their registry.db
    std::filesystem::path const root_ = dir_.path();
    std::atomic<uint64_t> now_{kStart};
    json plugin_ = json{{"heartbeat_interval_s", 2}, {"down_after_s", 6}, {"purge_after_s", 60}};
    TestHost host_;
    std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryService, OwnRecordsAreSignedAndServedAsLocalNriAndRri) {
    ASSERT_EQ(create(), "");
    EXPECT_EQ(registry_->role(), Role::kCentral);
    Reply n = call("local_nri");
    ASSERT_EQ(n.rc, 0) << n.body.dump();
    Record r;
    std::string why;
    ASSERT_EQ(from_json(n.body["nri"], Kind::kNode, &r, &why), Refusal::kNone) << why;
    EXPECT_EQ(verify(r, now_, &why), Refusal::kNone) << why;
    EXPECT_EQ(r.id, registry_->identity().id());
    EXPECT_EQ(r.ipv4, "127.0.0.1");
    EXPECT_EQ(r.port, 9100);
    EXPECT_EQ(r.capacity, 50u);
    Reply rr = call("local_rri");
    ASSERT_EQ(rr.rc, 0) << rr.body.dump();
    EXPECT_EQ(rr.body["rri"]["relay_id"], to_hex(registry_->identity().id()));

    // A refresh re-signs with a higher sequence.
    uint64_t const seq = r.sequence;
    now_ += 3600;
    registry_->tick();
    Reply again = call("local_nri");
    EXPECT_GT(again.body["nri"]["sequence"].get<uint64_t>(), seq);

    // A non-relay has no RRI.
    registry_.reset();
    write_p2p(json{{"host", "127.0.0.1"}, {"port", 9100}, {"relay", false}});
    ASSERT_EQ(create(), "");
    EXPECT_EQ(call("local_rri").rc, -ENOENT);
}

TEST_F(RegistryService, AddNriAcceptsGoodAndRefusesForgedReplayedExpired) {
    ASSERT_EQ(create(), "");
    crypto::Identity const b = identity(7);
    Record good = make_record(b, Kind::kNode, now_, 10);
    Reply r = call("add_nri", to_json(good));
    ASSERT_EQ(r.rc, 0) << r.body.dump();
    EXPECT_EQ(r.body["result"], "new");
    EXPECT_EQ(r.body["node_id"], to_hex(b.id()));
    EXPECT_EQ(call("add_nri", to_json(good)).body["result"], "unchanged");
    EXPECT_EQ(host_.count_events("registry.record_added"), 1u);

    Reply f = call("fetch_nri", json::object(), "none", {{"node_id", to_hex(b.id())}});
    ASSERT_EQ(f.rc, 0) << f.body.dump();
    EXPECT_EQ(f.body["nri"]["node_id"], to_hex(b.id()));
    EXPECT_EQ(f.body["nri"]["live"], true);
    EXPECT_EQ(call("fetch_nri").body["nris"].size(), 2u) << "b and this node";
    EXPECT_EQ(call("fetch_nri", json::object(), "none", {{"node_id", std::string(64, 'a')}}).rc, -ENOENT);
    EXPECT_EQ(call("fetch_nri", json::object(), "none", {{"node_id", "../etc/passwd"}}).rc, -EINVAL);

    // Forged: a field changed after signing.
    json forged = to_json(make_record(b, Kind::kNode, now_, 11));
    forged["metadata"] = {{"node_name", "evil"}};
    Reply fr = call("add_nri", forged);
    EXPECT_EQ(fr.rc, -EINVAL);
    EXPECT_EQ(code(fr), "refused");
    EXPECT_EQ(message(fr).rfind("bad_signature:", 0), 0u) << message(fr);
    // Signed by another key than the one it names.
    Record other = make_record(b, Kind::kNode, now_, 12);
    other.signature = identity(8).sign(std::vector<uint8_t>{1, 2, 3});
    EXPECT_EQ(call("add_nri", to_json(other)).rc, -EINVAL);
    // Replayed: an older sequence than the one held.
    Record old = make_record(b, Kind::kNode, now_, 9);
    Reply rp = call("add_nri", to_json(old));
    EXPECT_EQ(rp.rc, -EINVAL);
    EXPECT_EQ(message(rp).rfind("replayed:", 0), 0u) << message(rp);
    // Expired.
    Record expired = make_record(b, Kind::kNode, now_ - 7200, 20, "10.1.0.2", 9000, 3600);
    Reply ex = call("add_nri", to_json(expired));
    EXPECT_EQ(ex.rc, -EINVAL);
    EXPECT_EQ(message(ex).rfind("expired:", 0), 0u) << message(ex);
    // Malformed JSON shape.
    EXPECT_EQ(call("add_nri", json{{"node_id", "x"}}).rc, -EINVAL);

    // The held record is still the good one; every refusal is counted by reason.
    EXPECT_EQ(
        call("fetch_nri", json::object(), "none", {{"node_id", to_hex(b.id())}}).body["nri"]["sequence"], 10);
    json const refused = call("status").body["refused"];
    EXPECT_EQ(refused.value("bad_signature", 0), 2) << refused.dump();
    EXPECT_EQ(refused.value("replayed", 0), 1) << refused.dump();
    EXPECT_EQ(refused.value("expired", 0), 1) << refused.dump();
    EXPECT_GE(host_.count_events("registry.refused"), 4u);
}

TEST_F(RegistryService, RegisterHeartbeatDeregisterRoundTrip) {
    ASSERT_EQ(create(), "");
    crypto::Identity const b = identity(9);
    std::string const session = register_node(b);
    ASSERT_FALSE(session.empty());
    EXPECT_EQ(session.rfind("vxs_", 0), 0u);

    Reply relays = call("discover_relays");
    ASSERT_EQ(relays.rc, 0);
    bool found = false;
    for (const json& r : relays.body["relays"]) found = found || r["relay_id"] == to_hex(b.id());
    EXPECT_TRUE(found) << relays.body.dump();

    Reply s = call("sessions", json::object(), "local");
    ASSERT_EQ(s.rc, 0) << s.body.dump();
    ASSERT_EQ(s.body["sessions"].size(), 1u);
    EXPECT_EQ(s.body["sessions"][0]["node_id"], to_hex(b.id()));
    EXPECT_EQ(call("sessions").rc, -EPERM) << "sessions need a token";

    now_ += 1;
    Record newer = make_record(b, Kind::kNode, now_, now_ + 5);
    Reply hb = call("heartbeat", {{"session", session}, {"nri", to_json(newer)}});
    ASSERT_EQ(hb.rc, 0) << hb.body.dump();
    EXPECT_EQ(
        call("fetch_nri", json::object(), "none", {{"node_id", to_hex(b.id())}}).body["nri"]["sequence"],
        now_ + 5);
    // A heartbeat may only carry the session's own records.
    Reply hb2 = call("heartbeat", {{"session", session},
                                   {"nri", to_json(make_record(identity(10), Kind::kNode, now_, 1))}});
    EXPECT_EQ(hb2.rc, -EINVAL);
    EXPECT_EQ(message(hb2).rfind("key_mismatch:", 0), 0u) << message(hb2);

    Reply d = call("deregister", {{"session", session}});
    ASSERT_EQ(d.rc, 0) << d.body.dump();
    EXPECT_EQ(call("fetch_nri", json::object(), "none", {{"node_id", to_hex(b.id())}}).rc, -ENOENT);
    Reply after = call("heartbeat", {{"session", session}});
    EXPECT_EQ(after.rc, -EPERM);
    EXPECT_EQ(code(after), "session_refused");
    EXPECT_EQ(call("heartbeat", {{"session", "vxs_bogus"}}).rc, -EPERM);
}

TEST_F(RegistryService, RegistrationProofsForAnotherRegistryOrKeyAreRefused) {
    ASSERT_EQ(create(), "");
    crypto::Identity const b = identity(11);
    Reply c = call("challenge", {{"public_key", to_hex(b.peer().ed25519)}});
    ASSERT_EQ(c.rc, 0);
    auto nonce = from_hex<kNonceBytes>(c.body["nonce"].get<std::string>());
    // Bound to another registry's key: useless here.
    PublicKey const wrong_registry = identity(12).peer().ed25519;
    std::vector<uint8_t> const proof = registration_proof(wrong_registry, b.peer().ed25519, *nonce, now_);
    json body = {{"public_key", to_hex(b.peer().ed25519)},
                 {"nonce", to_hex(*nonce)},
                 {"timestamp", now_.load()},
                 {"signature", to_hex(b.sign(proof))},
                 {"nri", to_json(make_record(b, Kind::kNode, now_, 1))}};
    Reply r = call("register", body);
    EXPECT_EQ(r.rc, -EPERM) << r.body.dump();
    EXPECT_EQ(code(r), "refused");
    EXPECT_EQ(call("sessions", json::object(), "local").body["sessions"].size(), 0u);
    // The right proof with another node's NRI: refused before any session is opened.
    std::vector<uint8_t> const good =
        registration_proof(registry_->identity().peer().ed25519, b.peer().ed25519, *nonce, now_);
    body["signature"] = to_hex(b.sign(good));
    body["nri"] = to_json(make_record(identity(13), Kind::kNode, now_, 1));
    Reply m = call("register", body);
    EXPECT_EQ(m.rc, -EINVAL) << m.body.dump();
    EXPECT_EQ(message(m).rfind("key_mismatch:", 0), 0u) << message(m);
    // The right proof and records: accepted, once (the nonce is single use).
    body["nri"] = to_json(make_record(b, Kind::kNode, now_, 1));
    EXPECT_EQ(call("register", body).rc, 0);
    EXPECT_EQ(call("register", body).rc, -EPERM) << "a nonce is single use";
    EXPECT_EQ(call("register", json{{"public_key", "zz"}}).rc, -EINVAL);
}

TEST_F(RegistryService, MissingHeartbeatsMarkDownAndTheFeedRemoves) {
    ASSERT_EQ(create(), "");
    crypto::Identity const b = identity(14), c = identity(15);
    std::string const sb = register_node(b, "10.1.0.2");
    std::string const sc = register_node(c, "10.1.0.3");
    ASSERT_FALSE(sb.empty());
    ASSERT_FALSE(sc.empty());
    registry_->tick();
    auto [updated, removed] = feed_changes();
    EXPECT_EQ(std::set<std::string>(updated.begin(), updated.end()),
              (std::set<std::string>{to_hex(b.id()), to_hex(c.id())}))
        << "the live set, without this node";
    EXPECT_TRUE(removed.empty());
    registry_->tick();
    EXPECT_TRUE(host_.take_commands().empty()) << "nothing changed, nothing sent";

    // b keeps heartbeating; c falls silent.
    for (int i = 0; i < 5; ++i) {
        now_ += 2;
        ASSERT_EQ(call("heartbeat", {{"session", sb}}).rc, 0);
        registry_->tick();
    }
    auto [updated2, removed2] = feed_changes();
    EXPECT_TRUE(updated2.empty());
    EXPECT_EQ(removed2, std::vector<std::string>{to_hex(c.id())});
    EXPECT_EQ(host_.count_events("registry.record_down"), 1u);
    Reply fc = call("fetch_nri", json::object(), "none", {{"node_id", to_hex(c.id())}});
    EXPECT_EQ(fc.body["nri"]["live"], false);
    EXPECT_EQ(call("discover_nodes").body["nodes"].size(), 2u) << "this node and b";

    // c comes back with a heartbeat: live again, pushed again.
    ASSERT_EQ(call("heartbeat", {{"session", sc}}).rc, 0);
    registry_->tick();
    EXPECT_EQ(feed_changes().first, std::vector<std::string>{to_hex(c.id())});

    // A data plane that refuses (down) gets everything once it is back.
    now_ += 100;
    host_.set_dataplane_rc(-EAGAIN);
    registry_->tick();
    host_.set_dataplane_rc(0);
    registry_->tick();
    auto [updated3, removed3] = feed_changes();
    EXPECT_EQ(removed3.size(), 2u) << "both silent past down_after_s";
    // Purged after purge_after_s: gone from the store.
    now_ += 100;
    registry_->tick();
    EXPECT_EQ(call("fetch_nri", json::object(), "none", {{"node_id", to_hex(c.id())}}).rc, -ENOENT);
}

TEST_F(RegistryService, AccountsLoginAndScopedTokens) {
    ASSERT_EQ(create(), "");
    json const alice = {{"name", "alice"}, {"password", "correct horse battery"}, {"role", "admin"}};
    Reply none = call("create_account", alice);
    EXPECT_EQ(none.rc, -EPERM);
    EXPECT_EQ(code(none), "unauthorized");
    ASSERT_EQ(call("create_account", alice, "local").rc, 0);
    EXPECT_EQ(call("create_account", alice, "local").rc, -EEXIST);
    EXPECT_EQ(call("create_account", {{"name", "bob"}, {"password", "short"}}, "local").rc, -EINVAL);
    ASSERT_EQ(call("create_account", {{"name", "rita"}, {"password", "reader password 1"}, {"role", "read"}},
                   "local")
                  .rc,
              0);

    EXPECT_EQ(call("login", {{"name", "alice"}, {"password", "wrong password!"}}).rc, -EPERM);
    EXPECT_EQ(call("login", {{"name", "nobody"}, {"password", "wrong password!"}}).rc, -EPERM);
    Reply login = call("login", {{"name", "alice"}, {"password", "correct horse battery"}});
    ASSERT_EQ(login.rc, 0) << login.body.dump();
    std::string const admin = login.body["token"];
    EXPECT_EQ(admin.rfind("vxr_", 0), 0u);
    Reply accounts = call("list_accounts", json::object(), "token", json::object(), "10.9.0.1", admin);
    ASSERT_EQ(accounts.rc, 0) << accounts.body.dump();
    EXPECT_EQ(accounts.body["accounts"].size(), 2u);
    EXPECT_FALSE(accounts.body.dump().find("correct horse") != std::string::npos);

    // A read-only login: reads yes, admin no; it cannot ask for more than its role.
    Reply rl = call("login", {{"name", "rita"}, {"password", "reader password 1"}});
    ASSERT_EQ(rl.rc, 0) << rl.body.dump();
    std::string const reader = rl.body["token"];
    EXPECT_EQ(call("sessions", json::object(), "token", json::object(), "10.9.0.1", reader).rc, 0);
    Reply denied = call("list_accounts", json::object(), "token", json::object(), "10.9.0.1", reader);
    EXPECT_EQ(denied.rc, -EPERM);
    EXPECT_EQ(code(denied), "forbidden");
    EXPECT_EQ(call("login", {{"name", "rita"}, {"password", "reader password 1"}, {"scopes", {"admin"}}}).rc,
              -EPERM);

    // Issued tokens: scoped, listed without secrets, revocable.
    Reply issued =
        call("issue_token", {{"account", "alice"}, {"scopes", {"write"}}, {"ttl_s", 600}, {"label", "ci"}},
             "token", json::object(), "10.9.0.1", admin);
    ASSERT_EQ(issued.rc, 0) << issued.body.dump();
    std::string const writer = issued.body["token"];
    Reply tokens = call("list_tokens", json::object(), "local");
    ASSERT_EQ(tokens.rc, 0);
    EXPECT_EQ(tokens.body["tokens"].size(), 3u);
    EXPECT_EQ(tokens.body.dump().find(writer), std::string::npos) << "no secrets in the list";
    crypto::Identity const b = identity(16);
    ASSERT_EQ(call("add_nri", to_json(make_record(b, Kind::kNode, now_, 1))).rc, 0);
    EXPECT_EQ(
        call("remove", {{"kind", "nri"}, {"id", to_hex(b.id())}}, "token", json::object(), "10.9.0.1", reader)
            .rc,
        -EPERM);
    EXPECT_EQ(
        call("remove", {{"kind", "nri"}, {"id", to_hex(b.id())}}, "token", json::object(), "10.9.0.1", writer)
            .rc,
        0);
    ASSERT_EQ(call("revoke_token", {{"id", issued.body["id"]}}, "local").rc, 0);
    EXPECT_EQ(call("sessions", json::object(), "token", json::object(), "10.9.0.1", writer).rc, -EPERM);
    // Expiry: the writer token had 600 s; the admin login 3600 s.
    now_ += 3601;
    EXPECT_EQ(call("list_accounts", json::object(), "token", json::object(), "10.9.0.1", admin).rc, -EPERM);
    // Deleting an account revokes its tokens.
    ASSERT_EQ(call("delete_account", {{"name", "rita"}}, "local").rc, 0);
    EXPECT_EQ(call("delete_account", {{"name", "rita"}}, "local").rc, -ENOENT);
}

TEST_F(RegistryService, RateLimitsArePerPeerAndAnswerRateLimited) {
    plugin_["rate_limits"] = {{"reads_per_minute", 3}, {"register_per_minute", 2}};
    ASSERT_EQ(create(), "");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(call("discover_nodes").rc, 0);
    Reply limited = call("discover_nodes");
    EXPECT_EQ(limited.rc, -EAGAIN);
    EXPECT_EQ(code(limited), "rate_limited");
    EXPECT_GE(limited.body["retry_after_s"].get<int>(), 1);
    EXPECT_EQ(call("discover_nodes", json::object(), "none", json::object(), "10.9.0.2").rc, 0)
        << "another peer";
    EXPECT_EQ(call("discover_nodes", json::object(), "local").rc, 0) << "the node's operator is not limited";
    now_ += 60;
    EXPECT_EQ(call("discover_nodes").rc, 0) << "the bucket refills";
    json const ask = {{"public_key", to_hex(identity(17).peer().ed25519)}};
    EXPECT_EQ(call("challenge", ask).rc, 0);
    EXPECT_EQ(call("challenge", ask).rc, 0);
    EXPECT_EQ(call("challenge", ask).rc, -EAGAIN);
    EXPECT_GE(call("status").body["refused"].value("rate_limited", 0), 2);
}

TEST_F(RegistryService, NamesClaimResolvePutAndTransfer) {
    ASSERT_EQ(create(), "");
    Reply claim = call("sign_name", {{"name", "alice.voxa"}, {"service", "web"}, {"ttl_s", 300}}, "local");
    ASSERT_EQ(claim.rc, 0) << claim.body.dump();
    EXPECT_EQ(claim.body["result"], "new");
    EXPECT_EQ(call("sign_name", {{"name", "x.voxa"}}).rc, -EPERM) << "claims are for the local operator";
    Reply res = call("resolve", json::object(), "none", {{"name", "alice.voxa"}});
    ASSERT_EQ(res.rc, 0) << res.body.dump();
    EXPECT_EQ(res.body["name"]["target"], to_hex(registry_->identity().id()));
    EXPECT_EQ(res.body["name"]["service"], "web");
    EXPECT_EQ(res.body["target"]["ipv4"], "127.0.0.1");
    EXPECT_EQ(res.body["target"]["port"], 9100);
    EXPECT_EQ(call("resolve", json::object(), "none", {{"name", "nobody.voxa"}}).rc, -ENOENT);
    EXPECT_EQ(call("resolve", json::object(), "none", {{"name", "Bad..Name"}}).rc, -EINVAL);

    // Another key cannot take it.
    crypto::Identity const b = identity(18);
    NameRecord steal;
    steal.name = "alice.voxa";
    steal.target = b.id();
    steal.sequence = 99;
    steal.created_s = now_;
    steal.expires_s = now_ + 86400;
    sign(steal, b);
    Reply st = call("put_name", to_json(steal));
    EXPECT_EQ(st.rc, -EPERM) << st.body.dump();
    EXPECT_EQ(message(st).rfind("not_owner:", 0), 0u) << message(st);
    // A name nobody holds is b's for the taking.
    NameRecord mine = steal;
    mine.name = "bob.voxa";
    mine.sequence = 1;
    sign(mine, b);
    Reply put = call("put_name", to_json(mine));
    ASSERT_EQ(put.rc, 0) << put.body.dump();
    EXPECT_EQ(put.body["result"], "new");
    EXPECT_EQ(call("put_name", to_json(mine)).body["result"], "unchanged");
    NameRecord forged = mine;
    forged.target = registry_->identity().id();
    EXPECT_EQ(call("put_name", to_json(forged)).rc, -EINVAL) << "changed after signing";

    // The owner transfers alice.voxa to b; then b's newer record replaces it.
    Reply tr =
        call("sign_name", {{"name", "alice.voxa"}, {"transfer_to", to_hex(b.peer().ed25519)}}, "local");
    ASSERT_EQ(tr.rc, 0) << tr.body.dump();
    steal.sequence = tr.body["name"]["sequence"].get<uint64_t>() + 1;
    sign(steal, b);
    Reply taken = call("put_name", to_json(steal));
    ASSERT_EQ(taken.rc, 0) << taken.body.dump();
    Reply now_b = call("resolve", json::object(), "none", {{"name", "alice.voxa"}});
    EXPECT_EQ(now_b.body["name"]["owner"], to_hex(b.peer().ed25519));
    EXPECT_TRUE(now_b.body["target"].is_null()) << "b's node is not known here";
    // And the old owner can no longer claim it.
    EXPECT_EQ(call("sign_name", {{"name", "alice.voxa"}}, "local").rc, -EPERM);
    EXPECT_EQ(call("resolve").body["names"].size(), 2u);

    // The data plane's name table (local RESOLVE) follows: both names pushed with their current target...
    auto name_commands = [&](const char* type) {
        std::map<std::string, json> out;
        for (const json& c : host_.take_commands())
            if (c["type"] == type) out[c["name"].get<std::string>()] = c;
        return out;
    };
    registry_->tick();
    auto set = name_commands("name_set");
    ASSERT_EQ(set.size(), 2u);
    EXPECT_EQ(set["alice.voxa"]["node_id"], to_hex(b.id()));
    EXPECT_EQ(set["bob.voxa"]["expires_s"], mine.expires_s);
    registry_->tick();
    EXPECT_TRUE(name_commands("name_set").empty()) << "nothing changed: nothing pushed again";
    // ...and removed once they expire.
    now_ += 86400 + 1;
    registry_->tick();
    EXPECT_EQ(name_commands("name_remove").size(), 2u);
}

TEST_F(RegistryService, RestartKeepsRecordsSessionsAccountsAndNames) {
    ASSERT_EQ(create(), "");
    crypto::Identity const b = identity(19);
    std::string const session = register_node(b);
    ASSERT_FALSE(session.empty());
    ASSERT_EQ(call("create_account", {{"name", "alice"}, {"password", "correct horse battery"}}, "local").rc,
              0);
    ASSERT_EQ(call("sign_name", {{"name", "keep.voxa"}}, "local").rc, 0);
    uint64_t const own_seq = call("local_nri").body["nri"]["sequence"];
    std::string const own_id = to_hex(registry_->identity().id());
    registry_->stop();
    registry_.reset();

    ASSERT_EQ(create(), "");
    EXPECT_EQ(to_hex(registry_->identity().id()), own_id) << "the same node key";
    EXPECT_GT(call("local_nri").body["nri"]["sequence"].get<uint64_t>(), own_seq)
        << "sequence never goes back";
    EXPECT_EQ(call("fetch_rri", json::object(), "none", {{"relay_id", to_hex(b.id())}}).rc, 0);
    EXPECT_EQ(call("heartbeat", {{"session", session}}).rc, 0) << "the session survived";
    EXPECT_EQ(call("login", {{"name", "alice"}, {"password", "correct horse battery"}}).rc, 0);
    EXPECT_EQ(call("resolve", json::object(), "none", {{"name", "keep.voxa"}}).rc, 0);
    json const status = call("status").body;
    EXPECT_EQ(status["role"], "central");
    EXPECT_EQ(status["backend"], "embedded");
    EXPECT_EQ(status["records"]["nri"], 2);
    EXPECT_EQ(status["names"], 1);
    EXPECT_EQ(status["sessions"], 1);
}

TEST_F(RegistryService, BadSettingsStopCreateWithTheKeyNamed) {
    plugin_ = {{"session_ttl_s", 5}};
    std::string const e = create();
    EXPECT_EQ(registry_, nullptr);
    EXPECT_EQ(e, "registry.session_ttl_s: expected an integer 60..86400, got 5");
    plugin_ = {{"backend", "dht"}, {"dht", {{"port", "x"}}}};
    EXPECT_EQ(create(), "registry.dht.port: expected an integer 0..65535, got \"x\"");
}

TEST_F(RegistryService, MemberRoleWhenABootstrapNodeHasAnApiPort) {
    crypto::Identity const central = identity(20);
    write_p2p(json{{"host", "127.0.0.1"},
                   {"port", 9100},
                   {"bootstrap_nodes",
                    {{{"id", to_hex(central.id())},
                      {"public_key", to_hex(central.peer().ed25519)},
                      {"host", "127.0.0.1"},
                      {"port", 9200},
                      {"api_port", 1}}}}});
    std::string error;
    Registry::Options o;
    o.now_s = [this] { return now_.load(); };
    o.start_role = false;
    registry_ = Registry::create(host_.host(), config_json(), o, &error);
    ASSERT_NE(registry_, nullptr) << error;
    EXPECT_EQ(registry_->role(), Role::kMember);
    Reply c = call("challenge", {{"public_key", to_hex(identity(21).peer().ed25519)}});
    EXPECT_EQ(c.rc, -ENOENT);
    EXPECT_EQ(code(c), "not_a_registry");
}

// ---- the member role against a central registry behind the real api plugin ----

// How long the member may take to register, poll or re-register over HTTP (it polls every second here).
constexpr auto kMemberWait = 8s;

#ifdef VOXA_API_MODULE
constexpr const char* kApiModule = VOXA_API_MODULE;
#else
constexpr const char* kApiModule = nullptr;  // not built (no Pistache): the member test is skipped
#endif

// The api plugin, loaded once; nullptr (with a test failure) when it cannot be.
const voxa_plugin* api_plugin() {
    static const voxa_plugin* const p = voxa::test::load_plugin(kApiModule);
    return p;
}

// One api plugin instance serving HTTP on 127.0.0.1 (an ephemeral port) over `host`, whose "registry" service
// is the central registry's; its token and port file go to `dir`. Stopped and destroyed with this object.
// port() is 0 when it did not start (with a test failure).
class ApiFront {
public:
    ApiFront(const voxa_host* host, const std::filesystem::path& dir) {
        const voxa_plugin* p = api_plugin();
        if (p == nullptr)
            return;
        std::filesystem::create_directories(dir);
        json const config = {{"name", "api"},
                             {"config_dir", dir.string()},
                             {"data_dir", dir.string()},
                             {"settings", {{"server-settings", {{"host", "127.0.0.1"}, {"port", 0}}}}},
                             {"plugin", json::object()}};
        std::string const text = config.dump();
        if (int const rc = p->create(host, text.c_str(), &instance_); rc != 0) {
            ADD_FAILURE() << "api create: " << rc;
            instance_ = nullptr;
            return;
        }
        if (int const rc = p->start(instance_); rc != 0) {
            ADD_FAILURE() << "api start: " << rc;
            return;
        }
        std::string const port = cp::test::read_file(dir / "run" / "api_port");
        if (port.empty() || port.find_first_not_of("0123456789\n") != std::string::npos) {
            ADD_FAILURE() << "run/api_port: \"" << port << "\"";
            return;
        }
        port_ = uint16_t(std::stoul(port));
    }
    ~ApiFront() {
        if (instance_ != nullptr) {
            api_plugin()->stop(instance_);
            api_plugin()->destroy(instance_);
        }
    }
    ApiFront(const ApiFront&) = delete;
    ApiFront& operator=(const ApiFront&) = delete;
    uint16_t port() const { return port_; }

private:
    void* instance_ = nullptr;
    uint16_t port_ = 0;
};

TEST_F(RegistryService, MemberRegistersHeartbeatsPollsAndReRegisters) {
    if (kApiModule == nullptr)
        GTEST_SKIP() << "the api plugin is not built (no Pistache): the member role needs it in front of the "
                        "central registry";
    plugin_["poll_interval_s"] = 1;
    ASSERT_EQ(create(), "");  // the central registry, its "registry" service registered with host_
    ApiFront api(host_.host(), root_ / "api");
    ASSERT_NE(api.port(), 0) << host_.logs();
    // The member: its own folders, p2p.json naming the central registry with its key and API port.
    std::filesystem::path const mroot = root_ / "member";
    std::filesystem::create_directories(mroot / "config");
    std::filesystem::create_directories(mroot / "data");
    auto member_p2p = [&](const crypto::PeerIdentity& key) {
        std::ofstream(mroot / "config" / "p2p.json") << json{
            {"host", "127.0.0.1"},
            {"port", 9101},
            {"relay", true},
            {"bootstrap_nodes",
             {{{"id", to_hex(key.id)},
               {"public_key", to_hex(key.ed25519)},
               {"host", "127.0.0.1"},
               {"port", 9100},
               {"api_port", api.port()}}}}}.dump();
    };
    member_p2p(registry_->identity().peer());
    TestHost member_host;
    json mconfig = config_json();
    mconfig["config_dir"] = (mroot / "config").string();
    mconfig["data_dir"] = (mroot / "data").string();
    Registry::Options o;
    o.now_s = [this] { return now_.load(); };
    std::string error;
    std::unique_ptr<Registry> member = Registry::create(member_host.host(), mconfig, o, &error);
    ASSERT_NE(member, nullptr) << error;
    EXPECT_EQ(member->role(), Role::kMember);
    ASSERT_EQ(member->start(), "");
    std::string const member_id = to_hex(member->identity().id());
    std::string const central_id = to_hex(registry_->identity().id());

    // Registered (a session at the central registry, the member's records live there) ...
    // (The session opens before the records are stored: wait for both.)
    ASSERT_TRUE(eventually(
        [&] {
            return call("sessions", json::object(), "local").body["sessions"].size() == 1 &&
                   call("fetch_rri", json::object(), "none", {{"relay_id", member_id}}).rc == 0;
        },
        kMemberWait))
        << member->call("status", {{"auth", "local"}}).body.dump();
    Reply at_central = call("fetch_rri", json::object(), "none", {{"relay_id", member_id}});
    ASSERT_EQ(at_central.rc, 0);
    EXPECT_EQ(at_central.body["rri"]["live"], true);
    // ... and the central registry's live set polled, verified and cached by the member, then fed to its data
    // plane.
    ASSERT_TRUE(eventually(
        [&] {
            return member->call("fetch_rri", {{"auth", "local"}, {"query", {{"relay_id", central_id}}}}).rc ==
                   0;
        },
        kMemberWait));
    member->tick();
    bool fed = false;
    for (const json& c : member_host.take_commands())
        if (c["type"] == "peer_update")
            fed = true;
    EXPECT_TRUE(fed);
    // Names are network-wide: the member's claim reaches the central registry and the central's names reach
    // the member, each verified on arrival.
    ASSERT_EQ(member->call("sign_name", {{"auth", "local"}, {"body", {{"name", "member.voxa"}}}}).rc, 0);
    ASSERT_EQ(call("sign_name", {{"name", "central.voxa"}}, "local").rc, 0);
    now_ += 2;  // the next poll is due (the member's clock is the test's)
    EXPECT_TRUE(eventually(
        [&] {
            return call("resolve", json::object(), "none", {{"name", "member.voxa"}}).rc == 0;
        },
        kMemberWait))
        << "the member's name did not reach the central registry";
    EXPECT_TRUE(eventually(
        [&] {
            return member->call("resolve", {{"auth", "none"}, {"query", {{"name", "central.voxa"}}}}).rc == 0;
        },
        kMemberWait))
        << "the central registry's name did not reach the member";
    json status = member->call("status", {{"auth", "local"}}).body;
    EXPECT_EQ(status["role"], "member");
    ASSERT_EQ(status["central"].size(), 1u);
    EXPECT_EQ(status["central"][0]["registered"], true) << status.dump();
    EXPECT_EQ(status["central"][0]["registrations"], 1);

    // The central registry forgets the session (expired): the next heartbeat is refused and the member
    // registers again by itself.
    now_ += 3601;
    registry_->tick();
    member->tick();  // the host's timer: own records re-signed (they expired with the jump)
    ASSERT_TRUE(eventually(
        [&] {
            return member->call("status", {{"auth", "local"}}).body["central"][0]["registrations"] == 2;
        },
        kMemberWait))
        << member->call("status", {{"auth", "local"}}).body.dump();
    EXPECT_EQ(call("sessions", json::object(), "local").body["sessions"].size(), 1u);
    // Stopping deregisters: the central registry drops the node at once.
    member->stop();
    member.reset();
    EXPECT_EQ(call("sessions", json::object(), "local").body["sessions"].size(), 0u);
    EXPECT_EQ(call("fetch_rri", json::object(), "none", {{"relay_id", member_id}}).rc, -ENOENT);

    // A registry that answers with another key than p2p.json names is not trusted: no registration.
    crypto::Identity const impostor = identity(30);
    member_p2p(impostor.peer());
    std::filesystem::remove(mroot / "data" / "registry.db");
    member = Registry::create(member_host.host(), mconfig, o, &error);
    ASSERT_NE(member, nullptr) << error;
    ASSERT_EQ(member->start(), "");
    ASSERT_TRUE(eventually(
        [&] {
            json const s = member->call("status", {{"auth", "local"}}).body;
            return s["central"][0]["last_error"].get<std::string>().find("not the one in p2p.json") !=
                   std::string::npos;
        },
        kMemberWait))
        << member->call("status", {{"auth", "local"}}).body.dump();
    EXPECT_EQ(member->call("status", {{"auth", "local"}}).body["central"][0]["registrations"], 0);
    member->stop();
}

#ifdef VOXA_REGISTRY_DHT
// ---- the dht role: two plugin instances on loopback find each other's records; forged values are refused
// ----

TEST_F(RegistryService, DhtNodesExchangeVerifiedRecordsAndRefuseForgedOnes) {
    uint32_t network_id = 0;
    randombytes_buf(&network_id, sizeof network_id);  // a network of this test only
    json const dht = {{"port", 0}, {"bind", "127.0.0.1"}, {"network_id", network_id}};
    plugin_ = {{"backend", "dht"}, {"dht", dht}, {"record_lifetime_s", 30}};
    ASSERT_EQ(create(), "");
    EXPECT_EQ(registry_->role(), Role::kDht);
    json const a_status = call("status").body;
    ASSERT_TRUE(a_status["dht"].is_object()) << a_status.dump();
    uint16_t const a_port = a_status["dht"]["port"].get<uint16_t>();
    ASSERT_NE(a_port, 0);

    std::filesystem::path const broot = root_ / "b";
    std::filesystem::create_directories(broot / "config");
    std::filesystem::create_directories(broot / "data");
    std::ofstream(broot / "config" / "p2p.json") << json{
        {"host", "127.0.0.1"},
        {"port", 9101},
        {"relay", false},
        {"bootstrap_nodes",
         {{{"id", to_hex(registry_->identity().id())},
           {"public_key", to_hex(registry_->identity().peer().ed25519)},
           {"host", "127.0.0.1"},
           {"port", 9100},
           {"dht_port", a_port}}}}}.dump();
    TestHost b_host;
    json bconfig = config_json();
    bconfig["config_dir"] = (broot / "config").string();
    bconfig["data_dir"] = (broot / "data").string();
    Registry::Options o;
    o.now_s = [this] { return now_.load(); };
    std::string error;
    std::unique_ptr<Registry> b = Registry::create(b_host.host(), bconfig, o, &error);
    ASSERT_NE(b, nullptr) << error;
    ASSERT_EQ(b->start(), "");
    std::string const a_id = to_hex(registry_->identity().id()), b_id = to_hex(b->identity().id());

    // Each verifies and keeps the other's records (b is not a relay: an NRI only).
    ASSERT_TRUE(eventually(
        [&] {
            return b->call("fetch_rri", {{"auth", "local"}, {"query", {{"relay_id", a_id}}}}).rc == 0;
        },
        15s))
        << b->call("status", {{"auth", "local"}}).body.dump();
    ASSERT_TRUE(eventually(
        [&] {
            return call("fetch_nri", json::object(), "local", {{"node_id", b_id}}).rc == 0;
        },
        15s))
        << call("status").body.dump();
    registry_->tick();
    EXPECT_EQ(feed_changes().first, std::vector<std::string>{b_id})
        << "b's descriptor pushed to a's data plane";

    // A hostile node on the same network publishes a forged record (b's record, re-pointed) and garbage.
    DhtOptions ho;
    ho.bind_host = "127.0.0.1";
    ho.network_id = network_id;
    ho.bootstrap = {{"127.0.0.1", a_port}};
    std::unique_ptr<DhtBackend> hostile = DhtBackend::start(ho, &error);
    ASSERT_NE(hostile, nullptr) << error;
    Record forged = make_record(identity(40), Kind::kNode, now_, now_ + 100, "10.66.0.1");
    forged.id = b->identity().id();  // claims to be b, signed by another key
    hostile->publish("nri", b_id, encode(forged));
    hostile->publish("nri", "junk", std::vector<uint8_t>{1, 2, 3});
    ASSERT_TRUE(eventually(
        [&] {
            json const r = call("status").body["refused"];
            return r.value("key_mismatch", 0) + r.value("bad_id", 0) + r.value("bad_signature", 0) >= 1 &&
                   r.value("malformed", 0) + r.value("too_large", 0) >= 1;
        },
        15s))
        << call("status").body.dump();
    Reply held = call("fetch_nri", json::object(), "local", {{"node_id", b_id}});
    EXPECT_EQ(held.body["nri"]["ipv4"], "127.0.0.1") << "the forged record did not replace b's";
    hostile->stop();
    b->stop();
}
#endif

}  // namespace
}  // namespace voxa::registry
