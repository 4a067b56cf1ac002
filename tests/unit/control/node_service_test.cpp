// The "node" service and the control end of the shm channel against a real segment: the test plays the data plane
// (Side::kData), publishes stats with StatsWriter, heartbeats, pushes events and reads the commands it gets.
#include <gtest/gtest.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "config/config.h"
#include "control_test_util.h"
#include "dataplane_link.h"
#include "node_service.h"
#include "plugin_host.h"
#include "shm/messages.h"
#include "shm/node_segment.h"
#include "shm/stats.h"

namespace voxa::cp {
namespace {

using nlohmann::json;
using test::TempDir;

config::EnvLookup no_env() {
    return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

class NodeServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_.write("config/settings.json",
                   R"({"node-name": "n1", "plugin-settings": {"api": {"token": "abc", "max_body_bytes": 100}}})");
        dir_.write("config/dataplane.json", R"({"cores": [0, 1]})");
        dir_.write("config/p2p.json", R"({"relay": false, "hops": 3})");
        std::filesystem::create_directories(dir_.path() / "data" / "run");
        std::string error;
        auto c = config::load(dir_.path() / "config", dir_.path() / "data", no_env(), &error);
        ASSERT_TRUE(c) << error;
        config_ = *c;
        std::string const path = shm::segment_path(config_.data_dir).string();
        data_ = shm::Segment::open(path, shm::segment_config_for(2), shm::Side::kData, &error);
        ASSERT_TRUE(data_) << error;
        link_ = DataplaneLink::open(path, shm::segment_config_for(2), &error);
        ASSERT_TRUE(link_) << error;
        host_ = std::make_unique<PluginHost>(PluginHost::Options{});
        NodeContext ctx;
        ctx.host = host_.get();
        ctx.link = link_.get();
        ctx.node_id_hex = std::string(64, 'a');
        ctx.public_key_hex = std::string(64, 'b');
        ctx.socket_path = config_.data_dir / "run" / "voxa.sock";   // nobody listens: the data plane's socket is down
        ctx.started_ns = shm::monotonic_ns();
        ctx.env = no_env();
        node_ = std::make_unique<NodeService>(ctx, config_);
    }
    json call(const std::string& method, const json& in, int* rc) {
        std::string out;
        *rc = node_->handle(method, in.dump(), &out);
        return json::parse(out);
    }
    // The next command the data plane's worker 0 would read.
    std::optional<shm::Command> next_command() {
        if (!consumer_.valid()) consumer_ = data_->command_consumer(0);
        shm::SlotView slot;
        if (!consumer_.peek(&slot)) return std::nullopt;
        shm::Command c;
        EXPECT_EQ(shm::decode_command(slot.type, slot.body, &c), shm::DecodeError::kNone);
        consumer_.release();
        return c;
    }

    TempDir dir_;
    config::Config config_;
    std::unique_ptr<shm::Segment> data_;
    std::unique_ptr<DataplaneLink> link_;
    std::unique_ptr<PluginHost> host_;
    std::unique_ptr<NodeService> node_;
    shm::RingConsumer consumer_;
};

TEST_F(NodeServiceTest, StatsTotalsAreTheSumOfTheWorkersBlocks) {
    std::vector<uint64_t> a(std::size(shm::kStatInfo)), b(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = i + 1;
        b[i] = 10 * (i + 1);
    }
    shm::StatsWriter w0(data_->stats_block(0), data_->epoch()), w1(data_->stats_block(1), data_->epoch());
    w0.publish(a, shm::monotonic_ns());
    w1.publish(b, shm::monotonic_ns());
    int rc = 0;
    json const s = call("stats", json::object(), &rc);
    ASSERT_EQ(rc, 0) << s;
    ASSERT_EQ(s["counters"].size(), a.size());
    EXPECT_EQ(s["counters"][0], json({{"name", "rx_packets"}, {"kind", "counter"}}));
    EXPECT_EQ(s["counters"][13], json({{"name", "sessions_up"}, {"kind", "gauge"}}));
    for (std::size_t i = 0; i < a.size(); ++i)
        EXPECT_EQ(s["totals"][shm::kStatInfo[i].name], 11 * (i + 1)) << shm::kStatInfo[i].name;
    ASSERT_EQ(s["workers"].size(), 2u);
    EXPECT_EQ(s["workers"][1]["values"]["tx_packets"], 30);
    EXPECT_EQ(s["workers"][0]["epoch"], 1);
    EXPECT_TRUE(s["dataplane"]["up"]);

    // status carries the same totals; it answers while the data plane's socket is down.
    json const st = call("status", json::object(), &rc);
    ASSERT_EQ(rc, 0) << st;
    EXPECT_EQ(st["totals"]["messages_sent"], s["totals"]["messages_sent"]);
    EXPECT_EQ(st["node_name"], "n1");
    EXPECT_EQ(st["workers"], 2);
    EXPECT_EQ(st["policy"]["hops"], 3);
    EXPECT_EQ(st["relay"], false);
    EXPECT_EQ(st["node_id"], std::string(64, 'a'));

    // The last published values survive the data plane's departure.
    data_.reset();
    json const after = call("stats", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_FALSE(after["dataplane"]["up"]);
    EXPECT_EQ(after["totals"], s["totals"]);
}

TEST_F(NodeServiceTest, HealthAndReadyFollowTheHeartbeat) {
    int rc = 0;
    data_->heartbeat(shm::monotonic_ns());
    json h = call("health", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(h["status"], "ok");
    EXPECT_TRUE(h["dataplane"]["up"]);
    EXPECT_EQ(h["dataplane"]["pid"], getpid());
    EXPECT_EQ(h["control"]["epoch"], 1);
    EXPECT_LT(h["dataplane"]["heartbeat_age_ms"].get<uint64_t>(), 1000u);

    json r = call("ready", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_FALSE(r["ready"]);
    EXPECT_EQ(r["reasons"], json::array({"the plugins are not started"}));
    node_->set_plugins_started(true);
    r = call("ready", json::object(), &rc);
    EXPECT_TRUE(r["ready"]) << r;

    // A heartbeat older than 2 s: down, not ready; health still answers 0.
    data_->heartbeat(shm::monotonic_ns() - 3'000'000'000ull);
    h = call("health", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_FALSE(h["dataplane"]["up"]);
    EXPECT_GE(h["dataplane"]["heartbeat_age_ms"].get<uint64_t>(), 3000u);
    r = call("ready", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_FALSE(r["ready"]);
    EXPECT_NE(r["reasons"][0].get<std::string>().find("the data plane is down"), std::string::npos);
}

TEST_F(NodeServiceTest, SocketBackedMethodsSayUnavailableWhenTheDataPlaneCannotBeReached) {
    for (const char* m : {"peers", "circuits", "paths", "overview"}) {
        int rc = 0;
        json const e = call(m, json::object(), &rc);
        EXPECT_EQ(rc, -EAGAIN) << m;
        EXPECT_EQ(e["error"]["code"], "unavailable") << m;
        EXPECT_NE(e["error"]["message"].get<std::string>().find("voxa.sock"), std::string::npos) << e;
    }
}

TEST_F(NodeServiceTest, SettingsVersionIdentityAndBadInput) {
    int rc = 0;
    json const s = call("settings", json::object(), &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(s["settings"]["plugin-settings"]["api"]["token"], "<redacted>");
    EXPECT_EQ(s["settings"]["plugin-settings"]["api"]["max_body_bytes"], 100);
    EXPECT_EQ(s["settings"]["api-token-required-for-reads"], false);   // a flag, not a secret
    EXPECT_EQ(s["dataplane"]["cores"], json::array({0, 1}));
    EXPECT_TRUE(s.contains("p2p"));

    json const v = call("version", json::object(), &rc);
    EXPECT_EQ(v["name"], "voxa");
    EXPECT_EQ(v["version"], "0.1.0");
    EXPECT_EQ(v["abi"], json({{"shm", 1}, {"plugin_major", 1}, {"plugin_minor", 0}}));
    EXPECT_EQ(v["plugins"], json::array());

    json const nri = call("local_nri", json::object(), &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(nri["nri"]["node_id"], std::string(64, 'a'));
    EXPECT_EQ(nri["nri"]["public_key"], std::string(64, 'b'));
    EXPECT_EQ(nri["nri"]["node_type"], 0);
    EXPECT_EQ(nri["nri"]["node_port"], 9000);
    json const rri = call("local_rri", json::object(), &rc);
    EXPECT_EQ(rc, -ENOENT);
    EXPECT_EQ(rri["error"]["code"], "not_found");

    EXPECT_EQ(call("nope", json::object(), &rc)["error"]["code"], "not_found");
    EXPECT_EQ(rc, -ENOENT);
    EXPECT_EQ(call("health", {{"x", 1}}, &rc)["error"]["message"], "\"x\": unknown field");
    EXPECT_EQ(rc, -EINVAL);
    std::string out;
    EXPECT_EQ(node_->handle("health", "[1]", &out), -EINVAL);
    EXPECT_EQ(json::parse(out)["error"]["code"], "bad_json");
}

TEST_F(NodeServiceTest, DrainAndLogLevelSendCommandsToTheDataPlane) {
    data_->heartbeat(shm::monotonic_ns());
    int rc = 0;
    json e = call("drain", {{"deadline_s", 0}}, &rc);
    EXPECT_EQ(rc, -EINVAL);
    EXPECT_EQ(e["error"]["message"], "\"deadline_s\": expected an integer 1..3600, got 0");
    e = call("drain", {{"deadline", 5}}, &rc);
    EXPECT_EQ(rc, -EINVAL);
    EXPECT_EQ(e["error"]["code"], "bad_field");
    EXPECT_FALSE(next_command());

    json const d = call("drain", {{"deadline_s", 5}}, &rc);
    ASSERT_EQ(rc, 0) << d;
    EXPECT_EQ(d, json({{"success", true}, {"draining", true}, {"deadline_s", 5}}));
    auto c = next_command();
    ASSERT_TRUE(c);
    ASSERT_TRUE(std::holds_alternative<shm::Drain>(*c));
    EXPECT_EQ(std::get<shm::Drain>(*c).deadline_ms, 5000u);
    EXPECT_TRUE(node_->draining());
    EXPECT_EQ(call("drain", json::object(), &rc)["deadline_s"], 10);   // drain-deadline-s by default
    next_command();

    EXPECT_EQ(call("log_level", {{"level", "loud"}}, &rc)["error"]["code"], "bad_field");
    EXPECT_EQ(rc, -EINVAL);
    json const l = call("log_level", {{"level", "debug"}}, &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(l["level"], "debug");
    c = next_command();
    ASSERT_TRUE(c);
    ASSERT_TRUE(std::holds_alternative<shm::SetLogLevel>(*c));
    EXPECT_EQ(std::get<shm::SetLogLevel>(*c).level, 0);
    set_log_level(LogLevel::kInfo);

    // With the data plane down, drain is unavailable.
    data_->heartbeat(shm::monotonic_ns() - 3'000'000'000ull);
    EXPECT_EQ(call("drain", json::object(), &rc)["error"]["code"], "unavailable");
    EXPECT_EQ(rc, -EAGAIN);
}

TEST_F(NodeServiceTest, ReloadRefusesABadConfigAndKeepsTheOldOne) {
    data_->heartbeat(shm::monotonic_ns());
    dir_.write("config/p2p.json", R"({"relay": false, "hops": 99})");
    int rc = 0;
    json const bad = call("reload", json::object(), &rc);
    EXPECT_EQ(rc, -EINVAL);
    std::string const message = bad["error"]["message"];
    EXPECT_NE(message.find((dir_.path() / "config" / "p2p.json").string()), std::string::npos) << message;
    EXPECT_NE(message.find("\"hops\""), std::string::npos) << message;
    EXPECT_EQ(node_->config().p2p.hops, 3);

    dir_.write("config/p2p.json", R"({"relay": false, "hops": 2, "port": 9100})");
    dir_.write("config/settings.json", R"({"node-name": "n1", "log-level": "warn",
                                          "plugin-settings": {"api": {"token": "abc", "max_body_bytes": 100}}})");
    json const good = call("reload", json::object(), &rc);
    ASSERT_EQ(rc, 0) << good;
    EXPECT_TRUE(good["success"]);
    EXPECT_EQ(good["applied"], json::array({"settings.log-level", "p2p.hops"}));
    EXPECT_EQ(good["restart_required"], json::array({"p2p.port"}));
    EXPECT_EQ(node_->config().p2p.hops, 2);
    // The circuit policy, then the log level, went to the data plane.
    auto c = next_command();
    ASSERT_TRUE(c && std::holds_alternative<shm::CircuitPolicy>(*c));
    EXPECT_EQ(std::get<shm::CircuitPolicy>(*c).hops, 2);
    EXPECT_EQ(std::get<shm::CircuitPolicy>(*c).rotation_s, 600u);
    c = next_command();
    ASSERT_TRUE(c && std::holds_alternative<shm::SetLogLevel>(*c));
    EXPECT_EQ(std::get<shm::SetLogLevel>(*c).level, 2);
    set_log_level(LogLevel::kInfo);
    // control.reload was published.
    std::vector<std::string> topics;
    host_->subscribe_host("control.", [&](std::string_view t, std::string_view) { topics.emplace_back(t); });
    host_->deliver_events();
    EXPECT_EQ(topics, std::vector<std::string>{"control.reload"});
}

TEST_F(NodeServiceTest, EventsBecomeTopicsAndBadSlotsAreCounted) {
    shm::RingProducer events = data_->event_producer(1);
    NodeId peer{};
    peer[0] = 0xab;
    ASSERT_TRUE(shm::push_event(events, shm::SessionUp{peer}));
    ASSERT_TRUE(shm::push_event(events, shm::CircuitDown{7, 3, 2}));
    uint8_t junk[3] = {1, 2, 3};
    ASSERT_TRUE(events.try_push(uint16_t(shm::MsgType::kSessionUp), junk));   // wrong length
    ASSERT_TRUE(shm::push_event(events, shm::ErrorEvent{5, "disk full"}));
    std::vector<std::pair<std::string, json>> got;
    EXPECT_EQ(link_->poll_events([&](std::string_view t, const json& j) { got.emplace_back(std::string(t), j); }), 3u);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].first, "dataplane.session_up");
    EXPECT_EQ(got[0].second["peer"], "ab" + std::string(62, '0'));
    EXPECT_EQ(got[0].second["worker"], 1);
    EXPECT_EQ(got[1].first, "dataplane.circuit_down");
    EXPECT_EQ(got[1].second, json({{"worker", 1}, {"circuit", 7}, {"hops", 3}, {"reason", 2}}));
    EXPECT_EQ(got[2].first, "dataplane.error");
    EXPECT_EQ(got[2].second["text"], "disk full");
    EXPECT_EQ(link_->bad_slots(), 1u);
}

TEST_F(NodeServiceTest, WatchReportsUpDownAndRestarts) {
    uint64_t now = shm::monotonic_ns();
    data_->heartbeat(now);
    auto t = link_->watch(now);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_TRUE(t[0].up);
    EXPECT_EQ(t[0].epoch, 1u);
    EXPECT_TRUE(link_->watch(now).empty());   // once per transition
    // The data plane restarts between two looks: down, then up with the next epoch.
    std::string error;
    data_.reset();
    data_ = shm::Segment::open(shm::segment_path(config_.data_dir).string(), shm::segment_config_for(2),
                               shm::Side::kData, &error);
    ASSERT_TRUE(data_) << error;
    now = shm::monotonic_ns();
    t = link_->watch(now);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_FALSE(t[0].up);
    EXPECT_TRUE(t[1].up);
    EXPECT_EQ(t[1].epoch, 2u);
    data_.reset();
    t = link_->watch(shm::monotonic_ns());
    ASSERT_EQ(t.size(), 1u);
    EXPECT_FALSE(t[0].up);
}

TEST(DataplaneCommand, ParsesEveryTypeAndNamesBadFields) {
    std::vector<shm::Command> out;
    std::vector<std::vector<uint8_t>> storage;
    std::string error;
    ASSERT_TRUE(parse_command(R"({"type":"circuit_policy","hops":3,"n":5,"k":3,"rotation_s":600})", 496, &out,
                              &storage, &error))
        << error;
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<shm::CircuitPolicy>(out[0]).n, 5);
    EXPECT_TRUE(parse_command(R"({"type":"shutdown","deadline_ms":5000})", 496, &out, &storage, &error));
    EXPECT_EQ(std::get<shm::Shutdown>(out[0]).deadline_ms, 5000u);
    EXPECT_TRUE(parse_command(R"({"type":"peer_remove","node_id":")" + std::string(64, 'f') + "\"}", 496, &out,
                              &storage, &error));
    EXPECT_EQ(std::get<shm::PeerRemove>(out[0]).node[31], 0xff);
    // Seven descriptors, three per 512-byte slot: three commands.
    json update = {{"type", "peer_update"}, {"descriptors", json::array()}};
    for (int i = 0; i < 7; ++i) update["descriptors"].push_back(std::string(264, char('0' + i)));
    ASSERT_TRUE(parse_command(update.dump(), 496, &out, &storage, &error)) << error;
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(std::get<shm::PeerUpdate>(out[0]).count, 3);
    EXPECT_EQ(std::get<shm::PeerUpdate>(out[2]).count, 1);
    EXPECT_EQ(std::get<shm::PeerUpdate>(out[2]).descriptors[0], 0x66);

    struct Bad {
        const char* json;
        const char* error;
    };
    for (const Bad& b : {
             Bad{"[]", "a command is a JSON object with a \"type\""},
             Bad{R"({"type":"fly"})", "\"type\": unknown command \"fly\""},
             Bad{R"({"type":"circuit_policy","hops":9,"n":5,"k":3})", "\"hops\": expected an integer 1..8"},
             Bad{R"({"type":"circuit_policy","hops":3,"n":5,"k":6})", "\"k\": expected an integer 1..5"},
             Bad{R"({"type":"drain"})", "\"deadline_ms\": expected an integer"},
             Bad{R"({"type":"drain","deadline_ms":-1})", "\"deadline_ms\": expected an integer"},
             Bad{R"({"type":"drain","deadline_ms":1,"x":2})", "\"x\": unknown field"},
             Bad{R"({"type":"log_level","level":"loud"})", "\"level\": expected one of"},
             Bad{R"({"type":"peer_remove","node_id":"abc"})", "\"node_id\": expected 64 hex digits"},
             Bad{R"({"type":"peer_update","descriptors":["00"]})", "\"descriptors[0]\": expected 264 hex digits"},
         }) {
        EXPECT_FALSE(parse_command(b.json, 496, &out, &storage, &error)) << b.json;
        EXPECT_EQ(error.find(b.error), 0u) << b.json << " -> " << error;
    }
}

TEST(DataplaneCommand, NameSetAndRemove) {
    std::vector<shm::Command> out;
    std::vector<std::vector<uint8_t>> storage;
    std::string error;
    std::string const id = std::string(62, '0') + "ab";
    ASSERT_TRUE(parse_command(R"({"type":"name_set","name":"alice.voxa","node_id":")" + id +
                                  R"(","expires_s":1900000000})",
                              496, &out, &storage, &error))
        << error;
    ASSERT_EQ(out.size(), 1u);
    const auto& set = std::get<shm::NameSet>(out[0]);
    EXPECT_EQ(set.name, "alice.voxa");
    EXPECT_EQ(set.node[31], 0xab);
    EXPECT_EQ(set.expires_s, 1'900'000'000u);
    // The view lives in storage, not in the parsed JSON: it still reads right after more parsing.
    std::vector<shm::Command> out2;
    ASSERT_TRUE(parse_command(R"({"type":"name_remove","name":"b-2.c"})", 496, &out2, &storage, &error)) << error;
    EXPECT_EQ(std::get<shm::NameRemove>(out2[0]).name, "b-2.c");
    EXPECT_EQ(std::get<shm::NameSet>(out[0]).name, "alice.voxa");
    // What parse_command accepts, the data plane's decoder accepts too (the same bytes go through the ring).
    std::vector<uint8_t> body(496);
    body.resize(shm::encode_command(out[0], body));
    shm::Command back;
    EXPECT_EQ(shm::decode_command(uint16_t(shm::MsgType::kNameSet), body, &back), shm::DecodeError::kNone);

    struct Bad {
        std::string json;
        const char* error;
    };
    for (const Bad& b : {
             Bad{R"({"type":"name_set","node_id":")" + id + R"(","expires_s":1})", "\"name\": expected a name"},
             Bad{R"({"type":"name_set","name":"Alice","node_id":")" + id + R"(","expires_s":1})",
                 "\"name\": expected a name"},
             Bad{R"({"type":"name_set","name":7,"node_id":")" + id + R"(","expires_s":1})", "\"name\": expected"},
             Bad{R"({"type":"name_set","name":")" + std::string(254, 'a') + R"(","node_id":")" + id +
                     R"(","expires_s":1})",
                 "\"name\": expected a name of 1..253"},
             Bad{R"({"type":"name_set","name":"a","node_id":"xyz","expires_s":1})", "\"node_id\": expected 64 hex"},
             Bad{R"({"type":"name_set","name":"a","node_id":")" + id + R"("})", "\"expires_s\": expected an integer"},
             Bad{R"({"type":"name_set","name":"a","node_id":")" + id + R"(","expires_s":-5})",
                 "\"expires_s\": expected an integer"},
             Bad{R"({"type":"name_set","name":"a","node_id":")" + id + R"(","expires_s":1,"ttl":3})",
                 "\"ttl\": unknown field"},
             Bad{R"({"type":"name_remove"})", "\"name\": expected a name"},
             Bad{R"({"type":"name_remove","name":""})", "\"name\": expected a name"},
             Bad{R"({"type":"name_remove","name":"a b"})", "\"name\": expected a name"},
         }) {
        EXPECT_FALSE(parse_command(b.json, 496, &out, &storage, &error)) << b.json;
        EXPECT_EQ(error.find(b.error), 0u) << b.json << " -> " << error;
    }
    // A long name that fits the node's 512-byte slots but not the smallest slots is refused by name, not cut.
    std::string const long_name(253, 'n');
    EXPECT_TRUE(parse_command(R"({"type":"name_set","name":")" + long_name + R"(","node_id":")" + id +
                                  R"(","expires_s":1})",
                              496, &out, &storage, &error));
    EXPECT_FALSE(parse_command(R"({"type":"name_set","name":")" + long_name + R"(","node_id":")" + id +
                                   R"(","expires_s":1})",
                               240, &out, &storage, &error));
    EXPECT_EQ(error.find("\"name\": too long"), 0u) << error;
}

TEST(Redaction, SecretsAtAnyDepth) {
    json const in = json::parse(R"({"a":{"api_token":"t","Password":"p","b":[{"client_secret":"s"}],
                                     "private_key":"k","keep":"v","token_required":true}})");
    json const out = redact_secrets(in);
    EXPECT_EQ(out["a"]["api_token"], "<redacted>");
    EXPECT_EQ(out["a"]["Password"], "<redacted>");
    EXPECT_EQ(out["a"]["b"][0]["client_secret"], "<redacted>");
    EXPECT_EQ(out["a"]["private_key"], "<redacted>");
    EXPECT_EQ(out["a"]["keep"], "v");
    EXPECT_EQ(out["a"]["token_required"], true);
}

}  // namespace
}  // namespace voxa::cp
